/* Unit tests for shared/signing/signrules.c: [signing] patterns (exact beats
 * *.domain, longer beats shorter), several keys from one rule, the
 * OpenDKIM tables after them, the return-path fallback, "%" domains, and
 * keys loaded once with errors that name the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "crypto/keys.h"
#include "signing/signrules.h"

typedef struct fixture {
    char dir[32];
    char conf_text[2048];
    ps_conf *conf;
} fixture;

static void write_key(const char *dir, const char *name, ps_key_type type)
{
    char path[128];
    ps_key *key = NULL;
    ps_err err = {""};

    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    if (ps_key_generate(type, 2048, &key, &err) != 0 ||
        ps_key_write_pem(key, path, &err) != 0)
        fail_msg("key %s: %s", name, err.msg);
    ps_key_free(key);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    ps_err err = {""};

    strcpy(f->dir, "/tmp/ps-rules-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    write_key(f->dir, "ex-rsa", PS_KEY_RSA);
    write_key(f->dir, "ex-ed", PS_KEY_ED25519);
    write_key(f->dir, "sub", PS_KEY_ED25519);
    snprintf(f->conf_text, sizeof(f->conf_text),
             "[keys]\n"
             "ex-rsa = example.com s2026r %1$s/ex-rsa.pem\n"
             "ex-ed = example.com s2026e %1$s/ex-ed.pem\n"
             "sub = example.com sub %1$s/sub.pem\n"
             "[signing]\n"
             "example.com = ex-rsa, ex-ed\n"
             "*.example.com = sub\n"
             "*.deep.example.com = ex-ed\n"
             "mail.example.com = ex-rsa\n",
             f->dir);
    if (ps_conf_parse(f->conf_text, strlen(f->conf_text), "t.conf", &f->conf,
                      &err) != 0)
        fail_msg("conf: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[128];
    const char *names[] = {"ex-rsa", "ex-ed", "sub"};

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s.pem", f->dir, names[i]);
        unlink(path);
    }
    rmdir(f->dir);
    ps_conf_free(f->conf);
    free(f);
    return 0;
}

static ps_signrules *build(const ps_conf *conf, const char *kt_text,
                           const char *st_text, int refile, int flags)
{
    ps_odkim_keytable *kt = NULL;
    ps_odkim_signtable *st = NULL;
    ps_signrules *r = NULL;
    ps_err err = {""};

    if (kt_text != NULL)
        assert_int_equal(
            ps_odkim_keytable_parse(kt_text, strlen(kt_text), "KT", &kt, &err),
            0);
    if (st_text != NULL)
        assert_int_equal(ps_odkim_signtable_parse(st_text, strlen(st_text),
                                                  "ST", refile, &st, &err),
                         0);
    if (ps_signrules_build(conf, kt, st, flags, &r, &err) != 0)
        fail_msg("build: %s", err.msg);
    return r;
}

static void test_conf_rules(void **state)
{
    fixture *f = *state;
    ps_signrules *r = build(f->conf, NULL, NULL, 0, 0);
    ps_signrules_match m;

    assert_int_equal(ps_signrules_nkeys(r), 3);
    assert_int_equal(ps_signrules_lookup(r, "a", "Example.COM", NULL, &m), 2);
    assert_string_equal(m.keynames[0], "ex-rsa");
    assert_string_equal(m.keynames[1], "ex-ed");
    assert_non_null(m.signers[0].key);
    assert_int_equal(ps_key_type_of(m.signers[0].key), PS_KEY_RSA);
    assert_int_equal(ps_key_type_of(m.signers[1].key), PS_KEY_ED25519);
    assert_string_equal(m.signers[1].selector, "s2026e");
    assert_string_equal(m.signers[1].domain, "example.com");
    assert_string_equal(m.rule, "[signing] example.com");

    assert_int_equal(ps_signrules_lookup(r, "a", "mail.example.com", NULL, &m),
                     1);
    assert_string_equal(m.keynames[0], "ex-rsa"); /* exact beats *. */
    assert_int_equal(
        ps_signrules_lookup(r, "a", "x.deep.example.com", NULL, &m), 1);
    assert_string_equal(m.keynames[0], "ex-ed"); /* longer *. wins */
    assert_int_equal(ps_signrules_lookup(r, "a", "other.example.com", NULL, &m),
                     1);
    assert_string_equal(m.rule, "[signing] *.example.com");
    assert_int_equal(ps_signrules_lookup(r, "a", "notexample.com", NULL, &m),
                     0);
    assert_int_equal(ps_signrules_lookup(r, "a", "example.org", NULL, &m), 0);
    ps_signrules_free(r);
}

