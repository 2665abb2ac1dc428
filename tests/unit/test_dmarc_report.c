/* Unit tests for DMARC aggregate reports (shared/dmarc/history.c and
 * report*.c): the history record's round trip and its refusals, rua=
 * URIs with size limits, the RFC 7489 section 7.1 authorisation check,
 * grouping into counted rows, the XML's escaping and IPv6 form, the
 * gzip'd MIME message, and rua= kept whole by the record parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/encode.h"
#include "dmarc/report.h"

static ps_dmhist sample(void)
{
    ps_dmhist h;

    memset(&h, 0, sizeof(h));
    h.when = 1700000000;
    h.source_ip = "192.0.2.7";
    h.header_from = "example.com";
    h.envelope_from = "bounce.example.com";
    h.spf_domain = "bounce.example.com";
    h.spf = PS_DMHIST_SOFTFAIL;
    h.policy_domain = "example.com";
    h.policy = (ps_dmhist_policy){PS_DMARC_POLICY_REJECT,
                                  PS_DMARC_POLICY_QUARANTINE,
                                  PS_DMARC_STRICT,
                                  PS_DMARC_RELAXED,
                                  50,
                                  "d:s"};
    h.rua = "mailto:a@example.com, mailto:b%20c@example.net!10m";
    h.pass = 1;
    h.dkim_aligned = 1;
    h.disposition = PS_DMARC_POLICY_NONE;
    h.reasons = PS_DMHIST_R_SAMPLED_OUT | PS_DMHIST_R_LOCAL_POLICY;
    h.dkim[0] = (ps_dmhist_dkim){"example.com", "s 1", PS_DMHIST_PASS};
    h.dkim[1] = (ps_dmhist_dkim){"other.example", "", PS_DMHIST_POLICY};
    h.ndkim = 2;
    return h;
}

static char *formatted(const ps_dmhist *h)
{
    ps_record r = {0};

    ps_dmhist_format(h, &r);
    assert_false(r.oom);
    assert_int_equal(r.p[r.n - 1], '\n');
    r.p[r.n - 1] = '\0';
    return r.p;
}

static void test_history_round_trip(void **state)
{
    ps_dmhist h = sample(), got;
    char *line = formatted(&h), *fields[PS_DMHIST_FIELDS];
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_dmhist_parse(line, fields, &got, &err), 0);
    assert_int_equal(got.when, h.when);
    assert_string_equal(got.source_ip, "192.0.2.7");
    assert_string_equal(got.envelope_from, "bounce.example.com");
    assert_int_equal(got.spf, PS_DMHIST_SOFTFAIL);
    assert_int_equal(got.policy.p, PS_DMARC_POLICY_REJECT);
    assert_int_equal(got.policy.sp, PS_DMARC_POLICY_QUARANTINE);
    assert_int_equal(got.policy.adkim, PS_DMARC_STRICT);
    assert_int_equal(got.policy.aspf, PS_DMARC_RELAXED);
    assert_int_equal(got.policy.pct, 50);
    assert_string_equal(got.policy.fo, "d:s");
    assert_string_equal(got.rua, h.rua);
    assert_int_equal(got.pass, 1);
    assert_int_equal(got.dkim_aligned, 1);
    assert_int_equal(got.spf_aligned, 0);
    assert_int_equal(got.reasons, h.reasons);
    assert_int_equal(got.ndkim, 2);
    assert_string_equal(got.dkim[0].selector, "s 1");
    assert_string_equal(got.dkim[1].selector, "");
    assert_int_equal(got.dkim[1].result, PS_DMHIST_POLICY);
    free(line);
}

static void refused(const char *text)
{
    char *line = strdup(text), *fields[PS_DMHIST_FIELDS];
    ps_dmhist h;
    ps_err err = {""};

    if (ps_dmhist_parse(line, fields, &h, &err) == 0)
        fail_msg("accepted: %s", text);
    assert_true(err.msg[0] != '\0');
    free(line);
}

#define GOOD_HEAD "D1 1700000000 192.0.2.7 example.com - example.com mfrom "
#define GOOD_TAIL " example.com reject none 100 r r fail fail fail reject - - 0"

static void test_history_refusals(void **state)
{
    char *line = strdup(GOOD_HEAD "pass" GOOD_TAIL), *fields[PS_DMHIST_FIELDS];
    ps_dmhist h;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_dmhist_parse(line, fields, &h, &err), 0);
    free(line);
    refused("");
    refused(GOOD_HEAD "unknown" GOOD_TAIL);             /* SPF result */
    refused("D2 1700000000" GOOD_TAIL);                 /* version */
    refused(GOOD_HEAD "pass" GOOD_TAIL " d.example s"); /* half a DKIM */
    refused(GOOD_HEAD "pass" GOOD_TAIL " d.example s softfail");
    refused(GOOD_HEAD "pass"
                      " example.com reject none 101 r r fail fail "
                      "fail reject - -"); /* pct */
    refused(GOOD_HEAD "pass"
                      " example.com reject none 100 r r fail fail "
                      "fail reject forwarded,bogus -"); /* reason */
    refused("D1 -5 192.0.2.7 example.com - example.com mfrom pass" GOOD_TAIL);
    refused("D1 1700000000 - example.com - example.com mfrom pass" GOOD_TAIL);
    refused(GOOD_HEAD "pass" GOOD_TAIL " %00 s pass"); /* NUL */
}

