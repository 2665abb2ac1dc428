/* Unit tests for shared/dns/published.c: the verdicts "postseal dns check"
 * gives on published DKIM, SPF, DMARC and MX answers, for right, wrong and
 * missing records, with the reason an admin reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/dmarc.h"
#include "dns/published.h"

typedef struct keys {
    ps_key *rsa, *ed, *ed2;
} keys;

static int setup(void **state)
{
    static keys k;
    ps_err err = {""};

    if (ps_key_generate(PS_KEY_RSA, 2048, &k.rsa, &err) < 0 ||
        ps_key_generate(PS_KEY_ED25519, 0, &k.ed, &err) < 0 ||
        ps_key_generate(PS_KEY_ED25519, 0, &k.ed2, &err) < 0)
        return -1;
    *state = &k;
    return 0;
}

static int teardown(void **state)
{
    keys *k = *state;

    ps_key_free(k->rsa);
    ps_key_free(k->ed);
    ps_key_free(k->ed2);
    return 0;
}

/* An answer holding copies of the NULL-terminated records. */
static ps_dns_answer answer(const char *first, ...)
{
    ps_dns_answer ans = {.count = 0};
    va_list ap;

    va_start(ap, first);
    for (const char *r = first; r != NULL; r = va_arg(ap, const char *))
        ans.records[ans.count++] = strdup(r);
    va_end(ap);
    return ans;
}

static char *record_of(const ps_key *key)
{
    char *rec = NULL;
    ps_err err = {""};

    if (ps_key_dkim_record(key, &rec, &err) != 0)
        fail_msg("%s", err.msg);
    return rec;
}

static void expect(ps_dnscheck_state got_state, const ps_dnscheck *v,
                   ps_dnscheck_state state, const char *frag)
{
    assert_int_equal(got_state, v->state);
    if (v->state != state || strstr(v->why, frag) == NULL)
        fail_msg("got %s \"%s\", wanted %s with \"%s\"",
                 ps_dnscheck_label(v->state), v->why, ps_dnscheck_label(state),
                 frag);
    if (state == PS_DNSCHECK_OK)
        assert_string_equal(v->why, "");
}

static void check_dkim(const ps_key *key, ps_dns_answer ans,
                       ps_dnscheck_state state, const char *frag)
{
    ps_dnscheck v;

    expect(ps_dnscheck_dkim(&ans, key, &v), &v, state, frag);
    ps_dns_answer_free(&ans);
}

static void test_dkim_matching_records(void **state)
{
    keys *k = *state;
    char *rsa = record_of(k->rsa), *ed = record_of(k->ed), *p, folded[1024];

    check_dkim(k->rsa, answer(rsa, NULL), PS_DNSCHECK_OK, "");
    check_dkim(k->ed, answer(ed, NULL), PS_DNSCHECK_OK, "");
    /* no k= means rsa; no v= is allowed; whitespace inside p= is not part
     * of the key */
    p = strstr(rsa, "p=");
    snprintf(folded, sizeof(folded), "p=%.40s \t %s", p + 2, p + 42);
    check_dkim(k->rsa, answer(folded, NULL), PS_DNSCHECK_OK, "");
    snprintf(folded, sizeof(folded), "v=DKIM1; K=x; k=RSA; h=sha256; %s", p);
    check_dkim(k->rsa, answer(folded, NULL), PS_DNSCHECK_OK, "");
    free(rsa);
    free(ed);
}

static void test_dkim_wrong_records(void **state)
{
    keys *k = *state;
    char *ed = record_of(k->ed), *ed2 = record_of(k->ed2), buf[1024];

    check_dkim(k->ed, answer(ed2, NULL), PS_DNSCHECK_FAIL,
               "p= does not match the key");
    check_dkim(k->rsa, answer(ed, NULL), PS_DNSCHECK_FAIL,
               "k=ed25519 but the key is rsa");
    snprintf(buf, sizeof(buf), "v=DKIM1; %s", strstr(ed, "p="));
    check_dkim(k->ed, answer(buf, NULL), PS_DNSCHECK_FAIL,
               "no k= (so rsa) but the key is ed25519");
    check_dkim(k->ed, answer("v=DKIM2; k=ed25519; p=AAAA", NULL),
               PS_DNSCHECK_FAIL, "v=DKIM2 is not DKIM1");
    check_dkim(k->ed, answer("v=DKIM1; k=ed25519; p=", NULL), PS_DNSCHECK_FAIL,
               "revoked");
    check_dkim(k->ed, answer("v=DKIM1; k=ed25519", NULL), PS_DNSCHECK_FAIL,
               "no p= tag");
    check_dkim(k->ed, answer("hello world", NULL), PS_DNSCHECK_FAIL,
               "does not parse");
    check_dkim(k->ed, answer(ed, ed, NULL), PS_DNSCHECK_FAIL, "2 TXT records");
    check_dkim(k->ed, answer(NULL), PS_DNSCHECK_MISSING, "no TXT record");
    free(ed);
    free(ed2);
}

