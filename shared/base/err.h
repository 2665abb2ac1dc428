/* Error reporting for libpostseal: every fallible call fills a ps_err with
 * one line the caller logs or prints. The core never prints by itself. */
#ifndef PS_ERR_H
#define PS_ERR_H

#define PS_ERR_MAX 512

typedef struct ps_err {
    char msg[PS_ERR_MAX];
} ps_err;

/* Formats the message into err (if err is not NULL); always returns -1 so
 * callers can write `return ps_err_set(err, "...")`. */
int ps_err_set(ps_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like ps_err_set, then appends the reason from OpenSSL's error queue and
 * clears the queue, so one failure never leaks into the next call. */
int ps_err_openssl(ps_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
