/* The listening socket ("inet:HOST:PORT" or "unix:PATH", as Postfix's
 * check_policy_service spells it) and the accept callback, which refuses
 * connections past PS_POLICYD_MAX_CONNS instead of running out of fds. */
#include "policyd.h"

#include "base/usock.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
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

static void ps_server_accept(struct evconnlistener *lst, evutil_socket_t fd,
                             struct sockaddr *sa, int salen, void *arg)
{
    ps_pd *pd = arg;
    char peer[64];

    (void)lst;
    (void)salen;
    ps_server_peer(sa, peer, sizeof(peer));
    if (pd->nconns >= PS_POLICYD_MAX_CONNS || pd->draining) {
        ps_log_kv(pd->lg, LOG_WARNING, "connection_refused", "peer", peer,
                  "reason", pd->draining ? "stopping" : "too many connections",
                  NULL);
        evutil_closesocket(fd);
        return;
    }
    ps_conn_new(pd, fd, peer);
}

/* "HOST:PORT" with HOST a name, an IPv4 address or [IPv6]. */
static int ps_server_inet(const char *spec, struct addrinfo **ai, ps_err *err)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    size_t n;
    int rc;

    if (colon == NULL || (n = (size_t)(colon - spec)) >= sizeof(host))
        return ps_err_set(err, "bad listen address '%.80s'", spec);
    if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
        snprintf(host, sizeof(host), "%.*s", (int)(n - 2), spec + 1);
    else
        snprintf(host, sizeof(host), "%.*s", (int)n, spec);
    if ((rc = getaddrinfo(host, colon + 1, &hints, ai)) != 0)
        return ps_err_set(err, "listen %s: %s", spec, gai_strerror(rc));
    return 0;
}

static struct evconnlistener *
ps_server_bind(ps_pd *pd, const struct sockaddr *sa, socklen_t len)
{
    return evconnlistener_new_bind(pd->base, ps_server_accept, pd,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                       LEV_OPT_CLOSE_ON_EXEC,
                                   511, sa, (int)len);
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

int ps_server_listen(ps_pd *pd, const char *listen, const ps_priv_plan *plan,
                     ps_err *err)
{
    struct addrinfo *ai;

    if (strncmp(listen, "unix:", 5) == 0)
        return ps_server_unix(pd, listen + 5, plan, err);
    if (strncmp(listen, "inet:", 5) != 0)
        return ps_err_set(err, "bad listen '%.80s'", listen);
    if (ps_server_inet(listen + 5, &ai, err) != 0)
        return -1;
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
