/* Unit tests for shared/metrics: registration checks, updates from many
 * threads, and the exposition text (HELP/TYPE lines, escaping, histogram
 * buckets, numbers as Prometheus spells them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

static char *text_of(const ps_metrics *r)
{
    char *text = NULL;
    size_t len = 0;
    ps_err err = {""};

    assert_int_equal(ps_metrics_text(r, &text, &len, &err), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void expect_text(const ps_metrics *r, const char *want)
{
    char *text = text_of(r);

    assert_string_equal(text, want);
    free(text);
}

static void test_counter_and_gauge(void **state)
{
    static const char *const lab[] = {"mode", NULL};
    static const char *const modes[] = {"sign", "verify", "none"};
    ps_metrics *r = ps_metrics_new();
    ps_err err = {""};
    ps_metric *c =
        ps_metrics_counter(r, "x_messages_total", "Messages seen.", lab, &err);
    ps_metric *g = ps_metrics_gauge(r, "x_open", "Open.", NULL, &err);

    (void)state;
    assert_non_null(c);
    assert_non_null(g);
    assert_int_equal(ps_metric_enum(c, modes, 3, &err), 0);
    ps_metric_inc(c, 0);
    ps_metric_add(c, 2, 41);
    ps_metric_inc(c, 3);    /* not registered: ignored */
    ps_metric_inc(NULL, 0); /* no family: ignored */
    ps_metric_gauge_add(g, 0, 3);
    ps_metric_gauge_add(g, 0, -1);
    ps_metric_set(c, 0, 99); /* a gauge update on a counter: ignored */
    expect_text(r, "# HELP x_messages_total Messages seen.\n"
                   "# TYPE x_messages_total counter\n"
                   "x_messages_total{mode=\"sign\"} 1\n"
                   "x_messages_total{mode=\"verify\"} 0\n"
                   "x_messages_total{mode=\"none\"} 41\n"
                   "# HELP x_open Open.\n"
                   "# TYPE x_open gauge\n"
                   "x_open 2\n");
    assert_true(ps_metric_value(c, 2) == 41);
    assert_int_equal(ps_metric_count(c), 3);
    assert_int_equal(ps_metric_count(g), 1);
    assert_int_equal(ps_metric_count(NULL), 0);
    ps_metrics_free(r);
}

static void test_escaping(void **state)
{
    static const char *const lab[] = {"key", "algorithm", NULL};
    const char *v[] = {"a\"b\\c\nd", "rsa-sha256"};
    ps_metrics *r = ps_metrics_new();
    ps_err err = {""};
    ps_metric *c = ps_metrics_counter(
        r, "x_total", "Back\\slash\nand \"quotes\".", lab, &err);

    (void)state;
    assert_int_equal(ps_metric_series(c, v, &err), 0);
    assert_int_equal(ps_metric_series(c, v, &err), 0); /* same set, same id */
    ps_metric_inc(c, 0);
    expect_text(r, "# HELP x_total Back\\\\slash\\nand \"quotes\".\n"
                   "# TYPE x_total counter\n"
                   "x_total{key=\"a\\\"b\\\\c\\nd\",algorithm=\"rsa-sha256\"} "
                   "1\n");
    ps_metrics_free(r);
}

static void test_histogram(void **state)
{
    static const double le[] = {0.005, 0.1, 1};
    ps_metrics *r = ps_metrics_new();
    ps_err err = {""};
    ps_metric *h =
        ps_metrics_histogram(r, "x_seconds", "Time.", NULL, le, 3, &err);

    (void)state;
    assert_non_null(h);
    ps_metric_observe(h, 0, 0.005); /* on a bound: that bucket */
    ps_metric_observe(h, 0, 0.05);
    ps_metric_observe(h, 0, 0.5);
    ps_metric_observe(h, 0, 30);
    expect_text(r, "# HELP x_seconds Time.\n"
                   "# TYPE x_seconds histogram\n"
                   "x_seconds_bucket{le=\"0.005\"} 1\n"
                   "x_seconds_bucket{le=\"0.1\"} 2\n"
                   "x_seconds_bucket{le=\"1\"} 3\n"
                   "x_seconds_bucket{le=\"+Inf\"} 4\n"
                   "x_seconds_sum 30.555\n"
                   "x_seconds_count 4\n");
    ps_metrics_free(r);
}

