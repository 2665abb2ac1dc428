/* Unit tests for shared/dmarc/: the record parser and RFC 7489's answers
 * for invalid records, organizational domains from Debian's Public Suffix
 * List, relaxed and strict alignment, the author domain of odd From
 * fields, policy discovery with its fallback, and the verdict (p=/sp=,
 * pct=, t=). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dmarc/dmarc.h"

static ps_dmarc_psl *psl;

static int setup(void **state)
{
    ps_err err = {""};

    (void)state;
    if (ps_dmarc_psl_load(NULL, &psl, &err) != 0)
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ps_dmarc_psl_free(psl);
    return 0;
}

static ps_dmarc_record rec_ok(const char *text)
{
    ps_dmarc_record r;
    ps_err err = {""};

    if (ps_dmarc_record_parse(text, strlen(text), &r, &err) != 0)
        fail_msg("\"%s\" refused: %s", text, err.msg);
    return r;
}

static void rec_refused(const char *text)
{
    ps_dmarc_record r;
    ps_err err = {""};

    if (ps_dmarc_record_parse(text, strlen(text), &r, &err) == 0)
        fail_msg("\"%s\" accepted", text);
    assert_true(err.msg[0] != '\0');
}

static void test_record_full(void **state)
{
    ps_dmarc_record r = rec_ok("v=DMARC1; p=reject; sp=quarantine; adkim=s; "
                               "aspf=s; pct=20; rua=mailto:d@example.com; "
                               "ruf=mailto:f@example.com; fo=1; ri=3600");

    (void)state;
    assert_int_equal(r.p, PS_DMARC_POLICY_REJECT);
    assert_int_equal(r.sp, PS_DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.adkim, PS_DMARC_STRICT);
    assert_int_equal(r.aspf, PS_DMARC_STRICT);
    assert_int_equal(r.pct, 20);
    assert_true(r.has_rua);
    assert_false(r.testing);
}

static void test_record_defaults(void **state)
{
    ps_dmarc_record r = rec_ok("v=DMARC1;p=Quarantine");

    (void)state;
    assert_int_equal(r.p, PS_DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.sp, PS_DMARC_POLICY_QUARANTINE); /* sp= defaults to p= */
    assert_int_equal(r.adkim, PS_DMARC_RELAXED);
    assert_int_equal(r.aspf, PS_DMARC_RELAXED);
    assert_int_equal(r.pct, 100);
    assert_false(r.has_rua);
}

/* Section 6.3: bad values of optional tags are ignored, unknown tags too. */
static void test_record_bad_optional(void **state)
{
    ps_dmarc_record r = rec_ok("v=DMARC1; p=reject; adkim=x; aspf=strict; "
                               "pct=101; future=1; t=maybe");

    (void)state;
    assert_int_equal(r.p, PS_DMARC_POLICY_REJECT);
    assert_int_equal(r.adkim, PS_DMARC_RELAXED);
    assert_int_equal(r.aspf, PS_DMARC_RELAXED);
    assert_int_equal(r.pct, 100);
    assert_false(r.testing);
    assert_int_equal(rec_ok("v=DMARC1; p=none; pct=0").pct, 0);
    assert_int_equal(rec_ok("v=DMARC1; p=none; pct=abc").pct, 100);
    assert_true(rec_ok("v=DMARC1; p=reject; t=y").testing);
}

/* Section 6.6.3: no valid p= (or a bad sp=) is p=none with a valid rua=,
 * and no DMARC without one. */
static void test_record_bad_policy(void **state)
{
    ps_dmarc_record r = rec_ok("v=DMARC1; p=bogus; rua=mailto:d@example.com");

    (void)state;
    assert_int_equal(r.p, PS_DMARC_POLICY_NONE);
    assert_true(r.p_absent);
    r = rec_ok("v=DMARC1; rua=mailto:d@example.com");
    assert_int_equal(r.p, PS_DMARC_POLICY_NONE);
    r = rec_ok("v=DMARC1; p=reject; sp=never; rua=mailto:d@example.com");
    assert_int_equal(r.p, PS_DMARC_POLICY_NONE);
    assert_int_equal(r.sp, PS_DMARC_POLICY_NONE);
    rec_refused("v=DMARC1; p=bogus");
    rec_refused("v=DMARC1");
    rec_refused("v=DMARC1; p=reject; sp=never");
    rec_refused("v=DMARC1; p=bogus; rua=nonsense");
    rec_refused("v=DMARC1; p=reject; p=none"); /* duplicate tag */
    rec_refused("v=DMARC1; p=reject; =x");
}

