/* Unit tests for shared/base/textfile.c: whole files read and NUL-terminated,
 * the size bound exact, and directories, missing files and oversized
 * files refused with the file's name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/textfile.h"

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_read(void **state)
{
    char dir[] = "/tmp/ps-text-XXXXXX", path[64], *buf = NULL;
    size_t len = 0;
    ps_err err = {""};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    write_file(path, "abc\ndef");
    assert_int_equal(ps_textfile_read(path, 7, &buf, &len, &err), 0);
    assert_int_equal(len, 7);
    assert_string_equal(buf, "abc\ndef");
    free(buf);
    assert_int_equal(ps_textfile_read(path, 6, &buf, &len, &err), -1);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "larger than 6 bytes"));
    write_file(path, "");
    assert_int_equal(ps_textfile_read(path, 6, &buf, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);
    assert_int_equal(ps_textfile_read(dir, 6, &buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    unlink(path);
    assert_int_equal(ps_textfile_read(path, 6, &buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_non_null(strstr(err.msg, path));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
