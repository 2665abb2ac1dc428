/* The policy protocol parser: bytes in, one request (or one refusal) out.
 * Memory per connection stays under PS_POLICY_MAX_REQUEST bytes however
 * much a client sends: over-long lines are cut, and past a bound nothing
 * more of the request is kept, only counted to its end. */
#include "policy_proto.h"

#include <stdlib.h>
#include <string.h>

static const char *const ps_policy_names[] = {"request",
                                              "protocol_state",
                                              "protocol_name",
                                              "helo_name",
                                              "queue_id",
                                              "sender",
                                              "recipient",
                                              "recipient_count",
                                              "client_address",
                                              "client_name",
                                              "reverse_client_name",
                                              "instance",
                                              "sasl_method",
                                              "sasl_username",
                                              "sasl_sender",
                                              "size",
                                              "ccert_subject",
                                              "ccert_issuer",
                                              "ccert_fingerprint",
                                              "ccert_pubkey_fingerprint",
                                              "encryption_protocol",
                                              "encryption_cipher",
                                              "encryption_keysize",
                                              "etrn_domain",
                                              "stress",
                                              "client_port",
                                              "policy_context",
                                              "server_address",
                                              "server_port",
                                              "compatibility_level",
                                              "mail_version",
                                              NULL};

#define PS_POLICY_STR_(n) #n
#define PS_POLICY_STR(n)  PS_POLICY_STR_(n)

static const char *const ps_policy_errors[] = {
    [PS_POLICY_OK] = "ok",
    [PS_POLICY_ELINE] = "attribute name longer than " PS_POLICY_STR(
        PS_POLICY_MAX_LINE) " bytes",
    [PS_POLICY_EATTRS] =
        "more than " PS_POLICY_STR(PS_POLICY_MAX_ATTRS) " attributes",
    [PS_POLICY_ESIZE] =
        "request longer than " PS_POLICY_STR(PS_POLICY_MAX_REQUEST) " bytes",
    [PS_POLICY_ESYNTAX] = "line is not name=value",
    [PS_POLICY_EBINARY] = "NUL byte in a line",
    [PS_POLICY_EREPEAT] = "attribute repeated",
    [PS_POLICY_ECRLF] = "line ends in CR LF",
    [PS_POLICY_EREQUEST] = "not request=smtpd_access_policy",
};

void ps_policy_init(ps_policy_parser *p)
{
    memset(p, 0, sizeof(*p));
}

void ps_policy_free(ps_policy_parser *p)
{
    free(p->buf);
    ps_policy_init(p);
}

void ps_policy_reset(ps_policy_parser *p)
{
    char *buf = p->buf;
    size_t cap = p->cap;

    ps_policy_init(p);
    p->buf = buf;
    p->cap = cap;
}

int ps_policy_pending(const ps_policy_parser *p)
{
    return !p->done && (p->nlines > 0 || p->line_len > 0);
}

const char *ps_policy_strerror(ps_policy_error e)
{
    return (unsigned)e <= PS_POLICY_EREQUEST ? ps_policy_errors[e] : "?";
}

int ps_policy_known(const char *name)
{
    for (const char *const *n = ps_policy_names; *n != NULL; n++)
        if (strcmp(*n, name) == 0)
            return 1;
    return 0;
}

const char *ps_policy_name_at(const ps_policy_parser *p, size_t i)
{
    return i < p->nattrs ? p->buf + p->attrs[i].name : NULL;
}

_Static_assert(PS_POLICY_INDEX_SLOTS >= 2 * PS_POLICY_MAX_ATTRS &&
                   PS_POLICY_MAX_ATTRS < 255 &&
                   (PS_POLICY_INDEX_SLOTS & (PS_POLICY_INDEX_SLOTS - 1)) == 0,
               "the name index has room to spare and fits its numbers");

