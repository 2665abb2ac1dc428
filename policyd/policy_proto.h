/* Postfix's policy delegation protocol, server side: "name=value" lines,
 * an empty line ending each request, "action=..." and an empty line back,
 * parsed from bytes as they arrive, within fixed bounds. */
#ifndef PS_POLICY_PROTO_H
#define PS_POLICY_PROTO_H

#include <stddef.h>

/* What the parser keeps of a request, however much a client sends:
 * - a line of up to PS_POLICY_MAX_LINE bytes whole; a longer one cut to
 *   that and marked (ps_policy_attr.cut), the rest read and dropped, so
 *   the caller decides whether the attribute matters (a value Postfix
 *   copies from the SMTP client, like helo_name, can be that long);
 * - at most PS_POLICY_MAX_ATTRS lines and PS_POLICY_MAX_REQUEST bytes in
 *   all: past either, nothing more is kept and the request is refused.
 * Every SMTP-derived value Postfix sends fits in a line (smtpd's own
 * line_length_limit is 2048), and a whole request in the total. */
#define PS_POLICY_MAX_LINE    4096  /* bytes of one line, without its \n */
#define PS_POLICY_MAX_ATTRS   100   /* attribute lines in one request */
#define PS_POLICY_MAX_REQUEST 32768 /* bytes kept of one request */
/* Slots of the name index: a power of two, over twice PS_POLICY_MAX_ATTRS
 * so probes stay short, each small enough for an attribute number + 1. */
#define PS_POLICY_INDEX_SLOTS 256

typedef enum ps_policy_error {
    PS_POLICY_OK = 0,
    PS_POLICY_ELINE,    /* a name (the bytes before '=') over the line */
    PS_POLICY_EATTRS,   /* more than PS_POLICY_MAX_ATTRS lines */
    PS_POLICY_ESIZE,    /* more than PS_POLICY_MAX_REQUEST bytes */
    PS_POLICY_ESYNTAX,  /* a line without '=' or with an empty name */
    PS_POLICY_EBINARY,  /* a NUL byte */
    PS_POLICY_EREPEAT,  /* an attribute given twice */
    PS_POLICY_ECRLF,    /* a line ending in CR LF (Postfix sends LF) */
    PS_POLICY_EREQUEST, /* no request=smtpd_access_policy */
} ps_policy_error;

typedef struct ps_policy_attr {
    size_t name, value; /* offsets of NUL-terminated strings in buf */
    unsigned hash;      /* of the name, compared before the bytes */
    int cut;            /* the line was longer: value is its beginning */
} ps_policy_attr;

typedef struct ps_policy_parser {
    char *buf; /* the request's lines, each "name\0value\0" */
    size_t len, cap;
    size_t line_len;  /* bytes of the line being read so far */
    size_t line_kept; /* of which in buf[len..] (PS_POLICY_MAX_LINE at most) */
    int line_cr;      /* the last byte of the line so far is '\r' */
    int full;         /* a request bound is reached: nothing more is kept */
    ps_policy_attr attrs[PS_POLICY_MAX_ATTRS];
    size_t nattrs;
    /* Open addressing over the names kept: attribute number + 1, 0 free.
     * A repeated name and a lookup cost a probe or two, not a pass over
     * every name before (a request has 30-odd). */
    unsigned char index[PS_POLICY_INDEX_SLOTS];
    size_t nlines;         /* attribute lines seen, kept or not */
    ps_policy_error error; /* the first problem in this request */
    size_t error_line;     /* its line number in the request (from 1) */
    int done;
} ps_policy_parser;

void ps_policy_init(ps_policy_parser *p);
void ps_policy_free(ps_policy_parser *p);
/* Forgets the request just answered; keeps the buffer. */
void ps_policy_reset(ps_policy_parser *p);

/* Consumes up to len bytes and returns how many it used: it stops right
 * after the empty line that ends a request (or a line of just "\r", the
 * end of a CR LF request), with p->done set. A request with an error is
 * also done, and is to be refused, not acted on; the sound lines of it
 * are kept all the same (to log whose request it was).
 * Returns (size_t)-1 only when out of memory. */
size_t ps_policy_feed(ps_policy_parser *p, const char *data, size_t len);
/* Whether bytes of an unfinished request are held (for "closed
 * mid-request" in the log). */
int ps_policy_pending(const ps_policy_parser *p);

/* The value of attribute name in a finished request, or NULL. */
const char *ps_policy_get(const ps_policy_parser *p, const char *name);
const char *ps_policy_name_at(const ps_policy_parser *p, size_t i);
/* Names Postfix 3.x sends; others are logged once per request. */
int ps_policy_known(const char *name);
const char *ps_policy_strerror(ps_policy_error e);

#endif
