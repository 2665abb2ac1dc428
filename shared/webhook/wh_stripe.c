/* Stripe: "Stripe-Signature: t=TIMESTAMP,v1=HEX[,v1=HEX,v0=...]", each v1 an
 * HMAC-SHA256 of "t.body" under the endpoint secret (the whsec_ text
 * itself is the key); other schemes in the header, and v1 entries that
 * are not hex, are ignored. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <string.h>

#define STRIPE_HEADER "Stripe-Signature"

/* One "key=value" item of the header. */
static ps_wh_verdict stripe_item(ps_wh_hmac_state *st, const char *p, size_t n,
                                 const char **ts, size_t *tsn,
                                 ps_wh_result *res)
{
    const char *eq = memchr(p, '=', n);
    size_t kn;

    if (eq == NULL)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          STRIPE_HEADER ": item without '='");
    kn = (size_t)(eq - p);
    if (kn == 1 && p[0] == 't') {
        if (*ts != NULL)
            return ps_wh_fail(res, PS_WH_MALFORMED,
                              STRIPE_HEADER ": t= repeated");
        *ts = eq + 1;
        *tsn = n - kn - 1;
    } else if (kn == 2 && memcmp(p, "v1", 2) == 0) {
        if (st->sigs.n == PS_WH_MAX_SIGS)
            return ps_wh_fail(res, PS_WH_MALFORMED,
                              STRIPE_HEADER ": over %d v1 signatures",
                              PS_WH_MAX_SIGS);
        /* one that is not hex is skipped, as Stripe's libraries do */
        (void)ps_wh_sigs_add(&st->sigs, PS_WH_ENC_HEX, eq + 1, n - kn - 1);
    }
    return PS_WH_MORE;
}

static ps_wh_verdict stripe_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                  ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;
    const char *hv, *ts = NULL, *end;
    size_t hn, tsn = 0;
    ps_wh_verdict v;

    if ((v = ps_wh_hdr_need(h, STRIPE_HEADER, &hv, &hn, res)) != PS_WH_MORE)
        return v;
    for (size_t i = 0; i < hn; i = (size_t)(end - hv) + 1) {
        end = memchr(hv + i, ',', hn - i);
        if (end == NULL)
            end = hv + hn;
        v = stripe_item(st, hv + i, (size_t)(end - hv) - i, &ts, &tsn, res);
        if (v != PS_WH_MORE)
            return v;
    }
    if (ts == NULL || ps_wh_parse_ts(ts, tsn, &st->ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          STRIPE_HEADER ": no t= unix time");
    if ((v = ps_wh_check_time(req, st->ts, res)) != PS_WH_MORE)
        return v;
    if (st->sigs.n == 0)
        return ps_wh_fail(res, PS_WH_DENIED,
                          STRIPE_HEADER " has no v1 signature");
    return ps_wh_hmac_start(req, PS_HMAC_SHA256,
                            (ps_wh_piece[]){{ts, tsn}, {".", 1}}, 2, res);
}

static int stripe_sign(const ps_wh_config *cfg, const void *priv,
                       const char *id, int64_t ts, const uint8_t *body,
                       size_t len, char *out, size_t outsize, ps_err *err)
{
    char prefix[32], sig[80];
    int n = snprintf(prefix, sizeof(prefix), "%lld.", (long long)ts);

    (void)priv;
    (void)id;
    if (ps_wh_mac_text(cfg, PS_HMAC_SHA256, PS_WH_ENC_HEX, prefix, (size_t)n,
                       body, len, sig, sizeof(sig), err) < 0)
        return -1;
    return ps_wh_out(out, outsize, err, STRIPE_HEADER ": t=%lld,v1=%s\n",
                     (long long)ts, sig);
}

const ps_wh_ops ps_wh_stripe_ops = {
    .name = "stripe",
    .uses = PS_WH_USES_SECRET | PS_WH_USES_HMAC,
    .state_size = sizeof(ps_wh_hmac_state),
    .begin = stripe_begin,
    .update = ps_wh_hmac_update,
    .final = ps_wh_hmac_final,
    .cleanup = ps_wh_hmac_cleanup,
    .body_id = "id",
    .sign = stripe_sign,
};