static void
check_simple(ps_dnscheck_state (*fn)(const ps_dns_answer *, ps_dnscheck *),
             ps_dns_answer ans, ps_dnscheck_state state, const char *frag)
{
    ps_dnscheck v;

    expect(fn(&ans, &v), &v, state, frag);
    ps_dns_answer_free(&ans);
}

static void test_spf(void **state)
{
    (void)state;
    check_simple(ps_dnscheck_spf, answer("v=spf1 mx ~all", NULL),
                 PS_DNSCHECK_OK, "");
    check_simple(ps_dnscheck_spf,
                 answer("site-verification=1", "V=SPF1 -all", "v=spf10", NULL),
                 PS_DNSCHECK_OK, "");
    check_simple(ps_dnscheck_spf, answer("v=spf1", NULL), PS_DNSCHECK_OK, "");
    check_simple(ps_dnscheck_spf, answer("v=spf1 mx", "v=spf1 a", NULL),
                 PS_DNSCHECK_FAIL, "2 v=spf1 records");
    check_simple(ps_dnscheck_spf, answer("v=spf10 mx", "spf1", NULL),
                 PS_DNSCHECK_MISSING, "no v=spf1 record");
    check_simple(ps_dnscheck_spf, answer(NULL), PS_DNSCHECK_MISSING,
                 "no v=spf1 record");
}

static void test_dmarc(void **state)
{
    (void)state;
    check_simple(ps_dmarc_check_published, answer("v=DMARC1; p=none", NULL),
                 PS_DNSCHECK_OK, "");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1;p=Reject;rua=mailto:d@example.test", NULL),
                 PS_DNSCHECK_OK, "");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1 ; p=quarantine", NULL), PS_DNSCHECK_OK, "");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1; rua=mailto:x@y.z", NULL), PS_DNSCHECK_FAIL,
                 "no p= tag");
    check_simple(ps_dmarc_check_published, answer("v=DMARC1; p=maybe", NULL),
                 PS_DNSCHECK_FAIL, "p=maybe: DMARC policy must be");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1; p=rejectrejectrejectreject", NULL),
                 PS_DNSCHECK_FAIL, "p=rejectrejectrejectreject");
    check_simple(ps_dmarc_check_published, answer("v=DMARC1; p", NULL),
                 PS_DNSCHECK_FAIL, "does not parse");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1; p=none", "v=DMARC1; p=reject", NULL),
                 PS_DNSCHECK_FAIL, "2 v=DMARC1 records");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC10; p=none", "p=none", NULL),
                 PS_DNSCHECK_MISSING, "no v=DMARC1 record");
    /* read as verify mode reads it: the version's case, a bad sp= */
    check_simple(ps_dmarc_check_published, answer("v=dmarc1; p=none", NULL),
                 PS_DNSCHECK_MISSING, "no v=DMARC1 record");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1; p=reject; sp=never", NULL), PS_DNSCHECK_FAIL,
                 "sp=never: DMARC policy must be");
    check_simple(ps_dmarc_check_published,
                 answer("v=DMARC1; p=none; np=reject", "v=spf1 -all", NULL),
                 PS_DNSCHECK_OK, "");
}

static void test_mx(void **state)
{
    (void)state;
    check_simple(ps_dnscheck_mx, answer("mail.example.test", NULL),
                 PS_DNSCHECK_OK, "");
    check_simple(ps_dnscheck_mx, answer("mail.example.test", ".", NULL),
                 PS_DNSCHECK_FAIL, "null MX");
    check_simple(ps_dnscheck_mx, answer(NULL), PS_DNSCHECK_MISSING,
                 "no MX record");
}

static void test_labels(void **state)
{
    (void)state;
    assert_string_equal(ps_dnscheck_label(PS_DNSCHECK_OK), "ok");
    assert_string_equal(ps_dnscheck_label(PS_DNSCHECK_FAIL), "FAIL");
    assert_string_equal(ps_dnscheck_label(PS_DNSCHECK_MISSING), "MISSING");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dkim_matching_records),
        cmocka_unit_test(test_dkim_wrong_records),
        cmocka_unit_test(test_spf),
        cmocka_unit_test(test_dmarc),
        cmocka_unit_test(test_mx),
        cmocka_unit_test(test_labels),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
