/* Unit tests for shared/conf/endpoint.c: [endpoint NAME] sections, their
 * defaults, every refusal with its file:line, and which events an
 * endpoint wants. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "conf/conf.h"
#include "mail/evspool.h"

#define EVDIR "[events]\ndir = /var/spool/postseal\n"

static ps_conf *parse_ok(const char *text)
{
    ps_conf *conf = NULL;
    ps_err err = {""};

    if (ps_conf_parse(text, strlen(text), "t.conf", &conf, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    return conf;
}

static void expect_error(const char *text, const char *message)
{
    ps_conf *conf = NULL;
    ps_err err = {""};

    assert_int_equal(ps_conf_parse(text, strlen(text), "t.conf", &conf, &err),
                     -1);
    assert_null(conf);
    assert_string_equal(err.msg, message);
}

/* The list of kinds grows with the spool's: only its start is fixed. */
static void expect_error_start(const char *text, const char *start)
{
    ps_conf *conf = NULL;
    ps_err err = {""};

    assert_int_equal(ps_conf_parse(text, strlen(text), "t.conf", &conf, &err),
                     -1);
    assert_int_equal(strncmp(err.msg, start, strlen(start)), 0);
    assert_non_null(strstr(err.msg, "or all)"));
}

static void test_two_endpoints(void **state)
{
    (void)state;
    ps_conf *c = parse_ok(EVDIR "[endpoint app]\n"
                                "url = https://app.example/hooks/mail\n"
                                "for = sasl_username:app\n"
                                "events = bounced, failed\n"
                                "secret = /etc/postseal/app.whsec\n"
                                "ca_file = /etc/ssl/ca.pem\n"
                                "[endpoint legacy]\n"
                                "url = http://127.0.0.1:8000/postal/\n"
                                "for = all\n"
                                "format = postal\n"
                                "key = /etc/postseal/postal.pem\n"
                                "timeout = 10\n"
                                "concurrency = 2\n");
    assert_int_equal(c->nendpoints, 2);
    const ps_conf_endpoint *a = ps_conf_find_endpoint(c, "app");
    const ps_conf_endpoint *l = ps_conf_find_endpoint(c, "legacy");
    assert_non_null(a);
    assert_non_null(l);
    assert_null(ps_conf_find_endpoint(c, "nope"));
    assert_string_equal(a->url.value, "https://app.example/hooks/mail");
    assert_int_equal(a->url.line, 4);
    assert_int_equal(a->format, PS_CONF_WH_STANDARD);
    assert_int_equal(a->timeout, PS_CONF_ENDPOINT_TIMEOUT);
    assert_int_equal(a->concurrency, PS_CONF_ENDPOINT_CONCURRENCY);
    assert_string_equal(a->ca_file.value, "/etc/ssl/ca.pem");
    assert_int_equal(l->format, PS_CONF_WH_POSTAL);
    assert_int_equal(l->timeout, 10);
    assert_int_equal(l->concurrency, 2);
    /* app: its credential's bounces and failures only */
    assert_true(
        ps_conf_endpoint_wants(a, PS_EVENT_BOUNCED, "x@a.example", "app"));
    assert_true(ps_conf_endpoint_wants(a, PS_EVENT_FAILED, NULL, "app"));
    assert_false(ps_conf_endpoint_wants(a, PS_EVENT_SENT, NULL, "app"));
    assert_false(ps_conf_endpoint_wants(a, PS_EVENT_BOUNCED, NULL, "other"));
    assert_false(ps_conf_endpoint_wants(a, PS_EVENT_BOUNCED, NULL, NULL));
    /* legacy: every kind (the default), everyone's mail */
    for (int k = 0; k < PS_EVENT_NKINDS; k++)
        assert_true(ps_conf_endpoint_wants(l, k, "", NULL));
    assert_false(ps_conf_endpoint_wants(l, PS_EVENT_NKINDS, "", NULL));
    ps_conf_free(c);
}

