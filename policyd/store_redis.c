/* Counters in Redis, for several Postfix hosts: hiredis's async API on
 * the daemon's own libevent loop, one EVALSHA per request, an answer or
 * store_down within PS_STORE_TIMEOUT_MS, and a reconnect loop with
 * backoff, so a Redis that goes away never blocks a connection. */
#include "redis_store.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#define PS_REDIS_RETRY_MIN_MS 100
#define PS_REDIS_RETRY_MAX_MS 2000
#define PS_REDIS_CONNECT_MS   1000 /* a connect not done by then is retried */

typedef struct ps_redis {
    ps_store base;
    struct event_base *evb;
    ps_log *lg;
    ps_redis_addr addr;
    redisAsyncContext *ac; /* NULL while disconnected */
    int up;                /* connected: requests go out */
    int was_up, closing;
    char sha[2 * SHA_DIGEST_LENGTH + 1];
    struct event *retry, *connect_timer;
    int backoff_ms;
} ps_redis;

typedef struct ps_redis_op {
    ps_redis *r;
    ps_store_query *q;
    ps_store_done done;
    void *arg;
    struct event *timer;
    int answered; /* done() called: a late reply is only freed */
    int retried;  /* NOSCRIPT: sent again with EVAL */
} ps_redis_op;

static void ps_redis_connect(ps_redis *r);

static void ps_redis_schedule(ps_redis *r)
{
    struct timeval tv = {r->backoff_ms / 1000, r->backoff_ms % 1000 * 1000};

    if (r->closing)
        return;
    event_add(r->retry, &tv);
    r->backoff_ms = r->backoff_ms * 2 > PS_REDIS_RETRY_MAX_MS
                        ? PS_REDIS_RETRY_MAX_MS
                        : r->backoff_ms * 2;
}

static void ps_redis_lost(ps_redis *r, const char *why)
{
    r->ac = NULL;
    r->up = 0;
    if (r->was_up)
        ps_log_kv(r->lg, LOG_ERR, "store_down", "store", "redis", "reason", why,
                  "action", "reconnecting", NULL);
    r->was_up = 0;
    ps_redis_schedule(r);
}

static void ps_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ps_redis *r = ac->data;
    char port[8];

    if (status != REDIS_OK) {
        ps_redis_lost(r, ac->errstr);
        return;
    }
    snprintf(port, sizeof(port), "%d", r->addr.port);
    r->up = 1;
    r->was_up = 1;
    evtimer_del(r->connect_timer);
    r->backoff_ms = PS_REDIS_RETRY_MIN_MS;
    ps_log_kv(r->lg, LOG_NOTICE, "store_up", "store", "redis", "host",
              r->addr.host, "port", port, NULL);
}

static void ps_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ps_redis *r = ac->data;

    (void)status;
    ps_redis_lost(r, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void ps_redis_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ps_redis_connect(arg);
}

/* A connect neither done nor refused in time: give up on it (hiredis
 * calls no disconnect callback for a context that never connected). */
static void ps_redis_connect_timer(evutil_socket_t fd, short what, void *arg)
{
    ps_redis *r = arg;
    redisAsyncContext *ac = r->ac;

    (void)fd;
    (void)what;
    if (ac == NULL || r->up)
        return;
    redisAsyncFree(ac);
    if (r->ac == ac)
        ps_redis_lost(r, "connect timeout");
}

static void ps_redis_connect(ps_redis *r)
{
    struct timeval tv = {0, PS_REDIS_CONNECT_MS * 1000};
    redisAsyncContext *ac = redisAsyncConnect(r->addr.host, r->addr.port);

    if (ac == NULL || ac->err) {
        if (ac != NULL)
            redisAsyncFree(ac);
        ps_redis_lost(r, "cannot connect");
        return;
    }
    ac->data = r;
    r->ac = ac;
    redisLibeventAttach(ac, r->evb);
    redisAsyncSetConnectCallback(ac, ps_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ps_redis_on_disconnect);
    if (r->addr.db != 0)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->addr.db);
    evtimer_add(r->connect_timer, &tv);
}

static void ps_redis_op_free(ps_redis_op *op)
{
    event_free(op->timer);
    free(op);
}

static void ps_redis_answer(ps_redis_op *op, int ok)
{
    if (op->answered)
        return;
    op->answered = 1;
    event_del(op->timer);
    op->done(op->arg, ok);
}

/* {over, item, frees_at, now, used x n, warn x n} into the query. */
static int ps_redis_result(ps_store_query *q, const redisReply *rep)
{
    ps_quota_verdict *v = &q->verdict;

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 + 2 * q->nitems)
        return -1;
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
    v->over = rep->element[0]->integer != 0;
    v->item = v->over ? (size_t)(rep->element[1]->integer - 1) : 0;
    if (v->item >= q->nitems)
        return -1;
    v->frees_at = rep->element[2]->integer < 0
                      ? PS_QUOTA_NEVER
                      : (uint64_t)rep->element[2]->integer;
    q->now = (uint64_t)rep->element[3]->integer;
    for (size_t i = 0; i < q->nitems; i++) {
        q->items[i].used = (uint64_t)rep->element[4 + i]->integer;
        q->items[i].warn = rep->element[4 + q->nitems + i]->integer != 0;
    }
    return 0;
}

