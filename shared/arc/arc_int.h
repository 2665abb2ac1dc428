/* Internals of ARC verification shared by its files: key records
 * (key.c), the signed data of an AMS or AS (sig.c), and the body hashes
 * of every AMS (verify.c). */
#ifndef PS_ARC_INT_H
#define PS_ARC_INT_H

#include <openssl/evp.h>
#include <stdint.h>

#include "arc/arc.h"
#include "dkim/canon_int.h"

#define PS_ARC_HASH_LEN     32   /* SHA-256 */
#define PS_ARC_SIG_MAX      1024 /* 8192-bit RSA */
#define PS_ARC_RSA_MIN_BITS 1024 /* RFC 8301 */

typedef enum ps_arc_alg { PS_ARC_ALG_RSA, PS_ARC_ALG_ED25519 } ps_arc_alg;

/* a= of an AMS or AS: 0 and *alg set, -1 for anything else (sha1 too). */
int ps_arc_alg_parse(const ps_tag *a, ps_arc_alg *alg);

/* A DKIM key record (RFC 6376 3.6.1, RFC 8463) for a signature made with
 * alg: v= if present is DKIM1, k= matches alg, p= not empty (revoked),
 * s= allows email, RSA of PS_ARC_RSA_MIN_BITS or more. */
int ps_arc_key_parse(const char *rec, size_t len, ps_arc_alg alg,
                     EVP_PKEY **out, ps_err *err);

/* 1 if sig is alg's signature of data (rsa-sha256; ed25519-sha256 as pure
 * Ed25519 over SHA-256(data), RFC 8463), 0 if not. */
int ps_arc_sig_check(EVP_PKEY *pk, ps_arc_alg alg, const char *data, size_t n,
                     const uint8_t *sig, size_t siglen);

/* The canonical data an AMS signs: the fields h= names, chosen bottom-up
 * (RFC 6376 5.4.2), then the AMS itself with b= emptied and no CRLF. */
int ps_arc_ams_data(const ps_arc_header *hdrs, size_t n,
                    const ps_arc_field *ams, ps_canon canon, ps_dkim_buf *out,
                    ps_err *err);

/* The data AS(i) signs (RFC 8617 5.1.1): the sets 1..i in order, each as
 * AAR, AMS, AS, relaxed, with AS(i)'s b= emptied and no final CRLF. */
int ps_arc_as_data(const ps_arc_sets *sets, unsigned instance, ps_dkim_buf *out,
                   ps_err *err);

/* c= of an AMS: header and body canonicalisation ("relaxed" alone means
 * relaxed/simple; absent: simple/simple). -1 for an unknown word. */
int ps_arc_canon_parse(const ps_tag *c, ps_canon *hc, ps_canon *bc);

/* The base64 value of a tag with whitespace removed, decoded into out. */
int ps_arc_b64_tag(const ps_tag *t, uint8_t *out, size_t cap, size_t *len);

#endif
