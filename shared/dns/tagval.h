/* DKIM tag=value lists (RFC 6376 section 3.2), shared by key records and
 * signature headers: "v=DKIM1; k=rsa; p=MIGf..." split into tags. */
#ifndef PS_TAGVAL_H
#define PS_TAGVAL_H

#include <stddef.h>

#include "base/err.h"

#define PS_TAGVAL_MAX 32 /* tags in one list; more is an error */

typedef struct ps_tag {
    const char *name; /* points into the caller's buffer */
    size_t name_len;
    const char *value; /* leading/trailing whitespace trimmed; inner FWS kept */
    size_t value_len;
} ps_tag;

typedef struct ps_tagval {
    ps_tag tags[PS_TAGVAL_MAX];
    size_t count;
} ps_tagval;

/* Splits text (n bytes, need not be NUL-terminated) into tags. Errors:
 * a tag without '=', an empty or invalid tag name, a duplicate tag, more
 * than PS_TAGVAL_MAX tags. A trailing ';' is allowed. */
int ps_tagval_parse(const char *text, size_t n, ps_tagval *out, ps_err *err);

/* The tag named name, or NULL. */
const ps_tag *ps_tagval_find(const ps_tagval *tv, const char *name);

/* Copies a value with all whitespace removed (as p= and b= need) into a
 * malloc'd NUL-terminated string. */
char *ps_tagval_strip_ws(const ps_tag *tag);

#endif
