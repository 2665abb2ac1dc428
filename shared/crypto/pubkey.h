/* Public keys for the webhook schemes signed with a private key (Postal,
 * SendGrid, SNS): loaded once from PEM public keys, X.509 certificates or
 * the bare base64 DER keys providers show, then used to check signatures. */
#ifndef PS_PUBKEY_H
#define PS_PUBKEY_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PS_PUBKEY_FILE_MAX     (64 * 1024)
#define PS_PUBKEY_RSA_MIN_BITS 1024 /* Postal's signing keys are 1024-bit */
#define PS_PUBKEY_RSA_MAX_BITS 8192

typedef struct ps_pubkey ps_pubkey;

/* Reads path: the first "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC
 * KEY" (PKCS#1) or "CERTIFICATE" PEM block, or else the whole file as
 * base64 of a DER SubjectPublicKeyInfo (whitespace ignored; SendGrid shows
 * its key so), or the p= tag of "v=DKIM1; k=rsa; p=..." (Postal does).
 * RSA keys of PS_PUBKEY_RSA_MIN_BITS..MAX_BITS and EC keys are accepted; a
 * certificate's dates are not checked (it is pinned, not trusted). */
int ps_pubkey_load(const char *path, ps_pubkey **out, ps_err *err);
/* The same from a buffer; name is used in messages. */
int ps_pubkey_parse(const char *text, size_t len, const char *name,
                    ps_pubkey **out, ps_err *err);

/* 0 if sig is a valid signature of the digest dgst (dlen bytes, made with
 * md: "SHA1" or "SHA256"): RSA PKCS#1 v1.5 or DER-encoded ECDSA. -1 for
 * anything else, without a reason: a wrong signature is an answer. */
int ps_pubkey_verify_digest(const ps_pubkey *key, const char *md,
                            const uint8_t *dgst, size_t dlen,
                            const uint8_t *sig, size_t siglen);

const char *ps_pubkey_kind(const ps_pubkey *key); /* "rsa" | "ec" */
int ps_pubkey_bits(const ps_pubkey *key);
EVP_PKEY *ps_pubkey_evp(const ps_pubkey *key); /* owned by key */
void ps_pubkey_free(ps_pubkey *key);

/* A DKIM key record (len bytes) whose p= holds a PKCS#1 RSAPublicKey, as
 * some publish, rewritten into out with p= as the SubjectPublicKeyInfo
 * RFC 6376 asks for (all other text kept): 1 when rewritten, 0 when the
 * record needs no change (or is not a key libopendkim could read anyway),
 * -1 when out (size bytes) is too small. */
int ps_pubkey_dkim_spki(const char *rec, size_t len, char *out, size_t size);

#endif
