/* Unit tests for shared/mail/whstate.c: the webhook sender's state lines
 * (read back as written, anything else refused) and the retry|drop
 * requests of `postseal events`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "mail/whstate.h"

#define ID "a0a441a1bc4efbfc4cd6322c048d6763"

static void test_state_lines(void **state)
{
    (void)state;
    long long scanned = -5;
    ps_whstate_item it, again;
    char out[256];

    assert_int_equal(ps_whstate_parse("scanned 4096", &scanned, &it),
                     PS_WHSTATE_SCANNED);
    assert_int_equal(scanned, 4096);
    assert_int_equal(ps_whstate_parse("I 968 " ID " 3 1796580135 1796580136 1",
                                      &scanned, &it),
                     PS_WHSTATE_ITEM);
    assert_int_equal(it.off, 968);
    assert_string_equal(it.id, ID);
    assert_int_equal(it.attempts, 3);
    assert_int_equal(it.first, 1796580135);
    assert_int_equal(it.next, 1796580136);
    assert_int_equal(it.dead, 1);
    assert_int_equal(ps_whstate_format(&it, out, sizeof(out)),
                     (int)strlen("I 968 " ID " 3 1796580135 1796580136 1\n"));
    assert_string_equal(out, "I 968 " ID " 3 1796580135 1796580136 1\n");
    out[strlen(out) - 1] = '\0';
    assert_int_equal(ps_whstate_parse(out, &scanned, &again), PS_WHSTATE_ITEM);
    assert_memory_equal(&it, &again, sizeof(it));
    assert_int_equal(ps_whstate_format(&it, out, 10), -1);
    const char *bad[] = {
        "",
        "scanned",
        "scanned -1",
        "scanned 1 x",
        "I 968 " ID " 3 1 2",                             /* a field short */
        "I 968 " ID " 3 1 2 0 9",                         /* one too many */
        "I 968 A0A441A1BC4EFBFC4CD6322C048D6763 3 1 2 0", /* not lower hex */
        "I 968 a0a4 3 1 2 0",                             /* short id */
        "I -1 " ID " 3 1 2 0",                            /* before the spool */
        "I 968 " ID " 3 1 2 2",                           /* dead is 0 or 1 */
        "X 968 " ID " 3 1 2 0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ps_whstate_parse(bad[i], &scanned, &it) != PS_WHSTATE_BAD)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_requests(void **state)
{
    (void)state;
    ps_whstate_verb verb;
    char id[PS_EVSPOOL_ID + 1];
    char path[64];
    ps_err err = {""};

    assert_int_equal(ps_whstate_parse_request("retry " ID, &verb, id), 0);
    assert_int_equal(verb, PS_WHSTATE_RETRY);
    assert_string_equal(id, ID);
    assert_int_equal(ps_whstate_parse_request("drop dead", &verb, id), 0);
    assert_int_equal(verb, PS_WHSTATE_DROP);
    assert_string_equal(id, "dead");
    const char *bad[] = {"retry",      "retry ",           "retry x",
                         "resend " ID, "drop " ID " more", "drop  " ID,
                         "drop dead2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ps_whstate_parse_request(bad[i], &verb, id) == 0)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(ps_whstate_path("/var/ev", "app", PS_WHSTATE_SUFFIX, path,
                                     sizeof(path), &err),
                     0);
    assert_string_equal(path, "/var/ev/webhooks/app.state");
    assert_int_equal(
        ps_whstate_path("/var/ev", "app", PS_WHSTATE_REQUESTS, path, 10, &err),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_lines),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
