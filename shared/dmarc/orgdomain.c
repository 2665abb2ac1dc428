/* Organizational domains (RFC 7489 section 3.2) through libpsl and Debian's
 * copy of the Public Suffix List, and the identifier alignment built on
 * them (section 3.1): strict is the same name, relaxed the same
 * organizational domain. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

#include "dmarc/dmarc.h"

struct ps_dmarc_psl {
    psl_ctx_t *ctx;
};

int ps_dmarc_psl_load(const char *path, ps_dmarc_psl **out, ps_err *err)
{
    ps_dmarc_psl *psl = calloc(1, sizeof(*psl));

    *out = NULL;
    if (psl == NULL)
        return ps_err_set(err, "out of memory");
    /* NULL: libpsl's newest of its built-in list and the distribution's
     * file (Debian's publicsuffix package), so an updated package counts
     * without a rebuild. */
    psl->ctx = path != NULL ? psl_load_file(path) : psl_latest(NULL);
    if (psl->ctx == NULL) {
        free(psl);
        return ps_err_set(err, "cannot load the Public Suffix List%s%s",
                          path != NULL ? " from " : "",
                          path != NULL ? path : "");
    }
    *out = psl;
    return 0;
}

void ps_dmarc_psl_free(ps_dmarc_psl *psl)
{
    if (psl == NULL)
        return;
    psl_free(psl->ctx);
    free(psl);
}

int ps_dmarc_org_domain(const ps_dmarc_psl *psl, const char *domain, char *out,
                        size_t size)
{
    char lower[PS_MAILBOX_DOMAIN_MAX + 2];
    const char *reg;
    size_t n = strlen(domain);

    if (n == 0 || n >= sizeof(lower))
        return -1;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)domain[i]);
    if (n > 0 && lower[n - 1] == '.')
        lower[n - 1] = '\0';
    /* A public suffix has no registrable domain: it is its own. */
    reg = psl_registrable_domain(psl->ctx, lower);
    if (reg == NULL)
        reg = lower;
    return snprintf(out, size, "%s", reg) < (int)size ? 0 : -1;
}

int ps_dmarc_aligned(const ps_dmarc_psl *psl, const char *a, const char *b,
                     ps_dmarc_align mode)
{
    char oa[PS_MAILBOX_DOMAIN_MAX + 1], ob[PS_MAILBOX_DOMAIN_MAX + 1];

    if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
        return 0;
    if (strcasecmp(a, b) == 0)
        return 1;
    if (mode == PS_DMARC_STRICT)
        return 0;
    return ps_dmarc_org_domain(psl, a, oa, sizeof(oa)) == 0 &&
           ps_dmarc_org_domain(psl, b, ob, sizeof(ob)) == 0 &&
           strcmp(oa, ob) == 0;
}
