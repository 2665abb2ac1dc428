/* ARC keys and signatures: the DKIM key record an ARC-Seal or
 * ARC-Message-Signature names, read into an OpenSSL key (RSA as
 * SubjectPublicKeyInfo or PKCS#1, Ed25519 raw), and the check itself. */
#include "arc/arc_int.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/encode.h"
#include "crypto/pubkey.h"

int ps_arc_alg_parse(const ps_tag *a, ps_arc_alg *alg)
{
    if (a == NULL)
        return -1;
    if (a->value_len == 10 && memcmp(a->value, "rsa-sha256", 10) == 0)
        *alg = PS_ARC_ALG_RSA;
    else if (a->value_len == 14 && memcmp(a->value, "ed25519-sha256", 14) == 0)
        *alg = PS_ARC_ALG_ED25519;
    else
        return -1;
    return 0;
}

int ps_arc_b64_tag(const ps_tag *t, uint8_t *out, size_t cap, size_t *len)
{
    char *clean = ps_tagval_strip_ws(t);
    int rc;

    if (clean == NULL)
        return -1;
    rc = clean[0] == '\0'
             ? -1
             : ps_b64_decode(clean, strlen(clean), out, cap, len, NULL);
    free(clean);
    return rc;
}

static int tag_is(const ps_tag *t, const char *word)
{
    return t->value_len == strlen(word) &&
           strncasecmp(t->value, word, t->value_len) == 0;
}

/* s= is a colon-separated list of service types: "email" or "*". */
static int service_ok(const ps_tag *s)
{
    const char *p = s->value, *end = s->value + s->value_len;

    while (p < end) {
        const char *q = memchr(p, ':', (size_t)(end - p));
        ps_tag one = {NULL, 0, p, (size_t)((q ? q : end) - p)};

        while (one.value_len > 0 &&
               (one.value[0] == ' ' || one.value[0] == '\t'))
            one.value++, one.value_len--;
        while (one.value_len > 0 && (one.value[one.value_len - 1] == ' ' ||
                                     one.value[one.value_len - 1] == '\t'))
            one.value_len--;
        if (tag_is(&one, "email") || tag_is(&one, "*"))
            return 1;
        p = q ? q + 1 : end;
    }
    return 0;
}

static EVP_PKEY *rsa_key(const uint8_t *der, size_t n, const char *rec,
                         size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)n);
    char fixed[8192];

    if (pk != NULL && p != der + n) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    /* Some publish PKCS#1: the record rewritten as SPKI is read again. */
    if (pk == NULL &&
        ps_pubkey_dkim_spki(rec, len, fixed, sizeof(fixed)) == 1) {
        ps_tagval tv;
        const ps_tag *t;
        uint8_t der2[4096];
        size_t n2;

        if (ps_tagval_parse(fixed, strlen(fixed), &tv, NULL) == 0 &&
            (t = ps_tagval_find(&tv, "p")) != NULL &&
            ps_arc_b64_tag(t, der2, sizeof(der2), &n2) == 0) {
            p = der2;
            pk = d2i_PUBKEY(NULL, &p, (long)n2);
        }
    }
    if (pk != NULL && (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
                       EVP_PKEY_get_bits(pk) < PS_ARC_RSA_MIN_BITS)) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    ERR_clear_error();
    return pk;
}

static int check_tags(const ps_tagval *tv, ps_arc_alg alg, ps_err *err)
{
    const ps_tag *v = ps_tagval_find(tv, "v"), *k = ps_tagval_find(tv, "k");
    const ps_tag *s = ps_tagval_find(tv, "s");

    if (v != NULL && !tag_is(v, "DKIM1"))
        return ps_err_set(err, "key record: v= is not DKIM1");
    if (alg == PS_ARC_ALG_RSA && k != NULL && !tag_is(k, "rsa"))
        return ps_err_set(err, "key record: k= is not rsa");
    if (alg == PS_ARC_ALG_ED25519 && (k == NULL || !tag_is(k, "ed25519")))
        return ps_err_set(err, "key record: k= is not ed25519");
    if (s != NULL && !service_ok(s))
        return ps_err_set(err, "key record: s= excludes email");
    return 0;
}

int ps_arc_key_parse(const char *rec, size_t len, ps_arc_alg alg,
                     EVP_PKEY **out, ps_err *err)
{
    ps_tagval tv;
    const ps_tag *p;
    uint8_t der[4096];
    size_t n = 0;

    *out = NULL;
    if (ps_tagval_parse(rec, len, &tv, err) < 0 ||
        check_tags(&tv, alg, err) < 0)
        return -1;
    p = ps_tagval_find(&tv, "p");
    if (p == NULL || p->value_len == 0)
        return ps_err_set(err, "key record: no key (p= %s)",
                          p == NULL ? "missing" : "empty: revoked");
    if (ps_arc_b64_tag(p, der, sizeof(der), &n) < 0)
        return ps_err_set(err, "key record: p= is not base64");
    if (alg == PS_ARC_ALG_ED25519)
        *out = n == 32
                   ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, n)
                   : NULL;
    else
        *out = rsa_key(der, n, rec, len);
    ERR_clear_error();
    if (*out == NULL)
        return ps_err_set(err, "key record: p= is not a usable %s key",
                          alg == PS_ARC_ALG_RSA ? "RSA (1024 bits or more)"
                                                : "Ed25519");
    return 0;
}

int ps_arc_sig_check(EVP_PKEY *pk, ps_arc_alg alg, const char *data, size_t n,
                     const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok;

    if (alg == PS_ARC_ALG_RSA)
        ok = ctx != NULL &&
             EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const uint8_t *)data, n) == 1;
    else
        ok = ctx != NULL &&
             EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
             EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, md, mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}
