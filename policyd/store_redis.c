/* Counters in Redis, for several Postfix hosts: hiredis's async API on
 * the daemon's own libevent loop, one EVALSHA per request, an answer or
 * store_down within PS_STORE_TIMEOUT_MS. The connection (Sentinel, AUTH,
 * reconnects) is redis_link.c's; this file logs each outage once: one
 * store_down line with its reason, one store_up line when it is over. */
#include "redis_store.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#define PS_REDIS_REASONS_LOGGED 3 /* lines for the reasons of one outage */
#define PS_REDIS_CALIBRATE_RTT_MS                                              \
    5 /* answers quicker than this set the clock */

typedef struct ps_redis {
    ps_store base;
    struct event_base *evb;
    ps_log *lg;
    ps_redis_link *link;
    char sha[2 * SHA_DIGEST_LENGTH + 1];
    int up;
    int down_logged;      /* reasons logged in this outage */
    uint64_t down_since;  /* ms: when the outage began */
    unsigned long failed; /* requests answered store_down since the last up */
    char reason[512];     /* the latest reason it is down */
    int64_t offset_ms;    /* Redis's clock minus ours */
} ps_redis;

/* What a pending request (a quota EVALSHA, a suppression GET) shares:
 * its deadline, and one answer, from the reply or the timer, whichever
 * comes first. The first member of each request's struct. */
typedef struct ps_redis_pending {
    ps_redis *r;
    struct event *timer;
    int answered; /* done() called: a late reply is only freed */
    void (*answer)(struct ps_redis_pending *p, int result);
} ps_redis_pending;

typedef struct ps_redis_op {
    ps_redis_pending p;
    ps_store_query *q;
    ps_store_done done;
    void *arg;
    int retried; /* NOSCRIPT: sent again with EVAL */
    uint64_t sent_ms;
} ps_redis_op;

static void ps_redis_since(uint64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void ps_redis_log_down(ps_redis *r, const char *event)
{
    char since[32], failed[24];

    ps_redis_since(r->down_since, since, sizeof(since));
    snprintf(failed, sizeof(failed), "%lu", r->failed);
    ps_log_kv(r->lg, LOG_ERR, event, "store", "redis", "reason", r->reason,
              "since", since, "requests_failed", failed, "action",
              "reconnecting", NULL);
}

static void ps_redis_on_up(void *arg, const char *server)
{
    ps_redis *r = arg;
    char took[32], failed[24];
    uint64_t ms = ps_store_clock_ms() - r->down_since;

    snprintf(took, sizeof(took), "%llu.%01llus", (unsigned long long)ms / 1000,
             (unsigned long long)ms % 1000 / 100);
    snprintf(failed, sizeof(failed), "%lu", r->failed);
    if (r->down_logged)
        ps_log_kv(r->lg, LOG_NOTICE, "store_up", "store", "redis", "server",
                  server, "down_for", took, "requests_failed", failed, NULL);
    else
        ps_log_kv(r->lg, LOG_NOTICE, "store_up", "store", "redis", "server",
                  server, NULL);
    r->up = 1;
    r->offset_ms = ps_redis_link_clock_offset(r->link);
    r->down_logged = 0;
    r->failed = 0;
}

/* Called for every failed attempt, many a second in a retry loop: the
 * outage is logged once, a new reason (the server back but refusing the
 * password) a few times more, and the tick repeats it once a minute. */
static void ps_redis_on_down(void *arg, const char *reason)
{
    ps_redis *r = arg;

    if (r->up)
        r->down_since = ps_store_clock_ms();
    r->up = 0;
    if (r->down_logged > 0 && strcmp(r->reason, reason) == 0)
        return;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    if (r->down_logged++ == 0)
        ps_redis_log_down(r, "store_down");
    else if (r->down_logged <= PS_REDIS_REASONS_LOGGED)
        ps_redis_log_down(r, "store_still_down");
}

static void ps_redis_tick(ps_store *s)
{
    ps_redis *r = (ps_redis *)s;

    if (r->down_logged)
        ps_redis_log_down(r, "store_still_down");
}

/* 1 when this is the request's first answer (its timer stopped, a
 * failure counted), 0 when it was answered already. */
static int ps_redis_pending_claim(ps_redis_pending *p, int result)
{
    if (p->answered)
        return 0;
    p->answered = 1;
    event_del(p->timer);
    if (result < 0)
        p->r->failed++;
    return 1;
}

static void ps_redis_pending_free(ps_redis_pending *p)
{
    event_free(p->timer);
    free(p);
}

static void ps_redis_answer(ps_redis_pending *p, int ok)
{
    ps_redis_op *op = (ps_redis_op *)p;

    if (ps_redis_pending_claim(p, ok))
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

/* A quick answer pins Redis's clock against ours to within half its
 * round trip, so the deadline the script checks stays true when either
 * clock is stepped. */
static void ps_redis_calibrate(const ps_redis_op *op)
{
    uint64_t now = ps_store_clock_ms();

    if (!op->retried && now >= op->sent_ms &&
        now - op->sent_ms <= PS_REDIS_CALIBRATE_RTT_MS)
        op->p.r->offset_ms =
            (int64_t)op->q->now - (int64_t)(op->sent_ms + now) / 2;
}

/* A NULL reply: the connection is going (the link hears of it). An
 * error that condemns the connection (READONLY: a demoted master) drops
 * it, so the next one is made, through Sentinel when configured. */
static void ps_redis_on_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    ps_redis_op *op = arg;
    redisReply *rep = reply;
    int drop;

    (void)ac;
    if (!op->p.answered && rep != NULL && rep->type == REDIS_REPLY_ERROR &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0 && !op->retried &&
        ps_redis_send(op, 1) == 0)
        return;
    drop = rep != NULL && rep->type == REDIS_REPLY_ERROR &&
           ps_redis_error_drops_link(rep->str);
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR && !drop)
        ps_log_kv(op->p.r->lg, LOG_ERR, "store_error", "store", "redis",
                  "reason", rep->str, NULL);
    if (rep == NULL || ps_redis_result(op->q, rep) != 0) {
        ps_redis_answer(&op->p, -1);
    } else {
        ps_redis_calibrate(op);
        ps_redis_answer(&op->p, 0);
    }
    if (drop)
        ps_redis_link_drop(op->p.r->link, rep->str);
    ps_redis_pending_free(&op->p);
}

