/* Bounce parsing: the failed recipients of a delivery status notification,
 * from RFC 3464 message/delivery-status, or else from the plain-text
 * bounces Postfix, Exim, Gmail and Microsoft send. Bounded, never trusted. */
#ifndef PS_DSN_H
#define PS_DSN_H

#include <stddef.h>

#include "base/err.h"

#define PS_DSN_SCAN_MAX  (512 * 1024) /* bytes of a bounce we look at */
#define PS_DSN_RCPTS_MAX 32           /* recipients kept from one bounce */
#define PS_DSN_ADDR_MAX  320
#define PS_DSN_DIAG_MAX  512

typedef enum ps_dsn_source {
    PS_DSN_NONE,
    PS_DSN_RFC3464,   /* message/delivery-status */
    PS_DSN_POSTFIX,   /* "The mail system" text */
    PS_DSN_EXIM,      /* "following address(es) failed" */
    PS_DSN_GMAIL,     /* "wasn't delivered to" */
    PS_DSN_MICROSOFT, /* "Delivery has failed to these recipients" */
} ps_dsn_source;

typedef struct ps_dsn_rcpt {
    char recipient[PS_DSN_ADDR_MAX];  /* without "rfc822;" and <> */
    char action[16];                  /* failed, delayed, delivered, ... */
    char status[16];                  /* 5.1.1, or "" if none was found */
    char diagnostic[PS_DSN_DIAG_MAX]; /* one line, controls made spaces */
} ps_dsn_rcpt;

typedef struct ps_dsn {
    ps_dsn_source source;
    size_t n;
    ps_dsn_rcpt rcpt[PS_DSN_RCPTS_MAX];
} ps_dsn;

/* Parses the whole bounce message (headers and body) in msg. Returns 0
 * with at least one recipient in out, or -1 with err when none was found.
 * Strings in out are NUL-terminated, truncated to fit, and hold no control
 * characters, so they can go into a log line or JSON as they are. */
int ps_dsn_parse(const char *msg, size_t len, ps_dsn *out, ps_err *err);

/* Name of a source for logs and events: "rfc3464", "postfix", ... */
const char *ps_dsn_source_name(ps_dsn_source s);

#endif
