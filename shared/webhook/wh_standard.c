/* Standard Webhooks v1 and its brands, Svix and Resend: HMAC-SHA256 with a
 * whsec_ base64 secret over "id.timestamp.body", several space-separated
 * "version,signature" entries of which the v1 ones count. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"

#define WHSEC_PREFIX "whsec_"

/* Header names of one brand. */
typedef struct std_names {
    const char *id, *ts, *sig;
} std_names;

static const std_names webhook_names = {"webhook-id", "webhook-timestamp",
                                        "webhook-signature"};
static const std_names svix_names = {"svix-id", "svix-timestamp",
                                     "svix-signature"};

/* "whsec_BASE64" or bare base64, as the reference libraries take it. */
static int std_secret(const char *text, size_t len, uint8_t **out,
                      size_t *outlen, ps_err *err)
{
    size_t skip = sizeof(WHSEC_PREFIX) - 1;

    if (len >= skip && memcmp(text, WHSEC_PREFIX, skip) == 0) {
        text += skip;
        len -= skip;
    }
    *out = malloc(ps_b64_decoded_max(len) + 1);
    if (*out == NULL)
        return ps_err_set(err, "out of memory");
    if (ps_b64_decode(text, len, *out, ps_b64_decoded_max(len) + 1, outlen,
                      NULL) < 0 ||
        *outlen == 0) {
        free(*out);
        *out = NULL;
        return ps_err_set(err, "not a Standard Webhooks secret "
                               "(whsec_ followed by base64)");
    }
    return 0;
}

/* The v1 entries of "v1,SIG v1a,SIG v2,SIG ..."; others are ignored. */
static ps_wh_verdict std_parse_sigs(ps_wh_hmac_state *st, const char *name,
                                    const char *p, size_t n, ps_wh_result *res)
{
    size_t i = 0, start, len;

    while (i < n) {
        while (i < n && p[i] == ' ')
            i++;
        start = i;
        while (i < n && p[i] != ' ')
            i++;
        len = i - start;
        if (len < 3 || memcmp(p + start, "v1,", 3) != 0)
            continue;
        if (ps_wh_sigs_add(&st->sigs, PS_WH_ENC_B64, p + start + 3, len - 3) <
            0)
            return ps_wh_fail(res, PS_WH_MALFORMED,
                              "%s: v1 entry %zu is not base64 (or over %d "
                              "entries)",
                              name, st->sigs.n + 1, PS_WH_MAX_SIGS);
    }
    if (st->sigs.n == 0)
        return ps_wh_fail(res, PS_WH_DENIED, "%s has no v1 signature", name);
    return PS_WH_MORE;
}

static ps_wh_verdict std_begin_names(ps_wh_req *req, const ps_wh_hdrs *h,
                                     const std_names *nm, ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;
    const char *id, *ts, *sig;
    size_t idn, tsn, sign;
    ps_wh_verdict v;

    if ((v = ps_wh_hdr_need(h, nm->id, &id, &idn, res)) != PS_WH_MORE ||
        (v = ps_wh_hdr_need(h, nm->ts, &ts, &tsn, res)) != PS_WH_MORE ||
        (v = ps_wh_hdr_need(h, nm->sig, &sig, &sign, res)) != PS_WH_MORE)
        return v;
    ps_wh_set_id(res, id, idn);
    if (ps_wh_parse_ts(ts, tsn, &st->ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s is not a unix time",
                          nm->ts);
    if ((v = ps_wh_check_time(req, st->ts, res)) != PS_WH_MORE)
        return v;
    if ((v = std_parse_sigs(st, nm->sig, sig, sign, res)) != PS_WH_MORE)
        return v;
    return ps_wh_hmac_start(
        req, PS_HMAC_SHA256,
        (ps_wh_piece[]){{id, idn}, {".", 1}, {ts, tsn}, {".", 1}}, 4, res);
}

static ps_wh_verdict std_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                               ps_wh_result *res)
{
    return std_begin_names(req, h, &webhook_names, res);
}

/* Svix sends svix-*; its libraries also take the unbranded names. */
static ps_wh_verdict svix_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                ps_wh_result *res)
{
    const char *v;
    size_t n;

    if (ps_wh_hdr_get(h, "svix-signature", &v, &n) != 0 ||
        ps_wh_hdr_get(h, "webhook-signature", &v, &n) == 0)
        return std_begin_names(req, h, &svix_names, res);
    return std_begin_names(req, h, &webhook_names, res);
}

static int std_sign_names(const ps_wh_config *cfg, const std_names *nm,
                          const char *id, int64_t ts, const uint8_t *body,
                          size_t len, char *out, size_t outsize, ps_err *err)
{
    char prefix[PS_WH_MAX_HEADER], sig[64], rid[64];
    int n;

    if (id == NULL) {
        if (ps_wh_random_id("msg_", rid, sizeof(rid), err) < 0)
            return -1;
        id = rid;
    }
    n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, (long long)ts);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        return ps_err_set(err, "id too long");
    if (ps_wh_mac_text(cfg, PS_HMAC_SHA256, PS_WH_ENC_B64, prefix, (size_t)n,
                       body, len, sig, sizeof(sig), err) < 0)
        return -1;
    return ps_wh_out(out, outsize, err, "%s: %s\n%s: %lld\n%s: v1,%s\n", nm->id,
                     id, nm->ts, (long long)ts, nm->sig, sig);
}

static int std_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                    int64_t ts, const uint8_t *body, size_t len, char *out,
                    size_t outsize, ps_err *err)
{
    (void)priv;
    return std_sign_names(cfg, &webhook_names, id, ts, body, len, out, outsize,
                          err);
}

static int svix_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                     int64_t ts, const uint8_t *body, size_t len, char *out,
                     size_t outsize, ps_err *err)
{
    (void)priv;
    return std_sign_names(cfg, &svix_names, id, ts, body, len, out, outsize,
                          err);
}

#define STD_OPS(nm, begin_fn, sign_fn)                                         \
    {                                                                          \
        .name = nm, .uses = PS_WH_USES_SECRET | PS_WH_USES_HMAC,               \
        .secret = std_secret, .state_size = sizeof(ps_wh_hmac_state),          \
        .begin = begin_fn, .update = ps_wh_hmac_update,                        \
        .final = ps_wh_hmac_final, .cleanup = ps_wh_hmac_cleanup,              \
        .sign = sign_fn                                                        \
    }

const ps_wh_ops ps_wh_standard_ops = STD_OPS("standard", std_begin, std_sign);
const ps_wh_ops ps_wh_svix_ops = STD_OPS("svix", svix_begin, svix_sign);
const ps_wh_ops ps_wh_resend_ops = STD_OPS("resend", svix_begin, svix_sign);