static void test_fallback(void **state)
{
    fixture *f = *state;
    ps_signrules *r = build(f->conf, NULL, NULL, 0, PS_SIGNRULES_NO_KEYS);
    ps_signrules_match m;

    assert_int_equal(
        ps_signrules_lookup(r, "a", "customer.org", "rp.example.com", &m), 1);
    assert_string_equal(m.keynames[0], "sub");
    assert_null(m.signers[0].key);
    assert_non_null(strstr(m.rule, "(fallback rp.example.com)"));
    assert_int_equal(
        ps_signrules_lookup(r, "a", "customer.org", "nope.org", &m), 0);
    assert_int_equal(
        ps_signrules_lookup(r, "a", "example.com", "rp.example.com", &m),
        2); /* the From domain's own rule comes first */
    ps_signrules_free(r);
}

static void test_tables(void **state)
{
    fixture *f = *state;
    char kt[512];
    ps_signrules *r;
    ps_signrules_match m;

    snprintf(kt, sizeof(kt),
             "odk example.org:sel:%1$s/ex-rsa.pem\n"
             "odk-ed example.org:sel-ed:%1$s/ex-ed.pem\n"
             "any %%:default:%1$s/sub.pem\n",
             f->dir);
    r = build(f->conf, kt,
              "*@example.org odk\n*@example.org odk-ed\n*@*.test any\n", 1, 0);
    assert_int_equal(ps_signrules_nkeys(r), 6);
    assert_int_equal(ps_signrules_lookup(r, "u", "example.org", NULL, &m), 2);
    assert_string_equal(m.keynames[1], "odk-ed");
    assert_string_equal(m.rule, "SigningTable:1 *@example.org");
    assert_int_equal(ps_signrules_lookup(r, "u", "shop.test", NULL, &m), 1);
    assert_string_equal(m.signers[0].domain, "shop.test"); /* "%" */
    assert_int_equal(ps_signrules_lookup(r, "u", "bad_name.test", NULL, &m),
                     0); /* "%" never becomes a malformed d= */
    assert_int_equal(ps_signrules_lookup(r, "u", "example.com", NULL, &m), 2);
    assert_string_equal(m.rule, "[signing] example.com");
    ps_signrules_free(r);
}

static void expect_build_error(const ps_conf *conf, const char *kt,
                               const char *st, const char *frag)
{
    ps_odkim_keytable *k = NULL;
    ps_odkim_signtable *s = NULL;
    ps_signrules *r = NULL;
    ps_err err = {""};

    if (kt != NULL)
        assert_int_equal(
            ps_odkim_keytable_parse(kt, strlen(kt), "KT", &k, &err), 0);
    if (st != NULL)
        assert_int_equal(
            ps_odkim_signtable_parse(st, strlen(st), "ST", 1, &s, &err), 0);
    assert_int_equal(ps_signrules_build(conf, k, s, 0, &r, &err), -1);
    assert_null(r);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, frag);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    char kt[256];

    expect_build_error(f->conf, NULL, "* x\n",
                       "ST: a SigningTable needs a "
                       "KeyTable");
    expect_build_error(f->conf, "x example.org:s:/nonexistent/key.pem\n",
                       "* y\n", "ST:1: key 'y' is not in the KeyTable");
    expect_build_error(f->conf, "x example.org:s:/nonexistent/key.pem\n",
                       "* x\n", "KT:1: key 'x'");
    snprintf(kt, sizeof(kt), "x example.org:s:%s/sub.pem\n", f->dir);
    expect_build_error(f->conf, kt, "a x\na x\nb x\na x\nA x\na x\n",
                       "ST:6: more than 4 keys for 'a'");
}

static void test_pattern_rank(void **state)
{
    (void)state;
    assert_int_equal(ps_signrules_pattern_rank("example.com", "EXAMPLE.com"),
                     1000);
    assert_int_equal(ps_signrules_pattern_rank("*.example.com", "example.com"),
                     0);
    assert_true(ps_signrules_pattern_rank("*.example.com", "a.example.com") >
                0);
    assert_true(
        ps_signrules_pattern_rank("*.b.example.com", "a.b.example.com") >
        ps_signrules_pattern_rank("*.example.com", "a.b.example.com"));
    assert_int_equal(ps_signrules_pattern_rank("*.example.com", "aexample.com"),
                     0);
    assert_int_equal(ps_signrules_pattern_rank("example.com", ""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conf_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_pattern_rank),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
