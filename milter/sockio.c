/* Fewer system calls on libmilter's MTA connections. libmilter reads each
 * command with poll()+read() of its 5-byte header, then poll()+read() of
 * the rest, polls (1 ms) before the next one, and polls for POLLOUT before
 * every reply it writes: about 120 calls in a single-message session. The
 * executable's read(), poll(), writev() and close() come first in symbol
 * lookup (as accept() in fdlimit.c): on the descriptors accept() returned
 * (ps_sockio_track) they read ahead into a buffer per connection, answer
 * poll() from it, and hold modification replies (added headers...) to send
 * them with the reply that follows in one write, and keep a worker on a
 * connection between SMTP steps rather than hand it back to libmilter's
 * pool after 1 ms. Every other descriptor goes straight to libc. The
 * bytes read and written are the same. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sockio.h"

#define PS_SOCKIO_IN        8192 /* read-ahead per connection */
#define PS_SOCKIO_HOLD      4096 /* modification replies held at most */
#define PS_SOCKIO_MAXFD     (1 << 20)
#define PS_SOCKIO_HDR       5 /* libmilter's reply header: length, command */
#define PS_SOCKIO_LISTENERS 8
#define PS_SOCKIO_WAIT_MS   200 /* a worker waits for the next command */
#define PS_SOCKIO_WAITERS   128 /* workers waiting so at once, at most */

/* One slot per descriptor number, kept once made: a thread polling a
 * number another closes never sees freed memory. */
typedef struct ps_sock {
    pthread_mutex_t lock;
    atomic_int tracked; /* the descriptor is an MTA connection */
    int wr_blocked;     /* the last send was short: poll() for real */
    short seen;         /* what poll() last found, kept until a read */
    size_t pos, len;    /* unread input in in[pos..len) */
    size_t held;        /* held reply bytes in out[0..held) */
    unsigned char in[PS_SOCKIO_IN];
    unsigned char out[PS_SOCKIO_HOLD];
} ps_sock;

static _Atomic(ps_sock *) *ps_socks;
static int ps_socks_n;
static atomic_ulong ps_sockio_calls;
/* libmilter's listening sockets: only what they accept is tracked. */
static int ps_sock_listeners[PS_SOCKIO_LISTENERS];
static int ps_sock_nlisteners;
static atomic_int ps_sockio_waiting;

static ssize_t (*ps_real_read)(int, void *, size_t);
static int (*ps_real_poll)(struct pollfd *, nfds_t, int);
static ssize_t (*ps_real_writev)(int, const struct iovec *, int);
static int (*ps_real_close)(int);

/* Before main and its threads: later lookups race with nothing. */
__attribute__((constructor)) static void ps_sockio_resolve(void)
{
    ps_real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    ps_real_poll =
        (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    ps_real_writev =
        (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    ps_real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
}

void ps_sockio_listener(int fd)
{
    if (ps_sock_nlisteners < PS_SOCKIO_LISTENERS)
        ps_sock_listeners[ps_sock_nlisteners++] = fd;
}

/* A listening socket, close-on-exec: once smfi_opensocket() ran and
 * before the milter opens any listener of its own (metrics), those are
 * libmilter's; inherited ones lack FD_CLOEXEC (as in nodelay.c). */
static int ps_sock_is_milter_listener(int fd)
{
    int v = 0, flags;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0 || v != 1)
        return 0;
    flags = fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC);
}

static void ps_sock_find_listeners(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    if (d == NULL)
        return; /* nothing tracked: libc's calls, as without this file */
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);

        if (*end == '\0' && end != e->d_name && fd != dirfd(d) &&
            ps_sock_is_milter_listener((int)fd))
            ps_sockio_listener((int)fd);
    }
    closedir(d);
}

int ps_sockio_init(unsigned long max_fds)
{
    int n = max_fds > PS_SOCKIO_MAXFD ? PS_SOCKIO_MAXFD : (int)max_fds;

    if (ps_socks != NULL || n <= 0)
        return ps_socks != NULL ? 0 : -1;
    ps_socks = calloc((size_t)n, sizeof(*ps_socks));
    if (ps_socks == NULL)
        return -1;
    ps_socks_n = n;
    ps_sock_find_listeners();
    return 0;
}

unsigned long ps_sockio_syscalls(void)
{
    return atomic_load(&ps_sockio_calls);
}

