/* Basic and Bearer, for providers that do not sign: the Authorization
 * header against every configured "user:password" or token, compared as
 * SHA-256 digests in constant time; decided from the headers alone. */
#include "webhook/webhook_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "base/secfile.h"

#define AUTH_HEADER "Authorization"

static int digest(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;

    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32
               ? 0
               : -1;
}

/* The 1-based index of the first configured secret cred matches, 0 for
 * none, -1 on a digest failure; every secret is compared. */
static int cred_matches(const ps_wh_config *cfg, const void *cred, size_t n)
{
    uint8_t got[32], want[32];
    int which = 0, hit;

    if (digest(cred, n, got) < 0)
        return -1;
    for (size_t i = 0; i < cfg->nsecrets; i++) {
        if (digest(cfg->secrets[i].data, cfg->secrets[i].len, want) < 0)
            return -1;
        hit = ps_ct_equal(got, want, sizeof(got));
        if (hit && which == 0)
            which = (int)i + 1;
    }
    return which;
}

/* The credentials after "SCHEME " (scheme name in any case). */
static ps_wh_verdict auth_value(const ps_wh_hdrs *h, const char *scheme,
                                const char **cred, size_t *n, ps_wh_result *res)
{
    size_t k = strlen(scheme);
    const char *v;
    size_t vn;
    ps_wh_verdict rc;

    if ((rc = ps_wh_hdr_need(h, AUTH_HEADER, &v, &vn, res)) != PS_WH_MORE)
        return rc;
    if (vn <= k + 1 || !ps_wh_ieq(v, k, scheme) || v[k] != ' ')
        return ps_wh_fail(res, PS_WH_DENIED, AUTH_HEADER " is not %s", scheme);
    *cred = v + k + 1;
    *n = vn - k - 1;
    while (*n > 0 && **cred == ' ') {
        (*cred)++;
        (*n)--;
    }
    return PS_WH_MORE;
}

static ps_wh_verdict verdict(const ps_wh_config *cfg, const void *cred,
                             size_t n, ps_wh_result *res)
{
    int m = cred_matches(cfg, cred, n);

    if (m < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "SHA-256 failed");
    if (m == 0)
        return ps_wh_fail(res, PS_WH_DENIED, "credentials do not match");
    res->key = (unsigned)m;
    snprintf(res->reason, sizeof(res->reason), "credentials match");
    return PS_WH_OK;
}

static ps_wh_verdict basic_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                 ps_wh_result *res)
{
    uint8_t dec[PS_WH_MAX_HEADER];
    const char *cred, *colon;
    size_t n, dn = 0;
    ps_wh_verdict v;

    if ((v = auth_value(h, "Basic", &cred, &n, res)) != PS_WH_MORE)
        return v;
    if (ps_b64_decode(cred, n, dec, sizeof(dec), &dn, NULL) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "Basic credentials are not "
                          "base64");
    colon = memchr(dec, ':', dn);
    if (colon != NULL)
        ps_wh_set_id(res, (const char *)dec, (size_t)(colon - (char *)dec));
    v = verdict(req->cfg, dec, dn, res);
    ps_wipe(dec, sizeof(dec));
    return v;
}

static ps_wh_verdict bearer_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                  ps_wh_result *res)
{
    const char *cred;
    size_t n;
    ps_wh_verdict v;

    if ((v = auth_value(h, "Bearer", &cred, &n, res)) != PS_WH_MORE)
        return v;
    return verdict(req->cfg, cred, n, res);
}

static int basic_secret(const char *text, size_t len, uint8_t **out,
                        size_t *outlen, ps_err *err)
{
    if (memchr(text, ':', len) == NULL)
        return ps_err_set(err, "a basic secret is user:password");
    *out = malloc(len);
    if (*out == NULL)
        return ps_err_set(err, "out of memory");
    memcpy(*out, text, len);
    *outlen = len;
    return 0;
}

static int basic_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                      int64_t ts, const uint8_t *body, size_t len, char *out,
                      size_t outsize, ps_err *err)
{
    char enc[PS_WH_MAX_HEADER];

    (void)priv, (void)id, (void)ts, (void)body, (void)len;
    if (cfg->nsecrets == 0 ||
        ps_b64_encoded_size(cfg->secrets[0].len) > sizeof(enc))
        return ps_err_set(err, "no usable secret");
    ps_b64_encode(cfg->secrets[0].data, cfg->secrets[0].len, enc);
    return ps_wh_out(out, outsize, err, AUTH_HEADER ": Basic %s\n", enc);
}

static int bearer_sign(const ps_wh_config *cfg, const void *priv,
                       const char *id, int64_t ts, const uint8_t *body,
                       size_t len, char *out, size_t outsize, ps_err *err)
{
    (void)priv, (void)id, (void)ts, (void)body, (void)len;
    if (cfg->nsecrets == 0)
        return ps_err_set(err, "no secret");
    return ps_wh_out(out, outsize, err, AUTH_HEADER ": Bearer %.*s\n",
                     (int)cfg->secrets[0].len,
                     (const char *)cfg->secrets[0].data);
}

const ps_wh_ops ps_wh_basic_ops = {
    .name = "basic",
    .uses = PS_WH_USES_SECRET,
    .secret = basic_secret,
    .begin = basic_begin,
    .sign = basic_sign,
};

const ps_wh_ops ps_wh_bearer_ops = {
    .name = "bearer",
    .uses = PS_WH_USES_SECRET,
    .begin = bearer_begin,
    .sign = bearer_sign,
};
