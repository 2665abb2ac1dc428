/* Unit tests for shared/check/files.c: a configuration whose keys and
 * secret files all load passes, and each kind of file that does not load
 * is reported as "conf:LINE: ..." with the line that names it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/check.h"
#include "crypto/keys.h"

typedef struct fixture {
    char dir[64];
    char key[128], secrets[128], srs[128], conf[2048];
} fixture;

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    ps_key *key = NULL;
    ps_err err = {""};

    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/ps-confcheck-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->key, sizeof(f->key), "%s/ed.pem", f->dir);
    snprintf(f->secrets, sizeof(f->secrets), "%s/rp.secrets", f->dir);
    snprintf(f->srs, sizeof(f->srs), "%s/srs.secrets", f->dir);
    if (ps_key_generate(PS_KEY_ED25519, 0, &key, &err) < 0 ||
        ps_key_write_pem(key, f->key, &err) < 0)
        return -1;
    ps_key_free(key);
    write_file(f->secrets, "base64:c2VjcmV0LXNlY3JldC0xMjM0\n", 0600);
    write_file(f->srs, "tops3cr3t\n", 0400);
    snprintf(f->conf, sizeof(f->conf),
             "[keys]\n"                        /* 1 */
             "ed = example.test s1 %s\n"       /* 2 */
             "[signing]\n"                     /* 3 */
             "example.test = ed\n"             /* 4 */
             "[return_path]\n"                 /* 5 */
             "domain = rp.example.test\n"      /* 6 */
             "secret_file = %s\n"              /* 7 */
             "srs_domain = fwd.example.test\n" /* 8 */
             "srs_secret_file = %s\n"          /* 9 */
             "[milter]\n"                      /* 10 */
             "user = root\n",                  /* 11: tests run as root */
             f->key, f->secrets, f->srs);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unlink(f->key);
    unlink(f->secrets);
    unlink(f->srs);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs the check on the fixture's config; returns its result and err. */
static int run(const fixture *f, ps_err *err)
{
    ps_conf *conf = NULL;
    int rc;

    if (ps_conf_parse(f->conf, strlen(f->conf), "t.conf", &conf, err) != 0)
        fail_msg("config refused: %s", err->msg);
    rc = ps_confcheck_run(conf, err);
    ps_conf_free(conf);
    return rc;
}

static void expect_error(const fixture *f, const char *prefix, const char *frag)
{
    ps_err err = {""};

    assert_int_equal(run(f, &err), -1);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
        strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\": wanted \"%s...%s\"", err.msg, prefix, frag);
}

static void test_everything_loads(void **state)
{
    fixture *f = *state;
    ps_err err = {""};

    assert_int_equal(run(f, &err), 0);
}

static void test_key_readable_by_others(void **state)
{
    fixture *f = *state;

    assert_int_equal(chmod(f->key, 0644), 0);
    expect_error(f, "t.conf:2: key 'ed': ", f->key);
    assert_int_equal(chmod(f->key, 0600), 0);
}

static void test_key_missing(void **state)
{
    fixture *f = *state;

    assert_int_equal(unlink(f->key), 0);
    expect_error(f, "t.conf:2: key 'ed': ", f->key);
}

static void test_bad_secret(void **state)
{
    fixture *f = *state;

    write_file(f->secrets, "# rotated 2026-11\nbase64:!!!\n", 0600);
    expect_error(f, "t.conf:7: secret_file: ", ":2: bad base64 secret");
    write_file(f->secrets, "base64:c2VjcmV0LXNlY3JldC0xMjM0\n", 0600);
}

static void test_bad_srs_secret(void **state)
{
    fixture *f = *state;

    assert_int_equal(chmod(f->srs, 0640), 0);
    expect_error(f, "t.conf:9: srs_secret_file: ", f->srs);
    assert_int_equal(chmod(f->srs, 0400), 0);
    write_file(f->srs, "\n# nothing but comments\n", 0600);
    expect_error(f, "t.conf:9: srs_secret_file: ", "no secrets");
    write_file(f->srs, "tops3cr3t\n", 0400);
}

