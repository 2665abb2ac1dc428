/* Unit tests for shared/conf/store_url.c: every form of the [policyd]
 * store setting parses to what the daemon connects to, every mistake is
 * refused with a reason that never includes the password, and the masked
 * form hides the password however it is written. */
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

#include "conf/store_url.h"

static void parse_ok(const char *spec, ps_store_url *u)
{
    ps_err err = {""};

    if (ps_store_url_parse(spec, u, &err) != 0)
        fail_msg("'%s' refused: %s", spec, err.msg);
}

static void test_lmdb(void **state)
{
    ps_store_url u;

    (void)state;
    parse_ok("lmdb:/var/lib/postseal/quota", &u);
    assert_int_equal(u.kind, PS_STORE_LMDB);
    assert_string_equal(u.path, "/var/lib/postseal/quota");
}

static void test_redis_forms(void **state)
{
    ps_store_url u;

    (void)state;
    parse_ok("redis://127.0.0.1", &u);
    assert_int_equal(u.kind, PS_STORE_REDIS);
    assert_int_equal(u.nhosts, 1);
    assert_string_equal(u.hosts[0].name, "127.0.0.1");
    assert_int_equal(u.hosts[0].port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    parse_ok("redis://app:s3cr%40t%2F@redis.example.com:6380/3", &u);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "s3cr@t/");
    assert_string_equal(u.hosts[0].name, "redis.example.com");
    assert_int_equal(u.hosts[0].port, 6380);
    assert_int_equal(u.db, 3);
    parse_ok("redis://:only:colon@[::1]:7000/", &u);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "only:colon");
    assert_string_equal(u.hosts[0].name, "::1");
    assert_int_equal(u.hosts[0].port, 7000);
    parse_ok("redis://app@h/1?password_file=/etc/postseal/redis.pw", &u);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "");
    assert_string_equal(u.password_file, "/etc/postseal/redis.pw");
    ps_store_url_wipe(&u);
}

static void test_unix(void **state)
{
    ps_store_url u;

    (void)state;
    parse_ok("unix:///run/redis/redis.sock", &u);
    assert_int_equal(u.kind, PS_STORE_REDIS_UNIX);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 0);
    parse_ok("unix://:pw@/run/redis/redis.sock?db=2", &u);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.db, 2);
}

static void test_sentinel(void **state)
{
    ps_store_url u;

    (void)state;
    parse_ok("redis-sentinel://:pw@10.0.0.1,10.0.0.2:26380,[::1]/mymaster/4",
             &u);
    assert_int_equal(u.kind, PS_STORE_REDIS_SENTINEL);
    assert_int_equal(u.nhosts, 3);
    assert_string_equal(u.hosts[0].name, "10.0.0.1");
    assert_int_equal(u.hosts[0].port, 26379);
    assert_int_equal(u.hosts[1].port, 26380);
    assert_string_equal(u.hosts[2].name, "::1");
    assert_string_equal(u.master, "mymaster");
    assert_int_equal(u.db, 4);
    parse_ok("redis-sentinel://s1/q.ps-1", &u);
    assert_string_equal(u.master, "q.ps-1");
    assert_int_equal(u.db, 0);
}

/* Each bad setting, a fragment of its reason, and the password it holds
 * (which the reason must not contain). */
static void test_refused(void **state)
{
    static const char *const bad[][3] = {
        {"redis:/host", "expected lmdb:PATH", NULL},
        {"memcached://host", "expected lmdb:PATH", NULL},
        {"lmdb:relative", "absolute", NULL},
        {"redis://", "host name", NULL},
        {"redis://user:hunter2@host:0/0", "bad port", "hunter2"},
        {"redis://user:hunter2@host:65536", "bad port", "hunter2"},
        {"redis://:hunter2@host/x", "database number", "hunter2"},
        {"redis://:hunter2@host/0/1", "database number", "hunter2"},
        {"redis://host/70000", "database number", NULL},
        {"redis://user:@host", "empty password", NULL},
        {"redis://@host", "empty credentials", NULL},
        {"redis://app@host", "needs a password", NULL},
        {"redis://:hunter2@ho_st", "bad character", "hunter2"},
        {"redis://:hun%zzter2@host", "%-escape", "hun"},
        {"redis://:hunter2%00@host", "control character", "hunter2"},
        {"redis://:hunter2@[::1", "IPv6", "hunter2"},
        {"redis://:hunter2@[fe80::zz]:1", "IPv6", "hunter2"},
        {"redis://:hunter2@host/0?db=1", "unknown parameter 'db'", "hunter2"},
        {"redis://:hunter2@host?password_file=/x", "give one", "hunter2"},
        {"redis://host?password_file=rel", "absolute", NULL},
        {"redis://host?password_file=/a&password_file=/b", "twice", NULL},
        {"redis://host?password=hunter2", "unknown parameter", "hunter2"},
        {"redis://:hunter2@host /0", "spaces", "hunter2"},
        {"unix://:hunter2@host/run/r.sock", "takes no host", "hunter2"},
        {"unix://", "absolute path", NULL},
        {"unix:///r.sock?db=x", "database number", NULL},
        {"unix:///r.sock?db=1&db=2", "twice", NULL},
        {"redis-sentinel://:hunter2@s1,s2", "MASTER", "hunter2"},
        {"redis-sentinel://s1,/m", "empty sentinel", NULL},
        {"redis-sentinel://s1:x/m", "bad port", NULL},
        {"redis-sentinel://s1/m*x", "master name", NULL},
        {"redis-sentinel://s1//0", "master name", NULL},
        {"redis-sentinel://a,b,c,d,e,f,g,h,i/m", "more than 8", NULL},
    };
    ps_store_url u;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ps_err err = {""};
        if (ps_store_url_parse(bad[i][0], &u, &err) == 0)
            fail_msg("'%s' accepted", bad[i][0]);
        if (strstr(err.msg, bad[i][1]) == NULL)
            fail_msg("'%s': \"%s\" lacks \"%s\"", bad[i][0], err.msg,
                     bad[i][1]);
        if (bad[i][2] != NULL && strstr(err.msg, bad[i][2]) != NULL)
            fail_msg("'%s': \"%s\" shows the password", bad[i][0], err.msg);
        assert_string_equal(u.password, "");
    }
    if (ps_store_url_parse("redis://:x@h:99999999", &u, NULL) == 0)
        fail_msg("a 8-digit port accepted");
}

