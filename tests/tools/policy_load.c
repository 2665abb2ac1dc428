/* policy_load: a load client for any Postfix policy service, for the
 * benchmark: persistent connections sending Postfix-like requests; prints
 * the rate, latency percentiles and how many of each answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* policy_load -p PORT [-c CONNS] [-n REQUESTS] [-u CREDENTIALS]
 *             [-m mix|eod|rcpt] [-r RCPTS] [-R RATE] [-s SEED] [-k]
 * C connections, kept open as Postfix keeps them (one per smtpd process),
 * each with one request in flight as smtpd has; one thread and epoll, so
 * the client costs little beside the server it measures.
 *
 * A message (mode mix) is RCPTS requests at protocol_state=RCPT then one at
 * END-OF-MESSAGE, all with the message's `instance`, the last with
 * recipient_count=RCPTS and a size, as Postfix sends them. Message k of the
 * whole run (over all connections) is sent by credential (SEED + k) mod
 * CREDENTIALS, so a run of K messages touches min(K, CREDENTIALS) distinct
 * credentials, each as often as the others.
 *
 * -R RATE paces the run at RATE requests/s in total (a free connection
 * sends the next request when its time comes) instead of as fast as the
 * server answers: latency at a given load rather than at saturation, where
 * a closed loop of C connections always measures about C / rate. Latency
 * is from the write of a request to the end of its reply.
 *
 * Every connection's first request is answered before the clock starts
 * (see pl_open).
 *
 * -k reconnects when the server closes a connection, as Postfix's policy
 * client does (a request in flight is sent again), for servers that close
 * connections now and then (a pre-forking server recycling a child).
 * Without -k a close is an error. */
#define PL_MAX_CONNS  4096
#define PL_REQ_MAX    1024
#define PL_IN_MAX     4096
#define PL_OPEN_BATCH 4 /* opened at once: fewer than a listen queue */

typedef struct pl_conn {
    int fd;
    char out[PL_REQ_MAX];
    size_t out_len, out_sent;
    char in[PL_IN_MAX];
    size_t in_len;
    double started;
    int busy;           /* a request is out, its reply not yet read */
    unsigned long msg;  /* messages this connection started */
    int rcpts_left;     /* mix: RCPT requests before END-OF-MESSAGE */
    unsigned long cred; /* credential of the current message */
    int in_msg;         /* a message is under way on this connection */
} pl_conn;

typedef struct pl_opts {
    int port, conns, rcpts, reconnect;
    unsigned long users, seed;
    long requests;
    double rate;
    const char *mode;
} pl_opts;

typedef struct pl_stats {
    double *lat;
    long done, dunno, defer, other, reconnects;
} pl_stats;

typedef struct pl_run {
    const pl_opts *o;
    pl_conn *cs;
    pl_stats s;
    int ep, tfd;
    long started;
    unsigned long messages; /* messages started, all connections */
    int warming;            /* the untimed first request per connection */
    long warm_until;        /* answers to wait for while opening */
    int *free_list;         /* paced: connections without a request */
    int nfree;
    double t0;
} pl_run;