/* DMARCbis np=: defaults to sp= (itself p= by default); an invalid value
 * is ignored like any optional tag's. */
static void test_record_np(void **state)
{
    ps_dmarc_record r = rec_ok("v=DMARC1; p=none; sp=quarantine; np=reject");

    (void)state;
    assert_int_equal(r.np, PS_DMARC_POLICY_REJECT);
    assert_true(r.has_np);
    r = rec_ok("v=DMARC1; p=reject; sp=none");
    assert_int_equal(r.np, PS_DMARC_POLICY_NONE);
    assert_false(r.has_np);
    assert_int_equal(rec_ok("v=DMARC1; p=quarantine").np,
                     PS_DMARC_POLICY_QUARANTINE);
    r = rec_ok("v=DMARC1; p=none; np=never");
    assert_int_equal(r.np, PS_DMARC_POLICY_NONE);
    assert_false(r.has_np);
    r = rec_ok("v=DMARC1; p=bogus; np=reject; rua=mailto:d@example.com");
    assert_int_equal(r.np, PS_DMARC_POLICY_NONE); /* p= absent: all none */
}

/* What a publisher is told: receivers tolerate a missing p= with rua=,
 * "postseal dns check" does not. */
static void test_record_check(void **state)
{
    ps_dmarc_record r;
    ps_err err = {""};
    const char *t;

    (void)state;
    t = "v=DMARC1; p=reject; np=reject";
    assert_int_equal(ps_dmarc_record_check(t, strlen(t), &r, &err), 0);
    t = "v=DMARC1; rua=mailto:d@example.com";
    assert_int_equal(ps_dmarc_record_check(t, strlen(t), &r, &err), -1);
    assert_string_equal(err.msg, "no p= tag");
    t = "v=DMARC1; p=reject; sp=never; rua=mailto:d@example.com";
    assert_int_equal(ps_dmarc_record_check(t, strlen(t), &r, &err), -1);
    assert_non_null(strstr(err.msg, "sp=never: DMARC policy must be"));
    t = "v=DMARC1; p";
    assert_int_equal(ps_dmarc_record_check(t, strlen(t), &r, &err), -1);
    assert_non_null(strstr(err.msg, "does not parse"));
}

static void test_record_version(void **state)
{
    (void)state;
    assert_true(ps_dmarc_is_record("v=DMARC1; p=none", 16));
    assert_true(ps_dmarc_is_record("v = DMARC1", 10));
    assert_true(ps_dmarc_is_record("v=DMARC1", 8));
    assert_false(ps_dmarc_is_record("v=DMARC10; p=none", 17));
    assert_false(ps_dmarc_is_record("v=dmarc1; p=none", 16));
    assert_false(ps_dmarc_is_record("p=none; v=DMARC1", 16));
    assert_false(ps_dmarc_is_record("v=spf1 -all", 11));
    assert_false(ps_dmarc_is_record("", 0));
    rec_refused("v=spf1 -all");
}

static void org_is(const char *domain, const char *want)
{
    char got[256];

    assert_int_equal(ps_dmarc_org_domain(psl, domain, got, sizeof(got)), 0);
    assert_string_equal(got, want);
}

static void test_org_domain(void **state)
{
    (void)state;
    org_is("example.com", "example.com");
    org_is("mail.Example.COM", "example.com");
    org_is("a.b.example.co.uk", "example.co.uk");
    org_is("example.co.uk.", "example.co.uk");
    org_is("co.uk", "co.uk");               /* a public suffix is its own */
    org_is("x.y.test", "y.test");           /* unlisted TLD: the "*" rule */
    org_is("a.b.github.io", "b.github.io"); /* the list's private part */
}

static void test_alignment(void **state)
{
    (void)state;
    assert_true(
        ps_dmarc_aligned(psl, "example.com", "EXAMPLE.com", PS_DMARC_STRICT));
    assert_false(ps_dmarc_aligned(psl, "mail.example.com", "example.com",
                                  PS_DMARC_STRICT));
    assert_true(ps_dmarc_aligned(psl, "mail.example.com", "news.example.com",
                                 PS_DMARC_RELAXED));
    assert_false(
        ps_dmarc_aligned(psl, "example.net", "example.com", PS_DMARC_RELAXED));
    assert_false(ps_dmarc_aligned(psl, "a.co.uk", "b.co.uk", PS_DMARC_RELAXED));
    assert_false(ps_dmarc_aligned(psl, "co.uk", "b.co.uk", PS_DMARC_RELAXED));
    assert_false(ps_dmarc_aligned(psl, NULL, "example.com", PS_DMARC_RELAXED));
    assert_false(ps_dmarc_aligned(psl, "", "example.com", PS_DMARC_RELAXED));
}

