/* Unit tests for shared/base/encode.c: RFC 4648 section 10 vectors, round trips
 * of every length up to 300, and each way a strict decoder must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/encode.h"

typedef int (*decode_fn)(const char *in, size_t n, uint8_t *out, size_t outcap,
                         size_t *outlen, ps_err *err);

static const char *const rfc_in[] = {"",     "f",     "fo",    "foo",
                                     "foob", "fooba", "foobar"};
static const char *const rfc_b64[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const rfc_b32[] = {
    "",         "MY======", "MZXQ====",        "MZXW6===",
    "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
static const char *const rfc_hex[] = {
    "", "66", "666F", "666F6F", "666F6F62", "666F6F6261", "666F6F626172"};

/* Decodes text with fn and checks the result is want. */
static void expect_decode(decode_fn fn, const char *text, const char *want)
{
    uint8_t out[64];
    size_t outlen = 99;
    ps_err err = {""};

    if (fn(text, strlen(text), out, sizeof(out), &outlen, &err) != 0)
        fail_msg("decoding \"%s\" failed: %s", text, err.msg);
    assert_int_equal(outlen, strlen(want));
    assert_memory_equal(out, want, outlen);
}

/* Decoding text with fn must fail with a message containing each of the
 * NULL-terminated fragments. */
static void expect_reject(decode_fn fn, const char *text, size_t outcap, ...)
{
    uint8_t out[64];
    size_t outlen = 0;
    ps_err err = {""};
    const char *frag;
    va_list ap;

    assert_true(outcap <= sizeof(out));
    if (fn(text, strlen(text), out, outcap, &outlen, &err) != -1)
        fail_msg("\"%s\" was accepted", text);
    va_start(ap, outcap);
    while ((frag = va_arg(ap, const char *)) != NULL)
        if (strstr(err.msg, frag) == NULL)
            fail_msg("\"%s\": error \"%s\" lacks \"%s\"", text, err.msg, frag);
    va_end(ap);
}

static void lower_copy(const char *s, char out[64])
{
    size_t k;

    for (k = 0; s[k] != '\0'; k++)
        out[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] | 0x20 : s[k]);
    out[k] = '\0';
}

typedef size_t (*encode_fn)(const uint8_t *in, size_t n, char *out);

/* Checks enc, its size function and dec against one RFC 4648 table.
 * enc_lower: the encoder writes lower case (hex); fold_case: the decoder
 * must also accept the table in lower case. */
static void check_rfc_table(const char *const table[7], encode_fn enc,
                            size_t (*size)(size_t), decode_fn dec,
                            int enc_lower, int fold_case)
{
    char out[64], lower[64];

    for (size_t i = 0; i < 7; i++) {
        size_t n = strlen(rfc_in[i]);

        lower_copy(table[i], lower);
        assert_int_equal(enc((const uint8_t *)rfc_in[i], n, out),
                         strlen(table[i]));
        assert_string_equal(out, enc_lower ? lower : table[i]);
        assert_int_equal(size(n), strlen(table[i]) + 1);
        expect_decode(dec, table[i], rfc_in[i]);
        if (fold_case)
            expect_decode(dec, lower, rfc_in[i]);
    }
}

static void test_b64_rfc4648(void **state)
{
    (void)state;
    check_rfc_table(rfc_b64, ps_b64_encode, ps_b64_encoded_size, ps_b64_decode,
                    0, 0);
    for (size_t i = 0; i < 7; i++)
        expect_decode(ps_b64url_decode, rfc_b64[i], rfc_in[i]);
}

static void test_b32_rfc4648(void **state)
{
    (void)state;
    check_rfc_table(rfc_b32, ps_b32_encode, ps_b32_encoded_size, ps_b32_decode,
                    0, 1);
}

static void test_hex_rfc4648(void **state)
{
    (void)state;
    check_rfc_table(rfc_hex, ps_hex_encode, ps_hex_encoded_size, ps_hex_decode,
                    1, 1);
}

static void test_b64url_forms(void **state)
{
    static const uint8_t bin[] = {0xfb, 0xff, 0xbf};
    char out[16];

    (void)state;
    assert_int_equal(ps_b64url_encode(bin, 3, out, 1), 4);
    assert_string_equal(out, "-_-_");
    assert_int_equal(ps_b64url_encode((const uint8_t *)"f", 1, out, 0), 2);
    assert_string_equal(out, "Zg");
    assert_int_equal(ps_b64url_encode((const uint8_t *)"fo", 2, out, 1), 4);
    assert_string_equal(out, "Zm8=");
    expect_decode(ps_b64url_decode, "Zg", "f");
    expect_decode(ps_b64url_decode, "Zm8", "fo");
    expect_decode(ps_b64url_decode, "Zm9vYg", "foob");
    expect_decode(ps_b64url_decode, "-_-_", "\xfb\xff\xbf");
    assert_int_equal(ps_b64_encode(bin, 3, out), 4);
    assert_string_equal(out, "+/+/");
}

