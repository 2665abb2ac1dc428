/* What the milter's threads share for the life of the process: the log,
 * and the count of messages in flight that SIGTERM's drain waits for.
 * Apart from main.c so that the callbacks depend on it, not on main. */
#include <stdatomic.h>

#include "milter.h"

/* Set once in main() before any thread starts; read-only afterwards. */
static ps_log *ps_state_log;
static atomic_int ps_state_busy;
static atomic_int ps_state_draining;

void ps_milter_set_log(ps_log *lg)
{
    ps_state_log = lg;
}

ps_log *ps_milter_log(void)
{
    return ps_state_log;
}

void ps_milter_busy(int delta)
{
    atomic_fetch_add(&ps_state_busy, delta);
}

int ps_milter_in_flight(void)
{
    return atomic_load(&ps_state_busy);
}

void ps_milter_drain_begin(void)
{
    atomic_store(&ps_state_draining, 1);
}

int ps_milter_draining(void)
{
    return atomic_load(&ps_state_draining);
}
