/* Public keys and pinned certificates for Postal, SendGrid and SNS: PEM or
 * bare base64 DER into an EVP_PKEY, size and type checked once, and
 * signature checks over a digest computed by the caller. */
#include "crypto/pubkey.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "base/textfile.h"

#define PEM_MAX_BLOCKS 8 /* blocks looked at before giving up */

struct ps_pubkey {
    EVP_PKEY *pkey;
};

static int check_key(EVP_PKEY *pk, const char *name, ps_err *err)
{
    int bits = EVP_PKEY_get_bits(pk);

    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
        if (bits < PS_PUBKEY_RSA_MIN_BITS || bits > PS_PUBKEY_RSA_MAX_BITS)
            return ps_err_set(err,
                              "%s: RSA key of %d bits (%d to %d "
                              "accepted)",
                              name, bits, PS_PUBKEY_RSA_MIN_BITS,
                              PS_PUBKEY_RSA_MAX_BITS);
        return 0;
    case EVP_PKEY_EC:
        return 0;
    default:
        return ps_err_set(err,
                          "%s: unsupported key type (RSA or EC "
                          "expected)",
                          name);
    }
}

/* DER of one PEM block to a key; the whole DER must be used. */
static EVP_PKEY *from_der(const char *label, const unsigned char *der, long len)
{
    const unsigned char *p = der;
    EVP_PKEY *pk = NULL;
    X509 *x;

    if (strcmp(label, "PUBLIC KEY") == 0) {
        pk = d2i_PUBKEY(NULL, &p, len);
    } else if (strcmp(label, "RSA PUBLIC KEY") == 0) {
        pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
    } else if (strcmp(label, "CERTIFICATE") == 0) {
        x = d2i_X509(NULL, &p, len);
        if (x != NULL)
            pk = X509_get_pubkey(x);
        X509_free(x);
    }
    if (pk != NULL && p != der + len) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    return pk;
}

static int is_key_label(const char *label)
{
    return strcmp(label, "PUBLIC KEY") == 0 ||
           strcmp(label, "RSA PUBLIC KEY") == 0 ||
           strcmp(label, "CERTIFICATE") == 0;
}

/* The first usable PEM block; *seen says whether any PEM block was there. */
static EVP_PKEY *from_pem(const char *text, size_t len, const char *name,
                          int *seen, ps_err *err)
{
    char *label = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    EVP_PKEY *pk = NULL;
    BIO *bio;

    *seen = 0;
    bio = BIO_new_mem_buf(text, (int)len);
    if (bio == NULL) {
        ps_err_openssl(err, "%s: out of memory", name);
        return NULL;
    }
    for (int i = 0; i < PEM_MAX_BLOCKS && pk == NULL; i++) {
        if (!PEM_read_bio(bio, &label, &header, &der, &der_len))
            break;
        *seen = 1;
        if (is_key_label(label)) {
            pk = from_der(label, der, der_len);
            if (pk == NULL)
                ps_err_openssl(err, "%s: garbled %s block", name, label);
        }
        OPENSSL_free(label);
        OPENSSL_free(header);
        OPENSSL_free(der);
        label = header = NULL;
        der = NULL;
        if (pk == NULL && err != NULL && err->msg[0] != '\0')
            break;
    }
    ERR_clear_error();
    BIO_free(bio);
    return pk;
}

/* The value of the p= tag of a DKIM-style record ("v=DKIM1; k=rsa; p=..."),
 * the form Postal shows its signing key in; the whole text otherwise. */
static void dkim_p_tag(const char **text, size_t *len)
{
    const char *p = *text, *end = *text + *len;

    for (const char *q = p; q + 2 <= end; q++) {
        if (q[0] != 'p' || q[1] != '=')
            continue;
        for (const char *b = q; b > p && b[-1] != ';';)
            if (*--b != ' ' && *b != '\t')
                goto next;
        *text = q + 2;
        for (q += 2; q < end && *q != ';'; q++)
            ;
        *len = (size_t)(q - *text);
        return;
    next:;
    }
}

/* A file holding only base64 of a DER SubjectPublicKeyInfo, perhaps as
 * the p= tag of a DKIM-style record. */
static EVP_PKEY *from_bare_b64(const char *text, size_t len, const char *name,
                               ps_err *err)
{
    char *clean = malloc(len + 1);
    uint8_t *der = NULL;
    const unsigned char *p;
    size_t n = 0, dlen = 0;
    EVP_PKEY *pk = NULL;

    if (clean == NULL) {
        ps_err_set(err, "%s: out of memory", name);
        return NULL;
    }
    dkim_p_tag(&text, &len);
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
            text[i] != '\n')
            clean[n++] = text[i];
    der = malloc(ps_b64_decoded_max(n) + 1);
    if (der == NULL) {
        ps_err_set(err, "%s: out of memory", name);
    } else if (n == 0 || ps_b64_decode(clean, n, der, ps_b64_decoded_max(n),
                                       &dlen, NULL) < 0) {
        ps_err_set(err,
                   "%s: no PEM public key, certificate or base64 DER "
                   "key found",
                   name);
    } else {
        p = der;
        pk = d2i_PUBKEY(NULL, &p, (long)dlen);
        if (pk != NULL && p != der + dlen) {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
        if (pk == NULL)
            ps_err_openssl(err, "%s: base64 text is not a DER public key",
                           name);
    }
    free(der);
    free(clean);
    return pk;
}

