/* Turns the options of "postseal dns" and "postseal dns check" into the
 * list of domains, DKIM keys, return-path and SRS domains to print or look up;
 * every key is loaded here, so a bad key file fails before any output. */
#include "dnsplan.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "dns/dnsname.h"

int ps_plan_option(ps_plan *p, int ch, const char *arg)
{
    switch (ch) {
    case PS_PLAN_OPT_DOMAIN:
        p->domain = arg;
        return 1;
    case PS_PLAN_OPT_SELECTOR:
        p->selector = arg;
        return 1;
    case PS_PLAN_OPT_KEY:
        p->keyfile = arg;
        return 1;
    case PS_PLAN_OPT_CONF:
        p->conf_path = arg;
        return 1;
    case PS_PLAN_OPT_RETURN_PATH:
        p->return_path_opt = arg;
        return 1;
    case PS_PLAN_OPT_SRS_DOMAIN:
        p->srs_domain_opt = arg;
        return 1;
    }
    return 0;
}

static int ps_plan_check_options(const ps_plan *p, const char *cmd)
{
    ps_err err = {""};

    if (p->domain == NULL && p->conf_path == NULL)
        return ps_cli_fail(
            "%s: --domain or -c FILE is required (see " PS_CLI_NAME
            " %s --help)",
            cmd, cmd);
    if ((p->selector == NULL) != (p->keyfile == NULL))
        return ps_cli_fail("%s: --selector and --key go together", cmd);
    if (p->keyfile != NULL && p->domain == NULL)
        return ps_cli_fail("%s: --key needs --domain", cmd);
    if ((p->domain != NULL && ps_dnsname_check_domain(p->domain, &err) < 0) ||
        (p->selector != NULL &&
         ps_dnsname_check_selector(p->selector, &err) < 0) ||
        (p->return_path_opt != NULL &&
         ps_dnsname_check_domain(p->return_path_opt, &err) < 0) ||
        (p->srs_domain_opt != NULL &&
         ps_dnsname_check_domain(p->srs_domain_opt, &err) < 0))
        return ps_cli_fail("%s: %s", cmd, err.msg);
    return 0;
}

static int ps_plan_add_domain(ps_plan *p, const char *domain)
{
    for (size_t i = 0; i < p->ndomains; i++)
        if (ps_cli_same_name(p->domains[i], domain))
            return 0;
    if (p->ndomains == PS_PLAN_MAX)
        return ps_cli_fail("more than %d domains", PS_PLAN_MAX);
    if (ps_cli_name(p->domains[p->ndomains], PS_PLAN_NAME, "", domain) == NULL)
        return ps_cli_fail("domain '%.100s' is too long", domain);
    p->ndomains++;
    return 0;
}

static int ps_plan_add_key(ps_plan *p, const char *domain, const char *selector,
                           const char *keyfile, const char *where)
{
    ps_plan_key *k = &p->keys[p->nkeys];

    if (p->nkeys == PS_PLAN_MAX)
        return ps_cli_fail("more than %d keys", PS_PLAN_MAX);
    if (ps_cli_name(k->domain, sizeof(k->domain), "", domain) == NULL)
        return ps_cli_fail("domain '%.100s' is too long", domain);
    k->selector = selector;
    k->keyfile = keyfile;
    snprintf(k->where, sizeof(k->where), "%s", where);
    k->key = NULL;
    p->nkeys++;
    return 0;
}

/* [keys] entries of --domain, or of every domain without --domain. */
static int ps_plan_from_conf(ps_plan *p)
{
    const ps_conf *c = p->conf;
    char where[PS_PLAN_WHERE];

    for (size_t i = 0; i < c->nkeys; i++) {
        const ps_conf_key *k = &c->keys[i];

        if (p->domain != NULL && !ps_cli_same_name(p->domain, k->domain))
            continue;
        snprintf(where, sizeof(where), "%.200s:%d: key '%.60s': ", c->path,
                 k->line, k->name);
        if (ps_plan_add_key(p, k->domain, k->selector, k->keyfile, where) ||
            (p->domain == NULL && ps_plan_add_domain(p, k->domain)))
            return PS_EXIT_USAGE;
    }
    if (p->ndomains == 0)
        return ps_cli_fail("%s: no [keys] entries, so no domain: give "
                           "--domain",
                           c->path);
    return 0;
}

