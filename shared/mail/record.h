/* Record lines shared by the milter's accepted-message records and the
 * event spool: space-separated fields, each percent-encoded so that any
 * byte string (a Message-ID, a remote reply) fits on one line. */
#ifndef PS_RECORD_H
#define PS_RECORD_H

#include <stddef.h>

/* A growing line; oom is set (and further puts ignored) when memory runs
 * out, so callers check once at the end. */
typedef struct ps_record {
    char *p;
    size_t n, cap;
    int oom;
} ps_record;

/* Appends field, encoded, after a space unless it starts a line: "%XX" for
 * '%', controls, space and DEL; "-" for an empty or NULL field ("%2D" for
 * a field that is "-"). */
void ps_record_put(ps_record *r, const char *field);
/* Appends the newline that ends the line. */
void ps_record_end(ps_record *r);
void ps_record_free(ps_record *r);

/* Splits line (no newline) in place into at most max decoded fields; the
 * count, or -1 for a line that is not a record (bad encoding, empty
 * field, too many fields). */
int ps_record_split(char *line, char **fields, size_t max);

#endif
