/* Unit tests for the pieces of ARC validation below the chain decision:
 * key records (key.c), c= (sig.c), what an ARC-Authentication-Results
 * recorded and which trusted sealer may vouch (trust.c). The chain itself
 * is checked against ValiMail's suite, dkimpy and Mail::DKIM in
 * tests/integration/test_milter_arc.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/arc_int.h"

#define RSA1024                                                                \
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQClP2LPnBPkBZ+aNDNRE2byQkHcDQI4lGd+" \
    "uGdTLdqKilZloXjSonaUIc/"                                                  \
    "qrBB8QIiyNOKXs+p1KDGgqZ5Ykchc3KRsH8zHUD4D6ZNWhx+qQyj3N7IaSJSC/"           \
    "o6Zaqn9idSk9on6iU86qckxwTQwt5GBnEddyxyl64Vzg69TFv/QLQIDAQAB"
#define RSA512                                                                 \
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALVHB9fKhq3fuayFQDkPfys89pJRSlBL6fuSkq/"  \
    "TYllYNaR9gm32dDK77mhNvMsmmu0O45VAuvNTtzM+5vLjBR8CAwEAAQ=="
#define ED25519 "Euzqoc2zb/ui6NM6V87yunGj0A0dcbg905W8r/kL/vQ="

static int key_ok(const char *rec, ps_arc_alg alg)
{
    EVP_PKEY *pk = NULL;
    ps_err err = {""};
    int rc = ps_arc_key_parse(rec, strlen(rec), alg, &pk, &err);

    if (rc == 0)
        assert_non_null(pk);
    else
        assert_true(err.msg[0] != '\0');
    EVP_PKEY_free(pk);
    return rc == 0;
}

static void test_key_records(void **state)
{
    (void)state;
    assert_true(key_ok("v=DKIM1; k=rsa; p=" RSA1024, PS_ARC_ALG_RSA));
    assert_true(key_ok("p=" RSA1024, PS_ARC_ALG_RSA)); /* k=rsa default */
    assert_true(key_ok("v=DKIM1; k=ed25519; p=" ED25519, PS_ARC_ALG_ED25519));
    assert_true(key_ok("k=rsa; s=email:*; p=" RSA1024, PS_ARC_ALG_RSA));
    assert_false(key_ok("v=DKIM1; k=rsa; p=", PS_ARC_ALG_RSA)); /* revoked */
    assert_false(key_ok("v=DKIM2; p=" RSA1024, PS_ARC_ALG_RSA));
    assert_false(key_ok("k=ed25519; p=" RSA1024, PS_ARC_ALG_RSA));
    assert_false(key_ok("k=rsa; p=" RSA1024, PS_ARC_ALG_ED25519));
    assert_false(key_ok("k=rsa; s=tls; p=" RSA1024, PS_ARC_ALG_RSA));
    assert_false(key_ok("k=rsa; p=" RSA512, PS_ARC_ALG_RSA)); /* RFC 8301 */
    assert_false(key_ok("k=ed25519; p=AAAA", PS_ARC_ALG_ED25519));
    assert_false(key_ok("k=rsa; p=!!!", PS_ARC_ALG_RSA));
    assert_false(key_ok("k=rsa; p", PS_ARC_ALG_RSA));
}

static void test_canon(void **state)
{
    ps_tag t = {"c", 1, NULL, 0};
    ps_canon h, b;
    struct {
        const char *v;
        int rc;
        ps_canon h, b;
    } cases[] = {
        {"relaxed/relaxed", 0, PS_CANON_RELAXED, PS_CANON_RELAXED},
        {"relaxed", 0, PS_CANON_RELAXED, PS_CANON_SIMPLE},
        {"simple/relaxed", 0, PS_CANON_SIMPLE, PS_CANON_RELAXED},
        {"Relaxed/relaxed", -1, 0, 0},
        {"relaxed/", -1, 0, 0},
        {"nowsp", -1, 0, 0},
    };

    (void)state;
    assert_int_equal(ps_arc_canon_parse(NULL, &h, &b), 0);
    assert_int_equal(h, PS_CANON_SIMPLE);
    assert_int_equal(b, PS_CANON_SIMPLE);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        t.value = cases[k].v;
        t.value_len = strlen(cases[k].v);
        assert_int_equal(ps_arc_canon_parse(&t, &h, &b), cases[k].rc);
        if (cases[k].rc == 0) {
            assert_int_equal(h, cases[k].h);
            assert_int_equal(b, cases[k].b);
        }
    }
}

