/* postseal-milter's Prometheus counters: the registry (one per process,
 * updated from libmilter's worker threads without locks), its families
 * and fixed label sets, and the [milter] metrics listener on a thread of
 * its own with its own event_base. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/keys.h"
#include "metrics/http.h"
#include "milter.h"

static struct {
    ps_metrics *reg;
    ps_metric *fam[PS_MM_NIDS];
    ps_metric *sig, *dkim, *spf, *conns, *duration, *last_reload, *key_age;
    int fd;      /* bound before the privilege drop */
    int wake[2]; /* main thread -> metrics thread: stop */
    struct event *wake_ev;
    struct event_base *base;
    ps_metrics_http *http;
    pthread_t tid;
    int running;
} ps_mm = {.fd = -1, .wake = {-1, -1}};

#define PS_L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const ps_mm_stage_words[] = {
    "connect",    "mail",  "rcpt",    "header",      "bounce", "sign",
    "verify",     "eom",   "authres", "return-path", "srs",    "trace",
    "restarting", "dmarc", "events",  "arc"};
_Static_assert(sizeof(ps_mm_stage_words) / sizeof(ps_mm_stage_words[0]) ==
                   PS_STAGE_N,
               "a word per stage");

/* RFC 8601 result words; anything else counts as "other". */
static const char *const ps_mm_results[] = {"pass",      "fail",   "softfail",
                                            "neutral",   "none",   "temperror",
                                            "permerror", "policy", "other"};
#define PS_MM_NRESULTS (sizeof(ps_mm_results) / sizeof(ps_mm_results[0]))

