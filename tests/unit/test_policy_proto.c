/* Unit tests for policyd/policy_proto.c: requests whole, byte by byte and
 * pipelined; the exact edges of PS_POLICY_MAX_LINE (cut, not refused),
 * PS_POLICY_MAX_ATTRS and PS_POLICY_MAX_REQUEST; CR LF requests ended and
 * refused; each refusal read to the end of its request, its sound lines
 * kept, and the next request on the same parser unaffected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../policyd/policy_proto.h"

static const char REQ[] = "request=smtpd_access_policy\n"
                          "protocol_state=RCPT\n"
                          "sasl_username=app@example.com\n"
                          "size=\n"
                          "ccert_subject=a=b\n"
                          "\n";

static void test_whole_and_bytewise(void **state)
{
    ps_policy_parser p;
    size_t len = strlen(REQ), used = 0;

    (void)state;
    ps_policy_init(&p);
    assert_int_equal(ps_policy_feed(&p, REQ, len), len);
    assert_true(p.done);
    assert_int_equal(p.error, PS_POLICY_OK);
    assert_string_equal(ps_policy_get(&p, "sasl_username"), "app@example.com");
    assert_string_equal(ps_policy_get(&p, "size"), "");
    assert_string_equal(ps_policy_get(&p, "ccert_subject"), "a=b");
    assert_null(ps_policy_get(&p, "recipient"));
    assert_string_equal(ps_policy_name_at(&p, 1), "protocol_state");
    assert_null(ps_policy_name_at(&p, 5));
    ps_policy_reset(&p);
    for (size_t i = 0; i < len; i++) {
        assert_false(p.done);
        used += ps_policy_feed(&p, REQ + i, 1);
        assert_int_equal(ps_policy_pending(&p), !p.done);
    }
    assert_int_equal(used, len);
    assert_true(p.done);
    assert_string_equal(ps_policy_get(&p, "protocol_state"), "RCPT");
    ps_policy_free(&p);
}

static void test_pipelined(void **state)
{
    char buf[512];
    ps_policy_parser p;
    size_t n, len;

    (void)state;
    len = (size_t)snprintf(buf, sizeof(buf), "%s%s", REQ, REQ);
    ps_policy_init(&p);
    n = ps_policy_feed(&p, buf, len);
    assert_int_equal(n, strlen(REQ)); /* stops after the first request */
    assert_true(p.done);
    ps_policy_reset(&p);
    assert_int_equal(ps_policy_feed(&p, buf + n, len - n), len - n);
    assert_true(p.done);
    assert_int_equal(p.error, PS_POLICY_OK);
    ps_policy_free(&p);
}

static ps_policy_error feed_text(ps_policy_parser *p, const char *s, size_t n)
{
    ps_policy_reset(p);
    assert_int_equal(ps_policy_feed(p, s, n), n);
    assert_true(p->done);
    return p->error;
}

#define FEED(p, lit) feed_text(p, lit, sizeof(lit) - 1)

/* A request with one line "name=" + value_len bytes of 'v'. */
static ps_policy_error feed_line(ps_policy_parser *p, size_t value_len, int cr)
{
    size_t len = 28 + 5 + value_len + 3;
    char *buf = malloc(len + 1);
    size_t n = (size_t)sprintf(buf, "request=smtpd_access_policy\nname=");

    memset(buf + n, 'v', value_len);
    n += value_len;
    n += (size_t)sprintf(buf + n, "%s\n\n", cr ? "\r" : "");
    ps_policy_reset(p);
    assert_int_equal(ps_policy_feed(p, buf, n), n);
    assert_true(p->done);
    free(buf);
    return p->error;
}

static void test_line_limit(void **state)
{
    ps_policy_parser p;
    const size_t max = PS_POLICY_MAX_LINE - 5; /* value of "name=" whole */
    char *name;

    (void)state;
    ps_policy_init(&p);
    assert_int_equal(feed_line(&p, max, 0), PS_POLICY_OK);
    assert_int_equal(strlen(ps_policy_get(&p, "name")), max);
    assert_false(p.attrs[1].cut);
    /* one byte more: kept, cut to the line, marked; the request is sound */
    assert_int_equal(feed_line(&p, max + 1, 0), PS_POLICY_OK);
    assert_int_equal(strlen(ps_policy_get(&p, "name")), max);
    assert_true(p.attrs[1].cut);
    assert_false(p.attrs[0].cut);
    assert_int_equal(feed_line(&p, 1 << 20, 0), PS_POLICY_OK);
    assert_int_equal(strlen(ps_policy_get(&p, "name")), max);
    assert_true(p.attrs[1].cut);
    assert_true(p.cap <= PS_POLICY_MAX_REQUEST); /* the megabyte never kept */
    assert_int_equal(feed_line(&p, 3, 0), PS_POLICY_OK);
    assert_false(p.attrs[1].cut);
    /* a name as long as the line has no '=' in what is kept */
    name = malloc(PS_POLICY_MAX_LINE + 10);
    memset(name, 'n', PS_POLICY_MAX_LINE + 10);
    ps_policy_reset(&p);
    ps_policy_feed(&p, "request=smtpd_access_policy\n", 28);
    ps_policy_feed(&p, name, PS_POLICY_MAX_LINE + 10);
    free(name);
    ps_policy_feed(&p, "=v\nsender=a@b\n\n", 15);
    assert_true(p.done);
    assert_int_equal(p.error, PS_POLICY_ELINE);
    assert_int_equal(p.error_line, 2);
    assert_string_equal(ps_policy_get(&p, "sender"), "a@b"); /* kept */
    ps_policy_free(&p);
}

