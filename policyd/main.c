/* postseal-policyd: per-credential quotas for Postfix's
 * check_policy_service. One libevent loop serves every connection, the
 * store and the signals: SIGHUP reloads [policyd], [limits] and [endpoint]s
 * without dropping a connection, SIGTERM stops accepting and drains. */
#include "policyd.h"
#include "events.h"
#include "whsend.h"

#include "base/daemon.h"
#include "base/privdrop.h"
#include "check/check.h"

#include <signal.h>
#include <systemd/sd-daemon.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct ps_opts {
    const char *conf, *admin, *key;
    const char *supp, *rcpt, *who; /* -S VERB [RCPT WHO] */
    int foreground, check;
} ps_opts;

static void ps_usage(FILE *fp)
{
    fprintf(fp,
            "usage: %s -c FILE [-f] [-n]\n"
            "       %s -c FILE -Q show [KEY] | -Q reset KEY\n"
            "       %s -c FILE -S list | -S add|remove RCPT WHO\n"
            "  -c FILE  postseal.conf to read\n"
            "  -f       stay in the foreground, log to stderr\n"
            "  -n       check the configuration, print the main.cf "
            "lines it needs, exit\n"
            "  -Q       show or reset counters (what `postseal quota` "
            "runs)\n"
            "  -S       list, add or remove suppressions (what `postseal "
            "suppression` runs)\n"
            "  --version  print the version and exit\n",
            PS_POLICYD_NAME, PS_POLICYD_NAME, PS_POLICYD_NAME);
}

/* 0 to run, 1 for --help, -1 on bad usage. */
static int ps_parse_args(int argc, char **argv, ps_opts *o)
{
    int ch;

    memset(o, 0, sizeof(*o));
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return ps_usage(stdout), 1;
    if (argc == 2 && strcmp(argv[1], "--version") == 0)
        return printf("%s %s\n", PS_POLICYD_NAME, PS_VERSION), 1;
    while ((ch = getopt(argc, argv, "c:fnQ:S:h")) != -1) {
        if (ch == 'c')
            o->conf = optarg;
        else if (ch == 'f')
            o->foreground = 1;
        else if (ch == 'n')
            o->check = 1;
        else if (ch == 'Q')
            o->admin = optarg;
        else if (ch == 'S')
            o->supp = optarg;
        else if (ch == 'h')
            return ps_usage(stdout), 1;
        else
            return -1;
    }
    if (o->admin != NULL && optind < argc)
        o->key = argv[optind++];
    if (o->supp != NULL && optind + 2 == argc) {
        o->rcpt = argv[optind++];
        o->who = argv[optind++];
    }
    if (o->supp != NULL &&
        !(strcmp(o->supp, "list") == 0 ? o->rcpt == NULL
          : strcmp(o->supp, "add") == 0 || strcmp(o->supp, "remove") == 0
              ? o->rcpt != NULL
              : 0))
        return -1;
    if (optind != argc || o->conf == NULL)
        return -1;
    if (o->admin != NULL &&
        !(strcmp(o->admin, "show") == 0 ||
          (strcmp(o->admin, "reset") == 0 && o->key != NULL)))
        return -1;
    return 0;
}

/* Whom the daemon runs as, per [policyd]: looked up before the bind. */
static int ps_runas_plan(const ps_pd_cfg *cfg, ps_priv_plan *plan, ps_err *err)
{
    return ps_conf_runas_plan(cfg->conf, &cfg->conf->policyd.runas, "policyd",
                              plan, err);
}

/* -Q and -S as root act on the store as [policyd] user does: LMDB files
 * they create (a first run before the daemon's) are then the daemon's,
 * not root's, which the daemon could not open. */
static int ps_admin_as_daemon_user(const ps_pd_cfg *cfg)
{
    ps_priv_plan plan;
    ps_err err = {""};

    if (ps_runas_plan(cfg, &plan, &err) != 0 ||
        ps_priv_drop(&plan, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_ADMIN_NAME, err.msg);
        return -1;
    }
    return 0;
}

static int ps_check(const ps_pd_cfg *cfg)
{
    ps_priv_plan plan;
    ps_err err = {""};

    if (ps_runas_plan(cfg, &plan, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_POLICYD_NAME, err.msg);
        return 1;
    }
    printf("%s: OK (%zu limits, %zu exemptions, store %s)\n", cfg->conf->path,
           cfg->rules->nrules, cfg->rules->nexempt, cfg->store_shown);
    ps_pd_cfg_guidance(cfg, stdout);
    return 0;
}

