/* The suppression list in postseal-policyd: at RCPT, a recipient that
 * failed permanently for this sender domain (or credential) is refused
 * with 550 5.1.1 (or only logged: [suppression] mode = log); the events
 * follower adds the entries (a permanent failure: 5.X.X; an expiry's
 * failed events carry the last deferral's 4.X.X and add none); -S is
 * `postseal suppression`. */
#include "policyd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/evspool.h"

static void ps_suppress_date(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void ps_suppress_store_down(ps_session *s)
{
    const char *answer = s->pd->cfg->store_down;

    s->pd->stats.store_down++;
    ps_metric_inc(s->pd->m.store_down, 0);
    ps_reply_send(s, answer,
                  strcmp(answer, "DUNNO") != 0
                      ? "suppression list temporarily unavailable"
                      : NULL);
}

/* found: the store's answer. Refused here, or on to the quotas. */
static ps_request_status ps_suppress_decide(ps_session *s, ps_request *r,
                                            int found)
{
    int mode = s->pd->cfg->conf->suppression.mode;
    char since[32], text[PS_SUPP_ADDR_MAX + 96];

    if (found < 0) {
        ps_suppress_store_down(s);
        ps_request_free(s->pd, r);
        return PS_REQUEST_ANSWERED;
    }
    if (found != PS_STORE_SUPP_FOUND)
        return ps_request_quota(s, r);
    ps_suppress_date(r->supp.since, since, sizeof(since));
    ps_metric_inc(s->pd->m.suppressed, mode - PS_SUPP_REFUSE);
    ps_log_kv(s->pd->lg, LOG_NOTICE, "suppressed", "peer", s->peer, "recipient",
              r->supp.rcpt, "scope", ps_supp_scope_name(r->supp.scope), "for",
              r->supp.who, "since", since, "instance", r->instance, "answer",
              mode == PS_SUPP_LOG ? "DUNNO (mode = log)" : "550", NULL);
    if (mode == PS_SUPP_LOG)
        return ps_request_quota(s, r);
    snprintf(text, sizeof(text),
             "5.1.1 <%s>: suppressed since %s after a permanent failure",
             r->supp.rcpt, since);
    ps_suppress_event_rejected(s->pd, r->instance, s->attr[PS_ATTR_SASL],
                               s->attr[PS_ATTR_SENDER], s->attr[PS_ATTR_CLIENT],
                               &r->supp, text);
    ps_request_free(s->pd, r);
    ps_reply_send(s, "550", text);
    return PS_REQUEST_ANSWERED;
}

static void ps_suppress_answered(void *arg, int found)
{
    ps_request *r = arg;
    ps_session *s = r->s; /* NULL: the connection is gone */

    if (s == NULL) {
        ps_request_free(NULL, r);
        return;
    }
    s->req = NULL;
    if (ps_suppress_decide(s, r, found) == PS_REQUEST_ANSWERED)
        s->answered(s->ctx);
}

int ps_suppress_ask(ps_session *s, ps_request *r)
{
    const ps_conf *conf = s->pd->cfg->conf;
    ps_store *st = s->pd->store;
    char key[PS_SUPP_KEY_MAX];
    int rc;

    if (!r->stage_rcpt || conf->suppression.mode == PS_SUPP_OFF ||
        ps_supp_subject(&r->supp, conf->suppression.scope,
                        s->attr[PS_ATTR_SASL], s->attr[PS_ATTR_SENDER],
                        s->attr[PS_ATTR_RECIPIENT]) != 0)
        return -1;
    ps_supp_key(&r->supp, key);
    s->req = r;
    rc = st->supp_get(st, key, (int64_t)time(NULL), &r->supp,
                      ps_suppress_answered, r);
    if (rc == PS_STORE_PENDING)
        return PS_REQUEST_PENDING;
    s->req = NULL;
    return ps_suppress_decide(s, r, rc);
}

void ps_suppress_on_event(void *arg, const struct ps_event *ev)
{
    ps_pd *pd = arg;
    const ps_conf *conf = pd->cfg->conf;
    ps_supp_entry e;
    char until[32];

    if (conf->suppression.mode == PS_SUPP_OFF ||
        (ev->kind != PS_EVENT_FAILED && ev->kind != PS_EVENT_BOUNCED) ||
        ev->dsn == NULL || ev->dsn[0] != '5' ||
        ps_supp_subject(&e, conf->suppression.scope, ev->auth, ev->sender,
                        ev->recipient) != 0)
        return;
    e.since = (int64_t)ev->when;
    e.until = e.since + conf->suppression.ttl;
    ps_suppress_date(e.until, until, sizeof(until));
    if (pd->store->supp_put(pd->store, &e) != 0)
        return;
    ps_metric_inc(pd->m.supp_added, 0);
    ps_log_kv(pd->lg, LOG_INFO, "suppression_added", "recipient", e.rcpt,
              "scope", ps_supp_scope_name(e.scope), "for", e.who, "status",
              ev->dsn, "until", until, NULL);
    ps_suppress_event_added(pd, ev, &e);
}
