/* Unit tests for shared/mail/srs.c: the postsrsd/Mail::SRS vector, SRS1, case
 * folding, day-stamp expiry, wrong hashes, secret rotation, and both base64
 * alphabets on the verifying side. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/srs.h"

#define T0  1577836860 /* 2020-01-01, day stamp 2W */
#define DAY 86400
#define VEC "SRS0=vmyz=2W=otherdomain.com=test@example.com"

static ps_secrets *secrets(const char *text)
{
    ps_secrets *s = NULL;
    ps_err err;
    assert_int_equal(ps_secrets_parse(text, strlen(text), "t", &s, &err), 0);
    return s;
}

static int fwd(const char *sec, const char *dom, const char *in, time_t t,
               char *out)
{
    ps_secrets *s = secrets(sec);
    ps_srs_cfg cfg = {s, dom, 0};
    ps_err err;
    int rc = ps_srs_forward(&cfg, in, t, out, PS_SRS_OUT_MAX, &err);
    ps_secrets_free(s);
    return rc;
}

static int rev(const char *sec, const char *dom, const char *in, time_t t,
               char *out)
{
    ps_secrets *s = secrets(sec);
    ps_srs_cfg cfg = {s, dom, 0};
    ps_err err;
    int rc = ps_srs_reverse(&cfg, in, t, out, PS_SRS_ADDR_MAX, &err);
    ps_secrets_free(s);
    return rc;
}

static void test_vector(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX];
    assert_int_equal(
        fwd("tops3cr3t\n", "example.com", "test@otherdomain.com", T0, out),
        PS_SRS_REWRITTEN);
    assert_string_equal(out, VEC);
    assert_int_equal(rev("tops3cr3t\n", "example.com", VEC, T0, out), 0);
    assert_string_equal(out, "test@otherdomain.com");
}

static void test_srs1(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX], back[PS_SRS_ADDR_MAX];
    /* Mail::SRS 0.31 gives this for the same secret */
    assert_int_equal(fwd("tops3cr3t\n", "fwd2.example", VEC, T0, out), 0);
    assert_string_equal(
        out,
        "SRS1=JO9m=example.com==vmyz=2W=otherdomain.com=test@fwd2.example");
    assert_int_equal(rev("tops3cr3t\n", "fwd2.example", out, T0, back), 0);
    assert_string_equal(back, VEC);
    /* SRS1 forwarded again keeps the first forwarder, new hash only */
    char again[PS_SRS_OUT_MAX];
    assert_int_equal(fwd("tops3cr3t\n", "fwd3.example", out, T0, again), 0);
    assert_string_equal(
        again,
        "SRS1=JO9m=example.com==vmyz=2W=otherdomain.com=test@fwd3.example");
    assert_int_equal(
        fwd("tops3cr3t\n", "x.example", "SRS1=abcd@y.example", T0, again), -1);
}

static void test_case_insensitive(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX];
    assert_int_equal(rev("tops3cr3t\n", "example.com",
                         "SRS0=VMYZ=2W=OTHERDOMAIN.COM=TEST@EXAMPLE.COM", T0,
                         out),
                     0);
    assert_string_equal(out, "TEST@OTHERDOMAIN.COM");
    assert_int_equal(rev("tops3cr3t\n", "example.com",
                         "srs0+vmyz=2w=otherdomain.com=test@example.com", T0,
                         out),
                     0);
    assert_string_equal(out, "test@otherdomain.com");
}

static void test_expiry(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX];
    assert_int_equal(rev("tops3cr3t\n", "example.com", VEC, T0 + 21 * DAY, out),
                     0);
    assert_int_equal(rev("tops3cr3t\n", "example.com", VEC, T0 + 22 * DAY, out),
                     -1);
    /* a stamp from tomorrow wraps to 1023 days old */
    assert_int_equal(rev("tops3cr3t\n", "example.com", VEC, T0 - DAY, out), -1);
}

