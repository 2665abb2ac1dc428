/* The Prometheus text exposition format, version 0.0.4: a HELP and a TYPE
 * line per family, one sample line per series, histograms as cumulative
 * _bucket lines (le="+Inf" last) with _sum and _count. */
#include "metrics/metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HELP text escapes backslash and newline; label values the double
 * quote as well. */
static void ps_expo_escaped(FILE *fp, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\\\", fp);
        else if (*s == '\n')
            fputs("\\n", fp);
        else if (quote && *s == '"')
            fputs("\\\"", fp);
        else
            fputc(*s, fp);
    }
}

/* The shortest of %.15g and %.17g that reads back as v; the infinities
 * and NaN as Prometheus spells them. */
static void ps_expo_double(FILE *fp, double v)
{
    char buf[32];

    if (isnan(v)) {
        fputs("NaN", fp);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "+Inf" : "-Inf", fp);
        return;
    }
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, fp);
}

/* name{l1="v1",...[,le="B"]} */
static void ps_expo_series_name(FILE *fp, const ps_metric *m,
                                const ps_series *s, const char *suffix,
                                const double *le)
{
    int any = 0;

    fprintf(fp, "%s%s", m->name, suffix);
    for (size_t i = 0; i < m->nlabels; i++) {
        fprintf(fp, "%s%s=\"", any++ ? "," : "{", m->labels[i]);
        ps_expo_escaped(fp, s->values[i], 1);
        fputc('"', fp);
    }
    if (suffix[0] == '_' && suffix[1] == 'b') { /* _bucket */
        fprintf(fp, "%sle=\"", any++ ? "," : "{");
        if (le != NULL)
            ps_expo_double(fp, *le);
        else
            fputs("+Inf", fp);
        fputc('"', fp);
    }
    fputs(any ? "} " : " ", fp);
}

static void ps_expo_histogram(FILE *fp, const ps_metric *m, ps_series *s)
{
    uint64_t total = 0;

    for (size_t i = 0; i <= m->nle; i++) {
        total += atomic_load_explicit(&s->hits[i], memory_order_relaxed);
        ps_expo_series_name(fp, m, s, "_bucket", i < m->nle ? &m->le[i] : NULL);
        fprintf(fp, "%llu\n", (unsigned long long)total);
    }
    ps_expo_series_name(fp, m, s, "_sum", NULL);
    ps_expo_double(fp, ps_metric_load_double(&s->value));
    fputc('\n', fp);
    ps_expo_series_name(fp, m, s, "_count", NULL);
    fprintf(fp, "%llu\n", (unsigned long long)total);
}

static void ps_expo_family(FILE *fp, ps_metric *m)
{
    static const char *const type[] = {"counter", "gauge", "histogram"};
    size_t n = atomic_load_explicit(&m->nseries, memory_order_acquire);

    fprintf(fp, "# HELP %s ", m->name);
    ps_expo_escaped(fp, m->help, 0);
    fprintf(fp, "\n# TYPE %s %s\n", m->name, type[m->type]);
    for (size_t i = 0; i < n; i++) {
        ps_series *s = m->series[i];
        if (m->type == PS_METRIC_HISTOGRAM) {
            ps_expo_histogram(fp, m, s);
            continue;
        }
        ps_expo_series_name(fp, m, s, "", NULL);
        if (m->type == PS_METRIC_COUNTER)
            fprintf(fp, "%llu\n",
                    (unsigned long long)atomic_load_explicit(
                        &s->count, memory_order_relaxed));
        else {
            ps_expo_double(fp, ps_metric_load_double(&s->value));
            fputc('\n', fp);
        }
    }
}

int ps_metrics_text(const ps_metrics *r, char **out, size_t *len, ps_err *err)
{
    FILE *fp = open_memstream(out, len);
    ps_metric *m;

    if (fp == NULL)
        return ps_err_set(err, "out of memory");
    pthread_mutex_lock((pthread_mutex_t *)&r->lock);
    for (m = r->first; m != NULL; m = m->next)
        ps_expo_family(fp, m);
    pthread_mutex_unlock((pthread_mutex_t *)&r->lock);
    if (ferror(fp)) {
        fclose(fp);
        free(*out);
        *out = NULL;
        return ps_err_set(err, "out of memory");
    }
    if (fclose(fp) != 0) {
        free(*out);
        *out = NULL;
        return ps_err_set(err, "out of memory");
    }
    return 0;
}
