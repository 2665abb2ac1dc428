/* Unit tests for the suppression list's core: the [suppression] values
 * of postseal.conf (shared/conf) and the entries' keys and stored values
 * (shared/quota/supp.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "quota/supp.h"

static ps_conf *parse(const char *text, ps_err *err)
{
    ps_conf *c = NULL;

    ps_conf_parse(text, strlen(text), "t.conf", &c, err);
    return c;
}

static void test_conf_defaults(void **state)
{
    ps_err err = {""};
    ps_conf *c = parse("[policyd]\nwarn_at = 80%\n", &err);

    (void)state;
    assert_non_null(c);
    assert_int_equal(c->suppression.mode, PS_SUPP_OFF);
    assert_int_equal(c->suppression.ttl, 30 * 86400);
    ps_conf_free(c);
    c = parse("[suppression]\n", &err);
    assert_non_null(c);
    assert_int_equal(c->suppression.mode, PS_SUPP_REFUSE);
    assert_int_equal(c->suppression.scope, PS_SUPP_SCOPE_DOMAIN);
    ps_conf_free(c);
}

static void test_conf_values(void **state)
{
    static const struct {
        const char *ttl;
        int secs;
    } ttls[] = {{"30d", 30 * 86400}, {"12h", 43200}, {"90m", 5400},
                {"600s", 600},       {"60", 60},     {"3650d", 3650 * 86400}};
    char text[128];
    ps_err err = {""};
    ps_conf *c;

    (void)state;
    c = parse("[suppression]\nmode = log\nscope = credential\n", &err);
    assert_non_null(c);
    assert_int_equal(c->suppression.mode, PS_SUPP_LOG);
    assert_int_equal(c->suppression.scope, PS_SUPP_SCOPE_CREDENTIAL);
    ps_conf_free(c);
    c = parse("[suppression]\nmode = off\n", &err);
    assert_int_equal(c->suppression.mode, PS_SUPP_OFF);
    ps_conf_free(c);
    for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
        snprintf(text, sizeof(text), "[suppression]\nttl = %s\n", ttls[i].ttl);
        c = parse(text, &err);
        assert_non_null(c);
        assert_int_equal(c->suppression.ttl, ttls[i].secs);
        ps_conf_free(c);
    }
}

static void expect_error(const char *text, const char *message)
{
    ps_err err = {""};
    ps_conf *c = parse(text, &err);

    assert_null(c);
    assert_string_equal(err.msg, message);
}

static void test_conf_errors(void **state)
{
    static const char *const bad_ttls[] = {"0s", "0",   "3651d", "5x",
                                           "d",  "-1d", "1.5h",  "9999999999"};
    char text[128], msg[256];

    (void)state;
    expect_error("[suppression]\nmode = enforce\n",
                 "t.conf:2: bad mode 'enforce': expected refuse, log or off");
    expect_error("[suppression]\n\nscope = sender\n",
                 "t.conf:3: bad scope 'sender': expected domain or "
                 "credential");
    expect_error("[suppression]\nlimit = 3\n",
                 "t.conf:2: unknown key 'limit' in [suppression]");
    for (size_t i = 0; i < sizeof(bad_ttls) / sizeof(bad_ttls[0]); i++) {
        snprintf(text, sizeof(text), "[suppression]\nttl = %s\n", bad_ttls[i]);
        snprintf(msg, sizeof(msg),
                 "t.conf:2: bad ttl '%s': expected a time from 1s to "
                 "3650d, as 30d, 12h, 90m or 600s",
                 bad_ttls[i]);
        expect_error(text, msg);
    }
}

static void test_subject(void **state)
{
    ps_supp_entry e;

    (void)state;
    assert_int_equal(ps_supp_subject(&e, PS_SUPP_SCOPE_DOMAIN, "app1",
                                     "News@Mail.Example.COM", "Bob@X.Org"),
                     0);
    assert_string_equal(e.who, "mail.example.com");
    assert_string_equal(e.rcpt, "bob@x.org");
    assert_int_equal(ps_supp_subject(&e, PS_SUPP_SCOPE_CREDENTIAL, "App1",
                                     "a@example.com", "bob@x.org"),
                     0);
    assert_string_equal(e.who, "app1");
    /* no credential, the null sender, an address with a space */
    assert_int_equal(ps_supp_subject(&e, PS_SUPP_SCOPE_CREDENTIAL, "",
                                     "a@example.com", "bob@x.org"),
                     -1);
    assert_int_equal(
        ps_supp_subject(&e, PS_SUPP_SCOPE_DOMAIN, NULL, "", "bob@x.org"), -1);
    assert_int_equal(ps_supp_subject(&e, PS_SUPP_SCOPE_DOMAIN, NULL,
                                     "a@example.com", "\"b ob\"@x.org"),
                     -1);
}

