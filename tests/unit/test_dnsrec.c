/* Unit tests for shared/dns/dnsrec.c: long records split into 255-byte
 * character-strings that join back exactly, zone-file escaping, the SPF and
 * DMARC shapes, and the domain/selector validators. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsname.h"
#include "dns/dnsrec.h"
#include "crypto/keys.h"

/* Reads quoted zone-file strings back the way a zone loader does,
 * checking each is at most 255 bytes; returns the joined bytes
 * (malloc'd, NUL-terminated) and the number of strings. */
static char *unquote(const char *q, size_t *nstrings)
{
    char *out = malloc(strlen(q) + 1);
    size_t len = 0, piece;

    assert_non_null(out);
    *nstrings = 0;
    while (*q != '\0') {
        if (*nstrings > 0)
            assert_int_equal(*q++, ' ');
        assert_int_equal(*q++, '"');
        for (piece = 0; *q != '"'; piece++) {
            assert_int_not_equal(*q, '\0');
            if (*q == '\\' && q[1] >= '0' && q[1] <= '9') {
                out[len++] = (char)((q[1] - '0') * 100 + (q[2] - '0') * 10 +
                                    (q[3] - '0'));
                q += 4;
            } else {
                q += *q == '\\';
                out[len++] = *q++;
            }
        }
        q++;
        assert_true(piece <= PS_DNS_STRING_MAX);
        (*nstrings)++;
    }
    out[len] = '\0';
    return out;
}

static void check_roundtrip(const char *txt, size_t want_strings)
{
    char *q = ps_dnsrec_quote(txt), *back;
    size_t n;

    assert_non_null(q);
    back = unquote(q, &n);
    assert_string_equal(back, txt);
    assert_int_equal(n, want_strings);
    free(back);
    free(q);
}

static void check_quote(const char *txt, const char *want)
{
    char *q = ps_dnsrec_quote(txt);

    assert_non_null(q);
    assert_string_equal(q, want);
    free(q);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_quote_short(void **state)
{
    (void)state;
    check_quote("", "\"\"");
    check_quote("v=spf1 mx ~all", "\"v=spf1 mx ~all\"");
    check_quote("a\"b\\c", "\"a\\\"b\\\\c\"");
    check_quote("tab\there\n\xff", "\"tab\\009here\\010\\255\"");
}

static void test_quote_boundaries(void **state)
{
    char *s = repeat('a', 600);
    char *q;

    (void)state;
    s[255] = '\0';
    check_roundtrip(s, 1);
    s[255] = 'a';
    s[256] = '\0';
    check_roundtrip(s, 2);
    q = ps_dnsrec_quote(s);
    assert_string_equal(q + 255 + 2, " \"a\"");
    free(q);
    s[256] = 'a';
    s[510] = '\0';
    check_roundtrip(s, 2);
    s[510] = 'a';
    check_roundtrip(s, 3);
    free(s);
}

/* An escape is never cut: byte 255 being '"' stays whole in string one. */
static void test_escape_at_boundary(void **state)
{
    char *s = repeat('a', 256), *q;

    (void)state;
    s[254] = '"';
    s[255] = 'b';
    q = ps_dnsrec_quote(s);
    assert_non_null(strstr(q, "aa\\\"\" \"b\""));
    free(q);
    check_roundtrip(s, 2);
    free(s);
    s = repeat('"', 600);
    check_roundtrip(s, 3);
    free(s);
    s = repeat('\\', 256);
    check_roundtrip(s, 2);
    free(s);
}

static void test_rsa_2048_record_split(void **state)
{
    ps_key *key = NULL;
    char *rec = NULL, *q, *back;
    size_t n;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_key_generate(PS_KEY_RSA, 2048, &key, &err), 0);
    assert_int_equal(ps_key_dkim_record(key, &rec, &err), 0);
    assert_true(strlen(rec) > PS_DNS_STRING_MAX);
    q = ps_dnsrec_quote(rec);
    back = unquote(q, &n);
    assert_string_equal(back, rec);
    assert_int_equal(n, 2);
    free(back);
    free(q);
    free(rec);
    ps_key_free(key);
}

