/* Private-key PEM text to an EVP_PKEY: finds the private key block,
 * refuses encrypted and foreign formats by their labels before any decoder
 * runs, and decodes PKCS#8 or PKCS#1 DER with OpenSSL's decoders. */
#include "crypto/pem_int.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "base/secfile.h"

#define PEM_MAX_BLOCKS 8 /* blocks skipped looking for the private key */

/* One PEM block as PEM_read_bio returns it; der holds key material. */
typedef struct pem_block {
    char *label;
    char *header;
    unsigned char *der;
    long der_len;
} pem_block;

static void pem_block_clear(pem_block *b)
{
    OPENSSL_free(b->label);
    OPENSSL_free(b->header);
    if (b->der != NULL)
        OPENSSL_clear_free(b->der, (size_t)b->der_len);
    memset(b, 0, sizeof(*b));
}

/* PEM_read_bio reports a missing END line or bad base64 with its own
 * reason codes; NO_START_LINE means there was no PEM block at all. */
static int pem_read_error(const char *name, int seen_block, ps_err *err)
{
    int reason = ERR_GET_REASON(ERR_peek_last_error());

    ERR_clear_error();
    if (reason == PEM_R_NO_START_LINE)
        return ps_err_set(err,
                          seen_block ? "%s: no private key in the PEM file"
                                     : "%s: not a PEM private key",
                          name);
    if (reason == PEM_R_BAD_END_LINE || reason == PEM_R_SHORT_HEADER)
        return ps_err_set(err, "%s: truncated PEM (no END line)", name);
    return ps_err_set(err, "%s: garbled PEM (bad base64 or header)", name);
}

static int label_is_private(const char *label)
{
    size_t n = strlen(label), k = strlen("PRIVATE KEY");

    return n >= k && strcmp(label + n - k, "PRIVATE KEY") == 0;
}

/* Finds the first block whose label ends in "PRIVATE KEY", skipping
 * certificates or parameters that may precede it in the same file. */
static int pem_find_private(BIO *bio, const char *name, pem_block *b,
                            ps_err *err)
{
    for (int i = 0; i < PEM_MAX_BLOCKS; i++) {
        if (!PEM_read_bio(bio, &b->label, &b->header, &b->der, &b->der_len))
            return pem_read_error(name, i > 0, err);
        if (label_is_private(b->label))
            return 0;
        pem_block_clear(b);
    }
    return ps_err_set(err, "%s: no private key in the first %d PEM blocks",
                      name, PEM_MAX_BLOCKS);
}

/* Refuses what we will not decode, before any decoder could ask for a
 * passphrase: encrypted keys (PKCS#8 or a Proc-Type header) and formats of
 * other key types. */
static int pem_check_label(const pem_block *b, const char *name, ps_err *err)
{
    EVP_CIPHER_INFO cipher;

    if (strcmp(b->label, "ENCRYPTED PRIVATE KEY") == 0 ||
        strstr(b->header, "ENCRYPTED") != NULL)
        return ps_err_set(err,
                          "%s: the key is encrypted; store it "
                          "unencrypted with mode 0600 "
                          "(openssl pkey -in KEY -out NEWKEY)",
                          name);
    if (!PEM_get_EVP_CIPHER_INFO(b->header, &cipher) || cipher.cipher != NULL)
        return ps_err_set(err, "%s: garbled PEM header", name);
    if (strcmp(b->label, "OPENSSH PRIVATE KEY") == 0)
        return ps_err_set(err,
                          "%s: OpenSSH key format; convert it with "
                          "ssh-keygen -p -m PKCS8 -f KEY",
                          name);
    if (strcmp(b->label, "EC PRIVATE KEY") == 0)
        return ps_err_set(err,
                          "%s: unsupported key type EC; "
                          "use RSA or Ed25519",
                          name);
    if (strcmp(b->label, "DSA PRIVATE KEY") == 0)
        return ps_err_set(err,
                          "%s: unsupported key type DSA; "
                          "use RSA or Ed25519",
                          name);
    if (strcmp(b->label, "PRIVATE KEY") != 0 &&
        strcmp(b->label, "RSA PRIVATE KEY") != 0)
        return ps_err_set(err, "%s: not a PEM private key", name);
    return 0;
}

/* A decoder's passphrase callback that always fails: nothing here may
 * prompt on a terminal, so an encrypted key that slipped past the label
 * check still fails cleanly. */
static int no_passphrase(char *buf, size_t size, size_t *len,
                         const OSSL_PARAM params[], void *arg)
{
    (void)buf;
    (void)size;
    (void)params;
    (void)arg;
    *len = 0;
    return 0;
}

/* PKCS#8 PrivateKeyInfo for "PRIVATE KEY", PKCS#1 RSAPrivateKey for
 * "RSA PRIVATE KEY"; the whole DER must be consumed. */
static int der_decode(const pem_block *b, const char *name, EVP_PKEY **pkey,
                      ps_err *err)
{
    int pkcs1 = strcmp(b->label, "RSA PRIVATE KEY") == 0;
    const unsigned char *p = b->der;
    size_t left = (size_t)b->der_len;
    OSSL_DECODER_CTX *dctx;
    int ok;

    *pkey = NULL;
    dctx = OSSL_DECODER_CTX_new_for_pkey(
        pkey, "DER", pkcs1 ? "type-specific" : "PrivateKeyInfo",
        pkcs1 ? "RSA" : NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (dctx == NULL)
        return ps_err_openssl(err, "%s: cannot set up the key decoder", name);
    ok = OSSL_DECODER_CTX_set_passphrase_cb(dctx, no_passphrase, NULL) &&
         OSSL_DECODER_from_data(dctx, &p, &left) && *pkey != NULL;
    OSSL_DECODER_CTX_free(dctx);
    if (ok && left == 0)
        return 0;
    EVP_PKEY_free(*pkey);
    *pkey = NULL;
    ERR_clear_error();
    return ps_err_set(err,
                      "%s: garbled private key (the PEM data does not "
                      "decode as a %s key)",
                      name, pkcs1 ? "PKCS#1 RSA" : "PKCS#8");
}

int ps_key_pem_decode(const char *pem, size_t len, const char *name,
                      EVP_PKEY **out, ps_err *err)
{
    pem_block b = {0};
    BIO *bio;
    int rc = -1;

    *out = NULL;
    if (len > PS_SECFILE_MAX)
        return ps_err_set(err, "%s: too large for a private key", name);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return ps_err_openssl(err, "%s: out of memory", name);
    if (pem_find_private(bio, name, &b, err) == 0 &&
        pem_check_label(&b, name, err) == 0)
        rc = der_decode(&b, name, out, err);
    pem_block_clear(&b);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}
