/* GET /metrics over evhttp: 404 for another path, 405 for another method,
 * and libevent's limits (header and body size, idle timeout) so that a
 * slow or hostile client costs a bounded descriptor and a few KB. */
#include "metrics/http.h"

#include "base/usock.h"
#include "conf/listen.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ps_metrics_http {
    struct evhttp *http;
    const ps_metrics *r;
    ps_metrics_refresh_fn refresh;
    void *arg;
};

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

    if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
        free(h);
        close(fd);
        ps_err_set(err, "out of memory");
        return NULL;
    }
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
    evutil_make_socket_nonblocking(fd);
    if (evhttp_accept_socket(h->http, fd) != 0) {
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
    evhttp_free(h->http); /* closes the listening socket */
    free(h);
}
