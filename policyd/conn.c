/* One policy client connection (Postfix keeps each open for many
 * requests): bytes go through the protocol parser, one request at a time,
 * so pipelined requests are answered in order. Input and unread output
 * are both bounded; a bad request costs only its own DUNNO. */
#include "policyd.h"

#include <stdlib.h>
#include <string.h>

static void ps_conn_pump(ps_conn *c);

static void ps_conn_free(ps_conn *c)
{
    ps_pd *pd = c->pd;

    if (c->req != NULL)
        c->req->c = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        pd->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    ps_policy_free(&c->parser);
    free(c);
    pd->nconns--;
    if (pd->draining && pd->nconns == 0)
        event_base_loopexit(pd->base, NULL);
}

/* Frees c once nothing more can come or go: no input, no request at the
 * store, no reply left to write (unless the socket is dead). */
static void ps_conn_maybe_close(ps_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (!c->eof || c->busy || c->in_pump)
        return;
    if (evbuffer_get_length(out) > 0 &&
        (bufferevent_get_enabled(c->bev) & EV_WRITE))
        return;
    if (ps_policy_pending(&c->parser))
        ps_log_kv(c->pd->lg, LOG_WARNING, "policy_malformed", "peer", c->peer,
                  "reason", "connection closed in the middle of a request",
                  NULL);
    ps_conn_free(c);
}

static int ps_conn_output_full(ps_conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev)) >
           PS_POLICYD_MAX_OUTPUT;
}

static void ps_conn_pump(ps_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer_iovec v;
    size_t used;

    if (c->in_pump)
        return;
    c->in_pump = 1;
    while (!c->busy && !ps_conn_output_full(c) &&
           evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
        used = ps_policy_feed(&c->parser, v.iov_base, v.iov_len);
        if (used == (size_t)-1) {
            ps_log_kv(c->pd->lg, LOG_ERR, "connection_closed", "peer", c->peer,
                      "reason", "out of memory", NULL);
            evbuffer_drain(in, evbuffer_get_length(in));
            c->eof = 1;
            break;
        }
        evbuffer_drain(in, used);
        if (c->parser.done)
            ps_request_handle(c);
    }
    c->in_pump = 0;
    ps_conn_maybe_close(c);
}

void ps_conn_answered(ps_conn *c)
{
    c->busy = 0;
    c->req = NULL;
    ps_policy_reset(&c->parser);
    if (!c->in_pump)
        ps_conn_pump(c);
}

static void ps_conn_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    ps_conn_pump(arg);
}

/* The output drained: go on with requests held back by a client that
 * sent many without reading the answers. */
static void ps_conn_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    ps_conn_pump(arg);
}

static void ps_conn_event(struct bufferevent *bev, short what, void *arg)
{
    ps_conn *c = arg;

    if (what & BEV_EVENT_TIMEOUT)
        ps_log_kv(c->pd->lg, LOG_INFO, "connection_closed", "peer", c->peer,
                  "reason", "idle timeout", NULL);
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        bufferevent_disable(bev, EV_READ | EV_WRITE);
    c->eof = 1;
    ps_conn_pump(c);
}

void ps_conn_destroy(ps_conn *c)
{
    ps_conn_free(c);
}

void ps_conn_close_idle(ps_conn *c)
{
    bufferevent_disable(c->bev, EV_READ);
    c->eof = 1;
    ps_conn_pump(c);
}

void ps_conn_new(ps_pd *pd, evutil_socket_t fd, const char *peer)
{
    ps_conn *c = calloc(1, sizeof(*c));
    struct timeval rd = {PS_POLICYD_IDLE_SECS, 0};
    struct timeval wr = {PS_POLICYD_WRITE_SECS, 0};

    if (c == NULL || (c->bev = bufferevent_socket_new(
                          pd->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        ps_log_kv(pd->lg, LOG_ERR, "connection_refused", "peer", peer, "reason",
                  "out of memory", NULL);
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->pd = pd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    ps_policy_init(&c->parser);
    c->next = pd->conns;
    if (pd->conns != NULL)
        pd->conns->prev = c;
    pd->conns = c;
    pd->nconns++;
    bufferevent_setcb(c->bev, ps_conn_read, ps_conn_write, ps_conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, PS_POLICYD_MAX_OUTPUT);
    bufferevent_set_timeouts(c->bev, &rd, &wr);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}
