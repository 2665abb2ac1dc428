/* postseal-policyd's Prometheus counters: the registry the daemon owns,
 * the families and their fixed label sets, and the [policyd] metrics
 * listener on the daemon's own event loop. The request path updates them
 * with one call at each decision. */
#include "policyd.h"

#include "metrics/http.h"

#include <time.h>
#include <unistd.h>

/* Postfix's protocol_state values, in the order of ps_pdm_state. */
static const char *const ps_pdm_states[] = {
    "CONNECT", "EHLO", "HELO",           "MAIL",  "RCPT",     "DATA",
    "VRFY",    "ETRN", "END-OF-MESSAGE", "other", "malformed"};
_Static_assert(sizeof(ps_pdm_states) / sizeof(ps_pdm_states[0]) ==
                   PS_PDM_NSTATES,
               "a label per state");

/* Limit kinds as labels (ps_quota_kind order), and "none". */
static const char *ps_pdm_kind(int kind)
{
    return kind >= 0 && kind < PS_QUOTA_NKINDS
               ? ps_quota_kind_name((ps_quota_kind)kind)
               : "none";
}

static const double ps_pdm_store_le[] = {0.0001, 0.00025, 0.0005, 0.001,
                                         0.0025, 0.005,   0.01,   0.025,
                                         0.05,   0.1,     0.25,   1};

#define PS_L(...) ((const char *const[]){__VA_ARGS__, NULL})

static int ps_pdm_families(ps_pd_metrics *m, ps_err *err)
{
    ps_metrics *r = m->reg;

    m->requests = ps_metrics_counter(r, "postseal_policyd_requests_total",
                                     "Policy requests by protocol state.",
                                     PS_L("state"), err);
    m->answers = ps_metrics_counter(
        r, "postseal_policyd_answers_total",
        "Answers by action and the limit kind that decided them.",
        PS_L("action", "kind"), err);
    m->charged =
        ps_metrics_counter(r, "postseal_policyd_charged_total",
                           "Messages charged at END-OF-MESSAGE.", NULL, err);
    m->over = ps_metrics_counter(r, "postseal_policyd_over_quota_total",
                                 "Requests refused over a limit, by kind.",
                                 PS_L("kind"), err);
    m->warnings = ps_metrics_counter(r, "postseal_policyd_warnings_total",
                                     "warn_at warnings logged, by kind.",
                                     PS_L("kind"), err);
    m->store_ops =
        ps_metrics_counter(r, "postseal_policyd_store_operations_total",
                           "Store evaluations by operation and result.",
                           PS_L("op", "result"), err);
    m->store_seconds = ps_metrics_histogram(
        r, "postseal_policyd_store_duration_seconds",
        "Wall time from asking the store to its answer.", NULL, ps_pdm_store_le,
        sizeof(ps_pdm_store_le) / sizeof(ps_pdm_store_le[0]), err);
    m->store_down = ps_metrics_counter(
        r, "postseal_policyd_store_down_answers_total",
        "Requests answered with store_down because the store failed.", NULL,
        err);
    m->conns_open = ps_metrics_gauge(r, "postseal_policyd_connections_open",
                                     "Open policy connections.", NULL, err);
    m->conns_refused = ps_metrics_counter(
        r, "postseal_policyd_connections_refused_total",
        "Connections closed unserved: stopping, at the cap, accept failed.",
        NULL, err);
    m->reloads =
        ps_metrics_counter(r, "postseal_policyd_reloads_total",
                           "SIGHUP reloads by result.", PS_L("result"), err);
    m->suppressed = ps_metrics_counter(
        r, "postseal_policyd_suppression_hits_total",
        "Recipients found on the suppression list, by answer.", PS_L("answer"),
        err);
    m->supp_added = ps_metrics_counter(
        r, "postseal_policyd_suppressions_added_total",
        "Recipients put on the suppression list after a permanent failure.",
        NULL, err);
    return m->reloads != NULL && m->suppressed != NULL && m->supp_added != NULL
               ? 0
               : -1;
}

