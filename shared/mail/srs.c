/* SRS address rewriting: forward (SRS0, or SRS1 for an SRS address) and
 * reverse, in Mail::SRS's Guarded scheme; the hash and the day stamp come
 * from srs_hash.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/srs.h"
#include "mail/srs_int.h"

typedef struct addr {
    ps_srs_field local, domain;
} addr;

/* local@domain split at the last '@'; no controls or spaces, since the
 * result goes back into an SMTP command. Forward reads up to 512 octets
 * as postsrsd does; reverse also what forward writes from those. */
static int split_addr(const char *s, size_t max, addr *a, ps_err *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return ps_err_set(err, "SRS: address empty or longer than %zu octets",
                          max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return ps_err_set(err,
                              "SRS: control character or space in address");
    const char *at = strrchr(s, '@');
    if (!at || at == s || at[1] == '\0')
        return ps_err_set(err, "SRS: not local@domain: %s", s);
    a->local = (ps_srs_field){s, (size_t)(at - s)};
    a->domain = (ps_srs_field){at + 1, strlen(at + 1)};
    return 0;
}

/* "SRS0" or "SRS1" (any case) and one separator of -+= */
static int has_tag(const ps_srs_field *local, char digit)
{
    return local->n > 5 && strncasecmp(local->p, "SRS", 3) == 0 &&
           local->p[3] == digit && strchr("-+=", local->p[4]) != NULL;
}

/* Cuts the next '='-separated field off *rest; the last one takes the
 * remainder (a local part may hold '='). */
static int next_field(ps_srs_field *rest, ps_srs_field *out, int last)
{
    if (last) {
        *out = *rest;
        return out->n ? 0 : -1;
    }
    const char *eq = memchr(rest->p, '=', rest->n);
    if (!eq)
        return -1;
    *out = (ps_srs_field){rest->p, (size_t)(eq - rest->p)};
    rest->n -= out->n + 1;
    rest->p = eq + 1;
    return 0;
}

static int put(char *out, size_t outsize, ps_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *out, size_t outsize, ps_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outsize, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outsize)
        return ps_err_set(err, "SRS: rewritten address too long");
    return 0;
}

#define F(f) (int)(f).n, (f).p

/* Already SRS: the new hash covers the first forwarder's domain and what
 * follows it, with no new day stamp (Guarded scheme). */
static int forward_srs(const ps_srs_cfg *cfg, const addr *a, char *out,
                       size_t outsize, ps_err *err)
{
    ps_srs_field f[2], hash;
    if (has_tag(&a->local, '1')) {
        ps_srs_field rest = {a->local.p + 5, a->local.n - 5};
        if (next_field(&rest, &hash, 0) < 0 ||
            next_field(&rest, &f[0], 0) < 0 || f[0].n == 0 ||
            next_field(&rest, &f[1], 1) < 0)
            return ps_err_set(err, "SRS: malformed SRS1 sender");
    } else {
        f[0] = a->domain;
        f[1] = (ps_srs_field){a->local.p + 4, a->local.n - 4}; /* keeps sep */
    }
    char h[PS_SRS_HASH_LEN + 1];
    if (ps_srs_hash_create(cfg->secrets, f, 2, h, err) < 0)
        return -1;
    return put(out, outsize, err, "SRS1=%s=%.*s=%.*s@%s", h, F(f[0]), F(f[1]),
               cfg->domain);
}

