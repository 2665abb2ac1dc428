/* The schemes signing the body alone with HMAC-SHA256, no timestamp (the
 * replay cache is their only replay defence): GitHub's X-Hub-Signature-256
 * (sha256=HEX) and Shopify's X-Shopify-Hmac-Sha256 (base64), with the
 * headers each provider's own library refuses a delivery without. */
#include "webhook/webhook_int.h"

#include <string.h>

/* required: the unsigned headers that must come too (shopify-api-js
 * refuses a delivery lacking any), each with the value the signer gives it
 * (name then value, NULL-terminated); the id header is required when listed. */
typedef struct bodymac {
    const char *sig, *id, *prefix;
    ps_wh_enc enc;
    const char *const *required;
} bodymac;

static const char *const none[] = {NULL};
static const char *const shopify_required[] = {"X-Shopify-Topic",
                                               "orders/create",
                                               "X-Shopify-Shop-Domain",
                                               "shop.myshopify.com",
                                               "X-Shopify-API-Version",
                                               "2025-01",
                                               NULL};

static const bodymac github = {"X-Hub-Signature-256", "X-GitHub-Delivery",
                               "sha256=", PS_WH_ENC_HEX, none};
static const bodymac shopify = {"X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id",
                                "", PS_WH_ENC_B64, shopify_required};

/* PS_WH_MORE if the header is there once and not empty (shopify-api-js
 * counts an empty one as missing), else MALFORMED naming it. */
static ps_wh_verdict need_present(const ps_wh_hdrs *h, const char *name,
                                  ps_wh_result *res)
{
    const char *v;
    size_t n;

    switch (ps_wh_hdr_get(h, name, &v, &n)) {
    case 1:
        if (n > 0)
            return PS_WH_MORE;
        /* fall through */
    case 0:
        return ps_wh_fail(res, PS_WH_MALFORMED, "no %s header", name);
    default:
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s header repeated", name);
    }
}

static ps_wh_verdict required_present(const ps_wh_hdrs *h, const bodymac *d,
                                      ps_wh_result *res)
{
    ps_wh_verdict v = PS_WH_MORE;

    for (size_t i = 0; d->required[i] != NULL && v == PS_WH_MORE; i += 2)
        v = need_present(h, d->required[i], res);
    if (v == PS_WH_MORE && d->required[0] != NULL)
        v = need_present(h, d->id, res);
    return v;
}

static ps_wh_verdict bodymac_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                   const bodymac *d, ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;
    size_t n, idn, k = strlen(d->prefix);
    const char *sig, *id;
    ps_wh_verdict v;

    st->ts = -1;
    if ((v = ps_wh_hdr_need(h, d->sig, &sig, &n, res)) != PS_WH_MORE)
        return v;
    if (n == 0) /* no signature, as when the header is absent */
        return ps_wh_fail(res, PS_WH_DENIED, "empty %s header", d->sig);
    if (ps_wh_hdr_get(h, d->id, &id, &idn) == 1)
        ps_wh_set_id(res, id, idn);
    if ((v = required_present(h, d, res)) != PS_WH_MORE)
        return v;
    if (n < k || memcmp(sig, d->prefix, k) != 0 ||
        ps_wh_sigs_add(&st->sigs, d->enc, sig + k, n - k) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s is not %s%s", d->sig,
                          d->prefix,
                          d->enc == PS_WH_ENC_HEX ? "HEX" : "base64");
    return ps_wh_hmac_start(req, PS_HMAC_SHA256, NULL, 0, res);
}

static int bodymac_sign(const ps_wh_config *cfg, const bodymac *d,
                        const char *id, const uint8_t *body, size_t len,
                        char *out, size_t outsize, ps_err *err)
{
    char sig[80], rid[64];

    if (id == NULL) {
        if (ps_wh_random_id("", rid, sizeof(rid), err) < 0)
            return -1;
        id = rid;
    }
    if (ps_wh_mac_text(cfg, PS_HMAC_SHA256, d->enc, "", 0, body, len, sig,
                       sizeof(sig), err) < 0)
        return -1;
    for (size_t i = 0; d->required[i] != NULL; i += 2)
        if (ps_wh_out(out, outsize, err, "%s: %s\n", d->required[i],
                      d->required[i + 1]) < 0)
            return -1;
    return ps_wh_out(out, outsize, err, "%s: %s\n%s: %s%s\n", d->id, id, d->sig,
                     d->prefix, sig);
}

static ps_wh_verdict github_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                  ps_wh_result *res)
{
    return bodymac_begin(req, h, &github, res);
}

static ps_wh_verdict shopify_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                   ps_wh_result *res)
{
    return bodymac_begin(req, h, &shopify, res);
}

static int github_sign(const ps_wh_config *cfg, const void *priv,
                       const char *id, int64_t ts, const uint8_t *body,
                       size_t len, char *out, size_t outsize, ps_err *err)
{
    (void)priv, (void)ts;
    return bodymac_sign(cfg, &github, id, body, len, out, outsize, err);
}

static int shopify_sign(const ps_wh_config *cfg, const void *priv,
                        const char *id, int64_t ts, const uint8_t *body,
                        size_t len, char *out, size_t outsize, ps_err *err)
{
    (void)priv, (void)ts;
    return bodymac_sign(cfg, &shopify, id, body, len, out, outsize, err);
}

#define BODYMAC_OPS(nm, begin_fn, sign_fn)                                     \
    {                                                                          \
        .name = nm, .uses = PS_WH_USES_SECRET | PS_WH_USES_HMAC,               \
        .state_size = sizeof(ps_wh_hmac_state), .begin = begin_fn,             \
        .update = ps_wh_hmac_update, .final = ps_wh_hmac_final,                \
        .cleanup = ps_wh_hmac_cleanup, .sign = sign_fn                         \
    }

const ps_wh_ops ps_wh_github_ops =
    BODYMAC_OPS("github", github_begin, github_sign);
const ps_wh_ops ps_wh_shopify_ops =
    BODYMAC_OPS("shopify", shopify_begin, shopify_sign);