/* EVALSHA, or EVAL with the whole script once Redis said NOSCRIPT. */
static int ps_redis_send(ps_redis_op *op, int full)
{
    const char *argv[4 + 2 * PS_STORE_MAX_ITEMS + 3 * PS_STORE_MAX_ITEMS];
    char keys[PS_STORE_MAX_ITEMS][PS_REDIS_KEY_MAX];
    char nums[4 + 3 * PS_STORE_MAX_ITEMS][24];
    const ps_store_query *q = op->q;
    redisAsyncContext *ac = ps_redis_link_ready(op->p.r->link);
    size_t argc = 0, k = 0;

    op->retried = full;
    argv[argc++] = full ? "EVAL" : "EVALSHA";
    argv[argc++] = full ? ps_redis_script : op->p.r->sha;
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
    snprintf(nums[k], sizeof(nums[k]), "%lld",
             (long long)op->sent_ms + op->p.r->offset_ms + PS_STORE_TIMEOUT_MS);
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
    return ac != NULL &&
                   redisAsyncCommandArgv(ac, ps_redis_on_reply, op, (int)argc,
                                         argv, NULL) == REDIS_OK
               ? 0
               : -1;
}

/* No answer in time: store_down now; the late reply, if any, is dropped.
 * A server this slow is treated as gone, and the connection remade. */
static void ps_redis_drop_slow(ps_redis *r)
{
    char why[64];

    snprintf(why, sizeof(why), "no answer within %d ms", PS_STORE_TIMEOUT_MS);
    ps_redis_link_drop(r->link, why); /* fails every pending op */
}

/* The one timeout of every pending request, quota or suppression. */
static void ps_redis_timeout(evutil_socket_t fd, short what, void *arg)
{
    ps_redis_pending *p = arg;

    (void)fd;
    (void)what;
    p->answer(p, -1);
    ps_redis_drop_slow(p->r);
}

/* A new request of size bytes (a struct that starts with its
 * ps_redis_pending), zeroed, when the link is ready; else NULL, the
 * failure counted. */
static void *ps_redis_pending_new(ps_redis *r, size_t size,
                                  void (*answer)(ps_redis_pending *, int))
{
    ps_redis_pending *p;

    if (ps_redis_link_ready(r->link) == NULL || (p = calloc(1, size)) == NULL) {
        r->failed++;
        return NULL;
    }
    p->r = r;
    p->answer = answer;
    return p;
}

/* Sends a new request (from ps_redis_pending_new, filled) with send and
 * arms its deadline: PS_STORE_PENDING, or -1 with p freed and the failure
 * counted. */
static int ps_redis_pending_start(ps_redis_pending *p,
                                  int (*send)(ps_redis_pending *p))
{
    struct timeval tv = {0, PS_STORE_TIMEOUT_MS * 1000};
    ps_redis *r = p->r;

    p->timer = evtimer_new(r->evb, ps_redis_timeout, p);
    if (p->timer == NULL || send(p) != 0) {
        if (p->timer != NULL)
            event_free(p->timer);
        free(p);
        r->failed++;
        return -1;
    }
    evtimer_add(p->timer, &tv);
    return PS_STORE_PENDING;
}

static int ps_redis_send_first(ps_redis_pending *p)
{
    return ps_redis_send((ps_redis_op *)p, 0);
}