int ps_srs_forward(const ps_srs_cfg *cfg, const char *sender, time_t now,
                   char *out, size_t outsize, ps_err *err)
{
    addr a;
    if (!cfg->domain || !*cfg->domain)
        return ps_err_set(err, "SRS: no SRS domain");
    if (split_addr(sender, PS_SRS_ADDR_MAX - 1, &a, err) < 0)
        return -1;
    /* the hash covers fields without separators: a '=' in the domain
     * would make the reverse split differently and never verify */
    if (memchr(a.domain.p, '=', a.domain.n))
        return ps_err_set(err, "SRS: '=' in the sender's domain");
    if (strlen(cfg->domain) == a.domain.n &&
        strncasecmp(cfg->domain, a.domain.p, a.domain.n) == 0) {
        if (put(out, outsize, err, "%s", sender) < 0)
            return -1;
        return PS_SRS_UNCHANGED;
    }
    if (has_tag(&a.local, '0') || has_tag(&a.local, '1'))
        return forward_srs(cfg, &a, out, outsize, err);
    char stamp[2], h[PS_SRS_HASH_LEN + 1];
    ps_srs_stamp_create(now, stamp);
    ps_srs_field f[3] = {{stamp, 2}, a.domain, a.local};
    if (ps_srs_hash_create(cfg->secrets, f, 3, h, err) < 0)
        return -1;
    return put(out, outsize, err, "SRS0=%s=%.2s=%.*s=%.*s@%s", h, stamp,
               F(a.domain), F(a.local), cfg->domain);
}

static int reverse_srs1(const ps_srs_cfg *cfg, const addr *a, char *out,
                        size_t outsize, ps_err *err)
{
    ps_srs_field rest = {a->local.p + 5, a->local.n - 5}, hash, f[2];
    if (next_field(&rest, &hash, 0) < 0 || next_field(&rest, &f[0], 0) < 0 ||
        f[0].n == 0 || next_field(&rest, &f[1], 1) < 0)
        return ps_err_set(err, "SRS: malformed SRS1 address");
    /* a '.' in the hash field is the hashless old format: never trusted */
    if (memchr(hash.p, '.', hash.n) ||
        ps_srs_hash_check(cfg->secrets, f, 2, hash.p, hash.n) < 0)
        return ps_err_set(err, "SRS: invalid hash");
    return put(out, outsize, err, "SRS0%.*s@%.*s", F(f[1]), F(f[0]));
}

static int reverse_srs0(const ps_srs_cfg *cfg, const addr *a, time_t now,
                        char *out, size_t outsize, ps_err *err)
{
    ps_srs_field rest = {a->local.p + 5, a->local.n - 5}, hash, f[3];
    if (next_field(&rest, &hash, 0) < 0 || next_field(&rest, &f[0], 0) < 0 ||
        next_field(&rest, &f[1], 0) < 0 || f[1].n == 0 ||
        next_field(&rest, &f[2], 1) < 0)
        return ps_err_set(err, "SRS: malformed SRS0 address");
    if (ps_srs_hash_check(cfg->secrets, f, 3, hash.p, hash.n) < 0)
        return ps_err_set(err, "SRS: invalid hash");
    unsigned max_age = cfg->max_age ? cfg->max_age : PS_SRS_MAX_AGE;
    if (ps_srs_stamp_check(f[0].p, f[0].n, now, max_age) < 0)
        return ps_err_set(err, "SRS: day stamp expired or invalid");
    return put(out, outsize, err, "%.*s@%.*s", F(f[2]), F(f[1]));
}

int ps_srs_reverse(const ps_srs_cfg *cfg, const char *addr_s, time_t now,
                   char *out, size_t outsize, ps_err *err)
{
    addr a;
    if (split_addr(addr_s, PS_SRS_OUT_MAX - 1, &a, err) < 0)
        return -1;
    if (cfg->domain && *cfg->domain &&
        (strlen(cfg->domain) != a.domain.n ||
         strncasecmp(cfg->domain, a.domain.p, a.domain.n) != 0))
        return ps_err_set(err, "SRS: not in our SRS domain %s", cfg->domain);
    if (has_tag(&a.local, '0'))
        return reverse_srs0(cfg, &a, now, out, outsize, err);
    if (has_tag(&a.local, '1'))
        return reverse_srs1(cfg, &a, out, outsize, err);
    return ps_err_set(err, "SRS: not an SRS address");
}
