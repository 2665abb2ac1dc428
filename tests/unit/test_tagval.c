/* Unit tests for shared/dns/tagval.c: RFC 6376 tag-lists as found in key
 * records and folded DKIM-Signature headers, and every malformed shape
 * refused with a message that says where. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/tagval.h"

static ps_tagval parse_ok(const char *text)
{
    ps_tagval tv;
    ps_err err = {""};

    if (ps_tagval_parse(text, strlen(text), &tv, &err) != 0)
        fail_msg("\"%s\" refused: %s", text, err.msg);
    return tv;
}

static void expect_refused(const char *text, const char *frag)
{
    ps_tagval tv;
    ps_err err = {""};

    assert_int_equal(ps_tagval_parse(text, strlen(text), &tv, &err), -1);
    assert_int_equal(tv.count, 0);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", text, err.msg, frag);
}

/* The value of tag name, which must exist, as a NUL-terminated copy. */
static void check_value(const ps_tagval *tv, const char *name, const char *want)
{
    const ps_tag *t = ps_tagval_find(tv, name);
    char got[512];

    if (t == NULL)
        fail_msg("tag %s missing", name);
    assert_true(t->value_len < sizeof(got));
    memcpy(got, t->value, t->value_len);
    got[t->value_len] = '\0';
    assert_string_equal(got, want);
}

static void test_key_record(void **state)
{
    ps_tagval tv =
        parse_ok("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ==");

    (void)state;
    assert_int_equal(tv.count, 3);
    check_value(&tv, "v", "DKIM1");
    check_value(&tv, "k", "rsa");
    check_value(&tv, "p", "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ==");
    assert_int_equal(tv.tags[0].name_len, 1);
    assert_memory_equal(tv.tags[2].name, "p", 1);
    assert_null(ps_tagval_find(&tv, "h"));
    assert_null(ps_tagval_find(&tv, "V")); /* tag names are case-sensitive */
}

/* RFC 6376 section 3.5's example signature, folded as in a message. */
static void test_rfc6376_signature_with_fws(void **state)
{
    static const char sig[] =
        " v=1; a=rsa-sha256; d=example.net; s=brisbane;\r\n"
        "      c=simple; q=dns/txt; i=@eng.example.net;\r\n"
        "      t=1117574938; x=1118006938;\r\n"
        "      h=from:to:subject:date;\r\n"
        "      z=From:foo@eng.example.net|To:joe@example.com|\r\n"
        "        "
        "Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700;\r\n"
        "      bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=;\r\n"
        "      b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ\r\n"
        "        VoG4ZHRNiYzR";
    ps_tagval tv = parse_ok(sig);
    const ps_tag *b;
    char *stripped;

    (void)state;
    assert_int_equal(tv.count, 13);
    check_value(&tv, "v", "1");
    check_value(&tv, "s", "brisbane");
    check_value(&tv, "i", "@eng.example.net");
    check_value(&tv, "h", "from:to:subject:date");
    check_value(&tv, "bh", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=");
    check_value(&tv, "z",
                "From:foo@eng.example.net|To:joe@example.com|\r\n"
                "        Subject:demo=20run|Date:July=205,=202005=203:44:08"
                "=20PM=20-0700");
    b = ps_tagval_find(&tv, "b");
    assert_non_null(b);
    stripped = ps_tagval_strip_ws(b);
    assert_string_equal(stripped,
                        "dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD"
                        "00lszZVoG4ZHRNiYzR");
    free(stripped);
}

static void test_fws_around_equals_and_semicolon(void **state)
{
    ps_tagval tv = parse_ok("  a \t=\t 1 \r\n\t;\r\n b=two words \n ; c_2 =x");

    (void)state;
    assert_int_equal(tv.count, 3);
    check_value(&tv, "a", "1");
    check_value(&tv, "b", "two words");
    check_value(&tv, "c_2", "x");
}

static void test_trailing_semicolon_and_empty(void **state)
{
    ps_tagval tv = parse_ok("v=DKIM1; t=; p=;  \r\n ");

    (void)state;
    assert_int_equal(tv.count, 3);
    check_value(&tv, "t", "");
    check_value(&tv, "p", ""); /* revoked key: empty p= is legal */
    tv = parse_ok("");
    assert_int_equal(tv.count, 0);
    tv = parse_ok(" \r\n ");
    assert_int_equal(tv.count, 0);
}

/* The buffer need not be NUL-terminated: n bounds the parse. */
static void test_length_bounds_parse(void **state)
{
    static const char text[] = "a=1; b=2; c=3";
    ps_tagval tv;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_tagval_parse(text, 8, &tv, &err), 0);
    assert_int_equal(tv.count, 2);
    check_value(&tv, "b", "2");
    assert_null(ps_tagval_find(&tv, "c"));
}

