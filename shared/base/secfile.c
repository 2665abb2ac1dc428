/* Reads key and secret files the way sshd reads private keys: refused when
 * group or others could read them, bounded in size, wiped when freed. */
#include "base/secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ps_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void ps_secfile_free(char *buf, size_t len)
{
    if (buf == NULL)
        return;
    ps_wipe(buf, len + 1);
    free(buf);
}

static int errno_err(ps_err *err, const char *path, const char *what, int e)
{
    char buf[128];

    return ps_err_set(err, "%s: %s: %s", path, what,
                      strerror_r(e, buf, sizeof(buf)));
}

/* Symlinks are followed (keys often live behind one), so the checks are
 * made on the opened file itself with fstat, never on the path. */
static int check_stat(const char *path, const struct stat *st, ps_err *err)
{
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if (!S_ISREG(st->st_mode))
        return ps_err_set(err, "%s: not a regular file", path);
    if ((mode & 044) != 0)
        return ps_err_set(err,
                          "%s: readable by group or others (mode %04o); "
                          "run: chmod 600 %s",
                          path, mode, path);
    if ((mode & 077) != 0)
        return ps_err_set(err,
                          "%s: writable or executable by group or others "
                          "(mode %04o); run: chmod 600 %s",
                          path, mode, path);
    if (st->st_size > PS_SECFILE_MAX)
        return ps_err_set(err, "%s: too large (%lld bytes, at most %d)", path,
                          (long long)st->st_size, PS_SECFILE_MAX);
    return 0;
}

/* Reads up to cap bytes; a file that grew past its fstat size since is
 * refused rather than silently cut. */
static int read_all(int fd, const char *path, char *buf, size_t cap,
                    size_t *len, ps_err *err)
{
    size_t got = 0;
    char extra;
    ssize_t r;

    while (got < cap) {
        r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno_err(err, path, "read failed", errno);
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got == cap) {
        do
            r = read(fd, &extra, 1);
        while (r < 0 && errno == EINTR);
        if (r != 0)
            return ps_err_set(err, "%s: changed while being read", path);
    }
    *len = got;
    return 0;
}

static int read_fd(int fd, const char *path, char **buf, size_t *len,
                   ps_err *err)
{
    struct stat st;
    size_t cap;
    char *b;

    if (fstat(fd, &st) < 0)
        return errno_err(err, path, "cannot stat", errno);
    if (check_stat(path, &st, err) < 0)
        return -1;
    cap = (size_t)st.st_size;
    b = malloc(cap + 1);
    if (b == NULL)
        return ps_err_set(err, "%s: out of memory", path);
    if (read_all(fd, path, b, cap, len, err) < 0) {
        ps_secfile_free(b, cap);
        return -1;
    }
    b[*len] = '\0';
    *buf = b;
    return 0;
}

int ps_secfile_read(const char *path, char **buf, size_t *len, ps_err *err)
{
    int fd, rc;

    /* O_NONBLOCK: opening a FIFO must not hang; fstat refuses it next. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno_err(err, path, "cannot open", errno);
    rc = read_fd(fd, path, buf, len, err);
    close(fd);
    return rc;
}
