/* The listening socket ("inet:HOST:PORT" or "unix:PATH", as Postfix's
 * check_policy_service spells it) and the accept callback, which refuses
 * connections past PS_POLICYD_MAX_CONNS instead of running out of fds. */
#include "policyd.h"

#include "conf/listen.h"

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

static struct evconnlistener *
ps_server_bind(ps_pd *pd, const struct sockaddr *sa, socklen_t len)
{
    return evconnlistener_new_bind(pd->base, ps_server_accept, pd,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                       LEV_OPT_CLOSE_ON_EXEC,
                                   511, sa, (int)len);
}

static int ps_server_unix(ps_pd *pd, const char *path, ps_err *err)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct stat st;

    if (strlen(path) >= sizeof(un.sun_path))
        return ps_err_set(err, "socket path too long: %.80s", path);
    memcpy(un.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    pd->listener = ps_server_bind(pd, (struct sockaddr *)&un, sizeof(un));
    if (pd->listener == NULL)
        return ps_err_set(err, "cannot listen on unix:%s: %m", path);
    chmod(path, 0666);
    return 0;
}

/* The spec is read by the core's one listen parser, as the config check
 * reads it, so -n and start agree on what is valid. */
int ps_server_listen(ps_pd *pd, const char *listen, ps_err *err)
{
    struct addrinfo *ai;
    ps_listen l;
    ps_err why = {""};

    if (ps_listen_parse(listen, &l, &why) != 0)
        return ps_err_set(err, "bad listen '%.80s': %s", listen, why.msg);
    if (l.kind == PS_LISTEN_UNIX)
        return ps_server_unix(pd, l.path, err);
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
