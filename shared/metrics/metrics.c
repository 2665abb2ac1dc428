/* Registration of metric families and of their label sets: names are
 * checked against Prometheus's grammar here, once, so the writer and the
 * update paths need no checks. */
#include "metrics/metrics_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

ps_metrics *ps_metrics_new(void)
{
    ps_metrics *r = calloc(1, sizeof(*r));

    if (r != NULL)
        pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void ps_series_free(ps_series *s)
{
    for (size_t i = 0; i < PS_METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->hits);
    free(s);
}

static void ps_metric_free(ps_metric *m)
{
    size_t n = atomic_load(&m->nseries);

    for (size_t i = 0; i < n; i++)
        ps_series_free(m->series[i]);
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->name);
    free(m->help);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void ps_metrics_free(ps_metrics *r)
{
    ps_metric *m, *next;

    if (r == NULL)
        return;
    for (m = r->first; m != NULL; m = next) {
        next = m->next;
        ps_metric_free(m);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels without ':'. */
static int ps_metrics_name_ok(const char *s, int colon)
{
    if (s == NULL || *s == '\0' || isdigit((unsigned char)*s))
        return 0;
    for (; *s != '\0'; s++)
        if (!(isascii((unsigned char)*s) && isalnum((unsigned char)*s)) &&
            *s != '_' && !(colon && *s == ':'))
            return 0;
    return 1;
}

static int ps_metrics_labels_ok(const char *const *labels, size_t *n,
                                ps_metric_type type, ps_err *err)
{
    *n = 0;
    for (; labels != NULL && labels[*n] != NULL; (*n)++) {
        if (*n == PS_METRICS_MAX_LABELS)
            return ps_err_set(err, "more than %d labels",
                              PS_METRICS_MAX_LABELS);
        if (!ps_metrics_name_ok(labels[*n], 0) ||
            strncmp(labels[*n], "__", 2) == 0)
            return ps_err_set(err, "bad label name '%s'", labels[*n]);
        if (type == PS_METRIC_HISTOGRAM && strcmp(labels[*n], "le") == 0)
            return ps_err_set(err, "label 'le' is the histogram's own");
    }
    return 0;
}

static int ps_metrics_le_ok(const double *le, size_t n, ps_err *err)
{
    if (n > PS_METRICS_MAX_BUCKETS)
        return ps_err_set(err, "more than %d buckets", PS_METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++)
        if (!(le[i] > -1e308 && le[i] < 1e308) || (i > 0 && le[i] <= le[i - 1]))
            return ps_err_set(err, "bucket bounds must be finite, ascending");
    return 0;
}

static ps_metric *ps_metrics_make(ps_metric_type type, const char *name,
                                  const char *help, const char *const *labels,
                                  size_t nlabels)
{
    ps_metric *m = calloc(1, sizeof(*m));
    int ok = m != NULL;

    if (!ok)
        return NULL;
    m->type = type;
    m->name = strdup(name);
    m->help = strdup(help != NULL ? help : "");
    ok = m->name != NULL && m->help != NULL;
    for (size_t i = 0; ok && i < nlabels; i++, m->nlabels++)
        ok = (m->labels[i] = strdup(labels[i])) != NULL;
    pthread_mutex_init(&m->lock, NULL);
    if (!ok) {
        ps_metric_free(m);
        return NULL;
    }
    return m;
}

static ps_metric *ps_metrics_register(ps_metrics *r, ps_metric_type type,
                                      const char *name, const char *help,
                                      const char *const *labels,
                                      const double *le, size_t nle, ps_err *err)
{
    ps_metric *m;
    size_t nlabels;

    if (!ps_metrics_name_ok(name, 1)) {
        ps_err_set(err, "bad metric name '%s'", name ? name : "(null)");
        return NULL;
    }
    if (ps_metrics_labels_ok(labels, &nlabels, type, err) != 0 ||
        ps_metrics_le_ok(le, nle, err) != 0)
        return NULL;
    if ((m = ps_metrics_make(type, name, help, labels, nlabels)) == NULL) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    if (nle > 0)
        memcpy(m->le, le, nle * sizeof(*le));
    m->nle = nle;
    if (nlabels == 0 && ps_metric_series(m, NULL, err) != 0) {
        ps_metric_free(m);
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    if (r->last != NULL)
        r->last->next = m;
    else
        r->first = m;
    r->last = m;
    pthread_mutex_unlock(&r->lock);
    return m;
}

ps_metric *ps_metrics_counter(ps_metrics *r, const char *name, const char *help,
                              const char *const *labels, ps_err *err)
{
    return ps_metrics_register(r, PS_METRIC_COUNTER, name, help, labels, NULL,
                               0, err);
}

ps_metric *ps_metrics_gauge(ps_metrics *r, const char *name, const char *help,
                            const char *const *labels, ps_err *err)
{
    return ps_metrics_register(r, PS_METRIC_GAUGE, name, help, labels, NULL, 0,
                               err);
}

ps_metric *ps_metrics_histogram(ps_metrics *r, const char *name,
                                const char *help, const char *const *labels,
                                const double *le, size_t n, ps_err *err)
{
    return ps_metrics_register(r, PS_METRIC_HISTOGRAM, name, help, labels, le,
                               n, err);
}

static int ps_series_find(const ps_metric *m, size_t n,
                          const char *const *values)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m->nlabels &&
               strcmp(m->series[i]->values[j], values[j]) == 0)
            j++;
        if (j == m->nlabels)
            return (int)i;
    }
    return -1;
}

static ps_series *ps_series_make(const ps_metric *m, const char *const *values)
{
    ps_series *s = calloc(1, sizeof(*s));
    int ok = s != NULL;

    for (size_t i = 0; ok && i < m->nlabels; i++)
        ok = (s->values[i] = strdup(values[i])) != NULL;
    if (ok && m->type == PS_METRIC_HISTOGRAM)
        ok = (s->hits = calloc(m->nle + 1, sizeof(*s->hits))) != NULL;
    if (!ok && s != NULL) {
        ps_series_free(s);
        s = NULL;
    }
    return s;
}

static int ps_series_values_ok(const ps_metric *m, const char *const *values,
                               ps_err *err)
{
    for (size_t i = 0; i < m->nlabels; i++)
        if (values == NULL || values[i] == NULL ||
            strlen(values[i]) > PS_METRICS_VALUE_MAX)
            return ps_err_set(err,
                              "%s: label %s needs a value of at most %d "
                              "bytes",
                              m->name, m->labels[i], PS_METRICS_VALUE_MAX);
    return 0;
}

/* Writers read nseries without the lock: the slot is filled before the
 * count that makes it visible is released. */
int ps_metric_series(ps_metric *m, const char *const *values, ps_err *err)
{
    size_t n;
    int i;

    if (m == NULL)
        return ps_err_set(err, "no such metric");
    if (ps_series_values_ok(m, values, err) != 0)
        return -1;
    pthread_mutex_lock(&m->lock);
    n = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    if ((i = ps_series_find(m, n, values)) < 0 && n < PS_METRICS_MAX_SERIES &&
        (m->series[n] = ps_series_make(m, values)) != NULL) {
        i = (int)n;
        atomic_store_explicit(&m->nseries, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->lock);
    if (i < 0)
        return ps_err_set(err, "%s: %s", m->name,
                          n < PS_METRICS_MAX_SERIES ? "out of memory"
                                                    : "too many label sets");
    return i;
}

int ps_metric_enum(ps_metric *m, const char *const *values, size_t n,
                   ps_err *err)
{
    if (m == NULL || m->nlabels != 1)
        return ps_err_set(err, "%s: not a one-label family",
                          m != NULL ? m->name : "(null)");
    for (size_t i = 0; i < n; i++) {
        int got = ps_metric_series(m, &values[i], err);
        if (got < 0)
            return -1;
        if (got != (int)i)
            return ps_err_set(err, "%s: value '%s' is not series %zu", m->name,
                              values[i], i);
    }
    return 0;
}
