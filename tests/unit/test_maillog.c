/* Unit tests for shared/mail/maillog.c (Postfix log lines), record.c (the
 * record encoding) and msgrec.c / evspool.c (the lines built on it). The
 * log lines are Postfix 3.7.11's own (smtp, virtual, error, discard,
 * cleanup, qmgr), from its maillog_file on this
 * machine (tests/integration/test_events.py makes the same kind); the
 * syslog forms put the same messages behind rsyslog's two stamps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/evspool.h"
#include "mail/maillog.h"
#include "mail/msgrec.h"
#include "mail/record.h"

#define NOW 1796581800 /* 2026-12-06T18:30:00Z */

static const char sent[] =
    "Dec 06 17:07:17 mx postfix/smtp[5707]: C158DE58034: to=<ok1@dest.test>, "
    "relay=127.0.0.1[127.0.0.1]:48833, delay=0.05, "
    "delays=0.02/0.01/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 queued as "
    "OUT1)";
static const char deferred[] =
    "Dec 06 17:07:17 mx postfix/smtp[5707]: C158DE58034: "
    "to=<defer1@dest.test>, relay=127.0.0.1[127.0.0.1]:48833, delay=0.04, "
    "delays=0.02/0.01/0/0.01, dsn=4.2.0, status=deferred (host "
    "127.0.0.1[127.0.0.1] said: 450 4.2.0 <defer1> mailbox busy, try later "
    "(in reply to RCPT TO command))";
static const char bounced[] =
    "Dec 06 17:07:17 mx postfix/smtp[5707]: C158DE58034: "
    "to=<refuse1@dest.test>, relay=127.0.0.1[127.0.0.1]:48833, delay=0.05, "
    "delays=0.02/0.01/0/0.02, dsn=5.1.1, status=bounced (host "
    "127.0.0.1[127.0.0.1] said: 550 5.1.1 <refuse1> no such user here (in "
    "reply to RCPT TO command))";
static const char aliased[] =
    "Dec 06 17:18:17 mx postfix/smtp[12424]: AC413E58141: to=<ok5@dest.test>, "
    "orig_to=<alias@dest.test>, relay=127.0.0.1[127.0.0.1]:59097, "
    "delay=0.08, delays=0.01/0.01/0/0.06, dsn=2.0.0, status=sent (250 2.0.0 "
    "queued as OUT1)";
static const char quoted[] =
    "Dec 06 17:18:17 mx postfix/smtp[12424]: AC413E58141: to=<\"odd, "
    "name\"@dest.test>, relay=127.0.0.1[127.0.0.1]:59097, delay=0.08, "
    "delays=0.01/0.01/0/0.06, dsn=2.0.0, status=sent (250 2.0.0 queued as "
    "OUT1)";
static const char discarded[] =
    "Dec 06 17:18:17 mx postfix/discard[12423]: AC413E58141: "
    "to=<y@disc.test>, relay=none, delay=0.02, delays=0.01/0.01/0/0, "
    "dsn=2.0.0, status=sent (silently)";
static const char virtual_sent[] =
    "Dec 06 17:45:25 mx postfix/virtual[25571]: DBF3BE58080: "
    "to=<box@vm.test>, relay=virtual, delay=0.03, delays=0.03/0/0/0, "
    "dsn=2.0.0, status=sent (delivered to maildir)";
static const char error_deferred[] =
    "Dec 06 17:45:15 mx postfix/error[24734]: B414DE582C8: "
    "to=<box@vm.test>, relay=none, delay=0.33, delays=0.26/0.03/0/0.03, "
    "dsn=4.3.0, status=deferred (mail transport unavailable)";
static const char hold[] =
    "Dec 06 17:07:17 mx postfix/cleanup[5701]: C530AE58035: hold: header "
    "Subject: hold me from unknown[127.0.0.1]; from=<a@example.com> "
    "to=<ok2@dest.test> proto=ESMTP helo=<client.example.test>";
