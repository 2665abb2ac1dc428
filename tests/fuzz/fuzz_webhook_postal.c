/* libFuzzer target for the postal webhook scheme: Postal
 * (X-Postal-Signature[-256], RSA), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_POSTAL, data, size);
}
