/* Internals of the bounce parser shared by dsn.c (RFC 3464) and
 * dsn_text.c (plain-text heuristics): lines, bounded copies, statuses. */
#ifndef PS_DSN_INT_H
#define PS_DSN_INT_H

#include <stddef.h>

#include "mail/dsn.h"

typedef struct ps_dsn_line {
    const char *p;
    size_t n;
} ps_dsn_line;

/* The next line from buf[*pos..len) without its CR LF or LF; 0 at the end. */
int ps_dsn_next_line(const char *buf, size_t len, size_t *pos, ps_dsn_line *l);
/* 1 if the line holds needle (ASCII case ignored). */
int ps_dsn_has(const char *p, size_t n, const char *needle);
/* Where needle starts in p (case ignored), or NULL. */
const char *ps_dsn_find(const char *p, size_t n, const char *needle);
/* 1 if the line is empty or only spaces and tabs. */
int ps_dsn_blank(const ps_dsn_line *l);

/* Appends p (trimmed, controls made spaces) to the string dst of size
 * cap, after a space if dst is not empty; truncates. */
void ps_dsn_append(char *dst, size_t cap, const char *p, size_t n);
/* The first token holding '@' in p, without "rfc822;", <>, quotes or
 * trailing punctuation, into dst; 0 if found. */
int ps_dsn_take_addr(const char *p, size_t n, char *dst, size_t cap);
/* The first enhanced status code (RFC 3463: [245].d{1,3}.d{1,3}) in s,
 * into dst; 0 if found. */
int ps_dsn_find_status(const char *s, char *dst, size_t cap);
/* A new recipient slot in d (NULL when full), zeroed. */
ps_dsn_rcpt *ps_dsn_add(ps_dsn *d);
/* Fills a missing status from the diagnostic and a missing action from
 * the status class. */
void ps_dsn_complete(ps_dsn_rcpt *r);

/* The heuristics, each adding recipients to d; in dsn_text.c. */
void ps_dsn_text_parse(const char *buf, size_t len, ps_dsn *d);

#endif
