/* HMAC-SHA1/SHA256 for return paths, SRS and webhooks, through OpenSSL 3's
 * EVP_MAC, with verdicts compared in constant time. */
#include "hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

#define PS_HMAC_MIN_TRUNC 10 /* shortest MAC accepted: 80 bits, RFC 2104 */

struct ps_hmac {
    EVP_MAC_CTX *ctx;
    size_t size;
    int finished; /* EVP_MAC refuses updates after final; say so clearly */
};

size_t ps_hmac_size(ps_hmac_alg alg)
{
    return alg == PS_HMAC_SHA1 ? 20 : 32;
}

static const char *digest_name(ps_hmac_alg alg)
{
    return alg == PS_HMAC_SHA1 ? "SHA1" : "SHA256";
}

static EVP_MAC_CTX *mac_ctx_new(ps_hmac_alg alg, const uint8_t *key,
                                size_t keylen, ps_err *err)
{
    /* EVP_MAC_init treats a NULL key as "keep the previous one", and there
     * is none yet: an empty key must still be a real pointer. */
    static const uint8_t empty_key[1] = {0};
    OSSL_PARAM params[2];
    EVP_MAC_CTX *ctx;
    EVP_MAC *mac;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        ps_err_openssl(err, "HMAC: not available");
        return NULL;
    }
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == NULL) {
        ps_err_openssl(err, "HMAC: cannot allocate context");
        return NULL;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)digest_name(alg), 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, keylen > 0 ? key : empty_key, keylen, params)) {
        ps_err_openssl(err, "HMAC-%s: cannot set key", digest_name(alg));
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

ps_hmac *ps_hmac_new(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                     ps_err *err)
{
    ps_hmac *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        ps_err_set(err, "HMAC: out of memory");
        return NULL;
    }
    h->ctx = mac_ctx_new(alg, key, keylen, err);
    if (h->ctx == NULL) {
        free(h);
        return NULL;
    }
    h->size = ps_hmac_size(alg);
    return h;
}

struct ps_hmac_key {
    EVP_MAC_CTX *ctx; /* keyed and initialised; only ever copied */
    ps_hmac_alg alg;
};

ps_hmac_key *ps_hmac_key_new(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                             ps_err *err)
{
    ps_hmac_key *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        ps_err_set(err, "HMAC: out of memory");
        return NULL;
    }
    k->ctx = mac_ctx_new(alg, key, keylen, err);
    if (k->ctx == NULL) {
        free(k);
        return NULL;
    }
    k->alg = alg;
    return k;
}

ps_hmac_alg ps_hmac_key_alg(const ps_hmac_key *k)
{
    return k->alg;
}

/* EVP_MAC_CTX_dup copies the inner and outer digest states the key
 * schedule left, so nothing is fetched and the key is not hashed again;
 * it only reads the template, which is why a key can be shared. */
ps_hmac *ps_hmac_start(const ps_hmac_key *k, ps_err *err)
{
    ps_hmac *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        ps_err_set(err, "HMAC: out of memory");
        return NULL;
    }
    h->ctx = EVP_MAC_CTX_dup(k->ctx);
    if (h->ctx == NULL) {
        ps_err_openssl(err, "HMAC: cannot copy the prepared key");
        free(h);
        return NULL;
    }
    h->size = ps_hmac_size(k->alg);
    return h;
}

/* The template holds the key; EVP_MAC_CTX_free cleanses it. */
void ps_hmac_key_free(ps_hmac_key *k)
{
    if (k == NULL)
        return;
    EVP_MAC_CTX_free(k->ctx);
    free(k);
}

int ps_hmac_update(ps_hmac *h, const void *data, size_t n, ps_err *err)
{
    if (h->finished)
        return ps_err_set(err, "HMAC: update after final");
    if (n == 0)
        return 0;
    if (!EVP_MAC_update(h->ctx, data, n))
        return ps_err_openssl(err, "HMAC: update failed");
    return 0;
}

int ps_hmac_final(ps_hmac *h, uint8_t out[PS_HMAC_MAX], ps_err *err)
{
    size_t outl = 0;

    if (h->finished)
        return ps_err_set(err, "HMAC: final called twice");
    h->finished = 1;
    if (!EVP_MAC_final(h->ctx, out, &outl, PS_HMAC_MAX))
        return ps_err_openssl(err, "HMAC: final failed");
    if (outl != h->size)
        return ps_err_set(err, "HMAC: unexpected output size %zu", outl);
    return 0;
}

/* EVP_MAC_CTX_free cleanses the key material it holds. */
void ps_hmac_free(ps_hmac *h)
{
    if (h == NULL)
        return;
    EVP_MAC_CTX_free(h->ctx);
    free(h);
}

/* update, final and free of a fresh h (NULL: its creation failed). */
static int hmac_once(ps_hmac *h, const void *data, size_t n,
                     uint8_t out[PS_HMAC_MAX], ps_err *err)
{
    int rc;

    if (h == NULL)
        return -1;
    rc = ps_hmac_update(h, data, n, err);
    if (rc == 0)
        rc = ps_hmac_final(h, out, err);
    ps_hmac_free(h);
    return rc;
}

int ps_hmac_compute(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                    const void *data, size_t n, uint8_t out[PS_HMAC_MAX],
                    ps_err *err)
{
    return hmac_once(ps_hmac_new(alg, key, keylen, err), data, n, out, err);
}

int ps_hmac_key_compute(const ps_hmac_key *k, const void *data, size_t n,
                        uint8_t out[PS_HMAC_MAX], ps_err *err)
{
    return hmac_once(ps_hmac_start(k, err), data, n, out, err);
}

int ps_ct_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return 1;
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* The length check leaks only the length, which the sender chose; the
 * bytes are compared in constant time. */
int ps_hmac_verify(ps_hmac_alg alg, const uint8_t *key, size_t keylen,
                   const void *data, size_t n, const uint8_t *mac,
                   size_t maclen)
{
    uint8_t expected[PS_HMAC_MAX];
    int ok;

    if (mac == NULL || maclen < PS_HMAC_MIN_TRUNC || maclen > ps_hmac_size(alg))
        return -1;
    if (ps_hmac_compute(alg, key, keylen, data, n, expected, NULL) < 0)
        return -1;
    ok = ps_ct_equal(expected, mac, maclen);
    OPENSSL_cleanse(expected, sizeof(expected));
    return ok ? 0 : -1;
}