static void test_duplicates_refused(void **state)
{
    (void)state;
    expect_refused("v=DKIM1; p=abc; p=def", "duplicate tag \"p\"");
    expect_refused("bh=1; b=2; bh=3", "duplicate tag \"bh\"");
}

static void test_bad_names_refused(void **state)
{
    (void)state;
    expect_refused("=1", "must start with a letter at offset 0");
    expect_refused("1a=2", "must start with a letter");
    expect_refused("_a=2", "must start with a letter");
    expect_refused("a-b=2", "tag \"a\" has no '='");
    expect_refused("a b=2", "tag \"a\" has no '='");
    expect_refused("v=1; novalue", "tag \"novalue\" has no '='");
    expect_refused("v=1; k", "tag \"k\" has no '='");
    expect_refused("v=1;; k=2", "empty tag at offset 4");
    expect_refused(";", "empty tag at offset 0");
    expect_refused("v=1; ;", "empty tag");
    expect_refused("\xc3\xa9=1", "must start with a letter");
}

static void test_bad_values_refused(void **state)
{
    ps_tagval tv;

    (void)state;
    expect_refused("v=a\x01"
                   "b",
                   "invalid byte 0x01 in value at offset 3");
    expect_refused("v=a\x7f", "invalid byte 0x7f");
    /* UTF-8 in a note is tolerated (see tagval.c) */
    tv = parse_ok("v=DKIM1; n=caf\xc3\xa9; p=x");
    assert_int_equal(tv.count, 3);
}

static void test_too_many_tags(void **state)
{
    char text[PS_TAGVAL_MAX * 8 + 16] = "";
    size_t len = 0;
    ps_tagval tv;

    (void)state;
    for (int i = 0; i < PS_TAGVAL_MAX; i++)
        len += (size_t)sprintf(text + len, "t%d=%d;", i, i);
    tv = parse_ok(text);
    assert_int_equal(tv.count, PS_TAGVAL_MAX);
    check_value(&tv, "t31", "31");
    sprintf(text + len, "x=1");
    expect_refused(text, "more than 32 tags");
}

static void test_strip_ws(void **state)
{
    ps_tag t = {"p", 1, " MIGf MA0G\r\n\tCSqG \n", 20};
    ps_tag empty = {"p", 1, "", 0};
    char *s = ps_tagval_strip_ws(&t);

    (void)state;
    assert_string_equal(s, "MIGfMA0GCSqG");
    free(s);
    s = ps_tagval_strip_ws(&empty);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_record),
        cmocka_unit_test(test_rfc6376_signature_with_fws),
        cmocka_unit_test(test_fws_around_equals_and_semicolon),
        cmocka_unit_test(test_trailing_semicolon_and_empty),
        cmocka_unit_test(test_length_bounds_parse),
        cmocka_unit_test(test_duplicates_refused),
        cmocka_unit_test(test_bad_names_refused),
        cmocka_unit_test(test_bad_values_refused),
        cmocka_unit_test(test_too_many_tags),
        cmocka_unit_test(test_strip_ws),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