static double pl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pl_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("policy_load: connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* The next request of connection i, as Postfix 3.7 words it. */
static void pl_next(pl_run *r, int i)
{
    const pl_opts *o = r->o;
    pl_conn *c = &r->cs[i];
    int mix = strcmp(o->mode, "mix") == 0, eod;

    if (!c->in_msg) {
        c->cred = (o->seed + r->messages++) % o->users;
        c->msg++;
        c->rcpts_left = mix ? o->rcpts : 0;
        c->in_msg = 1;
    }
    eod = strcmp(o->mode, "eod") == 0 || (mix && c->rcpts_left == 0);
    c->out_len = (size_t)snprintf(
        c->out, sizeof(c->out),
        "request=smtpd_access_policy\nprotocol_state=%s\n"
        "protocol_name=ESMTP\nclient_address=192.0.2.%d\n"
        "client_name=client.example.test\nreverse_client_name=client.example."
        "test\n"
        "helo_name=client.example.test\nsender=app@example.com\n"
        "recipient=%s\nrecipient_count=%d\nqueue_id=\n"
        "instance=%x.%lx.0\nsize=%d\nsasl_method=XCLIENT\n"
        "sasl_username=user%lu@example.com\nsasl_sender=\nccert_subject=\n"
        "encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n"
        "stress=\nclient_port=40000\npolicy_context=\nserver_address=127.0.0."
        "1\n"
        "server_port=25\ncompatibility_level=3.6\nmail_version=3.7.11\n\n",
        eod ? "END-OF-MESSAGE" : "RCPT", i % 250 + 1,
        eod ? "" : "bob@example.net", eod ? (mix ? o->rcpts : 1) : 0,
        (unsigned)i, c->msg, eod ? 2500 : 0, c->cred);
    c->out_sent = 0;
    if (mix && !eod)
        c->rcpts_left--;
    else
        c->in_msg = 0; /* rcpt mode: one RCPT per message */
}

static void pl_count(pl_stats *s, const char *reply, double lat)
{
    s->lat[s->done++] = lat;
    if (strncasecmp(reply, "action=DUNNO", 12) == 0)
        s->dunno++;
    else if (strncasecmp(reply, "action=DEFER_IF_PERMIT", 22) == 0)
        s->defer++;
    else
        s->other++;
}

static void pl_reconnect(pl_run *r, int i);

static void pl_want(pl_run *r, int i, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)i};

    epoll_ctl(r->ep, EPOLL_CTL_MOD, r->cs[i].fd, &ev);
}

/* Writes what is left of the request; waits for room if the socket is
 * full (a request is far smaller than a socket buffer: this is rare). */