/* Postfix 3.7.11's own lines (postsuper -h, a deferred message given up
 * with maximal_queue_lifetime = 0); the milter-hold line is cleanup's
 * format (cleanup_milter.c) for a milter's quarantine. */
static const char placed_on_hold[] =
    "Dec 06 20:22:59 mx postfix/postsuper[3146]: 78D251061D2: placed on hold";
static const char milter_hold[] =
    "Dec 06 20:22:59 mx postfix/cleanup[3120]: 78D251061D2: milter-hold: "
    "END-OF-MESSAGE from localhost[127.0.0.1]: policy-quarantine; "
    "from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<x>";
static const char expired[] =
    "Dec 06 20:23:01 mx postfix/qmgr[3375]: 530D4106375: "
    "from=<a@example.com>, status=expired, returned to sender";
static const char force_expired[] =
    "Dec 06 20:23:01 mx postfix/qmgr[3375]: 530D4106375: "
    "from=<\"odd>, status=sent\"@example.com>, status=force-expired, "
    "returned to sender";
static const char removed[] =
    "Dec 06 17:07:17 mx postfix/qmgr[5691]: CB4A1E5803C: removed";
static const char *const others[] = {
    "Dec 06 17:07:17 mx postfix/qmgr[5691]: C158DE58034: from=<a@example.com>, "
    "size=274, nrcpt=3 (queue active)",
    "Dec 06 17:07:17 mx postfix/smtpd[5693]: C158DE58034: "
    "client=unknown[127.0.0.1], sasl_method=XCLIENT, "
    "sasl_username=app1@example.com",
    "Dec 06 17:07:17 mx postfix/bounce[5711]: C158DE58034: sender "
    "non-delivery notification: CB4A1E5803C",
    "Dec 06 17:45:15 mx postfix/qmgr[24695]: warning: connect to transport "
    "private/virtual: No such file or directory",
    "Dec 06 17:07:17 mx postfix/smtpd[5693]: connect from "
    "unknown[127.0.0.1]",
    "Dec 06 17:18:17 mx postfix/smtpd[12415]: AC413E58141: reject: RCPT from "
    "unknown[127.0.0.1]: 550 5.1.2 <x@err.test>: Recipient address rejected: "
    "no such domain here; from=<a@example.com> to=<x@err.test> proto=ESMTP "
    "helo=<client.example.test>",
    "",
    "garbage",
    "Dec 06 17:07:17 mx postfix/smtp[5707]: C158DE58034: to=<ok1@dest.test>, "
    "relay=x, dsn=2.0.0, status=queued (what)",
    "Dec 06 17:07:17 mx postfix/smtp[5707]: C158DE58034: to=<ok1@dest.test>, "
    "relay=x, status=sent (no dsn)",
    "Dec 06 17:07:17 mx postfix/smtp[5707]: C158DE58034: to=<ok1@dest.test>",
    "Dec 32 17:07:17 mx postfix/qmgr[5691]: CB4A1E5803C: removed",
    "Dec 06 17:07:17 mx postfix/qmgr[5691]: CB4A1E5803C: removed twice",
    "Dec 06 20:22:59 mx postfix/postsuper[3146]: 78D251061D2: released from "
    "hold",
    "Dec 06 20:22:59 mx postfix/postsuper[3146]: Placed on hold: 1 message",
    "Dec 06 20:22:59 mx postfix/postsuper[3146]: 78D251061D2: placed on hold "
    "again",
    "Dec 06 20:23:01 mx postfix/qmgr[3375]: 530D4106375: from=<a@example.com>, "
    "status=expired, returned to sender and more",
    "Dec 06 20:23:01 mx postfix/qmgr[3375]: 530D4106375: from=<a@example.com>, "
    "status=deferred, returned to sender",
    "Dec 06 20:23:01 mx postfix/qmgr[3375]: 530D4106375: status=expired, "
    "returned to sender",
};

static ps_maillog_line *parse(const char *line, ps_maillog_kind want)
{
    static ps_maillog_line l;

    assert_int_equal(ps_maillog_parse(line, strlen(line), NOW, &l), want);
    return &l;
}

