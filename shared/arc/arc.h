/* ARC (RFC 8617) in the core: the ARC sets of a message collected from its
 * header list (sets.c) and the chain validated (verify.c), reusing the
 * DKIM canonicalisation, the tag=value parser and the key parsing. */
#ifndef PS_ARC_H
#define PS_ARC_H

#include <stddef.h>

#include "base/err.h"
#include "dns/tagval.h"

#define PS_ARC_MAX_INSTANCES 50 /* RFC 8617 4.2.1: i= is 1..50 */

/* One header field as the message has it, in message order (index 0 is
 * the topmost, the most recently added): name without ':' (whitespace
 * before the ':' may stay), value exactly as it follows the ':'. The
 * bytes are the caller's and must outlive everything that points to them. */
typedef struct ps_arc_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} ps_arc_header;

/* The three members of a set; the order is the one an ARC-Seal signs them
 * in (RFC 8617 5.1.1): AAR, AMS, AS. */
typedef enum ps_arc_part {
    PS_ARC_AAR, /* ARC-Authentication-Results */
    PS_ARC_AMS, /* ARC-Message-Signature */
    PS_ARC_AS,  /* ARC-Seal */
    PS_ARC_NPARTS
} ps_arc_part;

typedef struct ps_arc_field {
    int present;
    size_t pos; /* index in the caller's header list */
    /* raw, as given (point into the caller's buffers): what is hashed */
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    /* AMS and AS: every tag of the value (i= included). AAR: empty, its
     * value is "i=N; authres-payload", not a tag list. */
    ps_tagval tags;
} ps_arc_field;

typedef struct ps_arc_set {
    ps_arc_field part[PS_ARC_NPARTS];
} ps_arc_set;

/* What the structure of the sets says (RFC 8617 5.1.1, 5.2 step 2-3).
 * Anything but OK and NONE makes the chain fail. */
typedef enum ps_arc_sets_status {
    PS_ARC_SETS_OK,        /* sets 1..count, each complete */
    PS_ARC_SETS_NONE,      /* no ARC field at all */
    PS_ARC_SETS_SYNTAX,    /* an i= that is not a number, a missing i=, or an
                            * AMS/AS whose tag list does not parse */
    PS_ARC_SETS_RANGE,     /* an i= outside 1..PS_ARC_MAX_INSTANCES */
    PS_ARC_SETS_DUPLICATE, /* two fields of one kind with the same i= */
    PS_ARC_SETS_MISSING,   /* an instance without one of its three fields */
    PS_ARC_SETS_GAP        /* instances are not 1..N without a hole */
} ps_arc_sets_status;

/* About 100 KiB: allocate it (ps_arc_sets_new), do not put it on a stack. */
typedef struct ps_arc_sets {
    ps_arc_sets_status status;
    unsigned count;                       /* highest instance seen (0: none) */
    ps_arc_set set[PS_ARC_MAX_INSTANCES]; /* set[k] is instance k + 1 */
} ps_arc_sets;

ps_arc_sets *ps_arc_sets_new(void);
void ps_arc_sets_free(ps_arc_sets *s);

/* Which ARC field a header name is (case-insensitive, trailing whitespace
 * ignored): 1 and *part set, or 0 for any other field. */
int ps_arc_field_kind(const char *name, size_t len, ps_arc_part *part);

/* Collects the ARC fields of hdrs (n fields, message order) into out by
 * instance, tags parsed. Returns out->status; for anything but OK and
 * NONE err says which field and why. On SYNTAX, RANGE, DUPLICATE the sets
 * are incomplete; on MISSING and GAP every field that was read is there
 * (a sealer adding its own set still needs count). */
ps_arc_sets_status ps_arc_sets_parse(const ps_arc_header *hdrs, size_t n,
                                     ps_arc_sets *out, ps_err *err);

/* A word for logs and tests ("ok", "none", "syntax", "range",
 * "duplicate", "missing", "gap"). */
const char *ps_arc_sets_status_name(ps_arc_sets_status s);

#endif
