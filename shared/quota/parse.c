/* The [limits] value syntax: "messages 100/1h, recipients 5000/1d,
 * bytes 1G/1d" into windows, and back into the same text for logs and
 * replies. Strict: anything unexpected is an error naming the item. */
#include "quota/quota.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define PS_QUOTA_ITEM_MAX 64 /* bytes in one "MEASURE N/PERIOD" item */
#define PS_QUOTA_DIGITS   16 /* digits in one number */

static const char *const ps_quota_measures[PS_QUOTA_NMEASURES] = {
    "messages", "recipients", "bytes"};

typedef struct ps_quota_unit {
    char c;
    uint64_t mult;
} ps_quota_unit;

static const ps_quota_unit ps_quota_periods[] = {
    {'d', 86400000ULL}, {'h', 3600000ULL}, {'m', 60000ULL}, {'s', 1000ULL}};
static const ps_quota_unit ps_quota_sizes[] = {
    {'T', 1ULL << 40}, {'G', 1ULL << 30}, {'M', 1ULL << 20}, {'K', 1ULL << 10}};

const char *ps_quota_measure_name(ps_quota_measure m)
{
    return (unsigned)m < PS_QUOTA_NMEASURES ? ps_quota_measures[m] : "?";
}

/* Digits at *p (at least one, at most PS_QUOTA_DIGITS); advances *p. */
static int ps_quota_number(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;

    while (isdigit((unsigned char)s[n]) && n < PS_QUOTA_DIGITS + 1)
        v = v * 10 + (uint64_t)(s[n++] - '0');
    if (n == 0 || n > PS_QUOTA_DIGITS)
        return -1;
    *p = s + n;
    *out = v;
    return 0;
}

static const ps_quota_unit *ps_quota_unit_of(const ps_quota_unit *units,
                                             size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (units[i].c == c)
            return &units[i];
    return NULL;
}

static int ps_quota_parse_limit(const char **p, ps_quota_measure m,
                                uint64_t *limit, const char *item, ps_err *err)
{
    const ps_quota_unit *u;

    if (ps_quota_number(p, limit) != 0)
        return ps_err_set(err, "'%s': expected a number after '%s'", item,
                          ps_quota_measure_name(m));
    u = ps_quota_unit_of(ps_quota_sizes, 4, **p);
    if (u != NULL) {
        if (m != PS_QUOTA_BYTES)
            return ps_err_set(err, "'%s': K, M, G and T are for bytes", item);
        if (*limit > PS_QUOTA_MAX_LIMIT / u->mult)
            return ps_err_set(err, "'%s': limit too large", item);
        *limit *= u->mult;
        (*p)++;
    }
    if (*limit > PS_QUOTA_MAX_LIMIT)
        return ps_err_set(err, "'%s': limit too large (at most %llu)", item,
                          (unsigned long long)PS_QUOTA_MAX_LIMIT);
    return 0;
}

static int ps_quota_parse_period(const char *p, uint64_t *ms, const char *item,
                                 ps_err *err)
{
    const ps_quota_unit *u;
    uint64_t n = 1;

    if (isdigit((unsigned char)*p) && ps_quota_number(&p, &n) != 0)
        return ps_err_set(err, "'%s': bad period", item);
    u = ps_quota_unit_of(ps_quota_periods, 4, *p);
    if (u == NULL || p[1] != '\0')
        return ps_err_set(err,
                          "'%s': period must be N followed by s, m, h "
                          "or d (as in 1h)",
                          item);
    if (n == 0 || n > PS_QUOTA_MAX_PERIOD / u->mult)
        return ps_err_set(err, "'%s': period must be from 1s to 366d", item);
    *ms = n * u->mult;
    return 0;
}

static int ps_quota_parse_measure(const char **p, ps_quota_measure *m,
                                  const char *item, ps_err *err)
{
    size_t n = strcspn(*p, " \t");

    for (int i = 0; i < PS_QUOTA_NMEASURES; i++)
        if (n == strlen(ps_quota_measures[i]) &&
            strncmp(*p, ps_quota_measures[i], n) == 0) {
            *m = (ps_quota_measure)i;
            *p += n;
            *p += strspn(*p, " \t");
            return 0;
        }
    return ps_err_set(err, "'%s': expected messages, recipients or bytes",
                      item);
}

