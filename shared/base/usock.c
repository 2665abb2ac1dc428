/* Claiming a unix socket path: connect() tells a live socket (something
 * accepts) from a stale one (ECONNREFUSED), which is all a crash leaves. */
#include "base/usock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* 0 when connect() is refused (nobody listens), else the errno that
 * says why the socket can't be called stale (EISCONN: something accepts;
 * EAGAIN, a full backlog, is a listener too). */
static int ps_usock_probe(const char *path)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc, e;

    if (fd < 0)
        return errno;
    memcpy(un.sun_path, path, strlen(path) + 1);
    do
        rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
    while (rc != 0 && errno == EINTR);
    e = rc == 0 ? EISCONN : errno;
    close(fd);
    return e == ECONNREFUSED || e == ENOENT ? 0 : e;
}

int ps_usock_claim(const char *path, ps_err *err)
{
    struct sockaddr_un un;
    struct stat st;
    int e;

    if (strlen(path) >= sizeof(un.sun_path))
        return ps_err_set(err, "socket path too long: %.80s", path);
    if (lstat(path, &st) != 0)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return ps_err_set(err, "%s: exists and is not a socket", path);
    if ((e = ps_usock_probe(path)) == EISCONN || e == EAGAIN)
        return ps_err_set(err,
                          "%s: another process accepts on this socket "
                          "(a daemon already running?); not taking it",
                          path);
    if (e != 0)
        return ps_err_set(err, "%s: cannot tell whether it is in use: %s", path,
                          strerror(e));
    if (unlink(path) != 0 && errno != ENOENT)
        return ps_err_set(err, "%s: cannot remove the stale socket: %s", path,
                          strerror(errno));
    return 0;
}
