/* Answers and their log lines: DUNNO when a request fits, the configured
 * over_quota action with a text naming the limit and when it frees, the
 * store_down answer when the store failed, and the warn_at warning. */
#include "policyd.h"

#include <stdio.h>
#include <string.h>

#include "mail/evspool.h"

#define PS_REPLY_TEXT_MAX 400 /* Postfix keeps replies well under 512 */
_Static_assert(PS_POLICYD_ANSWER_MAX >= 7 + 2 * PS_REPLY_TEXT_MAX + 3,
               "a whole reply fits in the session's answer");

/* Credentials come from the client: nothing but printable ASCII may reach
 * the SMTP reply. */
static void ps_reply_clean(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

/* Into s->answer, which the connection stages and sends when its pump
 * is done with what it read. */
void ps_reply_send(ps_session *s, const char *action, const char *text)
{
    char buf[PS_REPLY_TEXT_MAX + 1] = "";
    size_t alen = strnlen(action, PS_REPLY_TEXT_MAX), tlen, need;
    char *p;

    if (text != NULL)
        snprintf(buf, sizeof(buf), "%s", text);
    ps_reply_clean(buf);
    tlen = strlen(buf);
    need = 7 + alen + (tlen > 0 ? 1 + tlen : 0) + 2;
    p = s->answer;
    memcpy(p, "action=", 7);
    memcpy(p += 7, action, alen);
    p += alen;
    if (tlen > 0) {
        *p++ = ' ';
        memcpy(p, buf, tlen);
        p += tlen;
    }
    memcpy(p, "\n\n", 2);
    s->answer_len = need;
    ps_pdm_answer(s->pd, action, s->over_kind - 1);
    s->over_kind = 0;
}

static void ps_reply_store_down(ps_request *r)
{
    ps_pd *pd = r->s->pd;
    const char *answer = pd->cfg->store_down;

    pd->stats.store_down++;
    ps_metric_inc(pd->m.store_down, 0);
    if (!pd->store_was_down && !pd->store->logs_outages)
        ps_log_kv(pd->lg, LOG_ERR, "store_down", "store", pd->store->kind,
                  "answer", answer, NULL);
    pd->store_was_down = 1;
    ps_reply_send(r->s, answer,
                  strcmp(answer, "DUNNO") != 0
                      ? "quota service temporarily unavailable"
                      : NULL);
}

static void ps_reply_over(ps_request *r)
{
    const ps_quota_verdict *v = &r->q.verdict;
    const ps_quota_item *it = &r->q.items[v->item];
    const char *owner = r->q.owner[v->item];
    const char *action = r->s->pd->cfg->over_quota;
    char win[64], frees[32] = "never", used[24], said[PS_REPLY_TEXT_MAX - 32];
    char text[PS_REPLY_TEXT_MAX];

    ps_quota_window_format(&it->win, win, sizeof(win));
    snprintf(used, sizeof(used), "%llu", (unsigned long long)it->used);
    if (v->frees_at == PS_QUOTA_NEVER) {
        action = "REJECT";
        snprintf(text, sizeof(text),
                 "message larger than the quota of %s: "
                 "%s",
                 owner, win);
    } else {
        ps_quota_duration_format(v->frees_at - r->q.now, frees, sizeof(frees));
        ps_quota_describe(owner, &it->win, PS_QUOTA_UNKNOWN,
                          v->frees_at - r->q.now, said, sizeof(said));
        snprintf(text, sizeof(text), "quota exceeded for %s", said);
    }
    r->s->pd->stats.over++;
    ps_metric_inc(r->s->pd->m.over, r->kinds[v->item]);
    r->s->over_kind = 1 + r->kinds[v->item];
    ps_log_kv(r->s->pd->lg, LOG_NOTICE, "over_quota", "peer", r->s->peer, "key",
              owner, "limit", win, "used", used, "stage",
              r->stage_eod ? "END-OF-MESSAGE" : "RCPT", "instance", r->instance,
              "frees_in", frees, "answer", action, NULL);
    ps_qev_note(r->s->pd, PS_EVENT_LIMIT_EXCEEDED, owner, &it->win, it->used,
                r->q.now);
    ps_reply_send(r->s, action, text);
}

static void ps_reply_warnings(ps_request *r)
{
    char win[64], used[24], pct[8];

    snprintf(pct, sizeof(pct), "%d%%", r->q.warn_pct);
    for (size_t i = 0; i < r->q.nitems; i++) {
        if (!r->q.items[i].warn)
            continue;
        ps_metric_inc(r->s->pd->m.warnings, r->kinds[i]);
        ps_quota_window_format(&r->q.items[i].win, win, sizeof(win));
        snprintf(used, sizeof(used), "%llu",
                 (unsigned long long)r->q.items[i].used);
        ps_log_kv(r->s->pd->lg, LOG_WARNING, "quota_warning", "key",
                  r->q.owner[i], "limit", win, "used", used, "warn_at", pct,
                  NULL);
        ps_qev_note(r->s->pd, PS_EVENT_LIMIT_APPROACHING, r->q.owner[i],
                    &r->q.items[i].win, r->q.items[i].used, r->q.now);
    }
}

static void ps_reply_charged(ps_request *r)
{
    char keys[3 * (PS_QUOTA_MAX_KEY + 1)] = "", n[3][24];
    size_t len = 0;

    for (size_t t = 0; t < r->ntargets; t++)
        len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s",
                                t ? "," : "", r->targets[t].key);
    for (int m = 0; m < PS_QUOTA_NMEASURES; m++)
        snprintf(n[m], sizeof(n[m]), "%llu", (unsigned long long)r->q.cost[m]);
    ps_pd_copy(r->s->charged, sizeof(r->s->charged), r->instance);
    r->s->pd->stats.charged++;
    ps_metric_inc(r->s->pd->m.charged, 0);
    ps_log_kv(r->s->pd->lg, LOG_INFO, "charged", "instance", r->instance,
              "keys", keys, "messages", n[0], "recipients", n[1], "bytes", n[2],
              NULL);
    ps_reply_warnings(r);
}

void ps_reply_done(ps_request *r, int ok)
{
    ps_pd *pd = r->s->pd;

    ps_pdm_store_op(pd, r->asked_ns, ok);
    if (ok != 0) {
        ps_reply_store_down(r);
    } else {
        if (pd->store_was_down && !pd->store->logs_outages)
            ps_log_kv(pd->lg, LOG_NOTICE, "store_up", "store", pd->store->kind,
                      NULL);
        pd->store_was_down = 0;
        if (r->q.verdict.over) {
            ps_reply_over(r);
        } else {
            if (r->q.charge)
                ps_reply_charged(r);
            else if (r->stage_rcpt)
                r->s->pending_rcpts++;
            ps_reply_send(r->s, "DUNNO", NULL);
        }
    }
}
