/* Unit tests for shared/base/log.c: lines written to a memory stream carry the
 * "ident[pid]: " prefix, quote and escape values so no value can forge a
 * line or a key, redact secret-looking keys, and stay bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

typedef struct capture {
    FILE *fp;
    char *buf;
    size_t len;
    ps_log *lg;
    char prefix[64];
} capture;

static int setup(void **state)
{
    capture *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fp = open_memstream(&c->buf, &c->len);
    assert_non_null(c->fp);
    c->lg = ps_log_open_stream("ps-test", c->fp, LOG_INFO);
    assert_non_null(c->lg);
    snprintf(c->prefix, sizeof(c->prefix), "ps-test[%ld]: ", (long)getpid());
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    capture *c = *state;

    ps_log_close(c->lg);
    fclose(c->fp);
    free(c->buf);
    free(c);
    return 0;
}

/* Everything written so far, with the prefix checked and removed from
 * the first line. */
static const char *written(capture *c)
{
    size_t n = strlen(c->prefix);

    fflush(c->fp);
    assert_true(c->len >= n);
    assert_memory_equal(c->buf, c->prefix, n);
    return c->buf + n;
}

static void test_plain_pairs(void **state)
{
    capture *c = *state;

    ps_log_kv(c->lg, LOG_INFO, "signed", "domain", "example.com", "keys", "2",
              NULL);
    assert_string_equal(written(c), "event=signed domain=example.com keys=2\n");
}

static void test_quoting(void **state)
{
    capture *c = *state;

    ps_log_kv(c->lg, LOG_WARNING, "reject", "reason", "over quota", "from",
              "a=b", "q", "say \"hi\"", "path", "C:\\x", "empty", "", NULL);
    assert_string_equal(written(c),
                        "event=reject reason=\"over quota\" from=\"a=b\" "
                        "q=\"say \\\"hi\\\"\" path=\"C:\\\\x\" empty=\"\"\n");
}

/* A newline in a value must not start a new, forged line. */
static void test_control_bytes_escaped(void **state)
{
    capture *c = *state;
    const char *out;

    ps_log_kv(c->lg, LOG_INFO, "rcpt", "to",
              "a@b\nevent=fake user=root\r\x01\x7f", NULL);
    out = written(c);
    assert_string_equal(out, "event=rcpt to=\"a@b\\x0aevent=fake user=root"
                             "\\x0d\\x01\\x7f\"\n");
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);
}

static void test_redaction(void **state)
{
    capture *c = *state;
    const char *out;

    ps_log_kv(c->lg, LOG_INFO, "loaded", "srs_secret", "tops3cr3t", "Password",
              "hunter2", "private_key", "-----BEGIN", "secret_file",
              "/etc/postseal/srs.secrets", "key", "example-rsa", NULL);
    out = written(c);
    assert_string_equal(out, "event=loaded srs_secret=[redacted] "
                             "Password=[redacted] private_key=[redacted] "
                             "secret_file=[redacted] key=example-rsa\n");
    assert_null(strstr(out, "tops3cr3t"));
    assert_null(strstr(out, "hunter2"));
}

static void test_null_value_and_event(void **state)
{
    capture *c = *state;

    ps_log_kv(c->lg, LOG_INFO, NULL, "user", NULL, NULL);
    assert_string_equal(written(c), "event=- user=-\n");
}

static void test_bad_key_bytes(void **state)
{
    capture *c = *state;

    ps_log_kv(c->lg, LOG_INFO, "x", "a b=c\n", "v", NULL);
    assert_string_equal(written(c), "event=x a_b_c_=v\n");
}

/* A value is cut at 512 bytes, never inside a UTF-8 sequence. */
static void test_value_cut_exact(void **state)
{
    capture *c = *state;
    char value[700], expect[700];

    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    ps_log_kv(c->lg, LOG_INFO, "big", "body", value, "after", "1", NULL);
    memcpy(expect, "event=big body=", 15);
    memset(expect + 15, 'v', 512);
    strcpy(expect + 15 + 512, "... after=1\n");
    assert_string_equal(written(c), expect);
}

