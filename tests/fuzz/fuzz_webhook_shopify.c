/* libFuzzer target for the shopify webhook scheme: Shopify
 * (X-Shopify-Hmac-Sha256, base64), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_SHOPIFY, data, size);
}