/* Wall time per message: 1 ms to 30 s. */
static const double ps_mm_duration_le[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

const char *ps_stage_word(ps_stage s)
{
    return s < PS_STAGE_N ? ps_mm_stage_words[s] : "?";
}

static ps_metric *ps_mm_counter(const char *name, const char *help,
                                const char *const *labels, ps_err *err)
{
    return ps_metrics_counter(ps_mm.reg, name, help, labels, err);
}

static int ps_mm_counters(ps_err *err)
{
    ps_metric **f = ps_mm.fam;

    f[PS_MM_MESSAGES] = ps_mm_counter(
        "postseal_milter_messages_total",
        "Messages decided at end of headers, by mode.", PS_L("mode"), err);
    ps_mm.sig = ps_mm_counter("postseal_milter_signed_total",
                              "DKIM signatures added, by key and algorithm.",
                              PS_L("key", "algorithm"), err);
    f[PS_MM_UNSIGNED] =
        ps_mm_counter("postseal_milter_unsigned_total",
                      "Messages not signed, by reason.", PS_L("reason"), err);
    ps_mm.dkim = ps_mm_counter("postseal_milter_dkim_results_total",
                               "DKIM verification results written.",
                               PS_L("result"), err);
    ps_mm.spf = ps_mm_counter("postseal_milter_spf_results_total",
                              "SPF results written.", PS_L("result"), err);
    f[PS_MM_AUTHRES_REMOVED] = ps_mm_counter(
        "postseal_milter_authres_removed_total",
        "Authentication-Results fields claiming our authserv-id removed.", NULL,
        err);
    f[PS_MM_RETPATH] = ps_mm_counter(
        "postseal_milter_return_paths_rewritten_total",
        "Envelope senders replaced with a signed return path.", NULL, err);
    f[PS_MM_BOUNCES] = ps_mm_counter(
        "postseal_milter_bounces_total",
        "Bounced recipients recorded, and return-path RCPTs refused.",
        PS_L("outcome"), err);
    f[PS_MM_SRS] = ps_mm_counter("postseal_milter_srs_total",
                                 "SRS senders made and SRS recipients "
                                 "reversed.",
                                 PS_L("direction"), err);
    f[PS_MM_TEMPFAILS] = ps_mm_counter(
        "postseal_milter_tempfails_total",
        "Temporary failures, by the step that failed.", PS_L("cause"), err);
    f[PS_MM_RELOADS] = ps_mm_counter("postseal_milter_reloads_total",
                                     "Reloads by result.", PS_L("result"), err);
    return f[PS_MM_RELOADS] != NULL ? 0 : -1;
}

static int ps_mm_gauges(ps_err *err)
{
    ps_mm.conns =
        ps_metrics_gauge(ps_mm.reg, "postseal_milter_connections_open",
                         "Open MTA connections.", NULL, err);
    ps_mm.duration = ps_metrics_histogram(
        ps_mm.reg, "postseal_milter_message_duration_seconds",
        "Wall time from MAIL FROM to end of message.", NULL, ps_mm_duration_le,
        sizeof(ps_mm_duration_le) / sizeof(ps_mm_duration_le[0]), err);
    ps_mm.last_reload = ps_metrics_gauge(
        ps_mm.reg, "postseal_milter_last_reload_timestamp_seconds",
        "When the configuration in force was loaded (start or reload).", NULL,
        err);
    ps_mm.key_age = ps_metrics_gauge(
        ps_mm.reg, "postseal_milter_key_age_seconds",
        "Age of each signing key's file (its mtime).", PS_L("key"), err);
    return ps_mm.key_age != NULL ? 0 : -1;
}

/* Every enum-labelled series exists from the start, so a scrape shows
 * zeros rather than nothing (what rate() and alert rules need). */
static int ps_mm_series(ps_err *err)
{
    static const char *const modes[] = {"none", "sign", "verify"};
    static const char *const outcomes[] = {"recorded", "refused"};
    static const char *const directions[] = {"forward", "reverse"};
    static const char *const results[] = {"ok", "failed"};
    const char *reasons[PS_WHY_NREASONS];
    ps_metric **f = ps_mm.fam;

    _Static_assert(PS_ACT_NONE == 0 && PS_ACT_SIGN == 1 && PS_ACT_VERIFY == 2,
                   "modes in ps_action order");
    for (int i = 0; i < PS_WHY_NREASONS; i++)
        reasons[i] = ps_signpolicy_reason_word((ps_reason)i);
    if (ps_metric_enum(f[PS_MM_MESSAGES], modes, 3, err) != 0 ||
        ps_metric_enum(f[PS_MM_UNSIGNED], reasons, PS_WHY_NREASONS, err) != 0 ||
        ps_metric_enum(f[PS_MM_BOUNCES], outcomes, 2, err) != 0 ||
        ps_metric_enum(f[PS_MM_SRS], directions, 2, err) != 0 ||
        ps_metric_enum(f[PS_MM_TEMPFAILS], ps_mm_stage_words, PS_STAGE_N,
                       err) != 0 ||
        ps_metric_enum(f[PS_MM_RELOADS], results, 2, err) != 0 ||
        ps_metric_enum(ps_mm.dkim, ps_mm_results, PS_MM_NRESULTS, err) != 0 ||
        ps_metric_enum(ps_mm.spf, ps_mm_results, PS_MM_NRESULTS, err) != 0)
        return -1;
    return 0;
}

int ps_mm_init(ps_err *err)
{
    if ((ps_mm.reg = ps_metrics_new()) == NULL)
        return ps_err_set(err, "out of memory");
    if (ps_mm_counters(err) != 0 || ps_mm_gauges(err) != 0 ||
        ps_mm_series(err) != 0)
        return -1;
    ps_metric_set(ps_mm.last_reload, 0, (double)time(NULL));
    return 0;
}

void ps_mm_inc(ps_mm_id id, int series)
{
    ps_metric_inc(ps_mm.fam[id], series);
}

void ps_mm_add(ps_mm_id id, int series, uint64_t n)
{
    ps_metric_add(ps_mm.fam[id], series, n);
}

void ps_mm_signed(const ps_signrules_match *m)
{
    for (size_t i = 0; i < m->count && m->signers[i].key != NULL; i++) {
        const char *v[2] = {m->keynames[i],
                            ps_key_algorithm(m->signers[i].key)};
        ps_metric_inc(ps_mm.sig, ps_metric_series(ps_mm.sig, v, NULL));
    }
}

static int ps_mm_result(const char *word)
{
    size_t i = 0;

    while (i + 1 < PS_MM_NRESULTS && strcmp(word, ps_mm_results[i]) != 0)
        i++;
    return (int)i;
}

void ps_mm_authres(const ps_authres_result *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(res[i].method, "dkim") == 0)
            ps_metric_inc(ps_mm.dkim, ps_mm_result(res[i].result));
        else if (strcmp(res[i].method, "spf") == 0)
            ps_metric_inc(ps_mm.spf, ps_mm_result(res[i].result));
    }
}

void ps_mm_connections(int delta)
{
    ps_metric_gauge_add(ps_mm.conns, 0, delta);
}

uint64_t ps_mm_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ps_mm_message_done(uint64_t started_ns)
{
    if (started_ns != 0)
        ps_metric_observe(ps_mm.duration, 0,
                          (double)(ps_mm_now() - started_ns) / 1e9);
}

