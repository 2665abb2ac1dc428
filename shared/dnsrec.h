/* The DNS records a sending domain publishes (DKIM, SPF, DMARC, return-path),
 * formatted ready to paste into a zone file. */
#ifndef PS_DNSREC_H
#define PS_DNSREC_H

#include <stddef.h>

#include "err.h"

#define PS_DNS_STRING_MAX 255 /* bytes in one TXT character-string */

/* Quotes txt as one or more zone-file character-strings of at most 255
 * bytes each, separated by spaces: "abc..." "def...". Malloc'd. */
char *ps_dnsrec_quote(const char *txt);

/* "v=spf1 a mx include:X ... ~all" for the given includes (may be 0). */
char *ps_dnsrec_spf(const char *const *includes, size_t n);

/* "v=DMARC1; p=none; rua=mailto:..." (rua may be NULL). */
char *ps_dnsrec_dmarc(const char *policy, const char *rua);

/* A zone-file line: "<name>. <ttl> IN TXT "..." "..."" (malloc'd). */
char *ps_dnsrec_txt_line(const char *name, unsigned ttl, const char *txt);

/* Validates a DNS name as a domain we can build records under (LDH labels,
 * 1..63 bytes each, at most 253 in all, at least two labels). */
int ps_dnsrec_check_domain(const char *name, ps_err *err);
/* Validates a DKIM selector (one or more dot-separated LDH labels). */
int ps_dnsrec_check_selector(const char *sel, ps_err *err);

#endif
