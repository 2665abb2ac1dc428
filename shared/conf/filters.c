/* [events] content_filters: the SMTP or LMTP addresses of local content
 * filters (amavisd-new, a re-injecting proxy), "ADDR:PORT" or
 * "[IPv6]:PORT", parsed here for the check and for the event follower,
 * which matches them against a delivery line's relay= field. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_int.h"

/* addr (text, no brackets) and port digits into out. */
static int ps_filter_set(const char *addr, size_t alen, const char *port,
                         ps_conf_filter *out, ps_err *err)
{
    char host[64];
    char *end;
    long p;

    if (alen == 0 || alen >= sizeof(host))
        return ps_err_set(err, "expected ADDR:PORT or [IPv6]:PORT");
    memcpy(host, addr, alen);
    host[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, host, out->addr) == 1)
        out->family = AF_INET6;
    else
        return ps_err_set(err, "'%s' is not an IP address", host);
    p = strtol(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || p < 1 || p > 65535)
        return ps_err_set(err, "port must be 1..65535");
    out->port = (unsigned)p;
    return 0;
}

int ps_conf_filter_parse(const char *item, ps_conf_filter *out, ps_err *err)
{
    const char *colon;

    if (item[0] == '[') {
        const char *close = strchr(item, ']');
        if (close == NULL || close[1] != ':')
            return ps_err_set(err, "expected [IPv6]:PORT");
        return ps_filter_set(item + 1, (size_t)(close - item - 1), close + 2,
                             out, err);
    }
    if ((colon = strrchr(item, ':')) == NULL || strchr(item, ':') != colon)
        return ps_err_set(err, "expected ADDR:PORT or [IPv6]:PORT");
    return ps_filter_set(item, (size_t)(colon - item), colon + 1, out, err);
}

int ps_conf_check_filters(const char *const *items, size_t n, ps_err *err)
{
    ps_conf_filter f;

    for (size_t i = 0; i < n; i++)
        if (ps_conf_filter_parse(items[i], &f, err) != 0)
            return -1;
    return 0;
}

int ps_conf_filter_match(const ps_conf_filter *set, size_t n, const char *addr,
                         unsigned port)
{
    ps_conf_filter f;
    char spec[80];
    ps_err err = {""};

    snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr,
             port);
    if (ps_conf_filter_parse(spec, &f, &err) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (set[i].family == f.family && set[i].port == f.port &&
            memcmp(set[i].addr, f.addr, sizeof(f.addr)) == 0)
            return 1;
    return 0;
}
