/* The rules "postseal dns check" applies to published records. A verdict
 * says what a receiver would do wrong with the record, in words an admin
 * can act on; the lookups themselves are dns.c's. */
#include "dns/published.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/tagval.h"

/* At most 40 bytes of a tag's value, for messages. */
#define PS_SHOW(t) (int)((t)->value_len > 40 ? 40 : (t)->value_len), (t)->value

static ps_dnscheck_state
ps_dnscheck_set(ps_dnscheck *v, ps_dnscheck_state state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ps_dnscheck_state
ps_dnscheck_set(ps_dnscheck *v, ps_dnscheck_state state, const char *fmt, ...)
{
    va_list ap;

    v->state = state;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof(v->why), fmt, ap);
    va_end(ap);
    return state;
}

static ps_dnscheck_state ps_dnscheck_ok(ps_dnscheck *v)
{
    v->state = PS_DNSCHECK_OK;
    v->why[0] = '\0';
    return PS_DNSCHECK_OK;
}

static int ps_dnscheck_tag_is(const ps_tag *t, const char *want)
{
    return t->value_len == strlen(want) &&
           strncasecmp(t->value, want, t->value_len) == 0;
}

/* Records that start with the version tag: "v=spf1" then a space or the
 * end. Case is ignored, as RFC 7208 compares this token. */
static size_t ps_dnscheck_versioned(const ps_dns_answer *ans,
                                    const char *version, const char *after,
                                    const char **first)
{
    size_t n = 0, vlen = strlen(version);

    *first = NULL;
    for (size_t i = 0; i < ans->count; i++) {
        const char *r = ans->records[i];

        if (strncasecmp(r, version, vlen) != 0 ||
            (r[vlen] != '\0' && strchr(after, r[vlen]) == NULL))
            continue;
        if (n++ == 0)
            *first = r;
    }
    return n;
}

/* ---- DKIM ---------------------------------------------------------------- */

static ps_dnscheck_state ps_dnscheck_dkim_p(const ps_tag *p, const ps_key *key,
                                            ps_dnscheck *v)
{
    char *got = ps_tagval_strip_ws(p), *want = NULL;
    ps_err err = {""};

    if (got == NULL)
        ps_dnscheck_set(v, PS_DNSCHECK_FAIL, "out of memory");
    else if (got[0] == '\0')
        ps_dnscheck_set(v, PS_DNSCHECK_FAIL,
                        "p= is empty: the key is "
                        "revoked");
    else if (ps_key_public_b64(key, &want, &err) < 0)
        ps_dnscheck_set(v, PS_DNSCHECK_FAIL, "%s", err.msg);
    else if (strcmp(got, want) != 0)
        ps_dnscheck_set(v, PS_DNSCHECK_FAIL, "p= does not match the key");
    else
        ps_dnscheck_ok(v);
    free(got);
    free(want);
    return v->state;
}

/* A record without k= is an RSA key (RFC 6376 3.6.1). */
static int ps_dnscheck_dkim_k(const ps_tag *k, const ps_key *key,
                              ps_dnscheck *v)
{
    const char *want = ps_key_dkim_k(key);

    if (k == NULL ? strcmp(want, "rsa") == 0 : ps_dnscheck_tag_is(k, want))
        return 0;
    if (k == NULL)
        ps_dnscheck_set(v, PS_DNSCHECK_FAIL,
                        "no k= (so rsa) but the key is "
                        "%s",
                        want);
    else
        ps_dnscheck_set(v, PS_DNSCHECK_FAIL, "k=%.*s but the key is %s",
                        PS_SHOW(k), want);
    return -1;
}

ps_dnscheck_state ps_dnscheck_dkim(const ps_dns_answer *ans, const ps_key *key,
                                   ps_dnscheck *v)
{
    ps_tagval tv;
    ps_err err = {""};
    const ps_tag *t;
    const char *rec = ans->count > 0 ? ans->records[0] : "";

    if (ans->count == 0)
        return ps_dnscheck_set(v, PS_DNSCHECK_MISSING, "no TXT record");
    if (ans->count > 1)
        return ps_dnscheck_set(v, PS_DNSCHECK_FAIL,
                               "%zu TXT records; "
                               "publish exactly one",
                               ans->count);
    if (ps_tagval_parse(rec, strlen(rec), &tv, &err) < 0)
        return ps_dnscheck_set(v, PS_DNSCHECK_FAIL,
                               "the record does not "
                               "parse: %s",
                               err.msg);
    t = ps_tagval_find(&tv, "v");
    if (t != NULL && !ps_dnscheck_tag_is(t, "DKIM1"))
        return ps_dnscheck_set(v, PS_DNSCHECK_FAIL, "v=%.*s is not DKIM1",
                               PS_SHOW(t));
    if (ps_dnscheck_dkim_k(ps_tagval_find(&tv, "k"), key, v) < 0)
        return v->state;
    if ((t = ps_tagval_find(&tv, "p")) == NULL)
        return ps_dnscheck_set(v, PS_DNSCHECK_FAIL, "no p= tag");
    return ps_dnscheck_dkim_p(t, key, v);
}

/* ---- SPF, MX ----------------------------------------------------- */

ps_dnscheck_state ps_dnscheck_spf(const ps_dns_answer *ans, ps_dnscheck *v)
{
    const char *first;
    size_t n = ps_dnscheck_versioned(ans, "v=spf1", " ", &first);

    if (n == 0)
        return ps_dnscheck_set(v, PS_DNSCHECK_MISSING, "no v=spf1 record");
    if (n > 1)
        return ps_dnscheck_set(v, PS_DNSCHECK_FAIL,
                               "%zu v=spf1 records: "
                               "receivers treat that as a permanent error; "
                               "merge them",
                               n);
    return ps_dnscheck_ok(v);
}

ps_dnscheck_state ps_dnscheck_mx(const ps_dns_answer *ans, ps_dnscheck *v)
{
    if (ans->count == 0)
        return ps_dnscheck_set(v, PS_DNSCHECK_MISSING,
                               "no MX record: "
                               "bounces cannot come back");
    for (size_t i = 0; i < ans->count; i++)
        if (strcmp(ans->records[i], ".") == 0)
            return ps_dnscheck_set(v, PS_DNSCHECK_FAIL,
                                   "null MX: the "
                                   "domain accepts no mail, bounces included");
    return ps_dnscheck_ok(v);
}

const char *ps_dnscheck_label(ps_dnscheck_state state)
{
    switch (state) {
    case PS_DNSCHECK_OK:
        return "ok";
    case PS_DNSCHECK_FAIL:
        return "FAIL";
    case PS_DNSCHECK_MISSING:
        return "MISSING";
    }
    return "?";
}
