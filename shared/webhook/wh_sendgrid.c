/* SendGrid (Twilio) Event Webhook: an ECDSA P-256 signature of
 * TIMESTAMP + body, base64 DER in X-Twilio-Email-Event-Webhook-Signature,
 * TIMESTAMP from X-Twilio-Email-Event-Webhook-Timestamp. */
#include "webhook/webhook_int.h"

#include <stdio.h>

#define SG_SIG "X-Twilio-Email-Event-Webhook-Signature"
#define SG_TS  "X-Twilio-Email-Event-Webhook-Timestamp"

static ps_wh_verdict sendgrid_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                    ps_wh_result *res)
{
    ps_wh_pk_state *st = req->state;
    const char *sig, *ts;
    size_t n, tsn;
    ps_wh_verdict v;
    ps_err err;

    if ((v = ps_wh_hdr_need(h, SG_SIG, &sig, &n, res)) != PS_WH_MORE ||
        (v = ps_wh_hdr_need(h, SG_TS, &ts, &tsn, res)) != PS_WH_MORE)
        return v;
    if (ps_wh_parse_ts(ts, tsn, &st->ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, SG_TS " is not a unix time");
    if ((v = ps_wh_check_time(req, st->ts, res)) != PS_WH_MORE)
        return v;
    if ((v = ps_wh_pk_start(req, "SHA256", SG_SIG, sig, n, res)) != PS_WH_MORE)
        return v;
    if (ps_wh_digest_update(&st->d, ts, tsn, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return PS_WH_MORE;
}

static int sendgrid_sign(const ps_wh_config *cfg, const void *priv,
                         const char *id, int64_t ts, const uint8_t *body,
                         size_t len, char *out, size_t outsize, ps_err *err)
{
    char tstext[32], sig[512];
    int n = snprintf(tstext, sizeof(tstext), "%lld", (long long)ts);

    (void)cfg, (void)id;
    if (ps_wh_pk_sign_b64(priv, "SHA256", tstext, (size_t)n, body, len, sig,
                          sizeof(sig), err) < 0)
        return -1;
    return ps_wh_out(out, outsize, err, SG_TS ": %s\n" SG_SIG ": %s\n", tstext,
                     sig);
}

const ps_wh_ops ps_wh_sendgrid_ops = {
    .name = "sendgrid",
    .uses = PS_WH_USES_KEY,
    .state_size = sizeof(ps_wh_pk_state),
    .begin = sendgrid_begin,
    .update = ps_wh_pk_update,
    .final = ps_wh_pk_final,
    .cleanup = ps_wh_pk_cleanup,
    .body_id = "sg_event_id",
    .sign = sendgrid_sign,
};
