/* The daemon's connection to Redis, on its libevent loop: asks Sentinel
 * for the master when configured, connects (TCP or unix socket), and
 * counts as ready only once AUTH, SELECT, SCRIPT LOAD, TIME (and ROLE) have
 * answered; a failed or lost connection is remade with backoff. */
#include "redis_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#define PS_LINK_RETRY_MIN_MS 100
#define PS_LINK_RETRY_MAX_MS 2000
#define PS_LINK_MAX_HS       5 /* AUTH, SELECT, SCRIPT LOAD, TIME, ROLE */
#define PS_LINK_WHY          512

typedef enum ps_link_state {
    PS_LINK_IDLE,      /* waiting to retry */
    PS_LINK_ASKING,    /* a sentinel is asked for the master */
    PS_LINK_HANDSHAKE, /* connected or connecting, handshake sent */
    PS_LINK_READY,
} ps_link_state;

struct ps_redis_link {
    ps_store_url url; /* holds the password: wiped at free */
    struct event_base *evb;
    ps_redis_link_events ev;
    ps_link_state state;
    redisAsyncContext *ac; /* the server's connection, NULL while none */
    redisAsyncContext *sc; /* the sentinel being asked, NULL while none */
    size_t first, asked;   /* sentinel asked first; how many so far */
    ps_store_host master;  /* what the sentinel said */
    const char *hs[PS_LINK_MAX_HS];
    int nhs, pending; /* handshake commands sent, replies to come */
    uint64_t hs_sent_ms;
    int64_t offset_ms;     /* Redis's clock minus ours, from TIME */
    char why[PS_LINK_WHY]; /* the first handshake failure */
    char server[PS_REDIS_SERVER_MAX];
    struct event *retry, *deadline;
    int backoff_ms;
};

static void ps_link_ask(ps_redis_link *l);

static void ps_link_fail(ps_redis_link *l, const char *why)
{
    struct timeval tv = {l->backoff_ms / 1000, l->backoff_ms % 1000 * 1000};

    l->state = PS_LINK_IDLE;
    event_del(l->deadline);
    event_add(l->retry, &tv);
    l->backoff_ms = l->backoff_ms * 2 > PS_LINK_RETRY_MAX_MS
                        ? PS_LINK_RETRY_MAX_MS
                        : l->backoff_ms * 2;
    l->ev.down(l->ev.arg, why);
}

static void ps_link_arm(ps_redis_link *l)
{
    struct timeval tv = {PS_REDIS_CONNECT_MS / 1000,
                         PS_REDIS_CONNECT_MS % 1000 * 1000};

    event_add(l->deadline, &tv);
}

/* hiredis frees a context whose connect failed, or that the server
 * closed: only the pointer is forgotten here. */
/* A sentinel lost: ask the next; the server lost: the link fails. */
static void ps_link_lost(ps_redis_link *l, const redisAsyncContext *ac,
                         const char *reason)
{
    char why[PS_LINK_WHY];

    snprintf(why, sizeof(why), "%.200s: %.200s",
             ac == l->sc ? "sentinel" : l->server, reason);
    if (ac == l->sc) {
        l->sc = NULL;
        snprintf(l->why, sizeof(l->why), "%.400s", why);
        ps_link_ask(l);
    } else if (ac == l->ac) {
        l->ac = NULL;
        ps_link_fail(l, why);
    }
}

static void ps_link_on_connect(const redisAsyncContext *ac, int status)
{
    ps_redis_link *l = ac->data;

    if (status == REDIS_OK)
        return;
    ps_link_lost(l, ac, ac->errstr);
}

static void ps_link_on_disconnect(const redisAsyncContext *ac, int status)
{
    ps_redis_link *l = ac->data;

    (void)status;
    ps_link_lost(l, ac, ac->errstr[0] ? ac->errstr : "connection closed");
}

