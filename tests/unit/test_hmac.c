/* Unit tests for shared/crypto/hmac.c and shared/crypto/secrets.c: RFC 4231 and
 * RFC 2202 vectors (fresh and through prepared keys), streaming against
 * one-shot, constant-time verdicts with truncation, and secret-set files with
 * their file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/encode.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"

typedef struct vector {
    ps_hmac_alg alg;
    uint8_t keybyte; /* key is keylen copies of it, or 0x01..keylen if 0 */
    size_t keylen;
    const char *data; /* NULL: datalen copies of databyte */
    uint8_t databyte;
    size_t datalen;
    const char *mac_hex;
} vector;

static const char tc6_data[] =
    "Test Using Larger Than Block-Size Key - Hash Key First";
static const char tc7_sha256[] =
    "This is a test using a larger than block-size key and a larger than "
    "block-size data. The key needs to be hashed before being used by the "
    "HMAC algorithm.";
static const char tc7_sha1[] =
    "Test Using Larger Than Block-Size Key and Larger Than One Block-Size "
    "Data";

/* RFC 4231 test cases 1-4, 6, 7 (SHA-256) and RFC 2202 (SHA-1) 1-4, 6, 7. */
static const vector vectors[] = {
    {PS_HMAC_SHA256, 0x0b, 20, "Hi There", 0, 8,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {PS_HMAC_SHA256, 'J', 4, "what do ya want for nothing?", 0, 28,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {PS_HMAC_SHA256, 0xaa, 20, NULL, 0xdd, 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {PS_HMAC_SHA256, 0, 25, NULL, 0xcd, 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {PS_HMAC_SHA256, 0xaa, 131, tc6_data, 0, sizeof(tc6_data) - 1,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {PS_HMAC_SHA256, 0xaa, 131, tc7_sha256, 0, sizeof(tc7_sha256) - 1,
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    {PS_HMAC_SHA1, 0x0b, 20, "Hi There", 0, 8,
     "b617318655057264e28bc0b6fb378c8ef146be00"},
    {PS_HMAC_SHA1, 'J', 4, "what do ya want for nothing?", 0, 28,
     "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    {PS_HMAC_SHA1, 0xaa, 20, NULL, 0xdd, 50,
     "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
    {PS_HMAC_SHA1, 0, 25, NULL, 0xcd, 50,
     "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
    {PS_HMAC_SHA1, 0xaa, 80, tc6_data, 0, sizeof(tc6_data) - 1,
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
    {PS_HMAC_SHA1, 0xaa, 80, tc7_sha1, 0, sizeof(tc7_sha1) - 1,
     "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
};

/* Fills key and data for v; returns the data pointer. */
static const uint8_t *vector_inputs(const vector *v, uint8_t key[256],
                                    uint8_t data[256])
{
    for (size_t i = 0; i < v->keylen; i++)
        key[i] = v->keybyte != 0 ? v->keybyte : (uint8_t)(i + 1);
    if (v->keybyte == 'J')
        memcpy(key, "Jefe", 4);
    if (v->data != NULL)
        return (const uint8_t *)v->data;
    memset(data, v->databyte, v->datalen);
    return data;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    ps_err err;

    assert_int_equal(ps_hex_decode(hex, strlen(hex), out, cap, &n, &err), 0);
    return n;
}

static void test_vectors(void **state)
{
    uint8_t key[256], data[256], want[PS_HMAC_MAX], got[PS_HMAC_MAX];
    ps_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const vector *v = &vectors[i];
        const uint8_t *d = vector_inputs(v, key, data);
        size_t n = unhex(v->mac_hex, want, sizeof(want));

        assert_int_equal(n, ps_hmac_size(v->alg));
        assert_int_equal(
            ps_hmac_compute(v->alg, key, v->keylen, d, v->datalen, got, &err),
            0);
        if (memcmp(got, want, n) != 0)
            fail_msg("vector %zu: wrong MAC", i);
        assert_int_equal(
            ps_hmac_verify(v->alg, key, v->keylen, d, v->datalen, want, n), 0);
    }
}

/* A prepared key gives the same MACs, as often as asked, in any order with
 * other keys: every MAC starts from the unchanged template. */
static void test_prepared_keys(void **state)
{
    size_t nv = sizeof(vectors) / sizeof(vectors[0]);
    uint8_t key[256], data[256], want[PS_HMAC_MAX], got[PS_HMAC_MAX];
    ps_hmac_key *k[sizeof(vectors) / sizeof(vectors[0])];
    ps_hmac *h, *h2;
    ps_err err;

    (void)state;
    for (size_t i = 0; i < nv; i++) {
        vector_inputs(&vectors[i], key, data);
        k[i] = ps_hmac_key_new(vectors[i].alg, key, vectors[i].keylen, &err);
        assert_non_null(k[i]);
        assert_int_equal(ps_hmac_key_alg(k[i]), vectors[i].alg);
    }
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < nv; i++) {
            const vector *v = &vectors[i];
            const uint8_t *d = vector_inputs(v, key, data);
            size_t n = unhex(v->mac_hex, want, sizeof(want));

            assert_int_equal(
                ps_hmac_key_compute(k[i], d, v->datalen, got, &err), 0);
            if (memcmp(got, want, n) != 0)
                fail_msg("vector %zu round %d: wrong MAC", i, round);
            /* Two MACs under one key, interleaved, stay apart. */
            h = ps_hmac_start(k[i], &err);
            h2 = ps_hmac_start(k[i], &err);
            assert_non_null(h);
            assert_non_null(h2);
            assert_int_equal(ps_hmac_update(h2, "other", 5, &err), 0);
            assert_int_equal(ps_hmac_update(h, d, 1, &err), 0);
            assert_int_equal(ps_hmac_update(h, d + 1, v->datalen - 1, &err), 0);
            assert_int_equal(ps_hmac_final(h, got, &err), 0);
            assert_memory_equal(got, want, n);
            assert_int_equal(ps_hmac_final(h2, got, &err), 0);
            assert_memory_not_equal(got, want, n);
            ps_hmac_free(h);
            ps_hmac_free(h2);
        }
    }
    for (size_t i = 0; i < nv; i++)
        ps_hmac_key_free(k[i]);
    ps_hmac_key_free(NULL);
    /* The empty key, as ps_hmac_compute takes it. */
    k[0] = ps_hmac_key_new(PS_HMAC_SHA256, NULL, 0, &err);
    assert_non_null(k[0]);
    assert_int_equal(ps_hmac_key_compute(k[0], NULL, 0, got, &err), 0);
    assert_int_equal(
        ps_hmac_compute(PS_HMAC_SHA256, NULL, 0, NULL, 0, want, &err), 0);
    assert_memory_equal(got, want, 32);
    ps_hmac_key_free(k[0]);
}
/* The HMAC built from digest states against OpenSSL's own one-shot HMAC,
 * for every key length around the block size (64: padded, 65: hashed
 * first) and data lengths around it, both algorithms, fresh and prepared. */
static void test_against_openssl_hmac(void **state)
{
    uint8_t key[130], data[200], got[PS_HMAC_MAX], want[EVP_MAX_MD_SIZE];
    unsigned int wlen;
    ps_hmac_key *k;
    ps_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 5);
    for (int a = 0; a < 2; a++) {
        ps_hmac_alg alg = a ? PS_HMAC_SHA1 : PS_HMAC_SHA256;
        const EVP_MD *md = a ? EVP_sha1() : EVP_sha256();

        for (size_t kl = 0; kl <= sizeof(key); kl++) {
            size_t dl = (kl * 3) % sizeof(data);

            assert_non_null(HMAC(md, key, (int)kl, data, dl, want, &wlen));
            assert_int_equal(wlen, ps_hmac_size(alg));
            assert_int_equal(ps_hmac_compute(alg, key, kl, data, dl, got, &err),
                             0);
            if (memcmp(got, want, wlen) != 0)
                fail_msg("alg %d key %zu data %zu: wrong MAC", a, kl, dl);
            k = ps_hmac_key_new(alg, key, kl, &err);
            assert_non_null(k);
            assert_int_equal(ps_hmac_key_compute(k, data, dl, got, &err), 0);
            assert_memory_equal(got, want, wlen);
            ps_hmac_key_free(k);
        }
    }
}

static void test_sizes_and_empty_key(void **state)
{
    uint8_t got[PS_HMAC_MAX], want[PS_HMAC_MAX];
    ps_err err;

    (void)state;
    assert_int_equal(ps_hmac_size(PS_HMAC_SHA1), 20);
    assert_int_equal(ps_hmac_size(PS_HMAC_SHA256), 32);
    unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
          want, sizeof(want));
    assert_int_equal(
        ps_hmac_compute(PS_HMAC_SHA256, NULL, 0, NULL, 0, got, &err), 0);
    assert_memory_equal(got, want, 32);
}

/* Feeding a message in uneven pieces gives the one-shot MAC. */
static void test_streaming_equals_oneshot(void **state)
{
    uint8_t msg[1000], one[PS_HMAC_MAX], many[PS_HMAC_MAX];
    static const uint8_t key[] = "stream-key";
    ps_err err;
    ps_hmac *h;

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    for (int alg = PS_HMAC_SHA1; alg <= PS_HMAC_SHA256; alg++) {
        assert_int_equal(ps_hmac_compute((ps_hmac_alg)alg, key, 10, msg,
                                         sizeof(msg), one, &err),
                         0);
        h = ps_hmac_new((ps_hmac_alg)alg, key, 10, &err);
        assert_non_null(h);
        for (size_t off = 0, step = 1; off < sizeof(msg); step = step * 3 + 1) {
            size_t k = off + step > sizeof(msg) ? sizeof(msg) - off : step;
            assert_int_equal(ps_hmac_update(h, msg + off, k, &err), 0);
            assert_int_equal(ps_hmac_update(h, NULL, 0, &err), 0);
            off += k;
        }
        assert_int_equal(ps_hmac_final(h, many, &err), 0);
        assert_memory_equal(one, many, ps_hmac_size((ps_hmac_alg)alg));
        assert_int_equal(ps_hmac_update(h, "x", 1, &err), -1);
        assert_non_null(strstr(err.msg, "after final"));
        assert_int_equal(ps_hmac_final(h, many, &err), -1);
        assert_non_null(strstr(err.msg, "twice"));
        ps_hmac_free(h);
    }
    ps_hmac_free(NULL);
}

static void test_verify_truncation(void **state)
{
    static const char data[] = "Test With Truncation";
    uint8_t key[20], mac[PS_HMAC_MAX], bad[PS_HMAC_MAX];
    size_t n;

    (void)state;
    memset(key, 0x0c, sizeof(key));
    /* RFC 4231 test case 5: the first 128 bits */
    n = unhex("a3b6167473100ee06e0c796c2955552b", mac, sizeof(mac));
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA256, key, 20, data, 20, mac, n),
                     0);
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA256, key, 20, data, 20, mac, 10),
                     0);
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA256, key, 20, data, 20, mac, 9),
                     -1);
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA256, key, 20, data, 20, mac, 0),
                     -1);
    assert_int_equal(
        ps_hmac_verify(PS_HMAC_SHA256, key, 20, data, 20, NULL, 16), -1);
    /* RFC 2202 test case 5: the first 96 bits */
    n = unhex("4c1a03424b55e07fe7f27be1", mac, sizeof(mac));
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA1, key, 20, data, 20, mac, n),
                     0);
    /* a MAC longer than the hash is refused, even if its prefix matches */
    n = unhex("4c1a03424b55e07fe7f27be1d58bb9324a9a5a04", mac, sizeof(mac));
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA1, key, 20, data, 20, mac, n),
                     0);
    mac[20] = 0;
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA1, key, 20, data, 20, mac, 21),
                     -1);
    /* a flipped last bit, a wrong key, different data */
    memcpy(bad, mac, n);
    bad[n - 1] ^= 1;
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA1, key, 20, data, 20, bad, n),
                     -1);
    key[0] ^= 1;
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA1, key, 20, data, 20, mac, n),
                     -1);
    key[0] ^= 1;
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA1, key, 20, data, 19, mac, n),
                     -1);
    /* a SHA-1 MAC is no SHA-256 MAC */
    assert_int_equal(ps_hmac_verify(PS_HMAC_SHA256, key, 20, data, 20, mac, n),
                     -1);
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_int_equal(ps_ct_equal("abcdef", "abcdef", 6), 1);
    assert_int_equal(ps_ct_equal("abcdef", "abcdeg", 6), 0);
    assert_int_equal(ps_ct_equal("xbcdef", "abcdef", 6), 0);
    assert_int_equal(ps_ct_equal("abc", "abd", 2), 1);
    assert_int_equal(ps_ct_equal(NULL, NULL, 0), 1);
}

