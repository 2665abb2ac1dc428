/* Quota events: limit_approaching (a window past warn_at, which the store
 * reports once per window) and limit_exceeded (a request refused over a
 * limit) appended to the [events] spool, each with the counter's key
 * (KIND:NAME: the credential and the kind of limit) and the window. An
 * exceeded window gives one event per period it stays over, per daemon:
 * the id is the same for the whole period, so a repeat is recognisable. */
#include "policyd.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/events.h"
#include "mail/evspool.h"

#define PS_QEV_SEEN 256 /* exceeded ids remembered (a ring) */

static char ps_qev_seen[PS_QEV_SEEN][PS_EVSPOOL_ID + 1];
static unsigned ps_qev_next;

static int ps_qev_seen_before(const char *id)
{
    for (unsigned i = 0; i < PS_QEV_SEEN; i++)
        if (strcmp(ps_qev_seen[i], id) == 0)
            return 1;
    memcpy(ps_qev_seen[ps_qev_next], id, PS_EVSPOOL_ID + 1);
    ps_qev_next = (ps_qev_next + 1) % PS_QEV_SEEN;
    return 0;
}

void ps_qev_note(ps_pd *pd, int kind, const char *owner,
                 const ps_quota_window *w, uint64_t used, uint64_t now_ms)
{
    const char *dir = pd->cfg->conf->events.dir.value;
    char win[64], reply[128], what[PS_QUOTA_MAX_KEY + 128];
    ps_event ev = {.when = time(NULL), .kind = (ps_event_kind)kind};
    ps_err err = {""};
    int n;

    if (dir == NULL)
        return;
    ps_quota_window_format(w, win, sizeof(win));
    snprintf(reply, sizeof(reply), "%s, used %llu", win,
             (unsigned long long)used);
    /* one id per counter, window and period */
    n = snprintf(what, sizeof(what), "%s\n%s\n%s\n%llu",
                 ps_event_kind_name(ev.kind), owner, win,
                 (unsigned long long)(now_ms / w->period_ms));
    if (ps_event_make_id(what, (size_t)n, NULL, ev.id, &err) != 0 ||
        (kind == PS_EVENT_LIMIT_EXCEEDED && ps_qev_seen_before(ev.id)))
        return;
    ev.qid = ev.msgid = ev.recipient = ev.dsn = "";
    ev.sender = ev.client = ""; /* the counter's key says whose it is */
    ev.auth = owner;
    ev.reply = reply;
    ev.src = "q";
    if (ps_events_spool(dir, &ev, &err) != 0)
        ps_log_kv(pd->lg, LOG_ERR, "events", "result", "failed", "event",
                  ps_event_kind_name(ev.kind), "key", owner, "reason", err.msg,
                  NULL);
    else
        ps_log_kv(pd->lg, LOG_INFO, "event", "id", ev.id, "event",
                  ps_event_kind_name(ev.kind), "key", owner, "limit", win,
                  NULL);
}
