/* The DMARC policy record (RFC 7489 section 6.3, DMARCbis's t= and np=):
 * a tag list whose first tag is v=DMARC1, the one reader for receivers
 * (verify mode) and publishers ("postseal dns check"). Invalid values of
 * optional tags fall back to their defaults. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "dmarc/dmarc.h"
#include "dns/tagval.h"

static int ps_dmarc_tag_is(const ps_tag *t, const char *want)
{
    return t != NULL && t->value_len == strlen(want) &&
           strncasecmp(t->value, want, t->value_len) == 0;
}

/* v=DMARC1 as the first tag: "v", optional whitespace, "=", optional
 * whitespace, "DMARC1" (exact case: the ABNF spells it in hex), then the
 * end, ';' or whitespace. */
int ps_dmarc_is_record(const char *text, size_t n)
{
    size_t i = 0;

    while (i < n && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i >= n || (text[i] != 'v' && text[i] != 'V'))
        return 0;
    for (i++; i < n && (text[i] == ' ' || text[i] == '\t'); i++)
        ;
    if (i >= n || text[i] != '=')
        return 0;
    for (i++; i < n && (text[i] == ' ' || text[i] == '\t'); i++)
        ;
    if (n - i < 6 || memcmp(text + i, "DMARC1", 6) != 0)
        return 0;
    i += 6;
    return i == n || text[i] == ';' || text[i] == ' ' || text[i] == '\t';
}

/* none | quarantine | reject (case ignored: ABNF strings); -1 otherwise. */
static int ps_dmarc_policy_parse(const ps_tag *t, ps_dmarc_policy *out)
{
    if (ps_dmarc_tag_is(t, "none"))
        *out = PS_DMARC_POLICY_NONE;
    else if (ps_dmarc_tag_is(t, "quarantine"))
        *out = PS_DMARC_POLICY_QUARANTINE;
    else if (ps_dmarc_tag_is(t, "reject"))
        *out = PS_DMARC_POLICY_REJECT;
    else
        return -1;
    return 0;
}

static void ps_dmarc_align_parse(const ps_tag *t, ps_dmarc_align *out)
{
    if (ps_dmarc_tag_is(t, "s"))
        *out = PS_DMARC_STRICT;
    else if (ps_dmarc_tag_is(t, "r"))
        *out = PS_DMARC_RELAXED;
}

/* pct = 1*3DIGIT, 0..100; anything else leaves the default. */
static void ps_dmarc_pct_parse(const ps_tag *t, int *pct)
{
    int v = 0;

    if (t == NULL || t->value_len == 0 || t->value_len > 3)
        return;
    for (size_t i = 0; i < t->value_len; i++) {
        if (!isdigit((unsigned char)t->value[i]))
            return;
        v = v * 10 + (t->value[i] - '0');
    }
    if (v <= 100)
        *pct = v;
}

/* One dmarc-uri: a URI scheme (ALPHA *(ALPHA / DIGIT / "+" / "-" / "."))
 * and ':' followed by something. The size suffix ("!10m") and the rest
 * of the URI are the reporter's business, not the evaluator's. */
static int ps_dmarc_uri_ok(const char *s, size_t n)
{
    size_t i = 0;

    while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' ||
                     s[i] == '-' || s[i] == '.'))
        i++;
    return i < n && s[i] == ':' && i + 1 < n;
}

/* 1 when at least one comma-separated URI of rua= is well-formed. */
static int ps_dmarc_rua_ok(const ps_tag *t)
{
    const char *p, *end, *comma;

    if (t == NULL)
        return 0;
    for (p = t->value, end = t->value + t->value_len; p < end; p = comma + 1) {
        comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL)
            comma = end;
        if (ps_dmarc_uri_ok(p, (size_t)(comma - p)))
            return 1;
    }
    return 0;
}

/* Keeps rua= for aggregate reports: whole URIs, as many as fit. */
static void ps_dmarc_rua_keep(const ps_tag *t, char *out, size_t cap)
{
    size_t n;

    out[0] = '\0';
    if (t == NULL)
        return;
    n = t->value_len;
    while (n >= cap) {
        const char *comma = memrchr(t->value, ',', n);
        n = comma != NULL ? (size_t)(comma - t->value) : 0;
    }
    memcpy(out, t->value, n);
    out[n] = '\0';
}

/* fo = 0 / 1 / d / s, separated by ':' (section 6.3); anything else, or
 * a value too long to be a plain list, leaves the default "0". */
static void ps_dmarc_fo_keep(const ps_tag *t, char *out, size_t cap)
{
    size_t o = 0, n = t != NULL ? t->value_len : 0;
    int want_opt = 1;

    for (size_t i = 0; i < n; i++) {
        char c = t->value[i];
        if (c == ' ' || c == '\t')
            continue;
        if (want_opt != (strchr("01ds", c) != NULL && c != '\0') ||
            (!want_opt && c != ':') || o + 1 >= cap) {
            o = 0;
            break;
        }
        out[o++] = c;
        want_opt = !want_opt;
    }
    if (o == 0 || want_opt) { /* empty, or ends with ':' */
        out[0] = '0';
        o = 1;
    }
    out[o] = '\0';
}

