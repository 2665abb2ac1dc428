/* The signing step of DKIM: rsa-sha256 (RFC 6376 3.3.1, PKCS#1 v1.5) and
 * ed25519-sha256 (RFC 8463 3: pure Ed25519 over the SHA-256 of the
 * header data, not Ed25519ph), with the key parsed once by keys.c. */
#include "dkim/dkim_int.h"

#include <openssl/err.h>

static int sign_rsa(EVP_PKEY *pkey, const char *hdr, size_t hlen,
                    const char *sig, size_t slen, uint8_t *out, size_t *outlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL &&
             EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestSignUpdate(ctx, hdr, hlen) == 1 &&
             EVP_DigestSignUpdate(ctx, sig, slen) == 1 &&
             EVP_DigestSignFinal(ctx, out, outlen) == 1;

    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static int sign_ed25519(EVP_PKEY *pkey, const char *hdr, size_t hlen,
                        const char *sig, size_t slen, uint8_t *out,
                        size_t *outlen)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, hdr, hlen) == 1 &&
             EVP_DigestUpdate(ctx, sig, slen) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
             EVP_MD_CTX_reset(ctx) == 1 &&
             EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestSign(ctx, out, outlen, md, mdlen) == 1;

    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int ps_dkim_crypto_sign(const ps_key *key, const char *hdr, size_t hlen,
                        const char *sig, size_t slen, uint8_t *out,
                        size_t *outlen, ps_err *err)
{
    EVP_PKEY *pkey = ps_key_evp(key);
    int rc;

    *outlen = PS_DKIM_SIG_MAX;
    if (ps_key_type_of(key) == PS_KEY_RSA)
        rc = sign_rsa(pkey, hdr, hlen, sig, slen, out, outlen);
    else
        rc = sign_ed25519(pkey, hdr, hlen, sig, slen, out, outlen);
    if (rc < 0)
        return ps_err_openssl(err, "DKIM signing with %s failed",
                              ps_key_algorithm(key));
    ERR_clear_error();
    return 0;
}
