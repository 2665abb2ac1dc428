/* Listening sockets as postseal.conf spells them, parsed in one place for
 * the config check and both daemons: [policyd] listen as Postfix's
 * check_policy_service names it, [milter] socket as libmilter does. */
#ifndef PS_LISTEN_H
#define PS_LISTEN_H

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/err.h"

#define PS_LISTEN_HOST_MAX 253

typedef enum ps_listen_kind { PS_LISTEN_INET, PS_LISTEN_UNIX } ps_listen_kind;

typedef struct ps_listen {
    ps_listen_kind kind;
    int family; /* inet: AF_UNSPEC, or AF_INET6 for the milter's inet6: */
    char host[PS_LISTEN_HOST_MAX + 1]; /* inet: brackets gone; "" any */
    char port[6];                      /* inet: 1..65535, digits */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix */
} ps_listen;

/* "inet:HOST:PORT" (HOST a name, an IPv4 address or [IPv6]) or
 * "unix:PATH" (absolute). Reasons in err do not repeat spec. */
int ps_listen_parse(const char *spec, ps_listen *out, ps_err *err);
/* libmilter's "inet:PORT[@HOST]", "inet6:PORT[@HOST]", "unix:PATH" or
 * "local:PATH"; no HOST: every address. */
int ps_listen_parse_milter(const char *spec, ps_listen *out, ps_err *err);
/* The addresses an inet socket would bind (getaddrinfo, passive, stream),
 * for the daemon to bind and the check to prove HOST resolves; the caller
 * frees *ai with freeaddrinfo. */
int ps_listen_resolve(const ps_listen *l, struct addrinfo **ai, ps_err *err);

#endif
