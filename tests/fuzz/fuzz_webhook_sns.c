/* libFuzzer target for the sns webhook scheme: Amazon SNS (the JSON message
 * and its canonical string), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_SNS, data, size);
}
