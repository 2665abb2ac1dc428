/* RFC 3464 delivery status notifications: finds the message/delivery-status
 * part and reads one record per recipient group; falls back to the
 * plain-text heuristics in dsn_text.c when there is none. */
#include <string.h>
#include <strings.h>

#include "mail/dsn_int.h"

/* The field being read, so continuation lines join the right one. */
enum { F_NONE, F_FINAL, F_ORIG, F_ACTION, F_STATUS, F_DIAG };

typedef struct group {
    ps_dsn_rcpt r;
    char orig[PS_DSN_ADDR_MAX];
    char final[PS_DSN_ADDR_MAX];
    int field;
} group;

static int field_is(const ps_dsn_line *l, const char *name, size_t *vstart)
{
    size_t k = strlen(name);
    if (l->n <= k || strncasecmp(l->p, name, k) != 0)
        return 0;
    size_t i = k;
    while (i < l->n && (l->p[i] == ' ' || l->p[i] == '\t'))
        i++;
    if (i >= l->n || l->p[i] != ':')
        return 0;
    *vstart = i + 1;
    return 1;
}

/* "rfc822; user@example.com" and "smtp; 550 ...": drop the type. */
static void typed_value(const char *p, size_t n, char *dst, size_t cap)
{
    const char *semi = memchr(p, ';', n);
    if (semi) {
        n -= (size_t)(semi + 1 - p);
        p = semi + 1;
    }
    ps_dsn_append(dst, cap, p, n);
}

static void field(group *g, const ps_dsn_line *l)
{
    size_t v;
    char tmp[PS_DSN_ADDR_MAX];
    if ((l->p[0] == ' ' || l->p[0] == '\t') && g->field == F_DIAG) {
        ps_dsn_append(g->r.diagnostic, sizeof g->r.diagnostic, l->p, l->n);
        return;
    }
    g->field = F_NONE;
    char *dst = field_is(l, "Final-Recipient", &v)      ? g->final
                : field_is(l, "Original-Recipient", &v) ? g->orig
                                                        : NULL;
    if (dst) {
        tmp[0] = '\0';
        typed_value(l->p + v, l->n - v, tmp, sizeof tmp);
        if (ps_dsn_take_addr(tmp, strlen(tmp), dst, PS_DSN_ADDR_MAX) < 0)
            dst[0] = '\0';
    } else if (field_is(l, "Action", &v)) {
        g->r.action[0] = '\0';
        ps_dsn_append(g->r.action, sizeof g->r.action, l->p + v, l->n - v);
        for (char *c = g->r.action; *c; c++)
            *c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
    } else if (field_is(l, "Status", &v)) {
        char s[64] = "";
        ps_dsn_append(s, sizeof s, l->p + v, l->n - v);
        ps_dsn_find_status(s, g->r.status, sizeof g->r.status);
    } else if (field_is(l, "Diagnostic-Code", &v)) {
        g->r.diagnostic[0] = '\0';
        typed_value(l->p + v, l->n - v, g->r.diagnostic,
                    sizeof g->r.diagnostic);
        g->field = F_DIAG;
    }
}

static void flush(group *g, ps_dsn *d)
{
    const char *rcpt = g->final[0] ? g->final : g->orig;
    if (rcpt[0]) {
        ps_dsn_rcpt *r = ps_dsn_add(d);
        if (r) {
            *r = g->r;
            strcpy(r->recipient, rcpt);
            ps_dsn_complete(r);
        }
    }
    memset(g, 0, sizeof *g);
}

/* Reads the groups of one message/delivery-status body from *pos. */
static void status_body(const char *buf, size_t len, size_t *pos, ps_dsn *d)
{
    ps_dsn_line l;
    group grp;
    memset(&grp, 0, sizeof grp);
    while (ps_dsn_next_line(buf, len, pos, &l)) {
        if (l.n >= 2 && l.p[0] == '-' && l.p[1] == '-')
            break; /* the next MIME boundary */
        if (ps_dsn_blank(&l))
            flush(&grp, d);
        else
            field(&grp, &l);
    }
    flush(&grp, d);
}

/* Finds each part whose Content-Type is message/delivery-status (on the
 * header line or its continuation), skips its header, reads its body. */
static void rfc3464(const char *buf, size_t len, ps_dsn *d)
{
    size_t pos = 0, v;
    ps_dsn_line l;
    int in_ct = 0, want = 0;
    while (ps_dsn_next_line(buf, len, &pos, &l)) {
        if (field_is(&l, "Content-Type", &v))
            in_ct = 1;
        else if (!(l.n && (l.p[0] == ' ' || l.p[0] == '\t')))
            in_ct = 0;
        if (in_ct && (ps_dsn_has(l.p, l.n, "message/delivery-status") ||
                      ps_dsn_has(l.p, l.n, "message/global-delivery-status")))
            want = 1;
        if (want && ps_dsn_blank(&l)) {
            status_body(buf, len, &pos, d);
            want = 0;
        }
    }
}

int ps_dsn_parse(const char *msg, size_t len, ps_dsn *out, ps_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > PS_DSN_SCAN_MAX)
        len = PS_DSN_SCAN_MAX; /* the report part comes early in a bounce */
    rfc3464(msg, len, out);
    if (out->n) {
        out->source = PS_DSN_RFC3464;
        return 0;
    }
    ps_dsn_text_parse(msg, len, out);
    if (out->n)
        return 0;
    return ps_err_set(err, "no failed recipient found in the bounce");
}

const char *ps_dsn_source_name(ps_dsn_source s)
{
    switch (s) {
    case PS_DSN_RFC3464:
        return "rfc3464";
    case PS_DSN_POSTFIX:
        return "postfix";
    case PS_DSN_EXIM:
        return "exim";
    case PS_DSN_GMAIL:
        return "gmail";
    case PS_DSN_MICROSOFT:
        return "microsoft";
    default:
        return "none";
    }
}