/* The slot of a tracked descriptor, locked; NULL for any other. */
static ps_sock *ps_sock_lock(int fd)
{
    ps_sock *s;

    if (ps_socks == NULL || fd < 0 || fd >= ps_socks_n ||
        (s = atomic_load(&ps_socks[fd])) == NULL || !atomic_load(&s->tracked))
        return NULL;
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->tracked))
        return s;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void ps_sockio_track(int listener, int fd)
{
    ps_sock *s, *none = NULL;
    int i = 0;

    while (i < ps_sock_nlisteners && ps_sock_listeners[i] != listener)
        i++;
    if (ps_socks == NULL || fd < 0 || fd >= ps_socks_n ||
        i == ps_sock_nlisteners)
        return;
    if ((s = atomic_load(&ps_socks[fd])) == NULL) {
        if ((s = calloc(1, sizeof(*s))) == NULL)
            return; /* untracked: libc's calls, as without this file */
        pthread_mutex_init(&s->lock, NULL);
        if (!atomic_compare_exchange_strong(&ps_socks[fd], &none, s)) {
            pthread_mutex_destroy(&s->lock);
            free(s);
            s = none;
        }
    }
    pthread_mutex_lock(&s->lock);
    s->pos = s->len = s->held = 0;
    s->wr_blocked = s->seen = 0;
    atomic_store(&s->tracked, 1);
    pthread_mutex_unlock(&s->lock);
}

/* Sends the held replies, then iov; never blocks. Returns the bytes of
 * iov sent, or -1 (EAGAIN when the held ones did not all go: the caller
 * polls for POLLOUT, for real, and tries again). */
static ssize_t ps_sock_send(ps_sock *s, int fd, const struct iovec *iov,
                            int cnt)
{
    struct iovec v[8];
    struct msghdr m;
    size_t want = s->held;
    ssize_t n;
    int k = 0;

    if (s->held > 0)
        v[k++] = (struct iovec){s->out, s->held};
    for (int i = 0; i < cnt && k < 8; i++, k++) {
        v[k] = iov[i];
        want += iov[i].iov_len;
    }
    memset(&m, 0, sizeof(m));
    m.msg_iov = v;
    m.msg_iovlen = (size_t)k;
    atomic_fetch_add(&ps_sockio_calls, 1);
    n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    s->wr_blocked = n < 0 ? errno == EAGAIN : (size_t)n < want;
    if (n < 0)
        return -1;
    if ((size_t)n < s->held) {
        memmove(s->out, s->out + n, s->held - (size_t)n);
        s->held -= (size_t)n;
        errno = EAGAIN;
        return -1;
    }
    n -= (ssize_t)s->held;
    s->held = 0;
    return n;
}

/* Held replies out before waiting on the peer, who may be waiting on them
 * (only a milter that adds a header and then never answers leaves any). */
static void ps_sock_flush(ps_sock *s, int fd)
{
    if (s->held > 0)
        (void)ps_sock_send(s, fd, NULL, 0);
}

/* A modification reply (it never ends a step: the step's reply follows)
 * that fits beside the held ones. */
static int ps_sock_holds(const ps_sock *s, const struct iovec *iov, int cnt,
                         size_t total)
{
    static const char mods[] = "hime+-2bq";
    const char *hdr = iov[0].iov_base;

    return cnt >= 1 && iov[0].iov_len == PS_SOCKIO_HDR &&
           strchr(mods, hdr[PS_SOCKIO_HDR - 1]) != NULL &&
           hdr[PS_SOCKIO_HDR - 1] != '\0' && s->held + total <= PS_SOCKIO_HOLD;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    ps_sock *s = ps_sock_lock(fd);
    size_t total = 0;
    ssize_t n;

    if (s == NULL)
        return ps_real_writev(fd, iov, cnt);
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    if (cnt > 7) { /* not libmilter's (two at most): libc's, after ours */
        ps_sock_flush(s, fd);
        n = s->held > 0 ? (errno = EAGAIN, -1) : ps_real_writev(fd, iov, cnt);
        pthread_mutex_unlock(&s->lock);
        return n;
    }
    if (ps_sock_holds(s, iov, cnt, total)) {
        for (int i = 0; i < cnt; i++) {
            memcpy(s->out + s->held, iov[i].iov_base, iov[i].iov_len);
            s->held += iov[i].iov_len;
        }
        n = (ssize_t)total;
    } else
        n = ps_sock_send(s, fd, iov, cnt);
    pthread_mutex_unlock(&s->lock);
    return n;
}

