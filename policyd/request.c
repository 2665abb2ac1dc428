/* One policy request, from parsed attributes to the store and back: which
 * counters and windows apply, what this stage costs (END-OF-MESSAGE
 * charges the message, its recipients and its size; earlier stages only
 * refuse what is already over), and the answer. */
#include "policyd.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const ps_attr_names[PS_ATTR_N] = {
    [PS_ATTR_STATE] = "protocol_state",
    [PS_ATTR_INSTANCE] = "instance",
    [PS_ATTR_SASL] = "sasl_username",
    [PS_ATTR_SENDER] = "sender",
    [PS_ATTR_CLIENT] = "client_address",
    [PS_ATTR_RCPT_COUNT] = "recipient_count",
    [PS_ATTR_SIZE] = "size",
    [PS_ATTR_RECIPIENT] = "recipient",
};

static const char *ps_request_attr(const ps_session *s, int id)
{
    return s->attr[id] != NULL ? s->attr[id] : "";
}

/* A decimal attribute ("size", "recipient_count"); 0 if absent or bad,
 * capped so no sum can overflow. */
static uint64_t ps_request_number(const ps_session *s, int id)
{
    const char *v = ps_request_attr(s, id);
    uint64_t n = 0;

    for (; *v >= '0' && *v <= '9'; v++)
        if ((n = n * 10 + (uint64_t)(*v - '0')) > PS_QUOTA_MAX_LIMIT)
            return PS_QUOTA_MAX_LIMIT + 1;
    return *v == '\0' ? n : 0;
}

/* A request that cannot be charged as sent (malformed, or an attribute
 * this daemon decides on cut or too long to count) gets the over_quota
 * answer, never DUNNO: a client must not pass a quota by sending what
 * the daemon cannot read. Logged with whose request it was, when the
 * request says so (the log cuts long values). */
static void ps_request_refuse(ps_session *s, const char *reason,
                              const char *name, size_t line)
{
    const ps_policy_parser *p = &s->parser;
    const char *answer = s->pd->cfg->over_quota;
    char text[128], where[24] = "-";

    if (line > 0)
        snprintf(where, sizeof(where), "%zu", line);
    s->pd->stats.malformed++;
    ps_log_kv(s->pd->lg, LOG_WARNING, "policy_malformed", "peer", s->peer,
              "reason", reason, "name", name, "line", where, "sasl_username",
              ps_policy_get(p, "sasl_username"), "sender",
              ps_policy_get(p, "sender"), "client_address",
              ps_policy_get(p, "client_address"), "answer", answer, NULL);
    snprintf(text, sizeof(text), "policy request refused: %s", reason);
    ps_reply_send(s, answer, text);
}

/* Names ps_policy_known() said yes to, each with the PS_ATTR_ it is (or
 * -1), by the hash the parser already computed for its own index:
 * Postfix sends the same 30-odd names in every request, and checking each
 * against the whole list of known names, then looking up the few we use
 * one by one, was a tenth of the daemon's time. Only known names enter,
 * so the table never holds more than that list. */
#define PS_KNOWN_SLOTS 128 /* a power of two, well over the known names */
#define PS_KNOWN_NAME  32  /* longer names are not cached */
#define PS_UNKNOWN     (-2)

static struct {
    char name[PS_KNOWN_NAME];
    int id; /* PS_ATTR_*, or -1: known, not used here */
} ps_known_cache[PS_KNOWN_SLOTS];

static int ps_request_known(const char *name, unsigned h)
{
    size_t len = strlen(name);
    unsigned k, i = 0;
    int id = -1;

    for (k = 0; len < PS_KNOWN_NAME && k < PS_KNOWN_SLOTS; k++) {
        i = (h + k) & (PS_KNOWN_SLOTS - 1);
        if (ps_known_cache[i].name[0] == '\0')
            break;
        if (memcmp(ps_known_cache[i].name, name, len + 1) == 0)
            return ps_known_cache[i].id;
    }
    if (!ps_policy_known(name))
        return PS_UNKNOWN;
    for (int a = 0; a < PS_ATTR_N; a++)
        if (strcmp(name, ps_attr_names[a]) == 0)
            id = a;
    if (len < PS_KNOWN_NAME && k < PS_KNOWN_SLOTS) { /* k: the free slot */
        memcpy(ps_known_cache[i].name, name, len + 1);
        ps_known_cache[i].id = id;
    }
    return id;
}

