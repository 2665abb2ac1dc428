/* Unit tests for shared/crypto/keys.c: generated keys round-trip through a 0600
 * file, the p= values match RFC 8463's published vector, and every kind of
 * bad key file is refused with a line that names it and says why. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/encode.h"
#include "crypto/keys.h"

static char tmpdir[64];

/* ---- helpers ------------------------------------------------------------ */

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/ps_keys_XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int remove_dir(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];

    (void)state;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(tmpdir);
}

static void tmp_path(char *path, size_t cap, const char *name)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *data, size_t n,
                       mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* PEM text of pkey in the given structure ("PrivateKeyInfo" for PKCS#8,
 * "type-specific" for PKCS#1 / SEC1), malloc'd and NUL-terminated. */
static char *pem_of(EVP_PKEY *pkey, const char *structure)
{
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
        pkey, EVP_PKEY_KEYPAIR, "PEM", structure, NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    char *out;

    assert_non_null(ectx);
    assert_int_equal(OSSL_ENCODER_to_data(ectx, &data, &len), 1);
    OSSL_ENCODER_CTX_free(ectx);
    out = malloc(len + 1);
    assert_non_null(out);
    memcpy(out, data, len);
    out[len] = '\0';
    OPENSSL_free(data);
    return out;
}

/* The text in a memory BIO, copied out; the BIO is freed. */
static char *bio_text(BIO *mem)
{
    char *data, *out;
    long n = BIO_get_mem_data(mem, &data);

    out = strndup(data, (size_t)n);
    assert_non_null(out);
    BIO_free(mem);
    return out;
}

/* The two ways a PEM key is encrypted: PKCS#8 "ENCRYPTED PRIVATE KEY" and
 * the traditional Proc-Type/DEK-Info headers. */
static char *pem_encrypted(EVP_PKEY *pkey, int pkcs8)
{
    BIO *mem = BIO_new(BIO_s_mem());

    if (pkcs8)
        assert_int_equal(PEM_write_bio_PKCS8PrivateKey(
                             mem, pkey, EVP_aes_256_cbc(), "pw", 2, NULL, NULL),
                         1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(
                             mem, pkey, EVP_aes_128_cbc(),
                             (unsigned char *)"pw", 2, NULL, NULL),
                         1);
    return bio_text(mem);
}

/* ps_key_parse_pem must refuse text with an error containing both frags
 * (and naming the input). */
static void expect_refused(const char *pem, size_t len, const char *frag1,
                           const char *frag2)
{
    ps_key *key = (ps_key *)&key;
    ps_err err = {""};

    assert_int_equal(ps_key_parse_pem(pem, len, "KEYFILE", &key, &err), -1);
    assert_null(key);
    if (strstr(err.msg, "KEYFILE: ") != err.msg ||
        strstr(err.msg, frag1) == NULL || strstr(err.msg, frag2) == NULL)
        fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err.msg, frag1, frag2);
}

static ps_key *parse_ok(const char *pem)
{
    ps_key *key = NULL;
    ps_err err = {""};

    if (ps_key_parse_pem(pem, strlen(pem), "t", &key, &err) != 0)
        fail_msg("parse failed: %s", err.msg);
    assert_non_null(key);
    return key;
}

static char *public_b64(const ps_key *key)
{
    char *p = NULL;
    ps_err err = {""};

    if (ps_key_public_b64(key, &p, &err) != 0)
        fail_msg("public_b64 failed: %s", err.msg);
    return p;
}

static ps_key *generate(ps_key_type type, int bits)
{
    ps_key *key = NULL;
    ps_err err = {""};

    if (ps_key_generate(type, bits, &key, &err) != 0)
        fail_msg("generate failed: %s", err.msg);
    return key;
}

/* Writes key to a fresh file, checks its mode and label, reloads it and
 * checks that the public half survived. */
