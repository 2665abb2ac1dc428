/* What the stores share: the record key of a counter's window (readable,
 * so `postseal quota show` can list it back), the wall clock in ms, the
 * choice of store from the [policyd] store setting, and the check at
 * start that the store takes the credentials it is given. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "OWNER#MEASURE/SECONDS", as snprintf("%.*s#%s/%llu") wrote it: built by
 * hand because it runs for every window of every request. */
void ps_store_key(char out[PS_STORE_MAX_KEY], const char *owner,
                  const ps_quota_window *w)
{
    const char *m = ps_quota_measure_name(w->measure);
    size_t o = strnlen(owner, PS_QUOTA_MAX_KEY), ml = strlen(m), d = 0;
    char digits[24];
    unsigned long long secs = w->period_ms / 1000;

    /* 10: "recipients"; 8: the digits of PS_QUOTA_MAX_PERIOD in seconds.
     * A longer period (none parses) is cut, as snprintf cut it. */
    _Static_assert(PS_STORE_MAX_KEY >= PS_QUOTA_MAX_KEY + 1 + 10 + 1 + 8 + 1 &&
                       PS_QUOTA_MAX_PERIOD / 1000 < 100000000ULL,
                   "owner, the longest measure and the longest period fit");
    do
        digits[d++] = (char)('0' + secs % 10);
    while ((secs /= 10) != 0);
    memcpy(out, owner, o);
    out[o++] = '#';
    memcpy(out + o, m, ml);
    o += ml;
    out[o++] = '/';
    while (d > 0 && o < PS_STORE_MAX_KEY - 1)
        out[o++] = digits[--d];
    out[o] = '\0';
}

int ps_store_key_window(const char *key, size_t len, ps_quota_window *w,
                        size_t *owner_len)
{
    const char *hash = NULL, *slash;
    char tail[48];
    unsigned long long secs;
    char *end;

    for (size_t i = len; i > 0; i--)
        if (key[i - 1] == '#') {
            hash = key + i - 1;
            break;
        }
    if (hash == NULL || (size_t)(key + len - hash) >= sizeof(tail))
        return -1;
    snprintf(tail, sizeof(tail), "%.*s", (int)(key + len - hash - 1), hash + 1);
    if ((slash = strchr(tail, '/')) == NULL)
        return -1;
    secs = strtoull(slash + 1, &end, 10);
    if (*end != '\0' || secs == 0 || secs > PS_QUOTA_MAX_PERIOD / 1000)
        return -1;
    memset(w, 0, sizeof(*w));
    w->period_ms = secs * 1000;
    for (int m = 0; m < PS_QUOTA_NMEASURES; m++)
        if (strncmp(tail, ps_quota_measure_name((ps_quota_measure)m),
                    (size_t)(slash - tail)) == 0 &&
            strlen(ps_quota_measure_name((ps_quota_measure)m)) ==
                (size_t)(slash - tail)) {
            w->measure = (ps_quota_measure)m;
            *owner_len = (size_t)(hash - key);
            return 0;
        }
    return -1;
}

uint64_t ps_store_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

ps_store *ps_store_open(const char *spec, struct event_base *base, ps_log *lg,
                        ps_err *err)
{
    ps_store_url *u;
    ps_store *s = NULL;

    if (spec == NULL)
        return ps_err_set(err, "no store configured"), NULL;
    if ((u = malloc(sizeof(*u))) == NULL)
        return ps_err_set(err, "out of memory"), NULL;
    if (ps_store_url_load(spec, u, err) == 0)
        s = u->kind == PS_STORE_LMDB
                ? ps_store_lmdb_open(u->path, base, lg, err)
                : ps_store_redis_open(u, base, lg, err);
    ps_store_url_wipe(u);
    free(u);
    return s;
}

int ps_store_probe(const char *spec, ps_err *why)
{
    ps_store_url *u = malloc(sizeof(*u));
    int rc = -1;

    if (u == NULL)
        return ps_err_set(why, "out of memory");
    if (ps_store_url_load(spec, u, why) == 0)
        rc = u->kind == PS_STORE_LMDB ? 0 : ps_store_redis_probe(u, why);
    ps_store_url_wipe(u);
    free(u);
    return rc;
}
