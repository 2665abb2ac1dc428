/* Unit tests for shared/base/cidr.c: internal_hosts lists of IPv4 and IPv6
 * networks, host bits and bad prefixes refused, IPv4-mapped clients
 * matched against IPv4 networks, and the edges of every prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"

static ps_cidr_list *parse_ok(const char *text)
{
    static ps_cidr_list list;
    ps_err err = {""};

    if (ps_cidr_parse(text, &list, &err) != 0)
        fail_msg("\"%s\" refused: %s", text, err.msg);
    return &list;
}

static void expect_refused(const char *text, const char *frag)
{
    ps_cidr_list list;
    ps_err err = {""};

    assert_int_equal(ps_cidr_parse(text, &list, &err), -1);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", text, err.msg, frag);
}

static void test_ipv4(void **state)
{
    const ps_cidr_list *l = parse_ok("127.0.0.0/8, 192.0.2.128/25,10.1.2.3");

    (void)state;
    assert_int_equal(l->count, 3);
    assert_true(ps_cidr_match_text(l, "127.0.0.1"));
    assert_true(ps_cidr_match_text(l, "127.255.255.255"));
    assert_false(ps_cidr_match_text(l, "128.0.0.1"));
    assert_true(ps_cidr_match_text(l, "192.0.2.128"));
    assert_true(ps_cidr_match_text(l, "192.0.2.255"));
    assert_false(ps_cidr_match_text(l, "192.0.2.127"));
    assert_true(ps_cidr_match_text(l, "10.1.2.3"));
    assert_false(ps_cidr_match_text(l, "10.1.2.4"));
    assert_false(ps_cidr_match_text(l, "::1"));
    assert_false(ps_cidr_match_text(l, "not an address"));
    assert_false(ps_cidr_match_text(l, NULL));
}

static void test_ipv6_and_mapped(void **state)
{
    const ps_cidr_list *l = parse_ok("::1, 2001:db8::/33, 192.0.2.0/24");

    (void)state;
    assert_true(ps_cidr_match_text(l, "::1"));
    assert_false(ps_cidr_match_text(l, "::2"));
    assert_true(ps_cidr_match_text(l, "2001:db8:7fff::1"));
    assert_false(ps_cidr_match_text(l, "2001:db8:8000::1"));
    assert_true(ps_cidr_match_text(l, "::ffff:192.0.2.7"));
    assert_false(ps_cidr_match_text(l, "::ffff:198.51.100.7"));
    /* a mapped network written as such still matches (fuzz_cidr) */
    l = parse_ok("::ffff:192.0.2.0/120");
    assert_true(ps_cidr_match_text(l, "::ffff:192.0.2.9"));
    assert_false(ps_cidr_match_text(l, "192.0.2.9"));
}

static void test_zero_prefix_and_empty(void **state)
{
    ps_cidr_list empty;
    ps_err err = {""};

    (void)state;
    assert_true(ps_cidr_match_text(parse_ok("0.0.0.0/0"), "203.0.113.9"));
    assert_false(ps_cidr_match_text(parse_ok("0.0.0.0/0"), "2001:db8::1"));
    assert_true(ps_cidr_match_text(parse_ok("::/0"), "2001:db8::1"));
    assert_int_equal(ps_cidr_parse(NULL, &empty, &err), 0);
    assert_int_equal(empty.count, 0);
    assert_false(ps_cidr_match_text(&empty, "127.0.0.1"));
    assert_int_equal(ps_cidr_parse("", &empty, &err), 0);
}

static void test_sockaddr(void **state)
{
    const ps_cidr_list *l = parse_ok("127.0.0.0/8, fd00::/8");
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    struct sockaddr other = {.sa_family = AF_UNIX};

    (void)state;
    inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
    inet_pton(AF_INET6, "fd12::3", &s6.sin6_addr);
    assert_true(ps_cidr_match_sockaddr(l, (struct sockaddr *)&s4));
    assert_true(ps_cidr_match_sockaddr(l, (struct sockaddr *)&s6));
    assert_false(ps_cidr_match_sockaddr(l, &other));
    assert_false(ps_cidr_match_sockaddr(l, NULL));
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("10.1.2.3/8", "host bits");
    expect_refused("10.0.0.0/33", "prefix length");
    expect_refused("::/129", "prefix length");
    expect_refused("10.0.0.0/", "prefix length");
    expect_refused("10.0.0.0/-1", "prefix length");
    expect_refused("10.0.0.0/8x", "prefix length");
    expect_refused("300.0.0.1", "not an IP address");
    expect_refused("example.com", "not an IP address");
    expect_refused("127.0.0.1,,::1", "empty item");
    expect_refused("127.0.0.1,", "empty item");
    expect_refused(" , ", "empty item");
    expect_refused("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:"
                   "cccc:dddd/64",
                   "longer than");
}

static void test_list_bound(void **state)
{
    char *text = malloc(PS_CIDR_MAX * 16 + 32);
    size_t len = 0;

    (void)state;
    for (int i = 0; i <= PS_CIDR_MAX; i++)
        len += (size_t)sprintf(text + len, "%s10.%d.%d.0/24", i ? "," : "",
                               i / 256, i % 256);
    expect_refused(text, "more than");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6_and_mapped),
        cmocka_unit_test(test_zero_prefix_and_empty),
        cmocka_unit_test(test_sockaddr),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_list_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