static void test_mask(void **state)
{
    static const char *const cases[][2] = {
        {"lmdb:/var/lib/postseal/quota", "lmdb:/var/lib/postseal/quota"},
        {"redis://h:6379/0", "redis://h:6379/0"},
        {"redis://app:hunter2@h:6379/0", "redis://app:****@h:6379/0"},
        {"redis://:hunter2@h", "redis://:****@h"},
        {"redis://:hun@ter/2@h/0", "redis://:****@h/0"},
        {"unix://:hunter2@/run/r.sock?db=1", "unix://:****@/run/r.sock?db=1"},
        {"redis-sentinel://u:hunter2@s1:26379,s2/m",
         "redis-sentinel://u:****@s1:26379,s2/m"},
        {"redis://h?password=hunter2&x=1", "redis://h?password=****&x=1"},
        {"redis://app@h?password_file=/p", "redis://app@h?password_file=/p"},
        {"redis://h:1/0?password_file=/a@b",
         "redis://h:1/0?password_file=/a@b"},
        {"redis://u:p@w@h:1/0?password_file=/a@b",
         "redis://u:****@h:1/0?password_file=/a@b"},
    };
    char out[PS_STORE_URL_SHOWN], tiny[12];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ps_store_url_mask(cases[i][0], out, sizeof(out));
        assert_string_equal(out, cases[i][1]);
    }
    ps_store_url_mask("redis://:hunter2@h", tiny, sizeof(tiny));
    assert_string_equal(tiny, "redis://:**");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_password_file(void **state)
{
    char dir[] = "/tmp/ps-store-url-XXXXXX", pw[64], spec[128];
    ps_store_url u;
    ps_err err = {""};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(pw, sizeof(pw), "%s/redis.pw", dir);
    snprintf(spec, sizeof(spec), "redis://app@h/0?password_file=%s", pw);
    write_file(pw, "hunter2\n", 0600);
    assert_int_equal(ps_store_url_load(spec, &u, &err), 0);
    assert_string_equal(u.password, "hunter2");
    assert_string_equal(u.user, "app");
    ps_store_url_wipe(&u);
    write_file(pw, "hunter2\n", 0640);
    assert_int_equal(ps_store_url_load(spec, &u, &err), -1);
    assert_non_null(strstr(err.msg, pw));
    assert_null(strstr(err.msg, "hunter2"));
    write_file(pw, "hunter2\nsecond\n", 0600);
    assert_int_equal(ps_store_url_load(spec, &u, &err), -1);
    assert_non_null(strstr(err.msg, "one line"));
    assert_null(strstr(err.msg, "hunter2"));
    write_file(pw, "\n", 0600);
    assert_int_equal(ps_store_url_load(spec, &u, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    unlink(pw);
    assert_int_equal(ps_store_url_load(spec, &u, &err), -1);
    assert_non_null(strstr(err.msg, pw));
    assert_string_equal(u.password, "");
    rmdir(dir);
}

/* conf's own check of the setting echoes it masked, with file:line. */
static void test_conf_echo_masked(void **state)
{
    static const char text[] = "[policyd]\n"
                               "store = redis://app:hunter2@h:99/x\n";
    ps_conf *conf = NULL;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_conf_parse(text, strlen(text), "t.conf", &conf, &err),
                     -1);
    assert_non_null(strstr(err.msg, "t.conf:2: "));
    assert_non_null(strstr(err.msg, "redis://app:****@h:99/x"));
    assert_non_null(strstr(err.msg, "bad database number"));
    assert_null(strstr(err.msg, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lmdb),
        cmocka_unit_test(test_redis_forms),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_sentinel),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_conf_echo_masked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