/* One pass over the request: the values of the attributes used here, and
 * the unknown ones, which are logged and otherwise ignored, as the
 * protocol asks (Postfix adds attributes over the years). Any other
 * attribute may come cut (helo_name is the client's to choose); one used
 * here must be whole: its name is returned, and the request refused. */
static const char *ps_request_scan(ps_session *s)
{
    const ps_policy_parser *p = &s->parser;
    const char *name, *first = NULL, *cut = NULL;
    char count[24];
    size_t n = 0;
    int id;

    memset(s->attr, 0, sizeof(s->attr));
    for (size_t i = 0; (name = ps_policy_name_at(p, i)) != NULL; i++) {
        if ((id = ps_request_known(name, p->attrs[i].hash)) >= 0) {
            s->attr[id] = p->buf + p->attrs[i].value;
            if (p->attrs[i].cut)
                cut = name;
        } else if (id == PS_UNKNOWN && n++ == 0)
            first = name;
    }
    if (n > 0) {
        snprintf(count, sizeof(count), "%zu", n);
        ps_log_kv(s->pd->lg, LOG_INFO, "policy_unknown_attribute", "peer",
                  s->peer, "name", first, "count", count, "action", "ignored",
                  NULL);
    }
    return cut;
}

/* The message this request belongs to: RCPT requests of one instance add
 * up, so the k-th recipient is refused when k would not fit. */
static void ps_request_instance(ps_request *r)
{
    ps_session *s = r->s;

    ps_pd_copy(r->instance, sizeof(r->instance),
               ps_request_attr(s, PS_ATTR_INSTANCE));
    if (strcmp(r->instance, s->instance) != 0) {
        ps_pd_copy(s->instance, sizeof(s->instance), r->instance);
        s->pending_rcpts = 0;
        if (r->stage_rcpt)
            ps_stats_note_rcpt(s->pd);
    }
}

static void ps_request_costs(ps_request *r)
{
    uint64_t *cost = r->q.cost;
    ps_session *s = r->s;

    cost[PS_QUOTA_MESSAGES] = 1;
    if (r->stage_eod) {
        cost[PS_QUOTA_RECIPIENTS] = ps_request_number(s, PS_ATTR_RCPT_COUNT);
        cost[PS_QUOTA_BYTES] = ps_request_number(s, PS_ATTR_SIZE);
        return;
    }
    cost[PS_QUOTA_RECIPIENTS] = r->stage_rcpt ? s->pending_rcpts + 1 : 1;
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
            ps_quota_item *it = &q->items[q->nitems];
            /* what a reused request left here: an empty counter */
            it->win = rule->win[w];
            it->state.warned_until = 0;
            it->state.nslots = 0;
            it->used = 0;
            it->warn = 0;
            q->owner[q->nitems] = r->targets[t].key;
            r->kinds[q->nitems] = (unsigned char)r->targets[t].kind;
            ps_store_key(q->keys[q->nitems], r->targets[t].key, &rule->win[w]);
            q->nitems++;
        }
        r->targets[t].rule = NULL;
    }
    q->charge = r->stage_eod;
    q->warn_pct = r->s->pd->cfg->warn_at;
}

static int ps_request_kind_limited(const ps_quota_rules *rules, ps_quota_kind k)
{
    for (size_t i = 0; i < rules->nrules; i++)
        if (rules->rules[i].kind == k)
            return 1;
    return 0;
}

/* The counters of the request: -1 if it is exempt, -2 if a credential
 * some limit applies to is too long to count (the request is refused:
 * the client picks its sender, and a long one must not go uncounted). */
static int ps_request_targets(ps_request *r, const char **long_kind)
{
    ps_session *s = r->s;
    ps_quota_subject subj = {ps_request_attr(s, PS_ATTR_SASL),
                             ps_request_attr(s, PS_ATTR_SENDER),
                             ps_request_attr(s, PS_ATTR_CLIENT)};
    unsigned too_long;
    int rc = ps_quota_rules_resolve(s->pd->cfg->rules, &subj, r->targets,
                                    &r->ntargets, &too_long);

    if (rc == PS_QUOTA_EXEMPT) {
        s->pd->stats.exempt++;
        return -1;
    }
    for (int k = 0; k < PS_QUOTA_NKINDS; k++)
        if ((too_long & (1u << k)) &&
            ps_request_kind_limited(s->pd->cfg->rules, (ps_quota_kind)k)) {
            *long_kind = ps_quota_kind_name((ps_quota_kind)k);
            return -2;
        }
    return (int)r->ntargets;
}

/* A request costs some 30 KB (the store's copy of every window), too
 * much to allocate and clear per request: finished ones are kept, a few,
 * and only their small head is cleared for the next. */
