/* Unit tests for the DKIM signer (shared/dkim/sign.c and friends): the
 * shape of the DKIM-Signature values (tags, h= with oversigning, folding,
 * x=, never l=), chunking that changes nothing, the bounds and errors, and
 * RFC 8463 Appendix A.3 reproduced byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "dkim/dkim_int.h"
#include "base/encode.h"
#include "crypto/keys.h"
#include "dns/tagval.h"

static ps_key *rsa_key, *ed_key;

static int make_keys(void **state)
{
    ps_err err;

    (void)state;
    if (ps_key_generate(PS_KEY_RSA, 2048, &rsa_key, &err) != 0 ||
        ps_key_generate(PS_KEY_ED25519, 0, &ed_key, &err) != 0) {
        fprintf(stderr, "keygen: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int free_keys(void **state)
{
    (void)state;
    ps_key_free(rsa_key);
    ps_key_free(ed_key);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

typedef struct hdr {
    const char *name, *value;
} hdr;

static const hdr basic[] = {
    {"Received", " from a by b"},
    {"From", " Alice <alice@example.com>"},
    {"To", " bob@example.net"},
    {"To", " carol@example.net"},
    {"Subject", " hello"},
    {"Date", " Tue, 1 Jul 2025 10:00:00 +0000"},
    {"Message-ID", " <1@example.com>"},
    {"List-Id", " <list.example.com>"},
    {"List-Unsubscribe", " <mailto:leave@example.com>"},
    {"List-\xc3\xa9", " 8-bit name, never listed"},
    {"X-Mailer", " test"},
    {"Received", " from c by d"},
};
#define NBASIC (sizeof(basic) / sizeof(basic[0]))

/* Signs headers + body (cut into chunk-byte pieces, 0: whole) and returns
 * the values; fails the test on any error. */
static char **sign_ok(const ps_dkim_params *p, const ps_dkim_signer *sg,
                      size_t nsg, const hdr *h, size_t nh, const char *body,
                      size_t chunk, time_t now)
{
    ps_err err = {""};
    ps_dkim_sign *s = ps_dkim_sign_new(p, sg, nsg, now, &err);
    size_t len = strlen(body), count = 0;
    char **values = NULL;

    if (s == NULL)
        fail_msg("new: %s", err.msg);
    for (size_t i = 0; i < nh; i++)
        if (ps_dkim_sign_header(s, h[i].name, h[i].value, &err) != 0)
            fail_msg("header %s: %s", h[i].name, err.msg);
    for (size_t off = 0; off < len; off += chunk ? chunk : len)
        if (ps_dkim_sign_body(s, (const uint8_t *)body + off,
                              chunk && len - off > chunk ? chunk : len - off,
                              &err) != 0)
            fail_msg("body: %s", err.msg);
    if (ps_dkim_sign_final(s, &values, &count, &err) != 0)
        fail_msg("final: %s", err.msg);
    assert_int_equal(count, nsg);
    ps_dkim_sign_free(s);
    return values;
}

