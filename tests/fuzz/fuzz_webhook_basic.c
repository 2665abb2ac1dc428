/* libFuzzer target for the basic webhook scheme: Basic and Bearer (the
 * Authorization header), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_scheme(PS_WH_BEARER, data, size);
    return fuzz_scheme(PS_WH_BASIC, data, size);
}