/* Lines ending in CR LF: each refused, and "\r" alone ends the request
 * (no CR LF client waits forever for an answer). */
static void test_crlf(void **state)
{
    ps_policy_parser p;
    static const char crlf[] = "request=smtpd_access_policy\r\n"
                               "sasl_username=a@b\r\n\r\n";

    (void)state;
    ps_policy_init(&p);
    assert_int_equal(ps_policy_feed(&p, crlf, sizeof(crlf) - 1),
                     sizeof(crlf) - 1);
    assert_true(p.done);
    assert_int_equal(p.error, PS_POLICY_ECRLF);
    assert_int_equal(p.error_line, 1);
    assert_string_equal(ps_policy_get(&p, "sasl_username"), "a@b");
    assert_string_equal(ps_policy_strerror(PS_POLICY_ECRLF),
                        "line ends in CR LF");
    /* one CR LF line among LF ones; then an LF request is sound again */
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nx=1\r\n\n"),
                     PS_POLICY_ECRLF);
    assert_int_equal(p.error_line, 2);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\n\r\n"),
                     PS_POLICY_ECRLF);
    assert_int_equal(FEED(&p, "\r\n"), PS_POLICY_ECRLF);
    assert_int_equal(feed_line(&p, 1 << 16, 1), PS_POLICY_ECRLF);
    assert_int_equal(feed_line(&p, 10, 1), PS_POLICY_ECRLF);
    assert_string_equal(ps_policy_get(&p, "name"), "vvvvvvvvvv");
    /* a CR inside a value is just a byte */
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nx=a\rb\n\n"),
                     PS_POLICY_OK);
    assert_string_equal(ps_policy_get(&p, "x"), "a\rb");
    ps_policy_free(&p);
}

static ps_policy_error feed_attrs(ps_policy_parser *p, int n)
{
    char line[32];

    ps_policy_reset(p);
    ps_policy_feed(p, "request=smtpd_access_policy\n", 28);
    for (int i = 1; i < n; i++) {
        int len = snprintf(line, sizeof(line), "a%d=%d\n", i, i);
        assert_int_equal(ps_policy_feed(p, line, (size_t)len), (size_t)len);
    }
    assert_int_equal(ps_policy_feed(p, "\n", 1), 1);
    assert_true(p->done);
    return p->error;
}

static void test_attr_limit(void **state)
{
    ps_policy_parser p;

    (void)state;
    ps_policy_init(&p);
    assert_int_equal(feed_attrs(&p, PS_POLICY_MAX_ATTRS), PS_POLICY_OK);
    assert_int_equal(p.nattrs, PS_POLICY_MAX_ATTRS);
    assert_int_equal(feed_attrs(&p, PS_POLICY_MAX_ATTRS + 1), PS_POLICY_EATTRS);
    assert_int_equal(p.error_line, PS_POLICY_MAX_ATTRS + 1);
    assert_int_equal(feed_attrs(&p, 5000), PS_POLICY_EATTRS);
    assert_int_equal(p.nattrs, PS_POLICY_MAX_ATTRS);
    ps_policy_free(&p);
}

/* Lines of PS_POLICY_MAX_LINE each: the request stops being kept at
 * PS_POLICY_MAX_REQUEST bytes, and is refused. */
static void test_request_limit(void **state)
{
    ps_policy_parser p;
    char *line = malloc(PS_POLICY_MAX_LINE + 1);
    size_t lines = PS_POLICY_MAX_REQUEST / PS_POLICY_MAX_LINE + 2;

    (void)state;
    ps_policy_init(&p);
    ps_policy_feed(&p, "request=smtpd_access_policy\n", 28);
    for (size_t i = 0; i < lines; i++) {
        int n = snprintf(line, 16, "a%zu=", i);
        memset(line + n, 'v', PS_POLICY_MAX_LINE - (size_t)n);
        line[PS_POLICY_MAX_LINE] = '\n';
        assert_int_equal(ps_policy_feed(&p, line, PS_POLICY_MAX_LINE + 1),
                         PS_POLICY_MAX_LINE + 1);
        assert_true(p.cap <= PS_POLICY_MAX_REQUEST);
    }
    assert_int_equal(ps_policy_feed(&p, "\n", 1), 1);
    assert_true(p.done);
    assert_int_equal(p.error, PS_POLICY_ESIZE);
    assert_int_equal(p.error_line,
                     PS_POLICY_MAX_REQUEST / PS_POLICY_MAX_LINE + 1);
    assert_true(p.nattrs < lines);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\n\n"), PS_POLICY_OK);
    free(line);
    ps_policy_free(&p);
}

