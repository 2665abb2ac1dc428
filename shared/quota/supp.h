/* Suppression entries: a recipient that failed permanently, refused for a
 * while to one sender domain or credential. How an entry is keyed in the
 * store (a hash, so a lookup never needs the address in a key) and the
 * value it holds (the address and scope in clear, for `postseal
 * suppression list`). The store code is policyd's; this is the format. */
#ifndef PS_QUOTA_SUPP_H
#define PS_QUOTA_SUPP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PS_SUPP_PREFIX   "sup:"
#define PS_SUPP_KEY_MAX  (4 + 64 + 1) /* "sup:" + SHA-256 in hex */
#define PS_SUPP_ADDR_MAX 320          /* RFC 5321: 64 + @ + 255 */
#define PS_SUPP_WHO_MAX  256
#define PS_SUPP_VALUE_MAX                                                      \
    (64 + PS_SUPP_WHO_MAX +                                                    \
     PS_SUPP_ADDR_MAX) /* "1 SINCE UNTIL SCOPE WHO RCPT" */

typedef struct ps_supp_entry {
    int64_t since, until;        /* Unix seconds */
    int scope;                   /* ps_conf_supp_scope */
    char who[PS_SUPP_WHO_MAX];   /* the sender domain or credential, lower */
    char rcpt[PS_SUPP_ADDR_MAX]; /* lower case */
} ps_supp_entry;

/* The scope's name ("domain", "credential") and back (-1: unknown). */
const char *ps_supp_scope_name(int scope);
int ps_supp_scope_parse(const char *name);

/* Fills e->who and e->rcpt, lower-cased, from the scope and the
 * message's credential and sender: -1 when there is no such subject (no
 * credential, the null sender) or a value does not fit or holds a space
 * or control byte (such an address is never suppressed). */
int ps_supp_subject(ps_supp_entry *e, int scope, const char *sasl,
                    const char *sender, const char *rcpt);
/* The same from the subject itself (a domain or credential). */
int ps_supp_set(ps_supp_entry *e, int scope, const char *who, const char *rcpt);
/* The store key of e's scope, who and rcpt (NUL-terminated). */
void ps_supp_key(const ps_supp_entry *e, char out[PS_SUPP_KEY_MAX]);
/* The stored value; its length (< PS_SUPP_VALUE_MAX). */
size_t ps_supp_format(const ps_supp_entry *e, char out[PS_SUPP_VALUE_MAX]);
/* A stored value back: 0, or -1 if it is not one. */
int ps_supp_parse(const char *v, size_t len, ps_supp_entry *e);

#endif
