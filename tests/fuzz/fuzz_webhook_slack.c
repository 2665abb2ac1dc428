/* libFuzzer target for the slack webhook scheme: Slack (X-Slack-Signature,
 * X-Slack-Request-Timestamp), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_SLACK, data, size);
}
