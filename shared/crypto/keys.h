/* DKIM private keys: loaded once into an EVP_PKEY (RSA >= 1024 bits or
 * Ed25519), generated, written with mode 0600, and turned into the public
 * key record to publish (v=DKIM1; k=...; p=...). */
#ifndef PS_KEYS_H
#define PS_KEYS_H

#include <stddef.h>
#include <openssl/evp.h>

#include "base/err.h"

#define PS_KEY_RSA_MIN_BITS 1024
#define PS_KEY_RSA_MAX_BITS                                                    \
    8192 /* larger keys are refused: no DKIM use, slow to check */

typedef enum ps_key_type { PS_KEY_RSA, PS_KEY_ED25519 } ps_key_type;

typedef struct ps_key ps_key;

/* Loads a PEM private key (PKCS#8, or PKCS#1 "RSA PRIVATE KEY") from path.
 * Refuses files readable by group or others, truncated or garbled PEM,
 * encrypted keys, RSA under PS_KEY_RSA_MIN_BITS (or over
 * PS_KEY_RSA_MAX_BITS), keys whose signatures do not verify with their own
 * public half and any other key type, each with one line naming the file. */
int ps_key_load(const char *path, ps_key **out, ps_err *err);
/* The same from a buffer; name is used in messages. */
int ps_key_parse_pem(const char *pem, size_t len, const char *name,
                     ps_key **out, ps_err *err);

/* bits is used for RSA only (2048, 3072 or 4096; others are refused). */
int ps_key_generate(ps_key_type type, int bits, ps_key **out, ps_err *err);

/* Writes the private key as PKCS#8 PEM to path, created with O_EXCL and
 * mode 0600: an existing file is never overwritten. */
int ps_key_write_pem(const ps_key *key, const char *path, ps_err *err);

ps_key_type ps_key_type_of(const ps_key *key);
int ps_key_bits(const ps_key *key); /* RSA modulus bits, 256 for Ed25519 */
const char *
ps_key_algorithm(const ps_key *key); /* "rsa-sha256" | "ed25519-sha256" */
const char *ps_key_dkim_k(const ps_key *key); /* "rsa" | "ed25519" */
EVP_PKEY *ps_key_evp(const ps_key *key);      /* owned by key */

/* The p= value: base64 of the DER SubjectPublicKeyInfo for RSA (RFC 6376),
 * of the raw 32-byte public key for Ed25519 (RFC 8463). Malloc'd. */
int ps_key_public_b64(const ps_key *key, char **out, ps_err *err);

/* "v=DKIM1; k=rsa; p=..." (malloc'd). */
int ps_key_dkim_record(const ps_key *key, char **out, ps_err *err);

void ps_key_free(ps_key *key);

#endif
