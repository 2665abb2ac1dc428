/* Unit tests for shared/mail/mailbox.c: the From field shapes mail really has
 * (display names, comments, quoted local parts, obsolete routes and
 * spacing), the ones that must not be signed (no address, several, group,
 * domain literal, garbage), and envelope senders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mail/mailbox.h"

static void expect_from(const char *value, const char *local,
                        const char *domain)
{
    ps_mailbox mb;
    ps_err err = {""};

    if (ps_mailbox_parse_from(value, strlen(value), &mb, &err) != 0)
        fail_msg("\"%s\" refused: %s", value, err.msg);
    if (strcmp(mb.local, local) != 0 || strcmp(mb.domain, domain) != 0)
        fail_msg("\"%s\": got \"%s\" @ \"%s\"", value, mb.local, mb.domain);
}

static void expect_refused(const char *value, const char *frag)
{
    ps_mailbox mb;
    ps_err err = {""};

    assert_int_equal(ps_mailbox_parse_from(value, strlen(value), &mb, &err),
                     -1);
    assert_string_equal(mb.domain, "");
    if (strstr(err.msg, frag) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", value, err.msg, frag);
}

static void test_common_shapes(void **state)
{
    (void)state;
    expect_from(" user@example.com", "user", "example.com");
    expect_from(" User Name <user@Example.COM>", "user", "example.com");
    expect_from(" \"Name, with comma\" <a.b@example.com>", "a.b",
                "example.com");
    expect_from(" <app@mail.example.com>", "app", "mail.example.com");
    expect_from(" user@example.com (Comment (nested) here)", "user",
                "example.com");
    expect_from(" (lead) Name (mid) <user@example.com> (tail)", "user",
                "example.com");
    expect_from("\n\tName\n\t <user@example.com>", "user", "example.com");
    expect_from(" \"quoted local\"@example.com", "quoted local", "example.com");
    expect_from(" \"a\\\"b\"@example.com", "a\"b", "example.com");
    expect_from(" =?UTF-8?B?w6k=?= <x@example.com>", "x", "example.com");
    expect_from(" J. Random <jr@example.com>", "jr", "example.com");
    expect_from(" user@example.com.", "user", "example.com");
    expect_from(" user@b\xc3\xbc\x63her.example", "user",
                "b\xc3\xbc\x63her.example");
}

static void test_obsolete_forms(void **state)
{
    (void)state;
    expect_from(" user @ example . com", "user", "example.com");
    expect_from(" <@relay.example,@other.example:user@example.com>", "user",
                "example.com");
    expect_from(" a . b@example.com", "a.b", "example.com");
    expect_from(" user@example.com,", "user", "example.com");
    expect_from(" , user@example.com", "user", "example.com");
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("", "no address");
    expect_refused("   ", "no address");
    expect_refused(" Just A Name", "without '@'");
    expect_refused(" a@example.com, b@example.net", "more than one");
    expect_refused(" A <a@example.com>, B <b@example.net>", "more than one");
    expect_refused(" undisclosed-recipients:;", "group");
    expect_refused(" Team: a@example.com, b@example.com;", "group");
    expect_refused(" user@[192.0.2.1]", "domain literal");
    expect_refused(" <user@example.com", "missing '>'");
    expect_refused(" user@example.com>", "unexpected");
    expect_refused(" \"unterminated@example.com", "unterminated quoted");
    expect_refused(" user@example.com (open", "unterminated comment");
    expect_refused(" user@", "missing domain");
    expect_refused(" @example.com", "no address");
    expect_refused(" a@b@c", "unexpected text");
    expect_refused(" user\x01@example.com", "unexpected character");
}

static void test_bounds(void **state)
{
    char big[PS_MAILBOX_VALUE_MAX + 2];
    char nest[200];
    char longlocal[PS_MAILBOX_LOCAL_MAX + 20];
    ps_mailbox mb;
    ps_err err = {""};

    (void)state;
    memset(big, 'a', sizeof(big));
    assert_int_equal(ps_mailbox_parse_from(big, sizeof(big), &mb, &err), -1);
    memset(nest, '(', sizeof(nest) - 1);
    nest[sizeof(nest) - 1] = '\0';
    expect_refused(nest, "nested");
    memset(longlocal, 'l', sizeof(longlocal));
    strcpy(longlocal + PS_MAILBOX_LOCAL_MAX + 1, "@example.com");
    expect_refused(longlocal, "too long");
    assert_int_equal(ps_mailbox_parse_from("a\0@b.c", 6, &mb, &err), -1);
}

/* Every mailbox of a list, for DMARC's author domains. */
static void test_list(void **state)
{
    ps_mailbox mb[4];
    size_t n = 9;
    ps_err err = {""};
    const char *v = " a@Example.com, \"B, c\" <b@example.net>,, (x) c@e.org";

    (void)state;
    assert_int_equal(ps_mailbox_parse_list(v, strlen(v), mb, 4, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(mb[0].domain, "example.com");
    assert_string_equal(mb[1].domain, "example.net");
    assert_string_equal(mb[2].domain, "e.org");
    assert_int_equal(ps_mailbox_parse_list(v, strlen(v), mb, 2, &n, &err), -1);
    assert_int_equal(n, 0);
    assert_int_equal(ps_mailbox_parse_list(" , ", 3, mb, 4, &n, &err), -1);
    assert_string_equal(err.msg, "no address");
    assert_int_equal(ps_mailbox_parse_list("a@b c", 5, mb, 4, &n, &err), -1);
}

static void test_envelope(void **state)
{
    ps_mailbox mb;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_mailbox_parse_envelope("<bob@Example.ORG>", &mb, &err),
                     0);
    assert_string_equal(mb.local, "bob");
    assert_string_equal(mb.domain, "example.org");
    assert_int_equal(ps_mailbox_parse_envelope("<>", &mb, &err), 0);
    assert_string_equal(mb.local, "");
    assert_string_equal(mb.domain, "");
    assert_int_equal(ps_mailbox_parse_envelope("postmaster", &mb, &err), 0);
    assert_string_equal(mb.local, "postmaster");
    assert_string_equal(mb.domain, "");
    assert_int_equal(ps_mailbox_parse_envelope("a@b@c.example.", &mb, &err), 0);
    assert_string_equal(mb.local, "a@b");
    assert_string_equal(mb.domain, "c.example");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_shapes),
        cmocka_unit_test(test_obsolete_forms),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
