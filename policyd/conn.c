/* One policy client connection (Postfix keeps each open for many
 * requests): bytes go through the protocol parser, one request at a time,
 * so pipelined requests are answered in order. Input and unread output
 * are both bounded; a bad request costs only its own refusal. The
 * connections are kept in order of activity, so the idlest goes first
 * when a new one needs room. */
#include "policyd.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Plain events and recv/send rather than a bufferevent: a request is one
 * read and its reply one write, where the bufferevent spent an ioctl per
 * read and two epoll_ctl calls per reply (it asks for writability before
 * writing anything). Output the socket does not take waits in c->out,
 * written when epoll says there is room, as the bufferevent did. */

static void ps_conn_pump(ps_conn *c);
static void ps_conn_touch(ps_conn *c);

static void ps_conn_unlink(ps_conn *c)
{
    ps_pd *pd = c->pd;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        pd->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        pd->conns_tail = c->prev;
    c->prev = c->next = NULL;
}

static void ps_conn_link_first(ps_conn *c)
{
    ps_pd *pd = c->pd;

    c->prev = NULL;
    c->next = pd->conns;
    if (pd->conns != NULL)
        pd->conns->prev = c;
    else
        pd->conns_tail = c;
    pd->conns = c;
}

static void ps_conn_unlink_fresh(ps_conn *c)
{
    ps_pd *pd = c->pd;

    if (!c->fresh)
        return;
    if (c->fprev != NULL)
        c->fprev->fnext = c->fnext;
    else
        pd->fresh = c->fnext;
    if (c->fnext != NULL)
        c->fnext->fprev = c->fprev;
    else
        pd->fresh_tail = c->fprev;
    c->fprev = c->fnext = NULL;
    c->fresh = 0;
}

static void ps_conn_link_fresh(ps_conn *c)
{
    ps_pd *pd = c->pd;

    c->fresh = 1;
    c->fprev = NULL;
    c->fnext = pd->fresh;
    if (pd->fresh != NULL)
        pd->fresh->fprev = c;
    else
        pd->fresh_tail = c;
    pd->fresh = c;
}

static void ps_conn_free(ps_conn *c)
{
    ps_pd *pd = c->pd;

    ps_request_orphan(&c->s);
    ps_conn_unlink(c);
    ps_conn_unlink_fresh(c);
    event_free(c->rd);
    event_free(c->wr);
    evbuffer_free(c->out);
    evutil_closesocket(c->fd);
    ps_policy_free(&c->s.parser);
    free(c);
    pd->nconns--;
    if (pd->draining && pd->nconns == 0)
        event_base_loopexit(pd->base, NULL);
}

static void ps_conn_want_read(ps_conn *c, int on)
{
    struct timeval idle = {
        c->fresh ? PS_POLICYD_FRESH_SECS : PS_POLICYD_IDLE_SECS, 0};

    if (on && !c->reading)
        c->reading = event_add(c->rd, &idle) == 0;
    else if (!on && c->reading) {
        event_del(c->rd);
        c->reading = 0;
    }
}

static void ps_conn_want_write(ps_conn *c, int on)
{
    struct timeval tv = {PS_POLICYD_WRITE_SECS, 0};

    if (on && !c->writing)
        c->writing = event_add(c->wr, &tv) == 0;
    else if (!on && c->writing) {
        event_del(c->wr);
        c->writing = 0;
    }
}

/* The socket failed or timed out: no more I/O; c goes once no request
 * of it is at the store. */
static void ps_conn_fail(ps_conn *c)
{
    c->dead = 1;
    c->eof = 1;
    ps_conn_want_read(c, 0);
    ps_conn_want_write(c, 0);
    ps_conn_pump(c);
}

/* Frees c once nothing more can come or go: no input, no request at the
 * store, no reply left to write (unless the socket is dead). */