/* Round trip of every length 0..300 through every encoder. */
static void roundtrip(const uint8_t *in, size_t n)
{
    char text[1024];
    uint8_t back[400];
    size_t len, outlen;
    ps_err err;

    len = ps_b64_encode(in, n, text);
    assert_int_equal(len + 1, ps_b64_encoded_size(n));
    assert_true(ps_b64_decoded_max(len) >= n);
    assert_int_equal(ps_b64_decode(text, len, back, n, &outlen, &err), 0);
    assert_int_equal(outlen, n);
    assert_memory_equal(back, in, n);
    for (int pad = 0; pad <= 1; pad++) {
        len = ps_b64url_encode(in, n, text, pad);
        assert_null(strpbrk(text, "+/"));
        assert_true(pad || strchr(text, '=') == NULL);
        assert_int_equal(ps_b64url_decode(text, len, back, n, &outlen, &err),
                         0);
        assert_int_equal(outlen, n);
        assert_memory_equal(back, in, n);
    }
    len = ps_b32_encode(in, n, text);
    assert_int_equal(len + 1, ps_b32_encoded_size(n));
    assert_true(ps_b32_decoded_max(len) >= n);
    assert_int_equal(ps_b32_decode(text, len, back, n, &outlen, &err), 0);
    assert_int_equal(outlen, n);
    assert_memory_equal(back, in, n);
    len = ps_hex_encode(in, n, text);
    assert_int_equal(len + 1, ps_hex_encoded_size(n));
    assert_int_equal(ps_hex_decode(text, len, back, n, &outlen, &err), 0);
    assert_int_equal(outlen, n);
    assert_memory_equal(back, in, n);
}

static void test_roundtrip_lengths(void **state)
{
    uint8_t in[300] = {0};
    unsigned seed = 12345;

    (void)state;
    for (size_t n = 0; n <= sizeof(in); n++) {
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (uint8_t)(seed >> 16);
        }
        roundtrip(in, n);
    }
    memset(in, 0xff, sizeof(in));
    roundtrip(in, sizeof(in));
    memset(in, 0, sizeof(in));
    roundtrip(in, sizeof(in));
}

static void test_b64_rejects(void **state)
{
    (void)state;
    expect_reject(ps_b64_decode, "Zm9v Yg==", 64, "whitespace", "offset 4",
                  NULL);
    expect_reject(ps_b64_decode, "Zm9vYg==\n", 64, "whitespace", "offset 8",
                  NULL);
    expect_reject(ps_b64_decode, "Zm9v*g==", 64, "outside the alphabet",
                  "offset 4", NULL);
    expect_reject(ps_b64_decode, "Zm9v-_==", 64, "outside the alphabet",
                  "offset 4", NULL);
    expect_reject(ps_b64_decode, "Zg==Zg==", 64, "padding '=' inside",
                  "offset 2", NULL);
    expect_reject(ps_b64_decode, "Zg", 64, "missing padding", NULL);
    expect_reject(ps_b64_decode, "Zm8", 64, "missing padding", NULL);
    expect_reject(ps_b64_decode, "Zg=", 64, "bad padding", NULL);
    expect_reject(ps_b64_decode, "Zg===", 64, "bad padding", NULL);
    expect_reject(ps_b64_decode, "Zm9v====", 64, "bad padding", NULL);
    expect_reject(ps_b64_decode, "====", 64, "bad padding", NULL);
    expect_reject(ps_b64_decode, "Z===", 64, "truncated", NULL);
    expect_reject(ps_b64_decode, "Zm9vY", 64, "truncated", NULL);
    expect_reject(ps_b64_decode, "Zh==", 64, "non-zero trailing bits",
                  "offset 1", NULL);
    expect_reject(ps_b64_decode, "Zm9=", 64, "non-zero trailing bits",
                  "offset 2", NULL);
    expect_reject(ps_b64_decode, "Zm9vYmFy", 5, "output too small", "need 6",
                  NULL);
    expect_reject(ps_b64_decode, "Zg==", 0, "output too small", NULL);
    expect_reject(ps_b64_decode, "\xc3\xa9", 64, "outside the alphabet",
                  "offset 0", NULL);
}

static void test_b64url_rejects(void **state)
{
    (void)state;
    expect_reject(ps_b64url_decode, "Zm9v+/", 64, "base64url",
                  "outside the alphabet", "offset 4", NULL);
    expect_reject(ps_b64url_decode, "Zg=", 64, "bad padding", NULL);
    expect_reject(ps_b64url_decode, "Z", 64, "truncated", NULL);
    expect_reject(ps_b64url_decode, "Zh", 64, "non-zero trailing bits", NULL);
    expect_reject(ps_b64url_decode, "Zm 9v", 64, "whitespace", "offset 2",
                  NULL);
    expect_reject(ps_b64url_decode, "Zm9vYg", 3, "output too small", NULL);
}