static void test_delivery(void **state)
{
    ps_maillog_line *l = parse(sent, PS_MAILLOG_DELIVERY);

    (void)state;
    assert_string_equal(l->qid, "C158DE58034");
    assert_string_equal(l->to, "ok1@dest.test");
    assert_string_equal(l->orig_to, "");
    assert_string_equal(l->relay, "127.0.0.1[127.0.0.1]:48833");
    assert_string_equal(l->dsn, "2.0.0");
    assert_int_equal(l->status, PS_MAILLOG_SENT);
    assert_string_equal(l->reply, "250 2.0.0 queued as OUT1");
    l = parse(deferred, PS_MAILLOG_DELIVERY);
    assert_int_equal(l->status, PS_MAILLOG_DEFERRED);
    assert_string_equal(
        l->reply, "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 <defer1> "
                  "mailbox busy, try later (in reply to RCPT TO command)");
    l = parse(bounced, PS_MAILLOG_DELIVERY);
    assert_int_equal(l->status, PS_MAILLOG_BOUNCED);
    assert_string_equal(l->dsn, "5.1.1");
    l = parse(aliased, PS_MAILLOG_DELIVERY);
    assert_string_equal(l->to, "ok5@dest.test");
    assert_string_equal(l->orig_to, "alias@dest.test");
    l = parse(quoted, PS_MAILLOG_DELIVERY);
    assert_string_equal(l->to, "\"odd, name\"@dest.test");
    l = parse(virtual_sent, PS_MAILLOG_DELIVERY);
    assert_string_equal(l->relay, "virtual");
    assert_string_equal(l->reply, "delivered to maildir");
    l = parse(error_deferred, PS_MAILLOG_DELIVERY);
    assert_int_equal(l->status, PS_MAILLOG_DEFERRED);
    assert_string_equal(l->dsn, "4.3.0");
    l = parse(discarded, PS_MAILLOG_DELIVERY);
    assert_string_equal(l->relay, "none");
    assert_string_equal(l->reply, "silently");
}

/* A hand-off to a content filter as Postfix 3.7 logs it behind the test
 * filter of tests/integration/test_events_filter.py (amavisd-new's reply
 * shape), and the relay's address and port. */
static void test_filter_hop(void **state)
{
    static const char hop[] =
        "Dec 06 21:15:24 mx postfix/smtp[31871]: 1B7751064C9: "
        "to=<ok0x@dest.test>, relay=127.0.0.1[127.0.0.1]:37235, delay=0.05, "
        "delays=0.02/0.01/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 from "
        "MTA(smtp:[127.0.0.1]:56221): 250 2.0.0 Ok: queued as 228FD1064CA)";
    static const char v6[] =
        "Dec 06 21:15:24 mx postfix/lmtp[31871]: 4QxYz1abcDz5xyz: "
        "to=<a@b.test>, relay=localhost[::1]:10024, delay=0.05, "
        "delays=0.02/0.01/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
        "queued as 4QxYz2NNNNz6abc)";
    ps_maillog_line *l = parse(hop, PS_MAILLOG_DELIVERY);
    char addr[64];
    unsigned port;

    (void)state;
    assert_string_equal(l->queued_as, "228FD1064CA");
    assert_int_equal(
        ps_maillog_relay_endpoint(l->relay, addr, sizeof(addr), &port), 0);
    assert_string_equal(addr, "127.0.0.1");
    assert_int_equal(port, 37235);
    l = parse(v6, PS_MAILLOG_DELIVERY);
    assert_string_equal(l->queued_as, "4QxYz2NNNNz6abc");
    assert_int_equal(
        ps_maillog_relay_endpoint(l->relay, addr, sizeof(addr), &port), 0);
    assert_string_equal(addr, "::1");
    assert_int_equal(port, 10024);
    l = parse(deferred, PS_MAILLOG_DELIVERY); /* only a sent line has one */
    assert_string_equal(l->queued_as, "");
    assert_int_equal(
        ps_maillog_relay_endpoint("virtual", addr, sizeof(addr), &port), -1);
    assert_int_equal(
        ps_maillog_relay_endpoint("x[127.0.0.1]:0", addr, sizeof(addr), &port),
        -1);
    assert_int_equal(
        ps_maillog_relay_endpoint("x[127.0.0.1]", addr, sizeof(addr), &port),
        -1);
}