static void test_for_domain(void **state)
{
    (void)state;
    ps_conf *c = parse_ok(EVDIR "[endpoint d]\nurl = https://h/\n"
                                "for = sender_domain:Example.COM\n"
                                "secret = /s\n");
    const ps_conf_endpoint *d = &c->endpoints[0];
    assert_true(
        ps_conf_endpoint_wants(d, PS_EVENT_SENT, "a@example.com", NULL));
    assert_true(ps_conf_endpoint_wants(d, PS_EVENT_SENT, "a@EXAMPLE.com", "x"));
    assert_false(
        ps_conf_endpoint_wants(d, PS_EVENT_SENT, "a@sub.example.com", NULL));
    assert_false(ps_conf_endpoint_wants(d, PS_EVENT_SENT, "", NULL));
    assert_false(ps_conf_endpoint_wants(d, PS_EVENT_SENT, NULL, NULL));
    ps_conf_free(c);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error(EVDIR "[endpoint a]\nurl = http://app.example/\n",
                 "t.conf:4: bad url 'http://app.example/' in [endpoint a]: "
                 "http:// only to loopback (127.0.0.0/8, [::1], localhost); "
                 "use https://");
    expect_error(EVDIR "[endpoint a]\nurl = ftp://h/\n",
                 "t.conf:4: bad url 'ftp://h/' in [endpoint a]: expected an "
                 "https:// URL");
    expect_error(EVDIR "[endpoint a]\nurl = https://u:p@h/\n",
                 "t.conf:4: bad url 'https://u:p@h/' in [endpoint a]: "
                 "credentials in the URL are refused (they would be logged)");
    expect_error(EVDIR "[endpoint a]\nurl = https:///x\n",
                 "t.conf:4: bad url 'https:///x' in [endpoint a]: no host or "
                 "host too long");
    expect_error(EVDIR "[endpoint a/b]\nurl = https://h/\n",
                 "t.conf:4: bad endpoint name 'a/b': use 1 to 64 letters, "
                 "digits, '_' or '-'");
    expect_error_start(EVDIR "[endpoint a]\nevents = sent, opened\n",
                       "t.conf:4: bad events 'sent, opened' in [endpoint a]: "
                       "unknown event 'opened' (expected sent, delayed, "
                       "failed, bounced, held, ");
    expect_error(EVDIR "[endpoint a]\nfor = client_address:1.2.3.4\n",
                 "t.conf:4: bad for 'client_address:1.2.3.4' in [endpoint "
                 "a]: expected all, sasl_username:NAME or "
                 "sender_domain:DOMAIN");
    expect_error(EVDIR "[endpoint a]\nformat = svix\n",
                 "t.conf:4: bad format 'svix' in [endpoint a]: expected "
                 "standard or postal");
    expect_error(EVDIR "[endpoint a]\nconcurrency = 0\n",
                 "t.conf:4: bad concurrency '0' in [endpoint a]: expected a "
                 "number from 1 to 64");
    expect_error(EVDIR "[endpoint a]\nurl = https://h/\nurl = https://i/\n",
                 "t.conf:5: bad url 'https://i/' in [endpoint a]: repeated "
                 "key 'url' in [endpoint a] (first on line 4)");
    expect_error(EVDIR "[endpoint a]\ncolour = red\n",
                 "t.conf:4: bad colour 'red' in [endpoint a]: unknown key "
                 "'colour' in [endpoint a]");
}

/* start = now|beginning, and [events] retention, dead_retention. */
static void test_start_and_retention(void **state)
{
    (void)state;
    ps_conf *c = parse_ok("[events]\ndir = /var/spool/postseal\n"
                          "retention = 12h\ndead_retention = off\n"
                          "[endpoint a]\nurl = https://h/\nfor = all\n"
                          "secret = /s\nstart = beginning\n"
                          "[endpoint b]\nurl = https://h/\nfor = all\n"
                          "secret = /s\n");
    assert_int_equal(c->events.retention, 12 * 3600);
    assert_int_equal(c->events.dead_retention, 0);
    assert_int_equal(c->endpoints[0].start, PS_CONF_START_BEGINNING);
    assert_int_equal(c->endpoints[1].start, PS_CONF_START_NOW);
    ps_conf_free(c);
    c = parse_ok(EVDIR);
    assert_int_equal(c->events.retention, 7 * 86400);
    assert_int_equal(c->events.dead_retention, 30 * 86400);
    ps_conf_free(c);
    c = parse_ok(EVDIR "dead_retention = 90m\nretention = 600\n");
    assert_int_equal(c->events.retention, 600);
    assert_int_equal(c->events.dead_retention, 90 * 60);
    ps_conf_free(c);
    expect_error(EVDIR "[endpoint a]\nstart = later\n",
                 "t.conf:4: bad start 'later' in [endpoint a]: expected now "
                 "or beginning");
    expect_error(EVDIR "retention = 0\n",
                 "t.conf:3: bad retention '0': expected a time from 1s to "
                 "3650d, as 30d, 12h, 90m or 600s");
    expect_error(EVDIR "retention = off\n",
                 "t.conf:3: bad retention 'off': expected a time from 1s to "
                 "3650d, as 30d, 12h, 90m or 600s");
    expect_error(EVDIR "dead_retention = 3651d\n",
                 "t.conf:3: bad dead_retention '3651d': expected off or a "
                 "time from 1s to 3650d, as 30d, 12h, 90m or 600s");
}

static void test_incomplete(void **state)
{
    (void)state;
    expect_error(EVDIR "[endpoint a]\nfor = all\nsecret = /s\n",
                 "t.conf:4: [endpoint a] has no url");
    expect_error(EVDIR "[endpoint a]\nurl = https://h/\nsecret = /s\n",
                 "t.conf:4: [endpoint a] has no 'for' (all, "
                 "sasl_username:NAME or sender_domain:DOMAIN)");
    expect_error(EVDIR "[endpoint a]\nurl = https://h/\nfor = all\n",
                 "t.conf:4: [endpoint a] (format standard) has no secret "
                 "file");
    expect_error(EVDIR "[endpoint a]\nurl = https://h/\nfor = all\n"
                       "format = postal\nsecret = /s\n",
                 "t.conf:4: [endpoint a] (format postal) has no key file");
    expect_error(EVDIR "[endpoint a]\nurl = https://h/\nfor = all\n"
                       "secret = /s\nkey = /k\n",
                 "t.conf:7: [endpoint a]: 'key' is for format postal only");
    expect_error("[endpoint a]\nurl = https://h/\nfor = all\nsecret = /s\n",
                 "t.conf:2: [endpoint a] needs [events] dir (the spool it "
                 "delivers from)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_endpoints),
        cmocka_unit_test(test_for_domain),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_start_and_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
