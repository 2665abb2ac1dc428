/* Lists of IPv4 and IPv6 networks ("127.0.0.0/8, ::1, 2001:db8::/32") and
 * the question the milter asks of them: is this client address inside?
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) also match IPv4 networks. */
#ifndef PS_CIDR_H
#define PS_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

#define PS_CIDR_MAX 256 /* networks in one list */

typedef struct ps_cidr_net {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network order, host bits cleared */
    int prefix;             /* 0..32 or 0..128 */
} ps_cidr_net;

typedef struct ps_cidr_list {
    ps_cidr_net nets[PS_CIDR_MAX];
    size_t count;
} ps_cidr_list;

/* Parses a comma-separated list (NULL or "" gives an empty list). An
 * address without "/N" is a host. Host bits set under the prefix
 * (10.1.2.3/8) are refused: they usually mean a typo. */
int ps_cidr_parse(const char *list, ps_cidr_list *out, ps_err *err);

/* 1 when the address (text, either family) is in the list, 0 when not
 * or when the text is not an address. */
int ps_cidr_match_text(const ps_cidr_list *list, const char *addr);

/* The same for a socket address (AF_INET or AF_INET6; others: 0). */
int ps_cidr_match_sockaddr(const ps_cidr_list *list, const struct sockaddr *sa);

#endif
