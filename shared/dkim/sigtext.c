/* The text of a DKIM-Signature value: fixed tag order (v a c d s t x h bh
 * b; ARC-Message-Signature: i for v; ARC-Seal: i cv a d s t b), folded with
 * CRLF+TAB before 78 columns where RFC 6376 allows FWS: between tags, after a
 * ':' in h=, and inside the base64 of b=. */
#include "dkim/dkim_int.h"

#include <stdio.h>
#include <string.h>

#define WIDTH  78
#define TABCOL 8

typedef struct fold {
    ps_dkim_buf *b;
    size_t col;
    int err;
} fold;

static void put(fold *f, const char *s, size_t n)
{
    if (!f->err && ps_dkim_buf_add(f->b, s, n) < 0)
        f->err = 1;
    f->col += n;
}

static void newline(fold *f)
{
    put(f, "\r\n\t", 3);
    f->col = TABCOL;
}

/* A tag (or piece of one) that must not be split, preceded by a space
 * unless it starts a line or sticks to what precedes it. */
static void word(fold *f, const char *s, size_t n, int space)
{
    if (f->col + (size_t)space + n > WIDTH && f->col > TABCOL) {
        newline(f);
        space = 0;
    }
    if (space)
        put(f, " ", 1);
    put(f, s, n);
}

static void tag(fold *f, const char *name, const char *value)
{
    char w[320];
    int n = snprintf(w, sizeof(w), "%s=%s;", name, value);

    if (n < 0 || (size_t)n >= sizeof(w))
        f->err = 1;
    else
        word(f, w, (size_t)n, 1);
}

/* h=: the first name rides with "h=", each later one follows its ':'
 * and may start a new line. */
static void hlist(fold *f, const char *h, size_t len)
{
    size_t i = 0, j;
    int first = 1;
    char w[PS_DKIM_NAME_MAX + 8];

    while (i < len) {
        for (j = i; j < len && h[j] != ':'; j++)
            ;
        size_t n = (size_t)snprintf(w, sizeof(w), "%s%.*s%s", first ? "h=" : "",
                                    (int)(j - i), h + i, j < len ? ":" : ";");
        word(f, w, n < sizeof(w) ? n : sizeof(w) - 1, first);
        first = 0;
        i = j + 1;
    }
}

static const char *canon_name(ps_canon c)
{
    return c == PS_CANON_SIMPLE ? "simple" : "relaxed";
}

int ps_dkim_sigtext(const ps_dkim_sigtext_in *in, ps_dkim_buf *out)
{
    fold f = {out, strlen(in->field) + 1, 0}; /* after "NAME:" */
    char v[96];

    if (in->instance > 0) {
        snprintf(v, sizeof(v), "%u", in->instance);
        tag(&f, "i", v);
    } else
        tag(&f, "v", "1");
    if (in->cv != NULL)
        tag(&f, "cv", in->cv);
    tag(&f, "a", in->algorithm);
    if (in->cv == NULL) {
        snprintf(v, sizeof(v), "%s/%s", canon_name(in->hcanon),
                 canon_name(in->bcanon));
        tag(&f, "c", v);
    }
    tag(&f, "d", in->domain);
    tag(&f, "s", in->selector);
    snprintf(v, sizeof(v), "%lld", in->t);
    tag(&f, "t", v);
    if (in->x >= 0) {
        snprintf(v, sizeof(v), "%lld", in->x);
        tag(&f, "x", v);
    }
    if (in->cv == NULL) {
        hlist(&f, in->hlist, in->hlist_len);
        tag(&f, "bh", in->bh);
    }
    /* b= starts a line of its own, so the value that follows it begins
     * on the same line and no verifier has to guess whether FWS right
     * after "b=" belongs to the value it blanks. */
    newline(&f);
    put(&f, "b=", 2);
    return f.err ? -1 : 0;
}

int ps_dkim_sigtext_add_b(ps_dkim_buf *out, const char *b64)
{
    size_t len = strlen(b64), col = TABCOL + 2, i = 0;
    fold f = {out, col, 0};

    while (i < len) {
        size_t n = WIDTH - f.col;
        if (n > len - i)
            n = len - i;
        put(&f, b64 + i, n);
        i += n;
        if (i < len)
            newline(&f);
    }
    return f.err ? -1 : 0;
}
