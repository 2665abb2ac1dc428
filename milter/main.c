/* postseal-milter: DKIM signing and inbound DKIM/SPF verification for
 * Postfix. main() checks or loads the configuration, runs libmilter on a
 * thread of its own and keeps the main thread for signals: SIGHUP (or
 * SIGUSR1) reloads, SIGTERM stops accepting and drains open messages. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "check/check.h"
#include "base/daemon.h"
#include "milter.h"

#define PS_MILTER_DEFAULT_SOCKET "inet:8891@127.0.0.1"

typedef struct ps_opts {
    const char *conf;
    int foreground;
    int check;
} ps_opts;

/* Set once in main() before any thread starts; read-only afterwards. */
static ps_log *ps_main_log;
static atomic_int ps_main_busy;
static atomic_int ps_main_draining;

ps_log *ps_milter_log(void)
{
    return ps_main_log;
}

void ps_milter_busy(int delta)
{
    atomic_fetch_add(&ps_main_busy, delta);
}

int ps_milter_draining(void)
{
    return atomic_load(&ps_main_draining);
}

static void ps_usage(FILE *fp)
{
    fprintf(fp,
            "usage: %s -c FILE [-f] [-n]\n"
            "  -c FILE  postseal.conf to read\n"
            "  -f       stay in the foreground, log to stderr\n"
            "  -n       check the configuration (keys, tables) and exit\n",
            PS_MILTER_NAME);
}

/* 0 to run, 1 to exit successfully (--help), -1 on bad usage. */
static int ps_parse_args(int argc, char **argv, ps_opts *o)
{
    int ch;

    memset(o, 0, sizeof(*o));
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return ps_usage(stdout), 1;
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

static int ps_check(const char *path)
{
    ps_snap *s = NULL;
    ps_err err = {""};

    /* The snapshot proves what the milter loads; confcheck adds the
     * [return_path] secret files. */
    if (ps_snap_load(path, &s, &err) != 0 ||
        ps_confcheck_run(s->conf, &err) != 0) {
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
        ps_log_kv(ps_main_log, LOG_ERR, "reload", "result", "failed", "reason",
                  err.msg, "kept", "previous configuration", NULL);
        return;
    }
    snprintf(nkeys, sizeof(nkeys), "%zu", ps_signrules_nkeys(s->rules));
    ps_snap_publish(s);
    ps_log_kv(ps_main_log, LOG_INFO, "reload", "result", "ok", "keys", nkeys,
              NULL);
}

/* Waits for signals until a stop is asked for (1) or libmilter ends (0). */
static int ps_signal_loop(const sigset_t *set, const char *path)
{
    int sig;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP || sig == SIGUSR1) {
            ps_reload(path);
            continue;
        }
        ps_log_kv(ps_main_log, LOG_INFO, "stop", "reason",
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

    atomic_store(&ps_main_draining, 1);
    while (atomic_load(&ps_main_busy) > 0 && time(NULL) < end)
        nanosleep(&tick, NULL);
    snprintf(left, sizeof(left), "%d", atomic_load(&ps_main_busy));
    ps_log_kv(ps_main_log, LOG_INFO, "stopped", "messages_in_flight", left,
              NULL);
}

/* Socket first, so a port in use is reported on the terminal. */
static int ps_setup_milter(const ps_snap *s)
{
    const char *sock = s->conf->milter.socket.value;

    if (sock == NULL)
        sock = PS_MILTER_DEFAULT_SOCKET;
    if (smfi_setconn((char *)sock) != MI_SUCCESS ||
        smfi_register(*ps_callbacks()) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "%s: cannot listen on %s\n", PS_MILTER_NAME, sock);
        return -1;
    }
    ps_milter_nodelay();
    return 0;
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
    ps_err err = {""};
    sigset_t set;
    pthread_t main_thread, tid;
    void *rc = NULL;

    if (ps_snap_load(o->conf, &s, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_MILTER_NAME, err.msg);
        return 1;
    }
    if (ps_setup_milter(s) != 0 ||
        (!o->foreground && ps_daemon_detach() != 0)) {
        ps_snap_free(s);
        return 1;
    }
    ps_snap_publish(s);
    ps_signal_set(&set);
    main_thread = pthread_self();
    if (pthread_create(&tid, NULL, ps_milter_thread, &main_thread) != 0) {
        ps_snap_shutdown();
        return 1;
    }
    ps_log_kv(ps_main_log, LOG_INFO, "start", "config", o->conf, NULL);
    if (ps_signal_loop(&set, o->conf)) {
        ps_drain();
        smfi_stop();
    }
    pthread_join(tid, &rc);
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
    ps_main_log = o.foreground
                      ? ps_log_open(PS_MILTER_NAME, 1, LOG_MAIL, LOG_DEBUG)
                      : ps_log_open(PS_MILTER_NAME, 0, LOG_MAIL, LOG_INFO);
    if (ps_main_log == NULL) {
        fprintf(stderr, "%s: cannot open the log\n", PS_MILTER_NAME);
        return 1;
    }
    rc = ps_run(&o);
    ps_log_close(ps_main_log);
    return rc;
}
