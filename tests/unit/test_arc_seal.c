/* Unit tests for shared/arc/seal.c and the ARC pieces of shared/dkim: the
 * instance a seal gets, the cv= rules, the stops (instance 50, a cv=fail
 * seal), the three field texts, and what the sealer refuses. The
 * signatures themselves are checked by dkimpy and Mail::DKIM in
 * tests/integration/test_arc_seal.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/arc_seal.h"
#include "crypto/keys.h"

#define NOW 1700000000

static ps_key *key;

typedef struct field {
    const char *name, *value;
} field;

static const field base[] = {
    {"From", " Alice <alice@example.org>"},
    {"To", " bob@example.net"},
    {"Subject", " hello"},
};

static int setup(void **state)
{
    ps_err err;

    (void)state;
    return ps_key_generate(PS_KEY_ED25519, 0, &key, &err);
}

static int teardown(void **state)
{
    (void)state;
    ps_key_free(key);
    return 0;
}

/* Seals fields + base with cv; returns ps_arc_seal_final's answer. */
static int seal(const field *f, size_t n, ps_arc_seal_cv cv,
                const char *authres, ps_arc_seal_out *out, ps_err *err)
{
    ps_dkim_signer sg = {key, "fwd.example.com", "arce"};
    ps_arc_sealer *s = ps_arc_seal_new(NULL, &sg, NOW, err);
    int rc = 0;

    assert_non_null(s);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ps_arc_seal_header(s, f[i].name, f[i].value, err);
    for (size_t i = 0; i < 3 && rc == 0; i++)
        rc = ps_arc_seal_header(s, base[i].name, base[i].value, err);
    if (rc == 0)
        rc = ps_arc_seal_body(s, (const uint8_t *)"hi\r\n", 4, err);
    if (rc == 0)
        rc = ps_arc_seal_final(s, cv, authres, out, err);
    ps_arc_seal_free(s);
    return rc;
}

static void test_first_set(void **state)
{
    ps_arc_seal_out o;
    ps_err err;

    (void)state;
    assert_int_equal(seal(NULL, 0, PS_ARC_SEAL_CV_NONE,
                          " mx.example.com; spf=pass", &o, &err),
                     0);
    assert_int_equal(o.outcome, PS_ARC_SEAL_SEALED);
    assert_int_equal(o.instance, 1);
    assert_string_equal(o.aar, " i=1; mx.example.com; spf=pass");
    assert_memory_equal(o.ams, " i=1; a=ed25519-sha256; c=relaxed/relaxed;",
                        42);
    assert_null(strstr(o.ams, "v=1"));
    assert_non_null(strstr(o.ams, "bh="));
    assert_memory_equal(o.as,
                        " i=1; cv=none; a=ed25519-sha256; "
                        "d=fwd.example.com; s=arce;",
                        59);
    assert_non_null(strstr(o.as, "t=1700000000;"));
    assert_null(strstr(o.as, "h="));
    ps_arc_seal_out_free(&o);
}

static void test_cv_rules(void **state)
{
    ps_arc_seal_out o, o2;
    ps_err err;

    (void)state;
    assert_int_equal(seal(NULL, 0, PS_ARC_SEAL_CV_PASS, "mx; none", &o, &err),
                     -1);
    assert_non_null(strstr(err.msg, "cv= must be none"));
    assert_int_equal(seal(NULL, 0, PS_ARC_SEAL_CV_NONE, "mx; none", &o, &err),
                     0);
    field chain[3] = {{"ARC-Seal", o.as},
                      {"ARC-Message-Signature", o.ams},
                      {"ARC-Authentication-Results", o.aar}};
    assert_int_equal(seal(chain, 3, PS_ARC_SEAL_CV_NONE, "mx; none", &o2, &err),
                     -1);
    assert_non_null(strstr(err.msg, "must be pass or fail"));
    assert_int_equal(
        seal(chain, 3, PS_ARC_SEAL_CV_PASS, "mx; arc=pass", &o2, &err), 0);
    assert_int_equal(o2.instance, 2);
    assert_memory_equal(o2.as, " i=2; cv=pass;", 14);
    ps_arc_seal_out_free(&o2);
    /* a chain whose latest seal failed gets nothing more */
    assert_int_equal(
        seal(chain, 3, PS_ARC_SEAL_CV_FAIL, "mx; arc=fail", &o2, &err), 0);
    field failed[6] = {{"ARC-Seal", o2.as},
                       {"ARC-Message-Signature", o2.ams},
                       {"ARC-Authentication-Results", o2.aar},
                       chain[0],
                       chain[1],
                       chain[2]};
    ps_arc_seal_out o3;
    assert_int_equal(
        seal(failed, 6, PS_ARC_SEAL_CV_FAIL, "mx; arc=fail", &o3, &err), 0);
    assert_int_equal(o3.outcome, PS_ARC_SEAL_FAILED);
    assert_null(o3.as);
    ps_arc_seal_out_free(&o2);
    ps_arc_seal_out_free(&o);
}