static int ps_redis_eval(ps_store *s, ps_store_query *q, ps_store_done done,
                         void *arg)
{
    ps_redis_op *op =
        ps_redis_pending_new((ps_redis *)s, sizeof(*op), ps_redis_answer);

    if (op == NULL)
        return -1;
    op->q = q;
    op->done = done;
    op->arg = arg;
    op->sent_ms = ps_store_clock_ms();
    return ps_redis_pending_start(&op->p, ps_redis_send_first);
}

/* A suppression lookup: GET, answered or store_down within the same
 * PS_STORE_TIMEOUT_MS as a quota request. */
typedef struct ps_redis_sop {
    ps_redis_pending p;
    const char *key; /* only while it is sent */
    ps_supp_entry *e;
    int64_t now;
    ps_store_supp_done done;
    void *arg;
} ps_redis_sop;

static void ps_redis_sop_answer(ps_redis_pending *p, int found)
{
    ps_redis_sop *op = (ps_redis_sop *)p;

    if (ps_redis_pending_claim(p, found))
        op->done(op->arg, found);
}

static void ps_redis_sop_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    ps_redis_sop *op = arg;
    redisReply *rep = reply;
    int found = -1;

    (void)ac;
    if (rep != NULL && rep->type == REDIS_REPLY_NIL)
        found = PS_STORE_SUPP_NONE;
    else if (rep != NULL && rep->type == REDIS_REPLY_STRING)
        found = ps_supp_parse(rep->str, rep->len, op->e) == 0 &&
                        op->e->until > op->now
                    ? PS_STORE_SUPP_FOUND
                    : PS_STORE_SUPP_NONE;
    else if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        ps_log_kv(op->p.r->lg, LOG_ERR, "store_error", "store", "redis",
                  "reason", rep->str, NULL);
    ps_redis_sop_answer(&op->p, found);
    ps_redis_pending_free(&op->p);
}

static int ps_redis_sop_send(ps_redis_pending *p)
{
    ps_redis_sop *op = (ps_redis_sop *)p;
    redisAsyncContext *ac = ps_redis_link_ready(p->r->link);

    return ac != NULL && redisAsyncCommand(ac, ps_redis_sop_reply, op,
                                           "GET ps:%s", op->key) == REDIS_OK
               ? 0
               : -1;
}

static int ps_redis_supp_get(ps_store *s, const char *key, int64_t now,
                             ps_supp_entry *e, ps_store_supp_done done,
                             void *arg)
{
    ps_redis_sop *op =
        ps_redis_pending_new((ps_redis *)s, sizeof(*op), ps_redis_sop_answer);

    if (op == NULL)
        return -1;
    op->key = key;
    op->e = e;
    op->now = now;
    op->done = done;
    op->arg = arg;
    return ps_redis_pending_start(&op->p, ps_redis_sop_send);
}

/* SET ... EXAT: Redis drops the entry when it expires. No answer is
 * awaited: an outage is logged by the link, and the event that made
 * the entry is in the spool whatever happens here. */
static int ps_redis_supp_put(ps_store *s, const ps_supp_entry *e)
{
    ps_redis *r = (ps_redis *)s;
    redisAsyncContext *ac = ps_redis_link_ready(r->link);
    char key[PS_SUPP_KEY_MAX], val[PS_SUPP_VALUE_MAX];
    size_t n = ps_supp_format(e, val);

    ps_supp_key(e, key);
    if (ac == NULL ||
        redisAsyncCommand(ac, NULL, NULL, "SET ps:%s %b EXAT %lld", key, val, n,
                          (long long)e->until) != REDIS_OK) {
        ps_log_kv(r->lg, LOG_ERR, "store_error", "store", "redis", "reason",
                  "suppression not stored: not connected", "recipient", e->rcpt,
                  NULL);
        return -1;
    }
    return 0;
}

static void ps_redis_free(ps_store *s)
{
    ps_redis *r = (ps_redis *)s;

    ps_redis_link_free(r->link);
    free(r);
}

ps_store *ps_store_redis_open(const ps_store_url *u, struct event_base *base,
                              ps_log *lg, ps_err *err)
{
    ps_redis *r = calloc(1, sizeof(*r));
    unsigned char md[SHA_DIGEST_LENGTH];
    ps_redis_link_events ev = {ps_redis_on_up, ps_redis_on_down, NULL};

    if (r == NULL)
        return ps_err_set(err, "out of memory"), NULL;
    r->base = (ps_store){"redis",       1,    ps_redis_eval, ps_redis_tick,
                         ps_redis_free, NULL, NULL};
    r->base.supp_get = ps_redis_supp_get;
    r->base.supp_put = ps_redis_supp_put;
    r->evb = base;
    r->lg = lg;
    r->down_since = ps_store_clock_ms();
    SHA1((const unsigned char *)ps_redis_script, strlen(ps_redis_script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
    ev.arg = r;
    if ((r->link = ps_redis_link_new(u, base, &ev, err)) == NULL) {
        free(r);
        return NULL;
    }
    return &r->base;
}