/* Every label set that can occur is registered now, so a scrape shows
 * zeros rather than no series (what alert rules need). */
static int ps_pdm_series(ps_pd_metrics *m, ps_err *err)
{
    static const char *const results[] = {"ok", "failed"};
    /* in ps_supp_mode order from PS_SUPP_REFUSE */
    static const char *const supp_answers[] = {"refused", "logged"};
    _Static_assert(PS_SUPP_LOG == PS_SUPP_REFUSE + 1, "an answer per mode");
    static const char *const kinds[] = {"sasl_username", "sender_domain",
                                        "client_address"};
    _Static_assert(PS_QUOTA_NKINDS == 3, "a label per kind");

    if (ps_metric_enum(m->requests, ps_pdm_states, PS_PDM_NSTATES, err) != 0 ||
        ps_metric_enum(m->reloads, results, 2, err) != 0 ||
        ps_metric_enum(m->suppressed, supp_answers, 2, err) != 0 ||
        ps_metric_enum(m->over, kinds, 3, err) != 0 ||
        ps_metric_enum(m->warnings, kinds, 3, err) != 0 ||
        ps_metric_series(m->store_ops, PS_L("eval", "ok"), err) != 0 ||
        ps_metric_series(m->store_ops, PS_L("eval", "down"), err) != 1 ||
        ps_metric_series(m->answers, PS_L("DUNNO", "none"), err) != 0)
        return -1;
    return 0;
}

int ps_pdm_init(ps_pd_metrics *m, ps_err *err)
{
    m->fd = -1;
    if ((m->reg = ps_metrics_new()) == NULL)
        return ps_err_set(err, "out of memory");
    return ps_pdm_families(m, err) != 0 || ps_pdm_series(m, err) != 0 ? -1 : 0;
}

void ps_pdm_free(ps_pd_metrics *m)
{
    ps_metrics_http_free(m->http);
    if (m->http == NULL && m->fd >= 0)
        close(m->fd);
    ps_metrics_free(m->reg);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

int ps_pdm_listen(ps_pd *pd, const ps_priv_plan *plan, ps_err *err)
{
    const char *spec = pd->cfg->conf->policyd.metrics.value;

    return spec == NULL ? 0 : ps_metrics_listen(spec, plan, &pd->m.fd, err);
}

static void ps_pdm_refresh(void *arg)
{
    ps_pd *pd = arg;

    ps_metric_set(pd->m.conns_open, 0, pd->nconns);
}

int ps_pdm_serve(ps_pd *pd, ps_err *err)
{
    if (pd->m.fd < 0)
        return 0;
    pd->m.http = ps_metrics_http_new(pd->base, pd->m.fd, pd->m.reg,
                                     ps_pdm_refresh, pd, err);
    pd->m.fd = -1; /* taken over, even on failure */
    return pd->m.http != NULL ? 0 : -1;
}

ps_pdm_state ps_pdm_state_of(const char *state)
{
    for (int i = 0; i < PS_PDM_OTHER; i++)
        if (strcmp(state, ps_pdm_states[i]) == 0)
            return (ps_pdm_state)i;
    return PS_PDM_OTHER;
}

void ps_pdm_answer(ps_pd *pd, const char *action, int kind)
{
    const char *v[2] = {action, ps_pdm_kind(kind)};

    ps_metric_inc(pd->m.answers, ps_metric_series(pd->m.answers, v, NULL));
}

uint64_t ps_pdm_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ps_pdm_store_op(ps_pd *pd, uint64_t asked_ns, int ok)
{
    ps_metric_inc(pd->m.store_ops, ok == 0 ? 0 : 1);
    ps_metric_observe(pd->m.store_seconds, 0,
                      (double)(ps_pdm_now() - asked_ns) / 1e9);
}