static void ps_conn_maybe_close(ps_conn *c)
{
    if (!c->eof || c->busy)
        return;
    if (evbuffer_get_length(c->out) > 0 && !c->dead)
        return;
    if (ps_policy_pending(&c->s.parser))
        ps_log_kv(c->pd->lg, LOG_WARNING, "policy_malformed", "peer", c->s.peer,
                  "reason", "connection closed in the middle of a request",
                  NULL);
    ps_conn_free(c);
}

static int ps_conn_output_full(ps_conn *c)
{
    return evbuffer_get_length(c->out) + c->reply_len > PS_POLICYD_MAX_OUTPUT;
}

/* Replies go straight to the socket when nothing waits before them; what
 * it does not take waits in c->out for room. */
static void ps_conn_flush(ps_conn *c)
{
    ssize_t n = 0;

    if (c->reply_len == 0)
        return;
    if (c->dead) { /* nobody to read them */
        c->reply_len = 0;
        return;
    }
    if (evbuffer_get_length(c->out) == 0) {
        n = send(c->fd, c->reply, c->reply_len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            c->reply_len = 0;
            c->dead = 1; /* the pump that called us closes c */
            c->eof = 1;
            ps_conn_want_read(c, 0);
            ps_conn_want_write(c, 0);
            return;
        }
        if (n < 0)
            n = 0;
    }
    if ((size_t)n < c->reply_len) {
        evbuffer_add(c->out, c->reply + n, c->reply_len - (size_t)n);
        ps_conn_want_write(c, 1);
    }
    c->reply_len = 0;
}

/* Reads while there is room for input and more can come. */
static void ps_conn_read_control(ps_conn *c)
{
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    ps_conn_want_read(c, !c->eof && c->in_len < sizeof(c->in));
}

/* The answer the request left in c->s joins the staged replies (those
 * before it sent first if it does not fit); the parser is ready for the
 * next request. */
static void ps_conn_stage(ps_conn *c)
{
    if (c->reply_len + c->s.answer_len > sizeof(c->reply))
        ps_conn_flush(c);
    memcpy(c->reply + c->reply_len, c->s.answer, c->s.answer_len);
    c->reply_len += c->s.answer_len;
    c->s.answer_len = 0;
    ps_policy_reset(&c->s.parser);
}

/* Parses and answers what was read, one request at a time. Never
 * re-entered for one connection: a request answered at once is staged
 * here and the loop goes on; one answered later comes back through
 * ps_conn_on_answer, from the event loop or another connection's pump,
 * while c is busy and so not in this loop. */
static void ps_conn_pump(ps_conn *c)
{
    size_t used;

    while (!c->busy && !ps_conn_output_full(c) && c->in_off < c->in_len) {
        used = ps_policy_feed(&c->s.parser, c->in + c->in_off,
                              c->in_len - c->in_off);
        if (used == (size_t)-1) {
            ps_log_kv(c->pd->lg, LOG_ERR, "connection_closed", "peer",
                      c->s.peer, "reason", "out of memory", NULL);
            c->in_off = c->in_len;
            c->eof = 1;
            break;
        }
        c->in_off += used;
        if (c->s.parser.done) {
            ps_conn_touch(c);
            if (ps_request_handle(&c->s) == PS_REQUEST_PENDING)
                c->busy = 1;
            else
                ps_conn_stage(c);
        }
    }
    ps_conn_flush(c);
    ps_conn_read_control(c);
    ps_conn_maybe_close(c);
}

/* The session's callback: the store answered c's pending request. */
static void ps_conn_on_answer(void *arg)
{
    ps_conn *c = arg;

    c->busy = 0;
    ps_conn_stage(c);
    ps_conn_pump(c);
}

static void ps_conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    ps_conn *c = arg;
    ssize_t n;

    if (what & EV_TIMEOUT) { /* counted in the stats line, not logged */
        c->pd->stats.timed_out++;
        ps_conn_fail(c);
        return;
    }
    if (c->in_len == sizeof(c->in)) { /* no room: a recv of 0 would be EOF */
        ps_conn_pump(c);
        return;
    }
    n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (n > 0)
        c->in_len += (size_t)n;
    else if (n == 0)
        c->eof = 1; /* answer what came, then close */
    else if (errno != EAGAIN && errno != EINTR) {
        ps_conn_fail(c);
        return;
    }
    ps_conn_pump(c);
}

