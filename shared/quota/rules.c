/* Builds quota rules from the [limits] entries postseal.conf kept raw:
 * parses each value, checks each match (a network for client_address, a
 * domain for sender_domain) and reports the first problem as FILE:LINE. */
#include "quota/quota_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ps_quota_kind_name(ps_quota_kind k)
{
    return ps_conf_limit_kind_name((int)k);
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

/* Kinds, matches and lists are read by the config's own parsers
 * (ps_conf_limit_kind, ps_conf_each_item): one grammar, one parser. */
static int ps_quota_add_rule(ps_quota_rules *r, const ps_conf_limit *l,
                             ps_err *err)
{
    ps_quota_rule *rule = ps_quota_push(&r->rules, &r->nrules);
    const char *none;
    int k;

    if (rule == NULL)
        return ps_err_set(err, "out of memory");
    rule->line = l->line;
    if (ps_conf_limit_kind(l->kind, &k, &none, err) != 0)
        return -1;
    rule->kind = (ps_quota_kind)k;
    if (ps_quota_set_match(rule, l->match, err) != 0)
        return -1;
    return ps_quota_parse(l->value, rule->win, &rule->nwin, err);
}

typedef struct ps_quota_exempts {
    ps_quota_rules *rules;
    int line;
} ps_quota_exempts;

/* One "KIND:MATCH" of an exempt list. */
static int ps_quota_add_exempt(const char *item, void *arg, ps_err *err)
{
    ps_quota_exempts *ex = arg;
    ps_quota_rule *rule =
        ps_quota_push(&ex->rules->exempt, &ex->rules->nexempt);
    const char *match;
    int k;

    if (rule == NULL)
        return ps_err_set(err, "out of memory");
    rule->line = ex->line;
    if (ps_conf_limit_kind(item, &k, &match, err) != 0)
        return -1;
    if (match == NULL)
        return ps_err_set(err, "exempt '%.80s': expected KIND:MATCH", item);
    rule->kind = (ps_quota_kind)k;
    return ps_quota_set_match(rule, match, err);
}

static int ps_quota_add_exempts(ps_quota_rules *r, const ps_conf_limit *l,
                                ps_err *err)
{
    ps_quota_exempts ex = {r, l->line};

    return ps_conf_each_item(l->value, ps_quota_add_exempt, &ex, err);
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
