/* Small pieces every webhook scheme uses: verdicts with reasons, header
 * lookup that refuses repeats, strict timestamps and the tolerance window,
 * delivery ids, replay keys, and bounded body buffers. */
#include "webhook/webhook_int.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"

ps_wh_verdict ps_wh_fail(ps_wh_result *res, ps_wh_verdict v, const char *fmt,
                         ...)
{
    va_list ap;

    res->verdict = v;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return v;
}

void ps_wh_set_id(ps_wh_result *res, const char *p, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n && k < PS_WH_ID_MAX; i++)
        if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            res->id[k++] = p[i];
    res->id[k] = '\0';
}

/* With the configuration's fetched SHA-256: EVP_sha256() would be looked
 * up in the provider store again on every init. */
void ps_wh_set_replay(const ps_wh_req *req, ps_wh_result *res,
                      const uint8_t *bytes, size_t n, int64_t expires)
{
    EVP_MD_CTX *ctx = NULL;
    const char *scheme = req->ops->name;
    unsigned int len = 0;

    res->has_replay_id = 0;
    if (!req->cfg->no_replay_ids)
        ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestInit_ex(ctx, req->cfg->sha256, NULL) == 1 &&
        EVP_DigestUpdate(ctx, "postseal-replay", 16) == 1 &&
        EVP_DigestUpdate(ctx, scheme, strlen(scheme) + 1) == 1 &&
        EVP_DigestUpdate(ctx, bytes, n) == 1 &&
        EVP_DigestFinal_ex(ctx, res->replay_id, &len) == 1 &&
        len == PS_WH_REPLAY_ID)
        res->has_replay_id = 1;
    EVP_MD_CTX_free(ctx);
    res->expires = expires;
}

int64_t ps_wh_expiry(const ps_wh_req *req, int64_t ts)
{
    int64_t tol = req->cfg->tolerance;

    if (tol < 0)
        return req->now + PS_WH_DEFAULT_TOLERANCE;
    return (ts < 0 ? req->now : ts) + tol;
}

/* The n bytes at p against the n bytes at s, ignoring ASCII case. */
static int ieq_n(const char *p, const char *s, size_t n)
{
    char a, b;

    for (size_t i = 0; i < n; i++) {
        a = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
        b = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
        if (a != b)
            return 0;
    }
    return 1;
}

int ps_wh_ieq(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && ieq_n(p, s, n);
}

/* Every request header is looked at for every name a scheme needs: the
 * length is compared first, and measured once. */
int ps_wh_hdr_get(const ps_wh_hdrs *h, const char *name, const char **value,
                  size_t *len)
{
    size_t k = strlen(name);
    int found = 0;

    for (size_t i = 0; i < h->n; i++) {
        if (h->h[i].name_len != k || !ieq_n(h->h[i].name, name, k))
            continue;
        if (found)
            return -1;
        found = 1;
        *value = h->h[i].value;
        *len = h->h[i].value_len;
    }
    return found;
}

ps_wh_verdict ps_wh_hdr_need(const ps_wh_hdrs *h, const char *name,
                             const char **value, size_t *len, ps_wh_result *res)
{
    int rc = ps_wh_hdr_get(h, name, value, len);

    if (rc == 0)
        return ps_wh_fail(res, PS_WH_DENIED, "no %s header", name);
    if (rc < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s header repeated", name);
    if (*len > PS_WH_MAX_HEADER)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s header over %d bytes", name,
                          PS_WH_MAX_HEADER);
    return PS_WH_MORE;
}

int ps_wh_hdr_copy(const ps_wh_hdrs *h, const char *name, char *buf, size_t cap,
                   size_t *len, ps_wh_result *res)
{
    const char *v;
    size_t n;
    int rc = ps_wh_hdr_get(h, name, &v, &n);

    *len = 0;
    if (rc < 0 || (rc == 1 && n > cap)) {
        ps_wh_fail(res, PS_WH_MALFORMED, "%s repeated or over %zu bytes", name,
                   cap);
        return -1;
    }
    if (rc == 1) {
        memcpy(buf, v, n);
        *len = n;
    }
    return rc;
}

int ps_wh_parse_ts(const char *p, size_t n, int64_t *out)
{
    int64_t v = 0;

    if (n == 0 || n > 12)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int ps_wh_parse_ts_frac(const char *p, size_t n, int64_t *out)
{
    const char *dot = memchr(p, '.', n);
    size_t whole = dot != NULL ? (size_t)(dot - p) : n;

    for (size_t i = whole + 1; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return -1;
    if (dot != NULL && (n - whole - 1 == 0 || n - whole - 1 > 9))
        return -1;
    return ps_wh_parse_ts(p, whole, out);
}

ps_wh_verdict ps_wh_check_time(const ps_wh_req *req, int64_t ts,
                               ps_wh_result *res)
{
    int64_t tol = req->cfg->tolerance;

    if (tol < 0)
        return PS_WH_MORE;
    if (ts < req->now - tol)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "timestamp %lld s in the past (tolerance %lld s)",
                          (long long)(req->now - ts), (long long)tol);
    if (ts > req->now + tol)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "timestamp %lld s in the future (tolerance %lld s)",
                          (long long)(ts - req->now), (long long)tol);
    return PS_WH_MORE;
}

ps_wh_verdict ps_wh_buf_add(ps_wh_buf *b, const uint8_t *p, size_t n,
                            int64_t max, ps_wh_result *res)
{
    size_t cap;
    uint8_t *np;

    if ((int64_t)(b->len + n) > max)
        return ps_wh_fail(res, PS_WH_TOO_LARGE, "body over %lld bytes",
                          (long long)max);
    if (b->len + n > b->cap) {
        cap = b->cap > 0 ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        if ((int64_t)cap > max)
            cap = (size_t)max;
        np = realloc(b->p, cap);
        if (np == NULL)
            return ps_wh_fail(res, PS_WH_INTERNAL, "out of memory");
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return PS_WH_MORE;
}

void ps_wh_buf_free(ps_wh_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int ps_wh_out(char *out, size_t outsize, ps_err *err, const char *fmt, ...)
{
    size_t used = strnlen(out, outsize);
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out + used, outsize - used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outsize - used) {
        out[used] = '\0';
        return ps_err_set(err, "signed headers do not fit");
    }
    return 0;
}

int ps_wh_random_id(const char *prefix, char *out, size_t outsize, ps_err *err)
{
    uint8_t raw[12];
    size_t plen = strlen(prefix);

    if (plen + ps_hex_encoded_size(sizeof(raw)) > outsize)
        return ps_err_set(err, "no room for an id");
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return ps_err_openssl(err, "no random bytes");
    memcpy(out, prefix, plen);
    ps_hex_encode(raw, sizeof(raw), out + plen);
    return 0;
}
