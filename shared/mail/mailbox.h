/* The one address a message is signed for: the mailbox of its From header
 * (RFC 5322 mailbox-list with the obsolete forms still seen in mail) and
 * the envelope sender as the MTA passes it. */
#ifndef PS_MAILBOX_H
#define PS_MAILBOX_H

#include <stddef.h>

#include "base/err.h"

#define PS_MAILBOX_LOCAL_MAX  256
#define PS_MAILBOX_DOMAIN_MAX 253
#define PS_MAILBOX_VALUE_MAX  (64 * 1024) /* longest From value looked at */

typedef struct ps_mailbox {
    char local[PS_MAILBOX_LOCAL_MAX + 1];   /* quotes and escapes removed */
    char domain[PS_MAILBOX_DOMAIN_MAX + 1]; /* lower case, no trailing dot */
} ps_mailbox;

/* Parses a From header value (without the name and colon). Succeeds only
 * with exactly one mailbox that has a domain name; otherwise -1 and a
 * short reason: "no address", "more than one address", "group syntax",
 * "domain literal", or where the syntax broke. */
int ps_mailbox_parse_from(const char *value, size_t len, ps_mailbox *out,
                          ps_err *err);

/* Every mailbox of a From value (a mailbox-list) into out[0..*n), at
 * most max; -1 with a reason for no address, more than max, or a syntax
 * error anywhere in the list. */
int ps_mailbox_parse_list(const char *value, size_t len, ps_mailbox *out,
                          size_t max, size_t *n, ps_err *err);

/* The envelope sender ("<user@domain>", "user@domain" or "<>"). The null
 * sender gives 0 with both parts empty; an address without '@' gives
 * the whole address as local part and an empty domain. */
int ps_mailbox_parse_envelope(const char *arg, ps_mailbox *out, ps_err *err);

#endif
