/* Small bounded helpers for the bounce parser: line iteration, case-blind
 * search, safe copies, address and status extraction. */
#include <string.h>
#include <strings.h>

#include "mail/dsn_int.h"

int ps_dsn_next_line(const char *buf, size_t len, size_t *pos, ps_dsn_line *l)
{
    if (*pos >= len)
        return 0;
    const char *s = buf + *pos, *nl = memchr(s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - s) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > 0 && s[n - 1] == '\r')
        n--;
    *l = (ps_dsn_line){s, n};
    return 1;
}

const char *ps_dsn_find(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (strncasecmp(p + i, needle, k) == 0)
            return p + i;
    return NULL;
}

int ps_dsn_has(const char *p, size_t n, const char *needle)
{
    return ps_dsn_find(p, n, needle) != NULL;
}

int ps_dsn_blank(const ps_dsn_line *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i] != ' ' && l->p[i] != '\t')
            return 0;
    return 1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void ps_dsn_append(char *dst, size_t cap, const char *p, size_t n)
{
    while (n && is_space(*p))
        p++, n--;
    while (n && is_space(p[n - 1]))
        n--;
    size_t len = strlen(dst);
    if (n == 0 || len + 2 >= cap)
        return;
    if (len)
        dst[len++] = ' ';
    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        /* controls, DEL, quotes and backslashes never reach a log or JSON */
        dst[len++] =
            (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? ' ' : (char)c;
    }
    dst[len] = '\0';
}

static int addr_char(char c)
{
    return !is_space(c) && c != '<' && c != '>' && c != '"' && c != '\'' &&
           c != ',' && c != ';' && c != '(' && c != ')' && c != '[' &&
           c != ']' && c != '\\' && (unsigned char)c > 0x20 && c != 0x7f;
}

int ps_dsn_take_addr(const char *p, size_t n, char *dst, size_t cap)
{
    const char *at = memchr(p, '@', n);
    while (at) {
        const char *b = at, *e = at + 1, *end = p + n;
        while (b > p && addr_char(b[-1]) && b[-1] != ':')
            b--;
        while (e < end && addr_char(*e))
            e++;
        while (e > at + 1 && (e[-1] == '.' || e[-1] == ':'))
            e--; /* "user@example.com." at the end of a sentence */
        if (b < at && e > at + 1 && (size_t)(e - b) < cap) {
            memcpy(dst, b, (size_t)(e - b));
            dst[e - b] = '\0';
            return 0;
        }
        at = memchr(at + 1, '@', (size_t)(end - at - 1));
    }
    return -1;
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

int ps_dsn_find_status(const char *s, char *dst, size_t cap)
{
    for (size_t i = 0; s[i]; i++) {
        if ((s[i] != '2' && s[i] != '4' && s[i] != '5') || s[i + 1] != '.' ||
            (i > 0 && (digit(s[i - 1]) || s[i - 1] == '.')))
            continue;
        size_t j = i + 2, a = 0, b = 0;
        while (digit(s[j]) && a < 4)
            j++, a++;
        if (a == 0 || a > 3 || s[j] != '.')
            continue;
        j++;
        while (digit(s[j]) && b < 4)
            j++, b++;
        if (b == 0 || b > 3 || s[j] == '.' || digit(s[j]))
            continue;
        if (j - i >= cap)
            return -1;
        memcpy(dst, s + i, j - i);
        dst[j - i] = '\0';
        return 0;
    }
    return -1;
}

ps_dsn_rcpt *ps_dsn_add(ps_dsn *d)
{
    if (d->n >= PS_DSN_RCPTS_MAX)
        return NULL;
    ps_dsn_rcpt *r = &d->rcpt[d->n++];
    memset(r, 0, sizeof *r);
    return r;
}

void ps_dsn_complete(ps_dsn_rcpt *r)
{
    if (!r->status[0])
        ps_dsn_find_status(r->diagnostic, r->status, sizeof r->status);
    if (r->action[0])
        return;
    const char *a = r->status[0] == '2'   ? "delivered"
                    : r->status[0] == '4' ? "delayed"
                                          : "failed";
    strcpy(r->action, a);
}
