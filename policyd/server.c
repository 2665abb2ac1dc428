/* The listening socket ("inet:HOST:PORT" or "unix:PATH", as Postfix's
 * check_policy_service spells it) and the accept callbacks: at the
 * connection cap a new connection replaces the idlest one, and out of
 * descriptors the daemon pauses accepting rather than spin on accept(2). */
#include "policyd.h"

#include "base/usock.h"
#include "conf/listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void ps_server_peer(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    } else {
        snprintf(buf, size, "unix");
        return;
    }
    snprintf(buf, size, "%s:%d", host, port);
}

/* PS_POLICYD_MAX_CONNS, or fewer if the descriptor limit (raised to
 * its hard limit at start) leaves less room. */
static unsigned ps_server_max_conns(void)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return PS_POLICYD_MAX_CONNS;
    room = rl.rlim_cur > 2 * PS_POLICYD_FD_SPARE
               ? rl.rlim_cur - PS_POLICYD_FD_SPARE
               : rl.rlim_cur / 2;
    if (room < 1)
        room = 1;
    return room < PS_POLICYD_MAX_CONNS ? (unsigned)room : PS_POLICYD_MAX_CONNS;
}

static void ps_server_accept(struct evconnlistener *lst, evutil_socket_t fd,
                             struct sockaddr *sa, int salen, void *arg)
{
    ps_pd *pd = arg;
    char peer[64];

    (void)lst;
    (void)salen;
    ps_server_peer(sa, peer, sizeof(peer));
    if (pd->draining) {
        ps_log_kv(pd->lg, LOG_WARNING, "connection_refused", "peer", peer,
                  "reason", "stopping", NULL);
        ps_metric_inc(pd->m.conns_refused, 0);
        evutil_closesocket(fd);
        return;
    }
    if (pd->nconns >= pd->max_conns) {
        ps_stats_pressure(pd, "connection limit reached: the idlest "
                              "connections are closed for new ones");
        if (!ps_conn_evict(pd)) {
            pd->stats.accept_failed++;
            ps_metric_inc(pd->m.conns_refused, 0);
            evutil_closesocket(fd);
            return;
        }
    }
    ps_conn_new(pd, fd, peer);
}

static void ps_server_resume(evutil_socket_t fd, short what, void *arg)
{
    ps_pd *pd = arg;

    (void)fd;
    (void)what;
    pd->accept_paused = 0;
    if (pd->listener != NULL)
        evconnlistener_enable(pd->listener);
}

/* accept(2) failed with other than a retry (EMFILE, ENFILE, ENOBUFS...):
 * the listening socket stays readable, so accepting again at once would
 * spin. Out of the process's descriptors, the cap follows the limit down
 * and closing the idlest connection makes room; otherwise accepting pauses for
 * PS_POLICYD_ACCEPT_PAUSE_MS (the kernel keeps the waiting connections in the
 * listen queue). */
static void ps_server_accept_error(struct evconnlistener *lst, void *arg)
{
    ps_pd *pd = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, PS_POLICYD_ACCEPT_PAUSE_MS * 1000};

    pd->stats.accept_failed++;
    ps_metric_inc(pd->m.conns_refused, 0);
    if (err == EMFILE && ps_server_max_conns() < pd->max_conns)
        pd->max_conns = ps_server_max_conns(); /* lowered under us */
    ps_stats_pressure(pd, err == EMFILE || err == ENFILE
                              ? "out of file descriptors"
                              : "accept failed");
    if (err == EMFILE && ps_conn_evict(pd))
        return;
    if (pd->accept_paused)
        return;
    evconnlistener_disable(lst);
    pd->accept_paused = event_base_once(pd->base, -1, EV_TIMEOUT,
                                        ps_server_resume, pd, &tv) == 0;
    if (!pd->accept_paused) /* no timer: better to spin than stop for good */
        evconnlistener_enable(lst);
}

static struct evconnlistener *
ps_server_bind(ps_pd *pd, const struct sockaddr *sa, socklen_t len)
{
    struct evconnlistener *lst = evconnlistener_new_bind(
        pd->base, ps_server_accept, pd,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 511,
        sa, (int)len);

    if (lst != NULL)
        evconnlistener_set_error_cb(lst, ps_server_accept_error);
    pd->max_conns = ps_server_max_conns();
    return lst;
}

/* A socket a crash left is replaced, a live one is never taken; created
 * 0600 and only then opened to the configured group and mode. */
static int ps_server_unix(ps_pd *pd, const char *path, const ps_priv_plan *plan,
                          ps_err *err)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    mode_t old;

    if (ps_usock_claim(path, err) != 0)
        return -1;
    memcpy(un.sun_path, path, strlen(path) + 1);
    old = umask(0177);
    pd->listener = ps_server_bind(pd, (struct sockaddr *)&un, sizeof(un));
    umask(old);
    if (pd->listener == NULL)
        return ps_err_set(err, "cannot listen on unix:%s: %m", path);
    return ps_priv_socket(plan, path, err);
}

/* The spec is read by the core's one listen parser, as the config check
 * reads it, so -n and start agree on what is valid. */
int ps_server_listen(ps_pd *pd, const char *listen, const ps_priv_plan *plan,
                     ps_err *err)
{
    struct addrinfo *ai;
    ps_listen l;
    ps_err why = {""};

    if (ps_listen_parse(listen, &l, &why) != 0)
        return ps_err_set(err, "bad listen '%.80s': %s", listen, why.msg);
    if (l.kind == PS_LISTEN_UNIX)
        return ps_server_unix(pd, l.path, plan, err);
    if (ps_listen_resolve(&l, &ai, &why) != 0)
        return ps_err_set(err, "listen %s: %s", listen, why.msg);
    pd->listener = ps_server_bind(pd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (pd->listener == NULL)
        return ps_err_set(err, "cannot listen on %s: %m", listen);
    return 0;
}

/* Stops accepting; connections close as they fall idle. */
void ps_server_drain(ps_pd *pd)
{
    ps_conn *c, *next;

    pd->draining = 1;
    if (pd->listener != NULL) {
        evconnlistener_free(pd->listener);
        pd->listener = NULL;
    }
    for (c = pd->conns; c != NULL; c = next) {
        next = c->next;
        ps_conn_close_idle(c);
    }
}
