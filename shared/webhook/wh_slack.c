/* Slack: "X-Slack-Signature: v0=HEX", an HMAC-SHA256 of "v0:TIMESTAMP:body"
 * under the signing secret, TIMESTAMP from X-Slack-Request-Timestamp. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <string.h>

#define SLACK_SIG "X-Slack-Signature"
#define SLACK_TS  "X-Slack-Request-Timestamp"

static ps_wh_verdict slack_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                 ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;
    const char *sig, *ts;
    size_t n, tsn;
    ps_wh_verdict v;

    if ((v = ps_wh_hdr_need(h, SLACK_SIG, &sig, &n, res)) != PS_WH_MORE ||
        (v = ps_wh_hdr_need(h, SLACK_TS, &ts, &tsn, res)) != PS_WH_MORE)
        return v;
    if (ps_wh_parse_ts(ts, tsn, &st->ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, SLACK_TS " is not a unix time");
    if ((v = ps_wh_check_time(req, st->ts, res)) != PS_WH_MORE)
        return v;
    if (n < 3 || memcmp(sig, "v0=", 3) != 0 ||
        ps_wh_sigs_add(&st->sigs, PS_WH_ENC_HEX, sig + 3, n - 3) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, SLACK_SIG " is not v0=HEX");
    return ps_wh_hmac_start(req, PS_HMAC_SHA256,
                            (ps_wh_piece[]){{"v0:", 3}, {ts, tsn}, {":", 1}}, 3,
                            res);
}

static int slack_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                      int64_t ts, const uint8_t *body, size_t len, char *out,
                      size_t outsize, ps_err *err)
{
    char prefix[40], sig[80];
    int n = snprintf(prefix, sizeof(prefix), "v0:%lld:", (long long)ts);

    (void)priv;
    (void)id;
    if (ps_wh_mac_text(cfg, PS_HMAC_SHA256, PS_WH_ENC_HEX, prefix, (size_t)n,
                       body, len, sig, sizeof(sig), err) < 0)
        return -1;
    return ps_wh_out(out, outsize, err,
                     SLACK_TS ": %lld\n" SLACK_SIG ": v0=%s\n", (long long)ts,
                     sig);
}

const ps_wh_ops ps_wh_slack_ops = {
    .name = "slack",
    .uses = PS_WH_USES_SECRET | PS_WH_USES_HMAC,
    .state_size = sizeof(ps_wh_hmac_state),
    .begin = slack_begin,
    .update = ps_wh_hmac_update,
    .final = ps_wh_hmac_final,
    .cleanup = ps_wh_hmac_cleanup,
    .body_id = "event_id",
    .sign = slack_sign,
};
