/* Unit tests for shared/quota/: the [limits] value syntax, the sliding
 * window (never more than N in any period, frees at most period/60 late,
 * a refusal never quotes more than the period, a clock that goes back), the
 * stored form, all-or-nothing evaluation, warn_at once per period, and rules:
 * overrides, networks, exemptions, IPv6 clients counted by network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota.h"
#include "quota/quota_rules.h"

#define H  3600000ULL
#define T0 1700000000000ULL /* a wall-clock ms */

static void parse_ok(const char *text, size_t n_expect, ps_quota_window *w)
{
    ps_err err = {""};
    size_t n;

    if (ps_quota_parse(text, w, &n, &err) != 0)
        fail_msg("\"%s\" refused: %s", text, err.msg);
    assert_int_equal(n, n_expect);
}

static void expect_refused(const char *text, const char *frag)
{
    ps_quota_window w[PS_QUOTA_MAX_WINDOWS];
    ps_err err = {""};
    size_t n;

    assert_int_equal(ps_quota_parse(text, w, &n, &err), -1);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", text, err.msg, frag);
}

static void test_parse(void **state)
{
    ps_quota_window w[PS_QUOTA_MAX_WINDOWS];

    (void)state;
    parse_ok(
        "messages 100/1h, messages 1000/1d, recipients 5000/1d, bytes 1G/1d", 4,
        w);
    assert_int_equal(w[0].measure, PS_QUOTA_MESSAGES);
    assert_int_equal(w[0].limit, 100);
    assert_int_equal(w[0].period_ms, H);
    assert_int_equal(w[1].period_ms, 24 * H);
    assert_int_equal(w[2].measure, PS_QUOTA_RECIPIENTS);
    assert_int_equal(w[3].limit, 1ULL << 30);
    parse_ok("  bytes 10K/30m ,messages 0/h,recipients 7/90s  ", 3, w);
    assert_int_equal(w[0].limit, 10240);
    assert_int_equal(w[0].period_ms, 1800000);
    assert_int_equal(w[1].limit, 0);
    assert_int_equal(w[1].period_ms, H);
    assert_int_equal(w[2].period_ms, 90000);
    parse_ok("bytes 1T/366d", 1, w);
    parse_ok("messages\t5/1s", 1, w);
}

static void test_parse_refused(void **state)
{
    (void)state;
    expect_refused("", "expected MEASURE");
    expect_refused(NULL, "expected MEASURE");
    expect_refused("mails 5/1h", "expected messages, recipients or bytes");
    expect_refused("messages/1h", "expected messages");
    expect_refused("messages x/1h", "expected a number");
    expect_refused("messages 5", "expected '/'");
    expect_refused("messages 5 /1h", "expected '/'");
    expect_refused("messages 5/1w", "period must be N followed by");
    expect_refused("messages 5/1hh", "period must be N followed by");
    expect_refused("messages 5/0h", "from 1s to 366d");
    expect_refused("messages 5/367d", "from 1s to 366d");
    expect_refused("messages 5K/1h", "K, M, G and T are for bytes");
    expect_refused("bytes 2000T/1h", "too large");
    expect_refused("messages 12345678901234567/1h", "expected a number");
    expect_refused("messages 5/1h,", "empty item");
    expect_refused("messages 5/1h,,bytes 1/1h", "empty item");
    expect_refused("messages 5/1h, messages 7/60m", "second messages limit");
    expect_refused(
        "messages 1/1s, messages 2/2s, messages 3/3s, messages 4/4s, "
        "messages 5/5s, messages 6/6s, messages 7/7s, messages 8/8s, "
        "messages 9/9s",
        "more than 8");
}

static void test_format(void **state)
{
    ps_quota_window w[PS_QUOTA_MAX_WINDOWS];
    char buf[64];
    const char *const texts[] = {"messages 100/1h", "bytes 1G/1d",
                                 "bytes 1536/90s",  "recipients 7/36h",
                                 "bytes 3M/2m",     "messages 0/1s"};

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        parse_ok(texts[i], 1, w);
        ps_quota_window_format(&w[0], buf, sizeof(buf));
        assert_string_equal(buf, texts[i]);
    }
    ps_quota_duration_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "0s");
    ps_quota_duration_format(1, buf, sizeof(buf));
    assert_string_equal(buf, "1s");
    ps_quota_duration_format(H + 61000, buf, sizeof(buf));
    assert_string_equal(buf, "1h1m1s");
    ps_quota_duration_format(2 * 24 * H + 1000, buf, sizeof(buf));
    assert_string_equal(buf, "2d1s");
}

