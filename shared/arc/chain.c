/* The chain decision of RFC 8617 5.2 over sets already read and body
 * hashes already taken: structure and cv=, the newest AMS, the
 * oldest-pass, then every ARC-Seal from the newest down. */
#include "arc/verify_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dnsname.h"

typedef enum check { CHECK_PASS, CHECK_FAIL, CHECK_TEMP } check;

/* A key record already asked for in this message: sets sealed by one
 * sealer share a key, and a hostile chain must not buy a lookup per set. */
typedef struct key_seen {
    char name[PS_ARC_DOMAIN_MAX + 80];
    int answered; /* 0: the lookup got no answer */
    char *record; /* the first TXT record, NULL: none */
    EVP_PKEY *pk; /* record parsed for alg (a hop's AMS and AS share it) */
    ps_arc_alg alg;
} key_seen;

typedef struct chain_ctx {
    ps_arc_verify *v;
    ps_arc_txt_fn lookup;
    void *arg;
    ps_err why;
    unsigned checks; /* signature checks begun (v->max_verify at most) */
    key_seen *keys;  /* v->max_verify entries */
    unsigned nkeys;
} chain_ctx;

static check failed(chain_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static check failed(chain_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->why.msg, sizeof(c->why.msg), fmt, ap);
    va_end(ap);
    return CHECK_FAIL;
}

static int tag_copy(const ps_tagval *tv, const char *name, char *out,
                    size_t size)
{
    const ps_tag *t = ps_tagval_find(tv, name);

    if (t == NULL || t->value_len == 0 || t->value_len >= size)
        return -1;
    memcpy(out, t->value, t->value_len);
    out[t->value_len] = '\0';
    return 0;
}

/* The key record of name: from an earlier lookup in this message, else
 * asked for once and kept (checks never outnumber max_verify, so neither
 * do the names kept). */
static key_seen *key_record(chain_ctx *c, const char *name)
{
    ps_dns_answer ans = {0};
    key_seen *k;

    for (unsigned i = 0; i < c->nkeys; i++)
        if (strcasecmp(c->keys[i].name, name) == 0)
            return &c->keys[i];
    k = &c->keys[c->nkeys++];
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->answered = c->lookup != NULL && c->lookup(c->arg, name, &ans) == 0;
    k->record = k->answered && ans.count > 0 ? strdup(ans.records[0]) : NULL;
    if (k->answered && ans.count > 0 && k->record == NULL)
        k->answered = 0; /* out of memory: as good as no answer */
    ps_dns_answer_free(&ans);
    return k;
}

/* The key d= and s= of a signature name, fetched and parsed. */
static check fetch_key(chain_ctx *c, const ps_arc_field *f, ps_arc_alg alg,
                       EVP_PKEY **pk)
{
    char d[PS_ARC_DOMAIN_MAX + 1], s[64], name[PS_ARC_DOMAIN_MAX + 80];
    key_seen *k;
    ps_err why = {""};

    if (tag_copy(&f->tags, "d", d, sizeof(d)) < 0 ||
        tag_copy(&f->tags, "s", s, sizeof(s)) < 0 ||
        ps_dnsname_check_domain(d, NULL) < 0 ||
        ps_dnsname_check_selector(s, NULL) < 0)
        return failed(c, "no usable d= or s=");
    snprintf(name, sizeof(name), "%s._domainkey.%s", s, d);
    k = key_record(c, name);
    if (!k->answered) {
        snprintf(c->why.msg, sizeof(c->why.msg), "key %s: no DNS answer", name);
        return CHECK_TEMP;
    }
    if (k->record == NULL)
        return failed(c, "key %s: no record", name);
    if (k->pk == NULL || k->alg != alg) {
        if (ps_arc_key_parse(k->record, strlen(k->record), alg, pk, &why) < 0)
            return failed(c, "%s: %s", name, why.msg);
        EVP_PKEY_free(k->pk);
        k->pk = EVP_PKEY_up_ref(*pk) == 1 ? *pk : NULL;
        k->alg = alg;
        return CHECK_PASS;
    }
    if (EVP_PKEY_up_ref(k->pk) != 1)
        return failed(c, "out of memory");
    *pk = k->pk;
    return CHECK_PASS;
}