/* Runs the check on text; its result and err. */
static int run_text(const char *text, ps_err *err)
{
    ps_conf *conf = NULL;
    int rc;

    if (ps_conf_parse(text, strlen(text), "u.conf", &conf, err) != 0)
        fail_msg("config refused: %s", err->msg);
    rc = ps_confcheck_run(conf, err);
    ps_conf_free(conf);
    return rc;
}

static void expect_text_error(const char *text, const char *msg)
{
    ps_err err = {""};

    assert_int_equal(run_text(text, &err), -1);
    assert_string_equal(err.msg, msg);
}

/* What start would find: the check finds it, with the line to blame. */
static void test_what_start_finds(void **state)
{
    fixture *f = *state;
    char text[600];
    ps_err err = {""};

    expect_text_error("[limits]\nsasl_username = messages 100/1x\n",
                      "u.conf:2: [limits] sasl_username: 'messages 100/1x': "
                      "period must be N followed by s, m, h or d (as in 1h)");
    expect_text_error("[milter]\n\nmode = sign\n",
                      "u.conf:3: mode includes sign, but no [signing] rule "
                      "or signingtable names a key: nothing would be signed");
    expect_text_error("[return_path]\nevents = /nonexistent-ps/b.jsonl\n",
                      "u.conf:2: events /nonexistent-ps/b.jsonl: directory "
                      "/nonexistent-ps: No such file or directory");
    expect_text_error("[policyd]\nstore = lmdb:/nonexistent-ps/quota\n",
                      "u.conf:2: store lmdb:/nonexistent-ps/quota: directory "
                      "/nonexistent-ps: No such file or directory");
    expect_text_error("[milter]\nsocket = unix:/nonexistent-ps/m.sock\n",
                      "u.conf:2: socket unix:/nonexistent-ps/m.sock: "
                      "directory /nonexistent-ps: No such file or directory");
    snprintf(text, sizeof(text), "[return_path]\nevents = %s\n", f->dir);
    assert_int_equal(run_text(text, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    /* the default mode asks for no keys; verify alone needs none */
    assert_int_equal(run_text("[milter]\nmode = verify\nuser = root\n", &err),
                     0);
    snprintf(text, sizeof(text),
             "[return_path]\nevents = %s/b.jsonl\n[milter]\nuser = root\n"
             "[policyd]\nstore = lmdb:%s/q\nlisten = unix:%s/p.sock\n"
             "user = root\n",
             f->dir, f->dir, f->dir);
    assert_int_equal(run_text(text, &err), 0);
}

/* As root, each daemon's user must exist (as its -n and start say). */
static void test_daemon_users(void **state)
{
    ps_err err = {""};

    (void)state;
    if (geteuid() != 0)
        skip();
    expect_text_error("[milter]\nuser = no-such-user-ps\n",
                      "u.conf:2: [milter] user 'no-such-user-ps': no such "
                      "user; create it (useradd --system no-such-user-ps) or "
                      "name another in [milter]");
    expect_text_error(
        "[policyd]\nstore = lmdb:/tmp/q\nuser = no-such-user-ps\n",
        "u.conf:3: [policyd] user 'no-such-user-ps': no such "
        "user; create it (useradd --system no-such-user-ps) or "
        "name another in [policyd]");
    assert_int_equal(run_text("[milter]\nuser = nobody\n", &err), 0);
}

static void test_empty_config_passes(void **state)
{
    ps_conf *conf = NULL;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_conf_parse("", 0, "empty.conf", &conf, &err), 0);
    assert_int_equal(ps_confcheck_run(conf, &err), 0);
    ps_conf_free(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everything_loads),
        cmocka_unit_test(test_key_readable_by_others),
        cmocka_unit_test(test_bad_secret),
        cmocka_unit_test(test_bad_srs_secret),
        cmocka_unit_test(test_daemon_users),
        cmocka_unit_test(test_empty_config_passes),
        cmocka_unit_test(test_what_start_finds),
        cmocka_unit_test(test_key_missing), /* last: removes the key */
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