static void test_hold_removed_other(void **state)
{
    ps_maillog_line *l = parse(hold, PS_MAILLOG_HOLD);

    (void)state;
    assert_string_equal(l->qid, "C530AE58035");
    assert_true(strncmp(l->reply, "header Subject: hold me from", 28) == 0);
    l = parse(placed_on_hold, PS_MAILLOG_HOLD);
    assert_string_equal(l->qid, "78D251061D2");
    assert_string_equal(l->reply, "placed on hold");
    l = parse(milter_hold, PS_MAILLOG_HOLD);
    assert_true(strncmp(l->reply, "END-OF-MESSAGE from localhost", 29) == 0);
    l = parse(removed, PS_MAILLOG_REMOVED);
    assert_string_equal(l->qid, "CB4A1E5803C");
    l = parse(expired, PS_MAILLOG_EXPIRED);
    assert_string_equal(l->qid, "530D4106375");
    assert_int_equal(parse(force_expired, PS_MAILLOG_EXPIRED)->kind,
                     PS_MAILLOG_EXPIRED);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        l = parse(others[i], PS_MAILLOG_OTHER);
        assert_string_equal(l->qid, "");
    }
}

/* The same message behind each stamp: maillog_file's, traditional syslog
 * ("Dec  6"), rsyslog's RFC 3339; each gives the same second. */
static void test_stamps(void **state)
{
    const char *msg = sent + strlen("Dec 06 17:07:17");
    char line[1024];
    time_t want;
    ps_maillog_line *l;

    (void)state;
    snprintf(line, sizeof line, "2026-12-06T17:07:17.123456+01:00%s", msg);
    l = parse(line, PS_MAILLOG_DELIVERY);
    assert_int_equal(l->when, 1796576837 - 3600);
    snprintf(line, sizeof line, "2026-12-06T17:07:17Z%s", msg);
    assert_int_equal(parse(line, PS_MAILLOG_DELIVERY)->when, 1796576837);
    want = parse(sent, PS_MAILLOG_DELIVERY)->when;
    assert_true(want > NOW - 86400 && want <= NOW + 86400);
    snprintf(line, sizeof line, "Dec  6 17:07:17%s", msg);
    assert_int_equal(parse(line, PS_MAILLOG_DELIVERY)->when, want);
    /* A stamp a month ahead of now is last year's. */
    snprintf(line, sizeof line, "Jan  6 17:07:17%s", msg);
    l = parse(line, PS_MAILLOG_DELIVERY);
    assert_true(l->when < NOW && l->when > NOW - 366 * 86400);
    /* New Year: December's last line read in January is last year's. */
    snprintf(line, sizeof line, "Dec 31 23:00:00%s", msg);
    assert_int_equal(ps_maillog_parse(line, strlen(line), 1798763400, l),
                     PS_MAILLOG_DELIVERY);
    assert_true(l->when < 1798763400 + 86400 &&
                l->when > 1798763400 - 2 * 86400);
    /* The newline a reader leaves on does not change the line. */
    snprintf(line, sizeof line, "%s\n", sent);
    assert_string_equal(parse(line, PS_MAILLOG_DELIVERY)->reply,
                        "250 2.0.0 queued as OUT1");
}