static ps_dmarc_author author(const char *const *from, size_t n, char *dom)
{
    ps_err why = {""};
    ps_dmarc_author a = ps_dmarc_author_domain(from, n, dom, &why);

    assert_true(a == PS_DMARC_AUTHOR_OK || why.msg[0] != '\0');
    return a;
}

static void test_author_domain(void **state)
{
    char dom[PS_MAILBOX_DOMAIN_MAX + 1];
    const char *one[] = {" Alice <alice@Mail.Example.com>"};
    const char *same[] = {" a@example.com, \"B\" <b@example.com>"};
    const char *mixed[] = {" a@example.com, b@example.net"};
    const char *two[] = {" a@example.com", " b@example.com"};
    const char *bad[] = {" undisclosed"};

    (void)state;
    assert_int_equal(author(one, 1, dom), PS_DMARC_AUTHOR_OK);
    assert_string_equal(dom, "mail.example.com");
    assert_int_equal(author(same, 1, dom), PS_DMARC_AUTHOR_OK);
    assert_string_equal(dom, "example.com");
    assert_int_equal(author(mixed, 1, dom), PS_DMARC_AUTHOR_MANY_DOMAINS);
    assert_int_equal(author(two, 2, dom), PS_DMARC_AUTHOR_MANY_FIELDS);
    assert_int_equal(author(NULL, 0, dom), PS_DMARC_AUTHOR_NO_FROM);
    assert_int_equal(author(bad, 1, dom), PS_DMARC_AUTHOR_UNPARSABLE);
}

/* ---- discovery over a table of fake DNS answers ------------------------ */

typedef struct fake_rr {
    const char *name;
    const char *txt[3]; /* NULL-terminated; "!" as the first: lookup fails */
} fake_rr;

static const fake_rr zone[] = {
    {"_dmarc.example.com", {"v=DMARC1; p=reject; sp=quarantine", NULL}},
    {"_dmarc.own.example.com", {"v=DMARC1; p=none", NULL}},
    {"_dmarc.strict.org", {"v=DMARC1; p=reject; adkim=s; aspf=s", NULL}},
    {"_dmarc.two.org", {"v=DMARC1; p=reject", "v=DMARC1; p=none"}},
    {"_dmarc.bad.org", {"v=DMARC1; p=bogus", NULL}},
    {"_dmarc.other.org", {"v=spf1 -all", "some text", NULL}},
    {"_dmarc.down.org", {"!", NULL}},
    {"_dmarc.sub.down2.org", {"!", NULL}},
    {"_dmarc.half.org", {"v=DMARC1; p=reject; pct=50", NULL}},
    {"_dmarc.test.org", {"v=DMARC1; p=reject; t=y", NULL}},
    {"_dmarc.np.org", {"v=DMARC1; p=reject; sp=quarantine; np=reject", NULL}},
    {"_dmarc.nonp.org", {"v=DMARC1; p=reject; sp=none", NULL}},
};

/* Existence (A, AAAA, MX) for np=: names listed here exist through the
 * record type given; "down.np.org" fails; others are NXDOMAIN. */
typedef struct fake_host {
    const char *name;
    int type; /* the one type with a record; 0: NODATA for all */
} fake_host;

static const fake_host hosts[] = {
    {"www.np.org", PS_DNS_TYPE_A},
    {"v6.np.org", PS_DNS_TYPE_AAAA},
    {"mx.np.org", PS_DNS_TYPE_MX},
    {"empty.np.org", 0},
};

typedef struct rr_calls {
    int n;
    int types[8];
} rr_calls;

static int fake_rr_lookup(void *arg, const char *name, int type,
                          ps_dns_answer *ans)
{
    rr_calls *calls = arg;

    calls->types[calls->n++ % 8] = type;
    if (strcmp(name, "down.np.org") == 0)
        return -1;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (strcmp(hosts[i].name, name) != 0)
            continue;
        if (hosts[i].type == type)
            ans->records[ans->count++] = strdup("x");
        return 0;
    }
    ans->nxdomain = 1;
    return 0;
}

static int fake_lookup(void *arg, const char *name, ps_dns_answer *ans)
{
    int *calls = arg;

    (*calls)++;
    for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
        if (strcmp(zone[i].name, name) != 0)
            continue;
        if (zone[i].txt[0] != NULL && strcmp(zone[i].txt[0], "!") == 0)
            return -1;
        for (size_t k = 0; k < 3 && zone[i].txt[k] != NULL; k++)
            ans->records[ans->count++] = strdup(zone[i].txt[k]);
        return 0;
    }
    ans->nxdomain = 1;
    return 0;
}