static void test_txt_line(void **state)
{
    char *line;
    char *s = repeat('x', 300);

    (void)state;
    line = ps_dnsrec_txt_line("s1._domainkey.example.com", 3600,
                              "v=DKIM1; k=ed25519; p=abc");
    assert_string_equal(line, "s1._domainkey.example.com. 3600 IN TXT "
                              "\"v=DKIM1; k=ed25519; p=abc\"");
    free(line);
    line = ps_dnsrec_txt_line("_dmarc.example.com.", 300, "v=DMARC1; p=none");
    assert_string_equal(line, "_dmarc.example.com. 300 IN TXT "
                              "\"v=DMARC1; p=none\"");
    free(line);
    line = ps_dnsrec_txt_line("example.com", 60, s);
    assert_non_null(line);
    assert_true(strncmp(line, "example.com. 60 IN TXT \"xxx", 27) == 0);
    assert_non_null(strstr(line, "xx\" \"xx"));
    free(line);
    free(s);
    assert_null(ps_dnsrec_txt_line("", 60, "x"));
    assert_null(ps_dnsrec_txt_line("exa mple.com", 60, "x"));
    assert_null(ps_dnsrec_txt_line("example.com;", 60, "x"));
    assert_null(ps_dnsrec_txt_line("example.com\n", 60, "x"));
    assert_null(ps_dnsrec_txt_line("ex\"ample.com", 60, "x"));
    assert_null(ps_dnsrec_txt_line(NULL, 60, "x"));
    assert_null(ps_dnsrec_txt_line("example.com", 60, NULL));
}

static void test_spf(void **state)
{
    const char *incs[] = {"_spf.mail.example.net", "mailgun.org"};
    const char *bad[] = {"mailgun.org", "not a domain"};
    const char *ip[] = {"192.0.2.1"};
    char *spf;
    ps_err err = {""};

    (void)state;
    spf = ps_dnsrec_spf(NULL, 0);
    assert_string_equal(spf, "v=spf1 mx ~all");
    free(spf);
    spf = ps_dnsrec_spf(incs, 2);
    assert_string_equal(spf, "v=spf1 mx include:_spf.mail.example.net "
                             "include:mailgun.org ~all");
    free(spf);
    assert_null(ps_dnsrec_spf(bad, 2));
    assert_null(ps_dnsrec_spf(ip, 1));
    assert_int_equal(ps_dnsname_check_spf_include("_spf.google.com", &err), 0);
    assert_int_equal(ps_dnsname_check_spf_include("a b.com", &err), -1);
    assert_non_null(strstr(err.msg, "SPF include"));
    assert_non_null(strstr(err.msg, "0x20"));
}

static void test_dmarc(void **state)
{
    char *d;
    ps_err err = {""};

    (void)state;
    d = ps_dnsrec_dmarc("none", NULL);
    assert_string_equal(d, "v=DMARC1; p=none");
    free(d);
    d = ps_dnsrec_dmarc("reject", "dmarc@example.com");
    assert_string_equal(d, "v=DMARC1; p=reject; rua=mailto:dmarc@example.com");
    free(d);
    d = ps_dnsrec_dmarc("quarantine", "mailto:dmarc@example.com");
    assert_string_equal(d, "v=DMARC1; p=quarantine; "
                           "rua=mailto:dmarc@example.com");
    free(d);
    assert_null(ps_dnsrec_dmarc("block", NULL));
    assert_null(ps_dnsrec_dmarc(NULL, NULL));
    assert_null(ps_dnsrec_dmarc("none", "nobody"));
    assert_int_equal(ps_dnsrec_check_dmarc("Reject", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "none, quarantine or reject"));
    assert_int_equal(ps_dnsrec_check_dmarc("none", "example.com", &err), -1);
    assert_non_null(strstr(err.msg, "expected an address"));
    assert_int_equal(ps_dnsrec_check_dmarc("none", "@example.com", &err), -1);
    assert_int_equal(ps_dnsrec_check_dmarc("none", "a@b.com,c@d.com", &err),
                     -1);
    assert_int_equal(ps_dnsrec_check_dmarc("none", "a,b@d.com", &err), -1);
    assert_non_null(strstr(err.msg, "one address only"));
    assert_int_equal(ps_dnsrec_check_dmarc("none", "a@bad..com", &err), -1);
    assert_non_null(strstr(err.msg, "empty label"));
    assert_int_equal(ps_dnsrec_check_dmarc("none", "a b@d.com", &err), -1);
    assert_non_null(strstr(err.msg, "rua: byte 0x20 at offset 1"));
    assert_int_equal(ps_dnsrec_check_dmarc("none", "x@example.com", &err), 0);
}

