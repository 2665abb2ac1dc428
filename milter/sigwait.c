/* Signals belong to our main thread alone. libmilter starts a thread that
 * sigwait()s for SIGHUP, SIGTERM and SIGINT and stops the milter on any of
 * them: a SIGHUP meant as a reload, or a SIGTERM meant to drain, that it
 * wins instead of our main thread stops the milter at once. sigwait() is
 * replaced here for libmilter (the executable's definition is the one its
 * calls bind to); our main thread waits with sigwaitinfo(), untouched. */
#include <signal.h>
#include <unistd.h>

#include "milter.h"

/* libmilter's only caller is its signal thread, which then takes no
 * signal: its mask, inherited, blocks every one we handle, and it sleeps
 * until the process ends. */
int sigwait(const sigset_t *set, int *sig)
{
    (void)set;
    (void)sig;
    for (;;)
        pause();
    return 0;
}
