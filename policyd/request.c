/* One policy request, from parsed attributes to the store and back: which
 * counters and windows apply, what this stage costs (END-OF-MESSAGE
 * charges the message, its recipients and its size; earlier stages only
 * refuse what is already over), and the answer. */
#include "policyd.h"

#include <stdlib.h>
#include <string.h>

static const char *ps_request_attr(const ps_conn *c, const char *name)
{
    const char *v = ps_policy_get(&c->parser, name);

    return v != NULL ? v : "";
}

/* A decimal attribute ("size", "recipient_count"); 0 if absent or bad,
 * capped so no sum can overflow. */
static uint64_t ps_request_number(const ps_conn *c, const char *name)
{
    const char *v = ps_request_attr(c, name);
    uint64_t n = 0;

    for (; *v >= '0' && *v <= '9'; v++)
        if ((n = n * 10 + (uint64_t)(*v - '0')) > PS_QUOTA_MAX_LIMIT)
            return PS_QUOTA_MAX_LIMIT + 1;
    return *v == '\0' ? n : 0;
}

static void ps_request_malformed(ps_conn *c)
{
    char line[24];

    snprintf(line, sizeof(line), "%zu", c->parser.error_line);
    c->pd->stats.malformed++;
    ps_log_kv(c->pd->lg, LOG_WARNING, "policy_malformed", "peer", c->peer,
              "reason", ps_policy_strerror(c->parser.error), "line", line,
              "answer", "DUNNO", NULL);
    ps_reply_send(c, "DUNNO", NULL);
    ps_conn_answered(c);
}

/* Postfix adds attributes over the years: an unknown one is logged and
 * otherwise ignored, as the protocol asks. */
static void ps_request_unknown(ps_conn *c)
{
    const char *name, *first = NULL;
    char count[24];
    size_t n = 0;

    for (size_t i = 0; (name = ps_policy_name_at(&c->parser, i)) != NULL; i++)
        if (!ps_policy_known(name) && n++ == 0)
            first = name;
    if (n == 0)
        return;
    snprintf(count, sizeof(count), "%zu", n);
    ps_log_kv(c->pd->lg, LOG_INFO, "policy_unknown_attribute", "peer", c->peer,
              "name", first, "count", count, "action", "ignored", NULL);
}

/* The message this request belongs to: RCPT requests of one instance add
 * up, so the k-th recipient is refused when k would not fit. */
static void ps_request_instance(ps_request *r)
{
    ps_conn *c = r->c;

    snprintf(r->instance, sizeof(r->instance), "%s",
             ps_request_attr(c, "instance"));
    if (strcmp(r->instance, c->instance) != 0) {
        snprintf(c->instance, sizeof(c->instance), "%s", r->instance);
        c->pending_rcpts = 0;
        if (r->stage_rcpt)
            ps_stats_note_rcpt(c->pd);
    }
}

static void ps_request_costs(ps_request *r)
{
    uint64_t *cost = r->q.cost;
    ps_conn *c = r->c;

    cost[PS_QUOTA_MESSAGES] = 1;
    if (r->stage_eod) {
        cost[PS_QUOTA_RECIPIENTS] = ps_request_number(c, "recipient_count");
        cost[PS_QUOTA_BYTES] = ps_request_number(c, "size");
        return;
    }
    cost[PS_QUOTA_RECIPIENTS] = r->stage_rcpt ? c->pending_rcpts + 1 : 1;
    cost[PS_QUOTA_BYTES] = 1;
}

/* Everything the answer needs is copied into the query: a SIGHUP may
 * free the rules while the request is at the store. */
static void ps_request_items(ps_request *r)
{
    ps_store_query *q = &r->q;

    for (size_t t = 0; t < r->ntargets; t++) {
        const ps_quota_rule *rule = r->targets[t].rule;
        for (size_t w = 0; w < rule->nwin; w++) {
            q->items[q->nitems].win = rule->win[w];
            q->owner[q->nitems] = r->targets[t].key;
            ps_store_key(q->keys[q->nitems], r->targets[t].key, &rule->win[w]);
            q->nitems++;
        }
        r->targets[t].rule = NULL;
    }
    q->charge = r->stage_eod;
    q->warn_pct = r->c->pd->cfg->warn_at;
}

static int ps_request_targets(ps_request *r)
{
    ps_conn *c = r->c;
    ps_quota_subject s = {ps_request_attr(c, "sasl_username"),
                          ps_request_attr(c, "sender"),
                          ps_request_attr(c, "client_address")};
    unsigned too_long;
    int rc = ps_quota_rules_resolve(c->pd->cfg->rules, &s, r->targets,
                                    &r->ntargets, &too_long);

    for (int k = 0; k < PS_QUOTA_NKINDS; k++)
        if (too_long & (1u << k))
            ps_log_kv(c->pd->lg, LOG_WARNING, "credential_not_counted", "peer",
                      c->peer, "kind", ps_quota_kind_name((ps_quota_kind)k),
                      "reason", "longer than 255 bytes", NULL);
    if (rc == PS_QUOTA_EXEMPT)
        c->pd->stats.exempt++;
    return rc == PS_QUOTA_EXEMPT ? -1 : (int)r->ntargets;
}

static void ps_request_stored(void *arg, int ok)
{
    ps_request *r = arg;

    if (r->c != NULL) /* NULL: the daemon is exiting */
        ps_reply_done(r, ok);
    free(r);
}

void ps_request_handle(ps_conn *c)
{
    const char *state = ps_request_attr(c, "protocol_state");
    ps_request *r;

    c->busy = 1;
    c->pd->stats.requests++;
    if (c->parser.error != PS_POLICY_OK) {
        ps_request_malformed(c);
        return;
    }
    ps_request_unknown(c);
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        ps_reply_send(c, c->pd->cfg->store_down, "policy service busy");
        ps_conn_answered(c);
        return;
    }
    r->c = c;
    r->stage_eod = strcmp(state, "END-OF-MESSAGE") == 0;
    r->stage_rcpt = strcmp(state, "RCPT") == 0;
    if (r->stage_eod)
        c->pd->eod_seen = 1;
    ps_request_instance(r);
    if ((r->stage_eod && r->instance[0] != '\0' &&
         strcmp(r->instance, c->charged) == 0) ||
        ps_request_targets(r) <= 0) {
        free(r);
        ps_reply_send(c, "DUNNO", NULL);
        ps_conn_answered(c);
        return;
    }
    ps_request_costs(r);
    ps_request_items(r);
    c->req = r;
    c->pd->store->eval(c->pd->store, &r->q, ps_request_stored, r);
}
