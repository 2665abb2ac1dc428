/* Unit tests for shared/mail/events.c: the JSON line for a bounce (escaping,
 * bounds), appending lines to the events file, one event to the spool,
 * and which kinds have a Postal event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/events.h"
#include "mail/evspool.h"

static void test_format(void **state)
{
    (void)state;
    ps_dsn_rcpt r = {"a@b.example", "failed", "5.1.1", "550 \"no\" \\ \x01"};
    ps_bounce_event ev = {1700000000, "Msg42", PS_DSN_RFC3464, &r};
    char line[PS_EVENT_LINE_MAX];
    ps_err err;
    int n = ps_events_format(&ev, line, sizeof line, &err);
    assert_true(n > 0);
    assert_string_equal(
        line, "{\"event\":\"bounce\",\"time\":1700000000,\"ref\":\"Msg42\","
              "\"recipient\":\"a@b.example\",\"action\":\"failed\",\"status\":"
              "\"5.1.1\",\"diagnostic\":\"550 \\\"no\\\" \\\\ \\u0001\","
              "\"source\":\"rfc3464\"}\n");
    assert_int_equal(ps_events_format(&ev, line, 40, &err), -1);
}

static void test_append(void **state)
{
    (void)state;
    char dir[] = "/tmp/ps-events-XXXXXX", path[64], buf[128];
    ps_err err;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ev.jsonl", dir);
    assert_int_equal(ps_events_append(path, "{\"a\":1}\n", 8, &err), 0);
    assert_int_equal(ps_events_append(path, "{\"b\":2}\n", 8, &err), 0);
    FILE *fp = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    assert_string_equal(buf, "{\"a\":1}\n{\"b\":2}\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777 & ~0640, 0);
    unlink(path);
    rmdir(dir);
    assert_int_equal(ps_events_append("/nonexistent/dir/x", "x\n", 2, &err),
                     -1);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x"));
}

/* An event outside the follower's batches: one whole spool line, read
 * back as the same event. */
static void test_spool_one(void **state)
{
    char dir[] = "/tmp/ps-events-XXXXXX", path[64], buf[512], *f[16];
    ps_event ev = {.id = "0123456789abcdef0123456789abcdef",
                   .when = 1796576837,
                   .kind = PS_EVENT_SUPPRESSION_REJECTED,
                   .qid = "",
                   .msgid = "",
                   .sender = "app@example.com",
                   .auth = "",
                   .client = "127.0.0.1",
                   .recipient = "gone@dest.test",
                   .dsn = "5.1.1",
                   .reply = "5.1.1 <gone@dest.test>: suppressed",
                   .src = "s"},
             back;
    ps_err err = {""};
    FILE *fp;
    size_t n;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ps_events_spool(dir, &ev, &err), 0);
    snprintf(path, sizeof path, "%s/spool", dir);
    assert_non_null(fp = fopen(path, "r"));
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_true(n > 0 && buf[n - 1] == '\n');
    buf[n - 1] = '\0';
    assert_int_equal(ps_evspool_parse(buf, f, &back), 0);
    assert_int_equal(back.kind, PS_EVENT_SUPPRESSION_REJECTED);
    assert_string_equal(back.recipient, "gone@dest.test");
    assert_string_equal(back.reply, "5.1.1 <gone@dest.test>: suppressed");
    unlink(path);
    rmdir(dir);
    assert_int_equal(ps_events_spool("/nonexistent/dir", &ev, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/dir"));
}

/* Postal has no event for a suppression list's changes: such events are
 * for Standard Webhooks endpoints only. */
static void test_postal_kinds(void **state)
{
    (void)state;
    assert_string_equal(ps_event_kind_name(PS_EVENT_SUPPRESSED), "suppressed");
    assert_string_equal(ps_event_kind_name(PS_EVENT_SUPPRESSION_REJECTED),
                        "suppression_rejected");
    assert_true(ps_events_postal_kind(PS_EVENT_FAILED));
    assert_true(ps_events_postal_kind(PS_EVENT_HELD));
    assert_false(ps_events_postal_kind(PS_EVENT_SUPPRESSED));
    assert_false(ps_events_postal_kind(PS_EVENT_SUPPRESSION_REJECTED));
    assert_false(ps_events_postal_kind(PS_EVENT_NKINDS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_spool_one),
        cmocka_unit_test(test_postal_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
