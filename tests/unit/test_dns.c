/* Unit tests for shared/dns/dns.c: hand-built replies read by
 * ps_dns_parse_reply (TXT strings joined, CNAMEs skipped, NXDOMAIN an
 * answer, malformed replies refused), and resolver address errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"

typedef struct pkt {
    uint8_t b[16384];
    size_t n;
} pkt;

static void put(pkt *p, const void *data, size_t n)
{
    assert_true(p->n + n <= sizeof(p->b));
    memcpy(p->b + p->n, data, n);
    p->n += n;
}

static void put16(pkt *p, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    put(p, b, 2);
}

static void put_name(pkt *p, const char *name)
{
    while (*name != '\0') {
        size_t len = strcspn(name, ".");
        uint8_t l = (uint8_t)len;

        put(p, &l, 1);
        put(p, name, len);
        name += len + (name[len] == '.');
    }
    put(p, "", 1);
}

/* Header and question; answers follow with pkt_rr. */
static void pkt_start(pkt *p, const char *qname, unsigned type, unsigned rcode,
                      unsigned ancount)
{
    p->n = 0;
    put16(p, 0x1234);
    put16(p, 0x8180 | rcode); /* QR, RD, RA */
    put16(p, 1);
    put16(p, ancount);
    put16(p, 0);
    put16(p, 0);
    put_name(p, qname);
    put16(p, type);
    put16(p, 1);
}

/* An answer RR owned by the question name (compression pointer to 12). */
static void pkt_rr(pkt *p, unsigned type, const void *rdata, size_t rdlen)
{
    put16(p, 0xc00c);
    put16(p, type);
    put16(p, 1);
    put16(p, 0);
    put16(p, 300);
    put16(p, (unsigned)rdlen);
    put(p, rdata, rdlen);
}

static int parse(const pkt *p, int type, ps_dns_answer *ans, ps_err *err)
{
    return ps_dns_parse_reply(p->b, p->n, type, ans, err);
}

static void expect_refused(const pkt *p, int type, const char *frag)
{
    ps_dns_answer ans;
    ps_err err = {""};

    assert_int_equal(parse(p, type, &ans, &err), -1);
    assert_int_equal(ans.count, 0);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, frag);
}

static void test_txt_strings_joined(void **state)
{
    static const uint8_t rd[] = "\x07v=DKIM1\x0b; k=ed25519\x02; ";
    pkt p;
    ps_dns_answer ans;
    ps_err err = {""};

    (void)state;
    pkt_start(&p, "s._domainkey.example.test", PS_DNS_TYPE_TXT, 0, 2);
    pkt_rr(&p, PS_DNS_TYPE_TXT, rd, sizeof(rd) - 1);
    pkt_rr(&p, PS_DNS_TYPE_TXT, "\x05other", 6);
    assert_int_equal(parse(&p, PS_DNS_TYPE_TXT, &ans, &err), 0);
    assert_int_equal(ans.count, 2);
    assert_int_equal(ans.nxdomain, 0);
    assert_string_equal(ans.records[0], "v=DKIM1; k=ed25519; ");
    assert_string_equal(ans.records[1], "other");
    ps_dns_answer_free(&ans);
    assert_int_equal(ans.count, 0);
    ps_dns_answer_free(&ans); /* twice is harmless */
}

static void test_empty_txt_and_cname_skipped(void **state)
{
    pkt p;
    ps_dns_answer ans;
    ps_err err = {""};
    uint8_t cname[64];
    pkt tmp = {.n = 0};

    (void)state;
    put_name(&tmp, "target.example.test");
    memcpy(cname, tmp.b, tmp.n);
    pkt_start(&p, "alias.example.test", PS_DNS_TYPE_TXT, 0, 3);
    pkt_rr(&p, 5, cname, tmp.n);        /* CNAME */
    pkt_rr(&p, PS_DNS_TYPE_TXT, "", 0); /* a TXT RR with no strings */
    pkt_rr(&p, PS_DNS_TYPE_TXT, "\x00", 1);
    assert_int_equal(parse(&p, PS_DNS_TYPE_TXT, &ans, &err), 0);
    assert_int_equal(ans.count, 2);
    assert_string_equal(ans.records[0], "");
    assert_string_equal(ans.records[1], "");
    ps_dns_answer_free(&ans);
}

static void test_nxdomain_and_nodata_are_answers(void **state)
{
    pkt p;
    ps_dns_answer ans;
    ps_err err = {""};

    (void)state;
    pkt_start(&p, "_dmarc.example.test", PS_DNS_TYPE_TXT, 3, 0);
    assert_int_equal(parse(&p, PS_DNS_TYPE_TXT, &ans, &err), 0);
    assert_int_equal(ans.nxdomain, 1);
    assert_int_equal(ans.count, 0);
    pkt_start(&p, "example.test", PS_DNS_TYPE_MX, 0, 0);
    assert_int_equal(parse(&p, PS_DNS_TYPE_MX, &ans, &err), 0);
    assert_int_equal(ans.nxdomain, 0);
    assert_int_equal(ans.count, 0);
}

