/* Streaming DKIM body canonicalisation (RFC 6376 sections 3.4.3 and
 * 3.4.4): bytes reach the sink straight from the caller's buffer in runs
 * as long as the canonical form allows; only what may still be dropped
 * (trailing empty lines, trailing whitespace, a CR split from its LF) is
 * held back, as counters, across chunks. */
#include "dkim/canon_int.h"

#include <string.h>

#define CRLF4   "\r\n\r\n\r\n\r\n"
#define CRLF16  CRLF4 CRLF4 CRLF4 CRLF4
#define CRLF64  CRLF16 CRLF16 CRLF16 CRLF16
#define CRLF256 CRLF64 CRLF64 CRLF64 CRLF64

static const char crlfs[] = CRLF256;

static void out(ps_dkim_body *b, const void *p, size_t n)
{
    if (n == 0 || b->failed)
        return;
    if (b->sink(b->arg, p, n) < 0)
        b->failed = 1;
    else
        b->emitted += n;
}

/* Writes [*run, upto) if there is any, and moves the run past it. */
static void flush(ps_dkim_body *b, const uint8_t **run, const uint8_t *upto)
{
    if (upto > *run) {
        out(b, *run, (size_t)(upto - *run));
        *run = upto;
    }
}

/* Content has arrived after held-back empty lines and (relaxed) after
 * whitespace: both are now known to be inside the body, not at its end. */
static void release(ps_dkim_body *b)
{
    while (b->pending_crlf > 0) {
        uint64_t k = sizeof(crlfs) / 2;
        if (k > b->pending_crlf)
            k = b->pending_crlf;
        out(b, crlfs, (size_t)k * 2);
        b->pending_crlf -= k;
    }
    if (b->pending_wsp)
        out(b, " ", 1);
    b->pending_wsp = 0;
    b->line_empty = 0;
}

/* Content at q: whatever was held back before it is written first. A
 * line start with nothing held back costs nothing, so CRLF lines stay in
 * one run. */
static void content_at(ps_dkim_body *b, const uint8_t **run, const uint8_t *q)
{
    if (b->pending_crlf > 0 || b->pending_wsp) {
        flush(b, run, q);
        release(b);
    }
    b->line_empty = 0;
}

/* The CR that ended the previous chunk was not followed by LF: it is an
 * ordinary byte of the line. */
static void cr_content(ps_dkim_body *b)
{
    if (b->pending_crlf > 0 || b->pending_wsp)
        release(b);
    b->line_empty = 0;
    out(b, "\r", 1);
}

static int is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* A line ends at the LF lf, its content at cend. An empty line is only
 * counted (cend is then its start, or past the WSP it held, so the flush
 * writes only earlier lines); a CRLF inside this chunk stays in the run; a
 * bare LF, or an LF whose CR came in the previous chunk, is written as
 * CRLF. */
static void line_end(ps_dkim_body *b, const uint8_t *data, const uint8_t *cend,
                     const uint8_t *lf, const uint8_t **run)
{
    if (b->line_empty) {
        flush(b, run, cend);
        b->pending_crlf++;
        b->pending_wsp = 0;
        *run = lf + 1;
        return;
    }
    b->pending_wsp = 0;
    if (!(lf > data && lf[-1] == '\r')) {
        flush(b, run, cend);
        out(b, "\r\n", 2);
        *run = lf + 1;
    }
    b->line_empty = 1;
}

/* Whitespace relaxed must squeeze or may have to drop: anything but one
 * SP between two content bytes of a line. Simple keeps all of it. */
static int wsp_to_squeeze(const ps_dkim_body *b, const uint8_t *p,
                          const uint8_t *end)
{
    if (b->canon != PS_CANON_RELAXED || !is_wsp(*p))
        return 0;
    return b->line_empty || b->pending_wsp || *p == '\t' || p + 1 == end ||
           is_wsp(p[1]) || p[1] == '\r' || p[1] == '\n';
}

/* From event to event (see ps_dkim_scan); the bytes between stay in the
 * run. Squeezed WSP is held back as one pending SP, written only if
 * content follows on its line. */
static void chunk(ps_dkim_body *b, const uint8_t *data, const uint8_t *end)
{
    const uint8_t *p = data, *run = data;

    while (p < end) {
        if (*p == '\n') {
            line_end(b, data, p > data && p[-1] == '\r' ? p - 1 : p, p, &run);
            p++;
        } else if (wsp_to_squeeze(b, p, end)) {
            flush(b, &run, p);
            while (p < end && is_wsp(*p))
                p++;
            b->pending_wsp = 1;
            run = p;
        } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            p++; /* the line end: its LF comes next */
        } else {
            if (b->line_empty || b->pending_wsp)
                content_at(b, &run, p);
            p = ps_dkim_scan(b->canon, p + 1, end);
        }
    }
    flush(b, &run, end);
}

int ps_dkim_body_update(ps_dkim_body *b, const uint8_t *data, size_t n)
{
    const uint8_t *end = data + n;

    if (b->failed)
        return -1;
    if (n == 0)
        return 0;
    if (b->pending_cr) {
        b->pending_cr = 0;
        if (data[0] != '\n')
            cr_content(b);
    }
    if (end[-1] == '\r') {
        end--;
        b->pending_cr = 1;
    }
    chunk(b, data, end);
    return b->failed ? -1 : 0;
}

int ps_dkim_body_final(ps_dkim_body *b)
{
    if (b->pending_cr) {
        b->pending_cr = 0;
        cr_content(b);
    }
    if (!b->line_empty)
        out(b, "\r\n", 2); /* the last line had no line end */
    b->line_empty = 1;
    b->pending_wsp = 0;
    b->pending_crlf = 0;
    if (b->canon == PS_CANON_SIMPLE && b->emitted == 0)
        out(b, "\r\n", 2);
    return b->failed ? -1 : 0;
}

void ps_dkim_body_init(ps_dkim_body *b, ps_canon canon, ps_dkim_sink sink,
                       void *arg)
{
    memset(b, 0, sizeof(*b));
    b->sink = sink;
    b->arg = arg;
    b->canon = canon;
    b->line_empty = 1;
}