/* One trimmed item, "MEASURE N/PERIOD". */
static int ps_quota_parse_item(const char *item, ps_quota_window *w,
                               ps_err *err)
{
    const char *p = item;

    if (ps_quota_parse_measure(&p, &w->measure, item, err) != 0 ||
        ps_quota_parse_limit(&p, w->measure, &w->limit, item, err) != 0)
        return -1;
    if (*p != '/')
        return ps_err_set(err,
                          "'%s': expected '/' and a period after the "
                          "number",
                          item);
    return ps_quota_parse_period(p + 1, &w->period_ms, item, err);
}

/* Copies the next comma-separated item of *p, trimmed, into buf. */
static int ps_quota_next_item(const char **p, char buf[PS_QUOTA_ITEM_MAX],
                              ps_err *err)
{
    const char *s = *p + strspn(*p, " \t");
    size_t n = strcspn(s, ",");

    *p = s[n] == ',' ? s + n + 1 : s + n;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return ps_err_set(err, "empty item in the list");
    if (n >= PS_QUOTA_ITEM_MAX)
        return ps_err_set(err, "item '%.40s...' too long", s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int ps_quota_check_repeat(const ps_quota_window *w, size_t n,
                                 const char *item, ps_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].measure == w[n].measure && w[i].period_ms == w[n].period_ms)
            return ps_err_set(err,
                              "'%s': a second %s limit for the same "
                              "period",
                              item, ps_quota_measure_name(w[n].measure));
    return 0;
}

int ps_quota_parse(const char *value, ps_quota_window out[PS_QUOTA_MAX_WINDOWS],
                   size_t *n, ps_err *err)
{
    char item[PS_QUOTA_ITEM_MAX];
    const char *p = value;

    *n = 0;
    if (value == NULL || value[strspn(value, " \t")] == '\0')
        return ps_err_set(err, "expected MEASURE N/PERIOD, ...");
    while (*p != '\0') {
        if (*n == PS_QUOTA_MAX_WINDOWS)
            return ps_err_set(err, "more than %d limits in one entry",
                              PS_QUOTA_MAX_WINDOWS);
        if (ps_quota_next_item(&p, item, err) != 0 ||
            ps_quota_parse_item(item, &out[*n], err) != 0 ||
            ps_quota_check_repeat(out, *n, item, err) != 0)
            return -1;
        (*n)++;
        if (*p == '\0' && p > value && p[-1] == ',')
            return ps_err_set(err, "empty item in the list");
    }
    return 0;
}

void ps_quota_window_format(const ps_quota_window *w, char *buf, size_t size)
{
    const ps_quota_unit *pu = &ps_quota_periods[3];
    uint64_t limit = w->limit;
    char sfx[2] = "";

    for (size_t i = 0; i < 4; i++)
        if (w->period_ms % ps_quota_periods[i].mult == 0) {
            pu = &ps_quota_periods[i];
            break;
        }
    for (size_t i = 0; w->measure == PS_QUOTA_BYTES && limit != 0 && i < 4; i++)
        if (limit % ps_quota_sizes[i].mult == 0) {
            limit /= ps_quota_sizes[i].mult;
            sfx[0] = ps_quota_sizes[i].c;
            break;
        }
    snprintf(buf, size, "%s %llu%s/%llu%c", ps_quota_measure_name(w->measure),
             (unsigned long long)limit, sfx,
             (unsigned long long)(w->period_ms / pu->mult), pu->c);
}

void ps_quota_duration_format(uint64_t ms, char *buf, size_t size)
{
    uint64_t s = ms / 1000 + (ms % 1000 != 0);
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        uint64_t unit = ps_quota_periods[i].mult / 1000, v = s / unit;
        if (v == 0 && !(i == 3 && used == 0))
            continue;
        s -= v * unit;
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0,
                                 "%llu%c", (unsigned long long)v,
                                 ps_quota_periods[i].c);
        if (used >= size)
            return;
    }
}

void ps_quota_describe(const char *owner, const ps_quota_window *w,
                       uint64_t used, uint64_t wait_ms, char *buf, size_t size)
{
    char win[64], n[32] = "", wait[48] = "";

    ps_quota_window_format(w, win, sizeof(win));
    if (used != PS_QUOTA_UNKNOWN)
        snprintf(n, sizeof(n), ", used %llu", (unsigned long long)used);
    if (wait_ms == PS_QUOTA_NEVER) {
        snprintf(wait, sizeof(wait), ", never fits");
    } else if (wait_ms != PS_QUOTA_UNKNOWN) {
        memcpy(wait, ", frees in ", 11);
        ps_quota_duration_format(wait_ms, wait + 11, sizeof(wait) - 11);
    }
    snprintf(buf, size, "%s: %s%s%s", owner, win, n, wait);
}