static void test_server_failure_refused(void **state)
{
    pkt p;

    (void)state;
    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 2, 0);
    expect_refused(&p, PS_DNS_TYPE_TXT, "rcode 2");
    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 5, 0);
    expect_refused(&p, PS_DNS_TYPE_TXT, "rcode 5");
}

static void test_malformed_replies(void **state)
{
    pkt p;

    (void)state;
    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 0, 1);
    pkt_rr(&p, PS_DNS_TYPE_TXT, "\x09short", 6); /* string overruns RR */
    expect_refused(&p, PS_DNS_TYPE_TXT, "malformed TXT");

    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 0, 1);
    pkt_rr(&p, PS_DNS_TYPE_TXT,
           "\x03"
           "a\0b",
           4);
    expect_refused(&p, PS_DNS_TYPE_TXT, "NUL");

    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 0, 1);
    pkt_rr(&p, PS_DNS_TYPE_TXT, "\x05hello", 6);
    p.n -= 3; /* cut inside the RDATA */
    expect_refused(&p, PS_DNS_TYPE_TXT, "malformed reply");

    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 0, 2); /* says 2, has 0 */
    expect_refused(&p, PS_DNS_TYPE_TXT, "malformed reply");

    p.n = 5; /* not even a header */
    expect_refused(&p, PS_DNS_TYPE_TXT, "malformed reply");

    pkt_start(&p, "example.test", PS_DNS_TYPE_MX, 0, 1);
    pkt_rr(&p, PS_DNS_TYPE_MX, "\x00\x0a", 2); /* preference, no name */
    expect_refused(&p, PS_DNS_TYPE_MX, "malformed MX");

    pkt_start(&p, "example.test", PS_DNS_TYPE_MX, 0, 0);
    expect_refused(&p, 2, "unsupported"); /* NS */

    pkt_start(&p, "example.test", PS_DNS_TYPE_A, 0, 1);
    pkt_rr(&p, PS_DNS_TYPE_A, "\xc0\x00\x02", 3); /* 3 bytes, not 4 */
    expect_refused(&p, PS_DNS_TYPE_A, "malformed address");
}

/* A and AAAA, read for DMARC's existence checks, as address text. */
static void test_addresses(void **state)
{
    pkt p;
    ps_dns_answer ans;
    ps_err err = {""};

    (void)state;
    pkt_start(&p, "example.test", PS_DNS_TYPE_A, 0, 1);
    pkt_rr(&p, PS_DNS_TYPE_A, "\xc0\x00\x02\x01", 4);
    assert_int_equal(parse(&p, PS_DNS_TYPE_A, &ans, &err), 0);
    assert_int_equal(ans.count, 1);
    assert_string_equal(ans.records[0], "192.0.2.1");
    ps_dns_answer_free(&ans);

    pkt_start(&p, "example.test", PS_DNS_TYPE_AAAA, 0, 2);
    pkt_rr(&p, PS_DNS_TYPE_A, "\xc0\x00\x02\x01", 4); /* not the type asked */
    pkt_rr(&p, PS_DNS_TYPE_AAAA, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01",
           16);
    assert_int_equal(parse(&p, PS_DNS_TYPE_AAAA, &ans, &err), 0);
    assert_int_equal(ans.count, 1);
    assert_string_equal(ans.records[0], "2001:db8::1");
    ps_dns_answer_free(&ans);
}

static void test_too_many_records(void **state)
{
    pkt p;
    ps_dns_answer ans;
    ps_err err = {""};

    (void)state;
    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 0, PS_DNS_MAX_RECORDS);
    for (int i = 0; i < PS_DNS_MAX_RECORDS; i++)
        pkt_rr(&p, PS_DNS_TYPE_TXT, "\x01x", 2);
    assert_int_equal(parse(&p, PS_DNS_TYPE_TXT, &ans, &err), 0);
    assert_int_equal(ans.count, PS_DNS_MAX_RECORDS);
    ps_dns_answer_free(&ans);
    pkt_start(&p, "example.test", PS_DNS_TYPE_TXT, 0, PS_DNS_MAX_RECORDS + 1);
    for (int i = 0; i <= PS_DNS_MAX_RECORDS; i++)
        pkt_rr(&p, PS_DNS_TYPE_TXT, "\x01x", 2);
    expect_refused(&p, PS_DNS_TYPE_TXT, "more than 64 records");
}

