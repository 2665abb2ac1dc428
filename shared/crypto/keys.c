/* DKIM private keys: parsed once from PEM into an EVP_PKEY, generated,
 * written 0600, and published as a p= value. Only RSA (>= 1024 bits) and
 * Ed25519 are DKIM algorithms; everything else is refused by name. */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/encode.h"
#include "base/fdio.h"
#include "crypto/pem_int.h"
#include "base/secfile.h"

#define ED25519_PUB_LEN 32

struct ps_key {
    EVP_PKEY *pkey;
    ps_key_type type;
    int bits;
};

/* ---- checking what was decoded ------------------------------------------ */

/* Every RSA number bounded by the modulus size, so that no crafted file
 * (a 300000-bit "prime", a huge e) makes the self-test below crawl. */
static int check_rsa_sizes(EVP_PKEY *pkey, const char *name, int bits,
                           ps_err *err)
{
    static const char *const parts[] = {OSSL_PKEY_PARAM_RSA_E,
                                        OSSL_PKEY_PARAM_RSA_D,
                                        OSSL_PKEY_PARAM_RSA_FACTOR1,
                                        OSSL_PKEY_PARAM_RSA_FACTOR2,
                                        OSSL_PKEY_PARAM_RSA_FACTOR3,
                                        OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                        OSSL_PKEY_PARAM_RSA_EXPONENT2,
                                        OSSL_PKEY_PARAM_RSA_EXPONENT3,
                                        OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
                                        OSSL_PKEY_PARAM_RSA_COEFFICIENT2};
    BIGNUM *bn;
    int over;

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        bn = NULL;
        if (!EVP_PKEY_get_bn_param(pkey, parts[i], &bn))
            continue; /* absent (a 2-prime key has no factor3) */
        over = BN_num_bits(bn) > bits;
        BN_clear_free(bn);
        if (over)
            return ps_err_set(err,
                              "%s: garbled RSA key (%s larger than the "
                              "modulus)",
                              name, parts[i]);
    }
    ERR_clear_error();
    return 0;
}

static int check_rsa(EVP_PKEY *pkey, const char *name, int *bits, ps_err *err)
{
    *bits = EVP_PKEY_get_bits(pkey);
    if (*bits < PS_KEY_RSA_MIN_BITS)
        return ps_err_set(err,
                          "%s: RSA key of %d bits is too small "
                          "(at least %d, 2048 recommended)",
                          name, *bits, PS_KEY_RSA_MIN_BITS);
    if (*bits > PS_KEY_RSA_MAX_BITS)
        return ps_err_set(err,
                          "%s: RSA key of %d bits is too large "
                          "(at most %d)",
                          name, *bits, PS_KEY_RSA_MAX_BITS);
    return check_rsa_sizes(pkey, name, *bits, err);
}

/* One signature made and checked with the key's own public half: a key
 * whose halves do not match would sign mail that never verifies. This
 * costs one signature (about a millisecond), where OpenSSL's pairwise
 * check tests the primes and takes 50-350 ms per RSA key. */
static int self_test(EVP_PKEY *pkey, const char *name, ps_err *err)
{
    static const unsigned char msg[] = "postseal key self-test";
    unsigned char sig[PS_KEY_RSA_MAX_BITS / 8];
    size_t siglen = sizeof(sig);
    const EVP_MD *md = EVP_PKEY_is_a(pkey, "RSA") ? EVP_sha256() : NULL;
    EVP_MD_CTX *sctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    int ok = sctx != NULL && vctx != NULL &&
             EVP_DigestSignInit(sctx, NULL, md, NULL, pkey) == 1 &&
             EVP_DigestSign(sctx, sig, &siglen, msg, sizeof(msg) - 1) == 1 &&
             EVP_DigestVerifyInit(vctx, NULL, md, NULL, pkey) == 1 &&
             EVP_DigestVerify(vctx, sig, siglen, msg, sizeof(msg) - 1) == 1;

    EVP_MD_CTX_free(sctx);
    EVP_MD_CTX_free(vctx);
    if (!ok) {
        ERR_clear_error();
        return ps_err_set(err,
                          "%s: inconsistent private key (its signatures "
                          "do not verify with its public key)",
                          name);
    }
    return 0;
}