/* ---- secret sets ----------------------------------------------------------
 */

static ps_secrets *parse_ok(const char *text)
{
    ps_secrets *s = NULL;
    ps_err err = {""};

    if (ps_secrets_parse(text, strlen(text), "t.secrets", &s, &err) != 0)
        fail_msg("parse failed: %s", err.msg);
    assert_non_null(s);
    return s;
}

static void expect_secret(const ps_secrets *s, size_t i, const void *want,
                          size_t n)
{
    size_t len = 0;
    const uint8_t *p = ps_secrets_get(s, i, &len);

    assert_non_null(p);
    assert_int_equal(len, n);
    assert_memory_equal(p, want, n);
}

/* Parsing text must fail with exactly the error want. */
static void expect_parse_error(const char *text, size_t len, const char *want)
{
    ps_secrets *s = (ps_secrets *)&s;
    ps_err err = {""};

    assert_int_equal(ps_secrets_parse(text, len, "t.secrets", &s, &err), -1);
    assert_null(s);
    assert_string_equal(err.msg, want);
}

static void test_secrets_format(void **state)
{
    ps_secrets *s;

    (void)state;
    s = parse_ok("# rotation: newest first\n"
                 "\n"
                 "tops3cr3t\r\n"
                 "   \t\n"
                 "base64:c2VjcmV0\n"
                 "# hex:00\n"
                 "hex:DEADbeef\n"
                 " spaced \tsecret \n"
                 "last line without newline");
    assert_int_equal(ps_secrets_count(s), 5);
    expect_secret(s, 0, "tops3cr3t", 9);
    expect_secret(s, 1, "secret", 6);
    expect_secret(s, 2, "\xde\xad\xbe\xef", 4);
    expect_secret(s, 3, " spaced \tsecret ", 16);
    expect_secret(s, 4, "last line without newline", 25);
    assert_null(ps_secrets_get(s, 5, NULL));
    ps_secrets_free(s);
    ps_secrets_free(NULL);
    assert_int_equal(ps_secrets_count(NULL), 0);
}

