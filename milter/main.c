/* postseal-milter: DKIM signing and inbound DKIM/SPF verification for
 * Postfix. main() checks or loads the configuration, runs libmilter on a
 * thread of its own and keeps the main thread for signals: SIGHUP (or
 * SIGUSR1) reloads, SIGTERM stops accepting and drains open messages. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <systemd/sd-daemon.h>

#include "base/daemon.h"
#include "base/privdrop.h"
#include "base/usock.h"
#include "check/check.h"
#include "milter.h"

#define PS_MILTER_DEFAULT_SOCKET "inet:8891@127.0.0.1"

typedef struct ps_opts {
    const char *conf;
    int foreground;
    int check;
} ps_opts;

static void ps_usage(FILE *fp)
{
    fprintf(fp,
            "usage: %s -c FILE [-f] [-n]\n"
            "  -c FILE  postseal.conf to read\n"
            "  -f       stay in the foreground, log to stderr\n"
            "  -n       check the configuration (keys, tables) and exit\n"
            "  --version  print the version and exit\n",
            PS_MILTER_NAME);
}

/* 0 to run, 1 to exit successfully (--help), -1 on bad usage. */
static int ps_parse_args(int argc, char **argv, ps_opts *o)
{
    int ch;

    memset(o, 0, sizeof(*o));
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return ps_usage(stdout), 1;
    if (argc == 2 && strcmp(argv[1], "--version") == 0)
        return printf("%s %s\n", PS_MILTER_NAME, PS_VERSION), 1;
    while ((ch = getopt(argc, argv, "c:fnh")) != -1) {
        switch (ch) {
        case 'c':
            o->conf = optarg;
            break;
        case 'f':
            o->foreground = 1;
            break;
        case 'n':
            o->check = 1;
            break;
        case 'h':
            return ps_usage(stdout), 1;
        default:
            return -1;
        }
    }
    if (optind != argc || o->conf == NULL)
        return -1;
    return 0;
}

/* The [milter] user and socket_group exist (when it matters: as root). */
static int ps_check_runas(const ps_conf *conf, ps_err *err)
{
    ps_priv_plan plan;

    return ps_conf_runas_plan(conf, &conf->milter.runas, "milter", &plan, err);
}

static int ps_check(const char *path)
{
    ps_snap *s = NULL;
    ps_err err = {""};

    /* Loading a snapshot runs the whole-file check start runs; as root,
     * the [milter] user must exist too. */
    if (ps_snap_load(path, &s, &err) != 0 ||
        ps_check_runas(s->conf, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_MILTER_NAME, err.msg);
        ps_snap_free(s);
        return 1;
    }
    printf("%s: OK (%zu keys)\n", path, ps_signrules_nkeys(s->rules));
    ps_snap_free(s);
    return 0;
}

static void *ps_milter_thread(void *arg)
{
    pthread_t main_thread = *(pthread_t *)arg;
    int rc = smfi_main();

    /* Tell the signal loop, which may still be waiting, that we're done. */
    pthread_kill(main_thread, SIGUSR2);
    return (void *)(intptr_t)rc;
}

static void ps_reload(const char *path)
{
    ps_snap *s = NULL;
    ps_err err = {""};
    char nkeys[24];

    if (ps_snap_load(path, &s, &err) != 0) {
        ps_log_kv(ps_milter_log(), LOG_ERR, "reload", "result", "failed",
                  "reason", err.msg, "kept", "previous configuration", NULL);
        ps_mm_reloaded(0);
        return;
    }
    snprintf(nkeys, sizeof(nkeys), "%zu", ps_signrules_nkeys(s->rules));
    ps_snap_publish(s);
    ps_mm_reloaded(1);
    ps_log_kv(ps_milter_log(), LOG_INFO, "reload", "result", "ok", "keys",
              nkeys, NULL);
}

/* Waits for signals until a stop is asked for (1) or libmilter ends (0). */
static int ps_signal_loop(const sigset_t *set, const char *path)
{
    int sig;

    for (;;) {
        /* sigwaitinfo, not sigwait: sigwait is libmilter's (sigwait.c) */
        if ((sig = sigwaitinfo(set, NULL)) < 0)
            continue;
        if (sig == SIGHUP || sig == SIGUSR1) {
            ps_reload(path);
            continue;
        }
        ps_log_kv(ps_milter_log(), LOG_INFO, "stop", "reason",
                  sig == SIGTERM  ? "SIGTERM"
                  : sig == SIGINT ? "SIGINT"
                                  : "libmilter ended",
                  NULL);
        return sig != SIGUSR2;
    }
}

/* Lets messages in flight finish, within bounds, before libmilter stops:
 * its worker pool serves no session once smfi_stop is called. Meanwhile
 * new connections and messages are turned away with a 4xx. */
static void ps_drain(void)
{
    time_t end = time(NULL) + PS_MILTER_DRAIN_SECS;
    struct timespec tick = {0, 50 * 1000 * 1000};
    char left[16];

    ps_milter_drain_begin();
    while (ps_milter_in_flight() > 0 && time(NULL) < end)
        nanosleep(&tick, NULL);
    snprintf(left, sizeof(left), "%d", ps_milter_in_flight());
    ps_log_kv(ps_milter_log(), LOG_INFO, "stopped", "messages_in_flight", left,
              NULL);
}