/* Takes ownership of pkey: wraps it, or frees it and says why not. */
static int key_wrap(EVP_PKEY *pkey, const char *name, ps_key **out, ps_err *err)
{
    ps_key *key;
    int bits = 256;
    ps_key_type type = PS_KEY_ED25519;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        type = PS_KEY_RSA;
        if (check_rsa(pkey, name, &bits, err) < 0)
            goto fail;
    } else if (!EVP_PKEY_is_a(pkey, "ED25519")) {
        ps_err_set(err, "%s: unsupported key type %s; use RSA or Ed25519", name,
                   EVP_PKEY_get0_type_name(pkey) != NULL
                       ? EVP_PKEY_get0_type_name(pkey)
                       : "unknown");
        goto fail;
    }
    if (self_test(pkey, name, err) < 0)
        goto fail;
    key = calloc(1, sizeof(*key));
    if (key == NULL) {
        ps_err_set(err, "%s: out of memory", name);
        goto fail;
    }
    key->pkey = pkey;
    key->type = type;
    key->bits = bits;
    *out = key;
    return 0;
fail:
    EVP_PKEY_free(pkey);
    return -1;
}

int ps_key_parse_pem(const char *pem, size_t len, const char *name,
                     ps_key **out, ps_err *err)
{
    EVP_PKEY *pkey;

    *out = NULL;
    if (name == NULL)
        name = "key";
    if (ps_key_pem_decode(pem, len, name, &pkey, err) < 0)
        return -1;
    return key_wrap(pkey, name, out, err);
}

int ps_key_load(const char *path, ps_key **out, ps_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (ps_secfile_read(path, &buf, &len, err) < 0)
        return -1;
    rc = ps_key_parse_pem(buf, len, path, out, err);
    ps_secfile_free(buf, len);
    return rc;
}

/* ---- generating and writing --------------------------------------------- */

int ps_key_generate(ps_key_type type, int bits, ps_key **out, ps_err *err)
{
    EVP_PKEY *pkey;

    *out = NULL;
    if (type == PS_KEY_RSA) {
        if (bits != 2048 && bits != 3072 && bits != 4096)
            return ps_err_set(err,
                              "RSA key size %d not offered "
                              "(use 2048, 3072 or 4096)",
                              bits);
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    } else if (type == PS_KEY_ED25519) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        return ps_err_set(err, "unknown key type %d", (int)type);
    }
    if (pkey == NULL)
        return ps_err_openssl(err, "key generation failed");
    return key_wrap(pkey, "generated key", out, err);
}

static int errno_err(ps_err *err, const char *path, const char *what)
{
    char buf[128];

    return ps_err_set(err, "%s: %s: %s", path, what,
                      strerror_r(errno, buf, sizeof(buf)));
}

static int write_all(int fd, const char *path, const char *p, size_t n,
                     ps_err *err)
{
    if (ps_fd_write_all(fd, p, n) != 0)
        return errno_err(err, path, "write failed");
    return 0;
}

/* PKCS#8 PEM in a secure-heap memory BIO, so the plaintext key is wiped
 * when the BIO is freed. */
static BIO *pem_encode(const ps_key *key, ps_err *err)
{
    BIO *mem = BIO_new(BIO_s_secmem());

    if (mem == NULL) {
        ps_err_openssl(err, "out of memory");
        return NULL;
    }
    if (!PEM_write_bio_PKCS8PrivateKey(mem, key->pkey, NULL, NULL, 0, NULL,
                                       NULL)) {
        ps_err_openssl(err, "cannot encode the private key");
        BIO_free(mem);
        return NULL;
    }
    return mem;
}

/* fchmod as well as the open mode: the umask could only narrow 0600, but
 * an explicit mode makes the result independent of it. */
