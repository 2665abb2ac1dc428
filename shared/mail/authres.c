/* Writing and reading Authentication-Results fields. Values taken from a
 * message (d=, MAIL FROM) go out as RFC 8601 pvalues only when they are
 * plainly tokens or addresses; anything else is quoted, control and
 * 8-bit bytes replaced, so no input can end the field or add a result. */
#include "mail/authres.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PS_AUTHRES_VALUE_MAX 512 /* bytes of one value written */
#define PS_AUTHRES_NEST_MAX  32

typedef struct ps_authres_buf {
    char *s;
    size_t len, cap;
    int oom;
} ps_authres_buf;

static void ps_authres_putn(ps_authres_buf *b, const char *s, size_t n)
{
    char *p;

    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap != 0 ? b->cap : 256);
        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->s, cap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void ps_authres_puts(ps_authres_buf *b, const char *s)
{
    ps_authres_putn(b, s, strlen(s));
}

static int ps_authres_is_tspecial(unsigned char c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int ps_authres_is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || ps_authres_is_tspecial(c))
            return 0;
    }
    return 1;
}

/* dot-atom-text: atext runs joined by single dots. */
static int ps_authres_is_dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.'
                     : !(isalnum(c) && c < 0x80) &&
                           strchr("!#$%&'*+-/=?^_`{|}~", c) == NULL)
            return 0;
    }
    return 1;
}

/* A value that needs no quotes: a token, or local@domain with a
 * dot-atom local part (RFC 8601's pvalue). */
static int ps_authres_is_plain(const char *v)
{
    size_t n = strlen(v);
    const char *at = memchr(v, '@', n);

    if (n > PS_AUTHRES_VALUE_MAX)
        return 0;
    if (at == NULL)
        return ps_authres_is_token(v, n);
    return (at == v || ps_authres_is_dot_atom(v, (size_t)(at - v))) &&
           ps_authres_is_dot_atom(at + 1, n - (size_t)(at - v) - 1);
}

static void ps_authres_quoted(ps_authres_buf *b, const char *v)
{
    size_t n = strlen(v);

    ps_authres_puts(b, "\"");
    for (size_t i = 0; i < n && i < PS_AUTHRES_VALUE_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        char out = c < 0x20 || c >= 0x7f ? '?' : (char)c;

        if (out == '"' || out == '\\')
            ps_authres_puts(b, "\\");
        ps_authres_putn(b, &out, 1);
    }
    ps_authres_puts(b, "\"");
}

static void ps_authres_value(ps_authres_buf *b, const char *v)
{
    if (ps_authres_is_plain(v))
        ps_authres_puts(b, v);
    else
        ps_authres_quoted(b, v);
}

static int ps_authres_check_result(const ps_authres_result *r, ps_err *err)
{
    if (r->method == NULL || r->result == NULL ||
        !ps_authres_is_token(r->method, strlen(r->method)) ||
        !ps_authres_is_token(r->result, strlen(r->result)))
        return ps_err_set(err, "result without a method or a result");
    if (r->comment != NULL && strpbrk(r->comment, "()\\\r\n") != NULL)
        return ps_err_set(err, "bad comment in a %s result", r->method);
    if (r->nprops > PS_AUTHRES_MAX_PROPS)
        return ps_err_set(err, "more than %d properties in one result",
                          PS_AUTHRES_MAX_PROPS);
    for (size_t i = 0; i < r->nprops; i++)
        if (r->props[i].name == NULL || r->props[i].value == NULL ||
            strchr(r->props[i].name, '.') == NULL ||
            !ps_authres_is_token(r->props[i].name, strlen(r->props[i].name)))
            return ps_err_set(err, "bad property in a %s result", r->method);
    return 0;
}

