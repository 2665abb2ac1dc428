/* Bounce events: one JSON object per line, appended and fsync'd to the
 * events file ([return_path] events), so a consumer tailing it sees each
 * bounced recipient once, whole, even after a crash. */
#ifndef PS_EVENTS_H
#define PS_EVENTS_H

#include <stddef.h>
#include <time.h>

#include "mail/dsn.h"
#include "base/err.h"

#define PS_EVENT_LINE_MAX 2048 /* one event, newline and NUL included */

typedef struct ps_bounce_event {
    time_t when;
    const char *ref;         /* message reference from the return path */
    ps_dsn_source source;    /* how the bounce was read */
    const ps_dsn_rcpt *rcpt; /* the bounced recipient */
} ps_bounce_event;

/* {"event":"bounce","time":EPOCH,"ref":...,"recipient":...,"action":...,
 * "status":...,"diagnostic":...,"source":...} and a newline, into out.
 * Strings are JSON-escaped. Returns the length, or -1 with err. */
int ps_events_format(const ps_bounce_event *ev, char *out, size_t cap,
                     ps_err *err);

struct ps_event;
/* A spool event (mail/evspool.h) as the same kind of JSON object:
 * {"id":...,"event":"sent","time":EPOCH,"qid":...,"message_id":...,
 * "sender":...,"credential":...,"client":...,"recipient":...,"status":...,
 * "reply":...} and a newline. Returns the length, or -1 with err. */
int ps_events_format_event(const struct ps_event *ev, char *out, size_t cap,
                           ps_err *err);

/* The same event as Postal's webhook body: {"event":"MessageSent",
 * "timestamp":EPOCH,"uuid":ID,"payload":{"status":"Sent","details":...,
 * "output":...,"message":{"id":QID,"token":ID,"message_id":...,"to":...,
 * "from":...,...}}}; MessageBounced carries "bounce" and
 * "original_message" instead. And a newline. */
/* 1 if Postal has an event for this ps_event_kind (quota events have
 * none: a postal endpoint is not sent them). */
int ps_events_postal_kind(int kind);
int ps_events_format_postal(const struct ps_event *ev, char *out, size_t cap,
                            ps_err *err);

/* One event appended and fsync'd to the spool of [events] dir (the
 * events that happen outside the follower's batches: quotas, the
 * suppression list). */
int ps_events_spool(const char *dir, const struct ps_event *ev, ps_err *err);

/* Appends n bytes to path (created 0640 if absent) with one write(), then
 * fsync; O_APPEND keeps lines from several processes whole. */
int ps_events_append(const char *path, const char *line, size_t n, ps_err *err);

#endif