static void ps_dmarc_record_defaults(ps_dmarc_record *r)
{
    memset(r, 0, sizeof(*r));
    r->p = r->sp = r->np = PS_DMARC_POLICY_NONE;
    r->adkim = r->aspf = PS_DMARC_RELAXED;
    r->pct = 100;
    r->fo[0] = '0';
}

/* p=, sp= and np= (DMARCbis): 0 when p= is valid and sp= absent or
 * valid; -1 with the first problem in words an admin can act on. An
 * invalid np= is ignored like any optional tag: sp= applies. */
static int ps_dmarc_policies(const ps_tagval *tv, ps_dmarc_record *out,
                             ps_err *why)
{
    const ps_tag *p = ps_tagval_find(tv, "p"), *sp = ps_tagval_find(tv, "sp");

    if (p == NULL)
        return ps_err_set(why, "no p= tag");
    if (ps_dmarc_policy_parse(p, &out->p) != 0)
        return ps_err_set(why,
                          "p=%.*s: DMARC policy must be none, quarantine "
                          "or reject",
                          (int)(p->value_len > 40 ? 40 : p->value_len),
                          p->value);
    if (sp == NULL)
        out->sp = out->p;
    else if (ps_dmarc_policy_parse(sp, &out->sp) != 0)
        return ps_err_set(why,
                          "sp=%.*s: DMARC policy must be none, quarantine "
                          "or reject",
                          (int)(sp->value_len > 40 ? 40 : sp->value_len),
                          sp->value);
    out->has_np =
        ps_dmarc_policy_parse(ps_tagval_find(tv, "np"), &out->np) == 0;
    if (!out->has_np)
        out->np = out->sp;
    return 0;
}

/* The one reading of a record: receivers (ps_dmarc_record_parse) and
 * publishers (ps_dmarc_record_check) differ only in what they do with a
 * record whose policy tags are unusable (pwhy says why). */
static int ps_dmarc_record_read(const char *text, size_t n,
                                ps_dmarc_record *out, ps_err *err, ps_err *pwhy)
{
    ps_tagval tv;
    ps_err why = {""};

    ps_dmarc_record_defaults(out);
    if (!ps_dmarc_is_record(text, n))
        return ps_err_set(err, "not a v=DMARC1 record");
    if (ps_tagval_parse(text, n, &tv, &why) != 0)
        return ps_err_set(err, "the record does not parse: %s", why.msg);
    out->has_rua = ps_dmarc_rua_ok(ps_tagval_find(&tv, "rua"));
    ps_dmarc_rua_keep(ps_tagval_find(&tv, "rua"), out->rua, sizeof(out->rua));
    ps_dmarc_fo_keep(ps_tagval_find(&tv, "fo"), out->fo, sizeof(out->fo));
    /* Section 6.6.3: no valid p=, or an sp= that is not valid, is read
     * as p=none when rua= is valid, and means no DMARC otherwise. */
    if (ps_dmarc_policies(&tv, out, pwhy) != 0) {
        if (!out->has_rua)
            return ps_err_set(err, "%s, and no valid rua=", pwhy->msg);
        out->p = out->sp = out->np = PS_DMARC_POLICY_NONE;
        out->has_np = 0;
        out->p_absent = 1;
    }
    ps_dmarc_align_parse(ps_tagval_find(&tv, "adkim"), &out->adkim);
    ps_dmarc_align_parse(ps_tagval_find(&tv, "aspf"), &out->aspf);
    ps_dmarc_pct_parse(ps_tagval_find(&tv, "pct"), &out->pct);
    out->testing = ps_dmarc_tag_is(ps_tagval_find(&tv, "t"), "y");
    return 0;
}

int ps_dmarc_record_parse(const char *text, size_t n, ps_dmarc_record *out,
                          ps_err *err)
{
    ps_err pwhy = {""};

    return ps_dmarc_record_read(text, n, out, err, &pwhy);
}

int ps_dmarc_record_check(const char *text, size_t n, ps_dmarc_record *out,
                          ps_err *err)
{
    ps_err pwhy = {""};

    if (ps_dmarc_record_read(text, n, out, err, &pwhy) != 0)
        return -1;
    if (out->p_absent)
        return ps_err_set(err, "%s", pwhy.msg);
    return 0;
}

const char *ps_dmarc_policy_word(ps_dmarc_policy p)
{
    switch (p) {
    case PS_DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case PS_DMARC_POLICY_REJECT:
        return "reject";
    default:
        return "none";
    }
}