static int ps_redis_send(ps_redis_op *op, int full);

static void ps_redis_on_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    ps_redis_op *op = arg;
    redisReply *rep = reply;

    (void)ac;
    if (!op->answered && rep != NULL && rep->type == REDIS_REPLY_ERROR &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0 && !op->retried &&
        ps_redis_send(op, 1) == 0)
        return;
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        ps_log_kv(op->r->lg, LOG_ERR, "store_error", "store", "redis", "reason",
                  rep->str, NULL);
    if (rep == NULL || ps_redis_result(op->q, rep) != 0)
        ps_redis_answer(op, -1);
    else
        ps_redis_answer(op, 0);
    ps_redis_op_free(op);
}

/* EVALSHA, or EVAL with the whole script once Redis said NOSCRIPT. */
static int ps_redis_send(ps_redis_op *op, int full)
{
    const char *argv[3 + 2 * PS_STORE_MAX_ITEMS + 3 * PS_STORE_MAX_ITEMS];
    char keys[PS_STORE_MAX_ITEMS][PS_REDIS_KEY_MAX];
    char nums[3 + 3 * PS_STORE_MAX_ITEMS][24];
    const ps_store_query *q = op->q;
    size_t argc = 0, k = 0;

    op->retried = full;
    argv[argc++] = full ? "EVAL" : "EVALSHA";
    argv[argc++] = full ? ps_redis_script : op->r->sha;
    snprintf(nums[k], sizeof(nums[k]), "%zu", q->nitems);
    argv[argc++] = nums[k++];
    for (size_t i = 0; i < q->nitems; i++) {
        ps_redis_key(keys[i], q->keys[i]);
        argv[argc++] = keys[i];
    }
    snprintf(nums[k], sizeof(nums[k]), "%d", q->charge);
    argv[argc++] = nums[k++];
    snprintf(nums[k], sizeof(nums[k]), "%d", q->warn_pct);
    argv[argc++] = nums[k++];
    for (size_t i = 0; i < q->nitems; i++) {
        const ps_quota_window *w = &q->items[i].win;
        uint64_t v[3] = {w->period_ms, w->limit, q->cost[w->measure]};
        for (int j = 0; j < 3; j++) {
            snprintf(nums[k], sizeof(nums[k]), "%llu",
                     (unsigned long long)v[j]);
            argv[argc++] = nums[k++];
        }
    }
    return redisAsyncCommandArgv(op->r->ac, ps_redis_on_reply, op, (int)argc,
                                 argv, NULL) == REDIS_OK
               ? 0
               : -1;
}

/* No answer in time: store_down now; the late reply, if any, is dropped.
 * A server this slow is treated as gone, and the connection restarted. */
static void ps_redis_timeout(evutil_socket_t fd, short what, void *arg)
{
    ps_redis_op *op = arg;
    ps_redis *r = op->r;

    (void)fd;
    (void)what;
    ps_log_kv(r->lg, LOG_ERR, "store_timeout", "store", "redis", NULL);
    ps_redis_answer(op, -1);
    if (r->ac != NULL && r->up) {
        r->up = 0;
        redisAsyncFree(r->ac); /* fails every pending op, this one too */
    }
}

static void ps_redis_eval(ps_store *s, ps_store_query *q, ps_store_done done,
                          void *arg)
{
    ps_redis *r = (ps_redis *)s;
    struct timeval tv = {0, PS_STORE_TIMEOUT_MS * 1000};
    ps_redis_op *op;

    if (!r->up || (op = calloc(1, sizeof(*op))) == NULL) {
        done(arg, -1);
        return;
    }
    *op = (ps_redis_op){r, q, done, arg, NULL, 0, 0};
    op->timer = evtimer_new(r->evb, ps_redis_timeout, op);
    if (op->timer == NULL || ps_redis_send(op, 0) != 0) {
        if (op->timer != NULL)
            event_free(op->timer);
        free(op);
        done(arg, -1);
        return;
    }
    evtimer_add(op->timer, &tv);
}

static void ps_redis_free(ps_store *s)
{
    ps_redis *r = (ps_redis *)s;

    r->closing = 1;
    if (r->ac != NULL)
        redisAsyncFree(r->ac);
    event_free(r->retry);
    event_free(r->connect_timer);
    free(r);
}

ps_store *ps_store_redis_open(const char *url, struct event_base *base,
                              ps_log *lg, ps_err *err)
{
    ps_redis *r = calloc(1, sizeof(*r));
    unsigned char md[SHA_DIGEST_LENGTH];

    if (r == NULL)
        return ps_err_set(err, "out of memory"), NULL;
    if (ps_redis_parse_url(url, &r->addr, err) != 0 ||
        (r->retry = evtimer_new(base, ps_redis_retry, r)) == NULL ||
        (r->connect_timer = evtimer_new(base, ps_redis_connect_timer, r)) ==
            NULL) {
        if (r->retry != NULL)
            event_free(r->retry);
        free(r);
        return NULL;
    }
    r->base = (ps_store){"redis", ps_redis_eval, NULL, ps_redis_free};
    r->evb = base;
    r->lg = lg;
    r->backoff_ms = PS_REDIS_RETRY_MIN_MS;
    SHA1((const unsigned char *)ps_redis_script, strlen(ps_redis_script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
    ps_redis_connect(r);
    return &r->base;
}
