/* Return-path tokens: encode b.REF.DAY.MAC@domain for outbound mail and
 * decode/verify it when a bounce arrives (format in retpath.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/encode.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/retpath.h"
#include "base/secfile.h"

#define RP_DAY 86400
static const char rp_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static char rp_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int rp_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static int rp_ref_ok(const char *p, size_t n)
{
    if (n == 0 || n > PS_RETPATH_REF_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!rp_is_alnum(p[i]))
            return 0;
    return 1;
}

static void rp_day_encode(unsigned long day, char out[PS_RETPATH_DAY_CHARS])
{
    for (int i = PS_RETPATH_DAY_CHARS - 1; i >= 0; i--, day >>= 5)
        out[i] = rp_b32[day & 31];
}

static int rp_day_decode(const char *p, unsigned long *day)
{
    *day = 0;
    for (int i = 0; i < PS_RETPATH_DAY_CHARS; i++) {
        const char *c = p[i] ? strchr(rp_b32, rp_lower(p[i])) : NULL;
        if (!c)
            return -1;
        *day = *day << 5 | (unsigned long)(c - rp_b32);
    }
    return 0;
}

/* The MAC's base32 text under one key; the data is lowercased first so
 * the token survives a relay that changes case. */
static int rp_mac(const uint8_t *key, size_t keylen, const char *ref,
                  size_t reflen, const char *day, const char *domain,
                  char out[PS_RETPATH_MAC_CHARS], ps_err *err)
{
    char data[PS_RETPATH_ADDR_MAX + 8];
    int n = snprintf(data, sizeof data, "b.%.*s.%.*s@%s", (int)reflen, ref,
                     PS_RETPATH_DAY_CHARS, day, domain);
    if (n < 0 || (size_t)n >= sizeof data)
        return ps_err_set(err, "return path: domain too long");
    for (int i = 0; i < n; i++)
        data[i] = rp_lower(data[i]);
    uint8_t mac[PS_HMAC_MAX];
    char b32[40];
    if (ps_hmac_compute(PS_HMAC_SHA256, key, keylen, data, (size_t)n, mac,
                        err) < 0)
        return -1;
    ps_b32_encode(mac, 10, b32); /* 16 characters, no padding */
    for (int i = 0; i < PS_RETPATH_MAC_CHARS; i++)
        out[i] = rp_lower(b32[i]);
    ps_wipe(mac, sizeof mac);
    ps_wipe(b32, sizeof b32);
    return 0;
}

int ps_retpath_encode(const ps_retpath_cfg *cfg, const char *ref, time_t now,
                      char *out, size_t outsize, ps_err *err)
{
    size_t keylen, reflen = strlen(ref);
    const uint8_t *key = ps_secrets_get(cfg->secrets, 0, &keylen);
    char day[PS_RETPATH_DAY_CHARS], mac[PS_RETPATH_MAC_CHARS];

    if (!rp_ref_ok(ref, reflen))
        return ps_err_set(err,
                          "return path: message reference must be 1-%d "
                          "letters or digits",
                          PS_RETPATH_REF_MAX);
    if (!key || !cfg->domain || !*cfg->domain)
        return ps_err_set(err, "return path: no secret or no domain");
    rp_day_encode((unsigned long)(now < 0 ? 0 : now) / RP_DAY, day);
    if (rp_mac(key, keylen, ref, reflen, day, cfg->domain, mac, err) < 0)
        return -1;
    int n =
        snprintf(out, outsize, "b.%s.%.*s.%.*s@%s", ref, PS_RETPATH_DAY_CHARS,
                 day, PS_RETPATH_MAC_CHARS, mac, cfg->domain);
    if (n < 0 || (size_t)n >= outsize || n >= PS_RETPATH_ADDR_MAX)
        return ps_err_set(err, "return path: address too long");
    return 0;
}

/* 0 if mac (PS_RETPATH_MAC_CHARS, any case) matches under any secret. Every
 * secret is tried so the time taken doesn't say which one matched. */
static int rp_mac_check(const ps_retpath_cfg *cfg, const char *ref,
                        size_t reflen, const char *day, const char *mac)
{
    char got[PS_RETPATH_MAC_CHARS], want[PS_RETPATH_MAC_CHARS];
    int ok = 0;
    for (int i = 0; i < PS_RETPATH_MAC_CHARS; i++)
        got[i] = rp_lower(mac[i]);
    for (size_t i = 0; i < ps_secrets_count(cfg->secrets); i++) {
        size_t keylen;
        const uint8_t *key = ps_secrets_get(cfg->secrets, i, &keylen);
        if (rp_mac(key, keylen, ref, reflen, day, cfg->domain, want, NULL) == 0)
            ok |= ps_ct_equal(got, want, PS_RETPATH_MAC_CHARS);
    }
    return ok ? 0 : -1;
}

int ps_retpath_decode(const ps_retpath_cfg *cfg, const char *addr, time_t now,
                      ps_retpath_token *tok, ps_err *err)
{
    const char *at = strrchr(addr, '@');
    if (!at || !cfg->domain || strcasecmp(at + 1, cfg->domain) != 0)
        return ps_err_set(err, "not a return-path address of %s",
                          cfg->domain ? cfg->domain : "(none)");
    size_t local = (size_t)(at - addr);
    /* b. REF . DAY . MAC: the fixed tail locates the reference */
    size_t tail = 1 + PS_RETPATH_DAY_CHARS + 1 + PS_RETPATH_MAC_CHARS;
    if (local > PS_RETPATH_LOCAL_MAX || local < 2 + 1 + tail ||
        strncasecmp(addr, "b.", 2) != 0)
        return ps_err_set(err, "malformed return-path token");
    const char *ref = addr + 2, *day = at - tail + 1;
    const char *mac = day + PS_RETPATH_DAY_CHARS + 1;
    size_t reflen = (size_t)(day - 1 - ref);
    unsigned long d;
    if (day[-1] != '.' || mac[-1] != '.' || !rp_ref_ok(ref, reflen) ||
        rp_day_decode(day, &d) < 0)
        return ps_err_set(err, "malformed return-path token");
    for (int i = 0; i < PS_RETPATH_MAC_CHARS; i++)
        if (!mac[i] || !strchr(rp_b32, rp_lower(mac[i])))
            return ps_err_set(err, "malformed return-path token");
    if (rp_mac_check(cfg, ref, reflen, day, mac) < 0)
        return ps_err_set(err, "return-path token does not verify");
    unsigned long today = (unsigned long)(now < 0 ? 0 : now) / RP_DAY;
    unsigned max_age = cfg->max_age ? cfg->max_age : PS_RETPATH_MAX_AGE;
    if (d > today + 1 || (d < today && today - d > max_age))
        return ps_err_set(err,
                          "return-path token expired (older than %u "
                          "days)",
                          max_age);
    memcpy(tok->ref, ref, reflen);
    tok->ref[reflen] = '\0';
    tok->issued = (time_t)(d * RP_DAY);
    return 0;
}