static void test_record_round_trip(void **state)
{
    const char *in[] = {"plain", "", "-", "a b%c\n\x01\x7f", "<m@x>"};
    ps_record r = {0};
    char *f[8];

    (void)state;
    for (size_t i = 0; i < 5; i++)
        ps_record_put(&r, in[i]);
    assert_false(r.oom);
    assert_string_equal(r.p, "plain - %2D a%20b%25c%0A%01%7F <m@x>");
    assert_int_equal(ps_record_split(r.p, f, 8), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(f[i], in[i]);
    ps_record_free(&r);
    char bad1[] = "a  b", bad2[] = "a %0", bad3[] = "a %00", bad4[] = "";
    assert_int_equal(ps_record_split(bad1, f, 8), -1);
    assert_int_equal(ps_record_split(bad2, f, 8), -1);
    assert_int_equal(ps_record_split(bad3, f, 8), -1);
    assert_int_equal(ps_record_split(bad4, f, 8), -1);
    char many[] = "a b c";
    assert_int_equal(ps_record_split(many, f, 2), -1);
}

static void test_msgrec(void **state)
{
    const char *rcpts[] = {"ok1@dest.test", "Defer1@Dest.test"};
    ps_msgrec in = {.type = PS_MSGREC_ACCEPTED,
                    .when = 1796576837,
                    .qid = "C158DE58034",
                    .msgid = "<m1@example.com>",
                    .sender = "app@example.com",
                    .auth = "",
                    .client = "127.0.0.1",
                    .rcpts = rcpts,
                    .nrcpts = 2};
    ps_record r = {0};
    char **f = calloc(PS_MSGREC_FIELDS, sizeof(*f));
    ps_msgrec out;

    (void)state;
    ps_msgrec_format(&in, &r);
    assert_string_equal(r.p, "A 1796576837 C158DE58034 <m1@example.com> "
                             "app@example.com - 127.0.0.1 ok1@dest.test "
                             "Defer1@Dest.test\n");
    r.p[r.n - 1] = '\0';
    assert_int_equal(ps_msgrec_parse(r.p, f, &out), 0);
    assert_int_equal(out.type, PS_MSGREC_ACCEPTED);
    assert_string_equal(out.auth, "");
    assert_int_equal(out.nrcpts, 2);
    assert_true(ps_msgrec_has_rcpt(&out, "defer1@dest.test"));
    assert_false(ps_msgrec_has_rcpt(&out, "ok2@dest.test"));
    char b[] = "B 1 C158DE58034 x@y 5.1.1 550%20no failed", bad[] = "B 1 Q x";
    assert_int_equal(ps_msgrec_parse(b, f, &out), 0);
    assert_int_equal(out.type, PS_MSGREC_BOUNCE);
    assert_string_equal(out.diagnostic, "550 no");
    assert_int_equal(ps_msgrec_parse(bad, f, &out), -1);
    ps_record_free(&r);
    free(f);
}

static void test_evspool(void **state)
{
    ps_event in = {.when = 5,
                   .kind = PS_EVENT_FAILED,
                   .qid = "Q1",
                   .msgid = "<m>",
                   .sender = "s@x",
                   .auth = "app",
                   .client = "127.0.0.1",
                   .recipient = "r@y",
                   .dsn = "5.1.1",
                   .reply = "550 no (really)",
                   .src = "m:0:12:345"};
    ps_record r = {0};
    ps_event out;
    char *f[PS_EVSPOOL_NFIELDS];
    ps_err err;

    (void)state;
    assert_int_equal(ps_event_make_id("line", 4, NULL, in.id, &err), 0);
    /* sha256("line"), as Python's hashlib gives it */
    assert_string_equal(in.id, "38a9c1e721584da284b90ceea4ed7eb8");
    ps_evspool_format(&in, &r);
    r.p[r.n - 1] = '\0';
    assert_int_equal(ps_evspool_parse(r.p, f, &out), 0);
    assert_string_equal(out.id, in.id);
    assert_int_equal(out.kind, PS_EVENT_FAILED);
    assert_string_equal(out.reply, "550 no (really)");
    assert_string_equal(out.src, "m:0:12:345");
    ps_record_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_filter_hop),
        cmocka_unit_test(test_hold_removed_other),
        cmocka_unit_test(test_stamps),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_msgrec),
        cmocka_unit_test(test_evspool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
