/* A strict, bounded JSON reader for the schemes whose signed fields live in
 * the body (Mailgun's signature object, SNS messages): validates a whole
 * document once, then finds members and unescapes string values. */
#include "base/encode.h"
#include "webhook/webhook_int.h"

#include <string.h>

typedef struct jp {
    const char *p;
    size_t n, i;
    const char *what; /* first fault found */
} jp;

static int jfail(jp *j, const char *what)
{
    if (j->what == NULL)
        j->what = what;
    return -1;
}

static void skip_ws(jp *j)
{
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' ||
                           j->p[j->i] == '\n' || j->p[j->i] == '\r'))
        j->i++;
}

/* Four hex digits at p (at least 4 bytes there) into *cp. */
static int hex4(const char *p, unsigned *cp)
{
    unsigned v = 0;
    int d;

    for (int k = 0; k < 4; k++) {
        if ((d = ps_hex_digit((unsigned char)p[k])) < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *cp = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (up to n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned cp, min;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* One escape after a backslash at j->i; surrogates must come in pairs. */
static int parse_escape(jp *j)
{
    unsigned cp, lo;

    if (j->i >= j->n)
        return jfail(j, "unterminated string");
    switch (j->p[j->i]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        j->i++;
        return 0;
    case 'u':
        break;
    default:
        return jfail(j, "bad escape");
    }
    if (j->n - j->i < 5 || hex4(j->p + j->i + 1, &cp) < 0)
        return jfail(j, "bad \\u escape");
    j->i += 5;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return jfail(j, "lone low surrogate");
    if (cp < 0xd800 || cp > 0xdbff)
        return 0;
    if (j->n - j->i < 6 || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u' ||
        hex4(j->p + j->i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
        return jfail(j, "lone high surrogate");
    j->i += 6;
    return 0;
}

static int parse_string(jp *j)
{
    size_t len;

    j->i++; /* the opening quote */
    while (j->i < j->n) {
        unsigned char c = (unsigned char)j->p[j->i];

        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20)
            return jfail(j, "control character in string");
        if (c == '\\') {
            j->i++;
            if (parse_escape(j) < 0)
                return -1;
            continue;
        }
        len = utf8_len((const unsigned char *)j->p + j->i, j->n - j->i);
        if (len == 0)
            return jfail(j, "invalid UTF-8");
        j->i += len;
    }
    return jfail(j, "unterminated string");
}

static int digits(jp *j)
{
    size_t start = j->i;

    while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9')
        j->i++;
    return j->i > start ? 0 : jfail(j, "bad number");
}

static int parse_number(jp *j)
{
    if (j->p[j->i] == '-')
        j->i++;
    if (j->i < j->n && j->p[j->i] == '0')
        j->i++;
    else if (digits(j) < 0)
        return -1;
    if (j->i < j->n && j->p[j->i] == '.') {
        j->i++;
        if (digits(j) < 0)
            return -1;
    }
    if (j->i < j->n && (j->p[j->i] == 'e' || j->p[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->p[j->i] == '+' || j->p[j->i] == '-'))
            j->i++;
        if (digits(j) < 0)
            return -1;
    }
    return 0;
}

static int parse_lit(jp *j, const char *lit)
{
    size_t k = strlen(lit);

    if (j->n - j->i < k || memcmp(j->p + j->i, lit, k) != 0)
        return jfail(j, "unknown literal");
    j->i += k;
    return 0;
}

static int parse_value(jp *j, int depth, ps_json_val *out);

/* Members or elements up to the closing bracket; j->i is past the
 * opening one. */
static int parse_container(jp *j, int depth, int object)
{
    char close = object ? '}' : ']';
    ps_json_val v;

    skip_ws(j);
    if (j->i < j->n && j->p[j->i] == close) {
        j->i++;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (object) {
            if (j->i >= j->n || j->p[j->i] != '"')
                return jfail(j, "object key is not a string");
            if (parse_string(j) < 0)
                return -1;
            skip_ws(j);
            if (j->i >= j->n || j->p[j->i] != ':')
                return jfail(j, "missing ':'");
            j->i++;
        }
        if (parse_value(j, depth, &v) < 0)
            return -1;
        skip_ws(j);
        if (j->i < j->n && j->p[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->i < j->n && j->p[j->i] == close) {
            j->i++;
            return 0;
        }
        return jfail(j, object ? "missing ',' or '}'" : "missing ',' or ']'");
    }
}

static int parse_value(jp *j, int depth, ps_json_val *out)
{
    size_t start;
    int rc;

    skip_ws(j);
    if (j->i >= j->n)
        return jfail(j, "value expected");
    start = j->i;
    switch (j->p[j->i]) {
    case '{':
    case '[':
        if (depth >= PS_JSON_MAX_DEPTH)
            return jfail(j, "nested too deep");
        out->type = j->p[j->i] == '{' ? PS_JSON_OBJECT : PS_JSON_ARRAY;
        j->i++;
        rc = parse_container(j, depth + 1, out->type == PS_JSON_OBJECT);
        break;
    case '"':
        out->type = PS_JSON_STRING;
        rc = parse_string(j);
        break;
    case 't':
        out->type = PS_JSON_TRUE;
        rc = parse_lit(j, "true");
        break;
    case 'f':
        out->type = PS_JSON_FALSE;
        rc = parse_lit(j, "false");
        break;
    case 'n':
        out->type = PS_JSON_NULL;
        rc = parse_lit(j, "null");
        break;
    default:
        out->type = PS_JSON_NUMBER;
        if (j->p[j->i] != '-' && (j->p[j->i] < '0' || j->p[j->i] > '9'))
            return jfail(j, "value expected");
        rc = parse_number(j);
        break;
    }
    out->p = j->p + start;
    out->n = j->i - start;
    return rc;
}

int ps_json_check(const char *p, size_t n, ps_err *err)
{
    jp j = {p, n, 0, NULL};
    ps_json_val v;

    skip_ws(&j);
    if (j.i >= n || p[j.i] != '{')
        return ps_err_set(err, "JSON: not an object");
    if (parse_value(&j, 0, &v) < 0)
        return ps_err_set(err, "JSON: %s at byte %zu", j.what, j.i);
    skip_ws(&j);
    if (j.i != n)
        return ps_err_set(err, "JSON: trailing bytes at byte %zu", j.i);
    return 0;
}

ps_json_val ps_json_root(const char *p, size_t n)
{
    ps_json_val v = {PS_JSON_OBJECT, p, n};

    return v;
}

int ps_json_string(const ps_json_val *v, char *out, size_t cap, size_t *len)
{
    size_t i = 1, k = 0, end;
    unsigned cp, lo;
    char c;

    if (v->type != PS_JSON_STRING || v->n < 2)
        return -1;
    end = v->n - 1; /* the closing quote */
    while (i < end) {
        c = v->p[i];
        if (c != '\\') {
            if (k == cap)
                return -1;
            out[k++] = c;
            i++;
            continue;
        }
        c = v->p[i + 1];
        i += 2;
        if (c != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *at = memchr(from, c, sizeof(from) - 1);

            if (at == NULL || k == cap)
                return -1;
            out[k++] = to[at - from];
            continue;
        }
        if (end - i < 4 || hex4(v->p + i, &cp) < 0)
            return -1;
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - i < 6 || hex4(v->p + i + 2, &lo) < 0)
                return -1;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        }
        if (cap - k < 4)
            return -1;
        if (cp < 0x80) {
            out[k++] = (char)cp;
        } else if (cp < 0x800) {
            out[k++] = (char)(0xc0 | cp >> 6);
            out[k++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[k++] = (char)(0xe0 | cp >> 12);
            out[k++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[k++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[k++] = (char)(0xf0 | cp >> 18);
            out[k++] = (char)(0x80 | (cp >> 12 & 0x3f));
            out[k++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[k++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    *len = k;
    return 0;
}

#define KEY_MAX 64 /* longer keys can't be one we look for */

int ps_json_member(const ps_json_val *obj, const char *key, ps_json_val *out)
{
    jp j = {obj->p, obj->n, 0, NULL};
    ps_json_val k, v;
    char name[KEY_MAX];
    size_t klen, want = strlen(key);
    int found = 0;

    if (obj->type != PS_JSON_OBJECT)
        return 0;
    skip_ws(&j);
    if (j.i >= j.n || j.p[j.i] != '{')
        return 0;
    j.i++;
    for (;;) {
        skip_ws(&j);
        if (j.i >= j.n || j.p[j.i] != '"')
            return found; /* "}" of an empty object, or checked input */
        k.type = PS_JSON_STRING;
        k.p = j.p + j.i;
        if (parse_string(&j) < 0)
            return -1;
        k.n = (size_t)(j.p + j.i - k.p);
        skip_ws(&j);
        j.i++; /* ':' */
        if (parse_value(&j, 0, &v) < 0)
            return -1;
        if (ps_json_string(&k, name, sizeof(name), &klen) == 0 &&
            klen == want && memcmp(name, key, want) == 0) {
            if (found)
                return -1;
            found = 1;
            *out = v;
        }
        skip_ws(&j);
        if (j.i >= j.n || j.p[j.i] != ',')
            return found;
        j.i++;
    }
}

int ps_json_member_text(const ps_json_val *obj, const char *key,
                        ps_json_text as, char *out, size_t cap, size_t *len)
{
    ps_json_val v;
    int rc = ps_json_member(obj, key, &v);

    if (rc <= 0)
        return rc;
    if (v.type == PS_JSON_STRING)
        return ps_json_string(&v, out, cap, len) < 0 ? -1 : 1;
    if (as != PS_JSON_TEXT_OR_NUMBER || v.type != PS_JSON_NUMBER || v.n > cap)
        return -1;
    memcpy(out, v.p, v.n);
    *len = v.n;
    return 1;
}