/* Checks b= of field f over data with the key its d=/s= name. */
static check check_sig(chain_ctx *c, const ps_arc_field *f,
                       const ps_dkim_buf *data)
{
    uint8_t sig[PS_ARC_SIG_MAX];
    size_t slen = 0;
    ps_arc_alg alg;
    EVP_PKEY *pk = NULL;
    check rc;

    if (c->checks >= c->v->max_verify)
        return failed(c, "more than %u signature checks (arc_max_verify)",
                      c->v->max_verify);
    c->checks++;
    if (ps_arc_alg_parse(ps_tagval_find(&f->tags, "a"), &alg) < 0)
        return failed(c, "a= missing or not rsa-sha256/ed25519-sha256");
    if (ps_tagval_find(&f->tags, "b") == NULL ||
        ps_arc_b64_tag(ps_tagval_find(&f->tags, "b"), sig, sizeof(sig), &slen) <
            0)
        return failed(c, "b= missing or not base64");
    rc = fetch_key(c, f, alg, &pk);
    if (rc == CHECK_PASS &&
        !ps_arc_sig_check(pk, alg, data->data, data->len, sig, slen))
        rc = failed(c, "signature does not verify");
    EVP_PKEY_free(pk);
    return rc;
}

static check check_ams(chain_ctx *c, unsigned i)
{
    const ps_arc_field *ams = &c->v->sets->set[i - 1].part[PS_ARC_AMS];
    const body_hash *h;
    uint8_t bh[PS_ARC_HASH_LEN + 8];
    size_t bhlen = 0;
    ps_canon hc, bc;
    ps_dkim_buf data = {.max = PS_ARC_MAX_HEADER_BYTES * 2};
    check rc;

    if (c->v->ams_hash[i - 1] < 0 &&
        2 * c->v->sets->count + 1 - i > c->v->max_verify)
        return failed(c, "AMS not checked: arc_max_verify reached");
    if (c->v->ams_hash[i - 1] < 0 ||
        ps_arc_canon_parse(ps_tagval_find(&ams->tags, "c"), &hc, &bc) < 0)
        return failed(c, "AMS c= or l= unreadable");
    h = &c->v->hashes[c->v->ams_hash[i - 1]];
    if (ps_tagval_find(&ams->tags, "bh") == NULL ||
        ps_arc_b64_tag(ps_tagval_find(&ams->tags, "bh"), bh, sizeof(bh),
                       &bhlen) < 0)
        return failed(c, "AMS bh= missing or not base64");
    if (h->limit != UINT64_MAX && h->taken < h->limit)
        return failed(c, "AMS l= is longer than the body");
    if (bhlen != PS_ARC_HASH_LEN || memcmp(bh, h->digest, bhlen) != 0)
        return failed(c, "AMS body hash mismatch");
    if (ps_arc_ams_data(c->v->hdrs, c->v->nfields, ams, hc, &data, &c->why) < 0)
        rc = CHECK_FAIL;
    else
        rc = check_sig(c, ams, &data);
    ps_dkim_buf_free(&data);
    return rc;
}

static check check_as(chain_ctx *c, unsigned i)
{
    const ps_arc_field *as = &c->v->sets->set[i - 1].part[PS_ARC_AS];
    ps_dkim_buf data = {.max = PS_ARC_MAX_HEADER_BYTES * 2};
    check rc;

    if (ps_arc_as_data(c->v->sets, i, &data, &c->why) < 0)
        rc = CHECK_FAIL;
    else
        rc = check_sig(c, as, &data);
    ps_dkim_buf_free(&data);
    return rc;
}

static int cv_is(const ps_arc_field *as, const char *word)
{
    const ps_tag *cv = ps_tagval_find(&as->tags, "cv");

    return cv != NULL && cv->value_len == strlen(word) &&
           strncasecmp(cv->value, word, cv->value_len) == 0;
}

