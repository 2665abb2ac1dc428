/* RFC 6376 section 3.2 tag=value lists, as in DKIM key records and
 * DKIM-Signature headers. Parsing points into the caller's buffer: no
 * allocation, at most PS_TAGVAL_MAX tags, one pass over the input. */
#include "dns/tagval.h"

#include <stdlib.h>
#include <string.h>

/* FWS, taken loosely: milters and DNS hand us folded text with CRLF, bare
 * LF or none, and the line structure carries no meaning inside a tag-list. */
static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_name_char(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/* VALCHAR is %x21-3A / %x3C-7E. Bytes >= 0x80 are let through: key
 * records in the wild carry UTF-8 in n= notes, and refusing the whole
 * record for a comment would fail mail other verifiers pass. Control
 * characters are never valid. */
static int is_value_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != ';';
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    return i;
}

/* tag-name = ALPHA *(ALPHA / DIGIT / "_"), then [FWS] "=". */
static int parse_name(const char *s, size_t n, size_t *i, ps_tag *t,
                      ps_err *err)
{
    size_t start = *i, j = *i;

    if (j >= n || !is_alpha((unsigned char)s[j]))
        return ps_err_set(err,
                          "tag list: tag name must start with a letter "
                          "at offset %zu",
                          j);
    while (j < n && is_name_char((unsigned char)s[j]))
        j++;
    t->name = s + start;
    t->name_len = j - start;
    j = skip_ws(s, j, n);
    if (j >= n || s[j] != '=')
        return ps_err_set(err,
                          "tag list: tag \"%.*s\" has no '=' "
                          "(offset %zu)",
                          (int)t->name_len, t->name, j);
    *i = j + 1;
    return 0;
}

/* tag-value up to ';' or the end, with surrounding whitespace trimmed. */
static int parse_value(const char *s, size_t n, size_t *i, ps_tag *t,
                       ps_err *err)
{
    size_t j = skip_ws(s, *i, n), end;

    t->value = s + j;
    end = j;
    for (; j < n && s[j] != ';'; j++) {
        unsigned char c = (unsigned char)s[j];

        if (is_ws(c))
            continue;
        if (!is_value_char(c))
            return ps_err_set(err,
                              "tag list: tag \"%.*s\": invalid byte "
                              "0x%02x in value at offset %zu",
                              (int)t->name_len, t->name, c, j);
        end = j + 1;
    }
    t->value_len = (size_t)(s + end - t->value);
    *i = j;
    return 0;
}

static int check_duplicate(const ps_tagval *out, const ps_tag *t, ps_err *err)
{
    for (size_t k = 0; k < out->count; k++) {
        const ps_tag *o = &out->tags[k];

        if (o->name_len == t->name_len &&
            memcmp(o->name, t->name, t->name_len) == 0)
            return ps_err_set(err, "tag list: duplicate tag \"%.*s\"",
                              (int)t->name_len, t->name);
    }
    return 0;
}

static int parse_spec(const char *s, size_t n, size_t *i, ps_tagval *out,
                      ps_err *err)
{
    ps_tag t;

    if (s[*i] == ';')
        return ps_err_set(err, "tag list: empty tag at offset %zu", *i);
    if (out->count == PS_TAGVAL_MAX)
        return ps_err_set(err, "tag list: more than %d tags", PS_TAGVAL_MAX);
    if (parse_name(s, n, i, &t, err) < 0 || parse_value(s, n, i, &t, err) < 0)
        return -1;
    if (check_duplicate(out, &t, err) < 0)
        return -1;
    out->tags[out->count++] = t;
    return 0;
}

int ps_tagval_parse(const char *text, size_t n, ps_tagval *out, ps_err *err)
{
    size_t i = skip_ws(text, 0, n);

    out->count = 0;
    while (i < n) {
        if (parse_spec(text, n, &i, out, err) < 0) {
            out->count = 0;
            return -1;
        }
        /* i is at ';' or the end; one ';' may close the list. */
        if (i < n)
            i = skip_ws(text, i + 1, n);
    }
    return 0;
}

const ps_tag *ps_tagval_find(const ps_tagval *tv, const char *name)
{
    size_t len = strlen(name);

    for (size_t k = 0; k < tv->count; k++) {
        const ps_tag *t = &tv->tags[k];

        if (t->name_len == len && memcmp(t->name, name, len) == 0)
            return t;
    }
    return NULL;
}

char *ps_tagval_strip_ws(const ps_tag *tag)
{
    char *out = malloc(tag->value_len + 1);
    size_t len = 0;

    if (out == NULL)
        return NULL;
    for (size_t k = 0; k < tag->value_len; k++)
        if (!is_ws((unsigned char)tag->value[k]))
            out[len++] = tag->value[k];
    out[len] = '\0';
    return out;
}