/* Bytes other than CR and LF are the secret's, NUL included. */
static void test_secrets_raw_bytes(void **state)
{
    static const char text[] = "a\0b\xff\r\r\nbase64:AAE=\n";
    ps_secrets *s = NULL;
    ps_err err;

    (void)state;
    assert_int_equal(ps_secrets_parse(text, sizeof(text) - 1, "t", &s, &err),
                     0);
    assert_int_equal(ps_secrets_count(s), 2);
    expect_secret(s, 0, "a\0b\xff", 4);
    expect_secret(s, 1, "\x00\x01", 2);
    ps_secrets_free(s);
}

static void test_secrets_errors(void **state)
{
    ps_err err = {""};
    ps_secrets *s = NULL;

    (void)state;
    expect_parse_error("ok\n\nbase64:c2Vj cmV0\n", 20,
                       "t.secrets:3: bad base64 secret: whitespace at "
                       "offset 4");
    expect_parse_error("base64:c2VjcmV0-_\n", 18,
                       "t.secrets:1: bad base64 secret: character outside "
                       "the alphabet at offset 8");
    expect_parse_error("base64:c2VjcmV\n", 15,
                       "t.secrets:1: bad base64 secret: missing padding at "
                       "offset 7");
    expect_parse_error("# c\nhex:abc\n", 12,
                       "t.secrets:2: bad hex secret: odd number of digits "
                       "(3)");
    expect_parse_error("hex:zz\n", 7,
                       "t.secrets:1: bad hex secret: character outside the "
                       "alphabet at offset 0");
    expect_parse_error("x\nbase64:\n", 10, "t.secrets:2: empty base64 secret");
    expect_parse_error("hex:\r\n", 6, "t.secrets:1: empty hex secret");
    expect_parse_error("", 0, "t.secrets: no secrets");
    expect_parse_error("# only\n\n  \n", 11, "t.secrets: no secrets");
    /* the bad secret is never echoed */
    assert_int_equal(
        ps_secrets_parse("base64:SuperSecretValue!!", 25, "f", &s, &err), -1);
    assert_null(strstr(err.msg, "Super"));
    assert_null(strchr(err.msg, '!'));
}

