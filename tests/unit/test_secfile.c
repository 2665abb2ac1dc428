/* Unit tests for shared/base/secfile.c: private files are read whole, anything
 * group/other-accessible, non-regular, too large or missing is refused with
 * an error that names the file and, for modes, the chmod to run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secfile.h"

/* Writes n bytes to a fresh /tmp file with the given mode; path receives
 * its name. */
static void make_file(char path[64], const void *data, size_t n, mode_t mode)
{
    int fd;

    strcpy(path, "/tmp/ps_secfile_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* ps_secfile_read must fail with an error containing both fragments. */
static void expect_refused(const char *path, const char *frag1,
                           const char *frag2)
{
    char *buf = (char *)"untouched";
    size_t len = 7;
    ps_err err = {""};

    assert_int_equal(ps_secfile_read(path, &buf, &len, &err), -1);
    if (strstr(err.msg, frag1) == NULL || strstr(err.msg, frag2) == NULL)
        fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err.msg, frag1, frag2);
    assert_string_equal(buf, "untouched");
}

static void test_mode_0600_read(void **state)
{
    static const char data[] = "line one\nsecret\0with nul\n";
    char path[64], *buf = NULL;
    size_t len = 0;
    ps_err err;

    (void)state;
    make_file(path, data, sizeof(data) - 1, 0600);
    assert_int_equal(ps_secfile_read(path, &buf, &len, &err), 0);
    assert_int_equal(len, sizeof(data) - 1);
    assert_memory_equal(buf, data, len);
    assert_int_equal(buf[len], '\0');
    ps_secfile_free(buf, len);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(ps_secfile_read(path, &buf, &len, &err), 0);
    ps_secfile_free(buf, len);
    unlink(path);
}

static void test_empty_file(void **state)
{
    char path[64], *buf = NULL;
    size_t len = 99;
    ps_err err;

    (void)state;
    make_file(path, "", 0, 0600);
    assert_int_equal(ps_secfile_read(path, &buf, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    ps_secfile_free(buf, len);
    unlink(path);
}

static void test_group_other_modes_refused(void **state)
{
    static const mode_t modes[] = {0640, 0604, 0644, 0660, 0606};
    char path[64], want[256];

    (void)state;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        make_file(path, "k", 1, modes[i]);
        snprintf(want, sizeof(want),
                 "%s: readable by group or others "
                 "(mode %04o); run: chmod 600 %s",
                 path, (unsigned)modes[i], path);
        expect_refused(path, want, want);
        unlink(path);
    }
    make_file(path, "k", 1, 0620);
    expect_refused(path, "group or others (mode 0620)", "chmod 600");
    unlink(path);
    make_file(path, "k", 1, 0601);
    expect_refused(path, "group or others (mode 0601)", "chmod 600");
    unlink(path);
}

static void test_directory_refused(void **state)
{
    char dir[] = "/tmp/ps_secdir_XXXXXX";

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0700), 0);
    expect_refused(dir, dir, "not a regular file");
    rmdir(dir);
}

/* A FIFO must be refused at once, not block the reader. */
static void test_fifo_refused(void **state)
{
    char dir[] = "/tmp/ps_secdir_XXXXXX", path[64];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_refused(path, path, "not a regular file");
    unlink(path);
    rmdir(dir);
}

static void test_size_bound(void **state)
{
    char path[64], *big, *buf = NULL;
    size_t len = 0;
    ps_err err;

    (void)state;
    big = malloc(PS_SECFILE_MAX + 1);
    assert_non_null(big);
    memset(big, 'x', PS_SECFILE_MAX + 1);
    make_file(path, big, PS_SECFILE_MAX, 0600);
    assert_int_equal(ps_secfile_read(path, &buf, &len, &err), 0);
    assert_int_equal(len, PS_SECFILE_MAX);
    ps_secfile_free(buf, len);
    unlink(path);
    make_file(path, big, PS_SECFILE_MAX + 1, 0600);
    expect_refused(path, path, "too large (65537 bytes, at most 65536)");
    unlink(path);
    free(big);
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_refused("/tmp/ps_secfile_does_not_exist/key.pem",
                   "/tmp/ps_secfile_does_not_exist/key.pem: cannot open",
                   "No such file or directory");
}

/* Symlinks are followed; the checks apply to the file they lead to. */
static void test_symlink_checks_target(void **state)
{
    char path[64], link[80], *buf = NULL;
    size_t len = 0;
    ps_err err;

    (void)state;
    make_file(path, "abc", 3, 0600);
    snprintf(link, sizeof(link), "%s.lnk", path);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(ps_secfile_read(link, &buf, &len, &err), 0);
    assert_int_equal(len, 3);
    assert_string_equal(buf, "abc");
    ps_secfile_free(buf, len);
    assert_int_equal(chmod(path, 0644), 0);
    expect_refused(link, "readable by group or others", "chmod 600");
    unlink(link);
    unlink(path);
}

static void test_wipe(void **state)
{
    uint8_t b[32];
    static const uint8_t zero[32];

    (void)state;
    memset(b, 0xa5, sizeof(b));
    ps_wipe(b, sizeof(b));
    assert_memory_equal(b, zero, sizeof(b));
    ps_wipe(NULL, 10);
    ps_secfile_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_0600_read),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_group_other_modes_refused),
        cmocka_unit_test(test_directory_refused),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_symlink_checks_target),
        cmocka_unit_test(test_wipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
