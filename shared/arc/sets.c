/* ARC set collection (RFC 8617 4.1, 5.1.1): the ARC-Seal,
 * ARC-Message-Signature and ARC-Authentication-Results fields of a
 * message, grouped by instance, with the structural errors that fail a
 * chain before any signature is looked at. */
#include "arc/arc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const field_names[PS_ARC_NPARTS] = {
    [PS_ARC_AAR] = "ARC-Authentication-Results",
    [PS_ARC_AMS] = "ARC-Message-Signature",
    [PS_ARC_AS] = "ARC-Seal",
};

ps_arc_sets *ps_arc_sets_new(void)
{
    return calloc(1, sizeof(ps_arc_sets));
}

void ps_arc_sets_free(ps_arc_sets *s)
{
    free(s);
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int ps_arc_field_kind(const char *name, size_t len, ps_arc_part *part)
{
    while (len > 0 && is_ws((unsigned char)name[len - 1]))
        len--;
    for (int k = 0; k < PS_ARC_NPARTS; k++) {
        if (strlen(field_names[k]) == len &&
            strncasecmp(name, field_names[k], len) == 0) {
            *part = (ps_arc_part)k;
            return 1;
        }
    }
    return 0;
}

/* i-val: 1*DIGIT without a leading zero. 0 and anything over the limit
 * are a range error, anything else that is not a number a syntax error. */
static ps_arc_sets_status read_instance(const char *v, size_t n, unsigned *out)
{
    unsigned long val = 0;

    if (n == 0 || (v[0] == '0' && n > 1))
        return PS_ARC_SETS_SYNTAX;
    for (size_t k = 0; k < n; k++) {
        if (v[k] < '0' || v[k] > '9')
            return PS_ARC_SETS_SYNTAX;
        if (val <= PS_ARC_MAX_INSTANCES)
            val = val * 10 + (unsigned long)(v[k] - '0');
    }
    if (val < 1 || val > PS_ARC_MAX_INSTANCES)
        return PS_ARC_SETS_RANGE;
    *out = (unsigned)val;
    return PS_ARC_SETS_OK;
}

/* [CFWS]: whitespace and (possibly nested) comments. */
static size_t skip_cfws(const char *s, size_t i, size_t n)
{
    int depth = 0;

    for (; i < n; i++) {
        if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && depth > 0)
            depth--;
        else if (depth == 0 && !is_ws((unsigned char)s[i]))
            break;
    }
    return i;
}

/* The AAR's arc-info: [CFWS] "i" [CFWS] "=" [CFWS] i-val [CFWS] ";". */
static ps_arc_sets_status aar_instance(const char *v, size_t n, unsigned *out)
{
    size_t i = skip_cfws(v, 0, n), start;

    if (i >= n || v[i] != 'i')
        return PS_ARC_SETS_SYNTAX;
    i = skip_cfws(v, i + 1, n);
    if (i >= n || v[i] != '=')
        return PS_ARC_SETS_SYNTAX;
    start = i = skip_cfws(v, i + 1, n);
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++;
    if (skip_cfws(v, i, n) >= n || v[skip_cfws(v, i, n)] != ';')
        return PS_ARC_SETS_SYNTAX;
    return read_instance(v + start, i - start, out);
}

static ps_arc_sets_status tagged_instance(const ps_tagval *tv, unsigned *out)
{
    const ps_tag *t = ps_tagval_find(tv, "i");

    if (t == NULL)
        return PS_ARC_SETS_SYNTAX;
    return read_instance(t->value, t->value_len, out);
}

static ps_arc_sets_status add_field(const ps_arc_header *h, size_t pos,
                                    ps_arc_part part, ps_arc_sets *out,
                                    ps_err *err)
{
    ps_arc_field f = {.present = 1,
                      .pos = pos,
                      .name = h->name,
                      .name_len = h->name_len,
                      .value = h->value,
                      .value_len = h->value_len};
    ps_arc_sets_status st;
    unsigned inst = 0;

    if (part == PS_ARC_AAR) {
        st = aar_instance(h->value, h->value_len, &inst);
    } else if (ps_tagval_parse(h->value, h->value_len, &f.tags, err) < 0) {
        ps_err_set(err, "%s (field %zu): bad tag list", field_names[part],
                   pos + 1);
        return PS_ARC_SETS_SYNTAX;
    } else {
        st = tagged_instance(&f.tags, &inst);
    }
    if (st != PS_ARC_SETS_OK) {
        ps_err_set(err, "%s (field %zu): %s i=", field_names[part], pos + 1,
                   st == PS_ARC_SETS_RANGE ? "out-of-range" : "missing or bad");
        return st;
    }
    if (out->set[inst - 1].part[part].present) {
        ps_err_set(err, "%s: a second one with i=%u (field %zu)",
                   field_names[part], inst, pos + 1);
        return PS_ARC_SETS_DUPLICATE;
    }
    out->set[inst - 1].part[part] = f;
    if (inst > out->count)
        out->count = inst;
    return PS_ARC_SETS_OK;
}

/* Every instance 1..count complete: a hole is a gap, a partial set is a
 * missing member. */
static ps_arc_sets_status check_complete(const ps_arc_sets *out, ps_err *err)
{
    for (unsigned i = 0; i < out->count; i++) {
        const ps_arc_set *s = &out->set[i];
        int have = 0;

        for (int k = 0; k < PS_ARC_NPARTS; k++)
            have += s->part[k].present;
        if (have == 0) {
            ps_err_set(err, "ARC: no set with i=%u below i=%u", i + 1,
                       out->count);
            return PS_ARC_SETS_GAP;
        }
        for (int k = 0; k < PS_ARC_NPARTS; k++)
            if (!s->part[k].present) {
                ps_err_set(err, "ARC: set i=%u has no %s", i + 1,
                           field_names[k]);
                return PS_ARC_SETS_MISSING;
            }
    }
    return PS_ARC_SETS_OK;
}

ps_arc_sets_status ps_arc_sets_parse(const ps_arc_header *hdrs, size_t n,
                                     ps_arc_sets *out, ps_err *err)
{
    ps_arc_sets_status st = PS_ARC_SETS_OK;

    memset(out, 0, sizeof(*out));
    for (size_t k = 0; k < n && st == PS_ARC_SETS_OK; k++) {
        ps_arc_part part;

        if (ps_arc_field_kind(hdrs[k].name, hdrs[k].name_len, &part))
            st = add_field(&hdrs[k], k, part, out, err);
    }
    if (st == PS_ARC_SETS_OK && out->count == 0)
        st = PS_ARC_SETS_NONE;
    else if (st == PS_ARC_SETS_OK)
        st = check_complete(out, err);
    out->status = st;
    return st;
}

const char *ps_arc_sets_status_name(ps_arc_sets_status s)
{
    static const char *const names[] = {
        [PS_ARC_SETS_OK] = "ok",
        [PS_ARC_SETS_NONE] = "none",
        [PS_ARC_SETS_SYNTAX] = "syntax",
        [PS_ARC_SETS_RANGE] = "range",
        [PS_ARC_SETS_DUPLICATE] = "duplicate",
        [PS_ARC_SETS_MISSING] = "missing",
        [PS_ARC_SETS_GAP] = "gap",
    };

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
