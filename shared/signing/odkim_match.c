/* Lookups in OpenDKIM tables: KeyTable names, and which SigningTable
 * entries apply to a From address (exact keys for plain tables, '*'
 * patterns in file order for refile tables). */
#include "signing/odkim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ps_odkim_cmp_name(const void *name, const void *elem)
{
    return strcmp(name, (*(ps_odkim_key *const *)elem)->name);
}

const ps_odkim_key *ps_odkim_keytable_find(const ps_odkim_keytable *kt,
                                           const char *name)
{
    ps_odkim_key **hit;

    if (kt == NULL || kt->by_name == NULL)
        return NULL;
    hit = bsearch(name, kt->by_name, kt->count, sizeof(*kt->by_name),
                  ps_odkim_cmp_name);
    return hit != NULL ? *hit : NULL;
}

/* Classic greedy matching with one backtrack point (the last '*'): linear
 * in practice and never worse than pattern length times text length. */
int ps_odkim_glob(const char *pattern, const char *text)
{
    const char *star = NULL, *resume = NULL;

    while (*text != '\0') {
        if (*pattern == '*') {
            star = pattern++;
            resume = text;
        } else if (*pattern != '\0' && tolower((unsigned char)*pattern) ==
                                           tolower((unsigned char)*text)) {
            pattern++;
            text++;
        } else if (star != NULL) {
            pattern = star + 1;
            text = ++resume;
        } else {
            return 0;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

/* Every entry whose pattern equals the given one, in file order. */
static size_t ps_odkim_collect(const ps_odkim_signtable *st,
                               const char *pattern,
                               const ps_odkim_entry **found, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < st->count && n < max; i++)
        if (strcasecmp(st->entries[i].pattern, pattern) == 0)
            found[n++] = &st->entries[i];
    return n;
}

static const ps_odkim_entry *ps_odkim_first_glob(const ps_odkim_signtable *st,
                                                 const char *addr)
{
    for (size_t i = 0; i < st->count; i++)
        if (ps_odkim_glob(st->entries[i].pattern, addr))
            return &st->entries[i];
    return NULL;
}

size_t ps_odkim_signtable_match(const ps_odkim_signtable *st, const char *local,
                                const char *domain,
                                const ps_odkim_entry **found, size_t max)
{
    char addr[PS_ODKIM_MAX_MATCH + 1];
    const ps_odkim_entry *e;
    int n;

    if (st == NULL || domain == NULL || *domain == '\0')
        return 0;
    if (local != NULL && *local != '\0')
        n = snprintf(addr, sizeof(addr), "%s@%s", local, domain);
    else
        n = snprintf(addr, sizeof(addr), "%s", domain);
    if (n < 0 || (size_t)n >= sizeof(addr))
        return 0;
    if (st->refile) {
        e = ps_odkim_first_glob(st, addr);
        return e != NULL ? ps_odkim_collect(st, e->pattern, found, max) : 0;
    }
    n = (int)ps_odkim_collect(st, addr, found, max);
    return n > 0 ? (size_t)n : ps_odkim_collect(st, domain, found, max);
}
