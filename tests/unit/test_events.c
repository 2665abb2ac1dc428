/* Unit tests for shared/mail/events.c: the JSON line for a bounce (escaping,
 * bounds) and appending lines to the events file. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