static ps_dmarc_policy_found discover(const char *domain, int *calls)
{
    ps_dmarc_policy_found f;
    ps_err why = {""};

    *calls = 0;
    ps_dmarc_discover(psl, domain, fake_lookup, calls, &f, &why);
    assert_true(f.found == PS_DMARC_FOUND || f.found == PS_DMARC_NOT_FOUND ||
                why.msg[0] != '\0');
    return f;
}

static void test_discover(void **state)
{
    int calls;
    ps_dmarc_policy_found f = discover("example.com", &calls);

    (void)state;
    assert_int_equal(f.found, PS_DMARC_FOUND);
    assert_false(f.at_org);
    assert_int_equal(calls, 1);
    f = discover("a.b.example.com", &calls); /* fallback to the org domain */
    assert_int_equal(f.found, PS_DMARC_FOUND);
    assert_true(f.at_org);
    assert_int_equal(calls, 2);
    f = discover("own.example.com", &calls); /* its own record wins */
    assert_int_equal(f.found, PS_DMARC_FOUND);
    assert_false(f.at_org);
    assert_int_equal(f.rec.p, PS_DMARC_POLICY_NONE);
    assert_int_equal(discover("nothing.net", &calls).found, PS_DMARC_NOT_FOUND);
    assert_int_equal(calls, 1);
    assert_int_equal(discover("other.org", &calls).found, PS_DMARC_NOT_FOUND);
    assert_int_equal(discover("two.org", &calls).found, PS_DMARC_BAD_RECORD);
    assert_int_equal(discover("bad.org", &calls).found, PS_DMARC_BAD_RECORD);
    assert_int_equal(discover("x.bad.org", &calls).found, PS_DMARC_BAD_RECORD);
    assert_int_equal(discover("down.org", &calls).found, PS_DMARC_DNS_ERROR);
    /* the first lookup failing ends discovery: no fallback guess */
    assert_int_equal(discover("sub.down2.org", &calls).found,
                     PS_DMARC_DNS_ERROR);
    assert_int_equal(calls, 1);
}

static ps_dmarc_verdict verdict(const char *domain, const char *dkim,
                                const char *spf, int roll)
{
    int calls;
    ps_dmarc_policy_found f = discover(domain, &calls);
    const char *d[] = {"unrelated.net", dkim};
    ps_dmarc_auth auth = {d, dkim != NULL ? 2 : 1, spf};
    ps_dmarc_verdict v;

    ps_dmarc_evaluate(psl, domain, &f, &auth, roll, &v);
    return v;
}

static void test_evaluate(void **state)
{
    ps_dmarc_verdict v;

    (void)state;
    v = verdict("example.com", "mail.example.com", NULL, 0);
    assert_int_equal(v.result, PS_DMARC_PASS);
    assert_true(v.dkim_aligned);
    assert_int_equal(v.requested, PS_DMARC_POLICY_REJECT);
    assert_int_equal(v.apply, PS_DMARC_POLICY_NONE);
    v = verdict("example.com", NULL, "bounce.example.com", 0);
    assert_int_equal(v.result, PS_DMARC_PASS);
    assert_true(v.spf_aligned);
    v = verdict("example.com", "example.net", "example.org", 0);
    assert_int_equal(v.result, PS_DMARC_FAIL);
    assert_int_equal(v.apply, PS_DMARC_POLICY_REJECT);
    /* a subdomain under the org record gets sp= */
    v = verdict("news.example.com", NULL, NULL, 0);
    assert_int_equal(v.result, PS_DMARC_FAIL);
    assert_int_equal(v.requested, PS_DMARC_POLICY_QUARANTINE);
    assert_int_equal(v.apply, PS_DMARC_POLICY_QUARANTINE);
    assert_true(v.by_sp);
    assert_false(verdict("example.com", NULL, NULL, 0).by_sp);
    /* strict: a subdomain's signature is not aligned */
    v = verdict("strict.org", "mail.strict.org", "mail.strict.org", 0);
    assert_int_equal(v.result, PS_DMARC_FAIL);
    assert_int_equal(verdict("strict.org", "strict.org", NULL, 0).result,
                     PS_DMARC_PASS);
    assert_int_equal(verdict("nothing.net", NULL, NULL, 0).result,
                     PS_DMARC_NONE);
    assert_int_equal(verdict("down.org", NULL, NULL, 0).result,
                     PS_DMARC_TEMPERROR);
    assert_int_equal(verdict("bad.org", "bad.org", NULL, 0).result,
                     PS_DMARC_PERMERROR);
}

