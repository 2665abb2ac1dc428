/* DKIM header canonicalisation (RFC 6376 sections 3.4.1 and 3.4.2) and the
 * bounded buffer the signer keeps canonical header fields in. Each field
 * is canonicalised once, when it arrives, and hashed from this form. */
#include "dkim/canon_int.h"

#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes without writing them. */
static int buf_reserve(ps_dkim_buf *b, size_t n)
{
    size_t want, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return -1;
    want = b->len + n;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ps_dkim_buf_add(ps_dkim_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int ps_dkim_buf_addstr(ps_dkim_buf *b, const char *s)
{
    return ps_dkim_buf_add(b, s, strlen(s));
}

void ps_dkim_buf_free(ps_dkim_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Simple: the bytes as they are, except that a bare LF is the MTA's
 * spelling of CRLF and is written as one. */
static size_t canon_simple(const char *name, size_t nlen, const char *value,
                           size_t vlen, char *o)
{
    size_t k = 0;

    memcpy(o, name, nlen);
    k = nlen;
    o[k++] = ':';
    for (size_t i = 0; i < vlen; i++) {
        if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
            o[k++] = '\r';
        o[k++] = value[i];
    }
    o[k++] = '\r';
    o[k++] = '\n';
    return k;
}

/* Relaxed: lowercase name without the whitespace before ':'; the value
 * unfolded (CRLF and bare LF dropped), runs of WSP squeezed to one SP,
 * none at either end. A lone CR is kept: it is not a line end. */
static size_t canon_relaxed(const char *name, size_t nlen, const char *value,
                            size_t vlen, char *o)
{
    size_t k = 0, start;
    int space = 0;

    while (nlen > 0 && is_wsp(name[nlen - 1]))
        nlen--;
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        o[k++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    o[k++] = ':';
    start = k;
    for (size_t i = 0; i < vlen; i++) {
        char c = value[i];
        if (c == '\n' || (c == '\r' && i + 1 < vlen && value[i + 1] == '\n'))
            continue;
        if (is_wsp(c)) {
            space = 1;
            continue;
        }
        if (space && k > start)
            o[k++] = ' ';
        space = 0;
        o[k++] = c;
    }
    o[k++] = '\r';
    o[k++] = '\n';
    return k;
}

/* Bytes simple adds: a CR before each bare LF. */
static size_t bare_lfs(const char *value, size_t vlen)
{
    size_t n = 0;

    for (size_t i = 0; i < vlen; i++)
        if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
            n++;
    return n;
}

int ps_dkim_canon_header(ps_canon canon, const char *name, size_t nlen,
                         const char *value, size_t vlen, ps_dkim_buf *out)
{
    size_t extra = canon == PS_CANON_SIMPLE ? bare_lfs(value, vlen) : 0;

    if (vlen > SIZE_MAX / 2 - nlen - 3 ||
        buf_reserve(out, nlen + 1 + vlen + extra + 2) < 0)
        return -1;
    if (canon == PS_CANON_SIMPLE)
        out->len += canon_simple(name, nlen, value, vlen, out->data + out->len);
    else
        out->len +=
            canon_relaxed(name, nlen, value, vlen, out->data + out->len);
    return 0;
}