static void free_values(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The value of a tag with all whitespace removed, malloc'd; NULL if the
 * tag is absent. */
static char *tag_of(const char *value, const char *name)
{
    ps_tagval tv;
    ps_err err = {""};
    const ps_tag *t;

    if (ps_tagval_parse(value, strlen(value), &tv, &err) != 0)
        fail_msg("unparsable value: %s\n%s", err.msg, value);
    t = ps_tagval_find(&tv, name);
    return t != NULL ? ps_tagval_strip_ws(t) : NULL;
}

static void tag_is(const char *value, const char *name, const char *want)
{
    char *got = tag_of(value, name);

    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("%s= is \"%s\", want \"%s\"", name, got ? got : "(absent)",
                 want);
    free(got);
}

/* Folded as promised: CRLF only before a TAB, lines within 78 columns
 * (a TAB counted as 8), and the value starting with a space. */
static void check_folding(const char *v)
{
    size_t col = strlen("DKIM-Signature:");

    assert_true(v[0] == ' ');
    for (const char *p = v; *p; p++) {
        if (*p == '\r') {
            assert_true(p[1] == '\n' && p[2] == '\t');
            p += 2;
            col = 8;
            continue;
        }
        assert_true(*p != '\n');
        if (++col > 78)
            fail_msg("line longer than 78 columns in:\n%s", v);
    }
}

static char *sha256_b64(const char *s)
{
    uint8_t md[32];
    unsigned int n;
    char *out = malloc(64);

    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    ps_b64_encode(md, n, out);
    return out;
}

/* ---- the produced header --------------------------------------------------
 */

static void two_keys_default_lists(void **state)
{
    ps_dkim_signer sg[2] = {{rsa_key, "example.com", "s2026r"},
                            {ed_key, "example.com", "s2026e"}};
    char **v = sign_ok(NULL, sg, 2, basic, NBASIC, "Hello\r\n", 0, 1700000000);
    char *bh = sha256_b64("Hello\r\n");

    (void)state;
    for (int i = 0; i < 2; i++) {
        check_folding(v[i]);
        tag_is(v[i], "v", "1");
        tag_is(v[i], "a", i == 0 ? "rsa-sha256" : "ed25519-sha256");
        tag_is(v[i], "c", "relaxed/relaxed");
        tag_is(v[i], "d", "example.com");
        tag_is(v[i], "s", i == 0 ? "s2026r" : "s2026e");
        tag_is(v[i], "t", "1700000000");
        tag_is(v[i], "bh", bh);
        tag_is(v[i], "h",
               "From:To:To:Subject:Date:Message-ID:List-Id:"
               "List-Unsubscribe:From:To:Cc:Subject:Date:"
               "Reply-To");
        assert_null(tag_of(v[i], "l"));
        assert_null(tag_of(v[i], "x"));
        char *b = tag_of(v[i], "b");
        assert_int_equal(strlen(b), i == 0 ? 344 : 88);
        free(b);
    }
    free(bh);
    free_values(v, 2);
}

static void expiry_and_simple(void **state)
{
    ps_dkim_params p = {PS_CANON_SIMPLE, PS_CANON_SIMPLE, NULL, 0, NULL, 0,
                        7 * 86400};
    ps_dkim_signer sg = {ed_key, "mail.example.org", "sel.sub"};
    char **v = sign_ok(&p, &sg, 1, basic, NBASIC, "", 0, 1700000000);

    (void)state;
    tag_is(v[0], "c", "simple/simple");
    tag_is(v[0], "x", "1700604800");
    tag_is(v[0], "s", "sel.sub");
    tag_is(v[0], "bh", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    free_values(v, 1);
}

/* Lists of our own: no oversigning, a header missing from the message is
 * not listed, case and the whitespace before ':' do not matter. */
static void custom_lists(void **state)
{
    static const char *const sign[] = {"from", "subject", "x-absent", "x-*"};
    static const hdr h[] = {{"FROM", " a@example.com"},
                            {"Subject \t", " s"},
                            {"X-One", " 1"},
                            {"x-two", " 2"},
                            {"X-One", " 3"}};
    ps_dkim_params p = {
        PS_CANON_RELAXED, PS_CANON_RELAXED, sign, 4, sign, 0, 0};
    ps_dkim_signer sg = {ed_key, "example.com", "s"};
    char **v = sign_ok(&p, &sg, 1, h, 5, "x\r\n", 0, 1);

    (void)state;
    tag_is(v[0], "h", "from:subject:X-One:X-One:x-two");
    free_values(v, 1);
}

/* Ed25519 and RSA PKCS#1 v1.5 are deterministic: any chunking of the body
 * must give the very same header, byte for byte. */
static void chunking_changes_nothing(void **state)
{
    static const char body[] = "line one  \r\n\tindented\r\n\r\n \r\n"
                               "bare lf\nlast without end \t";
    ps_dkim_signer sg[2] = {{ed_key, "example.com", "e"},
                            {rsa_key, "example.com", "r"}};
    static const ps_canon canons[] = {PS_CANON_SIMPLE, PS_CANON_RELAXED};

    (void)state;
    for (int c = 0; c < 2; c++) {
        ps_dkim_params p = {canons[c], canons[c], NULL, 0, NULL, 0, 0};
        char **whole = sign_ok(&p, sg, 2, basic, NBASIC, body, 0, 5);
        for (size_t chunk = 1; chunk < sizeof(body); chunk++) {
            char **v = sign_ok(&p, sg, 2, basic, NBASIC, body, chunk, 5);
            assert_string_equal(v[0], whole[0]);
            assert_string_equal(v[1], whole[1]);
            free_values(v, 2);
        }
        free_values(whole, 2);
    }
}

/* ---- refusals and bounds ----------------------------------------------------
 */

static void expect_new_fails(const ps_dkim_params *p, const ps_dkim_signer *sg,
                             size_t n, const char *frag)
{
    ps_err err = {""};

    assert_null(ps_dkim_sign_new(p, sg, n, 0, &err));
    if (strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, frag);
}

static void bad_setups(void **state)
{
    ps_dkim_signer sg[5];
    static const char *const nofrom[] = {"To", "Subject"};
    static const char *const colon[] = {"From", "X:Y"};
    const char *many[PS_DKIM_MAX_SIGNED + 1];
    ps_dkim_params p = {0};

    (void)state;
    for (int i = 0; i < 5; i++)
        sg[i] = (ps_dkim_signer){ed_key, "example.com", "s"};
    expect_new_fails(NULL, sg, 0, "1 to 4 keys");
    expect_new_fails(NULL, sg, 5, "1 to 4 keys");
    expect_new_fails(NULL, NULL, 1, "1 to 4 keys");
    sg[0].key = NULL;
    expect_new_fails(NULL, sg, 1, "has no key");
    sg[0] = (ps_dkim_signer){ed_key, "exa mple.com", "s"};
    expect_new_fails(NULL, sg, 1, "not a domain name");
    sg[0] = (ps_dkim_signer){ed_key, "example.com", ""};
    expect_new_fails(NULL, sg, 1, "not a valid selector");
    sg[0] = (ps_dkim_signer){ed_key, "example.com", "a;b"};
    expect_new_fails(NULL, sg, 1, "not a valid selector");
    sg[0] = (ps_dkim_signer){ed_key, "example..com", "s"};
    expect_new_fails(NULL, sg, 1, "not a domain name");
    sg[0] = (ps_dkim_signer){ed_key, "example.com", "s"};
    p.sign_headers = nofrom;
    p.nsign_headers = 2;
    expect_new_fails(&p, sg, 1, "must name From");
    p.sign_headers = colon;
    expect_new_fails(&p, sg, 1, "\"X:Y\" is not a header field name");
    for (int i = 0; i <= PS_DKIM_MAX_SIGNED; i++)
        many[i] = "From";
    p.sign_headers = many;
    p.nsign_headers = PS_DKIM_MAX_SIGNED + 1;
    expect_new_fails(&p, sg, 1, "at most 64");
    p.nsign_headers = 1;
    p.expire_after = -1;
    expect_new_fails(&p, sg, 1, "negative");
    p.expire_after = (time_t)1 << 40;
    expect_new_fails(&p, sg, 1, "longer");
    assert_null(ps_dkim_sign_new(NULL, sg, 1, -1, NULL));
}

/* A context with the default lists and the Ed25519 key (the signer is
 * copied in: it need not outlive the call). */
static ps_dkim_sign *new_ed_context(ps_err *err)
{
    ps_dkim_signer sg = {ed_key, "example.com", "s"};
    ps_dkim_sign *s = ps_dkim_sign_new(NULL, &sg, 1, 0, err);

    assert_non_null(s);
    return s;
}

static void order_and_missing_from(void **state)
{
    ps_err err = {""};
    ps_dkim_sign *s = new_ed_context(&err);
    char **v;
    size_t n;

    (void)state;
    assert_int_equal(ps_dkim_sign_header(s, "To", " x@example.com", &err), 0);
    assert_int_equal(ps_dkim_sign_header(s, " ", " x", &err), -1);
    assert_non_null(strstr(err.msg, "empty name"));
    assert_int_equal(ps_dkim_sign_body(s, (const uint8_t *)"hi\r\n", 4, &err),
                     0);
    assert_int_equal(ps_dkim_sign_header(s, "From", " a@example.com", &err),
                     -1);
    assert_non_null(strstr(err.msg, "after the body"));
    assert_int_equal(ps_dkim_sign_final(s, &v, &n, &err), -1);
    assert_non_null(strstr(err.msg, "no From header"));
    assert_null(v);
    assert_int_equal(ps_dkim_sign_final(s, &v, &n, &err), -1);
    assert_non_null(strstr(err.msg, "already signed"));
    ps_dkim_sign_free(s);
}

static void header_count_bound(void **state)
{
    ps_err err = {""};
    ps_dkim_sign *s = new_ed_context(&err);
    char **v;
    size_t n;

    (void)state;
    assert_int_equal(ps_dkim_sign_header(s, "From", " a@example.com", &err), 0);
    for (int i = 1; i < PS_DKIM_MAX_HEADERS; i++)
        assert_int_equal(
            ps_dkim_sign_header(s, i % 2 ? "Received" : "To", " x", &err), 0);
    assert_int_equal(ps_dkim_sign_header(s, "X-Last", " x", &err), -1);
    assert_non_null(strstr(err.msg, "more than 1000 header fields"));
    /* the 999 fields kept (half of them To) still sign */
    assert_int_equal(ps_dkim_sign_final(s, &v, &n, &err), 0);
    free_values(v, n);
    ps_dkim_sign_free(s);
}

static void header_bytes_bound(void **state)
{
    ps_err err = {""};
    ps_dkim_sign *s = new_ed_context(&err);
    size_t big = PS_DKIM_MAX_HEADER_BYTES / 2 + 10;
    char *value = malloc(big + 1);

    (void)state;
    memset(value, 'a', big);
    value[0] = ' ';
    value[big] = '\0';
    /* fields that are not signed are not kept, whatever their size */
    assert_int_equal(ps_dkim_sign_header(s, "X-Big", value, &err), 0);
    assert_int_equal(ps_dkim_sign_header(s, "X-Big", value, &err), 0);
    assert_int_equal(ps_dkim_sign_header(s, "Subject", value, &err), 0);
    assert_int_equal(ps_dkim_sign_header(s, "Subject", value, &err), -1);
    assert_non_null(strstr(err.msg, "exceed"));
    free(value);
    ps_dkim_sign_free(s);
}

/* ---- RFC 8463 Appendix A.3
 * ---------------------------------------------------- */

static const char rfc_ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

static const char rfc_rsa_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
    "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
    "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
    "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
    "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
    "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
    "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
    "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
    "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
    "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
    "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
    "-----END RSA PRIVATE KEY-----\n";

static const hdr rfc_hdrs[] = {
    {"From", " Joe SixPack <joe@football.example.com>"},
    {"To", " Suzie Q <suzie@shopping.example.net>"},
    {"Subject", " Is dinner ready?"},
    {"Date", " Fri, 11 Jul 2003 21:00:37 -0700 (PDT)"},
    {"Message-ID", " <20030712040037.46341.5F8J@football.example.com>"},
};

static const char rfc_body[] =
    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n\r\n";

static const char rfc_bh[] = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

/* Each signature as published, up to "b=", and its b= value. */
static const struct {
    const char *head, *b;
} rfc_sigs[] = {
    {" v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
     " d=football.example.com; i=@football.example.com;\r\n"
     " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
     " subject : date : message-id : from : subject : date;\r\n"
     " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
     " b=",
     "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
     "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="},
    {" v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
     " d=football.example.com; i=@football.example.com;\r\n"
     " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
     " date : message-id : from : subject : date;\r\n"
     " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
     " b=",
     "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3"
     "DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz"
     "dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8="},
};

static ps_key *parse_key(const char *pem)
{
    ps_key *k = NULL;
    ps_err err = {""};

    if (ps_key_parse_pem(pem, strlen(pem), "rfc8463", &k, &err) != 0)
        fail_msg("%s", err.msg);
    return k;
}

/* The signing step fed the RFC's own DKIM-Signature text: header
 * canonicalisation plus each algorithm must give the published b=. */
static void rfc8463_signatures_byte_for_byte(void **state)
{
    ps_key *keys[2] = {parse_key(rfc_ed_pem), parse_key(rfc_rsa_pem)};

    (void)state;
    for (int i = 0; i < 2; i++) {
        ps_dkim_buf hd = {.max = 1 << 16}, sig = {.max = 1 << 16};
        uint8_t raw[PS_DKIM_SIG_MAX];
        char b64[PS_DKIM_SIG_MAX * 2];
        size_t rawlen;
        ps_err err = {""};

        for (size_t j = 0; j < sizeof(rfc_hdrs) / sizeof(rfc_hdrs[0]); j++)
            ps_dkim_canon_header(PS_CANON_RELAXED, rfc_hdrs[j].name,
                                 strlen(rfc_hdrs[j].name), rfc_hdrs[j].value,
                                 strlen(rfc_hdrs[j].value), &hd);
        ps_dkim_canon_header(PS_CANON_RELAXED, "DKIM-Signature", 14,
                             rfc_sigs[i].head, strlen(rfc_sigs[i].head), &sig);
        assert_int_equal(ps_dkim_crypto_sign(keys[i], hd.data, hd.len, sig.data,
                                             sig.len - 2, raw, &rawlen, &err),
                         0);
        ps_b64_encode(raw, rawlen, b64);
        assert_string_equal(b64, rfc_sigs[i].b);
        ps_dkim_buf_free(&hd);
        ps_dkim_buf_free(&sig);
        ps_key_free(keys[i]);
    }
}

/* Through the public API: the RFC's h= order and bh= at the RFC's t=. */
static void rfc8463_through_the_api(void **state)
{
    static const char *const sign[] = {"from", "to", "subject", "date",
                                       "message-id"};
    static const char *const over[] = {"from", "subject", "date"};
    ps_dkim_params p = {
        PS_CANON_RELAXED, PS_CANON_RELAXED, sign, 5, over, 3, 0};
    ps_key *k = parse_key(rfc_ed_pem);
    ps_dkim_signer sg = {k, "football.example.com", "brisbane"};
    char **v = sign_ok(&p, &sg, 1, rfc_hdrs, 5, rfc_body, 7, 1528637909);

    (void)state;
    tag_is(v[0], "h", "from:to:subject:date:message-id:from:subject:date");
    tag_is(v[0], "bh", rfc_bh);
    tag_is(v[0], "t", "1528637909");
    free_values(v, 1);
    ps_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_keys_default_lists),
        cmocka_unit_test(expiry_and_simple),
        cmocka_unit_test(custom_lists),
        cmocka_unit_test(chunking_changes_nothing),
        cmocka_unit_test(bad_setups),
        cmocka_unit_test(order_and_missing_from),
        cmocka_unit_test(header_count_bound),
        cmocka_unit_test(header_bytes_bound),
        cmocka_unit_test(rfc8463_signatures_byte_for_byte),
        cmocka_unit_test(rfc8463_through_the_api),
    };

    return cmocka_run_group_tests(tests, make_keys, free_keys);
}
