/* Descriptor exhaustion: libmilter's listener retries accept() at once when
 * it fails with EMFILE, and the connection still waiting makes poll() wake
 * it again: a 100% CPU spin while every descriptor is taken. accept() is
 * wrapped here so that the process never spins: idle connections (an inet
 * peer that sent nothing for PS_FD_IDLE_MS) are shut down to make room,
 * else the waiting connection is taken on a reserve descriptor and closed
 * (the MTA then applies milter_default_action), and what was done is
 * logged once a minute with counts. */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* glibc's tcp_info lacks tcpi_bytes_received */
#include <netinet/in.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"
#include "sockio.h"

#define PS_FD_IDLE_MS    5000 /* a peer silent this long since connecting */
#define PS_FD_EVICT_MAX  16   /* idle connections shut down per attempt */
#define PS_FD_LOG_SECS   60   /* one summary line at most this often */
#define PS_FD_RETRIES    100  /* accept() retries once room was made... */
#define PS_FD_RETRY_NSEC (10 * 1000 * 1000) /* ...this far apart */

/* Only libmilter's listener thread calls accept(); the lock makes that
 * an assumption the code does not depend on. */
static pthread_mutex_t ps_fd_lock = PTHREAD_MUTEX_INITIALIZER;
static int ps_fd_reserve = -1;
static rlim_t ps_fd_limit;
static unsigned long ps_fd_shed, ps_fd_evicted;
static time_t ps_fd_logged, ps_fd_scanned;

static int ps_fd_open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void ps_fdlimit_init(void)
{
    struct rlimit rl;
    char got[24], hard[24];

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    ps_fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0;
    snprintf(got, sizeof(got), "%llu", (unsigned long long)ps_fd_limit);
    snprintf(hard, sizeof(hard), "%llu", (unsigned long long)rl.rlim_max);
    ps_fd_reserve = ps_fd_open_reserve();
    if (ps_sockio_init(ps_fd_limit) != 0)
        ps_log_kv(ps_milter_log(), LOG_WARNING, "sockio", "result", "off",
                  "reason", "out of memory", NULL);
    ps_log_kv(ps_milter_log(), LOG_INFO, "descriptors", "limit", got, "hard",
              hard, NULL);
}

/* The local port a socket is bound to, 0 for other kinds. */
static int ps_fd_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* 1 for a TCP connection that has not received a byte in the
 * PS_FD_IDLE_MS since it was set up: the MTA sends its option
 * negotiation as soon as it connects, so this is not an MTA. */
static int ps_fd_silent(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + 8)
        return 0; /* a kernel too old to say: left alone */
    return ti.tcpi_state == 1 /* TCP_ESTABLISHED */ &&
           ti.tcpi_bytes_received == 0 &&
           ti.tcpi_last_data_recv >= PS_FD_IDLE_MS;
}

/* Shuts down idle connections accepted on the listener's port; libmilter
 * then reads their end and frees their descriptors. Returns how many. */
static int ps_fd_evict(int listenfd)
{
    int port, n = 0;
    time_t now = time(NULL);

    /* A scan costs a system call per descriptor: once a second at most. */
    if (now == ps_fd_scanned)
        return 0;
    ps_fd_scanned = now;
    if ((port = ps_fd_port(listenfd)) == 0)
        return 0; /* a unix socket: its mode says who may connect */
    for (rlim_t fd = 0; fd < ps_fd_limit && n < PS_FD_EVICT_MAX; fd++)
        if ((int)fd != listenfd && ps_fd_port((int)fd) == port &&
            ps_fd_silent((int)fd) && shutdown((int)fd, SHUT_RDWR) == 0)
            n++;
    return n;
}

/* Takes the waiting connection on the reserve descriptor and closes it,
 * so poll() stops reporting it. */
static void ps_fd_shed_one(int listenfd)
{
    int fd;

    if (ps_fd_reserve >= 0)
        close(ps_fd_reserve);
    ps_fd_reserve = -1;
    if ((fd = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        close(fd);
        ps_fd_shed++;
    }
    ps_fd_reserve = ps_fd_open_reserve();
}

static void ps_fd_log(void)
{
    time_t now = time(NULL);
    char shed[24], evicted[24], limit[24];

    if (now - ps_fd_logged < PS_FD_LOG_SECS)
        return;
    ps_fd_logged = now;
    snprintf(shed, sizeof(shed), "%lu", ps_fd_shed);
    snprintf(evicted, sizeof(evicted), "%lu", ps_fd_evicted);
    snprintf(limit, sizeof(limit), "%llu", (unsigned long long)ps_fd_limit);
    ps_log_kv(ps_milter_log(), LOG_WARNING, "descriptors-exhausted", "limit",
              limit, "refused", shed, "idle_closed", evicted, "hint",
              "raise LimitNOFILE in the unit", NULL);
    ps_fd_shed = ps_fd_evicted = 0;
}

static int ps_fd_exhausted(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct timespec pause = {0, PS_FD_RETRY_NSEC};
    int evicted = ps_fd_evict(fd), c = -1;

    ps_fd_evicted += (unsigned long)evicted;
    /* libmilter frees an evicted descriptor when it next reads it. */
    for (int i = 0; evicted > 0 && c < 0 && i < PS_FD_RETRIES; i++) {
        nanosleep(&pause, NULL);
        c = accept4(fd, addr, len, 0);
    }
    if (c < 0) {
        ps_fd_shed_one(fd);
        if (ps_fd_reserve < 0)
            nanosleep(&pause, NULL); /* nothing to shed with: no spin */
    }
    ps_fd_log();
    return c;
}

/* Replaces libc's accept() for libmilter (the executable's definition
 * comes first in symbol lookup). */
int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
    int c = accept4(fd, addr.__sockaddr__, len, 0), saved;

    if (c >= 0)
        ps_sockio_track(fd, c);
    if (c >= 0 || (errno != EMFILE && errno != ENFILE))
        return c;
    pthread_mutex_lock(&ps_fd_lock);
    c = ps_fd_exhausted(fd, addr.__sockaddr__, len);
    pthread_mutex_unlock(&ps_fd_lock);
    saved = ECONNABORTED; /* libmilter's listener goes on after it */
    if (c < 0)
        errno = saved;
    else
        ps_sockio_track(fd, c);
    return c;
}