/* The verdict for domain after discovery and the np= existence check;
 * calls gets the existence lookups made. */
static ps_dmarc_verdict verdict_np(const char *domain, rr_calls *calls)
{
    int n;
    ps_dmarc_policy_found f = discover(domain, &n);
    const char *d[] = {"unrelated.net"};
    ps_dmarc_auth auth = {d, 1, NULL};
    ps_dmarc_verdict v;

    memset(calls, 0, sizeof(*calls));
    ps_dmarc_check_existence(domain, fake_rr_lookup, calls, &f);
    ps_dmarc_evaluate(psl, domain, &f, &auth, 0, &v);
    return v;
}

static void test_np(void **state)
{
    rr_calls calls;
    ps_dmarc_verdict v;

    (void)state;
    /* NXDOMAIN at the first query: np=, one lookup */
    v = verdict_np("gone.np.org", &calls);
    assert_int_equal(v.requested, PS_DMARC_POLICY_REJECT);
    assert_true(v.by_np);
    assert_false(v.by_sp);
    assert_string_equal(ps_dmarc_policy_tag(&v), "np");
    assert_int_equal(v.apply, PS_DMARC_POLICY_REJECT);
    assert_int_equal(calls.n, 1);
    assert_int_equal(calls.types[0], PS_DNS_TYPE_A);
    /* a record of any of the three types: it exists, sp= */
    v = verdict_np("www.np.org", &calls);
    assert_int_equal(v.requested, PS_DMARC_POLICY_QUARANTINE);
    assert_string_equal(ps_dmarc_policy_tag(&v), "sp");
    v = verdict_np("v6.np.org", &calls);
    assert_true(v.by_sp);
    assert_int_equal(calls.n, 2);
    v = verdict_np("mx.np.org", &calls);
    assert_true(v.by_sp);
    assert_int_equal(calls.n, 3);
    assert_int_equal(calls.types[2], PS_DNS_TYPE_MX);
    /* NODATA for all three: non-existent as DMARCbis defines it */
    v = verdict_np("empty.np.org", &calls);
    assert_true(v.by_np);
    assert_int_equal(calls.n, 3);
    /* a failed lookup does not make the stricter np= apply */
    v = verdict_np("down.np.org", &calls);
    assert_true(v.by_sp);
    /* the org domain itself: p=, no lookups */
    v = verdict_np("np.org", &calls);
    assert_string_equal(ps_dmarc_policy_tag(&v), "p");
    assert_int_equal(calls.n, 0);
    /* no np= (np equals sp): no lookups at all */
    v = verdict_np("gone.nonp.org", &calls);
    assert_true(v.by_sp);
    assert_int_equal(v.requested, PS_DMARC_POLICY_NONE);
    assert_int_equal(calls.n, 0);
}

static void test_pct_and_testing(void **state)
{
    ps_dmarc_verdict v = verdict("half.org", NULL, NULL, 49);

    (void)state;
    assert_int_equal(v.apply, PS_DMARC_POLICY_REJECT);
    assert_false(v.sampled_out);
    v = verdict("half.org", NULL, NULL, 50);
    assert_int_equal(v.apply, PS_DMARC_POLICY_QUARANTINE);
    assert_true(v.sampled_out);
    assert_int_equal(v.requested, PS_DMARC_POLICY_REJECT);
    v = verdict("test.org", NULL, NULL, 0);
    assert_int_equal(v.apply, PS_DMARC_POLICY_QUARANTINE);
    assert_int_equal(v.result, PS_DMARC_FAIL);
}

static void test_words(void **state)
{
    (void)state;
    assert_string_equal(ps_dmarc_result_word(PS_DMARC_PASS), "pass");
    assert_string_equal(ps_dmarc_result_word(PS_DMARC_TEMPERROR), "temperror");
    assert_string_equal(ps_dmarc_result_word(PS_DMARC_PERMERROR), "permerror");
    assert_string_equal(ps_dmarc_policy_word(PS_DMARC_POLICY_REJECT), "reject");
    assert_string_equal(ps_dmarc_policy_word(PS_DMARC_POLICY_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_full),
        cmocka_unit_test(test_record_defaults),
        cmocka_unit_test(test_record_bad_optional),
        cmocka_unit_test(test_record_bad_policy),
        cmocka_unit_test(test_record_np),
        cmocka_unit_test(test_record_check),
        cmocka_unit_test(test_record_version),
        cmocka_unit_test(test_org_domain),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_author_domain),
        cmocka_unit_test(test_discover),
        cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_np),
        cmocka_unit_test(test_pct_and_testing),
        cmocka_unit_test(test_words),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
