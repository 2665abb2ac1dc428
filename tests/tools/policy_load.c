/* policy_load: a load client for any Postfix policy service, for the
 * benchmark: persistent connections sending Postfix-like requests; prints
 * the rate, latency percentiles and how many of each answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* policy_load -p PORT [-c CONNS] [-n REQUESTS] [-u USERS] [-m rcpt|eod|mix]
 * C connections, kept open as Postfix keeps them, each one request at a
 * time; one thread and poll(2), so the client is not the bottleneck. */
#define PL_MAX_CONNS 4096
#define PL_REQ_MAX   1024

typedef struct pl_conn {
    int fd;
    char out[PL_REQ_MAX];
    size_t out_len, out_sent;
    char in[4096];
    size_t in_len;
    double started;
    unsigned long msg; /* messages this connection started */
    int step;          /* mix: 0 RCPT next, 1 END-OF-MESSAGE next */
} pl_conn;

typedef struct pl_opts {
    int port, conns, users;
    long requests;
    const char *mode;
} pl_opts;

typedef struct pl_stats {
    double *lat;
    long done, dunno, defer, other;
} pl_stats;

static double pl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pl_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("policy_load: connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* The next request of connection i, as Postfix 3.7 words it. */
static void pl_next(pl_conn *c, int i, const pl_opts *o)
{
    int eod = strcmp(o->mode, "eod") == 0 ||
              (strcmp(o->mode, "mix") == 0 && c->step == 1);
    unsigned long user =
        (c->msg * 7919UL + (unsigned long)i) % (unsigned long)o->users;

    c->out_len = (size_t)snprintf(
        c->out, sizeof(c->out),
        "request=smtpd_access_policy\nprotocol_state=%s\n"
        "protocol_name=ESMTP\nclient_address=192.0.2.%d\n"
        "client_name=client.example.test\nreverse_client_name=client.example."
        "test\n"
        "helo_name=client.example.test\nsender=app@example.com\n"
        "recipient=bob@example.net\nrecipient_count=%d\nqueue_id=\n"
        "instance=%x.%lx.0\nsize=%d\nsasl_method=XCLIENT\n"
        "sasl_username=user%lu@example.com\nsasl_sender=\nccert_subject=\n"
        "encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n"
        "stress=\nclient_port=40000\npolicy_context=\nserver_address=127.0.0."
        "1\n"
        "server_port=25\ncompatibility_level=3.6\nmail_version=3.7.11\n\n",
        eod ? "END-OF-MESSAGE" : "RCPT", i % 250 + 1, eod ? 1 : 0, i, c->msg,
        eod ? 2500 : 0, user);
    c->out_sent = 0;
    if (strcmp(o->mode, "mix") != 0 || (c->step ^= 1) == 0)
        c->msg++;
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

/* Reads what is there; 1 when a whole reply arrived and was counted. */
static int pl_read(pl_conn *c, pl_stats *s)
{
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
    char *end;

    if (n <= 0) {
        fprintf(stderr, "policy_load: server closed a connection\n");
        exit(2);
    }
    c->in_len += (size_t)n;
    c->in[c->in_len] = '\0';
    if ((end = strstr(c->in, "\n\n")) == NULL)
        return 0;
    pl_count(s, c->in, pl_now() - c->started);
    c->in_len -= (size_t)(end + 2 - c->in);
    memmove(c->in, end + 2, c->in_len);
    return 1;
}

static void pl_send(pl_conn *c)
{
    ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);

    if (n < 0 && errno != EAGAIN) {
        perror("policy_load: write");
        exit(2);
    }
    if (n > 0)
        c->out_sent += (size_t)n;
}

static int pl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void pl_report(pl_stats *s, double secs)
{
    qsort(s->lat, (size_t)s->done, sizeof(double), pl_cmp);
    printf("requests=%ld seconds=%.3f rate=%.0f/s p50_us=%.0f p99_us=%.0f "
           "max_us=%.0f DUNNO=%ld DEFER_IF_PERMIT=%ld other=%ld\n",
           s->done, secs, (double)s->done / secs, s->lat[s->done / 2] * 1e6,
           s->lat[s->done * 99 / 100] * 1e6, s->lat[s->done - 1] * 1e6,
           s->dunno, s->defer, s->other);
}

static void pl_run(const pl_opts *o, pl_conn *cs, struct pollfd *pfd,
                   pl_stats *s)
{
    long started = 0;

    for (int i = 0; i < o->conns && started < o->requests; i++, started++) {
        pl_next(&cs[i], i, o);
        cs[i].started = pl_now();
        pl_send(&cs[i]);
    }
    while (s->done < o->requests) {
        for (int i = 0; i < o->conns; i++)
            pfd[i].events = cs[i].out_sent < cs[i].out_len ? POLLOUT : POLLIN;
        if (poll(pfd, (nfds_t)o->conns, 10000) <= 0) {
            fprintf(stderr, "policy_load: no answer for 10s\n");
            exit(2);
        }
        for (int i = 0; i < o->conns; i++) {
            if (pfd[i].revents & POLLOUT)
                pl_send(&cs[i]);
            else if ((pfd[i].revents & (POLLIN | POLLHUP)) &&
                     pl_read(&cs[i], s) && started < o->requests) {
                pl_next(&cs[i], i, o);
                cs[i].started = pl_now();
                started++;
                pl_send(&cs[i]);
            }
        }
    }
}

int main(int argc, char **argv)
{
    pl_opts o = {0, 50, 1000, 100000, "mix"};
    pl_stats s = {0};
    pl_conn *cs;
    struct pollfd *pfd;
    double t0;
    int ch;

    while ((ch = getopt(argc, argv, "p:c:n:u:m:")) != -1) {
        if (ch == 'p')
            o.port = atoi(optarg);
        else if (ch == 'c')
            o.conns = atoi(optarg);
        else if (ch == 'n')
            o.requests = atol(optarg);
        else if (ch == 'u')
            o.users = atoi(optarg);
        else if (ch == 'm')
            o.mode = optarg;
        else
            return 2;
    }
    if (o.port <= 0 || o.conns < 1 || o.conns > PL_MAX_CONNS ||
        o.requests < 1 || o.users < 1) {
        fprintf(stderr, "usage: policy_load -p PORT [-c CONNS] [-n REQUESTS] "
                        "[-u USERS] [-m rcpt|eod|mix]\n");
        return 2;
    }
    cs = calloc((size_t)o.conns, sizeof(*cs));
    pfd = calloc((size_t)o.conns, sizeof(*pfd));
    s.lat = calloc((size_t)o.requests, sizeof(double));
    if (cs == NULL || pfd == NULL || s.lat == NULL)
        return 2;
    for (int i = 0; i < o.conns; i++)
        pfd[i].fd = cs[i].fd = pl_connect(o.port);
    t0 = pl_now();
    pl_run(&o, cs, pfd, &s);
    pl_report(&s, pl_now() - t0);
    for (int i = 0; i < o.conns; i++)
        close(cs[i].fd);
    free(cs);
    free(pfd);
    free(s.lat);
    return 0;
}