static void test_refusals(void **state)
{
    ps_policy_parser p;

    (void)state;
    ps_policy_init(&p);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nnoequals\n\n"),
                     PS_POLICY_ESYNTAX);
    assert_int_equal(p.error_line, 2);
    assert_int_equal(FEED(&p, "=value\nrequest=smtpd_access_policy\n\n"),
                     PS_POLICY_ESYNTAX);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nn=a\0b\n\n"),
                     PS_POLICY_EBINARY);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nx=1\nx=2\n\n"),
                     PS_POLICY_EREPEAT);
    assert_int_equal(FEED(&p, "request=other\n\n"), PS_POLICY_EREQUEST);
    assert_int_equal(FEED(&p, "sender=a@b\n\n"), PS_POLICY_EREQUEST);
    assert_int_equal(FEED(&p, "\n"), PS_POLICY_EREQUEST);
    /* the first error is the one kept */
    assert_int_equal(FEED(&p, "bad\nn=\0\n\n"), PS_POLICY_ESYNTAX);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\n\n"), PS_POLICY_OK);
    assert_string_equal(ps_policy_strerror(PS_POLICY_ELINE),
                        "attribute name longer than 4096 bytes");
    assert_string_equal(ps_policy_strerror(PS_POLICY_ESIZE),
                        "request longer than 32768 bytes");
    assert_string_equal(ps_policy_strerror((ps_policy_error)99), "?");
    ps_policy_free(&p);
}

/* The name index behind the repeat check and ps_policy_get: a repeat is
 * found wherever it is (first line, far apart, the last line allowed),
 * names that differ in one byte or in case are distinct, and a full
 * request of distinct names (colliding slots included) is kept whole. */
static void test_repeats(void **state)
{
    ps_policy_parser p;
    char line[32];

    (void)state;
    ps_policy_init(&p);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\n"
                              "request=smtpd_access_policy\n\n"),
                     PS_POLICY_EREPEAT);
    assert_int_equal(p.error_line, 2);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nsender=a\n"
                              "size=1\nrecipient=b\nsender=\n\n"),
                     PS_POLICY_EREPEAT);
    assert_int_equal(p.error_line, 5);
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\nx=1\nX=2\n"
                              "x1=3\nx2=4\n1x=5\n\n"),
                     PS_POLICY_OK);
    assert_string_equal(ps_policy_get(&p, "X"), "2");
    assert_string_equal(ps_policy_get(&p, "1x"), "5");
    assert_null(ps_policy_get(&p, "x3"));
    /* 99 distinct names after request=: every one found again */
    assert_int_equal(feed_attrs(&p, PS_POLICY_MAX_ATTRS), PS_POLICY_OK);
    for (int i = 1; i < PS_POLICY_MAX_ATTRS; i++) {
        char want[16];
        snprintf(line, sizeof(line), "a%d", i);
        snprintf(want, sizeof(want), "%d", i);
        assert_string_equal(ps_policy_get(&p, line), want);
    }
    assert_null(ps_policy_get(&p, "a100"));
    /* a repeat on the last line a request may have */
    ps_policy_reset(&p);
    ps_policy_feed(&p, "request=smtpd_access_policy\n", 28);
    for (int i = 1; i < PS_POLICY_MAX_ATTRS - 1; i++) {
        int len = snprintf(line, sizeof(line), "a%d=%d\n", i, i);
        ps_policy_feed(&p, line, (size_t)len);
    }
    ps_policy_feed(&p, "a1=again\n\n", 10);
    assert_true(p.done);
    assert_int_equal(p.error, PS_POLICY_EREPEAT);
    assert_int_equal(p.error_line, PS_POLICY_MAX_ATTRS);
    /* and the next request on the parser starts with an empty index */
    assert_int_equal(FEED(&p, "request=smtpd_access_policy\na1=x\n\n"),
                     PS_POLICY_OK);
    assert_string_equal(ps_policy_get(&p, "a1"), "x");
    ps_policy_free(&p);
}

static void test_known_names(void **state)
{
    (void)state;
    assert_true(ps_policy_known("sasl_username"));
    assert_true(ps_policy_known("recipient_count"));
    assert_true(ps_policy_known("policy_context"));
    assert_false(ps_policy_known("frobnicate"));
    assert_false(ps_policy_known(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_and_bytewise),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_attr_limit),
        cmocka_unit_test(test_request_limit),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_known_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
