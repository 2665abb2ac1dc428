/* libFuzzer target for the standard webhook scheme: Standard Webhooks
 * (webhook- and svix- headers, v1 lists), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_scheme(PS_WH_SVIX, data, size);
    return fuzz_scheme(PS_WH_STANDARD, data, size);
}
