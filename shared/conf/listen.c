/* The one parser of listening-socket specs: what `postseal check` and -n
 * accept is exactly what the daemons bind, since they call the same
 * functions; resolving a host name is shared too. */
#include "conf/listen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int ps_listen_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A decimal port, 1..65535, digits only. */
static int ps_listen_port(const char *p, size_t n, ps_listen *out, ps_err *err)
{
    char buf[6];

    if (n == 0 || n > 5 || strspn(p, "0123456789") < n)
        return ps_err_set(err, "port must be a number from 1 to 65535");
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (atoi(buf) < 1 || atoi(buf) > 65535)
        return ps_err_set(err, "port must be a number from 1 to 65535");
    memcpy(out->port, buf, n + 1);
    return 0;
}

/* A host name or an IPv4 literal: letters, digits, '-' and '.'. */
static int ps_listen_hostname(const char *h, size_t n, ps_listen *out,
                              ps_err *err)
{
    if (n == 0 || n > PS_LISTEN_HOST_MAX)
        return ps_err_set(err, "host name must be 1 to %d bytes",
                          PS_LISTEN_HOST_MAX);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
            return ps_err_set(err, "bad character '%c' in host name", h[i]);
    memcpy(out->host, h, n);
    out->host[n] = '\0';
    return 0;
}

static int ps_listen_ipv6(const char *h, size_t n, ps_listen *out, ps_err *err)
{
    unsigned char addr[16];

    if (n > PS_LISTEN_HOST_MAX)
        return ps_err_set(err, "bad IPv6 address");
    memcpy(out->host, h, n);
    out->host[n] = '\0';
    if (inet_pton(AF_INET6, out->host, addr) != 1)
        return ps_err_set(err, "bad IPv6 address");
    return 0;
}

static int ps_listen_unix(const char *p, ps_listen *out, ps_err *err)
{
    out->kind = PS_LISTEN_UNIX;
    if (*p != '/')
        return ps_err_set(err, "socket path must be absolute");
    if (strlen(p) >= sizeof(out->path))
        return ps_err_set(err, "socket path longer than %zu bytes",
                          sizeof(out->path) - 1);
    strcpy(out->path, p);
    return 0;
}

/* "HOST:PORT" where HOST is a name, an IPv4 literal or [IPv6]. */
static int ps_listen_host_port(const char *v, ps_listen *out, ps_err *err)
{
    const char *colon = strrchr(v, ':');
    size_t n;

    out->kind = PS_LISTEN_INET;
    if (colon == NULL)
        return ps_err_set(err, "expected inet:HOST:PORT");
    if (ps_listen_port(colon + 1, strlen(colon + 1), out, err) != 0)
        return -1;
    n = (size_t)(colon - v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        if (ps_listen_ipv6(v + 1, n - 2, out, err) != 0)
            return ps_err_set(err, "bad IPv6 address in brackets");
        return 0;
    }
    return ps_listen_hostname(v, n, out, err);
}

int ps_listen_parse(const char *spec, ps_listen *out, ps_err *err)
{
    memset(out, 0, sizeof(*out));
    if (ps_listen_starts(spec, "unix:"))
        return ps_listen_unix(spec + 5, out, err);
    if (ps_listen_starts(spec, "inet:"))
        return ps_listen_host_port(spec + 5, out, err);
    return ps_err_set(err, "expected inet:HOST:PORT or unix:PATH");
}

/* libmilter's "PORT@HOST" (HOST optional: every address). */
static int ps_listen_port_at(const char *v, int family, ps_listen *out,
                             ps_err *err)
{
    const char *at = strchr(v, '@');

    out->kind = PS_LISTEN_INET;
    out->family = family;
    if (ps_listen_port(v, at != NULL ? (size_t)(at - v) : strlen(v), out,
                       err) != 0)
        return -1;
    if (at == NULL)
        return 0;
    at++;
    if (family == AF_INET6 && ps_listen_ipv6(at, strlen(at), out, err) == 0)
        return 0;
    return ps_listen_hostname(at, strlen(at), out, err);
}

int ps_listen_parse_milter(const char *spec, ps_listen *out, ps_err *err)
{
    memset(out, 0, sizeof(*out));
    if (ps_listen_starts(spec, "unix:"))
        return ps_listen_unix(spec + 5, out, err);
    if (ps_listen_starts(spec, "local:"))
        return ps_listen_unix(spec + 6, out, err);
    if (ps_listen_starts(spec, "inet:"))
        return ps_listen_port_at(spec + 5, AF_UNSPEC, out, err);
    if (ps_listen_starts(spec, "inet6:"))
        return ps_listen_port_at(spec + 6, AF_INET6, out, err);
    return ps_err_set(err, "expected inet:PORT@HOST, inet6:PORT@HOST, "
                           "unix:PATH or local:PATH");
}

int ps_listen_resolve(const ps_listen *l, struct addrinfo **ai, ps_err *err)
{
    struct addrinfo hints = {.ai_family = l->family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int rc;

    *ai = NULL;
    if (l->kind != PS_LISTEN_INET)
        return ps_err_set(err, "not an inet socket");
    rc = getaddrinfo(l->host[0] != '\0' ? l->host : NULL, l->port, &hints, ai);
    if (rc != 0)
        return ps_err_set(err, "cannot resolve host '%s': %s", l->host,
                          gai_strerror(rc));
    return 0;
}
