/* Unit tests for shared/conf/listen.c, the one parser of listening
 * sockets: [policyd] listen ("inet:HOST:PORT", "unix:PATH") and [milter]
 * socket (libmilter's "inet:PORT@HOST", ...), and resolving their hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "conf/listen.h"

static void expect_refused(int milter, const char *spec, const char *frag)
{
    ps_listen l;
    ps_err err = {""};
    int rc = milter ? ps_listen_parse_milter(spec, &l, &err)
                    : ps_listen_parse(spec, &l, &err);

    if (rc != -1 || strstr(err.msg, frag) == NULL)
        fail_msg("\"%s\": rc %d, error \"%s\" lacks \"%s\"", spec, rc, err.msg,
                 frag);
}

/* Specs refused (milter spelling or not), and a piece of the reason. */
static const struct {
    int milter;
    const char *spec, *frag;
} refused[] = {
    {0, "inet:127.0.0.1", "expected inet:HOST:PORT"},
    {0, "inet:127.0.0.1:", "port must be"},
    {0, "inet:127.0.0.1:+25", "port must be"},
    {0, "inet:127.0.0.1:65536", "port must be"},
    {0, "inet::25", "host name must be"},
    {0, "inet:[::g]:25", "bad IPv6 address in brackets"},
    {0, "inet:a_b:25", "bad character '_'"},
    {0, "unix:p.sock", "must be absolute"},
    {0, "tcp:1.2.3.4:5", "expected inet:HOST:PORT or unix:PATH"},
    {1, "8891", "expected inet:PORT@HOST"},
    {1, "inet:0@127.0.0.1", "port must be"},
    {1, "inet:8891@::1", "bad character ':'"},
    {1, "unix:m.sock", "must be absolute"},
    {1, "inet6:8891@::g", "bad character ':'"},
};

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        expect_refused(refused[i].milter, refused[i].spec, refused[i].frag);
}

static void test_policyd_spelling(void **state)
{
    ps_listen l;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_listen_parse("inet:127.0.0.1:10040", &l, &err), 0);
    assert_int_equal(l.kind, PS_LISTEN_INET);
    assert_string_equal(l.host, "127.0.0.1");
    assert_string_equal(l.port, "10040");
    assert_int_equal(ps_listen_parse("inet:[::1]:25", &l, &err), 0);
    assert_string_equal(l.host, "::1");
    assert_int_equal(ps_listen_parse("inet:localhost:1", &l, &err), 0);
    assert_int_equal(ps_listen_parse("unix:/run/p.sock", &l, &err), 0);
    assert_int_equal(l.kind, PS_LISTEN_UNIX);
    assert_string_equal(l.path, "/run/p.sock");
}

static void test_milter_spelling(void **state)
{
    ps_listen l;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_listen_parse_milter("inet:8891@127.0.0.1", &l, &err),
                     0);
    assert_string_equal(l.port, "8891");
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(ps_listen_parse_milter("inet:8891", &l, &err), 0);
    assert_string_equal(l.host, "");
    assert_int_equal(ps_listen_parse_milter("inet6:8891@::1", &l, &err), 0);
    assert_string_equal(l.host, "::1");
    assert_int_equal(ps_listen_parse_milter("local:/run/m.sock", &l, &err), 0);
    assert_string_equal(l.path, "/run/m.sock");
}

static void test_long_socket_path(void **state)
{
    char spec[220] = "unix:/";

    (void)state;
    memset(spec + 6, 'a', 150);
    spec[156] = '\0';
    expect_refused(0, spec, "socket path longer than");
    expect_refused(1, spec, "socket path longer than");
}

static void test_resolve(void **state)
{
    ps_listen l;
    struct addrinfo *ai = NULL;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_listen_parse("inet:127.0.0.1:10040", &l, &err), 0);
    assert_int_equal(ps_listen_resolve(&l, &ai, &err), 0);
    assert_int_equal(ai->ai_family, AF_INET);
    freeaddrinfo(ai);
    assert_int_equal(ps_listen_parse("unix:/run/x.sock", &l, &err), 0);
    assert_int_equal(ps_listen_resolve(&l, &ai, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policyd_spelling),
        cmocka_unit_test(test_milter_spelling),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_long_socket_path),
        cmocka_unit_test(test_resolve),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
