/* Unit tests for shared/mail/authres.c: our Authentication-Results field in
 * RFC 8601 form, values from the message quoted so they cannot add
 * results or end the field, and the authserv-id of existing fields read
 * through comments and quotes to find forgeries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mail/authres.h"

static char *format_ok(const char *id, const ps_authres_result *r, size_t n)
{
    char *out = NULL;
    ps_err err = {""};

    if (ps_authres_format(id, r, n, &out, &err) != 0)
        fail_msg("refused: %s", err.msg);
    return out;
}

static void test_format(void **state)
{
    ps_authres_result r[2] = {
        {"dkim",
         "pass",
         NULL,
         NULL,
         {{"header.d", "example.org"},
          {"header.s", "sel"},
          {"header.a", "ed25519-sha256"},
          {"header.b", "ab/+CDEF"}},
         4},
        {"spf",
         "softfail",
         NULL,
         NULL,
         {{"smtp.mailfrom", "bob@example.org"}},
         1},
    };
    char *v = format_ok("mx.example.com", r, 2);

    (void)state;
    assert_string_equal(v, " mx.example.com;\r\n"
                           "\tdkim=pass header.d=example.org header.s=sel "
                           "header.a=ed25519-sha256 header.b=\"ab/+CDEF\";\r\n"
                           "\tspf=softfail smtp.mailfrom=bob@example.org");
    free(v);
    v = format_ok("mx", NULL, 0);
    assert_string_equal(v, " mx; none");
    free(v);
}

static void test_hostile_values(void **state)
{
    ps_authres_result r = {"spf",
                           "fail",
                           "a \"quoted\" reason",
                           NULL,
                           {{"smtp.mailfrom", "x;\r\n\tdkim=pass\"\\@evil"}},
                           1};
    char *v = format_ok("mx", &r, 1);

    (void)state;
    assert_string_equal(v, " mx;\r\n\tspf=fail reason=\"a \\\"quoted\\\" "
                           "reason\" smtp.mailfrom=\"x;???dkim=pass\\\"\\\\"
                           "@evil\"");
    assert_null(strchr(v + 6, '\n')); /* one line per result, no more */
    free(v);
    r.props[0].value = "\"odd local\"@example.org";
    v = format_ok("mx", &r, 1);
    assert_non_null(
        strstr(v, "smtp.mailfrom=\"\\\"odd local\\\"@example.org\""));
    free(v);
    r.props[0].value = "";
    v = format_ok("mx", &r, 1);
    assert_non_null(strstr(v, "smtp.mailfrom=\"\""));
    free(v);
    r.comment = "l=10: only the first 10 body octets are signed";
    v = format_ok("mx", &r, 1);
    assert_non_null(strstr(v, "spf=fail (l=10: only the first 10 body octets "
                              "are signed) reason="));
    free(v);
}

static void test_format_refused(void **state)
{
    ps_authres_result bad_method = {"dk im", "pass", NULL, NULL, {{0}}, 0};
    ps_authres_result bad_prop = {
        "dkim", "pass", NULL, NULL, {{"noperiod", "x"}}, 1};
    ps_authres_result bad_comment = {"dkim",      "pass", NULL,
                                     "a (nested", {{0}},  0};
    char *out = NULL;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_authres_format("mx;evil", NULL, 0, &out, &err), -1);
    assert_int_equal(ps_authres_format("mx", &bad_method, 1, &out, &err), -1);
    assert_int_equal(ps_authres_format("mx", &bad_prop, 1, &out, &err), -1);
    assert_int_equal(ps_authres_format("mx", &bad_comment, 1, &out, &err), -1);
    assert_null(out);
}

static void expect_id(const char *value, const char *want)
{
    char id[64];

    if (want == NULL) {
        assert_int_equal(
            ps_authres_authserv_id(value, strlen(value), id, sizeof(id)), -1);
        return;
    }
    assert_int_equal(
        ps_authres_authserv_id(value, strlen(value), id, sizeof(id)), 0);
    assert_string_equal(id, want);
}

static void test_authserv_id(void **state)
{
    (void)state;
    expect_id(" mx.example.com; spf=pass", "mx.example.com");
    expect_id(" mx.example.com 1; none", "mx.example.com");
    expect_id("\r\n\t(comment (nested)) MX.Example.COM;dkim=pass",
              "MX.Example.COM");
    expect_id(" \"mx.example.com\"; none", "mx.example.com");
    expect_id(" ; none", NULL);
    expect_id(" (unclosed mx.example.com; none", NULL);
    expect_id("", NULL);
    expect_id(" \"\t\"; none", NULL);
    assert_int_equal(ps_authres_authserv_id("\"\0\0-\";", 6, (char[8]){0}, 8),
                     -1); /* found by fuzz_authres */
    assert_true(
        ps_authres_is_ours(" MX.example.com; dkim=pass", 26, "mx.example.com"));
    assert_false(ps_authres_is_ours(" mx.example.com.evil; dkim=pass", 31,
                                    "mx.example.com"));
    assert_false(ps_authres_is_ours(" other; dkim=pass", 17, "mx"));
}

static void test_id_bound(void **state)
{
    char big[400], id[16];

    (void)state;
    memset(big, 'a', sizeof(big));
    assert_int_equal(ps_authres_authserv_id(big, sizeof(big), id, sizeof(id)),
                     -1);
    assert_false(ps_authres_is_ours(big, sizeof(big), "aaa"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_format_refused),
        cmocka_unit_test(test_authserv_id),
        cmocka_unit_test(test_id_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
