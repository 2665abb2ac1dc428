/* Unit tests for shared/mail/sent.c: recipient records per message
 * reference (case-insensitive match, secret rotation, no record, a bad
 * reference, expiry of old days). */
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

#include "mail/sent.h"

#define DAY 86400

static ps_secrets *secrets(const char *text)
{
    ps_secrets *s = NULL;
    ps_err err;
    assert_int_equal(ps_secrets_parse(text, strlen(text), "t", &s, &err), 0);
    return s;
}

static void record(const char *dir, time_t now, const char *ref,
                   const ps_secrets *s, const char *addr)
{
    char line[PS_SENT_LINE];
    ps_err err;
    assert_int_equal(ps_sent_line(s, 0, addr, line, &err), 0);
    assert_int_equal(strlen(line), 33);
    assert_int_equal(ps_sent_record(dir, now, 7, ref, line, 33, &err), 0);
}

static void test_lookup(void **state)
{
    (void)state;
    char tmp[] = "/tmp/ps-sent-XXXXXX", dir[64];
    ps_secrets *old = secrets("first\n"), *rotated = secrets("second\nfirst\n");
    time_t now = 20000 * (time_t)DAY + 3600;
    ps_err err;
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, sizeof dir, "%s/sent", tmp);
    record(dir, now, "Q1", old, "User@Dest.example");
    record(dir, now, "Q1", old, "two@dest.example");
    /* issued: the start of the day the token names */
    time_t issued = now - now % DAY;
    assert_int_equal(
        ps_sent_lookup(dir, issued, "Q1", old, "user@dest.example", &err), 1);
    assert_int_equal(
        ps_sent_lookup(dir, issued, "Q1", rotated, "TWO@dest.example", &err),
        1);
    assert_int_equal(
        ps_sent_lookup(dir, issued, "Q1", old, "ceo@partner.example", &err), 0);
    assert_int_equal(
        ps_sent_lookup(dir, issued, "Q2", old, "user@dest.example", &err), 0);
    assert_int_equal(
        ps_sent_lookup(dir, issued - DAY, "Q1", old, "user@dest.example", &err),
        0);
    assert_int_equal(
        ps_sent_lookup(dir, issued, "../x", old, "user@dest.example", &err),
        -1);
    assert_int_equal(ps_sent_lookup("/nonexistent-ps/sent", issued, "Q1", old,
                                    "user@dest.example", &err),
                     -1);
    assert_non_null(strstr(err.msg, "/nonexistent-ps/sent"));

    /* The first record of a day 9 days on removes the day past max_age. */
    record(dir, now + 9 * DAY, "Q3", old, "x@dest.example");
    assert_int_equal(
        ps_sent_lookup(dir, issued, "Q1", old, "user@dest.example", &err), 0);
    assert_int_equal(ps_sent_lookup(dir, issued + 9 * DAY, "Q3", old,
                                    "x@dest.example", &err),
                     1);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
    ps_secrets_free(old);
    ps_secrets_free(rotated);
}

static void test_dir(void **state)
{
    (void)state;
    char out[64];
    ps_err err;
    assert_int_equal(
        ps_sent_dir("/var/lib/postseal/bounces.jsonl", out, sizeof out, &err),
        0);
    assert_string_equal(out, "/var/lib/postseal/sent");
    assert_int_equal(ps_sent_dir("/a/b.jsonl", out, 4, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