/* The path of a unix socket ("unix:/p" or "local:/p"), or NULL. */
static const char *ps_unix_path(const char *sock)
{
    if (strncmp(sock, "unix:", 5) == 0)
        return sock + 5;
    if (strncmp(sock, "local:", 6) == 0)
        return sock + 6;
    return NULL;
}

/* Socket first, so a port in use is reported on the terminal. A socket
 * that another milter still serves is left to it (libmilter would remove
 * it); one a crash left is replaced. Created 0600, then given the plan's
 * group and mode. */
static int ps_setup_milter(const char *sock, const ps_priv_plan *plan,
                           ps_err *err)
{
    const char *path = ps_unix_path(sock);
    mode_t old;
    int rc;

    if (path != NULL && ps_usock_claim(path, err) != 0)
        return -1;
    old = umask(0177);
    rc = smfi_setconn((char *)sock) != MI_SUCCESS ||
         smfi_register(*ps_callbacks()) != MI_SUCCESS ||
         smfi_opensocket(1) != MI_SUCCESS;
    umask(old);
    if (rc)
        return ps_err_set(err, "cannot listen on %s", sock);
    ps_milter_nodelay();
    if (path != NULL && ps_priv_socket(plan, path, err) != 0)
        return -1;
    return 0;
}

/* Binds as whoever started it, then runs as [milter] user: only then are
 * keys and secrets loaded (into *out), so they belong to that user. */
static int ps_bind_and_drop(const char *path, ps_snap **out)
{
    ps_conf *conf = NULL;
    ps_priv_plan plan;
    ps_err err = {""};
    const char *sock;
    int rc = -1;

    if (ps_conf_load(path, &conf, &err) != 0)
        goto done;
    sock = conf->milter.socket.value ? conf->milter.socket.value
                                     : PS_MILTER_DEFAULT_SOCKET;
    /* What stops the start here, the whole-file check may explain first,
     * so start says what -n says. */
    if (ps_conf_runas_plan(conf, &conf->milter.runas, "milter", &plan, &err) !=
            0 ||
        ps_setup_milter(sock, &plan, &err) != 0 ||
        ps_mm_listen(conf, &plan, &err) != 0) {
        ps_confcheck_explain(conf, &err);
        goto done;
    }
    if (ps_priv_drop(&plan, &err) != 0 || ps_snap_load(path, out, &err) != 0)
        goto done;
    if (plan.outcome == PS_PRIV_AS_ROOT)
        ps_log_kv(ps_milter_log(), LOG_WARNING, "running_as_root", "config",
                  path, "why", "[milter] user = root", NULL);
    else if (plan.outcome == PS_PRIV_DROP)
        ps_log_kv(ps_milter_log(), LOG_INFO, "privileges_dropped", "user",
                  plan.user, NULL);
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", PS_MILTER_NAME, err.msg);
    ps_conf_free(conf);
    return rc;
}

/* The signals the main thread takes; blocked before any thread starts so
 * every thread, libmilter's included, inherits the mask. */
static void ps_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int ps_run(const ps_opts *o)
{
    ps_snap *s = NULL;
    sigset_t set;
    pthread_t main_thread, tid;
    void *rc = NULL;
    int stop;

    ps_err err = {""};

    if (ps_mm_init(&err) != 0 || ps_bind_and_drop(o->conf, &s) != 0) {
        if (err.msg[0])
            fprintf(stderr, "%s: %s\n", PS_MILTER_NAME, err.msg);
        ps_mm_stop();
        return 1;
    }
    if (!o->foreground && ps_daemon_detach() != 0) {
        ps_snap_free(s);
        return 1;
    }
    ps_snap_publish(s);
    ps_fdlimit_init();
    ps_signal_set(&set);
    /* After the mask, so its thread leaves the signals to this one. */
    if (ps_mm_start(&err) != 0)
        ps_log_kv(ps_milter_log(), LOG_ERR, "metrics", "result", "failed",
                  "reason", err.msg, NULL);
    main_thread = pthread_self();
    if (pthread_create(&tid, NULL, ps_milter_thread, &main_thread) != 0) {
        ps_snap_shutdown();
        return 1;
    }
    ps_log_kv(ps_milter_log(), LOG_INFO, "start", "config", o->conf, NULL);
    /* The socket listens since smfi_opensocket: connections queue. */
    sd_notify(0, "READY=1");
    stop = ps_signal_loop(&set, o->conf);
    sd_notify(0, "STOPPING=1");
    if (stop) {
        ps_drain();
        smfi_stop();
    }
    pthread_join(tid, &rc);
    ps_mm_stop();
    ps_snap_shutdown();
    return rc == (void *)(intptr_t)MI_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv)
{
    ps_opts o;
    int rc = ps_parse_args(argc, argv, &o);

    if (rc != 0) {
        if (rc < 0)
            ps_usage(stderr);
        return rc < 0 ? 2 : 0;
    }
    if (o.check)
        return ps_check(o.conf);
    ps_milter_set_log(o.foreground
                          ? ps_log_open(PS_MILTER_NAME, 1, LOG_MAIL, LOG_DEBUG)
                          : ps_log_open(PS_MILTER_NAME, 0, LOG_MAIL, LOG_INFO));
    if (ps_milter_log() == NULL) {
        fprintf(stderr, "%s: cannot open the log\n", PS_MILTER_NAME);
        return 1;
    }
    rc = ps_run(&o);
    ps_log_close(ps_milter_log());
    return rc;
}