int ps_pubkey_parse(const char *text, size_t len, const char *name,
                    ps_pubkey **out, ps_err *err)
{
    EVP_PKEY *pk;
    int seen;

    *out = NULL;
    if (err != NULL)
        err->msg[0] = '\0';
    if (len > PS_PUBKEY_FILE_MAX)
        return ps_err_set(err, "%s: larger than %d bytes", name,
                          PS_PUBKEY_FILE_MAX);
    pk = from_pem(text, len, name, &seen, err);
    if (pk == NULL && seen) {
        if (err != NULL && err->msg[0] == '\0')
            ps_err_set(err,
                       "%s: no PUBLIC KEY, RSA PUBLIC KEY or "
                       "CERTIFICATE block",
                       name);
        return -1;
    }
    if (pk == NULL)
        pk = from_bare_b64(text, len, name, err);
    if (pk == NULL)
        return -1;
    if (check_key(pk, name, err) < 0) {
        EVP_PKEY_free(pk);
        return -1;
    }
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        EVP_PKEY_free(pk);
        return ps_err_set(err, "%s: out of memory", name);
    }
    (*out)->pkey = pk;
    return 0;
}

int ps_pubkey_load(const char *path, ps_pubkey **out, ps_err *err)
{
    char *buf;
    size_t len;
    int rc;

    *out = NULL;
    if (ps_textfile_read(path, PS_PUBKEY_FILE_MAX, &buf, &len, err) < 0)
        return -1;
    rc = ps_pubkey_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

int ps_pubkey_verify_digest(const ps_pubkey *key, const char *md,
                            const uint8_t *dgst, size_t dlen,
                            const uint8_t *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx;
    EVP_MD *evp_md;
    int ok = 0;

    evp_md = EVP_MD_fetch(NULL, md, NULL);
    ctx = EVP_PKEY_CTX_new(key->pkey, NULL);
    if (evp_md != NULL && ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_signature_md(ctx, evp_md) == 1)
        ok = EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    EVP_MD_free(evp_md);
    ERR_clear_error();
    return ok ? 0 : -1;
}

const char *ps_pubkey_kind(const ps_pubkey *key)
{
    return EVP_PKEY_get_base_id(key->pkey) == EVP_PKEY_RSA ? "rsa" : "ec";
}

int ps_pubkey_bits(const ps_pubkey *key)
{
    return EVP_PKEY_get_bits(key->pkey);
}

EVP_PKEY *ps_pubkey_evp(const ps_pubkey *key)
{
    return key->pkey;
}

void ps_pubkey_free(ps_pubkey *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

/* The DER of an RSAPublicKey (PKCS#1) as a SubjectPublicKeyInfo, base64
 * into a malloc'd string; NULL when der is not exactly such a key. */
static char *pkcs1_to_spki_b64(const uint8_t *der, size_t dlen)
{
    const unsigned char *p = der;
    EVP_PKEY *pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)dlen);
    unsigned char *spki = NULL;
    char *b64 = NULL;
    int n;

    if (pk != NULL && p == der + dlen && (n = i2d_PUBKEY(pk, &spki)) > 0 &&
        (b64 = malloc(ps_b64_encoded_size((size_t)n) + 1)) != NULL)
        b64[ps_b64_encode(spki, (size_t)n, b64)] = '\0';
    OPENSSL_free(spki);
    EVP_PKEY_free(pk);
    return b64;
}

int ps_pubkey_dkim_spki(const char *rec, size_t len, char *out, size_t size)
{
    const char *p = rec;
    size_t plen = len, n = 0, dlen = 0;
    char *clean = malloc(len + 1), *spki = NULL;
    uint8_t *der = malloc(ps_b64_decoded_max(len) + 1);
    const unsigned char *q;
    EVP_PKEY *pk = NULL;
    int rc = 0;

    dkim_p_tag(&p, &plen);
    if (clean == NULL || der == NULL || p == rec || memchr(rec, '\0', len))
        goto done; /* libopendkim says what is wrong with such a record */
    for (size_t i = 0; i < plen; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            clean[n++] = p[i];
    if (n == 0 ||
        ps_b64_decode(clean, n, der, ps_b64_decoded_max(n), &dlen, NULL) < 0)
        goto done;
    q = der;
    if ((pk = d2i_PUBKEY(NULL, &q, (long)dlen)) != NULL ||
        (spki = pkcs1_to_spki_b64(der, dlen)) == NULL)
        goto done;
    n = (size_t)(p - rec); /* text before the key, then the key, then after */
    plen += n;
    if (n + strlen(spki) + (len - plen) + 1 > size) {
        rc = -1;
        goto done;
    }
    memcpy(out, rec, n);
    memcpy(out + n, spki, strlen(spki));
    n += strlen(spki);
    memcpy(out + n, rec + plen, len - plen);
    out[n + len - plen] = '\0';
    rc = 1;
done:
    EVP_PKEY_free(pk);
    free(spki);
    free(der);
    free(clean);
    ERR_clear_error();
    return rc;
}
