/* The webhook sender's per-endpoint files in [events] dir/webhooks:
 * NAME.state (how far postseal-policyd read the spool, and each event not
 * yet answered 2xx) and NAME.requests (what `postseal events retry|drop`
 * asks of the daemon, which applies and removes it). One reader and one
 * writer of each line format, for the daemon and the CLI. */
#ifndef PS_WHSTATE_H
#define PS_WHSTATE_H

#include <stddef.h>

#include "base/err.h"
#include "mail/evspool.h"

#define PS_WHSTATE_DIR      "webhooks"
#define PS_WHSTATE_SUFFIX   ".state"
#define PS_WHSTATE_REQUESTS ".requests"

/* One event not yet delivered to an endpoint. */
typedef struct ps_whstate_item {
    long long off; /* its line in the spool */
    char id[PS_EVSPOOL_ID + 1];
    unsigned attempts; /* POSTs answered (or failed) so far */
    long long first;   /* time of the first attempt, 0 before it */
    long long next;    /* earliest time of the next attempt */
    int dead;          /* gave up: kept, listed, never sent again */
    int busy;          /* in the daemon only: a POST in flight */
    int dropped;       /* in the daemon only: forget it once answered */
} ps_whstate_item;

typedef enum ps_whstate_line {
    PS_WHSTATE_BAD = -1,
    PS_WHSTATE_SCANNED, /* "scanned OFF" */
    PS_WHSTATE_ITEM     /* "I OFF ID ATTEMPTS FIRST NEXT DEAD" */
} ps_whstate_line;

/* One state line (no newline) into *scanned or *it. */
ps_whstate_line ps_whstate_parse(const char *line, long long *scanned,
                                 ps_whstate_item *it);
/* The item's line and a newline into out; its length, or -1. */
int ps_whstate_format(const ps_whstate_item *it, char *out, size_t cap);

typedef enum ps_whstate_verb {
    PS_WHSTATE_RETRY, /* try again now, attempts counted afresh */
    PS_WHSTATE_DROP   /* forget it: never sent */
} ps_whstate_verb;

/* "retry ID", "drop ID", or ID "dead": every dead event. -1 when bad. */
int ps_whstate_parse_request(const char *line, ps_whstate_verb *verb,
                             char id[PS_EVSPOOL_ID + 1]);
/* DIR/webhooks/NAME + suffix into out. */
int ps_whstate_path(const char *dir, const char *name, const char *suffix,
                    char *out, size_t cap, ps_err *err);

#endif
