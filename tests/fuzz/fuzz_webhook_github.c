/* libFuzzer target for the github webhook scheme: GitHub
 * (X-Hub-Signature-256: sha256=HEX), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_GITHUB, data, size);
}
