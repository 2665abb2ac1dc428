/* libFuzzer target for the stripe webhook scheme: Stripe (the t=,v1= items
 * of Stripe-Signature), from a saved request, through
 * ps_webhook_begin/update/final. */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_scheme(PS_WH_STRIPE, data, size);
}