/* One set per AAR value given, sealed by the matching domain. */
static ps_arc_sets *sets_of(const char *const *aar, const char *const *d,
                            unsigned n)
{
    static char as[PS_ARC_MAX_INSTANCES][128], ams[PS_ARC_MAX_INSTANCES][32];
    ps_arc_header h[3 * PS_ARC_MAX_INSTANCES];
    ps_arc_sets *s = ps_arc_sets_new();

    for (unsigned i = 0; i < n; i++) {
        snprintf(as[i], sizeof(as[i]), "i=%u; cv=%s; d=%s; b=A", i + 1,
                 i ? "pass" : "none", d[i]);
        snprintf(ams[i], sizeof(ams[i]), "i=%u; b=A", i + 1);
        h[3 * i] = (ps_arc_header){"ARC-Seal", 8, as[i], strlen(as[i])};
        h[3 * i + 1] = (ps_arc_header){"ARC-Message-Signature", 21, ams[i],
                                       strlen(ams[i])};
        h[3 * i + 2] = (ps_arc_header){"ARC-Authentication-Results", 26, aar[i],
                                       strlen(aar[i])};
    }
    assert_int_equal(ps_arc_sets_parse(h, 3 * n, s, NULL), PS_ARC_SETS_OK);
    return s;
}

static void test_aar_passed(void **state)
{
    const char *aar[] = {
        "i=1; mx.example; dkim=pass header.d=a.example; dmarc=pass "
        "header.from=a.example",
        "i=2; mx.example (comment; dmarc=pass); dmarc=fail",
        "i=3; mx.example; spf=pass; DMARC/1 = Pass (ok)",
        "i=4; mx.example; dmarc=passed; x=\"dmarc=pass\"",
        "i=5; dmarc=pass",
    };
    const char *d[] = {"a.example", "b.example", "c.example", "d.example",
                       "e.example"};
    ps_arc_sets *s = sets_of(aar, d, 5);
    char dom[PS_ARC_DOMAIN_MAX + 1];

    (void)state;
    assert_true(ps_arc_aar_passed(s, 1, "dmarc"));
    assert_true(ps_arc_aar_passed(s, 1, "dkim"));
    assert_false(ps_arc_aar_passed(s, 1, "spf"));
    assert_false(ps_arc_aar_passed(s, 2, "dmarc"));
    assert_true(ps_arc_aar_passed(s, 3, "dmarc"));
    assert_false(ps_arc_aar_passed(s, 4, "dmarc"));
    /* "dmarc=pass" in the authserv-id's place is not a result */
    assert_false(ps_arc_aar_passed(s, 5, "dmarc"));
    assert_false(ps_arc_aar_passed(s, 6, "dmarc"));
    assert_int_equal(ps_arc_sealer_domain(s, 3, dom), 0);
    assert_string_equal(dom, "c.example");
    assert_int_equal(ps_arc_sealer_domain(s, 0, dom), -1);
    ps_arc_sets_free(s);
}

static void test_trusted_instance(void **state)
{
    const char *aar[] = {"i=1; list; dmarc=pass", "i=2; fwd; dmarc=fail",
                         "i=3; relay; dmarc=pass"};
    const char *d[] = {"Lists.Example", "fwd.example", "relay.example"};
    const char *trusted[] = {"lists.example", "relay.example"};
    const char *only_fwd[] = {"fwd.example"};
    ps_arc_sets *s = sets_of(aar, d, 3);
    ps_arc_outcome o = {PS_ARC_RESULT_PASS, 3, 0, 0, ""};

    (void)state;
    /* every AMS intact: the oldest trusted instance that saw a pass */
    assert_int_equal(ps_arc_trusted_instance(s, &o, trusted, 2), 1);
    /* instance 1 changed since (oldest-pass 2): 3 may still vouch */
    o.oldest_pass = 2;
    assert_int_equal(ps_arc_trusted_instance(s, &o, trusted, 2), 3);
    o.oldest_pass = 0;
    /* trusted, but it recorded a DMARC failure */
    assert_int_equal(ps_arc_trusted_instance(s, &o, only_fwd, 1), 0);
    /* nobody vouches for a chain that did not pass */
    o.result = PS_ARC_RESULT_FAIL;
    assert_int_equal(ps_arc_trusted_instance(s, &o, trusted, 2), 0);
    o.result = PS_ARC_RESULT_TEMPERROR;
    assert_int_equal(ps_arc_trusted_instance(s, &o, trusted, 2), 0);
    ps_arc_sets_free(s);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(ps_arc_result_name(PS_ARC_RESULT_PASS), "pass");
    assert_string_equal(ps_arc_result_name(PS_ARC_RESULT_FAIL), "fail");
    assert_string_equal(ps_arc_result_name(PS_ARC_RESULT_NONE), "none");
    assert_string_equal(ps_arc_result_name(PS_ARC_RESULT_TEMPERROR),
                        "temperror");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_records),
        cmocka_unit_test(test_canon),
        cmocka_unit_test(test_aar_passed),
        cmocka_unit_test(test_trusted_instance),
        cmocka_unit_test(test_result_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