static ps_request *ps_request_new(ps_pd *pd)
{
    ps_request *r = pd->spare;

    if (r != NULL) {
        pd->spare = r->next_spare;
        pd->nspare--;
    } else if ((r = malloc(sizeof(*r))) == NULL) {
        return NULL;
    }
    memset(r, 0, offsetof(ps_request, q) + offsetof(ps_store_query, owner));
    return r;
}

void ps_request_free(ps_pd *pd, ps_request *r)
{
    if (pd == NULL || pd->nspare >= PS_POLICYD_REQ_POOL) {
        free(r);
        return;
    }
    r->next_spare = pd->spare;
    pd->spare = r;
    pd->nspare++;
}

void ps_request_spares_free(ps_pd *pd)
{
    ps_request *r;

    while ((r = pd->spare) != NULL) {
        pd->spare = r->next_spare;
        free(r);
    }
    pd->nspare = 0;
}

void ps_request_orphan(ps_session *s)
{
    if (s->req != NULL)
        s->req->s = NULL;
    s->req = NULL;
}

/* The store's later answer: the connection learns it through the one
 * callback it gave, once r is back among the spares. */
static void ps_request_stored(void *arg, int ok)
{
    ps_request *r = arg;
    ps_session *s = r->s; /* NULL: the connection is gone (or the daemon) */

    if (s != NULL) {
        s->req = NULL;
        ps_reply_done(r, ok);
    }
    ps_request_free(s != NULL ? s->pd : NULL, r);
    if (s != NULL)
        s->answered(s->ctx);
}

/* Answered now unless the store answers later. */
static ps_request_status ps_request_ask(ps_session *s, ps_request *r)
{
    int rc;

    s->req = r;
    r->asked_ns = ps_pdm_now();
    rc = s->pd->store->eval(s->pd->store, &r->q, ps_request_stored, r);
    if (rc == PS_STORE_PENDING)
        return PS_REQUEST_PENDING;
    s->req = NULL;
    ps_reply_done(r, rc);
    ps_request_free(s->pd, r);
    return PS_REQUEST_ANSWERED;
}

ps_request_status ps_request_handle(ps_session *s)
{
    const char *state, *cut;
    ps_request *r;
    int n;

    s->pd->stats.requests++;
    if (s->parser.error != PS_POLICY_OK) {
        ps_metric_inc(s->pd->m.requests, PS_PDM_MALFORMED);
        ps_request_refuse(s, ps_policy_strerror(s->parser.error), NULL,
                          s->parser.error_line);
        return PS_REQUEST_ANSWERED;
    }
    if ((cut = ps_request_scan(s)) != NULL) {
        char reason[48];
        snprintf(reason, sizeof(reason), "line longer than %d bytes",
                 PS_POLICY_MAX_LINE);
        ps_metric_inc(s->pd->m.requests, PS_PDM_MALFORMED);
        ps_request_refuse(s, reason, cut, 0);
        return PS_REQUEST_ANSWERED;
    }
    state = ps_request_attr(s, PS_ATTR_STATE);
    ps_metric_inc(s->pd->m.requests, ps_pdm_state_of(state));
    if ((r = ps_request_new(s->pd)) == NULL) {
        ps_reply_send(s, s->pd->cfg->store_down, "policy service busy");
        return PS_REQUEST_ANSWERED;
    }
    r->s = s;
    r->stage_eod = strcmp(state, "END-OF-MESSAGE") == 0;
    r->stage_rcpt = strcmp(state, "RCPT") == 0;
    if (r->stage_eod)
        s->pd->eod_seen = 1;
    ps_request_instance(r);
    if ((n = ps_suppress_ask(s, r)) >= 0)
        return (ps_request_status)n;
    return ps_request_quota(s, r);
}

ps_request_status ps_request_quota(ps_session *s, ps_request *r)
{
    const char *long_kind = NULL;
    int n;

    n = r->stage_eod && r->instance[0] != '\0' &&
                strcmp(r->instance, s->charged) == 0
            ? 0
            : ps_request_targets(r, &long_kind);
    if (n <= 0) {
        ps_request_free(s->pd, r);
        if (n == -2)
            ps_request_refuse(s, "credential longer than 255 bytes", long_kind,
                              0);
        else
            ps_reply_send(s, "DUNNO", NULL);
        return PS_REQUEST_ANSWERED;
    }
    ps_request_costs(r);
    ps_request_items(r);
    return ps_request_ask(s, r);
}
