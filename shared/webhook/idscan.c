/* The delivery id of the schemes that carry it in a JSON body (Stripe's
 * event "id", Postal's "uuid", SendGrid's "sg_event_id", Slack's
 * "event_id"), found as the body streams past: a few bytes of state, no
 * copy of the body, whatever the chunking. */
#include "webhook/webhook_int.h"

#include <string.h>

void ps_json_idscan_init(ps_json_idscan *s, const char *key)
{
    memset(s, 0, sizeof(*s));
    s->key = key;
    s->keylen = strlen(key);
}

/* Whether the scanner stands directly in the object holding the id: the
 * top-level object, or the first element of a top-level array. */
static int idscan_at_target(const ps_json_idscan *s)
{
    if (s->top == '{')
        return s->depth == 1;
    return s->top == '[' && s->depth == 2 && s->elem == 0 && s->kind[2] == '{';
}

static void idscan_string_byte(ps_json_idscan *s, char c)
{
    if (s->is_key) {
        if (s->keypos >= 0 && (size_t)s->keypos < s->keylen &&
            s->key[s->keypos] == c)
            s->keypos++;
        else
            s->keypos = -1;
    } else if (s->capturing && s->vlen < PS_WH_ID_MAX) {
        s->val[s->vlen++] = c;
    }
}

static void idscan_string_end(ps_json_idscan *s)
{
    s->in_str = 0;
    if (s->is_key)
        s->key_hit = s->keypos >= 0 && (size_t)s->keypos == s->keylen;
    else if (s->capturing)
        s->found = 1;
    s->is_key = 0;
    s->capturing = 0;
}

static void idscan_open(ps_json_idscan *s, char c)
{
    s->want_value = 0;
    s->depth++;
    if (s->depth == 1)
        s->top = c;
    if (s->depth < 3)
        s->kind[s->depth] = c;
    s->expect_key = c == '{';
}

static void idscan_close(ps_json_idscan *s)
{
    if (s->depth > 0)
        s->depth--;
    s->expect_key = 0;
    if (s->depth == 0)
        s->over = 1; /* the document ended without the id */
}

static void idscan_quote(ps_json_idscan *s)
{
    int target = idscan_at_target(s);

    s->in_str = 1;
    s->is_key = target && s->expect_key;
    s->keypos = 0;
    s->capturing = target && s->want_value && !s->is_key;
    s->vlen = 0;
    s->want_value = 0;
    s->expect_key = 0;
}

static void idscan_byte(ps_json_idscan *s, char c)
{
    if (s->in_str) {
        if (s->esc)
            s->esc = 0, idscan_string_byte(s, c);
        else if (c == '\\')
            s->esc = 1;
        else if (c == '"')
            idscan_string_end(s);
        else
            idscan_string_byte(s, c);
        return;
    }
    switch (c) {
    case '{':
    case '[':
        idscan_open(s, c);
        break;
    case '}':
    case ']':
        idscan_close(s);
        break;
    case ',':
        s->expect_key = s->depth < 3 && s->kind[s->depth] == '{';
        if (s->depth == 1 && s->top == '[')
            s->elem++;
        break;
    case ':':
        s->want_value = s->key_hit && idscan_at_target(s);
        s->key_hit = 0;
        break;
    case '"':
        idscan_quote(s);
        break;
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        break;
    default: /* a number or literal: not an id */
        s->want_value = 0;
    }
}

/* Inside a string that is neither the key nor the id, only a quote or a
 * backslash matters: skip to it (most of a body is such strings). */
static size_t idscan_skip(const ps_json_idscan *s, const uint8_t *p, size_t n)
{
    size_t i = 0;

    if (!s->in_str || s->esc || s->is_key || s->capturing)
        return 0;
    while (i < n && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

void ps_json_idscan_feed(ps_json_idscan *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && !s->found && !s->over; i++) {
        i += idscan_skip(s, p + i, n - i);
        if (i < n)
            idscan_byte(s, (char)p[i]);
    }
}