static void ps_reload(ps_pd *pd)
{
    ps_pd_cfg *cfg;
    ps_err err = {""};
    char n[24];

    if (ps_pd_cfg_load(pd->conf_path, 1, &cfg, &err) != 0) {
        ps_log_kv(pd->lg, LOG_ERR, "reload", "result", "failed", "reason",
                  err.msg, "kept", "previous configuration", NULL);
        ps_metric_inc(pd->m.reloads, 1);
        return;
    }
    if (strcmp(cfg->listen, pd->cfg->listen) != 0 ||
        strcmp(cfg->store, pd->cfg->store) != 0)
        ps_log_kv(pd->lg, LOG_WARNING, "reload", "note",
                  "listen and store changes take a restart", NULL);
    ps_pd_cfg_free(pd->cfg);
    pd->cfg = cfg;
    if (pd->whsend != NULL && ps_whs_reload(pd->whsend, cfg->conf, &err) != 0)
        ps_log_kv(pd->lg, LOG_ERR, "reload", "endpoints", "failed", "reason",
                  err.msg, NULL);
    else if (pd->whsend == NULL && cfg->conf->events.dir.value != NULL)
        ps_log_kv(pd->lg, LOG_WARNING, "reload", "note",
                  "a new [events] dir takes a restart", NULL);
    snprintf(n, sizeof(n), "%zu", cfg->rules->nrules);
    ps_log_kv(pd->lg, LOG_INFO, "reload", "result", "ok", "limits", n, NULL);
    ps_metric_inc(pd->m.reloads, 0);
}

static void ps_on_signal(evutil_socket_t sig, short what, void *arg)
{
    ps_pd *pd = arg;
    struct timeval tv = {PS_POLICYD_DRAIN_SECS, 0};
    char open[24];

    (void)what;
    if (sig == SIGHUP) {
        ps_reload(pd);
        return;
    }
    if (pd->draining)
        return;
    snprintf(open, sizeof(open), "%u", pd->nconns);
    ps_log_kv(pd->lg, LOG_INFO, "stop", "reason",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", "connections", open, NULL);
    sd_notify(0, "STOPPING=1");
    ps_server_drain(pd);
    if (pd->nconns == 0)
        event_base_loopexit(pd->base, NULL);
    else
        event_base_loopexit(pd->base, &tv);
}

static int ps_signals(ps_pd *pd)
{
    static const int sigs[] = {SIGHUP, SIGTERM, SIGINT};

    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < 3; i++) {
        pd->signals[i] = evsignal_new(pd->base, sigs[i], ps_on_signal, pd);
        if (pd->signals[i] == NULL || event_add(pd->signals[i], NULL) != 0)
            return -1;
    }
    return 0;
}

/* Hundreds of Postfix processes each hold a connection. */
static void ps_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void ps_pd_cleanup(ps_pd *pd)
{
    while (pd->conns != NULL)
        ps_conn_destroy(pd->conns);
    if (pd->listener != NULL)
        evconnlistener_free(pd->listener);
    if (pd->store != NULL)
        pd->store->free(pd->store);
    ps_request_spares_free(pd); /* after the store: it may finish some */
    for (size_t i = 0; i < 4; i++)
        if (pd->signals[i] != NULL)
            event_free(pd->signals[i]);
    if (pd->timer != NULL)
        event_free(pd->timer);
    ps_pdm_free(&pd->m); /* its listener first: it is on the loop */
    ps_whs_free(pd->whsend);
    ps_evf_free(pd->events);
    event_base_free(pd->base);
    ps_pd_cfg_free(pd->cfg);
    ps_log_close(pd->lg);
}

/* The daemon can't read main.cf: the lines it needs go to the log. */
static void ps_log_start(ps_pd *pd)
{
    char rcpt[300], eod[300];

    snprintf(rcpt, sizeof(rcpt),
             "smtpd_recipient_restrictions = ..., check_policy_service %s",
             pd->cfg->listen);
    snprintf(eod, sizeof(eod),
             "smtpd_end_of_data_restrictions = check_policy_service %s",
             pd->cfg->listen);
    ps_log_kv(pd->lg, LOG_INFO, "start", "listen", pd->cfg->listen, "store",
              pd->cfg->store_shown, "over_quota", pd->cfg->over_quota,
              "store_down", pd->cfg->store_down, NULL);
    ps_log_kv(pd->lg, LOG_INFO, "main_cf_needs", "rcpt", rcpt, "eod", eod,
              "why",
              "messages, recipients and bytes are charged at "
              "END-OF-MESSAGE only",
              NULL);
}

static void ps_log_runas(ps_pd *pd, const ps_priv_plan *plan)
{
    if (plan->outcome == PS_PRIV_AS_ROOT)
        ps_log_kv(pd->lg, LOG_WARNING, "running_as_root", "config",
                  pd->conf_path, "why", "[policyd] user = root", NULL);
    else if (plan->outcome == PS_PRIV_DROP)
        ps_log_kv(pd->lg, LOG_INFO, "privileges_dropped", "user", plan->user,
                  NULL);
}

/* Binds as whoever started it, then becomes [policyd] user before the
 * store is opened or a byte is read from a client; the whole-file check
 * (keys, paths, the store's directory) runs as that user. */
