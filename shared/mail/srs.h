/* Sender Rewriting Scheme (SRS0/SRS1, "Guarded" scheme) for forwarded mail,
 * byte-compatible with postsrsd and Mail::SRS: HMAC-SHA1 hash of the
 * lowercased fields in base64 (4 chars), base32 day stamp (2 chars). */
#ifndef PS_SRS_H
#define PS_SRS_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"

/* A buffer for an address of up to 512 octets (postsrsd's limit) and its
 * NUL: the longest address we read or write is PS_SRS_ADDR_MAX - 1. */
#define PS_SRS_ADDR_MAX 513
/* A buffer for what forward writes: the address, "SRS0=HHHH=TT=" and our
 * domain (postsrsd too rewrites a 512-octet address into a longer one). */
#define PS_SRS_OUT_MAX  (PS_SRS_ADDR_MAX + 16 + 256)
#define PS_SRS_HASH_LEN 4  /* base64 characters we write (and require) */
#define PS_SRS_MAX_AGE  21 /* days a day stamp stays valid (postsrsd) */

typedef struct ps_srs_cfg {
    const ps_secrets *secrets; /* first signs, all verify */
    const char *domain;        /* our SRS domain: fwd.example.com */
    unsigned max_age;          /* days; 0 means PS_SRS_MAX_AGE */
} ps_srs_cfg;

enum { PS_SRS_REWRITTEN = 0, PS_SRS_UNCHANGED = 1 };

/* Rewrites sender (local@domain) into an SRS0 address on cfg->domain, or
 * SRS1 when sender already is SRS0/SRS1 (the hash then covers the
 * forwarder's domain and the rest, without a day stamp). A sender already
 * in cfg->domain is copied unchanged: PS_SRS_UNCHANGED. Returns
 * PS_SRS_REWRITTEN, PS_SRS_UNCHANGED, or -1 with err (malformed address,
 * out too small). */
int ps_srs_forward(const ps_srs_cfg *cfg, const char *sender, time_t now,
                   char *out, size_t outsize, ps_err *err);

/* Undoes one rewrite: SRS0 gives the original address, SRS1 the SRS0
 * address of the first forwarder. The hash is checked against every
 * secret, case-insensitively and in either base64 alphabet; SRS0 day
 * stamps older than max_age days are refused. The address's domain must be
 * cfg->domain (case-insensitive) when cfg->domain is set. Returns 0, or -1
 * with err saying why (not SRS, bad hash, expired, malformed). */
int ps_srs_reverse(const ps_srs_cfg *cfg, const char *addr, time_t now,
                   char *out, size_t outsize, ps_err *err);

#endif