/* Random arrivals charged when they fit: no interval of one period ever
 * holds more than the limit, checked against the exact log. */
static void test_never_over_in_any_period(void **state)
{
    ps_quota_window w = {PS_QUOTA_MESSAGES, 20, 60000};
    ps_quota_state st = {0};
    uint64_t *log = calloc(100000, sizeof(*log)), t = T0;
    size_t n = 0, start = 0;

    (void)state;
    srand(7);
    for (int i = 0; i < 200000; i++) {
        t += (uint64_t)(rand() % 900);
        if (ps_quota_used(&st, w.period_ms, t) + 1 > w.limit)
            continue;
        ps_quota_charge(&st, w.period_ms, t, 1);
        log[n++] = t;
        while (log[start] + w.period_ms <= t)
            start++;
        assert_true(n - start <= w.limit);
        if (n == 100000)
            break;
    }
    assert_true(n > 1000);
    free(log);
}

static void test_frees_within_one_slot(void **state)
{
    ps_quota_window w = {PS_QUOTA_MESSAGES, 5, H};
    ps_quota_state st = {0};
    uint64_t at;

    (void)state;
    for (int i = 0; i < 5; i++)
        ps_quota_charge(&st, w.period_ms, T0 + 1000 * (uint64_t)i, 1);
    assert_int_equal(ps_quota_used(&st, w.period_ms, T0 + 5000), 5);
    at = ps_quota_frees_at(&st, &w, T0 + 5000, 1);
    assert_true(at >= T0 + H);
    assert_true(at <= T0 + H + H / PS_QUOTA_SLOTS);
    /* exactly then, and not a ms before, one more fits */
    assert_int_equal(ps_quota_used(&st, w.period_ms, at - 1), 5);
    assert_true(ps_quota_used(&st, w.period_ms, at) <= 4);
    assert_int_equal(ps_quota_frees_at(&st, &w, at, 1), at);
    assert_int_equal(ps_quota_frees_at(&st, &w, at, 6), PS_QUOTA_NEVER);
    assert_int_equal(ps_quota_used(&st, w.period_ms, T0 + 2 * H), 0);
    assert_int_equal(st.nslots, 0);
}

/* A burst then a refusal in the same sub-window (issue 16: "3/1h, frees
 * in 1h27s"): the wait quoted is at most the period, and exactly then the
 * next unit goes through; at any phase of the sub-window. */
static void test_quote_never_longer_than_period(void **state)
{
    ps_quota_window w = {PS_QUOTA_MESSAGES, 3, H};

    (void)state;
    for (uint64_t phase = 0; phase < 60000; phase += 7919) {
        ps_quota_state st = {0};
        uint64_t t = T0 + phase, at;

        for (int i = 0; i < 3; i++)
            ps_quota_charge(&st, w.period_ms, t + 100 * (uint64_t)i, 1);
        t += 1000;
        assert_int_equal(ps_quota_used(&st, w.period_ms, t), 3);
        at = ps_quota_frees_at(&st, &w, t, 1);
        assert_true(at - t <= w.period_ms);
        assert_true(at >= T0 + phase + w.period_ms); /* never early */
        assert_int_equal(ps_quota_used(&st, w.period_ms, at - 1), 3);
        assert_true(ps_quota_used(&st, w.period_ms, at) <= 2);
    }
}

/* A state of the first form (version 1: slots by sub-window index) is
 * read as counting until its sub-window's end plus one period, or one
 * period from now when read within that sub-window (nothing was charged
 * later than now): the quoted wait stays within the period. */