static void test_rua_parse(void **state)
{
    ps_dmrep_uri u[4];
    size_t n = ps_dmrep_rua_parse(
        " mailto:a@example.com , https://x.example/r, mailto:b%21c@Ex.net!10m,"
        "mailto:d@example.org!20,mailto:nodomain!1k, MAILTO:e@example.io?x=y",
        u, 4);

    (void)state;
    assert_int_equal(n, 4);
    assert_string_equal(u[0].addr, "a@example.com");
    assert_int_equal(u[0].limit, 0);
    assert_string_equal(u[1].addr, "b!c@Ex.net");
    assert_string_equal(u[1].domain, "Ex.net");
    assert_int_equal(u[1].limit, 10 * 1024 * 1024);
    assert_int_equal(u[2].limit, 20);
    assert_string_equal(u[3].addr, "e@example.io");
    assert_int_equal(ps_dmrep_rua_parse("mailto:a@b.example!12x", u, 4), 0);
    assert_int_equal(ps_dmrep_rua_parse("mailto:a@b.example!", u, 4), 0);
    assert_int_equal(ps_dmrep_rua_parse("", u, 4), 0);
}

typedef struct fake_dns {
    const char *name, *txt;
    int fail, asked;
} fake_dns;

static int fake_txt(void *arg, const char *name, ps_dns_answer *ans)
{
    fake_dns *d = arg;

    d->asked++;
    if (d->fail)
        return -1;
    if (d->name != NULL && strcmp(name, d->name) == 0) {
        ans->records[0] = strdup(d->txt);
        ans->count = 1;
    } else {
        ans->nxdomain = 1;
    }
    return 0;
}

static void test_rua_allowed(void **state)
{
    ps_dmarc_psl *psl = NULL;
    ps_err err = {""};
    fake_dns d = {"example.com._report._dmarc.reports.example.net", "v=DMARC1",
                  0, 0};

    (void)state;
    assert_int_equal(ps_dmarc_psl_load(NULL, &psl, &err), 0);
    assert_int_equal(ps_dmrep_rua_allowed(psl, "mail.example.com",
                                          "dmarc.example.com", fake_txt, &d,
                                          &err),
                     1);
    assert_int_equal(d.asked, 0); /* same organization: no lookup */
    assert_int_equal(ps_dmrep_rua_allowed(psl, "example.com",
                                          "reports.example.net", fake_txt, &d,
                                          &err),
                     1);
    assert_int_equal(ps_dmrep_rua_allowed(psl, "other.example.com",
                                          "reports.example.net", fake_txt, &d,
                                          &err),
                     0);
    d.txt = "v=spf1 -all";
    assert_int_equal(ps_dmrep_rua_allowed(psl, "example.com",
                                          "reports.example.net", fake_txt, &d,
                                          &err),
                     0);
    d.fail = 1;
    assert_int_equal(ps_dmrep_rua_allowed(psl, "example.com",
                                          "reports.example.net", fake_txt, &d,
                                          &err),
                     -1);
    assert_non_null(strstr(err.msg, "_report._dmarc.reports.example.net"));
    ps_dmarc_psl_free(psl);
}

