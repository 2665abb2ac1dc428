/* Matching a message to its signing keys: the best [signing] pattern for
 * the From domain (exact beats *.domain, longer beats shorter), else the
 * SigningTable, else the same for the fallback domain. */
#include "signing/signrules_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/dnsname.h"

int ps_signrules_pattern_rank(const char *pattern, const char *domain)
{
    size_t np, nd;

    if (pattern == NULL || domain == NULL || *domain == '\0')
        return 0;
    if (strncmp(pattern, "*.", 2) != 0)
        return strcasecmp(pattern, domain) == 0 ? 1000 : 0;
    pattern += 1; /* ".example.com": the domain must end with it */
    np = strlen(pattern);
    nd = strlen(domain);
    if (nd <= np || strcasecmp(domain + nd - np, pattern) != 0)
        return 0;
    return (int)np; /* under 1000: names are at most 253 bytes */
}

static void ps_signrules_add(const ps_signrules *r, size_t key,
                             ps_signrules_match *m)
{
    const ps_signrules_key *k = &r->keys[key];
    int any_domain = strcmp(k->domain, "%") == 0;
    ps_err why;

    /* "%" signs as the domain looked up, which came from the message:
     * only a well-formed name may become a d= tag. */
    if (m->count == PS_DKIM_MAX_KEYS ||
        (any_domain && ps_dnsname_check_domain(m->from_domain, &why) != 0))
        return;
    m->signers[m->count].key = k->key;
    m->signers[m->count].domain = any_domain ? m->from_domain : k->domain;
    m->signers[m->count].selector = k->selector;
    m->keynames[m->count] = k->name;
    m->count++;
}

static size_t ps_signrules_by_conf(const ps_signrules *r, const char *domain,
                                   ps_signrules_match *m)
{
    const ps_conf *c = r->conf;
    size_t best = 0;
    int rank, best_rank = 0;

    for (size_t i = 0; i < c->nsigning; i++) {
        rank = ps_signrules_pattern_rank(c->signing[i].pattern, domain);
        if (rank > best_rank) {
            best_rank = rank;
            best = i;
        }
    }
    if (best_rank == 0)
        return 0;
    for (size_t k = 0; k < c->signing[best].nkeys; k++)
        ps_signrules_add(r, r->rule_keys[best][k], m);
    snprintf(m->rule, sizeof(m->rule), "[signing] %s",
             c->signing[best].pattern);
    return m->count;
}

static size_t ps_signrules_by_table(const ps_signrules *r, const char *local,
                                    const char *domain, ps_signrules_match *m)
{
    const ps_odkim_entry *found[PS_DKIM_MAX_KEYS];
    size_t n;

    if (r->st == NULL)
        return 0;
    n = ps_odkim_signtable_match(r->st, local, domain, found, PS_DKIM_MAX_KEYS);
    for (size_t i = 0; i < n; i++)
        ps_signrules_add(r, r->entry_key[found[i] - r->st->entries], m);
    if (n > 0)
        snprintf(m->rule, sizeof(m->rule), "SigningTable:%d %.200s",
                 found[0]->line, found[0]->pattern);
    return m->count;
}

static size_t ps_signrules_try(const ps_signrules *r, const char *local,
                               const char *domain, ps_signrules_match *m)
{
    if (domain == NULL || *domain == '\0')
        return 0;
    snprintf(m->from_domain, sizeof(m->from_domain), "%s", domain);
    if (ps_signrules_by_conf(r, domain, m) > 0)
        return m->count;
    return ps_signrules_by_table(r, local, domain, m);
}

size_t ps_signrules_lookup(const ps_signrules *r, const char *local,
                           const char *domain, const char *fallback_domain,
                           ps_signrules_match *m)
{
    size_t n;

    memset(m, 0, sizeof(*m));
    if (r == NULL)
        return 0;
    if (ps_signrules_try(r, local, domain, m) > 0)
        return m->count;
    if (fallback_domain == NULL ||
        (domain != NULL && strcasecmp(domain, fallback_domain) == 0))
        return 0;
    if ((n = ps_signrules_try(r, NULL, fallback_domain, m)) > 0) {
        n = strlen(m->rule);
        snprintf(m->rule + n, sizeof(m->rule) - n, " (fallback %.100s)",
                 fallback_domain);
    }
    return m->count;
}
