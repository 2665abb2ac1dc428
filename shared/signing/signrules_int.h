/* Internals shared by signrules.c (building, key loading) and
 * signrules_lookup.c (matching). Not installed for callers. */
#ifndef PS_SIGNRULES_INT_H
#define PS_SIGNRULES_INT_H

#include "crypto/keys.h"
#include "signing/signrules.h"

typedef struct ps_signrules_key {
    const char *name, *domain, *selector, *keyfile; /* conf's or kt's */
    ps_key *key; /* NULL with PS_SIGNRULES_NO_KEYS */
} ps_signrules_key;

struct ps_signrules {
    const ps_conf *conf;
    ps_odkim_keytable *kt;
    ps_odkim_signtable *st;
    ps_signrules_key *keys; /* conf->keys in order, then kt->keys */
    size_t nkeys;
    size_t (*rule_keys)[PS_DKIM_MAX_KEYS]; /* per [signing] rule: indexes */
    size_t *entry_key;                     /* per SigningTable entry */
};

#endif
