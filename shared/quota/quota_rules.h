/* The [limits] section as rules: which windows apply to a policy request,
 * by SASL login, sender domain and client address (overrides first, then
 * the kind's default), and the counter key each one is charged under. */
#ifndef PS_QUOTA_RULES_H
#define PS_QUOTA_RULES_H

#include <stddef.h>

#include "base/cidr.h"
#include "conf/conf.h"
#include "base/err.h"
#include "quota/quota.h"

#define PS_QUOTA_MAX_NAME 255 /* bytes of a login, domain or address */
#define PS_QUOTA_MAX_KEY  (16 + PS_QUOTA_MAX_NAME)

/* The config's kinds, so a kind read from the file needs no mapping. */
typedef enum ps_quota_kind {
    PS_QUOTA_SASL = PS_CONF_LIMIT_SASL,     /* sasl_username */
    PS_QUOTA_DOMAIN = PS_CONF_LIMIT_DOMAIN, /* sender_domain */
    PS_QUOTA_CLIENT = PS_CONF_LIMIT_CLIENT, /* client_address */
    PS_QUOTA_NKINDS = PS_CONF_LIMIT_NKINDS
} ps_quota_kind;

typedef struct ps_quota_rule {
    ps_quota_kind kind;
    char *match;       /* NULL: the kind's default; logins and domains in
                          lower case */
    ps_cidr_list *net; /* client_address overrides: one network */
    ps_quota_window win[PS_QUOTA_MAX_WINDOWS];
    size_t nwin;
    int line;
} ps_quota_rule;

typedef struct ps_quota_rules {
    ps_quota_rule *rules;
    size_t nrules;
    ps_quota_rule *exempt; /* no windows: what matches is not limited */
    size_t nexempt;
    int ipv6_prefix; /* [policyd] ipv6_prefix: bits an IPv6 counter covers */
} ps_quota_rules;

/* Checks every [limits] entry (errors as "FILE:LINE: reason"). */
int ps_quota_rules_build(const ps_conf *conf, ps_quota_rules **out,
                         ps_err *err);
void ps_quota_rules_free(ps_quota_rules *r);
const char *ps_quota_kind_name(ps_quota_kind k);
/* Whether any rule limits measure m (the -n check explains what each
 * measure needs from main.cf). */
int ps_quota_rules_use(const ps_quota_rules *r, ps_quota_measure m);

/* A request's credentials as Postfix sends them (NULL or "": absent). */
typedef struct ps_quota_subject {
    const char *sasl_username, *sender, *client_address;
} ps_quota_subject;

/* A counter to charge: "sasl_username:app@example.com",
 * "sender_domain:example.com", "client_address:192.0.2.7" (or the network
 * of an override, "client_address:192.0.2.0/24", which shares one; an
 * IPv6 client counts as its network of ipv6_prefix bits,
 * "client_address:2001:db8::/64"). */
typedef struct ps_quota_target {
    ps_quota_kind kind;
    char key[PS_QUOTA_MAX_KEY + 1];
    const ps_quota_rule *rule;
} ps_quota_target;

enum { PS_QUOTA_LIMITED = 0, PS_QUOTA_EXEMPT = 1 };

/* Fills out with the counters that apply (n may be 0): PS_QUOTA_LIMITED,
 * or PS_QUOTA_EXEMPT (n = 0) when an exempt entry matches any of the
 * request's credentials. A credential longer than PS_QUOTA_MAX_NAME is not
 * counted and its kind is set in *too_long (bit 1 << kind) for the log. */
int ps_quota_rules_resolve(const ps_quota_rules *r, const ps_quota_subject *s,
                           ps_quota_target out[PS_QUOTA_NKINDS], size_t *n,
                           unsigned *too_long);

/* The network of prefix bits an IPv6 address counts under, as
 * "2001:db8::/64", into out: 1 if addr is IPv6 (not IPv4-mapped) and
 * prefix < 128, else 0 and out untouched. out may be addr. */
int ps_quota_ipv6_network(const char *addr, int prefix,
                          char out[PS_QUOTA_MAX_NAME + 1]);

#endif
