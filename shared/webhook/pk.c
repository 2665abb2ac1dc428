/* The public-key side of the webhook schemes (Postal, SendGrid, SNS): the
 * signed content is hashed once as it streams, then the one signature is
 * checked against each configured key; signing is here too, for the CLI. */
#include "webhook/webhook_int.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/encode.h"

int ps_wh_digest_start(ps_wh_digest *d, const char *md, ps_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD *evp_md = EVP_MD_fetch(NULL, md, NULL);
    int ok = ctx != NULL && evp_md != NULL &&
             EVP_DigestInit_ex(ctx, evp_md, NULL) == 1;

    EVP_MD_free(evp_md);
    d->md = md;
    d->ctx = ctx;
    if (!ok)
        return ps_err_openssl(err, "%s: cannot start digest", md);
    return 0;
}

int ps_wh_digest_update(ps_wh_digest *d, const void *p, size_t n, ps_err *err)
{
    if (n > 0 && EVP_DigestUpdate(d->ctx, p, n) != 1)
        return ps_err_openssl(err, "%s: digest failed", d->md);
    return 0;
}

int ps_wh_digest_final(ps_wh_digest *d, uint8_t *out, size_t *len, ps_err *err)
{
    unsigned int n = 0;

    if (EVP_DigestFinal_ex(d->ctx, out, &n) != 1)
        return ps_err_openssl(err, "%s: digest failed", d->md);
    *len = n;
    return 0;
}

void ps_wh_digest_free(ps_wh_digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

ps_wh_verdict ps_wh_pk_verdict(ps_wh_req *req, const char *md,
                               const uint8_t *digest, size_t dlen,
                               const uint8_t *sig, size_t siglen,
                               int64_t expires, ps_wh_result *res)
{
    const ps_wh_config *cfg = req->cfg;
    size_t i;
    int ok = 0;

    for (i = 0; i < cfg->nkeys && !ok; i++)
        ok = ps_pubkey_verify_digest(cfg->keys[i], md, digest, dlen, sig,
                                     siglen) == 0;
    if (!ok)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "%s signature does not verify "
                          "with the configured key%s",
                          md, cfg->nkeys > 1 ? "s" : "");
    ps_wh_set_replay(req, res, digest, dlen, expires);
    res->key = (unsigned)i; /* the loop stepped past the key that verified */
    res->verdict = PS_WH_OK;
    snprintf(res->reason, sizeof(res->reason), "%s signature verified", md);
    return PS_WH_OK;
}

#define ED25519_PUB 32

int ps_wh_ed25519_pub(const char *b64, size_t n, EVP_PKEY **out, ps_err *err)
{
    uint8_t raw[ED25519_PUB + 3];
    size_t len = 0;

    *out = NULL;
    if (ps_b64_decode(b64, n, raw, sizeof(raw), &len, NULL) < 0 ||
        len != ED25519_PUB)
        return ps_err_set(err, "not an Ed25519 public key (whpk_ followed "
                               "by the base64 of 32 bytes)");
    *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
    if (*out == NULL)
        return ps_err_openssl(err, "Ed25519 public key refused");
    return 0;
}

int ps_wh_ed25519_verify(EVP_PKEY *pub, const uint8_t *msg, size_t n,
                         const uint8_t *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx != NULL &&
        EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, pub, NULL) == 1 &&
        EVP_DigestVerify(ctx, sig, PS_WH_ED25519_SIG, msg, n) == 1;

    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); /* a wrong signature is an answer, not an error */
    return ok ? 0 : -1;
}

int ps_wh_pk_sign_b64(const void *priv, const char *md, const void *a,
                      size_t alen, const void *b, size_t blen, char *out,
                      size_t outsize, ps_err *err)
{
    EVP_PKEY *pk = (EVP_PKEY *)priv;
    EVP_MD_CTX *ctx;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    int rc = -1;

    if (pk == NULL)
        return ps_err_set(err, "a private key is needed to sign");
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL ||
        EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pk, NULL) != 1 ||
        EVP_DigestSignUpdate(ctx, a, alen) != 1 ||
        EVP_DigestSignUpdate(ctx, b, blen) != 1 ||
        EVP_DigestSignFinal(ctx, NULL, &siglen) != 1 ||
        (sig = malloc(siglen)) == NULL ||
        EVP_DigestSignFinal(ctx, sig, &siglen) != 1) {
        ps_err_openssl(err, "%s signature failed", md);
    } else if (ps_b64_encoded_size(siglen) > outsize) {
        ps_err_set(err, "signature does not fit");
    } else {
        ps_b64_encode(sig, siglen, out);
        rc = 0;
    }
    free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

ps_wh_verdict ps_wh_pk_start(ps_wh_req *req, const char *md, const char *hname,
                             const char *sig, size_t n, ps_wh_result *res)
{
    ps_wh_pk_state *st = req->state;
    ps_err err;

    if (ps_b64_decode(sig, n, st->sig, sizeof(st->sig), &st->siglen, NULL) <
            0 ||
        st->siglen == 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "%s is not base64 (of at "
                          "most %d bytes)",
                          hname, PS_WH_MAX_SIG);
    if (ps_wh_digest_start(&st->d, md, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return PS_WH_MORE;
}

ps_wh_verdict ps_wh_pk_update(ps_wh_req *req, const uint8_t *p, size_t n,
                              ps_wh_result *res)
{
    ps_wh_pk_state *st = req->state;
    ps_err err;

    if (ps_wh_digest_update(&st->d, p, n, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return PS_WH_MORE;
}

ps_wh_verdict ps_wh_pk_final(ps_wh_req *req, ps_wh_result *res)
{
    ps_wh_pk_state *st = req->state;
    uint8_t dgst[EVP_MAX_MD_SIZE];
    size_t dlen;
    ps_err err;

    if (ps_wh_digest_final(&st->d, dgst, &dlen, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return ps_wh_pk_verdict(req, st->d.md, dgst, dlen, st->sig, st->siglen,
                            ps_wh_expiry(req, st->ts), res);
}

void ps_wh_pk_cleanup(ps_wh_req *req)
{
    ps_wh_pk_state *st = req->state;

    if (st != NULL)
        ps_wh_digest_free(&st->d);
}