/* Room in the socket: write what waits, then go on with requests held
 * back by a client that sent many without reading the answers. */
static void ps_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    ps_conn *c = arg;

    if (what & EV_TIMEOUT) {
        c->pd->stats.timed_out++;
        ps_conn_fail(c);
        return;
    }
    if (evbuffer_write(c->out, fd) < 0 && errno != EAGAIN && errno != EINTR) {
        ps_conn_fail(c);
        return;
    }
    if (evbuffer_get_length(c->out) == 0)
        ps_conn_want_write(c, 0);
    ps_conn_pump(c);
}

void ps_conn_destroy(ps_conn *c)
{
    ps_conn_free(c);
}

/* A request came in on c: c is the most recently active connection. */
static void ps_conn_touch(ps_conn *c)
{
    struct timeval idle = {PS_POLICYD_IDLE_SECS, 0};

    if (c->pd->conns != c) {
        ps_conn_unlink(c);
        ps_conn_link_first(c);
    }
    if (c->fresh) {
        ps_conn_unlink_fresh(c);
        if (c->reading) /* from the short timeout to the long one */
            event_add(c->rd, &idle);
    }
}

/* The oldest connection with no request yet, else the least recently
 * active one with no request at the store (few are: the walk is short). */
static ps_conn *ps_conn_idlest(ps_pd *pd)
{
    ps_conn *c;

    if (pd->fresh_tail != NULL)
        return pd->fresh_tail;
    for (c = pd->conns_tail; c != NULL; c = c->prev)
        if (!c->busy)
            return c;
    return NULL;
}

int ps_conn_evict(ps_pd *pd)
{
    ps_conn *c = ps_conn_idlest(pd);

    if (c == NULL)
        return 0;
    pd->stats.evicted++;
    ps_conn_free(c);
    return 1;
}

void ps_conn_close_idle(ps_conn *c)
{
    c->eof = 1;
    ps_conn_want_read(c, 0);
    ps_conn_pump(c);
}

void ps_conn_new(ps_pd *pd, evutil_socket_t fd, const char *peer)
{
    ps_conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (c != NULL) {
        c->rd =
            event_new(pd->base, fd, EV_READ | EV_PERSIST, ps_conn_on_read, c);
        c->wr =
            event_new(pd->base, fd, EV_WRITE | EV_PERSIST, ps_conn_on_write, c);
        c->out = evbuffer_new();
    }
    if (c == NULL || c->rd == NULL || c->wr == NULL || c->out == NULL ||
        evutil_make_socket_nonblocking(fd) != 0) {
        ps_log_kv(pd->lg, LOG_ERR, "connection_refused", "peer", peer, "reason",
                  "out of memory", NULL);
        evutil_closesocket(fd);
        if (c != NULL) {
            if (c->rd != NULL)
                event_free(c->rd);
            if (c->wr != NULL)
                event_free(c->wr);
            if (c->out != NULL)
                evbuffer_free(c->out);
        }
        free(c);
        return;
    }
    /* A reply is one small write the client waits for: never hold it
     * back for an ACK (fails harmlessly on a unix socket). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->pd = pd;
    c->fd = fd;
    c->s.pd = pd;
    snprintf(c->s.peer, sizeof(c->s.peer), "%s", peer);
    ps_policy_init(&c->s.parser);
    c->s.answered = ps_conn_on_answer;
    c->s.ctx = c;
    ps_conn_link_first(c);
    ps_conn_link_fresh(c);
    pd->nconns++;
    ps_conn_want_read(c, 1);
    /* Postfix writes its request as soon as it is connected: read it now,
     * so a connection under a flood of new ones has its request before
     * it could be taken for an idle one. */
    ps_conn_on_read(fd, EV_READ, c);
}
