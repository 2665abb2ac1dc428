/* Postfix's mail log, one line at a time: the delivery outcomes of a
 * recipient (smtp, lmtp, local, virtual, qmgr: "QID: to=<...>, relay=...,
 * dsn=X.Y.Z, status=sent|deferred|bounced (reply)"), holds ("QID: hold:
 * ...", "QID: milter-hold: ...", postsuper's "QID: placed on hold"),
 * expiry (qmgr's "QID: from=<...>, status=expired, returned to sender")
 * and removals ("QID: removed"), from syslog (RFC 3164 or RFC 3339
 * stamps) or from Postfix's own maillog_file. */
#ifndef PS_MAILLOG_H
#define PS_MAILLOG_H

#include <stddef.h>
#include <time.h>

#define PS_MAILLOG_QID_MAX   32
#define PS_MAILLOG_ADDR_MAX  512
#define PS_MAILLOG_REPLY_MAX 1024

typedef enum ps_maillog_kind {
    PS_MAILLOG_OTHER,    /* any other line (or not a Postfix line) */
    PS_MAILLOG_DELIVERY, /* to=<...>, ... status=... */
    PS_MAILLOG_HOLD,     /* the message was put on hold */
    PS_MAILLOG_REMOVED,  /* the message left the queue */
    PS_MAILLOG_EXPIRED   /* given up: returned to its sender (qmgr; also
                            force-expired by postsuper -e) */
} ps_maillog_kind;

typedef enum ps_maillog_status {
    PS_MAILLOG_SENT,
    PS_MAILLOG_DEFERRED,
    PS_MAILLOG_BOUNCED
} ps_maillog_status;

typedef struct ps_maillog_line {
    ps_maillog_kind kind;
    time_t when; /* the line's stamp; 0 when it has none we read */
    char qid[PS_MAILLOG_QID_MAX];
    char to[PS_MAILLOG_ADDR_MAX];       /* DELIVERY */
    char orig_to[PS_MAILLOG_ADDR_MAX];  /* DELIVERY, "" when absent */
    char relay[256];                    /* DELIVERY */
    char dsn[16];                       /* DELIVERY: X.Y.Z */
    ps_maillog_status status;           /* DELIVERY */
    char reply[PS_MAILLOG_REPLY_MAX];   /* DELIVERY: the text in (), cut;
                                           HOLD: the reason (the text after
                                           "hold: " or "milter-hold: ", or
                                           "placed on hold" for postsuper) */
    char queued_as[PS_MAILLOG_QID_MAX]; /* DELIVERY, status sent: the queue
                                           id in the reply's last "queued as
                                           QID", "" when none */
} ps_maillog_line;

/* Reads one line (n bytes, no newline needed, need not be NUL-terminated).
 * now places a stamp without a year (RFC 3164, maillog_file) in the year
 * that puts it nearest before now, read as local time. Returns the kind;
 * a line it cannot read is PS_MAILLOG_OTHER. */
ps_maillog_kind ps_maillog_parse(const char *line, size_t n, time_t now,
                                 ps_maillog_line *out);

/* A relay= field "NAME[ADDR]:PORT" as its address (into addr, cap bytes)
 * and port: 0, or -1 for any other shape ("none", "local", a socket). */
int ps_maillog_relay_endpoint(const char *relay, char *addr, size_t cap,
                              unsigned *port);

#endif
