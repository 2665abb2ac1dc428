/* Internals shared by srs.c and srs_hash.c: the hash over lowercased
 * fields and the day stamp, kept apart from address parsing. */
#ifndef PS_SRS_INT_H
#define PS_SRS_INT_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"

/* A field is a pointer and a length: parsed fields are not NUL-terminated. */
typedef struct ps_srs_field {
    const char *p;
    size_t n;
} ps_srs_field;

/* The PS_SRS_HASH_LEN-character hash of the fields under the first secret,
 * into out (NUL-terminated, at least PS_SRS_HASH_LEN + 1 bytes). */
int ps_srs_hash_create(const ps_secrets *s, const ps_srs_field *f, size_t nf,
                       char *out, ps_err *err);
/* 0 if hash (hlen characters) matches the fields under any secret. */
int ps_srs_hash_check(const ps_secrets *s, const ps_srs_field *f, size_t nf,
                      const char *hash, size_t hlen);

/* The two base32 characters of the day of now, into out[0..1]. */
void ps_srs_stamp_create(time_t now, char out[2]);
/* 0 if the stamp (2 characters, either case) is at most max_age days old. */
int ps_srs_stamp_check(const char *stamp, size_t n, time_t now,
                       unsigned max_age);

#endif
