/* Unit tests for the bounds on ARC verification (shared/arc/verify.c,
 * chain.c): a hostile chain of up to 50 sets costs at most arc_max_verify
 * signature checks, key lookups and body hashes; keys are looked up once
 * per selector and domain; a bound reached never makes a chain pass. The
 * chains are sealed by the core's sealer (its signatures are checked by
 * dkimpy and Mail::DKIM in tests/integration/test_arc_seal.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/arc_seal.h"
#include "arc/verify_int.h"
#include "crypto/keys.h"

#define NOW     1700000000
#define MAXF    (3 * PS_ARC_MAX_INSTANCES + 3)
#define BODY    "hi\r\n"
#define BODYLEN 4

static ps_key *key;
static char *record; /* the key's DKIM record, served for every name */

/* A message: its header fields, topmost first. */
typedef struct msg {
    char *name[MAXF], *value[MAXF];
    size_t n;
} msg;

/* The key lookups a verification made. */
typedef struct dns {
    unsigned queries;
    int down; /* 1: no answer ever comes */
} dns;

static int lookup(void *arg, const char *name, ps_dns_answer *ans)
{
    dns *d = arg;

    (void)name;
    d->queries++;
    if (d->down)
        return -1;
    ans->records[0] = strdup(record);
    assert_non_null(ans->records[0]);
    ans->count = 1;
    return 0;
}

static int setup(void **state)
{
    ps_err err;

    (void)state;
    if (ps_key_generate(PS_KEY_ED25519, 0, &key, &err) != 0)
        return -1;
    return ps_key_dkim_record(key, &record, &err);
}

static int teardown(void **state)
{
    (void)state;
    ps_key_free(key);
    free(record);
    return 0;
}

static void add_top(msg *m, const char *name, char *value)
{
    memmove(m->name + 1, m->name, m->n * sizeof(char *));
    memmove(m->value + 1, m->value, m->n * sizeof(char *));
    m->name[0] = strdup(name);
    m->value[0] = value;
    m->n++;
}

/* One more ARC set on top of m, sealed with selector sel. */
static void seal_hop(msg *m, const char *sel, unsigned hop)
{
    ps_dkim_signer sg = {key, "fwd.example.com", sel};
    ps_arc_seal_out o;
    ps_err err;
    ps_arc_sealer *s = ps_arc_seal_new(NULL, &sg, NOW, &err);

    assert_non_null(s);
    for (size_t i = 0; i < m->n; i++)
        assert_int_equal(ps_arc_seal_header(s, m->name[i], m->value[i], &err),
                         0);
    assert_int_equal(ps_arc_seal_body(s, (const uint8_t *)BODY, BODYLEN, &err),
                     0);
    assert_int_equal(
        ps_arc_seal_final(s,
                          hop == 1 ? PS_ARC_SEAL_CV_NONE : PS_ARC_SEAL_CV_PASS,
                          "mx; arc=pass", &o, &err),
        0);
    assert_int_equal(o.outcome, PS_ARC_SEAL_SEALED);
    ps_arc_seal_free(s);
    add_top(m, "ARC-Authentication-Results", o.aar);
    add_top(m, "ARC-Message-Signature", o.ams);
    add_top(m, "ARC-Seal", o.as);
}

/* A chain of hops sets; each hop its own selector unless shared. */
static msg *chain(unsigned hops, int shared)
{
    msg *m = calloc(1, sizeof(*m));
    char sel[16];

    assert_non_null(m);
    add_top(m, "Subject", strdup(" hello"));
    add_top(m, "From", strdup(" Alice <alice@example.org>"));
    for (unsigned h = 1; h <= hops; h++) {
        snprintf(sel, sizeof(sel), "s%u", shared ? 1 : h);
        seal_hop(m, sel, h);
    }
    return m;
}

static void msg_free(msg *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->name[i]);
        free(m->value[i]);
    }
    free(m);
}