static void expect_domain_refused(const char *name, const char *frag)
{
    ps_err err = {""};

    assert_int_equal(ps_dnsname_check_domain(name, &err), -1);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", name ? name : "(null)",
                 err.msg, frag);
}

static void test_check_domain(void **state)
{
    char *l63 = repeat('a', 63), *l64 = repeat('a', 64), name[300];
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_dnsname_check_domain("example.com", &err), 0);
    assert_int_equal(ps_dnsname_check_domain("mail.example.co.uk", &err), 0);
    assert_int_equal(ps_dnsname_check_domain("EXAMPLE.COM.", &err), 0);
    assert_int_equal(ps_dnsname_check_domain("xn--bcher-kva.example", &err), 0);
    assert_int_equal(ps_dnsname_check_domain("a-b.3com.example", &err), 0);
    snprintf(name, sizeof(name), "%s.example.com", l63);
    assert_int_equal(ps_dnsname_check_domain(name, &err), 0);
    snprintf(name, sizeof(name), "%s.example.com", l64);
    expect_domain_refused(name, "is 64 bytes long (at most 63)");
    snprintf(name, sizeof(name), "%s.%s.%s.%s.com", l63, l63, l63, l63);
    expect_domain_refused(name, "at most 253");
    expect_domain_refused(NULL, "domain is missing");
    expect_domain_refused("", "domain is empty");
    expect_domain_refused("com", "at least two labels");
    expect_domain_refused("example..com", "empty label at offset 8");
    expect_domain_refused(".example.com", "empty label at offset 0");
    expect_domain_refused("example.com..", "empty label");
    expect_domain_refused(".", "empty label");
    expect_domain_refused("-a.example.com", "starts or ends with '-'");
    expect_domain_refused("a-.example.com", "starts or ends with '-'");
    expect_domain_refused("exa_mple.com", "character '_' at offset 3");
    expect_domain_refused("exa mple.com", "byte 0x20 at offset 3");
    expect_domain_refused("ex\nample.com", "byte 0x0a at offset 2");
    expect_domain_refused("caf\xc3\xa9.example", "byte 0xc3 at offset 3");
    expect_domain_refused("192.0.2.1", "looks like an IP address");
    expect_domain_refused("mailto:x.com", "character ':'");
    free(l63);
    free(l64);
}

static void test_check_selector(void **state)
{
    char *l64 = repeat('s', 64);
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_dnsname_check_selector("s2026r", &err), 0);
    assert_int_equal(ps_dnsname_check_selector("s1.dkim", &err), 0);
    assert_int_equal(ps_dnsname_check_selector("2026-01", &err), 0);
    assert_int_equal(ps_dnsname_check_selector("", &err), -1);
    assert_non_null(strstr(err.msg, "selector is empty"));
    assert_int_equal(ps_dnsname_check_selector("sel_x", &err), -1);
    assert_non_null(strstr(err.msg, "character '_'"));
    assert_int_equal(ps_dnsname_check_selector("a..b", &err), -1);
    assert_non_null(strstr(err.msg, "empty label"));
    assert_int_equal(ps_dnsname_check_selector(".a", &err), -1);
    assert_int_equal(ps_dnsname_check_selector("a.", &err), -1);
    assert_int_equal(ps_dnsname_check_selector("-a", &err), -1);
    assert_int_equal(ps_dnsname_check_selector("s 1", &err), -1);
    assert_non_null(strstr(err.msg, "selector: byte 0x20"));
    assert_int_equal(ps_dnsname_check_selector(l64, &err), -1);
    assert_non_null(strstr(err.msg, "at most 63"));
    assert_int_equal(ps_dnsname_check_selector(NULL, &err), -1);
    assert_non_null(strstr(err.msg, "selector is missing"));
    free(l64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_short),
        cmocka_unit_test(test_quote_boundaries),
        cmocka_unit_test(test_escape_at_boundary),
        cmocka_unit_test(test_rsa_2048_record_split),
        cmocka_unit_test(test_txt_line),
        cmocka_unit_test(test_spf),
        cmocka_unit_test(test_dmarc),
        cmocka_unit_test(test_check_domain),
        cmocka_unit_test(test_check_selector),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
