/* The once-a-minute line (requests and answers since the last one), the
 * store's housekeeping, the one warning an admin most needs (RCPT
 * requests arrive but no END-OF-MESSAGE ones, so nothing is charged), and
 * connection pressure summed up, never a line per connection: a flood
 * must not flood the log too. */
#include "policyd.h"

#include <stdio.h>
#include <string.h>

static void ps_stats_no_eod(ps_pd *pd)
{
    char hint[256];

    if (pd->eod_seen || pd->eod_warned || pd->rcpt_messages == 0)
        return;
    pd->eod_warned = 1;
    snprintf(hint, sizeof(hint),
             "smtpd_end_of_data_restrictions = check_policy_service %s",
             pd->cfg->listen);
    ps_log_kv(pd->lg, LOG_WARNING, "no_end_of_message", "reason",
              "RCPT requests but no END-OF-MESSAGE request: "
              "nothing is charged",
              "main.cf", hint, NULL);
}

void ps_stats_note_rcpt(ps_pd *pd)
{
    if (++pd->rcpt_messages >= PS_POLICYD_NO_EOD_AFTER)
        ps_stats_no_eod(pd);
}

void ps_stats_pressure(ps_pd *pd, const char *reason)
{
    char max[24];

    if (pd->pressure_warned)
        return;
    pd->pressure_warned = 1;
    snprintf(max, sizeof(max), "%u", pd->max_conns);
    ps_log_kv(pd->lg, LOG_WARNING, "connection_limit", "reason", reason,
              "max_connections", max, "next",
              "counts once a minute while it lasts", NULL);
}

/* The minute's evictions and failed accepts, if any; quiet again after a
 * minute without (the next one is logged at once). */
static void ps_stats_pressure_tick(ps_pd *pd)
{
    const ps_pd_stats *s = &pd->stats;
    char v[4][24];

    if (s->evicted == 0 && s->accept_failed == 0) {
        pd->pressure_warned = 0;
        return;
    }
    snprintf(v[0], sizeof(v[0]), "%u", pd->nconns);
    snprintf(v[1], sizeof(v[1]), "%u", pd->max_conns);
    snprintf(v[2], sizeof(v[2]), "%lu", s->evicted);
    snprintf(v[3], sizeof(v[3]), "%lu", s->accept_failed);
    ps_log_kv(pd->lg, LOG_WARNING, "connection_limit", "connections", v[0],
              "max_connections", v[1], "evicted", v[2], "accept_failed", v[3],
              NULL);
}

static void ps_stats_tick(evutil_socket_t fd, short what, void *arg)
{
    ps_pd *pd = arg;
    const ps_pd_stats *s = &pd->stats;
    char v[8][24];

    (void)fd;
    (void)what;
    ps_stats_pressure_tick(pd);
    snprintf(v[0], sizeof(v[0]), "%u", pd->nconns);
    snprintf(v[1], sizeof(v[1]), "%lu", s->requests);
    snprintf(v[2], sizeof(v[2]), "%lu", s->charged);
    snprintf(v[3], sizeof(v[3]), "%lu", s->over);
    snprintf(v[4], sizeof(v[4]), "%lu", s->store_down);
    snprintf(v[5], sizeof(v[5]), "%lu", s->malformed);
    snprintf(v[6], sizeof(v[6]), "%lu", s->exempt);
    snprintf(v[7], sizeof(v[7]), "%lu", s->timed_out);
    ps_log_kv(pd->lg, LOG_INFO, "stats", "connections", v[0], "requests", v[1],
              "charged", v[2], "over_quota", v[3], "store_down", v[4],
              "malformed", v[5], "exempt", v[6], "timed_out", v[7], NULL);
    memset(&pd->stats, 0, sizeof(pd->stats));
    ps_stats_no_eod(pd);
    if (pd->store->tick != NULL)
        pd->store->tick(pd->store);
}

int ps_stats_start(ps_pd *pd)
{
    struct timeval tv = {PS_POLICYD_STATS_SECS, 0};
    pd->timer = event_new(pd->base, -1, EV_PERSIST, ps_stats_tick, pd);
    if (pd->timer == NULL || event_add(pd->timer, &tv) != 0)
        return -1;
    return 0;
}
