/* The once-a-minute line (requests and answers since the last one), the
 * store's housekeeping, and the one warning an admin most needs: RCPT
 * requests arrive but no END-OF-MESSAGE ones, so nothing is charged. */
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

static void ps_stats_tick(evutil_socket_t fd, short what, void *arg)
{
    ps_pd *pd = arg;
    const ps_pd_stats *s = &pd->stats;
    char v[7][24];

    (void)fd;
    (void)what;
    snprintf(v[0], sizeof(v[0]), "%u", pd->nconns);
    snprintf(v[1], sizeof(v[1]), "%lu", s->requests);
    snprintf(v[2], sizeof(v[2]), "%lu", s->charged);
    snprintf(v[3], sizeof(v[3]), "%lu", s->over);
    snprintf(v[4], sizeof(v[4]), "%lu", s->store_down);
    snprintf(v[5], sizeof(v[5]), "%lu", s->malformed);
    snprintf(v[6], sizeof(v[6]), "%lu", s->exempt);
    ps_log_kv(pd->lg, LOG_INFO, "stats", "connections", v[0], "requests", v[1],
              "charged", v[2], "over_quota", v[3], "store_down", v[4],
              "malformed", v[5], "exempt", v[6], NULL);
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
