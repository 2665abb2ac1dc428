/* What local policy reads from an ARC chain that passed: who sealed each
 * instance, what each sealer's ARC-Authentication-Results recorded, and
 * which trusted sealer, if any, may vouch for a DMARC failure. */
#include "arc/arc_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int ps_arc_sealer_domain(const ps_arc_sets *s, unsigned instance, char *out)
{
    const ps_tag *d;

    if (instance < 1 || instance > s->count)
        return -1;
    d = ps_tagval_find(&s->set[instance - 1].part[PS_ARC_AS].tags, "d");
    if (d == NULL || d->value_len == 0 || d->value_len > PS_ARC_DOMAIN_MAX)
        return -1;
    for (size_t k = 0; k < d->value_len; k++)
        out[k] = (char)tolower((unsigned char)d->value[k]);
    out[d->value_len] = '\0';
    return 0;
}

/* [CFWS] from i; a comment may hold ';' and '=' that are not syntax. */
static size_t skip_cfws(const char *v, size_t i, size_t n)
{
    int depth = 0;

    for (; i < n; i++) {
        if (v[i] == '\\' && depth > 0 && i + 1 < n)
            i++;
        else if (v[i] == '(')
            depth++;
        else if (v[i] == ')' && depth > 0)
            depth--;
        else if (depth == 0 && !strchr(" \t\r\n", v[i]))
            break;
    }
    return i;
}

static size_t token_end(const char *v, size_t i, size_t n)
{
    while (i < n && (isalnum((unsigned char)v[i]) || v[i] == '-' ||
                     v[i] == '_' || v[i] == '.'))
        i++;
    return i;
}

/* The next ';' outside comments and quoted strings, or n. */
static size_t next_semicolon(const char *v, size_t i, size_t n)
{
    int depth = 0, quoted = 0;

    for (; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n)
            i++;
        else if (v[i] == '"' && depth == 0)
            quoted = !quoted;
        else if (!quoted && v[i] == '(')
            depth++;
        else if (!quoted && v[i] == ')' && depth > 0)
            depth--;
        else if (!quoted && depth == 0 && v[i] == ';')
            break;
    }
    return i;
}

/* resinfo = [CFWS] method [ "/" version ] [CFWS] "=" [CFWS] result. */
static int resinfo_passed(const char *v, size_t i, size_t n, const char *method)
{
    size_t m = skip_cfws(v, i, n), me = token_end(v, m, n), r, re;

    if (me - m != strlen(method) || strncasecmp(v + m, method, me - m) != 0)
        return 0;
    if (me < n && v[me] == '/')
        me = token_end(v, me + 1, n);
    me = skip_cfws(v, me, n);
    if (me >= n || v[me] != '=')
        return 0;
    r = skip_cfws(v, me + 1, n);
    re = token_end(v, r, n);
    return re - r == 4 && strncasecmp(v + r, "pass", 4) == 0;
}

int ps_arc_aar_passed(const ps_arc_sets *s, unsigned instance,
                      const char *method)
{
    const ps_arc_field *f;
    size_t i, n;
    int seg = 0;

    if (instance < 1 || instance > s->count)
        return 0;
    f = &s->set[instance - 1].part[PS_ARC_AAR];
    n = f->value_len;
    /* segment 0 is "i=N", 1 the authserv-id, then one resinfo each */
    for (i = 0; i < n; i = next_semicolon(f->value, i, n) + 1, seg++)
        if (seg >= 2 && resinfo_passed(f->value, i, n, method))
            return 1;
    return 0;
}

static int is_trusted(const char *domain, const char *const *trusted,
                      size_t ntrusted)
{
    for (size_t k = 0; k < ntrusted; k++)
        if (strcasecmp(domain, trusted[k]) == 0)
            return 1;
    return 0;
}

unsigned ps_arc_trusted_instance(const ps_arc_sets *s, const ps_arc_outcome *o,
                                 const char *const *trusted, size_t ntrusted)
{
    char domain[PS_ARC_DOMAIN_MAX + 1];
    unsigned first;

    if (o->result != PS_ARC_RESULT_PASS)
        return 0;
    first = o->oldest_pass == 0 ? 1 : o->oldest_pass;
    for (unsigned i = first; i <= o->count && i <= s->count; i++)
        if (ps_arc_sealer_domain(s, i, domain) == 0 &&
            is_trusted(domain, trusted, ntrusted) &&
            ps_arc_aar_passed(s, i, "dmarc"))
            return i;
    return 0;
}