static ps_key *roundtrip(ps_key *key, const char *name)
{
    char path[256], head[64], *p1, *p2;
    size_t len;
    struct stat st;
    FILE *f;
    ps_key *back = NULL;
    ps_err err = {""};

    tmp_path(path, sizeof(path), name);
    if (ps_key_write_pem(key, path, &err) != 0)
        fail_msg("write failed: %s", err.msg);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    if (ps_key_load(path, &back, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    p1 = public_b64(key);
    p2 = public_b64(back);
    assert_string_equal(p1, p2);
    free(p1);
    free(p2);
    f = fopen(path, "r");
    assert_non_null(f);
    len = fread(head, 1, sizeof(head) - 1, f);
    fclose(f);
    head[len] = '\0';
    assert_true(strncmp(head, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    return back;
}

/* ---- generate, write, load ------------------------------------------------
 */

static void test_rsa_2048_roundtrip(void **state)
{
    ps_key *key = generate(PS_KEY_RSA, 2048), *back;
    char *rec = NULL, *p;
    ps_err err = {""};

    (void)state;
    back = roundtrip(key, "rsa.pem");
    assert_int_equal(ps_key_type_of(back), PS_KEY_RSA);
    assert_int_equal(ps_key_bits(back), 2048);
    assert_string_equal(ps_key_algorithm(back), "rsa-sha256");
    assert_string_equal(ps_key_dkim_k(back), "rsa");
    assert_true(EVP_PKEY_is_a(ps_key_evp(back), "RSA"));
    assert_int_equal(ps_key_dkim_record(back, &rec, &err), 0);
    p = public_b64(back);
    assert_true(strncmp(rec, "v=DKIM1; k=rsa; p=", 18) == 0);
    assert_string_equal(rec + 18, p);
    free(rec);
    free(p);
    ps_key_free(key);
    ps_key_free(back);
}

/* The RSA p= is a DER SubjectPublicKeyInfo that OpenSSL reads back as the
 * same public key. */
static void test_rsa_public_is_spki(void **state)
{
    ps_key *key = generate(PS_KEY_RSA, 2048);
    char *p = public_b64(key);
    uint8_t der[1024];
    const unsigned char *q = der;
    size_t len = 0;
    EVP_PKEY *pub;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_b64_decode(p, strlen(p), der, sizeof(der), &len, &err),
                     0);
    pub = d2i_PUBKEY(NULL, &q, (long)len);
    assert_non_null(pub);
    assert_ptr_equal(q, der + len);
    assert_int_equal(EVP_PKEY_eq(pub, ps_key_evp(key)), 1);
    EVP_PKEY_free(pub);
    free(p);
    ps_key_free(key);
}

static void test_ed25519_roundtrip(void **state)
{
    ps_key *key = generate(PS_KEY_ED25519, 0), *back;
    char *rec = NULL;
    uint8_t raw[64];
    size_t len = 0;
    ps_err err = {""};

    (void)state;
    back = roundtrip(key, "ed.pem");
    assert_int_equal(ps_key_type_of(back), PS_KEY_ED25519);
    assert_int_equal(ps_key_bits(back), 256);
    assert_string_equal(ps_key_algorithm(back), "ed25519-sha256");
    assert_string_equal(ps_key_dkim_k(back), "ed25519");
    assert_int_equal(ps_key_dkim_record(back, &rec, &err), 0);
    assert_true(strncmp(rec, "v=DKIM1; k=ed25519; p=", 22) == 0);
    assert_int_equal(
        ps_b64_decode(rec + 22, strlen(rec + 22), raw, sizeof(raw), &len, &err),
        0);
    assert_int_equal(len, 32);
    free(rec);
    ps_key_free(key);
    ps_key_free(back);
}

/* The file mode must not depend on the umask. */
static void test_write_mode_ignores_umask(void **state)
{
    ps_key *key = generate(PS_KEY_ED25519, 0);
    char path[256];
    struct stat st;
    mode_t old = umask(0);
    ps_err err = {""};

    (void)state;
    tmp_path(path, sizeof(path), "umask0.pem");
    assert_int_equal(ps_key_write_pem(key, path, &err), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    ps_key_free(key);
}

static void test_existing_file_not_overwritten(void **state)
{
    ps_key *key = generate(PS_KEY_ED25519, 0);
    char path[256], buf[32] = "";
    FILE *f;
    ps_err err = {""};

    (void)state;
    tmp_path(path, sizeof(path), "exists.pem");
    write_file(path, "keep me\n", 8, 0600);
    assert_int_equal(ps_key_write_pem(key, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "never overwritten"));
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f), 8);
    fclose(f);
    assert_string_equal(buf, "keep me\n");
    tmp_path(path, sizeof(path), "no-such-dir/key.pem");
    assert_int_equal(ps_key_write_pem(key, path, &err), -1);
    assert_non_null(strstr(err.msg, "cannot create"));
    ps_key_free(key);
}

static void test_generate_refuses_sizes(void **state)
{
    ps_key *key = (ps_key *)&key;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_key_generate(PS_KEY_RSA, 1024, &key, &err), -1);
    assert_null(key);
    assert_non_null(strstr(err.msg, "2048, 3072 or 4096"));
    assert_int_equal(ps_key_generate(PS_KEY_RSA, 2047, &key, &err), -1);
    assert_int_equal(ps_key_generate((ps_key_type)7, 2048, &key, &err), -1);
    assert_non_null(strstr(err.msg, "unknown key type"));
}

/* ---- loading refusals -----------------------------------------------------
 */

static void test_group_readable_refused(void **state)
{
    ps_key *key = generate(PS_KEY_ED25519, 0), *back = (ps_key *)&key;
    char path[256], *pem = pem_of(ps_key_evp(key), "PrivateKeyInfo");
    ps_err err = {""};

    (void)state;
    tmp_path(path, sizeof(path), "open.pem");
    write_file(path, pem, strlen(pem), 0644);
    assert_int_equal(ps_key_load(path, &back, &err), -1);
    assert_null(back);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ps_key_load(path, &back, &err), 0);
    ps_key_free(back);
    tmp_path(path, sizeof(path), "missing.pem");
    assert_int_equal(ps_key_load(path, &back, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    free(pem);
    ps_key_free(key);
}

static void test_truncated_refused(void **state)
{
    ps_key *key = generate(PS_KEY_RSA, 2048);
    char path[256], *pem = pem_of(ps_key_evp(key), "PrivateKeyInfo");
    ps_key *back = NULL;
    ps_err err = {""};

    (void)state;
    expect_refused(pem, strlen(pem) / 2, "truncated", "");
    tmp_path(path, sizeof(path), "half.pem");
    write_file(path, pem, strlen(pem) / 2, 0600);
    assert_int_equal(ps_key_load(path, &back, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "truncated"));
    /* the END line is there but base64 lines are missing */
    memmove(strchr(pem, '\n') + 1, strchr(pem, '\n') + 1 + 65,
            strlen(pem) - (size_t)(strchr(pem, '\n') + 1 - pem) - 65 + 1);
    expect_refused(pem, strlen(pem), "garbled", "");
    free(pem);
    ps_key_free(key);
}

static void test_garbage_refused(void **state)
{
    static const char notpem[] = "hello world\n";
    static const char bin[] = {0x30, (char)0x82, 0x04, 0x00, 0x02, 0x01, 0x00};
    static const char bad64[] = "-----BEGIN PRIVATE KEY-----\n"
                                "!!!!notbase64!!!!\n"
                                "-----END PRIVATE KEY-----\n";
    static const char notder[] = "-----BEGIN PRIVATE KEY-----\n"
                                 "aGVsbG8gd29ybGQ=\n"
                                 "-----END PRIVATE KEY-----\n";
    static const char cert[] = "-----BEGIN CERTIFICATE-----\n"
                               "aGVsbG8gd29ybGQ=\n"
                               "-----END CERTIFICATE-----\n";

    (void)state;
    expect_refused(notpem, strlen(notpem), "not a PEM private key", "");
    expect_refused(bin, sizeof(bin), "not a PEM private key", "");
    expect_refused("", 0, "not a PEM private key", "");
    expect_refused(bad64, strlen(bad64), "garbled", "");
    expect_refused(notder, strlen(notder), "garbled private key", "PKCS#8");
    expect_refused(cert, strlen(cert), "no private key", "");
}

static void test_small_rsa_refused(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
    char *pem;

    (void)state;
    assert_non_null(pkey);
    pem = pem_of(pkey, "PrivateKeyInfo");
    expect_refused(pem, strlen(pem), "512 bits is too small", "at least 1024");
    free(pem);
    pem = pem_of(pkey, "type-specific");
    expect_refused(pem, strlen(pem), "512 bits is too small", "");
    free(pem);
    EVP_PKEY_free(pkey);
}

static void test_rsa_1024_accepted(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *pem;
    ps_key *key;

    (void)state;
    pem = pem_of(pkey, "PrivateKeyInfo");
    key = parse_ok(pem);
    assert_int_equal(ps_key_bits(key), 1024);
    ps_key_free(key);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void test_ec_refused(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *pem;

    (void)state;
    assert_non_null(pkey);
    pem = pem_of(pkey, "PrivateKeyInfo");
    expect_refused(pem, strlen(pem),
                   "unsupported key type EC; use RSA or "
                   "Ed25519",
                   "");
    free(pem);
    pem = pem_of(pkey, "type-specific");
    assert_non_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
    expect_refused(pem, strlen(pem), "unsupported key type EC", "");
    free(pem);
    EVP_PKEY_free(pkey);
}

static void test_other_types_refused(void **state)
{
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    char *pem = pem_of(x, "PrivateKeyInfo");
    static const char ssh[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                              "aGVsbG8gd29ybGQ=\n"
                              "-----END OPENSSH PRIVATE KEY-----\n";

    (void)state;
    expect_refused(pem, strlen(pem), "unsupported key type X25519", "");
    expect_refused(ssh, strlen(ssh), "OpenSSH", "ssh-keygen");
    free(pem);
    EVP_PKEY_free(x);
}

static void test_encrypted_refused(void **state)
{
    ps_key *key = generate(PS_KEY_RSA, 2048);
    char *pem = pem_encrypted(ps_key_evp(key), 1);

    (void)state;
    assert_non_null(strstr(pem, "ENCRYPTED PRIVATE KEY"));
    expect_refused(pem, strlen(pem), "encrypted", "");
    free(pem);
    pem = pem_encrypted(ps_key_evp(key), 0);
    assert_non_null(strstr(pem, "Proc-Type: 4,ENCRYPTED"));
    expect_refused(pem, strlen(pem), "encrypted", "");
    free(pem);
    ps_key_free(key);
}

static void test_pkcs1_accepted(void **state)
{
    ps_key *key = generate(PS_KEY_RSA, 2048), *back;
    char *pem = pem_of(ps_key_evp(key), "type-specific");
    char *p1, *p2;

    (void)state;
    assert_non_null(strstr(pem, "-----BEGIN RSA PRIVATE KEY-----"));
    back = parse_ok(pem);
    p1 = public_b64(key);
    p2 = public_b64(back);
    assert_string_equal(p1, p2);
    free(p1);
    free(p2);
    free(pem);
    ps_key_free(key);
    ps_key_free(back);
}

/* A key file may hold a certificate or public key before the private key. */
static void test_private_after_other_block(void **state)
{
    ps_key *key = generate(PS_KEY_ED25519, 0), *back;
    char *priv = pem_of(ps_key_evp(key), "PrivateKeyInfo");
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(ps_key_evp(key), EVP_PKEY_PUBLIC_KEY,
                                      "PEM", "SubjectPublicKeyInfo", NULL);
    unsigned char *pub = NULL;
    size_t publen = 0;
    char *both;

    (void)state;
    assert_int_equal(OSSL_ENCODER_to_data(ectx, &pub, &publen), 1);
    OSSL_ENCODER_CTX_free(ectx);
    both = malloc(publen + strlen(priv) + 1);
    memcpy(both, pub, publen);
    strcpy(both + publen, priv);
    expect_refused((const char *)pub, publen, "no private key", "");
    back = parse_ok(both);
    assert_int_equal(ps_key_type_of(back), PS_KEY_ED25519);
    OPENSSL_free(pub);
    free(both);
    free(priv);
    ps_key_free(back);
    ps_key_free(key);
}

/* An RSA key with n and e from pub and every private number from priv,
 * d replaced by big_d when given: keys OpenSSL builds but we must refuse. */
static EVP_PKEY *rsa_mix(EVP_PKEY *pub, EVP_PKEY *priv, const BIGNUM *big_d)
{
    static const char *names[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn[8] = {0};
    OSSL_PARAM *params;
    EVP_PKEY *out = NULL;

    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(
            EVP_PKEY_get_bn_param(i < 2 ? pub : priv, names[i], &bn[i]), 1);
        OSSL_PARAM_BLD_push_BN(bld, names[i],
                               i == 2 && big_d != NULL ? big_d : bn[i]);
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &out, EVP_PKEY_KEYPAIR, params), 1);
    for (size_t i = 0; i < 8; i++)
        BN_free(bn[i]);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return out;
}

/* Private numbers of another modulus would sign mail that never
 * verifies: refused at load. */
static void test_mismatched_rsa_refused(void **state)
{
    EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *bad = rsa_mix(a, b, NULL);
    char *pem = pem_of(bad, "PrivateKeyInfo");

    (void)state;
    expect_refused(pem, strlen(pem), "inconsistent private key", "");
    free(pem);
    EVP_PKEY_free(bad);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

/* A private number longer than the modulus is refused before any
 * arithmetic is done with it. */
static void test_oversized_rsa_part_refused(void **state)
{
    EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    BIGNUM *d = BN_new();
    EVP_PKEY *bad;
    char *pem;

    (void)state;
    assert_int_equal(BN_set_bit(d, 4000), 1); /* d of 4001 bits */
    bad = rsa_mix(a, a, d);
    pem = pem_of(bad, "PrivateKeyInfo");
    expect_refused(pem, strlen(pem),
                   "garbled RSA key (d larger than the "
                   "modulus)",
                   "");
    free(pem);
    BN_free(d);
    EVP_PKEY_free(bad);
    EVP_PKEY_free(a);
}

/* ---- published vector ------------------------------------------------------
 */

/* RFC 8463 appendix A.2: this Ed25519 private key publishes this p=. */
static void test_rfc8463_vector(void **state)
{
    static const char seed_b64[] =
        "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
    uint8_t seed[32];
    size_t len = 0;
    EVP_PKEY *pkey;
    char *pem, *p, *rec = NULL;
    ps_key *key;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_b64_decode(seed_b64, strlen(seed_b64), seed,
                                   sizeof(seed), &len, &err),
                     0);
    assert_int_equal(len, 32);
    pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    assert_non_null(pkey);
    pem = pem_of(pkey, "PrivateKeyInfo");
    key = parse_ok(pem);
    p = public_b64(key);
    assert_string_equal(p, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    assert_int_equal(ps_key_dkim_record(key, &rec, &err), 0);
    assert_string_equal(rec, "v=DKIM1; k=ed25519; "
                             "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    free(rec);
    free(p);
    free(pem);
    ps_key_free(key);
    EVP_PKEY_free(pkey);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_2048_roundtrip),
        cmocka_unit_test(test_rsa_public_is_spki),
        cmocka_unit_test(test_ed25519_roundtrip),
        cmocka_unit_test(test_write_mode_ignores_umask),
        cmocka_unit_test(test_existing_file_not_overwritten),
        cmocka_unit_test(test_generate_refuses_sizes),
        cmocka_unit_test(test_group_readable_refused),
        cmocka_unit_test(test_truncated_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_small_rsa_refused),
        cmocka_unit_test(test_rsa_1024_accepted),
        cmocka_unit_test(test_ec_refused),
        cmocka_unit_test(test_other_types_refused),
        cmocka_unit_test(test_encrypted_refused),
        cmocka_unit_test(test_pkcs1_accepted),
        cmocka_unit_test(test_private_after_other_block),
        cmocka_unit_test(test_mismatched_rsa_refused),
        cmocka_unit_test(test_oversized_rsa_part_refused),
        cmocka_unit_test(test_rfc8463_vector),
    };

    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
