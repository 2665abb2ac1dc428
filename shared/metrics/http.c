/* GET /metrics over evhttp: 404 for another path, 405 for another method,
 * libevent's limits (header and body size, idle timeout), and our own cap on
 * open connections and deadline per request, so that slow or hostile
 * clients cost a bounded number of descriptors and a few KB each. */
#include "metrics/http.h"

#include "base/usock.h"
#include "conf/listen.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One accepted connection. libevent 2.1's evhttp has no connection limit,
 * no whole-request deadline (its idle timeout restarts at each byte) and no
 * hook naming a new connection; but it lets us make each connection's
 * bufferevent (evhttp_set_bevcb). We keep a reference to it: evhttp's
 * bufferevent_free then clears its callbacks, which tells us evhttp is done
 * with it, and the descriptor closes when we drop our reference. */
typedef struct ps_metrics_conn {
    TAILQ_ENTRY(ps_metrics_conn) next;
    struct bufferevent *bev;
    time_t since; /* accepted, or its last request answered */
    int evicted;  /* shut by us; evhttp frees it at the end of file */
} ps_metrics_conn;

struct ps_metrics_http {
    struct evhttp *http;
    const ps_metrics *r;
    ps_metrics_refresh_fn refresh;
    void *arg;
    TAILQ_HEAD(, ps_metrics_conn) conns; /* oldest first */
    int live;                            /* neither freed nor evicted */
    struct event *sweep;
};

static time_t ps_metrics_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Shutting the socket hands evhttp an end of file; evhttp frees it. */
static void ps_metrics_conn_evict(ps_metrics_http *h, ps_metrics_conn *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    c->evicted = 1;
    h->live--;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static int ps_metrics_conn_released(const ps_metrics_conn *c)
{
    bufferevent_event_cb eventcb = NULL;

    /* evhttp keeps its error callback on an incoming connection until
     * bufferevent_free clears it. */
    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
    return eventcb == NULL;
}

static void ps_metrics_conn_drop(ps_metrics_http *h, ps_metrics_conn *c)
{
    TAILQ_REMOVE(&h->conns, c, next);
    if (!c->evicted)
        h->live--;
    bufferevent_decref(c->bev); /* closes the descriptor */
    free(c);
}

/* Each second and at each accept: forget the connections evhttp freed,
 * and shut those whose request has outlived the deadline. */
static void ps_metrics_conn_sweep(ps_metrics_http *h)
{
    time_t now = ps_metrics_now();
    ps_metrics_conn *c = TAILQ_FIRST(&h->conns), *next;

    for (; c != NULL; c = next) {
        next = TAILQ_NEXT(c, next);
        if (ps_metrics_conn_released(c))
            ps_metrics_conn_drop(h, c);
        else if (!c->evicted && now - c->since > PS_METRICS_HTTP_DEADLINE)
            ps_metrics_conn_evict(h, c);
    }
}

static void ps_metrics_conn_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ps_metrics_conn_sweep(arg);
}

/* At the cap the oldest connection goes, not the new one: clients that
 * hold their connections cannot keep a fresh scrape out. */
static struct bufferevent *ps_metrics_conn_new(struct event_base *base,
                                               void *arg)
{
    ps_metrics_http *h = arg;
    ps_metrics_conn *c, *old;

    ps_metrics_conn_sweep(h);
    if (h->live >= PS_METRICS_HTTP_CONNS) {
        TAILQ_FOREACH(old, &h->conns, next)
        {
            if (!old->evicted)
                break;
        }
        if (old != NULL)
            ps_metrics_conn_evict(h, old);
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return NULL; /* evhttp makes its own, uncounted */
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        free(c);
        return NULL;
    }
    bufferevent_incref(c->bev);
    c->since = ps_metrics_now();
    TAILQ_INSERT_TAIL(&h->conns, c, next);
    h->live++;
    return c->bev;
}

/* An answer starts the next request's clock: Prometheus keeps its
 * connection between scrapes. */
static void ps_metrics_conn_answered(ps_metrics_http *h,
                                     struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev =
        evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    ps_metrics_conn *c;

    TAILQ_FOREACH(c, &h->conns, next)
    {
        if (c->bev == bev) {
            c->since = ps_metrics_now();
            return;
        }
    }
}

static int ps_metrics_socket(const struct sockaddr *sa, socklen_t len, int *fd,
                             ps_err *err)
{
    int one = 1;
    int s =
        socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (s < 0)
        return ps_err_set(err, "socket: %m");
    if (sa->sa_family != AF_UNIX)
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, sa, len) != 0 || listen(s, PS_METRICS_HTTP_BACKLOG) != 0) {
        ps_err_set(err, "%m");
        close(s);
        return -1;
    }
    *fd = s;
    return 0;
}