static void test_wrong(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX];
    const char *bad[] = {
        "SRS0=vmyy=2W=otherdomain.com=test@example.com",
        "SRS0=vmy=2W=otherdomain.com=test@example.com",
        "SRS0=vmyz=2W=otherdomain.com=tost@example.com",
        "SRS0=vmyz=2X=otherdomain.com=test@example.com",
        "SRS0=vmyz=2W=otherdomain.com=test@other.example",
        "SRS0=vmyz=2W@example.com",
        "SRS0=vmyz=2W=otherdomain.com=@example.com",
        "SRS1=ab.c=x==y@example.com",
        "test@example.com",
        "SRS0=vmyz=2W=otherdomain.com=te st@example.com",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(rev("tops3cr3t\n", "example.com", bad[i], T0, out),
                         -1);
    assert_int_equal(rev("other\n", "example.com", VEC, T0, out), -1);
}

static void test_rotation(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX];
    assert_int_equal(rev("n3w\ntops3cr3t\n", "example.com", VEC, T0, out), 0);
    assert_int_equal(
        fwd("n3w\ntops3cr3t\n", "example.com", "test@otherdomain.com", T0, out),
        0);
    assert_string_not_equal(out, VEC); /* the first secret signs */
}

static void test_unchanged(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX];
    assert_int_equal(
        fwd("tops3cr3t\n", "example.com", "a@EXAMPLE.com", T0, out),
        PS_SRS_UNCHANGED);
    assert_string_equal(out, "a@EXAMPLE.com");
    assert_int_equal(fwd("tops3cr3t\n", "example.com", "nodomain", T0, out),
                     -1);
}

/* postsrsd 1.10 writes '+' '/'; a base64url writer '-' '_': both verify. */
static void test_alphabets(void **state)
{
    (void)state;
    char out[PS_SRS_OUT_MAX], back[PS_SRS_ADDR_MAX], in[64];
    int seen = 0;
    for (int i = 0; i < 2000 && seen < 4; i++) {
        snprintf(in, sizeof in, "u%d@otherdomain.com", i);
        assert_int_equal(fwd("tops3cr3t\n", "example.com", in, T0, out), 0);
        char *h = out + 5;
        if (!memchr(h, '+', 4) && !memchr(h, '/', 4))
            continue;
        seen++;
        assert_int_equal(rev("tops3cr3t\n", "example.com", out, T0, back), 0);
        for (int j = 0; j < 4; j++)
            h[j] = h[j] == '+' ? '-' : h[j] == '/' ? '_' : h[j];
        assert_int_equal(rev("tops3cr3t\n", "example.com", out, T0, back), 0);
        assert_string_equal(back, in);
    }
    assert_true(seen > 0);
}

/* postsrsd's limit: an address read of up to 512 octets, whatever the
 * length of what forward writes (postsrsd's blackbox "long address"). */
static void test_length_limit(void **state)
{
    (void)state;
    char in[600], out[PS_SRS_OUT_MAX], back[PS_SRS_ADDR_MAX];
    size_t local = 512 - strlen("@otherdomain.com");

    memset(in, 'a', local);
    strcpy(in + local, "@otherdomain.com");
    assert_int_equal(strlen(in), 512);
    assert_int_equal(fwd("tops3cr3t\n", "example.com", in, T0, out), 0);
    assert_true(strlen(out) > 512);
    memset(in, 'a', local + 1);
    strcpy(in + local + 1, "@otherdomain.com");
    assert_int_equal(fwd("tops3cr3t\n", "example.com", in, T0, out), -1);
    /* what forward wrote from 512 octets reverses (postsrsd refuses it) */
    in[local] = '\0';
    strcat(in, "@otherdomain.com");
    assert_int_equal(fwd("tops3cr3t\n", "example.com", in, T0, out), 0);
    assert_int_equal(rev("tops3cr3t\n", "example.com", out, T0, back), 0);
    assert_string_equal(back, in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_srs1),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_wrong),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_unchanged),
        cmocka_unit_test(test_alphabets),
        cmocka_unit_test(test_length_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
