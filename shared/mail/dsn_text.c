/* Heuristics for bounces without a message/delivery-status part: the
 * plain-text layouts of Postfix, Exim, Gmail and Microsoft Exchange/Outlook.
 * Each looks for its own marker first, so ordinary text is not misread. */
#include <string.h>

#include "mail/dsn_int.h"

typedef struct scan {
    const char *buf;
    size_t len, pos;
} scan;

static int next(scan *s, ps_dsn_line *l)
{
    return ps_dsn_next_line(s->buf, s->len, &s->pos, l);
}

static int indent(const ps_dsn_line *l)
{
    int i = 0;
    while ((size_t)i < l->n && (l->p[i] == ' ' || l->p[i] == '\t'))
        i++;
    return i;
}

static ps_dsn_rcpt *add_addr(ps_dsn *d, const char *p, size_t n)
{
    char a[PS_DSN_ADDR_MAX];
    if (ps_dsn_take_addr(p, n, a, sizeof a) < 0)
        return NULL;
    ps_dsn_rcpt *r = ps_dsn_add(d);
    if (r)
        strcpy(r->recipient, a);
    return r;
}

/* Postfix bounce(8): "<user@dom>: host ... said: 550 5.1.1 ..." after
 * "The mail system", continuation lines indented. */
static void postfix(scan *s, ps_dsn *d)
{
    ps_dsn_line l;
    ps_dsn_rcpt *r = NULL;
    int on = 0;
    while (next(s, &l)) {
        if (!on) {
            on = ps_dsn_has(l.p, l.n, "The mail system");
            continue;
        }
        if (l.n && l.p[0] == '<' && ps_dsn_find(l.p, l.n, ">:")) {
            r = add_addr(d, l.p, l.n);
            const char *c = ps_dsn_find(l.p, l.n, ">:") + 2;
            if (r)
                ps_dsn_append(r->diagnostic, sizeof r->diagnostic, c,
                              (size_t)(l.p + l.n - c));
        } else if (r && indent(&l) > 0 && !ps_dsn_blank(&l)) {
            ps_dsn_append(r->diagnostic, sizeof r->diagnostic, l.p, l.n);
        } else {
            r = NULL;
        }
    }
}

/* Exim: after "following address(es) failed", each address on a line
 * indented two spaces, its reasons indented further. */
static void exim(scan *s, ps_dsn *d)
{
    ps_dsn_line l;
    ps_dsn_rcpt *r = NULL;
    int on = 0;
    while (next(s, &l)) {
        if (!on) {
            on = ps_dsn_has(l.p, l.n, "following address(es) failed") ||
                 ps_dsn_has(l.p, l.n, "following addresses failed");
            continue;
        }
        if (ps_dsn_blank(&l))
            continue;
        int in = indent(&l);
        if (in == 0 || (l.n >= 6 && !memcmp(l.p, "------", 6)))
            break;
        if (in < 4 && memchr(l.p, '@', l.n))
            r = add_addr(d, l.p, l.n);
        else if (r)
            ps_dsn_append(r->diagnostic, sizeof r->diagnostic, l.p, l.n);
    }
}

/* The lines after a marker line, up to a blank one, as a diagnostic. */
static void diag_after(scan *s, const char *marker, char *dst, size_t cap)
{
    ps_dsn_line l;
    int on = 0;
    s->pos = 0;
    while (next(s, &l)) {
        if (!on) {
            on = ps_dsn_has(l.p, l.n, marker);
            continue;
        }
        if (ps_dsn_blank(&l)) {
            if (dst[0])
                return;
            continue;
        }
        ps_dsn_append(dst, cap, l.p, l.n);
    }
}

static void diag_all(ps_dsn *d, size_t from, const char *diag)
{
    for (size_t i = from; i < d->n; i++)
        if (!d->rcpt[i].diagnostic[0])
            ps_dsn_append(d->rcpt[i].diagnostic, PS_DSN_DIAG_MAX, diag,
                          strlen(diag));
}

/* Gmail: "Your message wasn't delivered to user@dom because ...", older
 * "Delivery to the following recipient failed permanently:" + address
 * line; the server's words follow "The response ... was:". */
static void gmail(scan *s, ps_dsn *d)
{
    ps_dsn_line l;
    int next_addr = 0;
    size_t first = d->n;
    while (next(s, &l)) {
        const char *m = ps_dsn_find(l.p, l.n, "wasn't delivered to ");
        if (!m)
            m = ps_dsn_find(l.p, l.n, "was not delivered to ");
        if (m) {
            add_addr(d, m, (size_t)(l.p + l.n - m));
        } else if (ps_dsn_has(l.p, l.n, "following recipient failed") ||
                   ps_dsn_has(l.p, l.n, "following recipients failed")) {
            next_addr = 1;
        } else if (next_addr && !ps_dsn_blank(&l)) {
            if (!memchr(l.p, '@', l.n) || !add_addr(d, l.p, l.n))
                next_addr = 0;
        }
    }
    char diag[PS_DSN_DIAG_MAX] = "";
    diag_after(s, "The response from the remote server was:", diag,
               sizeof diag);
    if (!diag[0])
        diag_after(s, "The response was:", diag, sizeof diag);
    if (!diag[0])
        diag_after(s, "Technical details of permanent failure:", diag,
                   sizeof diag);
    diag_all(d, first, diag);
}

/* Exchange / Outlook.com: "Delivery has failed to these recipients or
 * groups:" then "user@dom (Name)" lines; "Your message to user@dom
 * couldn't be delivered."; the server's words in "Remote Server returned
 * '550 5.1.1 ...'". */
static void microsoft(scan *s, ps_dsn *d)
{
    ps_dsn_line l;
    int on = 0;
    size_t first = d->n;
    char diag[PS_DSN_DIAG_MAX] = "";
    while (next(s, &l)) {
        const char *m = ps_dsn_find(l.p, l.n, "Your message to ");
        const char *rs = ps_dsn_find(l.p, l.n, "Remote Server returned '");
        if (rs && !diag[0]) {
            rs += strlen("Remote Server returned '");
            const char *q = memchr(rs, '\'', (size_t)(l.p + l.n - rs));
            ps_dsn_append(diag, sizeof diag, rs,
                          (size_t)((q ? q : l.p + l.n) - rs));
        }
        if (m && ps_dsn_has(l.p, l.n, "delivered")) {
            add_addr(d, m, (size_t)(l.p + l.n - m));
        } else if (ps_dsn_has(l.p, l.n,
                              "Delivery has failed to these recipients")) {
            on = 1;
        } else if (on && !ps_dsn_blank(&l)) {
            if (!memchr(l.p, '@', l.n) || !add_addr(d, l.p, l.n))
                on = 0;
        }
    }
    diag_all(d, first, diag);
}

void ps_dsn_text_parse(const char *buf, size_t len, ps_dsn *d)
{
    static const struct {
        void (*fn)(scan *, ps_dsn *);
        ps_dsn_source src;
    } tries[] = {{postfix, PS_DSN_POSTFIX},
                 {exim, PS_DSN_EXIM},
                 {gmail, PS_DSN_GMAIL},
                 {microsoft, PS_DSN_MICROSOFT}};
    for (size_t i = 0; i < sizeof tries / sizeof *tries && d->n == 0; i++) {
        scan s = {buf, len, 0};
        tries[i].fn(&s, d);
        d->source = d->n ? tries[i].src : PS_DSN_NONE;
    }
    for (size_t i = 0; i < d->n; i++)
        ps_dsn_complete(&d->rcpt[i]);
}
