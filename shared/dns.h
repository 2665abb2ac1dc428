/* DNS lookups for the CLI's "dns check" and other callers: TXT and MX
 * records through the system resolver or an explicit IP[:PORT]. */
#ifndef PS_DNS_H
#define PS_DNS_H

#include <stddef.h>

#include "err.h"

#define PS_DNS_MAX_RECORDS 16

typedef struct ps_dns_answer {
    char *records[PS_DNS_MAX_RECORDS]; /* each TXT record's strings joined */
    size_t count;
    int nxdomain; /* 1: the name does not exist (not an error) */
} ps_dns_answer;

/* resolver: NULL for the system resolver, or "IP" / "IP:PORT" (IPv4) /
 * "[IPv6]:PORT". Returns 0 with the answer (count may be 0), -1 with err
 * for a server failure, timeout or malformed reply. */
int ps_dns_txt(const char *resolver, const char *name, ps_dns_answer *ans,
               ps_err *err);
/* MX exchange names of name, in the same shape. */
int ps_dns_mx(const char *resolver, const char *name, ps_dns_answer *ans,
              ps_err *err);
void ps_dns_answer_free(ps_dns_answer *ans);

#endif