static unsigned ps_policy_hash(const char *name)
{
    unsigned h = 2166136261u; /* FNV-1a */

    for (; *name != '\0'; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h;
}

/* The slot of name in the index: the one holding it, or the free one
 * where it would go (the index is never full: see the assertion). */
static size_t ps_policy_slot(const ps_policy_parser *p, const char *name,
                             unsigned h)
{
    size_t i = h & (PS_POLICY_INDEX_SLOTS - 1);

    for (;; i = (i + 1) & (PS_POLICY_INDEX_SLOTS - 1)) {
        const ps_policy_attr *a;
        if (p->index[i] == 0)
            return i;
        a = &p->attrs[p->index[i] - 1];
        if (a->hash == h && strcmp(p->buf + a->name, name) == 0)
            return i;
    }
}

const char *ps_policy_get(const ps_policy_parser *p, const char *name)
{
    size_t i = ps_policy_slot(p, name, ps_policy_hash(name));

    return p->index[i] != 0 ? p->buf + p->attrs[p->index[i] - 1].value : NULL;
}

static void ps_policy_fail(ps_policy_parser *p, ps_policy_error e)
{
    if (p->error == PS_POLICY_OK) {
        p->error = e;
        p->error_line = p->nlines + 1;
    }
}

/* A request bound is reached: refused, and nothing more of it kept. */
static void ps_policy_full(ps_policy_parser *p, ps_policy_error e)
{
    ps_policy_fail(p, e);
    p->full = 1;
}

/* Room for more bytes of the line being read plus its two NULs, within
 * PS_POLICY_MAX_REQUEST (so the buffer never grows past it). */
static int ps_policy_reserve(ps_policy_parser *p, size_t more)
{
    size_t need = p->len + p->line_kept + more + 2;
    size_t cap = p->cap ? p->cap : 512;
    char *b;

    if (need > PS_POLICY_MAX_REQUEST) {
        ps_policy_full(p, PS_POLICY_ESIZE);
        return 0;
    }
    if (need <= p->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if ((b = realloc(p->buf, cap)) == NULL)
        return -1;
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* The line at buf[len], line_kept bytes of its line_len, now complete:
 * kept as an attribute (cut if it was longer), or refused. A refused line
 * is not kept, but the lines after it are. */
static void ps_policy_line(ps_policy_parser *p)
{
    char *line = p->buf + p->len, *eq;
    size_t n = p->line_kept, slot;
    int cut = p->line_len > p->line_kept;
    unsigned h;

    if (p->line_cr) {
        ps_policy_fail(p, PS_POLICY_ECRLF);
        n -= !cut; /* a cut line's '\r' is among the bytes dropped */
    }
    if (memchr(line, '\0', n) != NULL) {
        ps_policy_fail(p, PS_POLICY_EBINARY);
        return;
    }
    line[n] = '\0';
    eq = strchr(line, '=');
    if (eq == NULL || eq == line) {
        ps_policy_fail(p,
                       eq == NULL && cut ? PS_POLICY_ELINE : PS_POLICY_ESYNTAX);
        return;
    }
    *eq = '\0';
    h = ps_policy_hash(line);
    slot = ps_policy_slot(p, line, h);
    if (p->index[slot] != 0) {
        ps_policy_fail(p, PS_POLICY_EREPEAT);
        return;
    }
    p->attrs[p->nattrs].name = p->len;
    p->attrs[p->nattrs].value = p->len + (size_t)(eq + 1 - line);
    p->attrs[p->nattrs].hash = h;
    p->attrs[p->nattrs].cut = cut;
    p->nattrs++;
    p->index[slot] = (unsigned char)p->nattrs;
    p->len += n + 1;
}

/* The empty line: the request is complete. "\r" alone ends a CR LF
 * request, refused, rather than leaving its client without an answer. */
static void ps_policy_end_request(ps_policy_parser *p)
{
    const char *req = ps_policy_get(p, "request");

    p->done = 1;
    if (p->line_len > 0)
        ps_policy_fail(p, PS_POLICY_ECRLF);
    if (p->error == PS_POLICY_OK &&
        (req == NULL || strcmp(req, "smtpd_access_policy") != 0)) {
        p->error = PS_POLICY_EREQUEST;
        p->error_line = 0;
    }
}

static void ps_policy_end_line(ps_policy_parser *p)
{
    if (p->line_len == 0 || (p->line_len == 1 && p->line_cr)) {
        ps_policy_end_request(p);
        return;
    }
    if (p->nlines == PS_POLICY_MAX_ATTRS)
        ps_policy_full(p, PS_POLICY_EATTRS);
    if (!p->full)
        ps_policy_line(p);
    if (p->nlines < (size_t)-1)
        p->nlines++;
    p->line_len = 0;
    p->line_kept = 0;
    p->line_cr = 0;
}

/* Bytes of a line, no '\n' among them: kept up to PS_POLICY_MAX_LINE
 * while the request is within its bounds, counted beyond. */
static int ps_policy_take(ps_policy_parser *p, const char *data, size_t n)
{
    size_t keep;

    if (n == 0)
        return 0;
    p->line_cr = data[n - 1] == '\r';
    p->line_len = p->line_len + n < p->line_len ? p->line_len : p->line_len + n;
    keep = PS_POLICY_MAX_LINE - p->line_kept;
    if (keep > n)
        keep = n;
    if (p->full || keep == 0)
        return 0;
    if (ps_policy_reserve(p, keep) != 0)
        return -1;
    if (p->full)
        return 0;
    memcpy(p->buf + p->len + p->line_kept, data, keep);
    p->line_kept += keep;
    return 0;
}

size_t ps_policy_feed(ps_policy_parser *p, const char *data, size_t len)
{
    size_t used = 0;

    while (used < len && !p->done) {
        const char *nl = memchr(data + used, '\n', len - used);
        size_t n = nl != NULL ? (size_t)(nl - (data + used)) : len - used;

        if (ps_policy_take(p, data + used, n) != 0)
            return (size_t)-1;
        used += n;
        if (nl == NULL)
            break;
        used++;
        ps_policy_end_line(p);
    }
    return used;
}