/* Verifies m with cap (0: the default); body hashes taken into *hashes. */
static void verify(const msg *m, unsigned cap, dns *d, ps_arc_outcome *o,
                   size_t *hashes)
{
    ps_arc_verify *v = ps_arc_verify_new();

    assert_non_null(v);
    if (cap > 0)
        ps_arc_verify_limit(v, cap);
    for (size_t i = 0; i < m->n; i++)
        ps_arc_verify_header(v, m->name[i], strlen(m->name[i]), m->value[i],
                             strlen(m->value[i]));
    ps_arc_verify_eoh(v);
    if (hashes != NULL)
        *hashes = v->nhashes;
    ps_arc_verify_body(v, BODY, BODYLEN);
    ps_arc_verify_final(v, lookup, d, o);
    ps_arc_verify_free(v);
}

/* Five hops, each its own key: one lookup per key, the AMS and AS of a
 * hop sharing it; the oldest-pass search fits in the default cap. */
static void test_keys_looked_up_once(void **state)
{
    msg *m = chain(5, 0);
    dns d = {0, 0};
    ps_arc_outcome o;

    (void)state;
    verify(m, 0, &d, &o, NULL);
    assert_int_equal(o.result, PS_ARC_RESULT_PASS);
    assert_int_equal(o.oldest_pass, 0);
    assert_int_equal(d.queries, 5);
    msg_free(m);
}

static void test_one_sealer_one_lookup(void **state)
{
    msg *m = chain(5, 1);
    dns d = {0, 0};
    ps_arc_outcome o;

    (void)state;
    verify(m, 0, &d, &o, NULL);
    assert_int_equal(o.result, PS_ARC_RESULT_PASS);
    assert_int_equal(d.queries, 1);
    msg_free(m);
}

/* N sets need N + 1 checks: with fewer allowed the chain fails before
 * any lookup; with exactly N + 1 it passes, and the older AMSs left
 * unchecked only raise the oldest-pass (never trust more). */
static void test_cap_on_chain_length(void **state)
{
    msg *m = chain(5, 0);
    dns d = {0, 0};
    ps_arc_outcome o;
    size_t hashes;

    (void)state;
    verify(m, 5, &d, &o, &hashes);
    assert_int_equal(o.result, PS_ARC_RESULT_FAIL);
    assert_non_null(strstr(o.reason, "arc_max_verify"));
    assert_int_equal(d.queries, 0);
    assert_int_equal(hashes, 0);

    d.queries = 0;
    verify(m, 6, &d, &o, &hashes);
    assert_int_equal(o.result, PS_ARC_RESULT_PASS);
    assert_int_equal(o.oldest_pass, 5);
    assert_int_equal(d.queries, 5);
    assert_int_equal(hashes, 1);

    d.queries = 0;
    verify(m, 8, &d, &o, NULL);
    assert_int_equal(o.result, PS_ARC_RESULT_PASS);
    assert_int_equal(o.oldest_pass, 3); /* AMS 4 and 3 checked */
    msg_free(m);
}

/* The longest chain RFC 8617 allows: the default cap refuses it without
 * a lookup; the highest cap checks it all, one lookup per key. */
static void test_fifty_sets(void **state)
{
    msg *m = chain(PS_ARC_MAX_INSTANCES, 0);
    dns d = {0, 0};
    ps_arc_outcome o;
    size_t hashes;

    (void)state;
    verify(m, 0, &d, &o, &hashes);
    assert_int_equal(o.result, PS_ARC_RESULT_FAIL);
    assert_int_equal(d.queries, 0);
    assert_int_equal(hashes, 0);

    verify(m, PS_ARC_MAX_VERIFY_LIMIT, &d, &o, &hashes);
    assert_int_equal(o.result, PS_ARC_RESULT_PASS);
    assert_int_equal(o.oldest_pass, 0);
    assert_int_equal(d.queries, PS_ARC_MAX_INSTANCES);
    assert_int_equal(hashes, 1); /* one c=, no l=: one hash for all */
    msg_free(m);
}