ssize_t read(int fd, void *buf, size_t n)
{
    ps_sock *s = ps_sock_lock(fd);
    ssize_t got;

    if (s != NULL && s->pos == s->len) {
        ps_sock_flush(s, fd);
        s->seen = 0;
        if (n < sizeof(s->in)) {
            atomic_fetch_add(&ps_sockio_calls, 1);
            got = recv(fd, s->in, sizeof(s->in), MSG_DONTWAIT);
            if (got > 0) {
                s->pos = 0;
                s->len = (size_t)got;
            } else if (got == 0 || errno != EAGAIN) {
                pthread_mutex_unlock(&s->lock);
                return got;
            }
        }
        if (s->pos == s->len) { /* a large read, or nothing there yet */
            pthread_mutex_unlock(&s->lock);
            atomic_fetch_add(&ps_sockio_calls, 1);
            return ps_real_read(fd, buf, n); /* it blocks as it would have */
        }
    }
    if (s == NULL)
        return ps_real_read(fd, buf, n);
    got = (ssize_t)(n < s->len - s->pos ? n : s->len - s->pos);
    memcpy(buf, s->in + s->pos, (size_t)got);
    s->pos += (size_t)got;
    pthread_mutex_unlock(&s->lock);
    return got;
}

/* What poll() can say of a tracked descriptor without the kernel: input
 * is buffered, or a reply can go (the last send was not short). Sets
 * *mine for a tracked descriptor. */
static short ps_sock_ready(int fd, short events, int *mine)
{
    ps_sock *s = ps_sock_lock(fd);
    short r = 0;

    if (s == NULL)
        return 0;
    *mine = 1;
    if (s->pos < s->len)
        r |= events & (POLLIN | POLLRDNORM);
    else if (s->seen & POLLIN) /* libmilter polls twice before it reads */
        r |= s->seen & (events | POLLERR | POLLHUP);
    if (!s->wr_blocked)
        r |= events & (POLLOUT | POLLWRNORM);
    if (r == 0)
        ps_sock_flush(s, fd);
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* libmilter's worker polls 1 ms for the next command (engine.c,
 * mi_rd_socket_ready: POLLIN alone) and, when none came, hands the
 * connection back to its pool: a pipe write, the pool thread's wake-up
 * and poll, a condition signal and another worker's wake-up, for every
 * SMTP step a client takes longer than 1 ms to send. The worker waits
 * longer instead, up to PS_SOCKIO_WAITERS workers at a time (beyond that,
 * or for a connection silent that long, the pool as before). */
static int ps_sock_waits(const struct pollfd *p, int timeout)
{
    if (p->events != POLLIN || timeout != 1)
        return 0;
    if (atomic_fetch_add(&ps_sockio_waiting, 1) < PS_SOCKIO_WAITERS)
        return 1;
    atomic_fetch_sub(&ps_sockio_waiting, 1);
    return 0;
}

static void ps_sock_seen(int fd, short revents)
{
    ps_sock *s = ps_sock_lock(fd);

    if (s == NULL)
        return;
    s->seen = revents;
    pthread_mutex_unlock(&s->lock);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    int found = 0, mine = 0, n;

    for (nfds_t i = 0; ps_socks != NULL && i < nfds; i++)
        if ((fds[i].revents = ps_sock_ready(fds[i].fd, fds[i].events, &mine)))
            found++;
    if (found > 0 && nfds == 1)
        return found;
    if (mine)
        atomic_fetch_add(&ps_sockio_calls, 1);
    if (found == 0) {
        int wait = mine && nfds == 1 && ps_sock_waits(&fds[0], timeout);

        n = ps_real_poll(fds, nfds, wait ? PS_SOCKIO_WAIT_MS : timeout);
        if (wait)
            atomic_fetch_sub(&ps_sockio_waiting, 1);
        if (mine && nfds == 1 && n == 1)
            ps_sock_seen(fds[0].fd, fds[0].revents);
        return n;
    }
    /* Some are ready from their buffers: the others only if they are now
     * (libmilter's pool controller polls many connections at once). */
    if ((n = ps_real_poll(fds, nfds, 0)) < 0)
        return n;
    n = 0;
    for (nfds_t i = 0; i < nfds; i++) {
        fds[i].revents |= ps_sock_ready(fds[i].fd, fds[i].events, &mine);
        n += fds[i].revents != 0;
    }
    return n;
}

int close(int fd)
{
    ps_sock *s = ps_sock_lock(fd);

    if (s != NULL) {
        ps_sock_flush(s, fd);
        s->pos = s->len = s->held = 0;
        s->seen = 0;
        atomic_store(&s->tracked, 0); /* before the number can be reused */
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add(&ps_sockio_calls, 1);
    }
    return ps_real_close(fd);
}