static void add(ps_dmrep_set *set, const ps_dmhist *h)
{
    char *line = formatted(h);
    ps_err err = {""};

    if (ps_dmrep_add_line(set, line, strlen(line), &err) != 0)
        fail_msg("%s", err.msg);
    free(line);
}

static const ps_dmrep_meta meta = {"Org <&> \"R\"", "dmarc@rx.example",
                                   1699920000, 1700006399};

static void test_group_and_xml(void **state)
{
    ps_dmrep_set set = {0};
    ps_dmrep_domain *d = NULL;
    size_t nd = 0, n = 0;
    ps_dmhist h = sample();
    char *xml = NULL;
    ps_err err = {""};

    (void)state;
    add(&set, &h);
    h.when++;
    add(&set, &h); /* the same row */
    h.source_ip = "2001:db8::7";
    h.policy.pct = 30; /* the newest record's policy is reported */
    h.when++;
    add(&set, &h);
    h.policy_domain = "other.example";
    add(&set, &h);
    assert_int_equal(ps_dmrep_group(&set, &d, &nd, &err), 0);
    assert_int_equal(nd, 2);
    assert_string_equal(d[0].domain, "example.com");
    assert_int_equal(d[0].n, 3);
    assert_int_equal(ps_dmrep_xml(&meta, &d[0], &xml, &n, &err), 0);
    assert_int_equal(strlen(xml), n);
    assert_non_null(strstr(xml, "<org_name>Org &lt;&amp;&gt; &quot;R&quot;"));
    assert_non_null(
        strstr(xml, "<report_id>2023-11-14.example.com@rx.example"));
    assert_non_null(strstr(xml, "<source_ip>192.0.2.7</source_ip>\n"
                                "      <count>2</count>"));
    assert_non_null(strstr(xml, "<source_ip>2001:db8:0:0:0:0:0:7</source_ip>\n"
                                "      <count>1</count>"));
    assert_non_null(strstr(xml, "<pct>30</pct>"));
    assert_non_null(strstr(xml, "<fo>d:s</fo>"));
    assert_non_null(strstr(xml, "<type>sampled_out</type>"));
    assert_non_null(strstr(xml, "<type>local_policy</type>"));
    assert_non_null(strstr(xml, "<selector>s 1</selector>"));
    assert_non_null(strstr(xml, "<domain>other.example</domain>\n"
                                "        <result>policy</result>"));
    assert_non_null(strstr(xml, "<result>softfail</result>"));
    free(xml);
    free(d);
    ps_dmrep_set_free(&set);
}

/* The attachment's base64 lines, decoded and gunzip'd. */
static char *attachment(const char *msg)
{
    const char *p = strstr(msg, "Content-Transfer-Encoding: base64\n\n");
    static uint8_t gz[65536];
    static char xml[65536];
    size_t gn = 0, len;
    uLongf xn = sizeof(xml) - 1;
    z_stream z;
    ps_err err = {""};

    assert_non_null(p);
    for (p = strchr(p, '\n') + 2; *p != '\n';) {
        const char *nl = strchr(p, '\n');
        assert_int_equal(ps_b64_decode(p, (size_t)(nl - p), gz + gn,
                                       sizeof(gz) - gn, &len, &err),
                         0);
        assert_true(nl - p <= 76);
        gn += len;
        p = nl + 1;
    }
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = gz;
    z.avail_in = (uInt)gn;
    z.next_out = (Bytef *)xml;
    z.avail_out = (uInt)xn;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    xml[z.total_out] = '\0';
    inflateEnd(&z);
    return xml;
}

static void test_mail(void **state)
{
    const char *xml = "<?xml version=\"1.0\"?><feedback/>\n";
    char *msg = NULL;
    size_t n = 0;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_dmrep_mail(&meta, "example.com", xml, strlen(xml),
                                   "a@example.com", &msg, &n, &err),
                     0);
    assert_non_null(strstr(msg, "To: <a@example.com>\n"));
    assert_non_null(strstr(msg, "From: \"Org <&> \\\"R\\\"\" "
                                "<dmarc@rx.example>\n"));
    assert_non_null(strstr(msg, "Subject: Report Domain: example.com "
                                "Submitter: rx.example Report-ID: "
                                "<2023-11-14.example.com@rx.example>\n"));
    assert_non_null(strstr(msg, "filename=\"rx.example!example.com!"
                                "1699920000!1700006399.xml.gz\""));
    assert_string_equal(attachment(msg), xml);
    free(msg);
}