static void test_decode_version_1(void **state)
{
    unsigned char buf[48] = {1, 2};
    uint64_t i = ps_quota_index(T0, H);
    ps_quota_window w = {PS_QUOTA_MESSAGES, 6, H};
    ps_quota_state st;

    (void)state;
    for (int b = 0; b < 8; b++) {
        buf[16 + b] = (unsigned char)(i >> (8 * b));
        buf[24 + b] = b == 0 ? 4 : 0;
        buf[32 + b] = (unsigned char)((i + 1) >> (8 * b));
        buf[40 + b] = b == 0 ? 2 : 0;
    }
    assert_int_equal(ps_quota_state_decode(buf, 48, H, T0 + H, &st), 0);
    assert_int_equal(st.nslots, 2);
    assert_int_equal(ps_quota_index(st.slots[0].last_ms, H), i);
    assert_int_equal(ps_quota_index(st.slots[0].last_ms + 1, H), i + 1);
    assert_int_equal(ps_quota_used(&st, H, T0 + H - 1), 6);
    /* read within sub-window i: both slots are at most now, merged */
    assert_int_equal(ps_quota_state_decode(buf, 48, H, T0 + 5000, &st), 0);
    assert_int_equal(st.nslots, 1);
    assert_int_equal(st.slots[0].last_ms, T0 + 5000);
    assert_int_equal(st.slots[0].count, 6);
    assert_int_equal(ps_quota_frees_at(&st, &w, T0 + 5000, 1), T0 + 5000 + H);
    buf[32] = buf[16]; /* out of order */
    assert_int_equal(ps_quota_state_decode(buf, 48, H, T0 + H, &st), -1);
}

static void test_clock_back_and_full_ring(void **state)
{
    ps_quota_window w = {PS_QUOTA_BYTES, 1000000, 60000};
    ps_quota_state st = {0};

    (void)state;
    ps_quota_charge(&st, w.period_ms, T0 + 30000, 10);
    ps_quota_charge(&st, w.period_ms, T0, 5); /* clock went back 30s */
    assert_int_equal(st.nslots, 1);
    assert_int_equal(ps_quota_used(&st, w.period_ms, T0), 15);
    memset(&st, 0, sizeof(st));
    for (uint64_t i = 0; i < 200; i++)
        ps_quota_charge(&st, w.period_ms, T0 + i * 1000, 1);
    assert_true(st.nslots <= PS_QUOTA_SLOTS + 1);
    assert_true(ps_quota_used(&st, w.period_ms, T0 + 199000) >= 60);
}

static void test_encode_decode(void **state)
{
    ps_quota_state st = {0}, back;
    unsigned char buf[PS_QUOTA_STATE_MAX];
    size_t n;

    (void)state;
    /* 61 sub-windows in one period: the first and last partly covered */
    for (uint64_t i = 0; i < 61; i++)
        ps_quota_charge(&st, H, T0 + i * 59990, i + 1);
    st.warned_until = T0 + H;
    n = ps_quota_state_encode(&st, buf);
    assert_int_equal(n, PS_QUOTA_STATE_MAX);
    assert_int_equal(ps_quota_state_decode(buf, n, H, T0 + H, &back), 0);
    assert_memory_equal(&back.slots, &st.slots, sizeof(st.slots));
    assert_int_equal(back.warned_until, st.warned_until);
    assert_int_equal(ps_quota_state_decode(buf, n - 1, H, T0 + H, &back), -1);
    assert_int_equal(ps_quota_state_decode(buf, 8, H, T0 + H, &back), -1);
    buf[0] = 9;
    assert_int_equal(ps_quota_state_decode(buf, n, H, T0 + H, &back), -1);
    buf[0] = 2;
    memcpy(buf + 32, buf + 16, 8); /* second index = first: out of order */
    assert_int_equal(ps_quota_state_decode(buf, n, H, T0 + H, &back), -1);
    buf[1] = 62;
    assert_int_equal(ps_quota_state_decode(buf, 16 + 16 * 62, H, T0 + H, &back),
                     -1);
}

static void test_eval_all_or_nothing(void **state)
{
    ps_quota_item it[3] = {{.win = {PS_QUOTA_MESSAGES, 10, H}},
                           {.win = {PS_QUOTA_RECIPIENTS, 5, H}},
                           {.win = {PS_QUOTA_BYTES, 100, 24 * H}}};
    uint64_t cost[PS_QUOTA_NMEASURES] = {1, 3, 50};
    ps_quota_verdict v;

    (void)state;
    ps_quota_eval(it, 3, cost, 1, T0, 80, &v);
    assert_false(v.over);
    assert_int_equal(it[0].used, 1);
    assert_int_equal(it[1].used, 3);
    assert_int_equal(it[2].used, 50);
    /* recipients would reach 6 > 5: nothing charged anywhere */
    ps_quota_eval(it, 3, cost, 1, T0 + 1000, 80, &v);
    assert_true(v.over);
    assert_int_equal(v.item, 1);
    assert_int_equal(it[0].used, 1);
    ps_quota_eval(it, 3, (uint64_t[]){1, 2, 50}, 1, T0 + 2000, 80, &v);
    assert_false(v.over);
    assert_true(it[1].warn && it[2].warn && !it[0].warn);
    /* both over: the one freeing last (the 1d bytes window) is named */
    ps_quota_eval(it, 3, (uint64_t[]){1, 1, 1}, 0, T0 + 3000, 80, &v);
    assert_true(v.over);
    assert_int_equal(v.item, 2);
    assert_true(v.frees_at >= T0 + 24 * H);
}

