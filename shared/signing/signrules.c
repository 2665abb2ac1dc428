/* Building the signing rules: every key of [keys] and of the KeyTable is
 * parsed here, once, and every name a rule uses is resolved to an index,
 * so a lookup per message is plain string matching. */
#include "signing/signrules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void ps_signrules_set_key(ps_signrules_key *k, const char *name,
                                 const char *domain, const char *selector,
                                 const char *keyfile)
{
    k->name = name;
    k->domain = domain;
    k->selector = selector;
    k->keyfile = keyfile;
    k->key = NULL;
}

static int ps_signrules_collect_keys(ps_signrules *r, ps_err *err)
{
    const ps_conf *c = r->conf;
    size_t nkt = r->kt != NULL ? r->kt->count : 0;

    r->keys = calloc(c->nkeys + nkt + 1, sizeof(*r->keys));
    if (r->keys == NULL)
        return ps_err_set(err, "out of memory");
    for (size_t i = 0; i < c->nkeys; i++)
        ps_signrules_set_key(&r->keys[r->nkeys++], c->keys[i].name,
                             c->keys[i].domain, c->keys[i].selector,
                             c->keys[i].keyfile);
    for (size_t i = 0; i < nkt; i++)
        ps_signrules_set_key(&r->keys[r->nkeys++], r->kt->keys[i].name,
                             r->kt->keys[i].domain, r->kt->keys[i].selector,
                             r->kt->keys[i].keyfile);
    return 0;
}

/* Where a key was defined, for messages. */
static void ps_signrules_where(const ps_signrules *r, size_t i, char *buf,
                               size_t size)
{
    if (i < r->conf->nkeys)
        snprintf(buf, size, "%s:%d", r->conf->path, r->conf->keys[i].line);
    else
        snprintf(buf, size, "%s:%d", r->kt->path,
                 r->kt->keys[i - r->conf->nkeys].line);
}

static int ps_signrules_load_keys(ps_signrules *r, ps_err *err)
{
    char where[PS_ERR_MAX];
    ps_err why = {""};

    for (size_t i = 0; i < r->nkeys; i++)
        if (ps_key_load(r->keys[i].keyfile, &r->keys[i].key, &why) != 0) {
            ps_signrules_where(r, i, where, sizeof(where));
            return ps_err_set(err, "%.200s: key '%s': %s", where,
                              r->keys[i].name, why.msg);
        }
    return 0;
}

static size_t ps_signrules_find_conf_key(const ps_signrules *r,
                                         const char *name)
{
    for (size_t i = 0; i < r->conf->nkeys; i++)
        if (strcmp(r->keys[i].name, name) == 0)
            return i;
    return (size_t)-1;
}

static int ps_signrules_resolve_conf(ps_signrules *r, ps_err *err)
{
    const ps_conf *c = r->conf;

    r->rule_keys = calloc(c->nsigning + 1, sizeof(*r->rule_keys));
    if (r->rule_keys == NULL)
        return ps_err_set(err, "out of memory");
    for (size_t i = 0; i < c->nsigning; i++) {
        if (c->signing[i].nkeys > PS_DKIM_MAX_KEYS)
            return ps_err_set(err,
                              "%s:%d: '%s' names %zu keys, at most %d "
                              "sign one message",
                              c->path, c->signing[i].line,
                              c->signing[i].pattern, c->signing[i].nkeys,
                              PS_DKIM_MAX_KEYS);
        for (size_t k = 0; k < c->signing[i].nkeys; k++) {
            r->rule_keys[i][k] =
                ps_signrules_find_conf_key(r, c->signing[i].keys[k]);
            if (r->rule_keys[i][k] == (size_t)-1)
                return ps_err_set(err, "%s:%d: no key '%s' in [keys]", c->path,
                                  c->signing[i].line, c->signing[i].keys[k]);
        }
    }
    return 0;
}

