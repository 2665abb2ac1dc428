/* The registry's layout, shared by its parts: registration (metrics.c),
 * updates from any thread (update.c) and the exposition writer (expo.c). */
#ifndef PS_METRICS_INT_H
#define PS_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "metrics/metrics.h"

/* A double kept as its bits, so it can live in a lock-free atomic. */
typedef _Atomic uint64_t ps_metric_double;

typedef struct ps_series {
    char *values[PS_METRICS_MAX_LABELS];
    _Atomic uint64_t count; /* counter value; histogram: unused */
    ps_metric_double value; /* gauge value; histogram: the sum */
    _Atomic uint64_t *hits; /* histogram: per bucket, nle + 1 (+Inf) */
} ps_series;

struct ps_metric {
    ps_metric_type type;
    char *name, *help;
    char *labels[PS_METRICS_MAX_LABELS];
    size_t nlabels;
    double le[PS_METRICS_MAX_BUCKETS];
    size_t nle;
    pthread_mutex_t lock; /* registration only; updates never take it */
    ps_series *series[PS_METRICS_MAX_SERIES];
    _Atomic size_t nseries; /* published after the slot is filled */
    struct ps_metric *next;
};

struct ps_metrics {
    pthread_mutex_t lock; /* registration only */
    ps_metric *first, *last;
};

double ps_metric_load_double(ps_metric_double *d);
/* The series at index, or NULL when it is not (yet) registered. */
ps_series *ps_metric_at(const ps_metric *m, int index);

#endif
