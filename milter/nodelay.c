/* Nagle off on libmilter's TCP listener. At end of message libmilter writes
 * the inserted header and the verdict as two small packets; with Nagle on,
 * the verdict waits for the MTA's delayed ACK of the first (~40 ms per
 * message; Postfix's own stall is ps_cb_data's). Linux gives accepted
 * sockets the listener's TCP_NODELAY, and libmilter opens its listener in
 * smfi_opensocket() without handing out the descriptor: this finds it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "milter.h"

/* A TCP socket in listen state, close-on-exec. Every listener inherited
 * across exec lacks FD_CLOEXEC (it would be closed otherwise), and the
 * milter opens no listener of its own: what is left is libmilter's, which
 * sets FD_CLOEXEC on it (listener.c, mi_milteropen). */
static int ps_nodelay_is_ours(int fd)
{
    int v = 0, flags;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0 || v != 1)
        return 0;
    len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) != 0 ||
        v != IPPROTO_TCP)
        return 0;
    flags = fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC);
}

static void ps_nodelay_warn(const char *reason)
{
    ps_log_kv(ps_milter_log(), LOG_WARNING, "tcp_nodelay", "result", "failed",
              "reason", reason, "effect",
              "about 40 ms more per reply over TCP; a unix socket avoids it",
              NULL);
}

int ps_milter_nodelay(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int one = 1, n = 0;

    if (d == NULL)
        return ps_nodelay_warn("cannot list /proc/self/fd"), -1;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);

        if (*end != '\0' || end == e->d_name || fd == dirfd(d) ||
            !ps_nodelay_is_ours((int)fd))
            continue;
        if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) !=
            0) {
            ps_nodelay_warn(strerror(errno));
            n = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 0)
        ps_log_kv(ps_milter_log(), LOG_DEBUG, "tcp_nodelay", "result", "on",
                  NULL);
    return n;
}
