/* The part of postseal.conf the policy daemon lives by: [policyd]
 * settings with their defaults, and [limits] turned into rules, loaded
 * whole or not at all so a bad reload leaves the running one in force. */
#include "policyd.h"

#include "check/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ps_pd_cfg_free(ps_pd_cfg *cfg)
{
    if (cfg == NULL)
        return;
    ps_quota_rules_free(cfg->rules);
    ps_conf_free(cfg->conf);
    free(cfg);
}

static const char *ps_pd_or(const ps_conf_str *s, const char *dflt)
{
    return s->value != NULL ? s->value : dflt;
}

/* With check, the whole-file verdict `postseal check` gives comes first
 * (start, reload and -n), so no daemon runs a file the check refuses. */
int ps_pd_cfg_load(const char *path, int check, ps_pd_cfg **out, ps_err *err)
{
    ps_pd_cfg *cfg = calloc(1, sizeof(*cfg));

    *out = NULL;
    if (cfg == NULL)
        return ps_err_set(err, "out of memory");
    if (ps_conf_load(path, &cfg->conf, err) != 0 ||
        (check && ps_confcheck_run(cfg->conf, err) != 0) ||
        ps_quota_rules_build(cfg->conf, &cfg->rules, err) != 0) {
        ps_pd_cfg_free(cfg);
        return -1;
    }
    cfg->listen =
        ps_pd_or(&cfg->conf->policyd.listen, PS_POLICYD_DEFAULT_LISTEN);
    cfg->store = ps_pd_or(&cfg->conf->policyd.store, PS_POLICYD_DEFAULT_STORE);
    ps_store_url_mask(cfg->store, cfg->store_shown, sizeof(cfg->store_shown));
    cfg->over_quota =
        ps_pd_or(&cfg->conf->policyd.over_quota, "DEFER_IF_PERMIT");
    cfg->store_down = ps_pd_or(&cfg->conf->policyd.store_down, "DUNNO");
    cfg->warn_at = cfg->conf->policyd.warn_at;
    *out = cfg;
    return 0;
}

int ps_pd_cfg_probe_store(const ps_pd_cfg *cfg, ps_err *err)
{
    ps_err why = {""};
    int rc = ps_store_probe(cfg->store, &why);

    if (rc != 0)
        ps_store_url_fail(cfg->conf, cfg->store, why.msg, err);
    return rc;
}

/* "messages", "messages and bytes (size)", ...: what a reader must know
 * is charged at END-OF-MESSAGE. */
static const char *ps_pd_measures(const ps_quota_rules *r)
{
    static const char *const text[] = {
        "messages", "messages and recipients (recipient_count)",
        "messages and bytes (size)",
        "messages, recipients (recipient_count) and bytes (size)"};

    return text[ps_quota_rules_use(r, PS_QUOTA_RECIPIENTS) |
                ps_quota_rules_use(r, PS_QUOTA_BYTES) << 1];
}

/* The daemon cannot read main.cf, so -n and the startup log say what it
 * needs there: every measure is charged at END-OF-MESSAGE only. */
void ps_pd_cfg_guidance(const ps_pd_cfg *cfg, FILE *fp)
{
    const ps_quota_rules *r = cfg->rules;

    fprintf(fp,
            "main.cf needs, with check_policy_service last in each list:\n"
            "  smtpd_recipient_restrictions = ..., check_policy_service %s\n"
            "  smtpd_end_of_data_restrictions = check_policy_service %s\n",
            cfg->listen, cfg->listen);
    fprintf(fp,
            "%s are charged at END-OF-MESSAGE only: without "
            "smtpd_end_of_data_restrictions nothing is counted.\n",
            ps_pd_measures(r));
    if (r->nrules == 0)
        fprintf(fp, "note: [limits] sets no limit: every request gets "
                    "DUNNO.\n");
}