static void test_broken_sets(void **state)
{
    static const field half[2] = {
        {"ARC-Seal", " i=1; cv=none; a=rsa-sha256; d=x; s=s; b=AA"},
        {"ARC-Message-Signature",
         " i=1; a=rsa-sha256; d=x; s=s; h=from; bh=AA; b=AA"}};
    ps_arc_seal_out o;
    ps_err err;

    (void)state;
    assert_int_equal(
        seal(half, 2, PS_ARC_SEAL_CV_PASS, "mx; arc=pass", &o, &err), -1);
    assert_non_null(strstr(err.msg, "cv=pass refused"));
    assert_int_equal(
        seal(half, 2, PS_ARC_SEAL_CV_FAIL, "mx; arc=fail", &o, &err), 0);
    assert_int_equal(o.instance, 2);
    ps_arc_seal_out_free(&o);
}

static void test_fifty(void **state)
{
    static char text[150][96];
    field f[150];
    ps_arc_seal_out o;
    ps_err err;

    (void)state;
    for (int i = 0; i < 50; i++) {
        snprintf(text[3 * i], 96, " i=%d; cv=%s; a=rsa-sha256; d=x; s=s; b=AA",
                 50 - i, i == 49 ? "none" : "pass");
        snprintf(text[3 * i + 1], 96,
                 " i=%d; a=rsa-sha256; d=x; s=s; h=from; bh=AA; b=AA", 50 - i);
        snprintf(text[3 * i + 2], 96, " i=%d; mx; none", 50 - i);
        f[3 * i] = (field){"ARC-Seal", text[3 * i]};
        f[3 * i + 1] = (field){"ARC-Message-Signature", text[3 * i + 1]};
        f[3 * i + 2] = (field){"ARC-Authentication-Results", text[3 * i + 2]};
    }
    assert_int_equal(
        seal(f, 150, PS_ARC_SEAL_CV_PASS, "mx; arc=pass", &o, &err), 0);
    assert_int_equal(o.outcome, PS_ARC_SEAL_AT_LIMIT);
    /* 49 sets: the 50th may still be added */
    assert_int_equal(
        seal(f + 3, 147, PS_ARC_SEAL_CV_PASS, "mx; arc=pass", &o, &err), 0);
    assert_int_equal(o.outcome, PS_ARC_SEAL_SEALED);
    assert_int_equal(o.instance, 50);
    ps_arc_seal_out_free(&o);
}

static void test_refused(void **state)
{
    ps_dkim_signer sg = {key, "fwd.example.com", "arce"};
    ps_dkim_field f = {"ARC-Authentication-Results", " i=1; mx; none"};
    ps_arc_seal_out o;
    ps_arc_seal_cv cv;
    char *v = NULL;
    ps_err err;

    (void)state;
    assert_int_equal(
        seal(NULL, 0, PS_ARC_SEAL_CV_NONE, "mx; none\r\nX: 1", &o, &err), -1);
    assert_int_equal(seal(NULL, 0, PS_ARC_SEAL_CV_NONE, "", &o, &err), -1);
    /* folding is fine */
    assert_int_equal(
        seal(NULL, 0, PS_ARC_SEAL_CV_NONE, "mx;\r\n\tspf=none", &o, &err), 0);
    ps_arc_seal_out_free(&o);
    assert_int_equal(ps_dkim_seal(&sg, NOW, 0, "none", &f, 1, &v, &err), -1);
    assert_int_equal(ps_dkim_seal(&sg, NOW, 51, "none", &f, 1, &v, &err), -1);
    assert_int_equal(ps_dkim_seal(&sg, NOW, 1, "maybe", &f, 1, &v, &err), -1);
    assert_null(v);
    assert_int_equal(ps_arc_seal_cv_parse("pass", &cv), 0);
    assert_int_equal(cv, PS_ARC_SEAL_CV_PASS);
    assert_int_equal(ps_arc_seal_cv_parse("PASS", &cv), -1);
    assert_null(
        ps_arc_seal_new(NULL, &(ps_dkim_signer){NULL, "a", "b"}, NOW, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_set),   cmocka_unit_test(test_cv_rules),
        cmocka_unit_test(test_broken_sets), cmocka_unit_test(test_fifty),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
