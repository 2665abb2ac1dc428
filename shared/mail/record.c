/* Record lines (record.h): percent-encoding that keeps one record on one
 * line whatever its fields hold, and the in-place split that reads it. */
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "mail/record.h"

static void rec_byte(ps_record *r, char c)
{
    char *p;

    if (r->oom)
        return;
    if (r->n + 2 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        if ((p = realloc(r->p, cap)) == NULL) {
            r->oom = 1;
            return;
        }
        r->p = p;
        r->cap = cap;
    }
    r->p[r->n++] = c;
    r->p[r->n] = '\0';
}

static void rec_escaped(ps_record *r, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";

    rec_byte(r, '%');
    rec_byte(r, hex[c >> 4]);
    rec_byte(r, hex[c & 15]);
}

void ps_record_put(ps_record *r, const char *field)
{
    /* A buffer may hold several lines: the first field of each has no
     * separator. */
    if (r->n > 0 && r->p[r->n - 1] != '\n')
        rec_byte(r, ' ');
    if (field == NULL || *field == '\0') {
        rec_byte(r, '-');
        return;
    }
    if (strcmp(field, "-") == 0) {
        rec_escaped(r, '-');
        return;
    }
    for (const unsigned char *s = (const unsigned char *)field; *s; s++)
        if (*s <= ' ' || *s == 0x7f || *s == '%')
            rec_escaped(r, *s);
        else
            rec_byte(r, (char)*s);
}

void ps_record_end(ps_record *r)
{
    rec_byte(r, '\n');
}

void ps_record_free(ps_record *r)
{
    free(r->p);
    memset(r, 0, sizeof(*r));
}

/* Decodes one field in place; -1 for a bad escape or a NUL byte. */
static int rec_decode(char *f)
{
    char *out = f;

    if (strcmp(f, "-") == 0) {
        *f = '\0';
        return 0;
    }
    for (char *s = f; *s; s++) {
        int hi, lo;
        if (*s != '%') {
            *out++ = *s;
            continue;
        }
        if ((hi = ps_hex_digit((unsigned char)s[1])) < 0 ||
            (lo = ps_hex_digit((unsigned char)s[2])) < 0 ||
            (hi == 0 && lo == 0))
            return -1;
        *out++ = (char)(hi << 4 | lo);
        s += 2;
    }
    *out = '\0';
    return 0;
}

int ps_record_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    if (*line == '\0')
        return -1;
    for (;;) {
        char *sp = strchr(p, ' ');
        if (n == max || sp == p || *p == '\0')
            return -1;
        fields[n++] = p;
        if (sp != NULL)
            *sp = '\0';
        if (rec_decode(fields[n - 1]) != 0)
            return -1;
        if (sp == NULL)
            return (int)n;
        p = sp + 1;
    }
}
