/* Unix socket paths a daemon listens on: a socket left by a crash is
 * cleared for the new one, one that a running daemon still serves is
 * never taken from it. */
#ifndef PS_USOCK_H
#define PS_USOCK_H

#include "base/err.h"

/* Makes path free for bind(): nothing there, or a socket nobody accepts
 * on (removed). -1 when something accepts on it, or path is not a socket. */
int ps_usock_claim(const char *path, ps_err *err);

#endif
