/* milter/sockio.c: libmilter's way of reading commands and writing replies
 * on a tracked socket gets the same bytes with fewer system calls (counted,
 * never timed), and every other descriptor is left to libc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../milter/sockio.h"

/* A milter command: 4-byte length (command byte + data), command, data. */
static size_t frame(unsigned char *out, char cmd, const char *data)
{
    size_t n = strlen(data) + 1;

    out[0] = 0;
    out[1] = 0;
    out[2] = (unsigned char)(n >> 8);
    out[3] = (unsigned char)n;
    out[4] = (unsigned char)cmd;
    memcpy(out + 5, data, n - 1);
    return n + 4;
}

/* What libmilter does per command (engine.c mi_rd_socket_ready, comm.c
 * mi_rd_cmd): poll 1 ms, poll, read the header, poll, read the rest. */
static char read_command(int fd, char *data, size_t cap)
{
    struct pollfd p = {fd, POLLIN, 0};
    unsigned char hdr[5];
    size_t len;

    assert_int_equal(poll(&p, 1, 1), 1);
    p.events = POLLIN | POLLPRI;
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(read(fd, hdr, 5), 5);
    len = ((size_t)hdr[2] << 8 | hdr[3]) - 1;
    assert_true(len < cap);
    if (len > 0) {
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_int_equal(read(fd, data, len), (ssize_t)len);
    }
    data[len] = '\0';
    return (char)hdr[4];
}

#define LISTENER 4000 /* a listener number, as libmilter's would be */

static int setup(void **state)
{
    (void)state;
    ps_sockio_listener(LISTENER);
    return ps_sockio_init(4096);
}

/* Three commands sent in one write: one poll() and one recv() for all. */
static void test_commands_one_read(void **state)
{
    int sv[2];
    unsigned char buf[256];
    size_t n = 0;
    char data[64];
    unsigned long before;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ps_sockio_track(LISTENER, sv[0]);
    n += frame(buf + n, 'D', "Mi");
    n += frame(buf + n, 'M', "<a@example.com>");
    n += frame(buf + n, 'Q', "");
    assert_int_equal(write(sv[1], buf, n), (ssize_t)n);
    before = ps_sockio_syscalls();
    assert_int_equal(read_command(sv[0], data, sizeof(data)), 'D');
    assert_string_equal(data, "Mi");
    assert_int_equal(read_command(sv[0], data, sizeof(data)), 'M');
    assert_string_equal(data, "<a@example.com>");
    assert_int_equal(read_command(sv[0], data, sizeof(data)), 'Q');
    assert_string_equal(data, "");
    assert_int_equal(ps_sockio_syscalls() - before, 2);
    close(sv[0]);
    close(sv[1]);
}

/* An added header is held and goes out with the verdict, in one write,
 * byte for byte as the two writes libmilter made. */
static void test_modification_held(void **state)
{
    int sv[2];
    unsigned char h[64], c[8], got[128];
    size_t hn = frame(h, 'h', "X-A\0 1"), cn = frame(c, 'c', "");
    struct iovec hv[2] = {{h, 5}, {h + 5, hn - 5}}, cv[1] = {{c, cn - 1}};
    struct pollfd p;
    unsigned long before;

    (void)state;
    c[3] = 1; /* 'c' carries no data: length 1 */
    cn = 5;
    cv[0].iov_len = cn;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ps_sockio_track(LISTENER, sv[0]);
    before = ps_sockio_syscalls();
    p = (struct pollfd){sv[0], POLLOUT, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(p.revents, POLLOUT);
    assert_int_equal(writev(sv[0], hv, 2), (ssize_t)hn);
    assert_int_equal(recv(sv[1], got, sizeof(got), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(writev(sv[0], cv, 1), (ssize_t)cn);
    assert_int_equal(ps_sockio_syscalls() - before, 1);
    assert_int_equal(recv(sv[1], got, sizeof(got), 0), (ssize_t)(hn + cn));
    assert_memory_equal(got, h, hn);
    assert_memory_equal(got + hn, c, cn);
    close(sv[0]);
    close(sv[1]);
}

/* Descriptors accept() did not return: plain libc, nothing counted, and a
 * closed socket's number reused by a pipe is not tracked. */
static void test_others_untouched(void **state)
{
    int sv[2], pp[2];
    char out[4] = {0};
    struct pollfd p;
    unsigned long before;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ps_sockio_track(LISTENER, sv[0]);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(pipe(pp), 0);
    assert_int_equal(pp[0], sv[0]); /* the lowest free number, reused */
    before = ps_sockio_syscalls();
    assert_int_equal(write(pp[1], "abcdef", 6), 6);
    p = (struct pollfd){pp[0], POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(read(pp[0], out, 3), 3); /* no read-ahead: 3 stay */
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(read(pp[0], out, 3), 3);
    assert_memory_equal(out, "def", 3);
    assert_int_equal(ps_sockio_syscalls() - before, 0);
    close(pp[0]);
    close(pp[1]);
    close(sv[1]);
}

/* A connection accepted on another listener (the metrics one) is not
 * the MTA's: no read-ahead. */
static void test_other_listener_untracked(void **state)
{
    int sv[2];
    char out[4];
    unsigned long before;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ps_sockio_track(LISTENER + 1, sv[0]);
    assert_int_equal(write(sv[1], "abcdef", 6), 6);
    before = ps_sockio_syscalls();
    assert_int_equal(read(sv[0], out, 3), 3);
    assert_int_equal(recv(sv[0], out, 4, MSG_DONTWAIT), 3); /* still there */
    assert_memory_equal(out, "def", 3);
    assert_int_equal(ps_sockio_syscalls() - before, 0);
    close(sv[0]);
    close(sv[1]);
}

/* The peer's end of stream reaches libmilter as it did: read() gives 0. */
static void test_eof(void **state)
{
    int sv[2];
    char b[8];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ps_sockio_track(LISTENER, sv[0]);
    assert_int_equal(write(sv[1], "xy", 2), 2);
    close(sv[1]);
    assert_int_equal(read(sv[0], b, 1), 1);
    assert_int_equal(read(sv[0], b, 8), 1);
    assert_int_equal(b[0], 'y');
    assert_int_equal(read(sv[0], b, 8), 0);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_one_read),
        cmocka_unit_test(test_modification_held),
        cmocka_unit_test(test_others_untouched),
        cmocka_unit_test(test_other_listener_untracked),
        cmocka_unit_test(test_eof),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