static void test_secrets_cap(void **state)
{
    char text[PS_SECRETS_MAX * 8 + 16], want[64];
    size_t len = 0;
    ps_secrets *s;

    (void)state;
    for (int i = 0; i < PS_SECRETS_MAX; i++)
        len += (size_t)sprintf(text + len, "key%02d\n", i);
    s = parse_ok(text);
    assert_int_equal(ps_secrets_count(s), PS_SECRETS_MAX);
    expect_secret(s, PS_SECRETS_MAX - 1, "key63", 5);
    ps_secrets_free(s);
    len += (size_t)sprintf(text + len, "# fine\nkey64\n");
    snprintf(want, sizeof(want), "t.secrets:%d: more than %d secrets",
             PS_SECRETS_MAX + 2, PS_SECRETS_MAX);
    expect_parse_error(text, len, want);
}

static void write_file(char path[64], const char *text, mode_t mode)
{
    int fd;

    strcpy(path, "/tmp/ps_secrets_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void test_secrets_load(void **state)
{
    char path[64], want[200];
    ps_secrets *s = NULL;
    ps_err err;

    (void)state;
    write_file(path, "first\nhex:0102\n", 0600);
    assert_int_equal(ps_secrets_load(path, &s, &err), 0);
    assert_int_equal(ps_secrets_count(s), 2);
    expect_secret(s, 0, "first", 5);
    expect_secret(s, 1, "\x01\x02", 2);
    ps_secrets_free(s);
    unlink(path);

    write_file(path, "first\nhex:01x2\n", 0600);
    assert_int_equal(ps_secrets_load(path, &s, &err), -1);
    assert_null(s);
    snprintf(want, sizeof(want),
             "%s:2: bad hex secret: character outside the"
             " alphabet at offset 2",
             path);
    assert_string_equal(err.msg, want);
    unlink(path);

    write_file(path, "first\n", 0640);
    assert_int_equal(ps_secrets_load(path, &s, &err), -1);
    assert_null(s);
    snprintf(want, sizeof(want),
             "%s: readable by group or others "
             "(mode 0640); run: chmod 600 %s",
             path, path);
    assert_string_equal(err.msg, want);
    unlink(path);

    assert_int_equal(ps_secrets_load("/tmp/ps_no_such.secrets", &s, &err), -1);
    assert_non_null(strstr(err.msg, "/tmp/ps_no_such.secrets"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_prepared_keys),
        cmocka_unit_test(test_against_openssl_hmac),
        cmocka_unit_test(test_sizes_and_empty_key),
        cmocka_unit_test(test_streaming_equals_oneshot),
        cmocka_unit_test(test_verify_truncation),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_secrets_format),
        cmocka_unit_test(test_secrets_raw_bytes),
        cmocka_unit_test(test_secrets_errors),
        cmocka_unit_test(test_secrets_cap),
        cmocka_unit_test(test_secrets_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
