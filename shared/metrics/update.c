/* Updates from any thread, lock-free: counters are atomic integers,
 * gauges and sums doubles kept as atomic bits and changed by
 * compare-and-swap. */
#include "metrics/metrics_int.h"

#include <string.h>

static uint64_t ps_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    return b;
}

static double ps_double(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

double ps_metric_load_double(ps_metric_double *d)
{
    return ps_double(atomic_load_explicit(d, memory_order_relaxed));
}

static void ps_double_add(ps_metric_double *d, double delta)
{
    uint64_t old = atomic_load_explicit(d, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(
        d, &old, ps_bits(ps_double(old) + delta), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

ps_series *ps_metric_at(const ps_metric *m, int index)
{
    ps_metric *mm = (ps_metric *)m; /* the atomic load is not a write */

    if (m == NULL || index < 0 ||
        (size_t)index >=
            atomic_load_explicit(&mm->nseries, memory_order_acquire))
        return NULL;
    return m->series[index];
}

void ps_metric_add(ps_metric *m, int series, uint64_t n)
{
    ps_series *s = ps_metric_at(m, series);

    if (s != NULL && m->type == PS_METRIC_COUNTER)
        atomic_fetch_add_explicit(&s->count, n, memory_order_relaxed);
}

void ps_metric_inc(ps_metric *m, int series)
{
    ps_metric_add(m, series, 1);
}

void ps_metric_set(ps_metric *m, int series, double v)
{
    ps_series *s = ps_metric_at(m, series);

    if (s != NULL && m->type == PS_METRIC_GAUGE)
        atomic_store_explicit(&s->value, ps_bits(v), memory_order_relaxed);
}

void ps_metric_gauge_add(ps_metric *m, int series, double delta)
{
    ps_series *s = ps_metric_at(m, series);

    if (s != NULL && m->type == PS_METRIC_GAUGE)
        ps_double_add(&s->value, delta);
}

/* Each observation lands in one bucket (the first bound not below it);
 * the writer makes them cumulative, so the +Inf bucket and _count are
 * one sum and always agree. */
void ps_metric_observe(ps_metric *m, int series, double v)
{
    ps_series *s = ps_metric_at(m, series);
    size_t i = 0;

    if (s == NULL || m->type != PS_METRIC_HISTOGRAM || v != v)
        return;
    while (i < m->nle && v > m->le[i])
        i++;
    atomic_fetch_add_explicit(&s->hits[i], 1, memory_order_relaxed);
    ps_double_add(&s->value, v);
}

size_t ps_metric_count(const ps_metric *m)
{
    ps_metric *mm = (ps_metric *)m; /* the atomic load is not a write */

    return m != NULL ? atomic_load_explicit(&mm->nseries, memory_order_acquire)
                     : 0;
}

double ps_metric_value(const ps_metric *m, int series)
{
    ps_series *s = ps_metric_at(m, series);

    if (s == NULL)
        return 0;
    if (m->type == PS_METRIC_COUNTER)
        return (double)atomic_load_explicit(&s->count, memory_order_relaxed);
    return ps_metric_load_double(&s->value);
}
