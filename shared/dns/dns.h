/* DNS lookups for the CLI's "dns check" and other callers: TXT and MX
 * records through the system resolver or an explicit IP[:PORT]. */
#ifndef PS_DNS_H
#define PS_DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

/* Records kept from one answer; a larger RRset is refused as an error
 * rather than cut, so "exactly one v=spf1 record" can't be misjudged. */
#define PS_DNS_MAX_RECORDS 64
#define PS_DNS_RETRANS     2 /* seconds before the first retry */
#define PS_DNS_RETRY       2 /* attempts per server */

typedef struct ps_dns_answer {
    char *records[PS_DNS_MAX_RECORDS]; /* each TXT record's strings joined */
    size_t count;
    int nxdomain; /* 1: the name does not exist (not an error) */
} ps_dns_answer;

/* resolver: NULL for the system resolver, or "IP" / "IP:PORT" (IPv4) /
 * "IPv6" / "[IPv6]:PORT". Returns 0 with the answer (count may be 0, and
 * nxdomain set when the name does not exist), -1 with err for a bad
 * resolver or name, a server failure, timeout or malformed reply. The
 * answer is always safe to free, error or not. A TXT record holding a NUL
 * byte is a malformed reply: every TXT record we read is text. */
int ps_dns_txt(const char *resolver, const char *name, ps_dns_answer *ans,
               ps_err *err);
/* MX exchange names of name, in the same shape, without the trailing
 * dot; a null MX (RFC 7505) is the record ".". */
int ps_dns_mx(const char *resolver, const char *name, ps_dns_answer *ans,
              ps_err *err);
/* Any type ps_dns_parse_reply reads (PS_DNS_TYPE_*), in the same shape:
 * A and AAAA as address text. */
int ps_dns_lookup(const char *resolver, const char *name, int type,
                  ps_dns_answer *ans, ps_err *err);
void ps_dns_answer_free(ps_dns_answer *ans);

/* One DNS server as postseal.conf's [milter] resolver and the CLI's
 * --resolver spell it: "IP", "IP:PORT" (IPv4), "IPv6", "[IPv6]" or
 * "[IPv6]:PORT", port 53 when absent. The one parser of that grammar:
 * the config check, these lookups and the milter's queries all call it.
 * The reason in err does not repeat spec. */
typedef struct ps_dns_server {
    struct sockaddr_storage addr; /* sockaddr_in or sockaddr_in6 */
    socklen_t len;
} ps_dns_server;

int ps_dns_server_parse(const char *spec, ps_dns_server *out, ps_err *err);

#define PS_DNS_TYPE_A    1
#define PS_DNS_TYPE_MX   15
#define PS_DNS_TYPE_TXT  16
#define PS_DNS_TYPE_AAAA 28

/* Reads the records of one type (PS_DNS_TYPE_*; A and AAAA as address
 * text, for existence checks) from a reply of len bytes
 * as received from a server: the part of a lookup that parses untrusted
 * bytes, exposed for tests and fuzzing. Same answer and errors as above
 * (the message without the "DNS lookup of" prefix). */
int ps_dns_parse_reply(const unsigned char *buf, size_t len, int type,
                       ps_dns_answer *ans, ps_err *err);

#endif
