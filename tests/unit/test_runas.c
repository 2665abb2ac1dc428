/* Unit tests for the run-as settings (user, socket_group, socket_mode in
 * [milter] and [policyd]), the privilege-drop plan built from them, and
 * claiming a unix socket path (stale replaced, live refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/privdrop.h"
#include "base/usock.h"
#include "conf/conf.h"

static ps_conf *parse(const char *text, ps_err *err)
{
    ps_conf *conf = NULL;

    ps_conf_parse(text, strlen(text), "t.conf", &conf, err);
    return conf;
}

static void test_defaults(void **state)
{
    ps_err err = {""};
    ps_conf *c = parse("", &err);

    (void)state;
    assert_non_null(c);
    assert_string_equal(c->milter.runas.user.value, "postseal");
    assert_int_equal(c->milter.runas.user.line, 0);
    assert_null(c->milter.runas.socket_group.value);
    assert_int_equal(c->milter.runas.socket_mode, 0660);
    assert_string_equal(c->policyd.runas.user.value, "postseal");
    assert_int_equal(c->policyd.runas.socket_mode, 0660);
    ps_conf_free(c);
}

static void test_values(void **state)
{
    ps_err err = {""};
    ps_conf *c = parse("[milter]\nuser = nobody\nsocket_group = postfix\n"
                       "socket_mode = 660\n[policyd]\nuser = root\n"
                       "socket_mode = 0600\n",
                       &err);

    (void)state;
    assert_non_null(c);
    assert_string_equal(c->milter.runas.user.value, "nobody");
    assert_int_equal(c->milter.runas.user.line, 2);
    assert_string_equal(c->milter.runas.socket_group.value, "postfix");
    assert_int_equal(c->milter.runas.socket_mode, 0660);
    assert_int_equal(c->milter.runas.socket_mode_line, 4);
    assert_string_equal(c->policyd.runas.user.value, "root");
    assert_int_equal(c->policyd.runas.socket_mode, 0600);
    ps_conf_free(c);
}

static void test_bad_values(void **state)
{
    static const char *const bad[][2] = {
        {"[milter]\nsocket_mode = 0999\n",
         "t.conf:2: bad socket_mode '0999': expected octal permission bits, "
         "e.g. 0660"},
        {"[policyd]\nsocket_mode = 0066\n",
         "t.conf:2: bad socket_mode '0066': the owner needs read and write "
         "(0600)"},
        {"[policyd]\nsocket_mode = 01660\n",
         "t.conf:2: bad socket_mode '01660': expected octal permission bits, "
         "e.g. 0660"},
        {"[milter]\nuser = a:b\n",
         "t.conf:2: bad user 'a:b': character ':' not allowed"},
        {"[milter]\nuser = 1000\n",
         "t.conf:2: bad user '1000': expected a user or group name"},
        {"[policyd]\nsocket_group = post fix\n",
         "t.conf:2: bad socket_group 'post fix': character ' ' not allowed"},
        {"[policyd]\nuser = a\nuser = b\n",
         "t.conf:3: repeated key 'user' in [policyd] (first on line 2)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ps_err err = {""};
        ps_conf *c = parse(bad[i][0], &err);
        assert_null(c);
        assert_string_equal(err.msg, bad[i][1]);
    }
}

static void spec_of(const char *text, ps_conf **c, ps_priv_spec *spec)
{
    ps_err err = {""};

    *c = parse(text, &err);
    assert_non_null(*c);
    ps_conf_runas_spec(*c, &(*c)->policyd.runas, "policyd", spec);
}

/* As root the plan names the user's ids; as anyone else it is "as itself". */
static void test_plan(void **state)
{
    ps_priv_spec spec;
    ps_priv_plan plan;
    ps_err err = {""};
    ps_conf *c;

    (void)state;
    spec_of("[policyd]\nuser = nobody\n", &c, &spec);
    assert_int_equal(ps_priv_plan_make(&spec, &plan, &err), 0);
    if (geteuid() == 0) {
        assert_int_equal(plan.outcome, PS_PRIV_DROP);
        assert_int_equal(plan.uid, 65534);
        assert_int_equal(plan.socket_uid, 65534);
    } else
        assert_int_equal(plan.outcome, PS_PRIV_AS_ITSELF);
    ps_conf_free(c);
    spec_of("[policyd]\nuser = root\n", &c, &spec);
    assert_int_equal(ps_priv_plan_make(&spec, &plan, &err), 0);
    assert_int_equal(plan.outcome,
                     geteuid() == 0 ? PS_PRIV_AS_ROOT : PS_PRIV_AS_ITSELF);
    ps_conf_free(c);
    spec_of("[policyd]\nsocket_group = no-such-ps-group\n", &c, &spec);
    if (geteuid() != 0) {
        assert_int_equal(ps_priv_plan_make(&spec, &plan, &err), -1);
        assert_string_equal(err.msg, "t.conf:2: [policyd] socket_group "
                                     "'no-such-ps-group': no such group");
    }
    ps_conf_free(c);
}

static void test_plan_missing_user(void **state)
{
    ps_priv_spec spec;
    ps_priv_plan plan;
    ps_err err = {""};
    ps_conf *c;

    (void)state;
    if (geteuid() != 0)
        skip();
    spec_of("[policyd]\n\nuser = no-such-ps-user\n", &c, &spec);
    assert_int_equal(ps_priv_plan_make(&spec, &plan, &err), -1);
    assert_string_equal(err.msg, "t.conf:3: [policyd] user "
                                 "'no-such-ps-user': no such user; create it "
                                 "(useradd --system no-such-ps-user) or name "
                                 "another in [policyd]");
    ps_conf_free(c);
}

static int bound(const char *path, int listening)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
    if (listening)
        assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static void test_usock_claim(void **state)
{
    char dir[] = "/tmp/ps-usock-XXXXXX", path[64];
    ps_err err = {""};
    struct stat st;
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s", dir);
    assert_int_equal(ps_usock_claim(path, &err), 0); /* nothing there */
    close(bound(path, 0));                           /* stale */
    assert_int_equal(ps_usock_claim(path, &err), 0);
    assert_int_equal(lstat(path, &st), -1);
    fd = bound(path, 1); /* live */
    assert_int_equal(ps_usock_claim(path, &err), -1);
    assert_non_null(strstr(err.msg, "another process accepts"));
    assert_int_equal(lstat(path, &st), 0);
    close(fd);
    unlink(path);
    fclose(fopen(path, "w")); /* a regular file is never removed */
    assert_int_equal(ps_usock_claim(path, &err), -1);
    assert_non_null(strstr(err.msg, "exists and is not a socket"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_plan_missing_user),
        cmocka_unit_test(test_usock_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
