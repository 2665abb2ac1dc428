/* Standard Webhooks and its brands, Svix and Resend: over "id.timestamp.body",
 * v1 HMAC-SHA256 under whsec_ secrets and v1a Ed25519 under whpk_ public
 * keys, in a space-separated list of "version,signature" entries. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"

/* Header names of one brand. */
typedef struct std_names {
    const char *id, *ts, *sig;
} std_names;

static const std_names webhook_names = {"webhook-id", "webhook-timestamp",
                                        "webhook-signature"};
static const std_names svix_names = {"svix-id", "svix-timestamp",
                                     "svix-signature"};

/* The HMAC state comes first: the shared HMAC steps take req->state as
 * theirs. The v1a signatures are checked over the whole signed content,
 * kept in memory (Ed25519 hashes the message twice, so it cannot
 * stream). */
typedef struct std_state {
    ps_wh_hmac_state h;
    uint8_t asig[PS_WH_MAX_SIGS][PS_WH_ED25519_SIG];
    size_t nasig;
    int mac_on; /* the configuration has HMAC secrets: MACs running */
    int keep;   /* v1a signatures to check: content kept */
    ps_wh_buf content;
    /* A timestamp with a fraction: the reference libraries verify over its
     * whole seconds alone, so that content is checked too (alt: its MACs;
     * the kept content loses the fraction's frac bytes after idn + 1 +
     * whole). */
    size_t idn, whole, frac;
    ps_wh_macs alt;
} std_state;

/* One v1a signature: kept when it decodes to 64 bytes, else skipped. */
static void std_add_asig(std_state *st, const char *p, size_t n)
{
    uint8_t tmp[PS_WH_ED25519_SIG + 3];
    size_t len = 0;

    if (ps_b64_decode(p, n, tmp, sizeof(tmp), &len, NULL) == 0 &&
        len == PS_WH_ED25519_SIG)
        memcpy(st->asig[st->nasig++], tmp, len);
}

/* One "version,signature" entry: v1 and v1a are kept when their signature
 * decodes; other versions, entries without a comma and signatures that do
 * not decode are skipped. */
static ps_wh_verdict std_entry(std_state *st, const char *name, const char *e,
                               size_t len, ps_wh_result *res)
{
    const char *comma = memchr(e, ',', len);
    size_t vlen = comma != NULL ? (size_t)(comma - e) : 0;
    int is_v1 = comma != NULL && vlen == 2 && memcmp(e, "v1", 2) == 0;
    int is_v1a = comma != NULL && vlen == 3 && memcmp(e, "v1a", 3) == 0;

    if (!is_v1 && !is_v1a)
        return PS_WH_MORE;
    if (st->h.sigs.n + st->nasig == PS_WH_MAX_SIGS)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s: over %d signatures", name,
                          PS_WH_MAX_SIGS);
    if (is_v1)
        (void)ps_wh_sigs_add(&st->h.sigs, PS_WH_ENC_B64, comma + 1,
                             len - vlen - 1);
    else
        std_add_asig(st, comma + 1, len - vlen - 1);
    return PS_WH_MORE;
}

/* The space-separated entries of "v1,SIG v1a,SIG v2,SIG ...", as the
 * reference libraries read them: a garbled entry never hides a good one. */
static ps_wh_verdict std_parse_sigs(std_state *st, const char *name,
                                    const char *p, size_t n, ps_wh_result *res)
{
    size_t i = 0, start;
    ps_wh_verdict v;

    while (i < n) {
        while (i < n && p[i] == ' ')
            i++;
        start = i;
        while (i < n && p[i] != ' ')
            i++;
        v = std_entry(st, name, p + start, i - start, res);
        if (v != PS_WH_MORE)
            return v;
    }
    return PS_WH_MORE;
}

/* Bytes before the first c in the n bytes at p (n if none). */
static size_t strcspn_n(const char *p, size_t n, char c)
{
    const char *at = memchr(p, c, n);

    return at != NULL ? (size_t)(at - p) : n;
}

/* How many HMAC secrets and public keys the configuration holds. */
static void std_count(const ps_wh_config *cfg, size_t *nmac, size_t *npub)
{
    *nmac = *npub = 0;
    for (size_t i = 0; i < cfg->nsecrets; i++)
        (*(cfg->secrets[i].pub != NULL ? npub : nmac))++;
}

