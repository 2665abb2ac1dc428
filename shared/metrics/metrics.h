/* Counters, gauges and histograms a daemon registers once and updates from
 * any thread (C11 atomics), written out in the Prometheus text exposition
 * format 0.0.4. The daemon owns its registry; the core keeps no state. */
#ifndef PS_METRICS_H
#define PS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PS_METRICS_MAX_LABELS  3   /* label names per family */
#define PS_METRICS_MAX_SERIES  256 /* label sets per family */
#define PS_METRICS_MAX_BUCKETS 32  /* histogram bounds, +Inf aside */
#define PS_METRICS_VALUE_MAX   128 /* bytes of one label value */

typedef enum ps_metric_type {
    PS_METRIC_COUNTER,
    PS_METRIC_GAUGE,
    PS_METRIC_HISTOGRAM
} ps_metric_type;

typedef struct ps_metrics ps_metrics;
typedef struct ps_metric ps_metric;

ps_metrics *ps_metrics_new(void);
void ps_metrics_free(ps_metrics *r);

/* A family: name and label names checked against Prometheus's grammar,
 * labels NULL-terminated (NULL: none; its one series is 0). Written in
 * the order registered. */
ps_metric *ps_metrics_counter(ps_metrics *r, const char *name, const char *help,
                              const char *const *labels, ps_err *err);
ps_metric *ps_metrics_gauge(ps_metrics *r, const char *name, const char *help,
                            const char *const *labels, ps_err *err);
/* le: n ascending finite upper bounds; +Inf is implied. */
ps_metric *ps_metrics_histogram(ps_metrics *r, const char *name,
                                const char *help, const char *const *labels,
                                const double *le, size_t n, ps_err *err);

/* The series for one value per label name: registered on first use, the
 * same index ever after. -1 with err when the family is full. */
int ps_metric_series(ps_metric *m, const char *const *values, ps_err *err);
/* One series per value of a one-label family, in order, so that an enum
 * counting from 0 indexes them. */
int ps_metric_enum(ps_metric *m, const char *const *values, size_t n,
                   ps_err *err);

/* Updates; a NULL family or an unregistered series is ignored, so a
 * caller never checks. */
void ps_metric_inc(ps_metric *m, int series);
void ps_metric_add(ps_metric *m, int series, uint64_t n);
void ps_metric_set(ps_metric *m, int series, double v);
void ps_metric_gauge_add(ps_metric *m, int series, double delta);
void ps_metric_observe(ps_metric *m, int series, double v);
/* How many series the family has registered. */
size_t ps_metric_count(const ps_metric *m);
/* Current value of a counter or gauge series (tests, the log). */
double ps_metric_value(const ps_metric *m, int series);

/* The whole registry as exposition text (malloc'd, *len bytes, NUL
 * terminated). */
int ps_metrics_text(const ps_metrics *r, char **out, size_t *len, ps_err *err);

#define PS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
