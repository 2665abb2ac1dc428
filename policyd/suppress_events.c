/* The suppression list's events: suppressed (a recipient added, by a
 * permanent failure the follower saw or by `postseal suppression add`)
 * and suppression_rejected (a RCPT refused because of an entry). Their
 * reply says whose entry it is and until when: "SCOPE:WHO until DATE". */
#include "policyd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "mail/events.h"
#include "mail/evspool.h"

#define PS_SEV_REPLY_MAX (PS_SUPP_WHO_MAX + 96)

static void ps_sev_reply(const ps_supp_entry *e, const char *note, char *out,
                         size_t cap)
{
    char until[32];
    time_t t = (time_t)e->until;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(out, cap, "%s:%s until %s%s", ps_supp_scope_name(e->scope), e->who,
             until, note);
}

void ps_suppress_event_added(ps_pd *pd, const ps_event *cause,
                             const ps_supp_entry *e)
{
    ps_msgrec rec = {.qid = cause->qid,
                     .msgid = cause->msgid,
                     .sender = cause->sender,
                     .auth = cause->auth,
                     .client = cause->client};
    char id[PS_EVSPOOL_ID + 1], reply[PS_SEV_REPLY_MAX];
    ps_err err = {""};

    if (pd->events == NULL)
        return;
    ps_sev_reply(e, "", reply, sizeof(reply));
    /* In the cause's batch, at its source position: spooled exactly when
     * the failure is, once. */
    if (ps_event_make_id(cause->id, strlen(cause->id), "suppressed", id,
                         &err) != 0 ||
        ps_evf_emit(pd->events, &rec, PS_EVENT_SUPPRESSED, id, cause->when,
                    cause->recipient, cause->dsn, reply, cause->src, &err) != 0)
        ps_log_kv(pd->lg, LOG_ERR, "events", "result", "failed", "event",
                  "suppressed", "reason", err.msg, NULL);
}

void ps_suppress_event_rejected(ps_pd *pd, const char *instance,
                                const char *sasl, const char *sender,
                                const char *client, const ps_supp_entry *e,
                                const char *text)
{
    const char *dir = pd->cfg->conf->events.dir.value;
    char what[256 + PS_SUPP_ADDR_MAX];
    ps_event ev = {.when = time(NULL),
                   .kind = PS_EVENT_SUPPRESSION_REJECTED,
                   .qid = "",
                   .msgid = "",
                   .sender = sender ? sender : "",
                   .auth = sasl ? sasl : "",
                   .client = client ? client : "",
                   .recipient = e->rcpt,
                   .dsn = "5.1.1",
                   .reply = text,
                   .src = "s"};
    ps_err err = {""};
    int n;

    if (dir == NULL)
        return;
    /* one id per message (Postfix's instance) and recipient */
    n = snprintf(what, sizeof(what), "suppression_rejected\n%s\n%s", instance,
                 e->rcpt);
    if (ps_event_make_id(what, (size_t)n, NULL, ev.id, &err) != 0 ||
        ps_events_spool(dir, &ev, &err) != 0)
        ps_log_kv(pd->lg, LOG_ERR, "events", "result", "failed", "event",
                  "suppression_rejected", "reason", err.msg, NULL);
    else
        ps_log_kv(pd->lg, LOG_INFO, "event", "id", ev.id, "event",
                  "suppression_rejected", "recipient", e->rcpt, NULL);
}

int ps_suppress_event_admin(const ps_conf *conf, const ps_supp_entry *e,
                            ps_err *err)
{
    const char *dir = conf->events.dir.value;
    char what[64 + PS_SUPP_WHO_MAX + PS_SUPP_ADDR_MAX], reply[PS_SEV_REPLY_MAX],
        domain[PS_SUPP_WHO_MAX + 2];
    int cred = e->scope == PS_SUPP_SCOPE_CREDENTIAL;
    /* No message: whose list it is goes where an endpoint's "for =" looks,
     * the credential, or the sender as @DOMAIN. */
    ps_event ev = {.when = (time_t)e->since,
                   .kind = PS_EVENT_SUPPRESSED,
                   .qid = "",
                   .msgid = "",
                   .sender = cred ? "" : domain,
                   .auth = cred ? e->who : "",
                   .client = "",
                   .recipient = e->rcpt,
                   .dsn = "",
                   .reply = reply,
                   .src = "s"};
    int n;

    if (dir == NULL)
        return 0;
    snprintf(domain, sizeof(domain), "@%s", e->who);
    ps_sev_reply(e, " (postseal suppression add)", reply, sizeof(reply));
    n = snprintf(what, sizeof(what), "suppressed\n%s:%s\n%s\n%lld",
                 ps_supp_scope_name(e->scope), e->who, e->rcpt,
                 (long long)e->since);
    return ps_event_make_id(what, (size_t)n, NULL, ev.id, err) != 0
               ? -1
               : ps_events_spool(dir, &ev, err);
}