static redisAsyncContext *ps_link_open(ps_redis_link *l, const ps_store_host *h)
{
    redisAsyncContext *ac = h != NULL ? redisAsyncConnect(h->name, h->port)
                                      : redisAsyncConnectUnix(l->url.path);

    if (ac == NULL || ac->err) {
        snprintf(l->why, sizeof(l->why), "%s",
                 ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = l;
    redisLibeventAttach(ac, l->evb);
    redisAsyncSetConnectCallback(ac, ps_link_on_connect);
    redisAsyncSetDisconnectCallback(ac, ps_link_on_disconnect);
    ps_link_arm(l);
    return ac;
}

static void ps_link_clock(ps_redis_link *l, const redisReply *r)
{
    uint64_t now = ps_store_clock_ms();

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING)
        l->offset_ms =
            (int64_t)(strtoull(r->element[0]->str, NULL, 10) * 1000 +
                      strtoull(r->element[1]->str, NULL, 10) / 1000) -
            (int64_t)(l->hs_sent_ms + now) / 2;
}

/* Every handshake reply, in order; the last one decides. */
static void ps_link_on_handshake(redisAsyncContext *ac, void *reply, void *arg)
{
    ps_redis_link *l = arg;
    redisReply *r = reply;
    const char *cmd;

    if (ac != l->ac || l->state != PS_LINK_HANDSHAKE)
        return;
    if (r == NULL) { /* hiredis is closing it: the disconnect follows */
        l->ac = NULL;
        ps_link_fail(l, l->why[0] ? l->why : "connection closed");
        return;
    }
    cmd = l->hs[l->nhs - l->pending];
    if (l->why[0] == '\0' && r->type == REDIS_REPLY_ERROR)
        snprintf(l->why, sizeof(l->why), "%.200s: %s refused: %.200s",
                 l->server, cmd, r->str);
    else if (strcmp(cmd, "TIME") == 0)
        ps_link_clock(l, r);
    else if (l->why[0] == '\0' && strcmp(cmd, "ROLE") == 0 &&
             ps_redis_role_reply(r, l->why, sizeof(l->why)) != 0)
        snprintf(l->why + strlen(l->why), sizeof(l->why) - strlen(l->why),
                 " at %s", l->server);
    if (--l->pending > 0)
        return;
    if (l->why[0] != '\0') {
        l->ac = NULL;
        redisAsyncFree(ac); /* in its callback: hiredis frees it after */
        ps_link_fail(l, l->why);
        return;
    }
    l->state = PS_LINK_READY;
    l->backoff_ms = PS_LINK_RETRY_MIN_MS;
    event_del(l->deadline);
    l->ev.up(l->ev.arg, l->server);
}

static int ps_link_send(ps_redis_link *l, int argc, const char **argv)
{
    if (redisAsyncCommandArgv(l->ac, ps_link_on_handshake, l, argc, argv,
                              NULL) != REDIS_OK)
        return -1;
    l->hs[l->nhs++] = argv[0];
    l->pending++;
    return 0;
}

/* Connect and queue the handshake: hiredis sends it once connected. */
static void ps_link_connect(ps_redis_link *l, const ps_store_host *h)
{
    const char *auth[3], *sel[2] = {"SELECT", NULL};
    const char *load[3] = {"SCRIPT", "LOAD", ps_redis_script};
    const char *role[1] = {"ROLE"}, *timecmd[1] = {"TIME"};
    char db[16];
    int n = ps_redis_auth_argv(&l->url, auth);

    if (h != NULL)
        ps_store_url_host_text(h, l->server, sizeof(l->server));
    else
        snprintf(l->server, sizeof(l->server), "%.200s", l->url.path);
    l->why[0] = '\0';
    l->nhs = l->pending = 0;
    l->offset_ms = 0;
    l->hs_sent_ms = ps_store_clock_ms();
    l->state = PS_LINK_HANDSHAKE;
    if ((l->ac = ps_link_open(l, h)) == NULL) {
        char why[PS_LINK_WHY];
        snprintf(why, sizeof(why), "%.200s: %.200s", l->server, l->why);
        ps_link_fail(l, why);
        return;
    }
    snprintf(db, sizeof(db), "%d", l->url.db);
    sel[1] = db;
    if ((n > 0 && ps_link_send(l, n, auth) != 0) ||
        ps_link_send(l, 2, sel) != 0 || ps_link_send(l, 3, load) != 0 ||
        ps_link_send(l, 1, timecmd) != 0 ||
        (l->url.kind == PS_STORE_REDIS_SENTINEL &&
         ps_link_send(l, 1, role) != 0)) {
        redisAsyncContext *ac = l->ac;
        l->ac = NULL;
        redisAsyncFree(ac);
        ps_link_fail(l, "cannot queue the handshake");
    }
}

static void ps_link_on_sentinel(redisAsyncContext *ac, void *reply, void *arg)
{
    ps_redis_link *l = arg;
    char why[PS_LINK_WHY];

    if (ac != l->sc)
        return;
    l->sc = NULL;
    if (reply != NULL)
        redisAsyncFree(ac); /* in its callback: hiredis frees it after */
    if (ps_redis_sentinel_reply(reply, &l->master, why, sizeof(why)) == 0) {
        l->first = (l->first + l->asked - 1) % l->url.nhosts;
        ps_link_connect(l, &l->master);
        return;
    }
    snprintf(l->why, sizeof(l->why), "%.400s", why);
    ps_link_ask(l);
}

/* The next sentinel, from the one that answered last; when all have
 * been asked in vain, the attempt fails with the last reason. */
static void ps_link_ask(ps_redis_link *l)
{
    const ps_store_host *h;
    redisAsyncContext *ac;
    char why[PS_LINK_WHY];

    while (l->asked < l->url.nhosts) {
        h = &l->url.hosts[(l->first + l->asked++) % l->url.nhosts];
        if ((l->sc = ps_link_open(l, h)) == NULL)
            continue;
        if (redisAsyncCommand(l->sc, ps_link_on_sentinel, l,
                              "SENTINEL get-master-addr-by-name %s",
                              l->url.master) == REDIS_OK)
            return;
        ac = l->sc;
        l->sc = NULL;
        redisAsyncFree(ac);
    }
    snprintf(why, sizeof(why), "no sentinel named master '%s' (last: %.300s)",
             l->url.master, l->why);
    ps_link_fail(l, why);
}

static void ps_link_attempt(evutil_socket_t fd, short what, void *arg)
{
    ps_redis_link *l = arg;

    (void)fd;
    (void)what;
    if (l->url.kind != PS_STORE_REDIS_SENTINEL) {
        ps_link_connect(
            l, l->url.kind == PS_STORE_REDIS_UNIX ? NULL : &l->url.hosts[0]);
        return;
    }
    l->state = PS_LINK_ASKING;
    l->asked = 0;
    snprintf(l->why, sizeof(l->why), "no answer");
    ps_link_ask(l);
}

/* A connect or handshake not done in time (a server that accepts but
 * never answers, as a stopped one does): given up, next one tried. */
static void ps_link_deadline(evutil_socket_t fd, short what, void *arg)
{
    ps_redis_link *l = arg;
    redisAsyncContext *ac;
    char why[PS_LINK_WHY];

    (void)fd;
    (void)what;
    if (l->state == PS_LINK_ASKING && (ac = l->sc) != NULL) {
        l->sc = NULL;
        redisAsyncFree(ac);
        snprintf(l->why, sizeof(l->why), "sentinel: no answer within %d ms",
                 PS_REDIS_CONNECT_MS);
        ps_link_ask(l);
    } else if (l->state == PS_LINK_HANDSHAKE && (ac = l->ac) != NULL) {
        l->ac = NULL;
        redisAsyncFree(ac);
        snprintf(why, sizeof(why), "%.200s: no answer within %d ms", l->server,
                 PS_REDIS_CONNECT_MS);
        ps_link_fail(l, why);
    }
}

int64_t ps_redis_link_clock_offset(const ps_redis_link *l)
{
    return l->offset_ms;
}

redisAsyncContext *ps_redis_link_ready(ps_redis_link *l)
{
    return l->state == PS_LINK_READY ? l->ac : NULL;
}

void ps_redis_link_drop(ps_redis_link *l, const char *reason)
{
    redisAsyncContext *ac = l->ac;
    char why[PS_LINK_WHY];

    if (l->state != PS_LINK_READY || ac == NULL)
        return;
    l->ac = NULL;
    snprintf(why, sizeof(why), "%.200s: %.250s", l->server, reason);
    ps_link_fail(l, why);
    redisAsyncFree(ac); /* its pending replies come back NULL */
}

ps_redis_link *ps_redis_link_new(const ps_store_url *u, struct event_base *evb,
                                 const ps_redis_link_events *ev, ps_err *err)
{
    ps_redis_link *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return ps_err_set(err, "out of memory"), NULL;
    l->url = *u;
    l->evb = evb;
    l->ev = *ev;
    l->backoff_ms = PS_LINK_RETRY_MIN_MS;
    l->retry = evtimer_new(evb, ps_link_attempt, l);
    l->deadline = evtimer_new(evb, ps_link_deadline, l);
    if (l->retry == NULL || l->deadline == NULL) {
        ps_redis_link_free(l);
        return ps_err_set(err, "out of memory"), NULL;
    }
    ps_link_attempt(-1, 0, l);
    return l;
}

void ps_redis_link_free(ps_redis_link *l)
{
    redisAsyncContext *ac;

    if (l == NULL)
        return;
    l->state = PS_LINK_IDLE;
    if ((ac = l->sc) != NULL) {
        l->sc = NULL;
        redisAsyncFree(ac);
    }
    if ((ac = l->ac) != NULL) {
        l->ac = NULL;
        redisAsyncFree(ac);
    }
    if (l->retry != NULL)
        event_free(l->retry);
    if (l->deadline != NULL)
        event_free(l->deadline);
    ps_store_url_wipe(&l->url);
    free(l);
}
