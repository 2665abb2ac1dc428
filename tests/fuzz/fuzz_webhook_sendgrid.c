/* libFuzzer target for the sendgrid webhook scheme: SendGrid
 * (X-Twilio-Email-Event-Webhook-*, ECDSA), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_SENDGRID, data, size);
}
