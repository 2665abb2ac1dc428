/* Grouping a day's records for reports (report.h): sorted by policy
 * domain, then by row key, so that each domain is one run of entries and
 * each row of its report one run within it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmarc/report.h"

static int dmrep_cmp(const void *a, const void *b)
{
    const ps_dmrep_entry *x = a, *y = b;
    int c = strcasecmp(x->h.policy_domain, y->h.policy_domain);

    if (c == 0)
        c = strcmp(x->key, y->key);
    if (c == 0) /* stable by time, so "latest" is well defined */
        c = (x->h.when > y->h.when) - (x->h.when < y->h.when);
    return c;
}

int ps_dmrep_group(ps_dmrep_set *set, ps_dmrep_domain **out, size_t *n,
                   ps_err *err)
{
    ps_dmrep_domain *d = NULL;
    size_t nd = 0;

    *out = NULL;
    *n = 0;
    if (set->n == 0)
        return 0;
    qsort(set->v, set->n, sizeof(set->v[0]), dmrep_cmp);
    for (size_t i = 0; i < set->n; i++) {
        const ps_dmrep_entry *e = &set->v[i];
        if (nd == 0 || strcasecmp(d[nd - 1].domain, e->h.policy_domain) != 0) {
            ps_dmrep_domain *p = reallocarray(d, nd + 1, sizeof(*d));
            if (p == NULL) {
                free(d);
                return ps_err_set(err, "out of memory");
            }
            d = p;
            d[nd++] = (ps_dmrep_domain){e->h.policy_domain, e, 0, &e->h};
        }
        d[nd - 1].n++;
        if (e->h.when >= d[nd - 1].latest->when)
            d[nd - 1].latest = &e->h;
    }
    *out = d;
    *n = nd;
    return 0;
}