static void test_warn_once_per_period(void **state)
{
    ps_quota_window w = {PS_QUOTA_MESSAGES, 10, H};
    ps_quota_state st = {0};

    (void)state;
    assert_false(ps_quota_warn_due(&st, &w, 7, T0, 80));
    assert_true(ps_quota_warn_due(&st, &w, 8, T0, 80));
    assert_false(ps_quota_warn_due(&st, &w, 9, T0 + 1000, 80));
    assert_false(ps_quota_warn_due(&st, &w, 10, T0 + H - 1, 80));
    assert_true(ps_quota_warn_due(&st, &w, 9, T0 + H, 80));
    w.limit = 0;
    assert_false(ps_quota_warn_due(&st, &w, 9, T0 + 3 * H, 80));
}

static ps_quota_rules *rules_of(const char *limits)
{
    char text[2048];
    ps_conf *conf = NULL;
    ps_quota_rules *r = NULL;
    ps_err err = {""};

    snprintf(text, sizeof(text), "[limits]\n%s", limits);
    if (ps_conf_parse(text, strlen(text), "t.conf", &conf, &err) != 0)
        fail_msg("conf: %s", err.msg);
    if (ps_quota_rules_build(conf, &r, &err) != 0)
        fail_msg("rules: %s", err.msg);
    ps_conf_free(conf);
    return r;
}

static void rules_refused(const char *limits, const char *frag)
{
    char text[2048];
    ps_conf *conf = NULL;
    ps_quota_rules *r = NULL;
    ps_err err = {""};

    snprintf(text, sizeof(text), "[limits]\n%s", limits);
    if (ps_conf_parse(text, strlen(text), "t.conf", &conf, &err) == 0) {
        assert_int_equal(ps_quota_rules_build(conf, &r, &err), -1);
        assert_null(r);
        ps_conf_free(conf);
    }
    if (strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, frag);
}

static size_t resolve(const ps_quota_rules *r, const char *user,
                      const char *sender, const char *client,
                      ps_quota_target *t, int *rc)
{
    ps_quota_subject s = {user, sender, client};
    unsigned too_long;
    size_t n;

    *rc = ps_quota_rules_resolve(r, &s, t, &n, &too_long);
    return n;
}