static void pl_send(pl_run *r, int i)
{
    pl_conn *c = &r->cs[i];
    ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                     MSG_NOSIGNAL);

    if (n < 0 && (errno == EPIPE || errno == ECONNRESET) && r->o->reconnect) {
        pl_reconnect(r, i);
        return;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        perror("policy_load: write");
        exit(2);
    }
    if (n > 0)
        c->out_sent += (size_t)n;
    pl_want(r, i, c->out_sent < c->out_len ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void pl_start(pl_run *r, int i)
{
    pl_next(r, i);
    r->cs[i].busy = 1;
    r->cs[i].started = pl_now();
    r->started++;
    pl_send(r, i);
}

/* The server closed connection i: a new one in its place, and the
 * request in flight (if any) sent again on it. */
static void pl_reconnect(pl_run *r, int i)
{
    pl_conn *c = &r->cs[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

    if (!r->o->reconnect) {
        fprintf(stderr, "policy_load: server closed a connection\n");
        exit(2);
    }
    /* a server that closes every connection would keep us here forever */
    if (r->s.reconnects > r->s.done + 10L * r->o->conns + 100) {
        fprintf(stderr, "policy_load: the server keeps closing connections\n");
        exit(2);
    }
    close(c->fd);
    c->fd = pl_connect(r->o->port);
    c->in_len = 0;
    r->s.reconnects++;
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        exit(2);
    if (c->busy) {
        c->out_sent = 0;
        c->started = pl_now();
        pl_send(r, i);
    }
}

/* Reads what is there; 1 when a whole reply arrived and was counted. */
static int pl_read(pl_run *r, int i)
{
    pl_conn *c = &r->cs[i];
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
    char *end;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        pl_reconnect(r, i);
        return 0;
    }
    c->in_len += (size_t)n;
    c->in[c->in_len] = '\0';
    if ((end = strstr(c->in, "\n\n")) == NULL) {
        if (c->in_len == sizeof(c->in) - 1) {
            fprintf(stderr, "policy_load: reply too long\n");
            exit(2);
        }
        return 0;
    }
    if (!c->busy) {
        fprintf(stderr, "policy_load: a reply nobody asked for\n");
        exit(2);
    }
    pl_count(&r->s, c->in, pl_now() - c->started);
    c->busy = 0;
    c->in_len -= (size_t)(end + 2 - c->in);
    memmove(c->in, end + 2, c->in_len);
    return 1;
}

/* Paced: starts every request whose time has come on a free connection,
 * then arms the timer for the next one. */
static void pl_pace(pl_run *r)
{
    const pl_opts *o = r->o;
    double now = pl_now(), due;
    struct itimerspec it = {{0, 0}, {0, 0}};

    while (r->nfree > 0 && r->started < o->requests &&
           r->t0 + (double)r->started / o->rate <= now)
        pl_start(r, r->free_list[--r->nfree]);
    if (r->nfree == 0 || r->started >= o->requests)
        return; /* the next free connection or nothing calls us again */
    due = r->t0 + (double)r->started / o->rate;
    it.it_value.tv_sec = (time_t)due;
    it.it_value.tv_nsec = (long)((due - (double)it.it_value.tv_sec) * 1e9);
    timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

static void pl_event(pl_run *r, const struct epoll_event *ev)
{
    int i = (int)ev->data.u32;

    if (i == PL_MAX_CONNS) { /* the pacing timer */
        uint64_t ticks;
        if (read(r->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
            exit(2);
        pl_pace(r);
        return;
    }
    if (ev->events & EPOLLOUT)
        pl_send(r, i);
    if (!(ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || !pl_read(r, i) ||
        r->warming)
        return;
    if (r->o->rate > 0) {
        r->free_list[r->nfree++] = i;
        pl_pace(r);
    } else if (r->started < r->o->requests) {
        pl_start(r, i);
    }
}

/* Waits for events until cond(r) holds, at most timeout_ms per wait. */
static void pl_wait(pl_run *r, int (*cond)(const pl_run *), int timeout_ms,
                    const char *what)
{
    struct epoll_event evs[256];

    while (!cond(r)) {
        int n = epoll_wait(r->ep, evs, 256, timeout_ms);
        if (n == 0) {
            fprintf(stderr, "policy_load: %s\n", what);
            exit(2);
        }
        for (int k = 0; k < n; k++)
            pl_event(r, &evs[k]);
    }
}

static int pl_warm_done(const pl_run *r)
{
    return r->s.done >= r->warm_until;
}

static int pl_run_done(const pl_run *r)
{
    return r->s.done >= r->o->requests;
}

/* Connections open a few at a time, and each one's first request is
 * answered before the next few open and before the clock starts: a short
 * listen queue (policyd-rate-limit listens with 5) drops what overflows
 * it, and a connection the client thinks open may wait seconds to be
 * accepted. So the run measures the steady state of long-lived
 * connections, as Postfix keeps them. */
static void pl_open(pl_run *r)
{
    struct epoll_event ev = {.events = EPOLLIN};

    r->warming = 1;
    for (int i = 0; i < r->o->conns; i++) {
        r->cs[i].fd = pl_connect(r->o->port);
        ev.data.u32 = (uint32_t)i;
        if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->cs[i].fd, &ev) != 0)
            exit(2);
        pl_start(r, i);
        if ((i + 1) % PL_OPEN_BATCH == 0 || i + 1 == r->o->conns) {
            r->warm_until = i + 1;
            pl_wait(r, pl_warm_done, 120000, "no first answer in 120s");
        }
    }
    r->warming = 0;
    r->started = r->s.done = r->s.dunno = r->s.defer = r->s.other = 0;
}

static void pl_loop(pl_run *r)
{
    pl_open(r);
    r->t0 = pl_now();
    if (r->o->rate > 0) {
        for (int i = r->o->conns - 1; i >= 0; i--)
            r->free_list[r->nfree++] = i;
        pl_pace(r);
    } else {
        for (int i = 0; i < r->o->conns && r->started < r->o->requests; i++)
            pl_start(r, i);
    }
    pl_wait(r, pl_run_done, 10000, "no answer for 10s");
}

static int pl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void pl_report(pl_stats *s, double secs)
{
    long n = s->done;

    qsort(s->lat, (size_t)n, sizeof(double), pl_cmp);
    printf("requests=%ld seconds=%.3f rate=%.0f/s p50_us=%.0f p90_us=%.0f "
           "p99_us=%.0f p999_us=%.0f max_us=%.0f DUNNO=%ld "
           "DEFER_IF_PERMIT=%ld other=%ld reconnects=%ld\n",
           n, secs, (double)n / secs, s->lat[n / 2] * 1e6,
           s->lat[n * 9 / 10] * 1e6, s->lat[n * 99 / 100] * 1e6,
           s->lat[n * 999 / 1000] * 1e6, s->lat[n - 1] * 1e6, s->dunno,
           s->defer, s->other, s->reconnects);
}

static int pl_usage(void)
{
    fprintf(stderr, "usage: policy_load -p PORT [-c CONNS] [-n REQUESTS] "
                    "[-u CREDENTIALS] [-m mix|eod|rcpt] [-r RCPTS] [-R RATE] "
                    "[-s SEED] [-k]\n");
    return 2;
}

static int pl_args(int argc, char **argv, pl_opts *o)
{
    int ch;

    while ((ch = getopt(argc, argv, "p:c:n:u:m:r:R:s:k")) != -1) {
        if (ch == 'p')
            o->port = atoi(optarg);
        else if (ch == 'c')
            o->conns = atoi(optarg);
        else if (ch == 'n')
            o->requests = atol(optarg);
        else if (ch == 'u')
            o->users = strtoul(optarg, NULL, 10);
        else if (ch == 'm')
            o->mode = optarg;
        else if (ch == 'r')
            o->rcpts = atoi(optarg);
        else if (ch == 'R')
            o->rate = atof(optarg);
        else if (ch == 's')
            o->seed = strtoul(optarg, NULL, 10);
        else if (ch == 'k')
            o->reconnect = 1;
        else
            return -1;
    }
    if (o->port <= 0 || o->conns < 1 || o->conns > PL_MAX_CONNS ||
        o->requests < 1 || o->users < 1 || o->rcpts < 1 || o->rcpts > 1000 ||
        o->rate < 0 || optind != argc ||
        (strcmp(o->mode, "mix") != 0 && strcmp(o->mode, "eod") != 0 &&
         strcmp(o->mode, "rcpt") != 0))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    pl_opts o = {0, 50, 1, 0, 1000, 0, 100000, 0, "mix"};
    pl_run r = {.o = &o, .tfd = -1};
    struct epoll_event ev = {.events = EPOLLIN};

    if (pl_args(argc, argv, &o) != 0)
        return pl_usage();
    r.cs = calloc((size_t)o.conns, sizeof(*r.cs));
    r.free_list = calloc((size_t)o.conns, sizeof(int));
    r.s.lat = calloc((size_t)(o.requests > o.conns ? o.requests : o.conns),
                     sizeof(double));
    if (r.cs == NULL || r.free_list == NULL || r.s.lat == NULL ||
        (r.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return 2;
    if (o.rate > 0) {
        r.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        ev.data.u32 = PL_MAX_CONNS;
        if (r.tfd < 0 || epoll_ctl(r.ep, EPOLL_CTL_ADD, r.tfd, &ev) != 0)
            return 2;
    }
    pl_loop(&r);
    pl_report(&r.s, pl_now() - r.t0);
    for (int i = 0; i < o.conns; i++)
        close(r.cs[i].fd);
    free(r.cs);
    free(r.free_list);
    free(r.s.lat);
    return 0;
}
