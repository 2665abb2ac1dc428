/* Which counters a policy request is charged to: per kind, the override
 * naming its credential (for client_address the most specific network),
 * else the kind's default, keyed by the credential itself (an IPv6 client
 * by its network). An exempt credential exempts the whole request. */
#include "quota/quota_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The credential of kind k, normalised into buf; "" when absent. Logins
 * and domains compare without case, so App@X and app@x share a counter. */
static int ps_quota_name(const ps_quota_subject *s, ps_quota_kind k,
                         char buf[PS_QUOTA_MAX_NAME + 1])
{
    const char *v = k == PS_QUOTA_SASL     ? s->sasl_username
                    : k == PS_QUOTA_DOMAIN ? s->sender
                                           : s->client_address;
    size_t n;

    buf[0] = '\0';
    if (v == NULL)
        return 0;
    if (k == PS_QUOTA_DOMAIN)
        v = strrchr(v, '@') != NULL ? strrchr(v, '@') + 1 : "";
    n = strlen(v);
    if (k == PS_QUOTA_DOMAIN && n > 0 && v[n - 1] == '.')
        n--;
    if (n > PS_QUOTA_MAX_NAME)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)v[i]);
    buf[n] = '\0';
    return 0;
}

static int ps_quota_matches(const ps_quota_rule *r, const char *name)
{
    if (r->net != NULL)
        return ps_cidr_match_text(r->net, name);
    return r->match != NULL && strcmp(r->match, name) == 0;
}

static int ps_quota_is_exempt(const ps_quota_rules *r, ps_quota_kind k,
                              const char *name)
{
    for (size_t i = 0; i < r->nexempt; i++)
        if (r->exempt[i].kind == k && ps_quota_matches(&r->exempt[i], name))
            return 1;
    return 0;
}

/* The override for name (the longest matching network for addresses),
 * else the kind's default, else NULL. */
static const ps_quota_rule *ps_quota_rule_for(const ps_quota_rules *r,
                                              ps_quota_kind k, const char *name)
{
    const ps_quota_rule *best = NULL, *dflt = NULL;

    for (size_t i = 0; i < r->nrules; i++) {
        const ps_quota_rule *rule = &r->rules[i];
        if (rule->kind != k)
            continue;
        if (rule->match == NULL)
            dflt = rule;
        else if (ps_quota_matches(rule, name) &&
                 (best == NULL ||
                  (rule->net != NULL &&
                   rule->net->nets[0].prefix > best->net->nets[0].prefix)))
            best = rule;
    }
    return best != NULL ? best : dflt;
}

/* "KIND:NAME" as snprintf("%.15s:%.255s") would write it, without
 * snprintf: it ran for every target of every request, a few percent of
 * the daemon's own instructions. */
static void ps_quota_key(char key[PS_QUOTA_MAX_KEY + 1], const char *kind,
                         const char *name)
{
    size_t k = strnlen(kind, 15), n = strnlen(name, 255);

    _Static_assert(PS_QUOTA_MAX_KEY + 1 >= 15 + 1 + 255 + 1, "room for both");
    memcpy(key, kind, k);
    key[k] = ':';
    memcpy(key + k + 1, name, n);
    key[k + 1 + n] = '\0';
}

/* One host is given a whole /64 (RFC 6177): counted per address, an IPv6
 * client would have 2^64 counters to spread its mail over. */
int ps_quota_ipv6_network(const char *addr, int prefix,
                          char out[PS_QUOTA_MAX_NAME + 1])
{
    struct in6_addr a;
    char text[INET6_ADDRSTRLEN];

    if (prefix < 1 || prefix >= 128 || strchr(addr, ':') == NULL ||
        inet_pton(AF_INET6, addr, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a))
        return 0;
    for (int i = 0; i < 16; i++) {
        int keep = prefix - 8 * i;
        a.s6_addr[i] &= keep >= 8   ? 0xff
                        : keep <= 0 ? 0
                                    : (unsigned char)(0xff << (8 - keep));
    }
    inet_ntop(AF_INET6, &a, text, sizeof(text));
    snprintf(out, PS_QUOTA_MAX_NAME + 1, "%s/%d", text, prefix);
    return 1;
}

int ps_quota_rules_resolve(const ps_quota_rules *r, const ps_quota_subject *s,
                           ps_quota_target out[PS_QUOTA_NKINDS], size_t *n,
                           unsigned *too_long)
{
    char names[PS_QUOTA_NKINDS][PS_QUOTA_MAX_NAME + 1];

    *n = 0;
    *too_long = 0;
    for (int k = 0; k < PS_QUOTA_NKINDS; k++) {
        if (ps_quota_name(s, (ps_quota_kind)k, names[k]) != 0)
            *too_long |= 1u << k;
        else if (names[k][0] != '\0' &&
                 ps_quota_is_exempt(r, (ps_quota_kind)k, names[k]))
            return PS_QUOTA_EXEMPT;
    }
    for (int k = 0; k < PS_QUOTA_NKINDS; k++) {
        const ps_quota_rule *rule;
        ps_quota_target *t = &out[*n];
        if (names[k][0] == '\0' ||
            (rule = ps_quota_rule_for(r, (ps_quota_kind)k, names[k])) == NULL)
            continue;
        t->kind = (ps_quota_kind)k;
        t->rule = rule;
        if (k == PS_QUOTA_CLIENT && rule->net == NULL)
            ps_quota_ipv6_network(names[k], r->ipv6_prefix, names[k]);
        ps_quota_key(t->key, ps_quota_kind_name(t->kind),
                     rule->net != NULL ? rule->match : names[k]);
        (*n)++;
    }
    return PS_QUOTA_LIMITED;
}