static void test_key(void **state)
{
    ps_supp_entry a, b;
    char ka[PS_SUPP_KEY_MAX], kb[PS_SUPP_KEY_MAX];

    (void)state;
    ps_supp_set(&a, PS_SUPP_SCOPE_DOMAIN, "Example.com", "BOB@x.org");
    ps_supp_set(&b, PS_SUPP_SCOPE_DOMAIN, "example.com", "bob@x.org");
    ps_supp_key(&a, ka);
    ps_supp_key(&b, kb);
    assert_int_equal(strlen(ka), PS_SUPP_KEY_MAX - 1);
    assert_memory_equal(ka, "sup:", 4);
    assert_string_equal(ka, kb);
    assert_null(strstr(ka, "bob"));
    /* another scope, domain or recipient: another key */
    ps_supp_set(&b, PS_SUPP_SCOPE_CREDENTIAL, "example.com", "bob@x.org");
    ps_supp_key(&b, kb);
    assert_string_not_equal(ka, kb);
    ps_supp_set(&b, PS_SUPP_SCOPE_DOMAIN, "example.org", "bob@x.org");
    ps_supp_key(&b, kb);
    assert_string_not_equal(ka, kb);
}

static void test_value(void **state)
{
    ps_supp_entry e, back;
    char v[PS_SUPP_VALUE_MAX];
    size_t n;

    (void)state;
    ps_supp_set(&e, PS_SUPP_SCOPE_CREDENTIAL, "app1@example.com", "bob@x.org");
    e.since = 1765000000;
    e.until = 1767592000;
    n = ps_supp_format(&e, v);
    assert_string_equal(v, "1 1765000000 1767592000 credential "
                           "app1@example.com bob@x.org");
    assert_int_equal(ps_supp_parse(v, n, &back), 0);
    assert_int_equal(back.since, e.since);
    assert_int_equal(back.until, e.until);
    assert_int_equal(back.scope, PS_SUPP_SCOPE_CREDENTIAL);
    assert_string_equal(back.who, e.who);
    assert_string_equal(back.rcpt, e.rcpt);
}

static void test_value_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "1",
        "2 1 2 domain a b",
        "1 1 2 domain a",
        "1 1 2 domain a b c",
        "1 x 2 domain a b",
        "1 1 -2 domain a b",
        "1 1 2 sender a b",
        "1 1 2 domain a b ",
        "1  1 2 domain a b",
        "1 1 2 domain a\tx b",
        "1 9999999999999999991 5 domain x b", /* past int64: fuzz_supp */
    };
    ps_supp_entry e;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ps_supp_parse(bad[i], strlen(bad[i]), &e) == 0)
            fail_msg("'%s' accepted", bad[i]);
    /* a NUL inside a field (the store's bytes are not a C string) */
    assert_int_equal(ps_supp_parse("1 0 60 domain a\0x b", 18, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_defaults),
        cmocka_unit_test(test_conf_values),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_value_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
