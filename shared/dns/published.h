/* Judging published DNS records against what a sending domain needs (DKIM
 * matching the key, one SPF, a DMARC policy, a return-path MX): pure
 * functions over dns.h answers, so every rule is testable without a server. */
#ifndef PS_DNSCHECK_H
#define PS_DNSCHECK_H

#include "dns/dns.h"
#include "crypto/keys.h"

#define PS_DNSCHECK_WHY 256

typedef enum ps_dnscheck_state {
    PS_DNSCHECK_OK,
    PS_DNSCHECK_FAIL,    /* published, but wrong */
    PS_DNSCHECK_MISSING, /* nothing of the kind published */
} ps_dnscheck_state;

typedef struct ps_dnscheck {
    ps_dnscheck_state state;
    char why[PS_DNSCHECK_WHY]; /* "" when ok */
} ps_dnscheck;

/* Each fills v and returns its state. */

/* The TXT answer at SELECTOR._domainkey.DOMAIN: exactly one record that
 * parses, v=DKIM1 if v= is there, k= (default rsa) and p= (whitespace
 * removed) equal to the key's. */
ps_dnscheck_state ps_dnscheck_dkim(const ps_dns_answer *ans, const ps_key *key,
                                   ps_dnscheck *v);
/* The TXT answer at a domain: exactly one v=spf1 record (RFC 7208 4.5). */
ps_dnscheck_state ps_dnscheck_spf(const ps_dns_answer *ans, ps_dnscheck *v);
/* The TXT answer at _dmarc.DOMAIN: ps_dmarc_check_published (dmarc/dmarc.h),
 * with the DMARC record parser verify mode uses. */
/* The MX answer at the return-path domain: at least one MX, no null MX. */
ps_dnscheck_state ps_dnscheck_mx(const ps_dns_answer *ans, ps_dnscheck *v);

/* "ok", "FAIL" or "MISSING". */
const char *ps_dnscheck_label(ps_dnscheck_state state);

#endif
