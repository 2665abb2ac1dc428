/* Secret sets for rotation: one secret per line of a private file, the first
 * signs and all verify. Secrets are wiped on free and never put in errors. */
#include "crypto/secrets.h"

#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "base/secfile.h"

typedef struct secret {
    uint8_t *data;
    size_t len;
    size_t cap; /* bytes allocated, all wiped on free */
} secret;

struct ps_secrets {
    secret items[PS_SECRETS_MAX];
    size_t count;
};

/* One line of the file, its line number, and where errors go. */
typedef struct line {
    const char *p;
    size_t n;
    const char *name;
    size_t lineno;
} line;

size_t ps_secrets_count(const ps_secrets *s)
{
    return s != NULL ? s->count : 0;
}

const uint8_t *ps_secrets_get(const ps_secrets *s, size_t i, size_t *len)
{
    if (s == NULL || i >= s->count)
        return NULL;
    if (len != NULL)
        *len = s->items[i].len;
    return s->items[i].data;
}

void ps_secrets_free(ps_secrets *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->count; i++) {
        ps_wipe(s->items[i].data, s->items[i].cap);
        free(s->items[i].data);
    }
    ps_wipe(s, sizeof(*s));
    free(s);
}

static int has_prefix(const line *l, const char *prefix)
{
    size_t k = strlen(prefix);

    return l->n >= k && memcmp(l->p, prefix, k) == 0;
}

/* A line of only spaces and tabs is taken for blank, not for a secret. */
static int is_skipped(const line *l)
{
    if (l->n > 0 && l->p[0] == '#')
        return 1;
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i] != ' ' && l->p[i] != '\t')
            return 0;
    return 1;
}

typedef int (*decode_fn)(const char *in, size_t n, uint8_t *out, size_t outcap,
                         size_t *outlen, ps_err *err);

/* Decodes the text after a "base64:" or "hex:" prefix into sec. The
 * decoder's message gives an offset and a class of fault, never bytes. */
static int decode_secret(const line *l, size_t skip, const char *what,
                         decode_fn decode, size_t cap, secret *sec, ps_err *err)
{
    ps_err derr;
    const char *why;

    sec->cap = cap > 0 ? cap : 1;
    sec->data = malloc(sec->cap);
    if (sec->data == NULL)
        return ps_err_set(err, "%s:%zu: out of memory", l->name, l->lineno);
    if (decode(l->p + skip, l->n - skip, sec->data, sec->cap, &sec->len,
               &derr) < 0) {
        why = strstr(derr.msg, ": "); /* drop the decoder's own "base64: " */
        return ps_err_set(err, "%s:%zu: bad %s secret: %s", l->name, l->lineno,
                          what, why != NULL ? why + 2 : derr.msg);
    }
    if (sec->len == 0)
        return ps_err_set(err, "%s:%zu: empty %s secret", l->name, l->lineno,
                          what);
    return 0;
}

static int parse_secret(const line *l, secret *sec, ps_err *err)
{
    static const char b64p[] = "base64:", hexp[] = "hex:";
    size_t rest;

    if (has_prefix(l, b64p)) {
        rest = l->n - (sizeof(b64p) - 1);
        return decode_secret(l, sizeof(b64p) - 1, "base64", ps_b64_decode,
                             ps_b64_decoded_max(rest), sec, err);
    }
    if (has_prefix(l, hexp)) {
        rest = l->n - (sizeof(hexp) - 1);
        return decode_secret(l, sizeof(hexp) - 1, "hex", ps_hex_decode,
                             rest / 2, sec, err);
    }
    sec->cap = l->n;
    sec->data = malloc(l->n);
    if (sec->data == NULL)
        return ps_err_set(err, "%s:%zu: out of memory", l->name, l->lineno);
    memcpy(sec->data, l->p, l->n);
    sec->len = l->n;
    return 0;
}

static int add_line(ps_secrets *s, const line *l, ps_err *err)
{
    secret *sec;

    if (is_skipped(l))
        return 0;
    if (s->count == PS_SECRETS_MAX)
        return ps_err_set(err, "%s:%zu: more than %d secrets", l->name,
                          l->lineno, PS_SECRETS_MAX);
    sec = &s->items[s->count];
    if (parse_secret(l, sec, err) < 0) {
        ps_wipe(sec->data, sec->cap);
        free(sec->data);
        memset(sec, 0, sizeof(*sec));
        return -1;
    }
    s->count++;
    return 0;
}

/* Lines end at LF; trailing CRs go too (files edited on Windows), every
 * other byte belongs to the secret. */
static int parse_lines(ps_secrets *s, const char *text, size_t len,
                       const char *name, ps_err *err)
{
    line l = {NULL, 0, name, 0};
    const char *end = text + len, *p = text, *nl;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        l.p = p;
        l.n = (size_t)((nl != NULL ? nl : end) - p);
        l.lineno++;
        while (l.n > 0 && l.p[l.n - 1] == '\r')
            l.n--;
        if (add_line(s, &l, err) < 0)
            return -1;
        p = nl != NULL ? nl + 1 : end;
    }
    if (s->count == 0)
        return ps_err_set(err, "%s: no secrets", name);
    return 0;
}

int ps_secrets_parse(const char *text, size_t len, const char *name,
                     ps_secrets **out, ps_err *err)
{
    ps_secrets *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return ps_err_set(err, "%s: out of memory", name);
    if (parse_lines(s, text, len, name, err) < 0) {
        ps_secrets_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int ps_secrets_load(const char *path, ps_secrets **out, ps_err *err)
{
    char *buf;
    size_t len;
    int rc;

    *out = NULL;
    if (ps_secfile_read(path, &buf, &len, err) < 0)
        return -1;
    rc = ps_secrets_parse(buf, len, path, out, err);
    ps_secfile_free(buf, len);
    return rc;
}