static void test_b32_rejects(void **state)
{
    (void)state;
    expect_reject(ps_b32_decode, "MZXW1===", 64, "base32",
                  "outside the alphabet", "offset 4", NULL);
    expect_reject(ps_b32_decode, "MZXW6==", 64, "bad padding", NULL);
    expect_reject(ps_b32_decode, "MY=", 64, "bad padding", NULL);
    expect_reject(ps_b32_decode, "M", 64, "truncated", NULL);
    expect_reject(ps_b32_decode, "MZX", 64, "truncated", NULL);
    expect_reject(ps_b32_decode, "MZXW6Y", 64, "truncated", NULL);
    expect_reject(ps_b32_decode, "MZ", 64, "non-zero trailing bits", "offset 1",
                  NULL);
    expect_reject(ps_b32_decode, "MZXW6\t", 64, "whitespace", "offset 5", NULL);
    expect_reject(ps_b32_decode, "MY==MY==", 64, "padding '=' inside",
                  "offset 2", NULL);
    expect_reject(ps_b32_decode, "MZXW6YTB", 4, "output too small", NULL);
    /* unpadded input is fine */
    expect_decode(ps_b32_decode, "MZXW6", "foo");
}

static void test_hex_rejects(void **state)
{
    (void)state;
    expect_reject(ps_hex_decode, "666", 64, "odd number of digits", NULL);
    expect_reject(ps_hex_decode, "66g6", 64, "hex", "outside the alphabet",
                  "offset 2", NULL);
    expect_reject(ps_hex_decode, "66 6F", 64, "whitespace", "offset 2", NULL);
    expect_reject(ps_hex_decode, "0x66", 64, "offset 1", NULL);
    expect_reject(ps_hex_decode, "666F6F", 2, "output too small", "need 3",
                  NULL);
}

/* Errors name the offset but never repeat the input: it may be a secret. */
static void test_errors_do_not_echo(void **state)
{
    uint8_t out[16];
    size_t outlen;
    ps_err err;

    (void)state;
    assert_int_equal(
        ps_b64_decode("c2Vj-XQ=", 8, out, sizeof(out), &outlen, &err), -1);
    assert_null(strstr(err.msg, "c2Vj"));
    assert_null(strchr(err.msg, '-'));
    assert_int_equal(
        ps_hex_decode("dead$eef", 8, out, sizeof(out), &outlen, &err), -1);
    assert_null(strstr(err.msg, "dead"));
    assert_null(strchr(err.msg, '$'));
}

/* Every byte value against the RFC 4648 alphabet strings: a character
 * decodes exactly when it is in the alphabet, to its position there. */
static void test_every_byte_value(void **state)
{
    static const char *const alpha[] = {
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"};
    (void)state;
    for (int c = 0; c < 256; c++) {
        char in[8];
        uint8_t out[8];
        size_t len;
        ps_err err = {""};
        for (int a = 0; a < 3; a++) {
            const char *pos = c != 0 ? strchr(alpha[a], c) : NULL;
            int rc;
            if (a < 2) {
                in[0] = (char)c; /* "cA==": 6 bits of c, then zeros */
                memcpy(in + 1, "A==", 3);
                rc = a == 0 ? ps_b64_decode(in, 4, out, sizeof(out), &len, &err)
                            : ps_b64url_decode(in, 2, out, sizeof(out), &len,
                                               &err);
                assert_int_equal(rc == 0, pos != NULL);
                if (pos != NULL)
                    assert_int_equal(out[0], (pos - alpha[a]) << 2);
            } else {
                /* "cA======": 5 bits of c, then zeros; lower case folds */
                in[0] = (char)c;
                memcpy(in + 1, "A======", 7);
                rc = ps_b32_decode(in, 8, out, sizeof(out), &len, &err);
                pos = c >= 'a' && c <= 'z' ? strchr(alpha[2], c - 32) : pos;
                assert_int_equal(rc == 0, pos != NULL);
                if (pos != NULL)
                    assert_int_equal(out[0], (pos - alpha[2]) << 3);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_rfc4648),
        cmocka_unit_test(test_b32_rfc4648),
        cmocka_unit_test(test_hex_rfc4648),
        cmocka_unit_test(test_b64url_forms),
        cmocka_unit_test(test_roundtrip_lengths),
        cmocka_unit_test(test_b64_rejects),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b32_rejects),
        cmocka_unit_test(test_hex_rejects),
        cmocka_unit_test(test_errors_do_not_echo),
        cmocka_unit_test(test_every_byte_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
