/* A small RFC 5322 reader for the From field: a lexer that turns the value
 * into atoms, quoted strings, domain literals and specials (comments and
 * folding skipped), and a parser that accepts exactly one mailbox. */
#include "mail/mailbox.h"

#include <ctype.h>
#include <string.h>

#define PS_MAILBOX_NEST_MAX 32 /* nested comments */

typedef enum ps_tok_type {
    PS_TOK_END,
    PS_TOK_ATOM,
    PS_TOK_QUOTED,
    PS_TOK_LITERAL,
    PS_TOK_SPECIAL, /* one of < > @ , : ; . */
    PS_TOK_ERROR
} ps_tok_type;

typedef struct ps_tok {
    ps_tok_type type;
    const char *p; /* quoted: inside the quotes, escapes still there */
    size_t n;
} ps_tok;

typedef struct ps_lex {
    const char *p, *end;
    const char *why; /* set with PS_TOK_ERROR */
} ps_lex;

static int ps_mailbox_is_atext(unsigned char c)
{
    return c >= 0x80 || (isalnum(c) && c < 0x80) ||
           strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int ps_mailbox_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int ps_mailbox_skip_comment(ps_lex *lx)
{
    int depth = 0;

    do {
        char c = *lx->p++;

        if (c == '\\' && lx->p < lx->end)
            lx->p++;
        else if (c == '(' && ++depth > PS_MAILBOX_NEST_MAX)
            return (lx->why = "comments nested too deep"), -1;
        else if (c == ')')
            depth--;
    } while (depth > 0 && lx->p < lx->end);
    if (depth > 0)
        return (lx->why = "unterminated comment"), -1;
    return 0;
}

/* Skips folding whitespace and comments. */
static int ps_mailbox_skip_cfws(ps_lex *lx)
{
    while (lx->p < lx->end) {
        if (ps_mailbox_is_ws(*lx->p))
            lx->p++;
        else if (*lx->p == '(') {
            if (ps_mailbox_skip_comment(lx) != 0)
                return -1;
        } else
            break;
    }
    return 0;
}

/* A quoted string or a domain literal, from its opening character. */
static ps_tok ps_mailbox_lex_delimited(ps_lex *lx, char close, ps_tok_type t)
{
    ps_tok tok = {t, ++lx->p, 0};

    while (lx->p < lx->end && *lx->p != close) {
        if (*lx->p == '\\' && lx->p + 1 < lx->end)
            lx->p++;
        else if (close == ']' && *lx->p == '[')
            break;
        lx->p++;
    }
    if (lx->p >= lx->end || *lx->p != close) {
        lx->why = close == '"' ? "unterminated quoted string"
                               : "unterminated domain literal";
        tok.type = PS_TOK_ERROR;
        return tok;
    }
    tok.n = (size_t)(lx->p++ - tok.p);
    return tok;
}

static ps_tok ps_mailbox_next(ps_lex *lx)
{
    ps_tok tok = {PS_TOK_END, lx->p, 0};
    unsigned char c;

    if (ps_mailbox_skip_cfws(lx) != 0)
        return (ps_tok){PS_TOK_ERROR, lx->p, 0};
    if (lx->p >= lx->end)
        return tok;
    c = (unsigned char)*lx->p;
    if (c == '"')
        return ps_mailbox_lex_delimited(lx, '"', PS_TOK_QUOTED);
    if (c == '[')
        return ps_mailbox_lex_delimited(lx, ']', PS_TOK_LITERAL);
    tok.p = lx->p;
    if (strchr("<>@,:;.", c) != NULL) {
        lx->p++;
        return (ps_tok){PS_TOK_SPECIAL, tok.p, 1};
    }
    while (lx->p < lx->end && ps_mailbox_is_atext((unsigned char)*lx->p))
        lx->p++;
    if (lx->p == tok.p) {
        lx->why = "unexpected character";
        return (ps_tok){PS_TOK_ERROR, lx->p, 0};
    }
    return (ps_tok){PS_TOK_ATOM, tok.p, (size_t)(lx->p - tok.p)};
}

static ps_tok ps_mailbox_peek(const ps_lex *lx)
{
    ps_lex copy = *lx;

    return ps_mailbox_next(&copy);
}

static int ps_mailbox_is(ps_tok t, char special)
{
    return t.type == PS_TOK_SPECIAL && *t.p == special;
}

static int ps_mailbox_is_word(ps_tok t)
{
    return t.type == PS_TOK_ATOM || t.type == PS_TOK_QUOTED;
}

static int ps_mailbox_fail(ps_lex *lx, ps_tok t, const char *why, ps_err *err)
{
    if (t.type == PS_TOK_ERROR && lx->why != NULL)
        why = lx->why;
    return ps_err_set(err, "%s", why);
}

/* Appends a word to the local part, unescaping a quoted string. */
static int ps_mailbox_add_local(ps_mailbox *mb, size_t *len, ps_tok t)
{
    for (size_t i = 0; i < t.n; i++) {
        char c = t.p[i];

        if (t.type == PS_TOK_QUOTED && c == '\\' && i + 1 < t.n)
            c = t.p[++i];
        if (t.type == PS_TOK_QUOTED && (c == '\r' || c == '\n'))
            continue; /* folding inside quotes is not part of the value */
        if (*len >= PS_MAILBOX_LOCAL_MAX || (unsigned char)c < 0x20 ||
            c == 0x7f)
            return -1;
        mb->local[(*len)++] = c;
    }
    mb->local[*len] = '\0';
    return 0;
}

/* local-part = word *("." word), obsolete spaces between them allowed. */
static int ps_mailbox_local(ps_lex *lx, ps_mailbox *mb, ps_err *err)
{
    size_t len = 0;
    ps_tok t = ps_mailbox_next(lx);

    for (;;) {
        if (!ps_mailbox_is_word(t))
            return ps_mailbox_fail(lx, t, "no address", err);
        if (ps_mailbox_add_local(mb, &len, t) != 0)
            return ps_err_set(err, "local part too long or not printable");
        if (!ps_mailbox_is(ps_mailbox_peek(lx), '.'))
            return 0;
        ps_mailbox_next(lx);
        if (ps_mailbox_add_local(mb, &len, (ps_tok){PS_TOK_ATOM, ".", 1}))
            return ps_err_set(err, "local part too long");
        t = ps_mailbox_next(lx);
    }
}

static int ps_mailbox_add_label(ps_mailbox *mb, size_t *len, ps_tok t)
{
    if (*len + t.n + 1 > PS_MAILBOX_DOMAIN_MAX)
        return -1;
    if (*len > 0)
        mb->domain[(*len)++] = '.';
    for (size_t i = 0; i < t.n; i++)
        mb->domain[(*len)++] = (char)tolower((unsigned char)t.p[i]);
    mb->domain[*len] = '\0';
    return 0;
}

/* domain = atom *("." atom); a final dot is dropped. */
static int ps_mailbox_domain(ps_lex *lx, ps_mailbox *mb, ps_err *err)
{
    size_t len = 0;
    ps_tok t = ps_mailbox_next(lx);

    if (t.type == PS_TOK_LITERAL)
        return ps_err_set(err, "domain literal");
    for (;;) {
        if (t.type != PS_TOK_ATOM)
            return ps_mailbox_fail(lx, t, "missing domain", err);
        if (ps_mailbox_add_label(mb, &len, t) != 0)
            return ps_err_set(err, "domain too long");
        if (!ps_mailbox_is(ps_mailbox_peek(lx), '.'))
            return 0;
        ps_mailbox_next(lx);
        t = ps_mailbox_peek(lx);
        if (t.type != PS_TOK_ATOM)
            return 0; /* "example.com." */
        ps_mailbox_next(lx);
    }
}

static int ps_mailbox_addr_spec(ps_lex *lx, ps_mailbox *mb, ps_err *err)
{
    ps_tok t;

    if (ps_mailbox_local(lx, mb, err) != 0)
        return -1;
    t = ps_mailbox_next(lx);
    if (!ps_mailbox_is(t, '@'))
        return ps_mailbox_fail(lx, t, "address without '@'", err);
    return ps_mailbox_domain(lx, mb, err);
}

/* obs-route: "@a.example,@b.example:" before the address; skipped. */
static int ps_mailbox_skip_route(ps_lex *lx, ps_err *err)
{
    ps_mailbox scratch;
    ps_tok t;

    if (!ps_mailbox_is(ps_mailbox_peek(lx), '@'))
        return 0;
    for (;;) {
        t = ps_mailbox_next(lx);
        if (ps_mailbox_is(t, ':'))
            return 0;
        if (ps_mailbox_is(t, ','))
            continue;
        if (!ps_mailbox_is(t, '@') || ps_mailbox_domain(lx, &scratch, err))
            return ps_mailbox_fail(lx, t, "bad source route", err);
    }
}

static int ps_mailbox_angle_addr(ps_lex *lx, ps_mailbox *mb, ps_err *err)
{
    ps_tok t;

    if (ps_mailbox_skip_route(lx, err) != 0 ||
        ps_mailbox_addr_spec(lx, mb, err) != 0)
        return -1;
    t = ps_mailbox_next(lx);
    if (!ps_mailbox_is(t, '>'))
        return ps_mailbox_fail(lx, t, "missing '>'", err);
    return 0;
}

/* Whether a '<' comes before the end of this mailbox: then the words
 * before it are a display name; a ':' first means a group. */
static int ps_mailbox_shape(const ps_lex *lx, ps_err *err)
{
    ps_lex scan = *lx;
    ps_tok t;

    for (;;) {
        t = ps_mailbox_next(&scan);
        if (t.type == PS_TOK_ERROR)
            return ps_mailbox_fail(&scan, t, "unparsable", err);
        if (t.type == PS_TOK_END || ps_mailbox_is(t, ','))
            return 0;
        if (ps_mailbox_is(t, '<'))
            return 1;
        if (ps_mailbox_is(t, ':') || ps_mailbox_is(t, ';'))
            return ps_err_set(err, "group syntax");
        if (ps_mailbox_is(t, '>'))
            return ps_err_set(err, "unexpected '>'");
    }
}

static int ps_mailbox_one(ps_lex *lx, ps_mailbox *mb, ps_err *err)
{
    int shape = ps_mailbox_shape(lx, err);
    ps_tok t;

    if (shape < 0)
        return -1;
    if (shape == 0)
        return ps_mailbox_addr_spec(lx, mb, err);
    for (t = ps_mailbox_next(lx); !ps_mailbox_is(t, '<');
         t = ps_mailbox_next(lx))
        if (!ps_mailbox_is_word(t) && !ps_mailbox_is(t, '.'))
            return ps_mailbox_fail(lx, t, "bad display name", err);
    return ps_mailbox_angle_addr(lx, mb, err);
}

/* Skips empty list elements (obs-mbox-list allows ", ,"); returns the
 * first token that is not a comma, without taking it. */
static ps_tok ps_mailbox_skip_commas(ps_lex *lx)
{
    ps_tok t;

    while (ps_mailbox_is(t = ps_mailbox_peek(lx), ','))
        ps_mailbox_next(lx);
    return t;
}

int ps_mailbox_parse_from(const char *value, size_t len, ps_mailbox *out,
                          ps_err *err)
{
    ps_lex lx = {value, value + len, NULL};
    ps_tok t;
    int comma;

    memset(out, 0, sizeof(*out));
    if (len > PS_MAILBOX_VALUE_MAX)
        return ps_err_set(err, "value longer than %d bytes",
                          PS_MAILBOX_VALUE_MAX);
    if (memchr(value, '\0', len) != NULL)
        return ps_err_set(err, "NUL byte in value");
    t = ps_mailbox_skip_commas(&lx);
    if (t.type == PS_TOK_END)
        return ps_err_set(err, "no address");
    if (ps_mailbox_one(&lx, out, err) != 0)
        goto fail;
    t = ps_mailbox_next(&lx);
    comma = ps_mailbox_is(t, ',');
    if (comma)
        t = ps_mailbox_skip_commas(&lx);
    if (t.type == PS_TOK_END)
        return 0;
    ps_mailbox_fail(&lx, t,
                    t.type == PS_TOK_ERROR ? "unparsable"
                    : comma                ? "more than one address"
                            : "unexpected text after the address",
                    err);
fail:
    memset(out, 0, sizeof(*out));
    return -1;
}

/* The same grammar as ps_mailbox_parse_from, but every mailbox of the
 * list is kept (DMARC looks at all of them). */
int ps_mailbox_parse_list(const char *value, size_t len, ps_mailbox *out,
                          size_t max, size_t *n, ps_err *err)
{
    ps_lex lx = {value, value + len, NULL};
    ps_tok t;

    *n = 0;
    if (len > PS_MAILBOX_VALUE_MAX)
        return ps_err_set(err, "value longer than %d bytes",
                          PS_MAILBOX_VALUE_MAX);
    if (memchr(value, '\0', len) != NULL)
        return ps_err_set(err, "NUL byte in value");
    for (t = ps_mailbox_skip_commas(&lx); t.type != PS_TOK_END;
         t = ps_mailbox_skip_commas(&lx)) {
        if (*n == max)
            return *n = 0, ps_err_set(err, "more than %zu addresses", max);
        memset(&out[*n], 0, sizeof(out[*n]));
        if (ps_mailbox_one(&lx, &out[*n], err) != 0)
            return *n = 0, -1;
        (*n)++;
        t = ps_mailbox_next(&lx);
        if (t.type == PS_TOK_END)
            break;
        if (!ps_mailbox_is(t, ','))
            return *n = 0, ps_mailbox_fail(&lx, t,
                                           "unexpected text after "
                                           "the address",
                                           err);
    }
    return *n == 0 ? ps_err_set(err, "no address") : 0;
}

int ps_mailbox_parse_envelope(const char *arg, ps_mailbox *out, ps_err *err)
{
    size_t n = strlen(arg), nlocal, ndomain;
    const char *at;

    memset(out, 0, sizeof(*out));
    if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>') {
        arg++;
        n -= 2;
    }
    at = memrchr(arg, '@', n);
    nlocal = at != NULL ? (size_t)(at - arg) : n;
    ndomain = at != NULL ? n - nlocal - 1 : 0;
    if (nlocal > PS_MAILBOX_LOCAL_MAX || ndomain > PS_MAILBOX_DOMAIN_MAX)
        return ps_err_set(err, "envelope address too long");
    memcpy(out->local, arg, nlocal);
    for (size_t i = 0; i < ndomain; i++)
        out->domain[i] = (char)tolower((unsigned char)at[1 + i]);
    if (ndomain > 0 && out->domain[ndomain - 1] == '.')
        out->domain[ndomain - 1] = '\0';
    return 0;
}
