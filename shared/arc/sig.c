/* The bytes an ARC signature covers: for an ARC-Message-Signature the
 * header fields its h= names (DKIM rules), for an ARC-Seal the ARC sets
 * below it (RFC 8617 5.1.1); in both the signature's own field last, with
 * the value of b= emptied. */
#include "arc/arc_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int ps_arc_canon_parse(const ps_tag *c, ps_canon *hc, ps_canon *bc)
{
    const char *v = c ? c->value : "simple/simple";
    size_t n = c ? c->value_len : 13;
    const char *slash = memchr(v, '/', n);
    size_t hlen = slash ? (size_t)(slash - v) : n;
    ps_canon *out[2] = {hc, bc};
    const char *word[2] = {v, slash ? slash + 1 : "simple"};
    size_t len[2] = {hlen, slash ? n - hlen - 1 : 6};

    for (int k = 0; k < 2; k++) {
        if (len[k] == 6 && memcmp(word[k], "simple", 6) == 0)
            *out[k] = PS_CANON_SIMPLE;
        else if (len[k] == 7 && memcmp(word[k], "relaxed", 7) == 0)
            *out[k] = PS_CANON_RELAXED;
        else
            return -1;
    }
    return 0;
}

/* The field with the value of its b= tag removed (b= itself kept), then
 * canonicalised without the final CRLF. */
static int add_unsigned(const ps_arc_field *f, ps_canon canon, ps_dkim_buf *out)
{
    const ps_tag *b = ps_tagval_find(&f->tags, "b");
    const char *eq, *end, *vend = f->value + f->value_len;
    char *copy;
    size_t pre, n;
    int rc;

    if (b == NULL)
        return -1;
    for (eq = b->name + b->name_len; eq < vend && *eq != '='; eq++)
        ;
    for (end = eq; end < vend && *end != ';'; end++)
        ;
    pre = (size_t)(eq + 1 - f->value);
    copy = malloc(f->value_len + 1);
    if (copy == NULL || eq >= vend) {
        free(copy);
        return -1;
    }
    memcpy(copy, f->value, pre);
    memcpy(copy + pre, end, (size_t)(vend - end));
    n = pre + (size_t)(vend - end);
    rc = ps_dkim_canon_header(canon, f->name, f->name_len, copy, n, out);
    free(copy);
    if (rc < 0 || out->len < 2)
        return -1;
    out->len -= 2; /* no CRLF after the signature's own field */
    return 0;
}

static int name_is(const ps_arc_header *h, const char *name, size_t len)
{
    size_t hl = h->name_len;

    while (hl > 0 && is_ws(h->name[hl - 1]))
        hl--;
    return hl == len && strncasecmp(h->name, name, len) == 0;
}

/* The bottom-most field named name not used yet (RFC 6376 5.4.2); -1 if
 * there is none, which signs nothing. */
static long pick(const ps_arc_header *hdrs, size_t n, unsigned char *used,
                 const char *name, size_t len)
{
    for (size_t k = n; k-- > 0;)
        if (!used[k] && name_is(&hdrs[k], name, len)) {
            used[k] = 1;
            return (long)k;
        }
    return -1;
}

int ps_arc_ams_data(const ps_arc_header *hdrs, size_t n,
                    const ps_arc_field *ams, ps_canon canon, ps_dkim_buf *out,
                    ps_err *err)
{
    const ps_tag *h = ps_tagval_find(&ams->tags, "h");
    unsigned char *used = calloc(n + 1, 1);
    const char *p, *end;
    int more = 1, failed = 0;

    if (used == NULL)
        return ps_err_set(err, "out of memory");
    if (h == NULL || h->value_len == 0) {
        free(used);
        return ps_err_set(err, "no h= tag");
    }
    used[ams->pos] = 1; /* the AMS itself comes last, once */
    for (p = h->value, end = h->value + h->value_len; more && !failed;) {
        const char *q = memchr(p, ':', (size_t)(end - p));
        const char *s = p, *e = q ? q : end;
        long k;

        while (s < e && is_ws(*s))
            s++;
        while (e > s && is_ws(e[-1]))
            e--;
        if ((size_t)(e - s) == 8 && strncasecmp(s, "ARC-Seal", 8) == 0) {
            free(used); /* RFC 8617 4.1.2: an AMS never signs a seal */
            return ps_err_set(err, "h= names ARC-Seal");
        }
        k = pick(hdrs, n, used, s, (size_t)(e - s));
        failed = k >= 0 && ps_dkim_canon_header(canon, hdrs[k].name,
                                                hdrs[k].name_len, hdrs[k].value,
                                                hdrs[k].value_len, out) < 0;
        more = q != NULL;
        p = q ? q + 1 : end;
    }
    free(used);
    if (failed || add_unsigned(ams, canon, out) < 0)
        return ps_err_set(err, "header data too large or b= unreadable");
    return 0;
}

int ps_arc_as_data(const ps_arc_sets *sets, unsigned instance, ps_dkim_buf *out,
                   ps_err *err)
{
    static const ps_arc_part order[] = {PS_ARC_AAR, PS_ARC_AMS, PS_ARC_AS};

    for (unsigned i = 1; i <= instance; i++)
        for (int k = 0; k < 3; k++) {
            const ps_arc_field *f = &sets->set[i - 1].part[order[k]];

            if (i == instance && order[k] == PS_ARC_AS) {
                if (add_unsigned(f, PS_CANON_RELAXED, out) < 0)
                    return ps_err_set(err, "seal data too large");
            } else if (ps_dkim_canon_header(PS_CANON_RELAXED, f->name,
                                            f->name_len, f->value, f->value_len,
                                            out) < 0) {
                return ps_err_set(err, "seal data too large");
            }
        }
    return 0;
}