void ps_mm_reloaded(int ok)
{
    ps_metric_inc(ps_mm.fam[PS_MM_RELOADS], ok ? 0 : 1);
    if (ok)
        ps_metric_set(ps_mm.last_reload, 0, (double)time(NULL));
}

/* At scrape time, on the metrics thread: each key file's age, and a
 * signed_total series for each key (0 until it signs: a "signing
 * stopped" alert needs the series). A key a reload dropped (or whose
 * file is gone) shows NaN, which no age alert compares true with. */
static void ps_mm_refresh(void *arg)
{
    ps_snap *s = ps_snap_acquire();
    const char *name, *file;
    const ps_key *key;
    struct stat st;
    time_t now = time(NULL);

    (void)arg;
    for (size_t i = 0; i < ps_metric_count(ps_mm.key_age); i++)
        ps_metric_set(ps_mm.key_age, (int)i, NAN);
    for (size_t i = 0; s != NULL && ps_signrules_key_info(s->rules, i, &name,
                                                          &file, &key) == 0;
         i++) {
        const char *v[2] = {name, key != NULL ? ps_key_algorithm(key) : ""};
        if (key != NULL)
            ps_metric_series(ps_mm.sig, v, NULL);
        if (file != NULL && stat(file, &st) == 0)
            ps_metric_set(ps_mm.key_age,
                          ps_metric_series(ps_mm.key_age, v, NULL),
                          difftime(now, st.st_mtime));
    }
    ps_snap_release(s);
}

int ps_mm_listen(const ps_conf *conf, const ps_priv_plan *plan, ps_err *err)
{
    const char *spec = conf->milter.metrics.value;

    return spec == NULL ? 0 : ps_metrics_listen(spec, plan, &ps_mm.fd, err);
}

static void ps_mm_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *ps_mm_thread(void *arg)
{
    (void)arg;
    event_base_dispatch(ps_mm.base);
    return NULL;
}

/* The listener's own event_base, touched only by its thread; the main
 * thread stops it through a pipe, never by calling into libevent. */
static int ps_mm_setup(ps_err *err)
{
    if (pipe2(ps_mm.wake, O_CLOEXEC) != 0)
        return ps_err_set(err, "metrics: pipe: %m");
    if ((ps_mm.base = event_base_new()) == NULL)
        return ps_err_set(err, "metrics: cannot start the event loop");
    ps_mm.wake_ev =
        event_new(ps_mm.base, ps_mm.wake[0], EV_READ, ps_mm_wake, ps_mm.base);
    if (ps_mm.wake_ev == NULL || event_add(ps_mm.wake_ev, NULL) != 0)
        return ps_err_set(err, "metrics: cannot start the event loop");
    ps_mm.http = ps_metrics_http_new(ps_mm.base, ps_mm.fd, ps_mm.reg,
                                     ps_mm_refresh, NULL, err);
    ps_mm.fd = -1; /* taken over, even on failure */
    return ps_mm.http != NULL ? 0 : -1;
}

int ps_mm_start(ps_err *err)
{
    if (ps_mm.fd < 0)
        return 0;
    if (ps_mm_setup(err) != 0)
        return -1;
    if (pthread_create(&ps_mm.tid, NULL, ps_mm_thread, NULL) != 0)
        return ps_err_set(err, "metrics: cannot start its thread");
    ps_mm.running = 1;
    return 0;
}

static void ps_mm_free_base(void)
{
    ps_metrics_http_free(ps_mm.http);
    ps_mm.http = NULL;
    if (ps_mm.wake_ev != NULL)
        event_free(ps_mm.wake_ev);
    if (ps_mm.base != NULL)
        event_base_free(ps_mm.base);
}

void ps_mm_stop(void)
{
    if (ps_mm.running) {
        if (write(ps_mm.wake[1], "x", 1) != 1)
            pthread_cancel(ps_mm.tid);
        pthread_join(ps_mm.tid, NULL);
        ps_mm.running = 0;
    }
    ps_mm_free_base();
    for (int i = 0; i < 2; i++)
        if (ps_mm.wake[i] >= 0)
            close(ps_mm.wake[i]);
    if (ps_mm.fd >= 0)
        close(ps_mm.fd);
    ps_metrics_free(ps_mm.reg);
    memset(&ps_mm, 0, sizeof(ps_mm));
    ps_mm.fd = ps_mm.wake[0] = ps_mm.wake[1] = -1;
}
