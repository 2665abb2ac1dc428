/* Which header fields a DKIM signature covers (RFC 6376 5.4, 5.4.2): every
 * present field named in the sign list, repeated names taken bottom-up,
 * then one more entry per oversigned name so no further copy can be
 * added without breaking the signature. */
#include "dkim/dkim_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sel_name {
    const char *name;
    size_t len, count;
    int over;
} sel_name;

typedef struct sel {
    const ps_dkim_sign *s;
    sel_name *names;
    size_t n;
} sel;

static const char *hdr_name(const ps_dkim_sign *s, const ps_dkim_hdr *h)
{
    return s->store.data + h->name_off;
}

static int same_name(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

static void add_name(sel *sl, const char *name, size_t len)
{
    for (size_t i = 0; i < sl->n; i++)
        if (same_name(sl->names[i].name, sl->names[i].len, name, len))
            return;
    sl->names[sl->n++] = (sel_name){name, len, 0, 0};
}

/* An exact name brings itself (as configured), present or not; a prefix
 * brings the name of each field it matches, as the message spells it. */
static void add_pattern(sel *sl, const char *pat)
{
    const ps_dkim_sign *s = sl->s;
    size_t plen = strlen(pat);

    if (plen == 0 || pat[plen - 1] != '*') {
        add_name(sl, pat, plen);
        return;
    }
    for (size_t i = 0; i < s->nhdrs; i++)
        if (ps_dkim_name_match(pat, hdr_name(s, &s->hdrs[i]),
                               s->hdrs[i].name_len))
            add_name(sl, hdr_name(s, &s->hdrs[i]), s->hdrs[i].name_len);
}

static void count_names(sel *sl)
{
    const ps_dkim_sign *s = sl->s;
    const ps_dkim_params *p = &s->params;

    for (size_t i = 0; i < sl->n; i++) {
        sel_name *nm = &sl->names[i];
        for (size_t j = 0; j < s->nhdrs; j++)
            if (same_name(nm->name, nm->len, hdr_name(s, &s->hdrs[j]),
                          s->hdrs[j].name_len))
                nm->count++;
        for (size_t j = 0; j < p->noversign_headers; j++)
            if (ps_dkim_name_match(p->oversign_headers[j], nm->name, nm->len))
                nm->over = 1;
    }
}

static int list_name(ps_dkim_buf *hlist, const sel_name *nm)
{
    if (hlist->len > 0 && ps_dkim_buf_add(hlist, ":", 1) < 0)
        return -1;
    return ps_dkim_buf_add(hlist, nm->name, nm->len);
}

/* Every instance of one name, the last in the message first. */
static int emit_instances(const sel *sl, const sel_name *nm, ps_dkim_buf *hlist,
                          ps_dkim_buf *hdata)
{
    const ps_dkim_sign *s = sl->s;

    for (size_t j = s->nhdrs; j-- > 0;) {
        const ps_dkim_hdr *h = &s->hdrs[j];
        if (!same_name(nm->name, nm->len, hdr_name(s, h), h->name_len))
            continue;
        if (list_name(hlist, nm) < 0 ||
            ps_dkim_buf_add(hdata, s->store.data + h->canon_off, h->canon_len) <
                0)
            return -1;
    }
    return 0;
}

static int emit(const sel *sl, ps_dkim_buf *hlist, ps_dkim_buf *hdata)
{
    for (size_t i = 0; i < sl->n; i++)
        if (emit_instances(sl, &sl->names[i], hlist, hdata) < 0)
            return -1;
    for (size_t i = 0; i < sl->n; i++)
        if (sl->names[i].over && list_name(hlist, &sl->names[i]) < 0)
            return -1;
    return 0;
}

static int has_from(const sel *sl)
{
    for (size_t i = 0; i < sl->n; i++)
        if (same_name(sl->names[i].name, sl->names[i].len, "From", 4))
            return sl->names[i].count > 0;
    return 0;
}

int ps_dkim_select(const ps_dkim_sign *s, ps_dkim_buf *hlist,
                   ps_dkim_buf *hdata, ps_err *err)
{
    const ps_dkim_params *p = &s->params;
    sel sl = {s, NULL, 0};
    int rc = -1;

    sl.names = malloc((p->nsign_headers + p->noversign_headers + s->nhdrs) *
                      sizeof(*sl.names));
    if (sl.names == NULL)
        return ps_err_set(err, "DKIM signing: out of memory");
    for (size_t i = 0; i < p->nsign_headers; i++)
        add_pattern(&sl, p->sign_headers[i]);
    for (size_t i = 0; i < p->noversign_headers; i++)
        add_pattern(&sl, p->oversign_headers[i]);
    count_names(&sl);
    if (!has_from(&sl))
        ps_err_set(err, "DKIM signing: the message has no From header field");
    else if (emit(&sl, hlist, hdata) < 0)
        ps_err_set(err, "DKIM signing: signed header fields exceed %d bytes",
                   PS_DKIM_MAX_HEADER_BYTES);
    else
        rc = 0;
    free(sl.names);
    return rc;
}