static void test_numbers(void **state)
{
    ps_metrics *r = ps_metrics_new();
    ps_err err = {""};
    ps_metric *g = ps_metrics_gauge(r, "x", "", NULL, &err);
    char *text;

    (void)state;
    ps_metric_set(g, 0, 0.1 + 0.2); /* needs 17 digits to read back */
    text = text_of(r);
    assert_non_null(strstr(text, "\nx 0.30000000000000004\n"));
    free(text);
    ps_metric_set(g, 0, 1.0 / 0.0);
    text = text_of(r);
    assert_non_null(strstr(text, "\nx +Inf\n"));
    free(text);
    ps_metric_set(g, 0, 1712345678);
    text = text_of(r);
    assert_non_null(strstr(text, "\nx 1712345678\n"));
    free(text);
    ps_metrics_free(r);
}

static void test_refused(void **state)
{
    static const char *const le_lab[] = {"le", NULL};
    static const char *const bad_lab[] = {"a-b", NULL};
    static const char *const res_lab[] = {"__x", NULL};
    static const char *const many[] = {"a", "b", "c", "d", NULL};
    static const double down[] = {1, 0.5};
    ps_metrics *r = ps_metrics_new();
    ps_err err = {""};
    ps_metric *c;
    const char *one[] = {"v"};
    char name[8];

    (void)state;
    assert_null(ps_metrics_counter(r, "9x", "", NULL, &err));
    assert_null(ps_metrics_counter(r, "x y", "", NULL, &err));
    assert_null(ps_metrics_counter(r, "x", "", bad_lab, &err));
    assert_null(ps_metrics_counter(r, "x", "", res_lab, &err));
    assert_null(ps_metrics_counter(r, "x", "", many, &err));
    assert_null(ps_metrics_histogram(r, "x", "", le_lab, NULL, 0, &err));
    assert_null(ps_metrics_histogram(r, "x", "", NULL, down, 2, &err));
    assert_non_null(strstr(err.msg, "ascending"));
    c = ps_metrics_counter(r, "x", "", (const char *const[]){"k", NULL}, &err);
    assert_int_equal(ps_metric_series(c, NULL, &err), -1);
    for (int i = 0; i < PS_METRICS_MAX_SERIES; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        one[0] = name;
        assert_int_equal(ps_metric_series(c, one, &err), i);
    }
    one[0] = "one-too-many";
    assert_int_equal(ps_metric_series(c, one, &err), -1);
    assert_non_null(strstr(err.msg, "too many label sets"));
    ps_metrics_free(r);
}

#define THREADS 4
#define ROUNDS  100000

static void *bump(void *arg)
{
    ps_metric **m = arg;

    for (int i = 0; i < ROUNDS; i++) {
        ps_metric_inc(m[0], 0);
        ps_metric_gauge_add(m[1], 0, 1);
        ps_metric_observe(m[2], 0, 0.5);
    }
    return NULL;
}

/* No update is lost when threads race (ThreadSanitizer aside, the totals
 * say so). */
static void test_threads(void **state)
{
    static const double le[] = {1};
    ps_metrics *r = ps_metrics_new();
    ps_err err = {""};
    ps_metric *m[3];
    pthread_t t[THREADS];
    char *text;

    (void)state;
    m[0] = ps_metrics_counter(r, "c_total", "", NULL, &err);
    m[1] = ps_metrics_gauge(r, "g", "", NULL, &err);
    m[2] = ps_metrics_histogram(r, "h", "", NULL, le, 1, &err);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bump, m), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_true(ps_metric_value(m[0], 0) == THREADS * ROUNDS);
    assert_true(ps_metric_value(m[1], 0) == THREADS * ROUNDS);
    text = text_of(r);
    assert_non_null(strstr(text, "\nh_count 400000\n"));
    assert_non_null(strstr(text, "\nh_sum 200000\n"));
    free(text);
    ps_metrics_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
