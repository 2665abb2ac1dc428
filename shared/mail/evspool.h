/* The event spool: one record line (mail/record.h) per delivery event for
 * mail postseal signed, appended and fsync'd by postseal-policyd's
 * follower, read by `postseal events list` (and by the webhook sender to
 * come). Each event has a stable id, so an event written twice after a
 * crash is recognisably the same event. */
#ifndef PS_EVSPOOL_H
#define PS_EVSPOOL_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "mail/record.h"

#define PS_EVSPOOL_NAME    "spool" /* in [events] dir */
#define PS_EVSPOOL_ID      32      /* hex digits of an id */
#define PS_EVSPOOL_NFIELDS 13

typedef enum ps_event_kind {
    PS_EVENT_SENT,    /* delivered (status=sent) */
    PS_EVENT_DELAYED, /* one deferral (status=deferred) */
    PS_EVENT_FAILED,  /* refused for good during delivery (status=bounced),
                         or still deferred when the message expired */
    PS_EVENT_BOUNCED, /* a bounce came back to the return path (milter) */
    PS_EVENT_HELD,    /* Postfix put the message on hold */
    /* postseal-policyd's quotas: a window past [policyd] warn_at (once
     * per window), and a request refused over a limit (once per window
     * and period, per daemon) */
    PS_EVENT_LIMIT_APPROACHING,
    PS_EVENT_LIMIT_EXCEEDED,
    /* the suppression list: a recipient added (a permanent failure or
     * `postseal suppression add`), and a RCPT refused because of it */
    PS_EVENT_SUPPRESSED,
    PS_EVENT_SUPPRESSION_REJECTED,
    PS_EVENT_NKINDS
} ps_event_kind;

typedef struct ps_event {
    char id[PS_EVSPOOL_ID + 1];
    time_t when;
    ps_event_kind kind;
    const char *qid, *msgid, *sender, *auth, *client, *recipient;
    const char *dsn;   /* X.Y.Z, "" when none */
    const char *reply; /* the remote reply or the reason, "" when none */
    const char *src;   /* where it was read: see ps_evspool_src */
} ps_event;

/* "sent", "delayed", ... */
const char *ps_event_kind_name(ps_event_kind k);
/* The id: the first 128 bits of SHA-256 over what identifies the event
 * in its source (the whole log line, and the recipient for a hold), hex. */
int ps_event_make_id(const char *what, size_t n, const char *rcpt,
                     char id[PS_EVSPOOL_ID + 1], ps_err *err);
void ps_evspool_format(const ps_event *ev, ps_record *r);
/* Reads a spool line (no newline; split in place; fields holds
 * PS_EVSPOOL_NFIELDS). -1 when it is not an event. */
int ps_evspool_parse(char *line, char **fields, ps_event *ev);
/* The spool file of [events] dir. */
int ps_evspool_path(const char *dir, char *out, size_t cap, ps_err *err);

#endif
