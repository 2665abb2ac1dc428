/* Parsing and matching of network lists for internal_hosts: addresses are
 * compared as bytes under a prefix mask, so IPv4 and IPv6 share one path
 * and an IPv4-mapped IPv6 client is folded to IPv4 first. */
#include "base/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define PS_CIDR_ITEM_MAX 63 /* longest "ffff:...:ffff/128" is 43 bytes */

static const char *ps_cidr_trim(const char *s, size_t *n)
{
    while (*n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

static int ps_cidr_prefix(const char *p, int max, int *out)
{
    size_t n = strlen(p);
    int v;

    if (n == 0 || n > 3 || strspn(p, "0123456789") != n)
        return -1;
    v = atoi(p);
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Whether any bit of addr after the first prefix bits is set. */
static int ps_cidr_host_bits(const unsigned char *addr, int len, int prefix)
{
    for (int bit = prefix; bit < len * 8; bit++)
        if (addr[bit / 8] & (0x80 >> (bit % 8)))
            return 1;
    return 0;
}

static int ps_cidr_parse_item(const char *item, ps_cidr_net *net, ps_err *err)
{
    char buf[PS_CIDR_ITEM_MAX + 1];
    char *slash;
    int max;

    strcpy(buf, item);
    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash++ = '\0';
    net->family = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
    max = net->family == AF_INET6 ? 128 : 32;
    memset(net->addr, 0, sizeof(net->addr));
    if (inet_pton(net->family, buf, net->addr) != 1)
        return ps_err_set(err, "'%s' is not an IP address", buf);
    net->prefix = max;
    if (slash != NULL && ps_cidr_prefix(slash, max, &net->prefix) != 0)
        return ps_err_set(err, "prefix length in '%s' must be 0 to %d", item,
                          max);
    if (ps_cidr_host_bits(net->addr, max / 8, net->prefix))
        return ps_err_set(err, "'%s' has host bits set beyond /%d", item,
                          net->prefix);
    return 0;
}

int ps_cidr_parse(const char *list, ps_cidr_list *out, ps_err *err)
{
    const char *p = list != NULL ? list : "";
    char item[PS_CIDR_ITEM_MAX + 1];

    out->count = 0;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *s = ps_cidr_trim(p, &n);

        if (n == 0)
            return ps_err_set(err, "empty item in address list");
        if (n > PS_CIDR_ITEM_MAX)
            return ps_err_set(err, "address list item longer than %d bytes",
                              PS_CIDR_ITEM_MAX);
        if (out->count == PS_CIDR_MAX)
            return ps_err_set(err, "more than %d networks in one list",
                              PS_CIDR_MAX);
        memcpy(item, s, n);
        item[n] = '\0';
        if (ps_cidr_parse_item(item, &out->nets[out->count], err) != 0)
            return -1;
        out->count++;
        p += strcspn(p, ",");
        if (*p == ',' && *++p == '\0')
            return ps_err_set(err, "empty item in address list");
    }
    return 0;
}

static int ps_cidr_net_has(const ps_cidr_net *net, const unsigned char *addr)
{
    int full = net->prefix / 8, rest = net->prefix % 8;

    if (memcmp(net->addr, addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((net->addr[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static int ps_cidr_match_family(const ps_cidr_list *list, int family,
                                const unsigned char *addr)
{
    for (size_t i = 0; list != NULL && i < list->count; i++)
        if (list->nets[i].family == family &&
            ps_cidr_net_has(&list->nets[i], addr))
            return 1;
    return 0;
}

/* An IPv4-mapped client (::ffff:192.0.2.1) is an IPv4 client for IPv4
 * networks, and still itself for IPv6 ones (::ffff:0:0/96, ::/0). */
static int ps_cidr_match_bytes(const ps_cidr_list *list, int family,
                               const unsigned char *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};

    if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0 &&
        ps_cidr_match_family(list, AF_INET, addr + sizeof(mapped)))
        return 1;
    return ps_cidr_match_family(list, family, addr);
}

int ps_cidr_match_text(const ps_cidr_list *list, const char *addr)
{
    unsigned char buf[16];

    if (addr == NULL)
        return 0;
    if (inet_pton(AF_INET, addr, buf) == 1)
        return ps_cidr_match_bytes(list, AF_INET, buf);
    if (inet_pton(AF_INET6, addr, buf) == 1)
        return ps_cidr_match_bytes(list, AF_INET6, buf);
    return 0;
}

int ps_cidr_match_sockaddr(const ps_cidr_list *list, const struct sockaddr *sa)
{
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET)
        return ps_cidr_match_bytes(
            list, AF_INET,
            (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return ps_cidr_match_bytes(
            list, AF_INET6,
            ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return 0;
}