static void test_value_cut_utf8(void **state)
{
    capture *c = *state;
    char value[600];
    const char *out;

    memset(value, 'v', 511);
    strcpy(value + 511, "\xc3\xa9tail"); /* é straddles byte 512 */
    ps_log_kv(c->lg, LOG_INFO, "u", "v", value, NULL);
    out = written(c);
    assert_int_equal(strlen(out), strlen("event=u v=") + 511 + 3 + 1);
    assert_string_equal(out + strlen(out) - 5, "v...\n");
}

/* Many long values: the whole line stops at 2 KB and ends with "...". */
static void test_line_bounded(void **state)
{
    capture *c = *state;
    char value[600];
    const char *out;
    size_t n;

    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    ps_log_kv(c->lg, LOG_INFO, "huge", "a", value, "b", value, "c", value, "d",
              value, "e", value, NULL);
    out = written(c);
    n = strlen(out);
    assert_true(n <= 2048);
    assert_true(n > 2000);
    assert_string_equal(out + n - 4, "...\n");
    assert_null(strstr(out, " e="));
}

static void test_priority_filter(void **state)
{
    capture *c = *state;

    ps_log_kv(c->lg, LOG_DEBUG, "noise", NULL);
    ps_log_kv(c->lg, LOG_ERR, "kept", NULL);
    assert_string_equal(written(c), "event=kept\n");
}

static void test_null_handle_and_stream(void **state)
{
    (void)state;
    ps_log_kv(NULL, LOG_ERR, "ignored", NULL);
    assert_null(ps_log_open_stream("x", NULL, LOG_DEBUG));
    ps_log_close(NULL);
}

/* The syslog path must not crash and must close cleanly; what syslogd
 * receives is outside a unit test's reach. */
static void test_syslog_open_close(void **state)
{
    ps_log *lg = ps_log_open("ps-test", 0, LOG_MAIL, LOG_INFO);

    (void)state;
    assert_non_null(lg);
    ps_log_kv(lg, LOG_DEBUG, "dropped", NULL);
    ps_log_close(lg);
}

/* Foreground mode: the same line on stderr, prefixed "ident[pid]: ". */
static void test_stderr(void **state)
{
    FILE *tmp = tmpfile();
    char line[256], expect[128];
    int saved = dup(STDERR_FILENO);
    ps_log *lg;

    (void)state;
    assert_non_null(tmp);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    lg = ps_log_open("ps-fg", 1, LOG_MAIL, LOG_DEBUG);
    assert_non_null(lg);
    ps_log_kv(lg, LOG_DEBUG, "start", "config", "/etc/postseal/postseal.conf",
              NULL);
    ps_log_close(lg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    assert_non_null(fgets(line, sizeof(line), tmp));
    fclose(tmp);
    snprintf(expect, sizeof(expect),
             "ps-fg[%ld]: event=start "
             "config=/etc/postseal/postseal.conf\n",
             (long)getpid());
    assert_string_equal(line, expect);
}

/* Each line reaches the file when the call returns, even on a fully
 * buffered stream (a crash right after a decision must not lose its
 * line), and lines on a line-buffered stream arrive whole. */
static void test_line_reaches_file(void **state)
{
    char path[] = "/tmp/ps-test-log-XXXXXX", buf[4096], expect[128];
    int fd = mkstemp(path);
    FILE *fp;
    ps_log *lg;
    ssize_t n;

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    fp = fdopen(dup(fd), "w");
    assert_non_null(fp);
    for (int mode = 0; mode < 2; mode++) {
        assert_int_equal(setvbuf(fp, NULL, mode ? _IOLBF : _IOFBF, 8192), 0);
        lg = ps_log_open_stream("ps-buf", fp, LOG_INFO);
        assert_non_null(lg);
        assert_int_equal(ftruncate(fd, 0), 0);
        lseek(fileno(fp), 0, SEEK_SET);
        ps_log_kv(lg, LOG_NOTICE, "over_quota", "key", "app", NULL);
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        snprintf(expect, sizeof(expect),
                 "ps-buf[%ld]: event=over_quota key=app\n", (long)getpid());
        assert_string_equal(buf, expect);
        ps_log_close(lg);
    }
    fclose(fp);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_bytes_escaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_value_and_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_cut_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_cut_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_filter, setup, teardown),
        cmocka_unit_test(test_null_handle_and_stream),
        cmocka_unit_test(test_syslog_open_close),
        cmocka_unit_test(test_stderr),
        cmocka_unit_test(test_line_reaches_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
