/* policy_dunno: the ceiling for the policy daemon benchmark, a Postfix
 * policy server that answers "action=DUNNO" to every request without
 * reading it beyond the empty line that ends it (one thread, epoll). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* policy_dunno -p PORT [-a ADDR]
 * Listens on ADDR (default 127.0.0.1) until SIGTERM or SIGINT. It does the
 * least any policy server must do, so whatever a real one costs more is the
 * cost of its own work: the same syscalls per request (one read and one
 * write per request at one request in flight), no parsing, no state. */
#define PD_MAX_FDS    65536
#define PD_READ_BYTES 65536
#define PD_REPLY      "action=DUNNO\n\n"
#define PD_REPLY_LEN  (sizeof(PD_REPLY) - 1)
/* Replies owed but not yet written (a client that pipelines and does not
 * read): past this, the connection is dropped rather than buffered. */
#define PD_MAX_OWED 4096

typedef struct pd_conn {
    int last_nl; /* the last byte read was '\n' (an empty line may span reads)
                  */
    size_t owed; /* replies not yet written */
    size_t sent; /* bytes of the first owed reply already written */
} pd_conn;

static pd_conn *pd_conns; /* indexed by fd */
static volatile sig_atomic_t pd_stop;

static void pd_on_signal(int sig)
{
    (void)sig;
    pd_stop = 1;
}

static int pd_listen(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "policy_dunno: bad address %s\n", addr);
        exit(2);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 1024) != 0) {
        perror("policy_dunno: listen");
        exit(2);
    }
    return fd;
}

/* Requests ended in buf: each "\n\n", counting one whose first '\n' came
 * in the previous read. */
static size_t pd_count(pd_conn *c, const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n, *nl;
    int pending = c->last_nl; /* a '\n' right before `want` opened a line */
    const char *want = buf;   /* where a '\n' makes that line empty */
    size_t ends = 0;

    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (pending && nl == want) {
            ends++;
            pending = 0;
        } else {
            pending = 1;
            want = nl + 1;
        }
        p = nl + 1;
    }
    c->last_nl = pending && want == end;
    return ends;
}

/* Writes what is owed, in one write for up to 256 replies; 0 when all is
 * written, 1 when the socket is full, -1 on error. */
static int pd_flush(int fd, pd_conn *c)
{
    static char replies[256 * PD_REPLY_LEN];
    static int ready;

    if (!ready) {
        for (size_t i = 0; i < 256; i++)
            memcpy(replies + i * PD_REPLY_LEN, PD_REPLY, PD_REPLY_LEN);
        ready = 1;
    }
    while (c->owed > 0) {
        size_t k = c->owed < 256 ? c->owed : 256;
        ssize_t w = write(fd, replies + c->sent, k * PD_REPLY_LEN - c->sent);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        c->sent += (size_t)w;
        c->owed -= c->sent / PD_REPLY_LEN;
        c->sent %= PD_REPLY_LEN;
    }
    return 0;
}

static void pd_close(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    memset(&pd_conns[fd], 0, sizeof(pd_conns[fd]));
}

static void pd_accept(int ep, int lfd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (fd >= PD_MAX_FDS) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memset(&pd_conns[fd], 0, sizeof(pd_conns[fd]));
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Input on fd: count the requests that ended, answer them. */
static void pd_input(int ep, int fd)
{
    static char buf[PD_READ_BYTES];
    pd_conn *c = &pd_conns[fd];
    struct epoll_event ev = {.data.fd = fd};
    ssize_t n = read(fd, buf, sizeof(buf));
    int rc;

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        pd_close(ep, fd);
        return;
    }
    if (n < 0)
        return;
    c->owed += pd_count(c, buf, (size_t)n);
    if (c->owed > PD_MAX_OWED || (rc = pd_flush(fd, c)) < 0) {
        pd_close(ep, fd);
        return;
    }
    /* Socket full: wait for room, and stop reading until then. */
    ev.events = rc == 1 ? EPOLLOUT : EPOLLIN;
    if (rc == 1)
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void pd_output(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    int rc = pd_flush(fd, &pd_conns[fd]);

    if (rc < 0)
        pd_close(ep, fd);
    else if (rc == 0)
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

int main(int argc, char **argv)
{
    struct epoll_event ev = {.events = EPOLLIN}, evs[256];
    const char *addr = "127.0.0.1";
    int port = 0, ch, lfd, ep;

    while ((ch = getopt(argc, argv, "p:a:")) != -1) {
        if (ch == 'p')
            port = atoi(optarg);
        else if (ch == 'a')
            addr = optarg;
        else
            port = -1;
    }
    if (port <= 0 || port > 65535 || optind != argc) {
        fprintf(stderr, "usage: policy_dunno -p PORT [-a ADDR]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, pd_on_signal);
    signal(SIGINT, pd_on_signal);
    if ((pd_conns = calloc(PD_MAX_FDS, sizeof(*pd_conns))) == NULL)
        return 2;
    lfd = pd_listen(addr, port);
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("policy_dunno: epoll");
        return 2;
    }
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!pd_stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd)
                pd_accept(ep, lfd);
            else if (evs[i].events & EPOLLOUT)
                pd_output(ep, fd);
            else
                pd_input(ep, fd);
        }
    }
    free(pd_conns);
    return 0;
}