#define WRITERS    4
#define PER_WRITER 50

typedef struct writer {
    const char *dir;
    char ip[16];
    int failed;
} writer;

static void *write_records(void *arg)
{
    writer *w = arg;
    ps_dmhist h = sample();
    ps_err err = {""};

    h.source_ip = w->ip;
    for (int i = 0; i < PER_WRITER; i++)
        w->failed |= ps_dmhist_append(w->dir, &h, &err) != 0;
    return NULL;
}

static void count_bad(void *arg, const char *path, size_t line, const char *why)
{
    (void)path, (void)line, (void)why;
    ++*(int *)arg;
}

/* The milter's threads append to one day's file at once: every line
 * stays whole (one O_APPEND write each). */
static void test_concurrent_appends(void **state)
{
    char tmp[] = "/tmp/ps-dmhist-XXXXXX", dir[64], path[128];
    pthread_t t[WRITERS];
    writer w[WRITERS];
    ps_dmrep_set set = {0};
    ps_dmhist h = sample();
    size_t per[WRITERS] = {0};
    int bad = 0;
    ps_err err = {""};

    (void)state;
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, sizeof(dir), "%s/history", tmp);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){dir, "", 0};
        snprintf(w[i].ip, sizeof(w[i].ip), "192.0.2.%d", i + 1);
        assert_int_equal(pthread_create(&t[i], NULL, write_records, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        assert_false(w[i].failed);
    }
    assert_int_equal(ps_dmhist_path(dir, h.when, path, sizeof(path), &err), 0);
    assert_int_equal(ps_dmrep_read(&set, path, count_bad, &bad, &err), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(set.n, WRITERS * PER_WRITER);
    for (size_t i = 0; i < set.n; i++)
        per[set.v[i].h.source_ip[8] - '1']++;
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(per[i], PER_WRITER);
    ps_dmrep_set_free(&set);
    unlink(path);
    rmdir(dir);
    rmdir(tmp);
}

static void fo_is(const char *text, const char *want)
{
    ps_dmarc_record r;
    ps_err err = {""};

    assert_int_equal(ps_dmarc_record_parse(text, strlen(text), &r, &err), 0);
    assert_string_equal(r.fo, want);
}

static void test_record_keeps_fo(void **state)
{
    (void)state;
    fo_is("v=DMARC1; p=none", "0");
    fo_is("v=DMARC1; p=none; fo=1", "1");
    fo_is("v=DMARC1; p=none; fo=d : s", "d:s");
    fo_is("v=DMARC1; p=none; fo=0:1:d:s", "0:1:d:s");
    fo_is("v=DMARC1; p=none; fo=x", "0");
    fo_is("v=DMARC1; p=none; fo=1:", "0");
    fo_is("v=DMARC1; p=none; fo=11", "0");
    fo_is("v=DMARC1; p=none; fo=0:1:d:s:0:1:d:s", "0:1:d:s:0:1:d:s");
    fo_is("v=DMARC1; p=none; fo=0:1:d:s:0:1:d:s:1", "0"); /* too long */
}

static void test_record_keeps_whole_rua(void **state)
{
    char text[3000];
    ps_dmarc_record r;
    ps_err err = {""};
    int n = snprintf(text, sizeof(text), "v=DMARC1; p=none; rua=");

    (void)state;
    for (int i = 0; i < 60; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "%smailto:reports%02d@example.com", i ? "," : "", i);
    assert_int_equal(ps_dmarc_record_parse(text, strlen(text), &r, &err), 0);
    assert_true(strlen(r.rua) < PS_DMARC_RUA_MAX);
    assert_true(strlen(r.rua) > PS_DMARC_RUA_MAX - 40);
    assert_non_null(strstr(r.rua, "example.com"));
    assert_true(strcmp(r.rua + strlen(r.rua) - 12, "@example.com") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_round_trip),
        cmocka_unit_test(test_history_refusals),
        cmocka_unit_test(test_rua_parse),
        cmocka_unit_test(test_rua_allowed),
        cmocka_unit_test(test_group_and_xml),
        cmocka_unit_test(test_mail),
        cmocka_unit_test(test_record_keeps_whole_rua),
        cmocka_unit_test(test_record_keeps_fo),
        cmocka_unit_test(test_concurrent_appends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
