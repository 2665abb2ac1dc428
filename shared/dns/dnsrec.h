/* The DNS records a sending domain publishes (DKIM, SPF, DMARC, return-path),
 * formatted ready to paste into a zone file. */
#ifndef PS_DNSREC_H
#define PS_DNSREC_H

#include <stddef.h>

#include "base/err.h"

#define PS_DNS_STRING_MAX 255 /* bytes in one TXT character-string */

/* Quotes txt as one or more zone-file character-strings of at most 255
 * bytes each (counted before escaping), separated by spaces:
 * "abc..." "def...". '"' and '\\' are escaped with a backslash, bytes
 * outside printable ASCII as \DDD. Malloc'd; NULL if out of memory. */
char *ps_dnsrec_quote(const char *txt);

/* "v=spf1 mx include:X ... ~all" for the given includes (may be 0).
 * Each include must pass ps_dnsname_check_spf_include; NULL if one does
 * not (or out of memory). */
char *ps_dnsrec_spf(const char *const *includes, size_t n);

/* Validates a DMARC policy (none | quarantine | reject) and, if not NULL,
 * a rua address (user@domain, with or without "mailto:"). */
int ps_dnsrec_check_dmarc(const char *policy, const char *rua, ps_err *err);
/* "v=DMARC1; p=none; rua=mailto:..." (rua may be NULL, and may be given
 * with or without "mailto:"). NULL when ps_dnsrec_check_dmarc refuses the
 * arguments (or out of memory). */
char *ps_dnsrec_dmarc(const char *policy, const char *rua);

/* A zone-file line: "<name>. <ttl> IN TXT "..." "..."" (malloc'd). name
 * may end in '.' already; NULL if it is empty or holds whitespace or
 * control bytes (or out of memory). */
char *ps_dnsrec_txt_line(const char *name, unsigned ttl, const char *txt);

#endif
