/* Recipient records: the recipients a message with a return path was sent
 * to, kept per message reference and day, so that a bounce to that return
 * path is recorded only for recipients the message really had. */
#ifndef PS_SENT_H
#define PS_SENT_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"

/*
 * Layout: DIR/DAY/REF, DAY the days since 1970 the return path was made
 * on (as in its token), REF the token's message reference. Each line of
 * REF is the first 16 bytes, in hex, of HMAC-SHA256(secret, lower(addr))
 * for one recipient: the file holds no address, and under the first
 * return-path secret; all secrets are tried when reading (rotation). A
 * day directory older than max_age + 1 days is removed when the next
 * day's is made, which bounds the records in time and so in size.
 */
#define PS_SENT_LINE 34            /* 32 hex digits, newline, NUL */
#define PS_SENT_MAX  (1024 * 1024) /* bytes of one REF file read */

/* The records' directory for an events file: "sent" beside it. */
int ps_sent_dir(const char *events, char *out, size_t cap, ps_err *err);

/* One record line for addr (local@domain, any case) under secret i of s. */
int ps_sent_line(const ps_secrets *s, size_t i, const char *addr,
                 char out[PS_SENT_LINE], ps_err *err);

/* Appends n bytes of record lines for message ref, made at now, and makes
 * them durable (fsync); the first record of a day removes the days past
 * max_age. */
int ps_sent_record(const char *dir, time_t now, unsigned max_age,
                   const char *ref, const char *lines, size_t n, ps_err *err);

/* 1 when addr is among the recipients recorded for ref on the day of
 * issued, 0 when not (or nothing was recorded for ref), -1 with err when
 * the records cannot be read (DIR itself missing included). */
int ps_sent_lookup(const char *dir, time_t issued, const char *ref,
                   const ps_secrets *s, const char *addr, ps_err *err);

#endif