static int ps_bind_and_drop(ps_pd *pd, ps_priv_plan *plan, ps_err *err)
{
    int rc;

    if ((pd->base = event_base_new()) == NULL)
        return ps_err_set(err, "cannot start the event loop");
    /* What stops the start here, the whole-file check may explain first,
     * so start says what -n says. */
    if (ps_runas_plan(pd->cfg, plan, err) != 0 ||
        ps_server_listen(pd, pd->cfg->listen, plan, err) != 0 ||
        ps_pdm_listen(pd, plan, err) != 0) {
        ps_confcheck_explain(pd->cfg->conf, err);
        return -1;
    }
    if (ps_priv_drop(plan, err) != 0 ||
        ps_confcheck_run(pd->cfg->conf, err) != 0)
        return -1;
    /* The store is asked once, as that user too: Redis refusing the
     * password stops the start; one not reachable yet only warns (the
     * daemon answers store_down and retries). */
    rc = ps_pd_cfg_probe_store(pd->cfg, err);
    if (rc > 0) {
        fprintf(stderr, "%s: warning: %s\n", PS_POLICYD_NAME, err->msg);
        err->msg[0] = '\0';
        return 0;
    }
    return rc;
}

static int ps_run(ps_pd *pd, int foreground)
{
    ps_err err = {""};
    ps_priv_plan plan;

    ps_raise_nofile();
    if (ps_bind_and_drop(pd, &plan, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_POLICYD_NAME, err.msg);
        return 1;
    }
    if (!foreground &&
        (ps_daemon_detach() != 0 || event_reinit(pd->base) != 0)) {
        fprintf(stderr, "%s: cannot run in the background\n", PS_POLICYD_NAME);
        return 1;
    }
    pd->lg = ps_log_open(PS_POLICYD_NAME, foreground, LOG_MAIL, LOG_INFO);
    ps_log_runas(pd, &plan);
    if ((pd->store = ps_store_open(pd->cfg->store, pd->base, pd->lg, &err)) ==
            NULL ||
        ps_signals(pd) != 0 || ps_stats_start(pd) != 0 ||
        ps_pdm_serve(pd, &err) != 0 ||
        (pd->cfg->conf->events.dir.value != NULL &&
         ps_whs_compact_recover(pd->cfg->conf->events.dir.value, &err) != 0) ||
        ps_evf_start(pd->base, pd->lg, pd->cfg->conf, &pd->events, &err) != 0 ||
        ps_evf_on_event(pd->events, ps_suppress_on_event, pd) != 0 ||
        ps_whs_start(pd->base, pd->lg, pd->cfg->conf, &pd->whsend, &err) != 0) {
        ps_log_kv(pd->lg, LOG_ERR, "start", "result", "failed", "reason",
                  err.msg[0] ? err.msg : "event setup failed", NULL);
        fprintf(stderr, "%s: %s\n", PS_POLICYD_NAME, err.msg);
        return 1;
    }
    ps_log_start(pd);
    sd_notify(0, "READY=1");
    event_base_dispatch(pd->base);
    ps_log_kv(pd->lg, LOG_INFO, "stopped", NULL);
    return 0;
}

int main(int argc, char **argv)
{
    ps_opts o;
    ps_pd pd = {0};
    ps_err err = {""};
    int rc = ps_parse_args(argc, argv, &o);

    if (rc != 0) {
        if (rc < 0)
            ps_usage(stderr);
        return rc < 0 ? 2 : 0;
    }
    /* -n runs the whole-file check here; a daemon runs it once it is
     * [policyd] user (keys and paths as that user sees them). -Q runs for
     * `postseal quota`: its errors are that command's. */
    if (ps_pd_cfg_load(o.conf, o.check, &pd.cfg, &err) != 0) {
        fprintf(stderr, "%s: %s\n",
                o.admin != NULL || o.supp != NULL ? PS_ADMIN_NAME
                                                  : PS_POLICYD_NAME,
                err.msg);
        ps_pd_cfg_free(pd.cfg);
        return o.admin != NULL || o.supp != NULL ? 2 : 1;
    }
    pd.conf_path = o.conf;
    if (o.check || o.admin != NULL || o.supp != NULL) {
        rc = o.check                                ? ps_check(pd.cfg)
             : ps_admin_as_daemon_user(pd.cfg) != 0 ? 2
             : o.supp != NULL
                 ? ps_suppress_admin(pd.cfg, o.supp, o.rcpt, o.who)
                 : ps_admin_run(pd.cfg, strcmp(o.admin, "reset") == 0, o.key);
        ps_pd_cfg_free(pd.cfg);
        return rc;
    }
    if (ps_pdm_init(&pd.m, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_POLICYD_NAME, err.msg);
        ps_pd_cfg_free(pd.cfg);
        return 1;
    }
    rc = ps_run(&pd, o.foreground);
    if (pd.base != NULL)
        ps_pd_cleanup(&pd);
    else
        ps_pd_cfg_free(pd.cfg);
    return rc;
}
