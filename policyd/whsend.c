/* The webhook sender's life in postseal-policyd's loop (whsend.h): start
 * (each endpoint's state loaded), the tick that reads new spool lines and
 * starts due POSTs within each endpoint's concurrency, and what an answer
 * does to an event: a 2xx ends it, anything else schedules a retry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/events.h"
#include "whsend.h"

/* Where an endpoint without a state file begins: the spool's end (start
 * = now) or its first line. */
static long long whs_start_at(const ps_whs *s, const ps_conf_endpoint *c)
{
    struct stat st;

    if (c->start == PS_CONF_START_BEGINNING || stat(s->spool, &st) != 0)
        return 0;
    return (long long)st.st_size;
}

static int whs_ep_init(ps_whs *s, ps_whs_ep *ep, const ps_conf_endpoint *c,
                       ps_err *err)
{
    struct stat st;

    ep->s = s;
    if (ps_conf_endpoint_copy(&ep->conf, c) != 0)
        return ps_err_set(err, "out of memory");
    if (ps_whstate_path(s->events_dir, c->name, PS_WHSTATE_SUFFIX, ep->state,
                        sizeof(ep->state), err) != 0 ||
        ps_whstate_path(s->events_dir, c->name, PS_WHSTATE_REQUESTS,
                        ep->requests, sizeof(ep->requests), err) != 0)
        return -1;
    if (ps_evhook_new(c, &ep->hook, err) != 0)
        return -1;
    if (stat(ep->state, &st) == 0 || errno != ENOENT)
        return ps_whs_state_load(ep, err);
    ep->scanned = whs_start_at(s, c);
    ps_log_kv(s->lg, LOG_INFO, "webhook", "endpoint", c->name, "start",
              c->start == PS_CONF_START_BEGINNING ? "beginning" : "now", NULL);
    return ps_whs_state_save(ep, err);
}

int ps_whs_ep_new(ps_whs *s, const ps_conf_endpoint *c, ps_whs_ep **out,
                  ps_err *err)
{
    ps_whs_ep *ep = calloc(1, sizeof(*ep));

    *out = NULL;
    if (ep == NULL)
        return ps_err_set(err, "out of memory");
    if (whs_ep_init(s, ep, c, err) != 0) {
        ps_whs_ep_free(ep);
        return -1;
    }
    *out = ep;
    return 0;
}

static void whs_log_done(ps_whs_ep *ep, const ps_whs_item *it, long status,
                         const char *why, const char *result)
{
    char code[16];

    snprintf(code, sizeof(code), "%ld", status);
    ps_log_kv(ep->s->lg, it->dead ? LOG_ERR : LOG_INFO, "webhook", "endpoint",
              ep->conf.name, "id", it->id, "result", result, "status", code,
              "reason", why, NULL);
}

/* What an answer does to its event: a 2xx (or a drop asked for) ends
 * it, anything else schedules its retry or, after PS_WHS_GIVE_UP, gives
 * up. */
static void whs_settle(ps_whs_ep *ep, long long off, long status,
                       const char *why, long long now)
{
    size_t i;

    ep->inflight--;
    for (i = 0; i < ep->n && ep->items[i].off != off; i++)
        ;
    if (i == ep->n)
        return;
    ps_whs_item *it = &ep->items[i];
    it->busy = 0;
    it->attempts++;
    ep->dirty = 1;
    if ((status >= 200 && status < 300) || it->dropped) {
        whs_log_done(ep, it, status, "", it->dropped ? "dropped" : "delivered");
        ep->sent += !it->dropped;
        memmove(it, it + 1, (ep->n - i - 1) * sizeof(*it));
        ep->n--;
        return;
    }
    ep->failed++;
    it->next = now + ps_whs_delay(ep, it->attempts);
    it->dead = now - it->first >= PS_WHS_GIVE_UP;
    whs_log_done(ep, it, status, *why ? why : "not 2xx",
                 it->dead ? "gave_up" : "retry");
}

static void whs_start_due(ps_whs_ep *ep, long long now);

static size_t whs_live(const ps_whs_ep *ep)
{
    size_t n = 0;

    for (size_t i = 0; i < ep->n; i++)
        n += !ep->items[i].dead;
    return n;
}

/* Half the events held are done and the spool has more: read on now
 * rather than at the next tick (one state save per batch, not per
 * answer). */
static void whs_read_on(ps_whs_ep *ep)
{
    struct stat st;

    if (whs_live(ep) < PS_WHS_PENDING / 2 && ep->s->spool_fd >= 0 &&
        fstat(ep->s->spool_fd, &st) == 0 && st.st_size > ep->scanned)
        event_active(ep->s->tick, EV_TIMEOUT, 0);
}

