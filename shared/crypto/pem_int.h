/* Internal to the keys module: PEM private-key text to an EVP_PKEY, with
 * a one-line reason for every refusal. keys.c checks type and size next. */
#ifndef PS_KEYS_PEM_H
#define PS_KEYS_PEM_H

#include <stddef.h>
#include <openssl/evp.h>

#include "base/err.h"

/* Decodes the first private-key block of pem (len bytes, no NUL needed):
 * PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY". Refuses text without
 * one, truncated or garbled PEM, encrypted keys (never prompting), and
 * other formats; name starts every message. Any key type is returned. */
int ps_key_pem_decode(const char *pem, size_t len, const char *name,
                      EVP_PKEY **out, ps_err *err);

#endif
