/* The milter's records for the event follower ([events] dir): one line per
 * message it signed ("A": accepted) and per bounced recipient it recognised
 * ("B"), appended and fsync'd to DIR/accepted/DAY/messages before the MTA
 * hears "accepted". postseal-policyd joins Postfix's log lines to them. */
#ifndef PS_MSGREC_H
#define PS_MSGREC_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "mail/record.h"

#define PS_MSGREC_NAME     "messages" /* the file in each day's directory */
#define PS_MSGREC_MAX_RCPT 10000      /* recipients kept per message */
#define PS_MSGREC_FIELDS   (7 + PS_MSGREC_MAX_RCPT)

typedef enum ps_msgrec_type {
    PS_MSGREC_ACCEPTED,
    PS_MSGREC_BOUNCE
} ps_msgrec_type;

/* Pointers into the line it was read from (or given by the writer). */
typedef struct ps_msgrec {
    ps_msgrec_type type;
    time_t when;
    const char *qid;    /* A: the queue id; B: the return path's reference */
    const char *msgid;  /* A: Message-ID, "" when none */
    const char *sender; /* A: the envelope sender as the client gave it */
    const char *auth;   /* A: the SASL login, "" when none */
    const char *client; /* A: the client address */
    const char **rcpts; /* A: the recipients; B: rcpts[0], the bounced one */
    size_t nrcpts;
    const char *status, *diagnostic, *action; /* B: from the DSN */
} ps_msgrec;

/* The record's line, newline included, into r (r->oom on no memory). */
void ps_msgrec_format(const ps_msgrec *m, ps_record *r);
/* Reads a line (no newline; split in place). fields must hold
 * PS_MSGREC_FIELDS pointers; m->rcpts points into it. -1 when the line is
 * not a record. */
int ps_msgrec_parse(char *line, char **fields, ps_msgrec *m);
/* The records' directory for [events] dir: DIR/accepted. */
int ps_msgrec_dir(const char *events_dir, char *out, size_t cap, ps_err *err);
/* 1 when addr (any case) is among m's recipients. */
int ps_msgrec_has_rcpt(const ps_msgrec *m, const char *addr);

#endif