/* An answer frees a slot: the next due event goes out at once, not at
 * the next tick. */
void ps_whs_done(ps_whs_ep *ep, long long off, long status, const char *why)
{
    long long now = (long long)time(NULL);

    whs_settle(ep, off, status, why, now);
    if (ep->retiring) {
        if (ep->inflight == 0)
            ps_whs_retire(ep);
        return;
    }
    whs_start_due(ep, now);
    whs_read_on(ep);
}

/* One spool line at off (NUL-terminated in s->line): an item if the
 * endpoint wants its event. */
static int whs_consider(ps_whs_ep *ep, long long off, char *line, ps_err *err)
{
    char *fields[PS_EVSPOOL_NFIELDS];
    ps_whs_item it = {.off = off};
    ps_event ev;

    if (ps_evspool_parse(line, fields, &ev) != 0 ||
        !ps_conf_endpoint_wants(&ep->conf, (int)ev.kind, ev.sender, ev.auth) ||
        (ep->conf.format == PS_CONF_WH_POSTAL &&
         !ps_events_postal_kind((int)ev.kind)))
        return 0;
    memcpy(it.id, ev.id, sizeof(it.id));
    return ps_whs_item_add(ep, &it, err);
}

/* The complete lines past ep->scanned, while the endpoint holds fewer
 * than PS_WHS_PENDING live events. */
static int whs_scan(ps_whs_ep *ep, ps_err *err)
{
    ps_whs *s = ep->s;

    while (whs_live(ep) < PS_WHS_PENDING) {
        ssize_t got =
            pread(s->spool_fd, s->line, PS_WHS_LINE_MAX, (off_t)ep->scanned);
        char *nl;
        if (got < 0)
            return ps_err_set(err, "%s: %s", s->spool, strerror(errno));
        s->line[got] = '\0';
        if ((nl = memchr(s->line, '\n', (size_t)got)) == NULL) {
            if (got < PS_WHS_LINE_MAX)
                return 0;       /* no whole line yet */
            ep->scanned += got; /* longer than any event: skipped */
            continue;
        }
        *nl = '\0';
        if (whs_consider(ep, ep->scanned, s->line, err) != 0)
            return -1;
        ep->scanned += nl - s->line + 1;
        ep->dirty = 1;
    }
    return 0;
}

/* Reads the event back from the spool, signs and POSTs it. */
static int whs_send(ps_whs_ep *ep, ps_whs_item *it, long long now, ps_err *err)
{
    ps_whs *s = ep->s;
    char *fields[PS_EVSPOOL_NFIELDS], *nl;
    char hdrs[PS_EVHOOK_HEADERS_MAX];
    size_t blen;
    ps_event ev;
    ssize_t got = pread(s->spool_fd, s->line, PS_WHS_LINE_MAX, (off_t)it->off);

    if (got <= 0 || (s->line[got] = '\0', nl = strchr(s->line, '\n')) == NULL)
        return ps_err_set(err, "%s: event at %lld is gone", s->spool, it->off);
    *nl = '\0';
    if (ps_evspool_parse(s->line, fields, &ev) != 0 ||
        ps_evhook_make(ep->hook, &ev, now, s->body, PS_WHS_BODY_MAX, &blen,
                       hdrs, sizeof(hdrs), err) != 0 ||
        ps_whs_http_post(ep, it->off, s->body, blen, hdrs, err) != 0)
        return -1;
    if (it->first == 0)
        it->first = now;
    it->busy = 1;
    ep->inflight++;
    return 0;
}

static void whs_start_due(ps_whs_ep *ep, long long now)
{
    ps_err err = {""};

    for (size_t i = 0;
         i < ep->n && ep->inflight < (unsigned)ep->conf.concurrency; i++) {
        ps_whs_item *it = &ep->items[i];
        if (it->dead || it->busy || it->next > now)
            continue;
        if (whs_send(ep, it, now, &err) != 0) {
            ps_log_kv(ep->s->lg, LOG_ERR, "webhook", "endpoint", ep->conf.name,
                      "id", it->id, "result", "error", "reason", err.msg, NULL);
            it->next = now + ps_whs_delay(ep, it->attempts + 1);
            err.msg[0] = '\0';
        }
    }
}

/* The spool appears with the first event. */
static int whs_open_spool(ps_whs *s)
{
    if (s->spool_fd < 0)
        s->spool_fd = open(s->spool, O_RDONLY | O_CLOEXEC);
    return s->spool_fd;
}

/* Retention, at most every PS_WHS_COMPACT_MAX seconds (a tenth of a
 * shorter retention), once every state is saved; not while a removed
 * endpoint still has POSTs in flight (its events are not accounted). */
