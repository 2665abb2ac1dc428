/* Unit tests for shared/mail/retpath.c: round trip, case folding, expiry and
 * clock skew, tampering with each field, secret rotation, the 64-octet
 * local-part bound and the references we refuse to encode. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <string.h>

#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/retpath.h"

#define T0  1700000000
#define DAY 86400
#define DOM "rp.example.com"

static ps_secrets *load(const char *text)
{
    ps_secrets *s = NULL;
    ps_err err;
    assert_int_equal(ps_secrets_parse(text, strlen(text), "t", &s, &err), 0);
    return s;
}

static void enc(const char *sec, const char *ref, time_t t, char *out)
{
    ps_secrets *s = load(sec);
    ps_retpath_cfg cfg = {s, DOM, 0};
    ps_err err;
    assert_int_equal(
        ps_retpath_encode(&cfg, ref, t, out, PS_RETPATH_ADDR_MAX, &err), 0);
    ps_secrets_free(s);
}

static int dec(const char *sec, const char *addr, time_t t,
               ps_retpath_token *tok)
{
    ps_secrets *s = load(sec);
    ps_retpath_cfg cfg = {s, DOM, 0};
    ps_err err;
    int rc = ps_retpath_decode(&cfg, addr, t, tok, &err);
    ps_secrets_free(s);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    char a[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    enc("k1\n", "4Xk9Tz2vQbz9sKL", T0, a);
    assert_memory_equal(a, "b.4Xk9Tz2vQbz9sKL.", 18);
    assert_non_null(strstr(a, "@" DOM));
    assert_true(strchr(a, '@') - a <= PS_RETPATH_LOCAL_MAX);
    for (const char *p = a; *p; p++) /* only characters every MTA takes */
        assert_true(isalnum((unsigned char)*p) || *p == '.' || *p == '@');
    assert_int_equal(dec("k1\n", a, T0, &tok), 0);
    assert_string_equal(tok.ref, "4Xk9Tz2vQbz9sKL");
    assert_int_equal(tok.issued, T0 / DAY * DAY);
}

static void test_case(void **state)
{
    (void)state;
    char a[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    enc("k1\n", "AbC123", T0, a);
    for (char *p = a; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    assert_int_equal(dec("k1\n", a, T0, &tok), 0);
    assert_string_equal(tok.ref, "ABC123");
    for (char *p = a; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    assert_int_equal(dec("k1\n", a, T0, &tok), 0);
}

static void test_expiry(void **state)
{
    (void)state;
    char a[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    enc("k1\n", "q1", T0, a);
    assert_int_equal(dec("k1\n", a, T0 + 7 * DAY, &tok), 0);
    assert_int_equal(dec("k1\n", a, T0 + 8 * DAY, &tok), -1);
    assert_int_equal(dec("k1\n", a, T0 - DAY, &tok), 0);      /* skew */
    assert_int_equal(dec("k1\n", a, T0 - 2 * DAY, &tok), -1); /* future */
    ps_secrets *s = load("k1\n");
    ps_retpath_cfg cfg = {s, DOM, 30};
    ps_err err;
    assert_int_equal(ps_retpath_decode(&cfg, a, T0 + 30 * DAY, &tok, &err), 0);
    ps_secrets_free(s);
}

static void test_tamper(void **state)
{
    (void)state;
    char a[PS_RETPATH_ADDR_MAX], b[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    enc("k1\n", "Msg42", T0, a);
    size_t at = (size_t)(strchr(a, '@') - a);
    for (size_t i = 0; i < at; i++) {
        if (a[i] == '.')
            continue;
        memcpy(b, a, sizeof b);
        b[i] = b[i] == 'z' || b[i] == 'Z' ? 'a' : b[i] == '9' ? '2' : b[i] + 1;
        if (tolower((unsigned char)b[i]) == tolower((unsigned char)a[i]))
            continue;
        assert_int_equal(dec("k1\n", b, T0, &tok), -1);
    }
    assert_int_equal(dec("k2\n", a, T0, &tok), -1);
    memcpy(b, a, sizeof b);
    strcpy(strchr(b, '@'), "@rp.other.example");
    assert_int_equal(dec("k1\n", b, T0, &tok), -1);
    const char *bad[] = {"",
                         "@" DOM,
                         "b.@" DOM,
                         "x.Msg42.aaaa.aaaaaaaaaa@" DOM,
                         "b.Msg42.aaaa.aaaaaaaaa@" DOM,
                         "b..aaaa.aaaaaaaaaa@" DOM,
                         "b.M-1.aaaa.aaaaaaaaaa@" DOM,
                         "b.Msg42.aaa1.aaaaaaaaaa@" DOM,
                         "b.Msg42aaaa.aaaaaaaaaaa@" DOM,
                         "nodomain"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(dec("k1\n", bad[i], T0, &tok), -1);
}

static void test_rotation(void **state)
{
    (void)state;
    char a[PS_RETPATH_ADDR_MAX], b[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    enc("old\n", "r1", T0, a);
    assert_int_equal(dec("new\nold\n", a, T0, &tok), 0);
    enc("new\nold\n", "r1", T0, b);
    assert_string_not_equal(a, b);
    assert_int_equal(dec("old\n", b, T0, &tok), -1);
}

static void test_refs(void **state)
{
    (void)state;
    ps_secrets *s = load("k1\n");
    ps_retpath_cfg cfg = {s, DOM, 0};
    char a[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    ps_err err;
    const char *bad[] = {"", "a.b", "a-b", "with space",
                         "abcdefghij0123456789x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ps_retpath_encode(&cfg, bad[i], T0, a, sizeof a, &err),
                         -1);
    assert_int_equal(
        ps_retpath_encode(&cfg, "abcdefghij0123456789", T0, a, sizeof a, &err),
        0);
    assert_true(strchr(a, '@') - a <= PS_RETPATH_LOCAL_MAX);
    assert_int_equal(ps_retpath_decode(&cfg, a, T0, &tok, &err), 0);
    assert_int_equal(ps_retpath_encode(&cfg, "abc", T0, a, 10, &err), -1);
    ps_secrets_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_case),
        cmocka_unit_test(test_expiry),     cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_rotation),   cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
