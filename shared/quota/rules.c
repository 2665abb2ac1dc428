/* Builds quota rules from the [limits] entries postseal.conf kept raw:
 * parses each value, checks each match (a network for client_address, a
 * domain for sender_domain) and reports the first problem as FILE:LINE. */
#include "quota/quota_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ps_quota_kinds[PS_QUOTA_NKINDS] = {
    "sasl_username", "sender_domain", "client_address"};

const char *ps_quota_kind_name(ps_quota_kind k)
{
    return (unsigned)k < PS_QUOTA_NKINDS ? ps_quota_kinds[k] : "?";
}

static int ps_quota_kind_of(const char *name, size_t len)
{
    for (int k = 0; k < PS_QUOTA_NKINDS; k++)
        if (strlen(ps_quota_kinds[k]) == len &&
            strncmp(name, ps_quota_kinds[k], len) == 0)
            return k;
    return -1;
}

static void ps_quota_rule_clear(ps_quota_rule *r)
{
    free(r->match);
    free(r->net);
    memset(r, 0, sizeof(*r));
}

void ps_quota_rules_free(ps_quota_rules *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nrules; i++)
        ps_quota_rule_clear(&r->rules[i]);
    for (size_t i = 0; i < r->nexempt; i++)
        ps_quota_rule_clear(&r->exempt[i]);
    free(r->rules);
    free(r->exempt);
    free(r);
}

static int ps_quota_check_domain(const char *d, ps_err *err)
{
    if (*d == '\0' || strlen(d) > 253 || strpbrk(d, "@ \t,;/") != NULL)
        return ps_err_set(err, "'%.80s' is not a domain", d);
    return 0;
}

/* Sets r->match (lower case for logins and domains) and r->net. */
static int ps_quota_set_match(ps_quota_rule *r, const char *match, ps_err *err)
{
    if (match == NULL)
        return 0;
    if (strlen(match) > PS_QUOTA_MAX_NAME)
        return ps_err_set(err, "'%.40s...' is too long", match);
    if ((r->match = strdup(match)) == NULL)
        return ps_err_set(err, "out of memory");
    if (r->kind == PS_QUOTA_CLIENT) {
        if ((r->net = malloc(sizeof(*r->net))) == NULL)
            return ps_err_set(err, "out of memory");
        if (ps_cidr_parse(match, r->net, err) != 0)
            return -1;
        if (r->net->count != 1)
            return ps_err_set(err, "'%.80s': one address or network", match);
        return 0;
    }
    for (char *p = r->match; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return r->kind == PS_QUOTA_DOMAIN ? ps_quota_check_domain(r->match, err)
                                      : 0;
}

/* Appends a zeroed rule to *arr; NULL when out of memory. */
static ps_quota_rule *ps_quota_push(ps_quota_rule **arr, size_t *n)
{
    ps_quota_rule *a = reallocarray(*arr, *n + 1, sizeof(**arr));

    if (a == NULL)
        return NULL;
    *arr = a;
    memset(&a[*n], 0, sizeof(a[*n]));
    return &a[(*n)++];
}

static int ps_quota_add_rule(ps_quota_rules *r, const ps_conf_limit *l,
                             ps_err *err)
{
    ps_quota_rule *rule = ps_quota_push(&r->rules, &r->nrules);
    int k = ps_quota_kind_of(l->kind, strlen(l->kind));

    if (rule == NULL)
        return ps_err_set(err, "out of memory");
    rule->line = l->line;
    if (k < 0)
        return ps_err_set(err, "unknown limit kind '%.40s'", l->kind);
    rule->kind = (ps_quota_kind)k;
    if (ps_quota_set_match(rule, l->match, err) != 0)
        return -1;
    return ps_quota_parse(l->value, rule->win, &rule->nwin, err);
}

/* One "KIND:MATCH" of an exempt list. */
static int ps_quota_add_exempt(ps_quota_rules *r, const char *item, int line,
                               ps_err *err)
{
    const char *colon = strchr(item, ':');
    ps_quota_rule *rule = ps_quota_push(&r->exempt, &r->nexempt);
    int k = colon != NULL ? ps_quota_kind_of(item, (size_t)(colon - item)) : -1;

    if (rule == NULL)
        return ps_err_set(err, "out of memory");
    rule->line = line;
    if (k < 0 || colon[1] == '\0')
        return ps_err_set(err, "exempt '%.80s': expected KIND:MATCH", item);
    rule->kind = (ps_quota_kind)k;
    return ps_quota_set_match(rule, colon + 1, err);
}

static int ps_quota_add_exempts(ps_quota_rules *r, const ps_conf_limit *l,
                                ps_err *err)
{
    char item[PS_QUOTA_MAX_KEY + 1];
    const char *p = l->value;

    while (*p != '\0') {
        size_t n;
        p += strspn(p, " \t,");
        n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0)
            break;
        if (n > PS_QUOTA_MAX_KEY)
            return ps_err_set(err, "exempt '%.40s...' is too long", p);
        snprintf(item, sizeof(item), "%.*s", (int)n, p);
        if (ps_quota_add_exempt(r, item, l->line, err) != 0)
            return -1;
        p += strcspn(p, ",");
    }
    return 0;
}

int ps_quota_rules_build(const ps_conf *conf, ps_quota_rules **out, ps_err *err)
{
    ps_quota_rules *r = calloc(1, sizeof(*r));
    ps_err why = {""};

    *out = NULL;
    if (r == NULL)
        return ps_err_set(err, "out of memory");
    r->ipv6_prefix = conf->policyd.ipv6_prefix;
    for (size_t i = 0; i < conf->nlimits; i++) {
        const ps_conf_limit *l = &conf->limits[i];
        int rc = strcmp(l->kind, "exempt") == 0
                     ? ps_quota_add_exempts(r, l, &why)
                     : ps_quota_add_rule(r, l, &why);
        if (rc != 0) {
            ps_err_set(err, "%s:%d: [limits] %s%s%s: %s", conf->path, l->line,
                       l->kind, l->match != NULL ? ":" : "",
                       l->match != NULL ? l->match : "", why.msg);
            ps_quota_rules_free(r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

int ps_quota_rules_use(const ps_quota_rules *r, ps_quota_measure m)
{
    for (size_t i = 0; i < r->nrules; i++)
        for (size_t w = 0; w < r->rules[i].nwin; w++)
            if (r->rules[i].win[w].measure == m)
                return 1;
    return 0;
}