static void test_rules_resolve(void **state)
{
    ps_quota_rules *r = rules_of(
        "sasl_username = messages 5/1h\n"
        "sasl_username:Bulk@App = messages 500/1h\n"
        "sender_domain:example.com = messages 50/1h\n"
        "client_address:192.0.2.0/24 = messages 10/1h\n"
        "client_address:192.0.2.128/25 = messages 20/1h\n"
        "client_address:2001:db8::/32 = messages 30/1h\n"
        "exempt = sasl_username:monitor@app, client_address:10.0.0.0/8\n");
    ps_quota_target t[PS_QUOTA_NKINDS];
    int rc;

    (void)state;
    assert_int_equal(
        resolve(r, "BULK@app", "x@Example.COM.", "192.0.2.200", t, &rc), 3);
    assert_int_equal(rc, PS_QUOTA_LIMITED);
    assert_string_equal(t[0].key, "sasl_username:bulk@app");
    assert_int_equal(t[0].rule->win[0].limit, 500);
    assert_string_equal(t[1].key, "sender_domain:example.com");
    assert_string_equal(t[2].key, "client_address:192.0.2.128/25");
    assert_int_equal(t[2].rule->win[0].limit, 20);
    assert_int_equal(resolve(r, "a@app", "", "192.0.2.1", t, &rc), 2);
    assert_string_equal(t[0].key, "sasl_username:a@app");
    assert_int_equal(t[0].rule->win[0].limit, 5);
    assert_string_equal(t[1].key, "client_address:192.0.2.0/24");
    assert_int_equal(resolve(r, "", "a@example.org", "2001:DB8::1", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:2001:db8::/32");
    assert_int_equal(resolve(r, "", "<>", "198.51.100.1", t, &rc), 0);
    assert_int_equal(
        resolve(r, "Monitor@App", "a@example.com", "192.0.2.1", t, &rc), 0);
    assert_int_equal(rc, PS_QUOTA_EXEMPT);
    assert_int_equal(resolve(r, "a@app", "", "10.9.8.7", t, &rc), 0);
    assert_int_equal(rc, PS_QUOTA_EXEMPT);
    ps_quota_rules_free(r);
}

/* The default client_address entry counts an IPv6 client as its /64 (the
 * [policyd] ipv6_prefix default), an IPv4 client alone; an override
 * network is still one counter of its own. */
static void test_ipv6_clients_by_network(void **state)
{
    ps_quota_rules *r = rules_of("client_address = messages 1/1h\n"
                                 "client_address:2001:db8:1::/48 = "
                                 "messages 9/1h\n");
    ps_quota_target t[PS_QUOTA_NKINDS];
    char net[PS_QUOTA_MAX_NAME + 1] = "unchanged";
    int rc;

    (void)state;
    assert_int_equal(r->ipv6_prefix, 64);
    assert_int_equal(resolve(r, "", "", "2001:DB8::1", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:2001:db8::/64");
    assert_int_equal(resolve(r, "", "", "2001:db8:0:0:ffff:1:2:3", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:2001:db8::/64");
    assert_int_equal(resolve(r, "", "", "2001:db8:0:7::1", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:2001:db8:0:7::/64");
    assert_int_equal(resolve(r, "", "", "2001:db8:1:7::1", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:2001:db8:1::/48");
    assert_int_equal(resolve(r, "", "", "192.0.2.7", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:192.0.2.7");
    assert_int_equal(resolve(r, "", "", "::ffff:192.0.2.7", t, &rc), 1);
    assert_string_equal(t[0].key, "client_address:::ffff:192.0.2.7");
    assert_int_equal(ps_quota_ipv6_network("2001:db8:a:b::1", 36, net), 1);
    assert_string_equal(net, "2001:db8::/36");
    assert_int_equal(ps_quota_ipv6_network("2001:db8::1", 128, net), 0);
    assert_int_equal(ps_quota_ipv6_network("192.0.2.1", 64, net), 0);
    assert_int_equal(ps_quota_ipv6_network("not:an:address", 64, net), 0);
    assert_string_equal(net, "2001:db8::/36");
    ps_quota_rules_free(r);
}

static void test_rules_too_long_and_use(void **state)
{
    ps_quota_rules *r = rules_of("sasl_username = bytes 1M/1d\n"
                                 "sender_domain = messages 1/1h\n");
    ps_quota_subject s = {NULL, NULL, NULL};
    ps_quota_target t[PS_QUOTA_NKINDS];
    char longname[400];
    unsigned too_long;
    size_t n;

    (void)state;
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    s.sasl_username = longname;
    s.sender = "x@example.net";
    assert_int_equal(ps_quota_rules_resolve(r, &s, t, &n, &too_long), 0);
    assert_int_equal(n, 1);
    assert_int_equal(too_long, 1u << PS_QUOTA_SASL);
    assert_string_equal(t[0].key, "sender_domain:example.net");
    assert_true(ps_quota_rules_use(r, PS_QUOTA_BYTES));
    assert_false(ps_quota_rules_use(r, PS_QUOTA_RECIPIENTS));
    ps_quota_rules_free(r);
}

static void test_rules_refused(void **state)
{
    (void)state;
    rules_refused("sasl_username = messages 5/1x\n", "t.conf:2: [limits] "
                                                     "sasl_username: ");
    rules_refused(
        "\n\nsender_domain:a@b = messages 5/1h\n",
        "t.conf:4: [limits] sender_domain:a@b: 'a@b' is not a domain");
    rules_refused("client_address:10.1.2.3/8 = messages 5/1h\n", "t.conf:2:");
    rules_refused("client_address:10.0.0.0/8,10.1.0.0/16 = messages 5/1h\n",
                  "one address or network");
    rules_refused("exempt = client_address:999.1.1.1\n", "t.conf:2:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_never_over_in_any_period),
        cmocka_unit_test(test_frees_within_one_slot),
        cmocka_unit_test(test_quote_never_longer_than_period),
        cmocka_unit_test(test_decode_version_1),
        cmocka_unit_test(test_clock_back_and_full_ring),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_eval_all_or_nothing),
        cmocka_unit_test(test_warn_once_per_period),
        cmocka_unit_test(test_rules_resolve),
        cmocka_unit_test(test_ipv6_clients_by_network),
        cmocka_unit_test(test_rules_too_long_and_use),
        cmocka_unit_test(test_rules_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
