/* Unit tests for shared/signing/odkim.c and odkim_match.c: OpenDKIM KeyTable
 * and SigningTable files as sites have them (comments, blank lines, CRLF,
 * refile: patterns), lookups in OpenDKIM's order, and bad lines refused
 * with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signing/odkim.h"

static const char keytable[] =
    "# OpenDKIM KeyTable\n"
    "example   example.com:s2026:/etc/opendkim/keys/example.private\n"
    "\n"
    "  example-ed\texample.com:ed2026:/etc/opendkim/keys/ed.private  # ed\r\n"
    "any %:default:/etc/opendkim/keys/any.private\n";

static ps_odkim_keytable *kt_ok(const char *text)
{
    ps_odkim_keytable *kt = NULL;
    ps_err err = {""};

    if (ps_odkim_keytable_parse(text, strlen(text), "KeyTable", &kt, &err))
        fail_msg("refused: %s", err.msg);
    return kt;
}

static ps_odkim_signtable *st_ok(const char *text, int refile)
{
    ps_odkim_signtable *st = NULL;
    ps_err err = {""};

    if (ps_odkim_signtable_parse(text, strlen(text), "SigningTable", refile,
                                 &st, &err))
        fail_msg("refused: %s", err.msg);
    return st;
}

static void kt_refused(const char *text, const char *frag)
{
    ps_odkim_keytable *kt = NULL;
    ps_err err = {""};

    assert_int_equal(
        ps_odkim_keytable_parse(text, strlen(text), "KT", &kt, &err), -1);
    assert_null(kt);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, frag);
}

static void test_keytable(void **state)
{
    ps_odkim_keytable *kt = kt_ok(keytable);
    const ps_odkim_key *k;

    (void)state;
    assert_int_equal(kt->count, 3);
    k = ps_odkim_keytable_find(kt, "example-ed");
    assert_non_null(k);
    assert_string_equal(k->domain, "example.com");
    assert_string_equal(k->selector, "ed2026");
    assert_string_equal(k->keyfile, "/etc/opendkim/keys/ed.private");
    assert_int_equal(k->line, 4);
    assert_string_equal(ps_odkim_keytable_find(kt, "any")->domain, "%");
    assert_null(ps_odkim_keytable_find(kt, "Example"));
    ps_odkim_keytable_free(kt);
}

static void test_keytable_refused(void **state)
{
    (void)state;
    kt_refused("k example.com:sel\n", "KT:1: expected 'domain:selector");
    kt_refused("\n\nk example.com:sel:relative/path\n", "KT:3: key");
    kt_refused("k example.com:sel:MIICXAIBAAKBgQ\n", "inline key data");
    kt_refused("k bad_domain:sel:/k\n", "KT:1: bad domain");
    kt_refused("k example.com:bad sel:/k\n", "bad selector");
    kt_refused("k\n", "has no value");
    kt_refused("a example.com:s:/k\nb example.com:s:/k\na example.com:t:/k\n",
               "KT:3: key name 'a' repeated (first on line 1)");
    kt_refused("k example.com:s:/k\x01\n", "control character");
}

static void test_plain_signtable(void **state)
{
    ps_odkim_signtable *st = st_ok("ceo@example.com   ceo-key\n"
                                   "example.com       example\n"
                                   "example.com       example-ed\n"
                                   "other.example     other\n",
                                   0);
    const ps_odkim_entry *found[4];

    (void)state;
    assert_int_equal(
        ps_odkim_signtable_match(st, "ceo", "example.com", found, 4), 1);
    assert_string_equal(found[0]->keyname, "ceo-key");
    assert_int_equal(
        ps_odkim_signtable_match(st, "bob", "EXAMPLE.com", found, 4), 2);
    assert_string_equal(found[0]->keyname, "example");
    assert_string_equal(found[1]->keyname, "example-ed");
    assert_int_equal(
        ps_odkim_signtable_match(st, NULL, "other.example", found, 4), 1);
    assert_int_equal(
        ps_odkim_signtable_match(st, "x", "sub.example.com", found, 4), 0);
    assert_int_equal(ps_odkim_signtable_match(st, "x", "", found, 4), 0);
    ps_odkim_signtable_free(st);
}

static void test_refile_signtable(void **state)
{
    ps_odkim_signtable *st = st_ok("*@example.com      example\n"
                                   "*@*.example.com    sub\n"
                                   "*@example.com      example-ed\n"
                                   "*                  default\n",
                                   1);
    const ps_odkim_entry *found[4];

    (void)state;
    assert_int_equal(ps_odkim_signtable_match(st, "a", "example.com", found, 4),
                     2);
    assert_string_equal(found[1]->keyname, "example-ed");
    assert_int_equal(
        ps_odkim_signtable_match(st, "a", "mx.Example.com", found, 4), 1);
    assert_string_equal(found[0]->keyname, "sub");
    assert_int_equal(ps_odkim_signtable_match(st, "a", "else.org", found, 4),
                     1);
    assert_string_equal(found[0]->keyname, "default");
    assert_int_equal(ps_odkim_signtable_match(st, "a", "example.com", found, 1),
                     1);
    ps_odkim_signtable_free(st);
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(ps_odkim_glob("*", ""));
    assert_true(ps_odkim_glob("*@example.com", "a@EXAMPLE.com"));
    assert_false(ps_odkim_glob("*@example.com", "a@example.com.evil"));
    assert_true(ps_odkim_glob("a*b*c", "aXbYbZc"));
    assert_false(ps_odkim_glob("a*b*c", "aXbYbZ"));
    assert_true(ps_odkim_glob("**x", "x"));
    assert_false(ps_odkim_glob("", "x"));
    assert_false(ps_odkim_glob("x.y", "xzy"));
}

static void test_signtable_refused(void **state)
{
    ps_odkim_signtable *st = NULL;
    ps_err err = {""};
    const char *text = "a@example.com key extra\n";

    (void)state;
    assert_int_equal(
        ps_odkim_signtable_parse(text, strlen(text), "ST", 0, &st, &err), -1);
    assert_non_null(strstr(err.msg, "ST:1:"));
}

static void test_load(void **state)
{
    char dir[] = "/tmp/ps-odkim-XXXXXX", path[64], spec[80];
    ps_odkim_signtable *st = NULL;
    ps_odkim_keytable *kt = NULL;
    ps_err err = {""};
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/SigningTable", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("*@example.com example\n", fp);
    fclose(fp);
    snprintf(spec, sizeof(spec), "refile:%s", path);
    assert_int_equal(ps_odkim_signtable_load(spec, &st, &err), 0);
    assert_true(st->refile);
    ps_odkim_signtable_free(st);
    snprintf(spec, sizeof(spec), "file:%s", path);
    assert_int_equal(ps_odkim_signtable_load(spec, &st, &err), 0);
    assert_false(st->refile);
    ps_odkim_signtable_free(st);
    assert_int_equal(ps_odkim_keytable_load(spec, &kt, &err), -1);
    assert_non_null(strstr(err.msg, "SigningTable:1:"));
    assert_int_equal(ps_odkim_keytable_load("refile:/x", &kt, &err), -1);
    assert_int_equal(ps_odkim_keytable_load("/nonexistent/kt", &kt, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keytable),
        cmocka_unit_test(test_keytable_refused),
        cmocka_unit_test(test_plain_signtable),
        cmocka_unit_test(test_refile_signtable),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_signtable_refused),
        cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
