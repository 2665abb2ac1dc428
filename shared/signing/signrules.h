/* Which keys sign a message: postseal.conf's [signing] rules (From domain,
 * exact or *.domain) over its [keys], then OpenDKIM's SigningTable over
 * its KeyTable, then both again for the fallback (return-path) domain.
 * Every key is parsed once, when the rules are built. */
#ifndef PS_SIGNRULES_H
#define PS_SIGNRULES_H

#include <stddef.h>

#include "conf/conf.h"
#include "dkim/dkim.h"
#include "base/err.h"
#include "signing/odkim.h"

#define PS_SIGNRULES_RULE_MAX 300 /* room for a rule's description */

typedef struct ps_signrules ps_signrules;

enum {
    PS_SIGNRULES_NO_KEYS = 1 /* don't read key files (tests, -n dry runs) */
};

/* Loads the OpenDKIM tables the [milter] section names (if any) and every
 * key, and checks that every name used exists. conf must outlive the
 * rules. Errors name the file and line to blame. */
int ps_signrules_load(const ps_conf *conf, int flags, ps_signrules **out,
                      ps_err *err);

/* The same from tables already read (either may be NULL); takes them
 * over, freeing them on error too. */
int ps_signrules_build(const ps_conf *conf, ps_odkim_keytable *kt,
                       ps_odkim_signtable *st, int flags, ps_signrules **out,
                       ps_err *err);

typedef struct ps_signrules_match {
    ps_dkim_signer signers[PS_DKIM_MAX_KEYS]; /* key NULL with NO_KEYS */
    const char *keynames[PS_DKIM_MAX_KEYS];
    size_t count;
    /* Which rule applied, for the log: "[signing] *.example.com",
     * "SigningTable:12 *@example.com", with " (fallback)" when the
     * return-path domain chose it. */
    char rule[PS_SIGNRULES_RULE_MAX];
    /* The domain the rule matched (From or fallback): the d= of KeyTable
     * entries whose domain is "%". */
    char from_domain[254];
} ps_signrules_match;

/* Fills m for a From address (local may be NULL) and returns m->count;
 * 0 when no rule applies. fallback_domain (may be NULL) is tried the same
 * way when the From domain finds nothing. Pointers in m stay valid while
 * the rules and m live. */
size_t ps_signrules_lookup(const ps_signrules *r, const char *local,
                           const char *domain, const char *fallback_domain,
                           ps_signrules_match *m);

/* Whether a [signing] pattern ("example.com", "*.example.com") covers a
 * domain: exactly, or as a strict subdomain for "*.". 0 for no match,
 * otherwise a rank (longer, exact patterns rank higher). */
int ps_signrules_pattern_rank(const char *pattern, const char *domain);

/* How many keys were loaded (both sources). */
size_t ps_signrules_nkeys(const ps_signrules *r);
/* The name, key file and parsed key (NULL with NO_KEYS) of key i
 * (0 <= i < nkeys): -1 past the last. */
int ps_signrules_key_info(const ps_signrules *r, size_t i, const char **name,
                          const char **keyfile, const ps_key **key);

void ps_signrules_free(ps_signrules *r);

#endif