/* Created 0600, then opened to the plan's group and mode. */
static int ps_metrics_listen_unix(const ps_listen *l, const ps_priv_plan *plan,
                                  int *fd, ps_err *err)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    mode_t old;
    int rc;

    if (ps_usock_claim(l->path, err) != 0)
        return -1;
    memcpy(un.sun_path, l->path, strlen(l->path) + 1);
    old = umask(0177);
    rc = ps_metrics_socket((struct sockaddr *)&un, sizeof(un), fd, err);
    umask(old);
    if (rc != 0)
        return -1;
    if (plan != NULL && ps_priv_socket(plan, l->path, err) != 0) {
        close(*fd);
        return -1;
    }
    return 0;
}

int ps_metrics_listen(const char *spec, const ps_priv_plan *plan, int *fd,
                      ps_err *err)
{
    struct addrinfo *ai;
    ps_listen l;
    ps_err why = {""};
    int rc;

    *fd = -1;
    if (ps_listen_parse(spec, &l, &why) != 0)
        return ps_err_set(err, "bad metrics '%.80s': %s", spec, why.msg);
    if (l.kind == PS_LISTEN_UNIX)
        rc = ps_metrics_listen_unix(&l, plan, fd, &why);
    else if (ps_listen_resolve(&l, &ai, &why) != 0)
        rc = -1;
    else {
        rc = ps_metrics_socket(ai->ai_addr, ai->ai_addrlen, fd, &why);
        freeaddrinfo(ai);
    }
    if (rc != 0)
        return ps_err_set(err, "cannot listen for metrics on %s: %s", spec,
                          why.msg);
    return 0;
}

static void ps_metrics_reply(struct evhttp_request *req, int code,
                             const char *reason, const char *text)
{
    struct evbuffer *body = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    if (body != NULL)
        evbuffer_add(body, text, strlen(text));
    evhttp_send_reply(req, code, reason, body);
    if (body != NULL)
        evbuffer_free(body);
}

static void ps_metrics_serve(ps_metrics_http *h, struct evhttp_request *req)
{
    struct evbuffer *body = evbuffer_new();
    char *text = NULL;
    size_t len = 0;
    ps_err err = {""};

    if (h->refresh != NULL)
        h->refresh(h->arg);
    if (body == NULL || ps_metrics_text(h->r, &text, &len, &err) != 0 ||
        evbuffer_add(body, text, len) != 0) {
        ps_metrics_reply(req, 500, "Internal Server Error", "out of memory\n");
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", PS_METRICS_CONTENT_TYPE);
        evhttp_send_reply(req, 200, "OK", body);
    }
    free(text);
    if (body != NULL)
        evbuffer_free(body);
}

static void ps_metrics_request(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    ps_metrics_conn_answered(arg, req);

    if (path == NULL || strcmp(path, "/metrics") != 0) {
        ps_metrics_reply(req, 404, "Not Found", "try /metrics\n");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET");
        ps_metrics_reply(req, 405, "Method Not Allowed", "GET only\n");
        return;
    }
    ps_metrics_serve(arg, req);
}

ps_metrics_http *ps_metrics_http_new(struct event_base *base, int fd,
                                     const ps_metrics *r,
                                     ps_metrics_refresh_fn refresh, void *arg,
                                     ps_err *err)
{
    ps_metrics_http *h = calloc(1, sizeof(*h));
    const struct timeval second = {1, 0};

    if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
        free(h);
        close(fd);
        ps_err_set(err, "out of memory");
        return NULL;
    }
    TAILQ_INIT(&h->conns);
    h->r = r;
    h->refresh = refresh;
    h->arg = arg;
    evhttp_set_max_headers_size(h->http, PS_METRICS_HTTP_HEADERS);
    evhttp_set_max_body_size(h->http, PS_METRICS_HTTP_BODY);
    evhttp_set_timeout(h->http, PS_METRICS_HTTP_TIMEOUT);
    /* Every method reaches the callback, which answers 405 itself
     * (evhttp would say 501 for those it was not told of). */
    evhttp_set_allowed_methods(h->http, 0xffff);
    evhttp_set_gencb(h->http, ps_metrics_request, h);
    evhttp_set_bevcb(h->http, ps_metrics_conn_new, h);
    evutil_make_socket_nonblocking(fd);
    h->sweep = event_new(base, -1, EV_PERSIST, ps_metrics_conn_tick, h);
    if (h->sweep == NULL || event_add(h->sweep, &second) != 0 ||
        evhttp_accept_socket(h->http, fd) != 0) {
        close(fd);
        ps_metrics_http_free(h);
        ps_err_set(err, "cannot serve metrics");
        return NULL;
    }
    return h;
}

void ps_metrics_http_free(ps_metrics_http *h)
{
    if (h == NULL)
        return;
    evhttp_free(h->http); /* closes the listening socket and connections */
    if (h->sweep != NULL)
        event_free(h->sweep);
    while (!TAILQ_EMPTY(&h->conns))
        ps_metrics_conn_drop(h, TAILQ_FIRST(&h->conns));
    free(h);
}
