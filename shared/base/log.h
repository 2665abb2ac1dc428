/* Logging for the daemons and the CLI: syslog or stderr, one line per
 * event, as key=value pairs; values quoted and escaped so a line can't be
 * forged, and values of secret-looking keys are never written. */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stdio.h>
#include <syslog.h>

typedef struct ps_log ps_log;

/* ident names the program in every line. to_stderr: write to stderr
 * (foreground mode); otherwise syslog with facility (e.g. LOG_MAIL).
 * min_prio: drop events less important than this (LOG_DEBUG keeps all).
 * On a stream, each line is handed to the OS (one write on stderr) before
 * ps_log_kv returns, and carries the pid of the process that opened the
 * log: open it after any fork. */
ps_log *ps_log_open(const char *ident, int to_stderr, int facility,
                    int min_prio);
/* Same, writing to an open stream (tests). */
ps_log *ps_log_open_stream(const char *ident, FILE *fp, int min_prio);
void ps_log_close(ps_log *lg);

/* Logs "event=EVENT k1=v1 k2=v2 ..." from NULL-terminated (key, value)
 * string pairs. A value with spaces, quotes or '=' is double-quoted with
 * \" and \\ escaped; control bytes become \xNN; values over 512 bytes are
 * cut with "...". Keys containing "secret", "password" or "private" are
 * logged as "[redacted]". A NULL value is written as "-". */
void ps_log_kv(ps_log *lg, int prio, const char *event, ...)
    __attribute__((sentinel));

#endif
