/* SRS hash and day stamp: HMAC-SHA1 of the lowercased fields, base64,
 * first 4 characters; day number mod 1024 in two base32 characters. */
#include <string.h>

#include "base/encode.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "base/secfile.h"
#include "mail/srs.h"
#include "mail/srs_int.h"

#define SRS_DAY     86400
#define SRS_SLOTS   1024 /* two base32 characters */
#define SRS_B64_MAX 28   /* base64 of a SHA-1 MAC, without the '=' */

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Both implementations lowercase each field before hashing, so a relay
 * that smashes case keeps the address valid. */
static int mac_b64(const uint8_t *key, size_t keylen, const ps_srs_field *f,
                   size_t nf, char out[SRS_B64_MAX + 1], ps_err *err)
{
    char buf[PS_SRS_OUT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].n > sizeof buf - n)
            return ps_err_set(err, "SRS: address too long");
        for (size_t j = 0; j < f[i].n; j++)
            buf[n++] = lower(f[i].p[j]);
    }
    uint8_t mac[PS_HMAC_MAX];
    int rc = ps_hmac_compute(PS_HMAC_SHA1, key, keylen, buf, n, mac, err);
    if (rc == 0) {
        char b64[32];
        ps_b64_encode(mac, 20, b64); /* 28 chars, one '=' */
        memcpy(out, b64, SRS_B64_MAX);
        out[SRS_B64_MAX] = '\0';
    }
    ps_wipe(mac, sizeof mac);
    return rc;
}

int ps_srs_hash_create(const ps_secrets *s, const ps_srs_field *f, size_t nf,
                       char *out, ps_err *err)
{
    size_t keylen;
    const uint8_t *key = ps_secrets_get(s, 0, &keylen);
    char b64[SRS_B64_MAX + 1];
    if (!key)
        return ps_err_set(err, "SRS: no secret");
    if (mac_b64(key, keylen, f, nf, b64, err) < 0)
        return -1;
    memcpy(out, b64, PS_SRS_HASH_LEN);
    out[PS_SRS_HASH_LEN] = '\0';
    return 0;
}

/* Case and alphabet folding: lowercase, and base64url's '-' '_' become
 * '+' '/' (postsrsd 1.10 writes standard base64; others may not). */
static char fold(char c)
{
    if (c == '-')
        return '+';
    if (c == '_')
        return '/';
    return lower(c);
}

int ps_srs_hash_check(const ps_secrets *s, const ps_srs_field *f, size_t nf,
                      const char *hash, size_t hlen)
{
    char want[SRS_B64_MAX], got[SRS_B64_MAX];
    int ok = 0;
    if (hlen < PS_SRS_HASH_LEN || hlen > 27) /* 27: SHA-1 in base64 */
        return -1;
    for (size_t i = 0; i < hlen; i++)
        got[i] = fold(hash[i]);
    for (size_t i = 0; i < ps_secrets_count(s); i++) {
        size_t keylen;
        const uint8_t *key = ps_secrets_get(s, i, &keylen);
        char b64[SRS_B64_MAX + 1];
        if (mac_b64(key, keylen, f, nf, b64, NULL) < 0)
            continue;
        for (size_t j = 0; j < hlen; j++)
            want[j] = fold(b64[j]);
        /* every secret is tried, so timing doesn't say which matched */
        ok |= ps_ct_equal(want, got, hlen);
    }
    return ok ? 0 : -1;
}

void ps_srs_stamp_create(time_t now, char out[2])
{
    unsigned day = (unsigned)((now < 0 ? 0 : now) / SRS_DAY) % SRS_SLOTS;
    out[0] = b32[day >> 5];
    out[1] = b32[day & 31];
}

static int b32_value(char c)
{
    const char *p = (c >= 'a' && c <= 'z') ? strchr(b32, c - 'a' + 'A')
                                           : (c ? strchr(b32, c) : NULL);
    return p ? (int)(p - b32) : -1;
}

/* Day stamps wrap every 1024 days: one "from the future" is taken as
 * 1024 days older, like Mail::SRS and postsrsd do. */
int ps_srs_stamp_check(const char *stamp, size_t n, time_t now,
                       unsigned max_age)
{
    if (n != 2)
        return -1;
    int hi = b32_value(stamp[0]), lo = b32_value(stamp[1]);
    if (hi < 0 || lo < 0)
        return -1;
    unsigned then = (unsigned)(hi << 5 | lo);
    unsigned today = (unsigned)((now < 0 ? 0 : now) / SRS_DAY) % SRS_SLOTS;
    if (today < then)
        today += SRS_SLOTS;
    return today - then <= max_age ? 0 : -1;
}
