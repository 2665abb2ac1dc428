/* The libspf2 DNS layer that sends SPF lookups through dnsq.c. Include
 * after <spf2/spf.h>. */
#ifndef PS_MILTER_SPF_DNS_H
#define PS_MILTER_SPF_DNS_H

#include "milter.h"

/* A layer using dq (which must outlive it); freed by SPF_server_free. */
SPF_dns_server_t *ps_spf_dns_new(const ps_dnsq *dq);

#endif
