/* The syntax of DNS names: domains, DKIM selectors, SPF includes. */
#ifndef PS_DNSNAME_H
#define PS_DNSNAME_H

#include "base/err.h"

/* Validates a DNS name as a domain we can build records under (LDH labels,
 * 1..63 bytes each, no leading or trailing '-', at most 253 in all, at
 * least two labels, not all-numeric at the end; one trailing '.' is
 * accepted). */
int ps_dnsname_check_domain(const char *name, ps_err *err);
/* Validates a DKIM selector (one or more dot-separated LDH labels). */
int ps_dnsname_check_selector(const char *sel, ps_err *err);
/* Like ps_dnsname_check_domain, but '_' is allowed in labels
 * (_spf.example.net): an include is a name looked up, not a host. */
int ps_dnsname_check_spf_include(const char *name, ps_err *err);
/* Refuses whitespace, control and non-ASCII bytes in s, reported by offset
 * only (what names the value); after it, s can be quoted in a message. */
int ps_dnsname_check_printable(const char *what, const char *s, ps_err *err);

#endif
