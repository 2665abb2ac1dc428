/* HMAC-SHA1/SHA256 on OpenSSL 3's EVP digests and constant-time verdicts
 * (secret sets, the keys they are used with, are in crypto/secrets.h). */
#ifndef PS_HMAC_H
#define PS_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PS_HMAC_MAX 32 /* bytes in the largest MAC (SHA-256) */

typedef enum ps_hmac_alg { PS_HMAC_SHA1, PS_HMAC_SHA256 } ps_hmac_alg;

/* Output size in bytes of alg (20 or 32). */
size_t ps_hmac_size(ps_hmac_alg alg);

/* Streaming HMAC, for bodies that arrive in pieces. */
typedef struct ps_hmac ps_hmac;
ps_hmac *ps_hmac_new(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                     ps_err *err);
int ps_hmac_update(ps_hmac *h, const void *data, size_t n, ps_err *err);
/* Writes ps_hmac_size() bytes to out; the context can't be updated after. */
int ps_hmac_final(ps_hmac *h, uint8_t out[PS_HMAC_MAX], ps_err *err);
void ps_hmac_free(ps_hmac *h);

/* A prepared key: the digest fetched and the key schedule (the inner and
 * outer padded-key states) done once, so each MAC under it starts with a
 * copy of one digest state instead (fetching through OpenSSL 3's provider
 * store costs more than hashing a few kilobytes). For secrets used on every
 * request (webhooks); owned by the caller (a webhook configuration), never
 * global. Not changed after ps_hmac_key_new, so one key may be shared by
 * concurrent users. */
typedef struct ps_hmac_key ps_hmac_key;
ps_hmac_key *ps_hmac_key_new(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                             ps_err *err);
ps_hmac_alg ps_hmac_key_alg(const ps_hmac_key *k);
/* A streaming HMAC under k, as ps_hmac_new would make it. */
ps_hmac *ps_hmac_start(const ps_hmac_key *k, ps_err *err);
/* One-shot HMAC of data under k. */
int ps_hmac_key_compute(const ps_hmac_key *k, const void *data, size_t n,
                        uint8_t out[PS_HMAC_MAX], ps_err *err);
/* Wipes the key material, then frees. NULL is fine. */
void ps_hmac_key_free(ps_hmac_key *k);

/* One-shot HMAC of data. */
int ps_hmac_compute(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                    const void *data, size_t n, uint8_t out[PS_HMAC_MAX],
                    ps_err *err);

/* 1 if the n bytes at a and b are equal, 0 if not; time depends on n only. */
int ps_ct_equal(const void *a, const void *b, size_t n);

/* Verdict on a received MAC: 0 if mac (maclen bytes, possibly a truncated
 * prefix of at least 10 bytes, RFC 2104 section 5) matches the HMAC of data
 * under key, -1 otherwise. Never hands the expected MAC to the caller. */
int ps_hmac_verify(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                   const void *data, size_t n, const uint8_t *mac,
                   size_t maclen);

#endif
