/* DKIM canonicalisation (RFC 6376 section 3.4), internal to the core:
 * header fields one at a time into a bounded buffer, and the body as a
 * stream whose canonical bytes go to a sink in long runs. */
#ifndef PS_DKIM_CANON_H
#define PS_DKIM_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "dkim/dkim.h"

/* A growable byte buffer that refuses to grow past max. */
typedef struct ps_dkim_buf {
    char *data;
    size_t len, cap, max;
} ps_dkim_buf;

/* Appends n bytes; -1 when that would pass b->max or memory runs out
 * (the buffer is then unchanged). */
int ps_dkim_buf_add(ps_dkim_buf *b, const void *p, size_t n);
int ps_dkim_buf_addstr(ps_dkim_buf *b, const char *s);
void ps_dkim_buf_free(ps_dkim_buf *b);

/* Appends the canonical form "name:value\r\n" of one header field. name
 * may carry the whitespace that preceded the ':'; value is as the MTA has
 * it (folded with CRLF or bare LF). Simple keeps the bytes and writes
 * every line end as CRLF; relaxed lowercases the name, unfolds, and
 * squeezes and trims whitespace. -1 only when out is full. */
int ps_dkim_canon_header(ps_canon canon, const char *name, size_t nlen,
                         const char *value, size_t vlen, ps_dkim_buf *out);

/* Where canonical body bytes go; returns 0, or -1 to stop the stream. */
typedef int (*ps_dkim_sink)(void *arg, const uint8_t *p, size_t n);

/* Streaming body canonicaliser. Everything not yet passed to the sink is
 * described by the counters and flags, never by copied bytes. */
typedef struct ps_dkim_body {
    ps_dkim_sink sink;
    void *arg;
    ps_canon canon;
    uint64_t pending_crlf;     /* empty lines held back: they may be trailing */
    uint64_t emitted;          /* canonical bytes given to the sink */
    unsigned char pending_cr;  /* the last chunk ended in CR */
    unsigned char pending_wsp; /* relaxed: whitespace seen, not yet written */
    unsigned char line_empty;  /* no content yet on the current line */
    unsigned char failed;      /* the sink said stop */
} ps_dkim_body;

void ps_dkim_body_init(ps_dkim_body *b, ps_canon canon, ps_dkim_sink sink,
                       void *arg);
/* Any chunking of the same bytes gives the same canonical stream.
 * Returns -1 once the sink has failed. */
int ps_dkim_body_update(ps_dkim_body *b, const uint8_t *data, size_t n);
/* Applies the end-of-body rules (final CRLF, empty body). */
int ps_dkim_body_final(ps_dkim_body *b);

/* The first byte in [p, end) body canonicalisation must look at
 * (dkim_scan.c): an LF, unless it ends a CRLF followed by content; and
 * for relaxed a TAB, or a SP followed by WSP, CR, LF or the end. p[-1]
 * must be a byte of the same chunk. */
const uint8_t *ps_dkim_scan(ps_canon canon, const uint8_t *p,
                            const uint8_t *end);
/* The relaxed scan's 64-byte blocks alone, with the AVX2 compares if wide
 * is set and the CPU has them (else SSE2): stops at the first block with
 * an event, or 64 bytes or less before end. Separate so that tests check
 * both ways on a CPU that would only ever take one. */
const uint8_t *ps_dkim_scan_blocks(int wide, const uint8_t *p,
                                   const uint8_t *end);

#endif
