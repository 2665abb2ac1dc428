/* Signed return paths (VERP-style bounce addresses): b.REF.DAY.MAC@domain,
 * where MAC is a truncated HMAC-SHA256 so that only bounces to addresses we
 * issued, and recently, are accepted. */
#ifndef PS_RETPATH_H
#define PS_RETPATH_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"

/*
 * Token format (local part, at most 38 octets, only [a-z0-9.] besides the
 * reference's case):
 *   b.REF.DAY.MAC
 *   REF  message reference, [A-Za-z0-9]{1,20} (a Postfix queue id or ours)
 *   DAY  days since 1970 in 4 base32 characters (a-z2-7, RFC 4648 order)
 *   MAC  first 10 base32 characters of HMAC-SHA256(secret,
 *        lower("b." REF "." DAY "@" DOMAIN)) — 50 bits
 * Everything compares case-insensitively: relays may change case.
 */
#define PS_RETPATH_REF_MAX   20
#define PS_RETPATH_MAC_CHARS 10
#define PS_RETPATH_DAY_CHARS 4
#define PS_RETPATH_LOCAL_MAX 64  /* RFC 5321 section 4.5.3.1.1 */
#define PS_RETPATH_ADDR_MAX  320 /* local + '@' + domain, NUL included */
#define PS_RETPATH_MAX_AGE   7   /* days */

typedef struct ps_retpath_cfg {
    const ps_secrets *secrets; /* first signs, all verify */
    const char *domain;        /* the bounce domain: rp.example.com */
    unsigned max_age;          /* days; 0 means PS_RETPATH_MAX_AGE */
} ps_retpath_cfg;

typedef struct ps_retpath_token {
    char ref[PS_RETPATH_REF_MAX + 1]; /* as it appeared in the address */
    time_t issued;                    /* start of the day it was issued */
} ps_retpath_token;

/* Writes the return path for message ref at time now into out. Returns 0
 * or -1 with err (bad ref, out too small). */
int ps_retpath_encode(const ps_retpath_cfg *cfg, const char *ref, time_t now,
                      char *out, size_t outsize, ps_err *err);

/* Checks addr (local@domain, domain must be cfg->domain): format, MAC under
 * any secret, and age (at most max_age days old, at most one day ahead for
 * clock skew). Returns 0 and fills tok, or -1 with err saying why, in words
 * fit for an SMTP 550 reply. */
int ps_retpath_decode(const ps_retpath_cfg *cfg, const char *addr, time_t now,
                      ps_retpath_token *tok, ps_err *err);

#endif