static void ps_authres_one(ps_authres_buf *b, const ps_authres_result *r)
{
    ps_authres_puts(b, ";\r\n\t");
    ps_authres_puts(b, r->method);
    ps_authres_puts(b, "=");
    ps_authres_puts(b, r->result);
    if (r->comment != NULL) {
        ps_authres_puts(b, " (");
        ps_authres_puts(b, r->comment);
        ps_authres_puts(b, ")");
    }
    if (r->reason != NULL) {
        ps_authres_puts(b, " reason=");
        ps_authres_quoted(b, r->reason);
    }
    for (size_t i = 0; i < r->nprops; i++) {
        ps_authres_puts(b, " ");
        ps_authres_puts(b, r->props[i].name);
        ps_authres_puts(b, "=");
        ps_authres_value(b, r->props[i].value);
    }
}

int ps_authres_format(const char *authserv_id, const ps_authres_result *res,
                      size_t n, char **out, ps_err *err)
{
    ps_authres_buf b = {NULL, 0, 0, 0};

    *out = NULL;
    if (authserv_id == NULL || strlen(authserv_id) > PS_AUTHRES_ID_MAX ||
        !ps_authres_is_token(authserv_id, strlen(authserv_id)))
        return ps_err_set(err, "authserv-id must be a token");
    if (n > PS_AUTHRES_MAX_RESULTS)
        return ps_err_set(err, "more than %d results", PS_AUTHRES_MAX_RESULTS);
    for (size_t i = 0; i < n; i++)
        if (ps_authres_check_result(&res[i], err) != 0)
            return -1;
    ps_authres_puts(&b, " ");
    ps_authres_puts(&b, authserv_id);
    for (size_t i = 0; i < n; i++)
        ps_authres_one(&b, &res[i]);
    if (n == 0)
        ps_authres_puts(&b, "; none");
    if (b.oom) {
        free(b.s);
        return ps_err_set(err, "out of memory");
    }
    *out = b.s;
    return 0;
}

/* Skips folding whitespace and (nested) comments; -1 on an unclosed one. */
static int ps_authres_skip_cfws(const char **p, const char *end)
{
    int depth = 0;

    for (; *p < end; (*p)++) {
        char c = **p;

        if (depth > 0 && c == '\\' && *p + 1 < end)
            (*p)++;
        else if (c == '(') {
            if (++depth > PS_AUTHRES_NEST_MAX)
                return -1;
        } else if (c == ')' && depth > 0)
            depth--;
        else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return 0;
    }
    return depth == 0 ? 0 : -1;
}

static int ps_authres_put_id(char *id, size_t idsize, size_t *n, char c)
{
    if (*n + 1 >= idsize)
        return -1;
    id[(*n)++] = c;
    id[*n] = '\0';
    return 0;
}

static int ps_authres_read_quoted(const char *p, const char *end, char *id,
                                  size_t idsize)
{
    size_t n = 0;

    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        if ((unsigned char)*p < 0x20 || *p == 0x7f ||
            ps_authres_put_id(id, idsize, &n, *p) != 0)
            return -1; /* no id compares equal to control bytes */
    }
    return p < end && n > 0 ? 0 : -1;
}

int ps_authres_authserv_id(const char *value, size_t len, char *id,
                           size_t idsize)
{
    const char *p = value, *end = value + len;
    size_t n = 0;

    if (idsize == 0)
        return -1;
    id[0] = '\0';
    if (ps_authres_skip_cfws(&p, end) != 0 || p >= end)
        return -1;
    if (*p == '"')
        return ps_authres_read_quoted(p, end, id, idsize);
    for (; p < end && ps_authres_is_token(p, 1); p++)
        if (ps_authres_put_id(id, idsize, &n, *p) != 0)
            return -1;
    return n > 0 ? 0 : -1;
}

int ps_authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
    char id[PS_AUTHRES_ID_MAX + 2];

    if (authserv_id == NULL ||
        ps_authres_authserv_id(value, len, id, sizeof(id)) != 0)
        return 0;
    return strcasecmp(id, authserv_id) == 0;
}