static void test_mx_names(void **state)
{
    pkt p, tmp = {.n = 0};
    ps_dns_answer ans;
    ps_err err = {""};
    uint8_t rd[80];

    (void)state;
    put16(&tmp, 10);
    put_name(&tmp, "mail.example.test");
    memcpy(rd, tmp.b, tmp.n);
    pkt_start(&p, "rp.example.test", PS_DNS_TYPE_MX, 0, 3);
    pkt_rr(&p, PS_DNS_TYPE_MX, rd, tmp.n);
    pkt_rr(&p, PS_DNS_TYPE_MX, "\x00\x14\xc0\x0c", 4); /* pointer to qname */
    pkt_rr(&p, PS_DNS_TYPE_MX, "\x00\x00\x00", 3);     /* null MX */
    assert_int_equal(parse(&p, PS_DNS_TYPE_MX, &ans, &err), 0);
    assert_int_equal(ans.count, 3);
    assert_string_equal(ans.records[0], "mail.example.test");
    assert_string_equal(ans.records[1], "rp.example.test");
    assert_string_equal(ans.records[2], ".");
    ps_dns_answer_free(&ans);
}

static void expect_lookup_error(const char *resolver, const char *name,
                                const char *frag)
{
    ps_dns_answer ans;
    ps_err err = {""};

    assert_int_equal(ps_dns_txt(resolver, name, &ans, &err), -1);
    assert_int_equal(ans.count, 0);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("%s: error \"%s\" lacks \"%s\"", resolver, err.msg, frag);
    ps_dns_answer_free(&ans);
}

static void test_bad_resolver_addresses(void **state)
{
    (void)state;
    expect_lookup_error("1.2.3", "example.test", "expected IP");
    expect_lookup_error("example.test:53", "example.test", "expected IP");
    expect_lookup_error("127.0.0.1:0", "example.test", "port");
    expect_lookup_error("127.0.0.1:65536", "example.test", "port");
    expect_lookup_error("127.0.0.1:+53", "example.test", "port");
    expect_lookup_error("[::1", "example.test", "[IPv6]:PORT");
    expect_lookup_error("[::1]x", "example.test", "[IPv6]:PORT");
    expect_lookup_error("[::1]:", "example.test", "port");
    expect_lookup_error("127.0.0.1:53", "", "empty name");
    expect_lookup_error(
        "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd",
        "example.test", "too long");
}

/* The one parser of the resolver grammar, which the config check and the
 * milter's queries call too: what it accepts and where it points. */
static void test_server_parse(void **state)
{
    ps_dns_server s;
    ps_err err = {""};
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&s.addr;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&s.addr;

    (void)state;
    assert_int_equal(ps_dns_server_parse("127.0.0.1", &s, &err), 0);
    assert_int_equal(v4->sin_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 53);
    assert_int_equal(s.len, sizeof(*v4));
    assert_int_equal(ps_dns_server_parse("127.0.0.1:5353", &s, &err), 0);
    assert_int_equal(ntohs(v4->sin_port), 5353);
    assert_int_equal(ps_dns_server_parse("::1", &s, &err), 0);
    assert_int_equal(v6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(v6->sin6_port), 53);
    assert_int_equal(ps_dns_server_parse("[::1]:54", &s, &err), 0);
    assert_int_equal(ntohs(v6->sin6_port), 54);
    assert_int_equal(s.len, sizeof(*v6));
    assert_int_equal(ps_dns_server_parse("[127.0.0.1]:53", &s, &err), -1);
    assert_int_equal(ps_dns_server_parse("127.0.0.1: 53", &s, &err), -1);
    assert_int_equal(ps_dns_server_parse("127.0.0.1:053x", &s, &err), -1);
    assert_string_equal(err.msg, "port must be a number from 1 to 65535");
    assert_int_equal(ps_dns_server_parse("dns.example", &s, &err), -1);
    assert_string_equal(err.msg, "expected IP, IP:PORT or [IPv6]:PORT");
}

/* Nothing listens on UDP port 1 of the loopback: the kernel refuses at
 * once, and the error must say so and name the resolver. */
static void test_refused_connection(void **state)
{
    (void)state;
    expect_lookup_error("127.0.0.1:1", "example.test", "127.0.0.1:1");
    expect_lookup_error("127.0.0.1:1", "example.test", "refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txt_strings_joined),
        cmocka_unit_test(test_empty_txt_and_cname_skipped),
        cmocka_unit_test(test_nxdomain_and_nodata_are_answers),
        cmocka_unit_test(test_server_failure_refused),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_too_many_records),
        cmocka_unit_test(test_mx_names),
        cmocka_unit_test(test_bad_resolver_addresses),
        cmocka_unit_test(test_server_parse),
        cmocka_unit_test(test_refused_connection),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