/* Nothing the configuration can check: say what is missing on which side. */
static ps_wh_verdict std_no_sig(const std_state *st, const char *name,
                                size_t nmac, size_t npub, ps_wh_result *res)
{
    if (st->h.sigs.n > 0 && nmac == 0)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "%s has only v1 (HMAC) signatures and only whpk_ "
                          "public keys are configured",
                          name);
    if (st->nasig > 0 && npub == 0)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "%s has only v1a (Ed25519) signatures and no whpk_ "
                          "public key is configured",
                          name);
    return ps_wh_fail(res, PS_WH_DENIED, "%s has no %s signature", name,
                      npub == 0   ? "v1"
                      : nmac == 0 ? "v1a"
                                  : "v1 or v1a");
}

/* The signed content is "id.ts." and the body: MACed as it streams when
 * there are HMAC secrets (also the replay key), kept for v1a. */
/* The MACs of the content with the timestamp's whole seconds alone. */
static ps_wh_verdict std_alt_start(ps_wh_req *req, const ps_wh_piece *pre,
                                   ps_wh_result *res)
{
    std_state *st = req->state;
    ps_err err;

    if (ps_wh_macs_start(&st->alt, req->cfg, PS_HMAC_SHA256, NULL, 0, &err) <
            0 ||
        ps_wh_macs_update(&st->alt, pre[0].p, pre[0].n, &err) < 0 ||
        ps_wh_macs_update(&st->alt, ".", 1, &err) < 0 ||
        ps_wh_macs_update(&st->alt, pre[2].p, st->whole, &err) < 0 ||
        ps_wh_macs_update(&st->alt, ".", 1, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return PS_WH_MORE;
}

static ps_wh_verdict std_start(ps_wh_req *req, const ps_wh_piece *pre,
                               size_t nmac, ps_wh_result *res)
{
    std_state *st = req->state;
    ps_wh_verdict v = PS_WH_MORE;

    st->mac_on = nmac > 0;
    if (st->mac_on)
        v = ps_wh_hmac_start(req, PS_HMAC_SHA256, pre, 4, res);
    if (st->mac_on && st->frac > 0 && v == PS_WH_MORE)
        v = std_alt_start(req, pre, res);
    for (size_t i = 0; st->keep && v == PS_WH_MORE && i < 4; i++)
        v = ps_wh_buf_add(&st->content, (const uint8_t *)pre[i].p, pre[i].n,
                          INT64_MAX, res);
    return v;
}

static ps_wh_verdict std_begin_names(ps_wh_req *req, const ps_wh_hdrs *h,
                                     const std_names *nm, ps_wh_result *res)
{
    std_state *st = req->state;
    const char *id, *ts, *sig;
    size_t idn, tsn, sign, nmac, npub;
    ps_wh_verdict v;

    if ((v = ps_wh_hdr_need(h, nm->id, &id, &idn, res)) != PS_WH_MORE ||
        (v = ps_wh_hdr_need(h, nm->ts, &ts, &tsn, res)) != PS_WH_MORE ||
        (v = ps_wh_hdr_need(h, nm->sig, &sig, &sign, res)) != PS_WH_MORE)
        return v;
    ps_wh_set_id(res, id, idn);
    if (ps_wh_parse_ts_frac(ts, tsn, &st->h.ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s is not a unix time",
                          nm->ts);
    st->idn = idn;
    st->whole = strcspn_n(ts, tsn, '.');
    st->frac = tsn - st->whole;
    if ((v = ps_wh_check_time(req, st->h.ts, res)) != PS_WH_MORE)
        return v;
    if ((v = std_parse_sigs(st, nm->sig, sig, sign, res)) != PS_WH_MORE)
        return v;
    std_count(req->cfg, &nmac, &npub);
    st->keep = st->nasig > 0 && npub > 0;
    if (!st->keep && (st->h.sigs.n == 0 || nmac == 0))
        return std_no_sig(st, nm->sig, nmac, npub, res);
    return std_start(req,
                     (ps_wh_piece[]){{id, idn}, {".", 1}, {ts, tsn}, {".", 1}},
                     nmac, res);
}

static ps_wh_verdict std_update(ps_wh_req *req, const uint8_t *p, size_t n,
                                ps_wh_result *res)
{
    std_state *st = req->state;
    ps_wh_verdict v = PS_WH_MORE;
    ps_err err;

    if (st->mac_on)
        v = ps_wh_hmac_update(req, p, n, res);
    if (st->mac_on && st->frac > 0 && v == PS_WH_MORE &&
        ps_wh_macs_update(&st->alt, p, n, &err) < 0)
        v = ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    if (st->keep && v == PS_WH_MORE)
        v = ps_wh_buf_add(&st->content, p, n, INT64_MAX, res);
    return v;
}

/* The 1-based index of the first whpk_ key a v1a signature verifies
 * under, 0 if none. */
static unsigned std_v1a_key(const ps_wh_config *cfg, const std_state *st,
                            const uint8_t *msg, size_t n)
{
    for (size_t i = 0; i < cfg->nsecrets; i++)
        for (size_t s = 0; cfg->secrets[i].pub != NULL && s < st->nasig; s++)
            if (ps_wh_ed25519_verify(cfg->secrets[i].pub, msg, n,
                                     st->asig[s]) == 0)
                return (unsigned)i + 1;
    return 0;
}

/* v1a over the content as received, then without the timestamp's
 * fraction. */
static unsigned std_v1a(const ps_wh_config *cfg, const std_state *st)
{
    size_t cut = st->idn + 1 + st->whole, n = st->content.len - st->frac;
    unsigned key = std_v1a_key(cfg, st, st->content.p, st->content.len);
    uint8_t *alt;

    if (key != 0 || st->frac == 0 || (alt = malloc(n)) == NULL)
        return key;
    memcpy(alt, st->content.p, cut);
    memcpy(alt + cut, st->content.p + cut + st->frac, n - cut);
    key = std_v1a_key(cfg, st, alt, n);
    free(alt);
    return key;
}

/* The HMAC verdict, as received then over the whole seconds: the
 * 1-based secret that matched, 0 if none, -1 on a library failure. */
static int std_v1(std_state *st, ps_err *err)
{
    ps_wh_macs *m = &st->h.macs;

    if (!st->mac_on)
        return 0;
    if (ps_wh_macs_final(m, &st->h.sigs, err) < 0)
        return -1;
    if (m->match || st->frac == 0)
        return m->match ? (int)m->which : 0;
    if (ps_wh_macs_final(&st->alt, &st->h.sigs, err) < 0)
        return -1;
    return st->alt.match ? (int)st->alt.which : 0;
}

/* Either kind of signature verifies; the replay id is the MAC under the
 * first HMAC secret when there is one (the same whichever signature
 * came), else the digest of the signed content. */
static ps_wh_verdict std_final(ps_wh_req *req, ps_wh_result *res)
{
    std_state *st = req->state;
    ps_wh_macs *m = &st->h.macs;
    int key;
    ps_err err;

    if ((key = std_v1(st, &err)) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    if (key == 0 && st->keep)
        key = (int)std_v1a(req->cfg, st);
    if (key == 0)
        return ps_wh_fail(res, PS_WH_DENIED, "signature does not match");
    if (m->has_first)
        ps_wh_set_replay(req, res, m->first, ps_hmac_size(m->alg),
                         ps_wh_expiry(req, st->h.ts));
    else
        ps_wh_set_replay(req, res, st->content.p, st->content.len,
                         ps_wh_expiry(req, st->h.ts));
    res->key = (unsigned)key;
    res->verdict = PS_WH_OK;
    snprintf(res->reason, sizeof(res->reason), "signature verified");
    return PS_WH_OK;
}

static void std_cleanup(ps_wh_req *req)
{
    std_state *st = req->state;

    if (st == NULL)
        return;
    ps_wh_hmac_cleanup(req);
    ps_wh_macs_free(&st->alt);
    ps_wh_buf_free(&st->content);
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
        .secret = ps_wh_std_secret, .pubkey = ps_wh_std_pubkey,                \
        .state_size = sizeof(std_state), .begin = begin_fn,                    \
        .update = std_update, .final = std_final, .cleanup = std_cleanup,      \
        .sign = sign_fn                                                        \
    }

const ps_wh_ops ps_wh_standard_ops = STD_OPS("standard", std_begin, std_sign);
const ps_wh_ops ps_wh_svix_ops = STD_OPS("svix", svix_begin, svix_sign);
const ps_wh_ops ps_wh_resend_ops = STD_OPS("resend", svix_begin, svix_sign);
