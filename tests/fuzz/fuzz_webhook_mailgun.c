/* libFuzzer target for the mailgun webhook scheme: Mailgun (JSON signature
 * object, urlencoded and multipart forms), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_MAILGUN, data, size);
}