static void whs_maybe_compact(ps_whs *s, long long now, int saved)
{
    long long every = s->retention / 10;
    ps_err err = {""};

    if (!saved || now < s->next_compact)
        return;
    for (size_t i = 0; i < s->neps; i++)
        if (s->eps[i]->retiring)
            return;
    every = every < 1                    ? 1
            : every > PS_WHS_COMPACT_MAX ? PS_WHS_COMPACT_MAX
                                         : every;
    s->next_compact = now + every;
    if (ps_whs_compact(s, now, &err) != 0)
        ps_log_kv(s->lg, LOG_ERR, "compact", "result", "failed", "reason",
                  err.msg, "kept", "the spool as it was", NULL);
}

static void whs_tick(evutil_socket_t fd, short what, void *arg)
{
    ps_whs *s = arg;
    long long now = (long long)time(NULL);
    ps_err err = {""};
    int saved = 1;

    (void)fd, (void)what;
    if (whs_open_spool(s) < 0)
        return;
    for (size_t i = 0; i < s->neps; i++) {
        ps_whs_ep *ep = s->eps[i];
        if (ep->retiring)
            continue;
        if (ps_whs_requests(ep, now, &err) != 0 || whs_scan(ep, &err) != 0 ||
            (ep->dirty && ps_whs_state_save(ep, &err) != 0)) {
            ps_log_kv(s->lg, LOG_ERR, "webhook", "endpoint", ep->conf.name,
                      "result", "error", "reason", err.msg, NULL);
            err.msg[0] = '\0';
            saved = 0;
            continue; /* nothing is sent that the state does not hold */
        }
        whs_start_due(ep, now);
    }
    whs_maybe_compact(s, now, saved);
}

static int whs_paths(ps_whs *s, const char *dir, ps_err *err)
{
    int n = snprintf(s->dir, sizeof(s->dir), "%s/" PS_WHSTATE_DIR, dir);

    snprintf(s->events_dir, sizeof(s->events_dir), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(s->dir) ||
        ps_evspool_path(dir, s->spool, sizeof(s->spool), err) != 0)
        return ps_err_set(err, "%s: path too long", dir);
    if (mkdir(s->dir, 0750) != 0 && errno != EEXIST)
        return ps_err_set(err, "%s: %s", s->dir, strerror(errno));
    return 0;
}

static int whs_setup(ps_whs *s, const ps_conf *conf, ps_err *err)
{
    struct timeval tv = {PS_WHS_TICK_MS / 1000, (PS_WHS_TICK_MS % 1000) * 1000};
    const char *crash = getenv(PS_WHS_CRASH_ENV);

    s->crash_at = crash != NULL ? atoi(crash) : 0;
    s->retention = conf->events.retention;
    s->dead_retention = conf->events.dead_retention;
    if (whs_paths(s, conf->events.dir.value, err) != 0)
        return -1;
    if ((s->line = malloc(PS_WHS_LINE_MAX + 1)) == NULL ||
        (s->body = malloc(PS_WHS_BODY_MAX)) == NULL ||
        (conf->nendpoints > 0 &&
         (s->eps = calloc(conf->nendpoints, sizeof(*s->eps))) == NULL))
        return ps_err_set(err, "out of memory");
    for (; s->neps < conf->nendpoints; s->neps++)
        if (ps_whs_ep_new(s, &conf->endpoints[s->neps], &s->eps[s->neps],
                          err) != 0)
            return -1;
    ps_whs_prune(s);
    if (ps_whs_http_init(s, err) != 0)
        return -1;
    s->tick = event_new(s->base, -1, EV_PERSIST, whs_tick, s);
    if (s->tick == NULL || event_add(s->tick, &tv) != 0)
        return ps_err_set(err, "webhooks: cannot add the timer");
    return 0;
}

int ps_whs_start(struct event_base *base, ps_log *lg, const ps_conf *conf,
                 ps_whs **out, ps_err *err)
{
    ps_whs *s;

    *out = NULL;
    if (conf->events.dir.value == NULL)
        return 0;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return ps_err_set(err, "out of memory");
    s->base = base;
    s->lg = lg;
    s->spool_fd = -1;
    if (whs_setup(s, conf, err) != 0) {
        ps_whs_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void ps_whs_ep_free(ps_whs_ep *ep)
{
    if (ep == NULL)
        return;
    ps_evhook_free(ep->hook);
    free(ep->items);
    ps_conf_endpoint_clear(&ep->conf);
    free(ep);
}

void ps_whs_free(ps_whs *s)
{
    if (s == NULL)
        return;
    ps_whs_http_free(s);
    if (s->tick != NULL)
        event_free(s->tick);
    for (size_t i = 0; i < s->neps; i++)
        ps_whs_ep_free(s->eps[i]);
    free(s->eps);
    free(s->line);
    free(s->body);
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    free(s);
}