static int write_fd(int fd, const char *path, BIO *mem, ps_err *err)
{
    char *data = NULL;
    long n = BIO_get_mem_data(mem, &data);

    if (fchmod(fd, 0600) < 0)
        return errno_err(err, path, "chmod failed");
    if (n <= 0 || data == NULL)
        return ps_err_set(err, "%s: nothing to write", path);
    if (write_all(fd, path, data, (size_t)n, err) < 0)
        return -1;
    if (fsync(fd) < 0)
        return errno_err(err, path, "fsync failed");
    return 0;
}

int ps_key_write_pem(const ps_key *key, const char *path, ps_err *err)
{
    BIO *mem = pem_encode(key, err);
    int fd, rc;

    if (mem == NULL)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = errno == EEXIST
                 ? ps_err_set(err,
                              "%s: already exists; an existing key is "
                              "never overwritten",
                              path)
                 : errno_err(err, path, "cannot create");
        BIO_free(mem);
        return rc;
    }
    rc = write_fd(fd, path, mem, err);
    if (close(fd) < 0 && rc == 0)
        rc = errno_err(err, path, "close failed");
    if (rc < 0)
        unlink(path);
    BIO_free(mem);
    return rc;
}

/* ---- accessors and the public half --------------------------------------- */

ps_key_type ps_key_type_of(const ps_key *key)
{
    return key->type;
}
int ps_key_bits(const ps_key *key)
{
    return key->bits;
}
EVP_PKEY *ps_key_evp(const ps_key *key)
{
    return key->pkey;
}

const char *ps_key_algorithm(const ps_key *key)
{
    return key->type == PS_KEY_RSA ? "rsa-sha256" : "ed25519-sha256";
}

const char *ps_key_dkim_k(const ps_key *key)
{
    return key->type == PS_KEY_RSA ? "rsa" : "ed25519";
}

/* RSA publishes the DER SubjectPublicKeyInfo (RFC 6376 3.6.1), Ed25519
 * the bare 32-byte key (RFC 8463 4.2): the same "p=" tag, two shapes. */
static int public_der(const ps_key *key, unsigned char **der, size_t *len,
                      ps_err *err)
{
    unsigned char *p;
    int n;

    *len = ED25519_PUB_LEN;
    if (key->type == PS_KEY_ED25519) {
        *der = malloc(ED25519_PUB_LEN);
        if (*der == NULL)
            return ps_err_set(err, "out of memory");
        if (!EVP_PKEY_get_raw_public_key(key->pkey, *der, len) ||
            *len != ED25519_PUB_LEN) {
            free(*der);
            return ps_err_openssl(err, "cannot read the Ed25519 public key");
        }
        return 0;
    }
    n = i2d_PUBKEY(key->pkey, NULL);
    if (n <= 0 || (*der = malloc((size_t)n)) == NULL)
        return ps_err_openssl(err, "cannot encode the RSA public key");
    p = *der;
    *len = (size_t)i2d_PUBKEY(key->pkey, &p);
    return 0;
}

int ps_key_public_b64(const ps_key *key, char **out, ps_err *err)
{
    unsigned char *der;
    size_t len;

    *out = NULL;
    if (public_der(key, &der, &len, err) < 0)
        return -1;
    *out = malloc(ps_b64_encoded_size(len));
    if (*out == NULL) {
        free(der);
        return ps_err_set(err, "out of memory");
    }
    ps_b64_encode(der, len, *out);
    free(der);
    return 0;
}

int ps_key_dkim_record(const ps_key *key, char **out, ps_err *err)
{
    char *p;
    int n;

    *out = NULL;
    if (ps_key_public_b64(key, &p, err) < 0)
        return -1;
    n = asprintf(out, "v=DKIM1; k=%s; p=%s", ps_key_dkim_k(key), p);
    free(p);
    if (n < 0) {
        *out = NULL;
        return ps_err_set(err, "out of memory");
    }
    return 0;
}

void ps_key_free(ps_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey); /* OpenSSL clears private key material */
    free(key);
}