/* By pattern, then by line, so the line blamed is always the same. */
static int ps_signrules_cmp_entry(const void *a, const void *b)
{
    const ps_odkim_entry *x = *(const ps_odkim_entry *const *)a;
    const ps_odkim_entry *y = *(const ps_odkim_entry *const *)b;
    int c = strcasecmp(x->pattern, y->pattern);

    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* The same pattern on more lines adds keys; more than one message can
 * carry is refused here rather than silently cut at signing time. Sorted
 * copies find the runs in n log n, whatever the size of the table. */
static int ps_signrules_check_runs(const ps_odkim_signtable *st, ps_err *err)
{
    const ps_odkim_entry **v = calloc(st->count + 1, sizeof(*v));
    size_t run = 1;
    int rc = 0;

    if (v == NULL)
        return ps_err_set(err, "out of memory");
    for (size_t i = 0; i < st->count; i++)
        v[i] = &st->entries[i];
    qsort(v, st->count, sizeof(*v), ps_signrules_cmp_entry);
    for (size_t i = 1; i < st->count && rc == 0; i++) {
        run = strcasecmp(v[i]->pattern, v[i - 1]->pattern) == 0 ? run + 1 : 1;
        if (run > PS_DKIM_MAX_KEYS)
            rc = ps_err_set(err, "%s:%d: more than %d keys for '%.80s'",
                            st->path, v[i]->line, PS_DKIM_MAX_KEYS,
                            v[i]->pattern);
    }
    free(v);
    return rc;
}

static int ps_signrules_resolve_table(ps_signrules *r, ps_err *err)
{
    const ps_odkim_key *k;

    if (r->st == NULL)
        return 0;
    if (r->kt == NULL)
        return ps_err_set(err, "%s: a SigningTable needs a KeyTable",
                          r->st->path);
    if (ps_signrules_check_runs(r->st, err) != 0)
        return -1;
    r->entry_key = calloc(r->st->count + 1, sizeof(*r->entry_key));
    if (r->entry_key == NULL)
        return ps_err_set(err, "out of memory");
    for (size_t i = 0; i < r->st->count; i++) {
        k = ps_odkim_keytable_find(r->kt, r->st->entries[i].keyname);
        if (k == NULL)
            return ps_err_set(err, "%s:%d: key '%.80s' is not in the KeyTable",
                              r->st->path, r->st->entries[i].line,
                              r->st->entries[i].keyname);
        r->entry_key[i] = r->conf->nkeys + (size_t)(k - r->kt->keys);
    }
    return 0;
}

int ps_signrules_build(const ps_conf *conf, ps_odkim_keytable *kt,
                       ps_odkim_signtable *st, int flags, ps_signrules **out,
                       ps_err *err)
{
    ps_signrules *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL) {
        ps_odkim_keytable_free(kt);
        ps_odkim_signtable_free(st);
        return ps_err_set(err, "out of memory");
    }
    r->conf = conf;
    r->kt = kt;
    r->st = st;
    if (ps_signrules_collect_keys(r, err) != 0 ||
        ps_signrules_resolve_conf(r, err) != 0 ||
        ps_signrules_resolve_table(r, err) != 0 ||
        (!(flags & PS_SIGNRULES_NO_KEYS) &&
         ps_signrules_load_keys(r, err) != 0)) {
        ps_signrules_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int ps_signrules_load(const ps_conf *conf, int flags, ps_signrules **out,
                      ps_err *err)
{
    ps_odkim_keytable *kt = NULL;
    ps_odkim_signtable *st = NULL;

    *out = NULL;
    if (conf->milter.keytable.value != NULL &&
        ps_odkim_keytable_load(conf->milter.keytable.value, &kt, err) != 0)
        return -1;
    if (conf->milter.signingtable.value != NULL &&
        ps_odkim_signtable_load(conf->milter.signingtable.value, &st, err) !=
            0) {
        ps_odkim_keytable_free(kt);
        return -1;
    }
    return ps_signrules_build(conf, kt, st, flags, out, err);
}

size_t ps_signrules_nkeys(const ps_signrules *r)
{
    return r != NULL ? r->nkeys : 0;
}

int ps_signrules_key_info(const ps_signrules *r, size_t i, const char **name,
                          const char **keyfile, const ps_key **key)
{
    if (r == NULL || i >= r->nkeys)
        return -1;
    *name = r->keys[i].name;
    *keyfile = r->keys[i].keyfile;
    *key = r->keys[i].key;
    return 0;
}

void ps_signrules_free(ps_signrules *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nkeys; i++)
        ps_key_free(r->keys[i].key);
    free(r->keys);
    free(r->rule_keys);
    free(r->entry_key);
    ps_odkim_keytable_free(r->kt);
    ps_odkim_signtable_free(r->st);
    free(r);
}