static int ps_plan_load_keys(ps_plan *p)
{
    ps_err err = {""};

    for (size_t i = 0; i < p->nkeys; i++)
        if (ps_key_load(p->keys[i].keyfile, &p->keys[i].key, &err) < 0)
            return ps_cli_fail("%s%s", p->keys[i].where, err.msg);
    return 0;
}

static int ps_plan_add_return_path(ps_plan *p, const char *rp)
{
    char name[PS_PLAN_NAME];

    if (ps_cli_name(name, sizeof(name), "", rp) == NULL)
        return ps_cli_fail("return-path domain '%.100s' is too long", rp);
    for (size_t i = 0; i < p->nreturn_paths; i++)
        if (strcasecmp(p->return_paths[i], name) == 0)
            return 0;
    if (p->nreturn_paths >= PS_PLAN_MAX)
        return ps_cli_fail("more than %d return-path domains", PS_PLAN_MAX);
    memcpy(p->return_paths[p->nreturn_paths++], name, sizeof(name));
    return 0;
}

static int ps_plan_return_path(ps_plan *p)
{
    const ps_conf_list *rw;
    char pattern[PS_CONF_PATTERN_MAX];
    const char *bounce;
    int rc;

    if (p->return_path_opt != NULL)
        return ps_plan_add_return_path(p, p->return_path_opt);
    if (p->conf == NULL)
        return 0;
    if (p->conf->return_path.domain.value != NULL &&
        (rc = ps_plan_add_return_path(p, p->conf->return_path.domain.value)))
        return rc;
    rw = &p->conf->return_path.rewrite;
    for (size_t i = 0; i < rw->n; i++)
        if (ps_conf_rewrite_item(rw->items[i], pattern, sizeof(pattern),
                                 &bounce) == 0 &&
            bounce != NULL && (rc = ps_plan_add_return_path(p, bounce)) != 0)
            return rc;
    return 0;
}

static int ps_plan_srs(ps_plan *p)
{
    const char *srs = p->srs_domain_opt;

    if (srs == NULL && p->conf != NULL)
        srs = p->conf->return_path.srs_domain.value;
    if (srs != NULL &&
        ps_cli_name(p->srs_domain, sizeof(p->srs_domain), "", srs) == NULL)
        return ps_cli_fail("SRS domain '%.100s' is too long", srs);
    return 0;
}

int ps_plan_srs_apart(const ps_plan *p)
{
    if (p->srs_domain[0] == '\0')
        return 0;
    for (size_t i = 0; i < p->nreturn_paths; i++)
        if (ps_cli_same_name(p->return_paths[i], p->srs_domain))
            return 0;
    return 1;
}

int ps_plan_build(ps_plan *p, const char *cmd)
{
    ps_err err = {""};
    int rc;

    if ((rc = ps_plan_check_options(p, cmd)) != 0)
        return rc;
    if (p->domain != NULL && (rc = ps_plan_add_domain(p, p->domain)) != 0)
        return rc;
    if (p->keyfile != NULL &&
        (rc = ps_plan_add_key(p, p->domain, p->selector, p->keyfile, "")))
        return rc;
    if (p->conf_path != NULL) {
        if (ps_conf_load(p->conf_path, &p->conf, &err) < 0)
            return ps_cli_fail("%s", err.msg);
        if ((rc = ps_plan_from_conf(p)) != 0)
            return rc;
    }
    if ((rc = ps_plan_return_path(p)) != 0 || (rc = ps_plan_srs(p)) != 0)
        return rc;
    return ps_plan_load_keys(p);
}

void ps_plan_free(ps_plan *p)
{
    for (size_t i = 0; i < p->nkeys; i++) {
        ps_key_free(p->keys[i].key);
        p->keys[i].key = NULL;
    }
    ps_conf_free(p->conf);
    p->conf = NULL;
}