/* Fifty AMSs, each with its own l=: no more body hashes than the cap
 * leaves checks for. */
static void test_body_hashes_bounded(void **state)
{
    static char text[150][96];
    ps_arc_verify *v = ps_arc_verify_new();
    unsigned n = PS_ARC_MAX_INSTANCES;

    (void)state;
    assert_non_null(v);
    for (unsigned k = 0; k < n; k++) {
        unsigned i = n - k;

        snprintf(text[3 * k], 96, " i=%u; cv=%s; a=rsa-sha256; d=x; s=s; b=AA",
                 i, i == 1 ? "none" : "pass");
        snprintf(text[3 * k + 1], 96,
                 " i=%u; a=rsa-sha256; d=x; s=s; l=%u; h=from; bh=AA; b=AA", i,
                 i);
        snprintf(text[3 * k + 2], 96, " i=%u; mx; none", i);
        ps_arc_verify_header(v, "ARC-Seal", 8, text[3 * k],
                             strlen(text[3 * k]));
        ps_arc_verify_header(v, "ARC-Message-Signature", 21, text[3 * k + 1],
                             strlen(text[3 * k + 1]));
        ps_arc_verify_header(v, "ARC-Authentication-Results", 26,
                             text[3 * k + 2], strlen(text[3 * k + 2]));
    }
    ps_arc_verify_limit(v, PS_ARC_MAX_VERIFY_LIMIT);
    ps_arc_verify_eoh(v);
    assert_int_equal(v->nhashes, n); /* 51 checks + 49 older AMSs */
    ps_arc_verify_free(v);

    v = ps_arc_verify_new();
    assert_non_null(v);
    for (unsigned k = 45 * 3; k < 150; k++) /* the 5 sets i=5..1 */
        ps_arc_verify_header(v,
                             k % 3 == 0   ? "ARC-Seal"
                             : k % 3 == 1 ? "ARC-Message-Signature"
                                          : "ARC-Authentication-Results",
                             k % 3 == 0   ? 8
                             : k % 3 == 1 ? 21
                                          : 26,
                             text[k], strlen(text[k]));
    ps_arc_verify_limit(v, 8);
    ps_arc_verify_eoh(v);
    assert_int_equal(v->sets->count, 5);
    assert_int_equal(v->nhashes, 3); /* newest + the 2 checks left */
    ps_arc_verify_free(v);
}

/* No answer: a temperror after one lookup, never a pass. */
static void test_no_answer(void **state)
{
    msg *m = chain(10, 0);
    dns d = {0, 1};
    ps_arc_outcome o;

    (void)state;
    verify(m, 0, &d, &o, NULL);
    assert_int_equal(o.result, PS_ARC_RESULT_TEMPERROR);
    assert_int_equal(d.queries, 1);
    msg_free(m);
}

/* Out-of-range caps fall back to the default. */
static void test_limit_range(void **state)
{
    msg *m = chain(12, 1);
    dns d = {0, 0};
    ps_arc_outcome o;

    (void)state;
    verify(m, 1, &d, &o, NULL); /* 12 sets need 13 > the default 12 */
    assert_int_equal(o.result, PS_ARC_RESULT_FAIL);
    verify(m, PS_ARC_MAX_VERIFY_LIMIT + 1, &d, &o, NULL);
    assert_int_equal(o.result, PS_ARC_RESULT_FAIL);
    verify(m, 13, &d, &o, NULL);
    assert_int_equal(o.result, PS_ARC_RESULT_PASS);
    msg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_looked_up_once),
        cmocka_unit_test(test_one_sealer_one_lookup),
        cmocka_unit_test(test_cap_on_chain_length),
        cmocka_unit_test(test_fifty_sets),
        cmocka_unit_test(test_body_hashes_bounded),
        cmocka_unit_test(test_no_answer),
        cmocka_unit_test(test_limit_range),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