/* RFC 8617 5.2 steps 2 and 3 (and 4.1.3: an AS carries no h=). */
static check check_structure(chain_ctx *c)
{
    const ps_arc_sets *s = c->v->sets;

    if (cv_is(&s->set[s->count - 1].part[PS_ARC_AS], "fail"))
        return failed(c, "the newest ARC-Seal says cv=fail");
    for (unsigned i = 1; i <= s->count; i++) {
        const ps_arc_field *as = &s->set[i - 1].part[PS_ARC_AS];

        if (!cv_is(as, i == 1 ? "none" : "pass"))
            return failed(c, "ARC-Seal i=%u: cv= is not %s", i,
                          i == 1 ? "none" : "pass");
        if (ps_tagval_find(&as->tags, "h") != NULL)
            return failed(c, "ARC-Seal i=%u has an h= tag", i);
    }
    return CHECK_PASS;
}

static void finish_hashes(ps_arc_verify *v)
{
    for (size_t k = 0; k < v->nhashes; k++) {
        unsigned int len = 0;

        ps_dkim_body_final(&v->hashes[k].body);
        EVP_DigestFinal_ex(v->hashes[k].md, v->hashes[k].digest, &len);
    }
}

static void set_result(ps_arc_outcome *out, check rc, unsigned i,
                       const chain_ctx *c)
{
    out->result =
        rc == CHECK_TEMP ? PS_ARC_RESULT_TEMPERROR : PS_ARC_RESULT_FAIL;
    out->failed_instance = i;
    snprintf(out->reason, sizeof(out->reason), "i=%u: %s", i, c->why.msg);
}

/* Steps 4 and 5: the lowest instance from which every AMS up to the
 * newest still verifies; 0 when all do. An AMS the cap leaves unchecked
 * counts as broken, which only raises the oldest-pass (trusts less). */
static unsigned oldest_pass(chain_ctx *c)
{
    unsigned n = c->v->sets->count;

    for (unsigned i = n - 1; i >= 1; i--)
        if (check_ams(c, i) != CHECK_PASS)
            return i + 1;
    return 0;
}

static void chain_free(chain_ctx *c)
{
    for (unsigned i = 0; i < c->nkeys; i++) {
        free(c->keys[i].record);
        EVP_PKEY_free(c->keys[i].pk);
    }
    free(c->keys);
}

/* Every ARC-Seal and the newest AMS must be checked: a longer chain than
 * the cap allows fails before any key is looked up. */
static check check_chain(chain_ctx *c, unsigned *at)
{
    unsigned n = c->v->sets->count;
    check rc;

    *at = n;
    if ((rc = check_structure(c)) != CHECK_PASS)
        return rc;
    if (n + 1 > c->v->max_verify)
        return failed(c,
                      "%u sets need %u signature checks, more than "
                      "arc_max_verify (%u)",
                      n, n + 1, c->v->max_verify);
    if ((rc = check_ams(c, n)) != CHECK_PASS)
        return rc;
    for (*at = n; *at >= 1; (*at)--)
        if ((rc = check_as(c, *at)) != CHECK_PASS)
            return rc;
    return CHECK_PASS;
}

void ps_arc_verify_final(ps_arc_verify *v, ps_arc_txt_fn lookup, void *arg,
                         ps_arc_outcome *out)
{
    chain_ctx c = {v, lookup, arg, {""}, 0, NULL, 0};
    unsigned n = v->sets->count, at;
    check rc;

    memset(out, 0, sizeof(*out));
    out->count = n;
    finish_hashes(v);
    if (v->overflow) {
        out->result = PS_ARC_RESULT_FAIL;
        snprintf(out->reason, sizeof(out->reason), "header too large");
        return;
    }
    if (v->sets->status == PS_ARC_SETS_NONE)
        return;
    if (v->sets->status != PS_ARC_SETS_OK) {
        out->result = PS_ARC_RESULT_FAIL;
        snprintf(out->reason, sizeof(out->reason), "sets: %s",
                 ps_arc_sets_status_name(v->sets->status));
        return;
    }
    c.keys = calloc(v->max_verify, sizeof(*c.keys));
    if (c.keys == NULL) {
        out->result = PS_ARC_RESULT_TEMPERROR;
        snprintf(out->reason, sizeof(out->reason), "out of memory");
        return;
    }
    if ((rc = check_chain(&c, &at)) != CHECK_PASS) {
        set_result(out, rc, at, &c);
    } else {
        out->oldest_pass = oldest_pass(&c);
        out->result = PS_ARC_RESULT_PASS;
    }
    chain_free(&c);
}
