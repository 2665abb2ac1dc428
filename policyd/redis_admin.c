/* `postseal quota show|reset` against Redis: a blocking hiredis
 * connection, made as the daemon makes its own (Sentinel, AUTH, SELECT),
 * that SCANs a counter's windows (or all of them), rebuilds each window's
 * state from its hash, and deletes them for a reset. */
#include "redis_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

typedef struct ps_redis_walk {
    int reset;
    ps_store_each each;
    void *arg;
    uint64_t now;
} ps_redis_walk;

static int ps_redis_slot_cmp(const void *a, const void *b)
{
    const ps_quota_slot *x = a, *y = b;

    return x->last_ms < y->last_ms ? -1 : x->last_ms > y->last_ms;
}

/* The hash of one window as a ps_quota_state (newest slots kept if the
 * hash somehow holds more than fit). */
static void ps_redis_state(const redisReply *h, ps_quota_state *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str, *v = h->element[i + 1]->str;
        if (f == NULL || v == NULL)
            continue;
        if (strcmp(f, "w") == 0) {
            st->warned_until = strtoull(v, NULL, 10);
        } else if (st->nslots <= PS_QUOTA_SLOTS) {
            st->slots[st->nslots].last_ms = strtoull(f, NULL, 10);
            st->slots[st->nslots].count = strtoull(v, NULL, 10);
            st->nslots++;
        }
    }
    qsort(st->slots, st->nslots, sizeof(st->slots[0]), ps_redis_slot_cmp);
}

/* One Redis key "ps:{OWNER}#measure/secs": 1 if it was a window. */
static int ps_redis_one(void *arg, redisContext *c, const char *key)
{
    const ps_redis_walk *w = arg;
    const char *open = strchr(key, '{'), *close = strrchr(key, '}');
    ps_quota_window win;
    ps_quota_state st;
    redisReply *h;
    size_t owner;

    if (open == NULL || close == NULL || close < open ||
        ps_store_key_window(key, strlen(key), &win, &owner) != 0)
        return 0;
    h = redisCommand(c, "HGETALL %s", key);
    if (h == NULL)
        return -1;
    if (h->type == REDIS_REPLY_ARRAY) {
        ps_redis_state(h, &st);
        if (w->each != NULL)
            w->each(w->arg, open + 1, (size_t)(close - open - 1), &win, &st,
                    w->now);
    }
    freeReplyObject(h);
    if (w->reset) {
        h = redisCommand(c, "DEL %s", key);
        if (h == NULL)
            return -1;
        freeReplyObject(h);
    }
    return 1;
}

/* SCAN's MATCH is a glob: a key's own *, ?, [ and \ must not act. */
static void ps_redis_pattern(char *out, size_t size, const char *key)
{
    size_t n = (size_t)snprintf(out, size, "ps:{");

    for (; key != NULL && *key != '\0' && n + 8 < size; key++) {
        if (strchr("*?[]\\", *key) != NULL)
            out[n++] = '\\';
        out[n++] = *key;
    }
    snprintf(out + n, size - n, "%s", key != NULL ? "}#*" : "*");
}

static uint64_t ps_redis_time(redisContext *c)
{
    redisReply *r = redisCommand(c, "TIME");
    uint64_t now = ps_store_clock_ms();

    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        now = strtoull(r->element[0]->str, NULL, 10) * 1000 +
              strtoull(r->element[1]->str, NULL, 10) / 1000;
    if (r != NULL)
        freeReplyObject(r);
    return now;
}

int ps_store_redis_admin(const char *url, const char *key, int reset,
                         ps_store_each each, void *arg, ps_err *err)
{
    char pattern[2 * PS_REDIS_KEY_MAX], server[PS_REDIS_SERVER_MAX];
    ps_redis_walk w = {reset, each, arg, 0};
    redisContext *c = ps_redis_admin_connect(url, server, err);
    int n;

    if (c == NULL)
        return -1;
    w.now = ps_redis_time(c);
    ps_redis_pattern(pattern, sizeof(pattern), key);
    n = ps_redis_scan_each(c, pattern, ps_redis_one, &w);
    if (n < 0)
        ps_redis_admin_failed(c, server, err);
    redisFree(c);
    return n;
}
