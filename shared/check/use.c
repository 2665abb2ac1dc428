/* What the file asks for must be able to happen: every [limits] entry
 * becomes a rule through the policy daemon's own builder, and a milter
 * told to sign has something to sign with. */
#include "check/check_int.h"

#include "base/privdrop.h"
#include "quota/quota_rules.h"

/* The one parser of [limits] values is the quota module's: the check
 * builds the rules exactly as postseal-policyd does at start and reload. */
static int ps_check_limits(const ps_conf *conf, ps_err *err)
{
    ps_quota_rules *rules = NULL;

    if (ps_quota_rules_build(conf, &rules, err) != 0)
        return -1;
    ps_quota_rules_free(rules);
    return 0;
}

/* mode = sign written without any rule that picks a key would start a
 * milter that never signs: an admin who wrote "sign" meant it, so this is
 * an error. The default mode (sign,verify, not written) stays quiet: a
 * file for verifying or for the policy daemon alone needs no keys. */
static int ps_check_sign_mode(const ps_conf *conf, ps_err *err)
{
    if (conf->milter.mode_line == 0 || !(conf->milter.mode & PS_MODE_SIGN) ||
        conf->nsigning > 0 || conf->milter.signingtable.value != NULL)
        return 0;
    return ps_err_set(err,
                      "%s:%d: mode includes sign, but no [signing] rule "
                      "or signingtable names a key: nothing would be signed",
                      conf->path, conf->milter.mode_line);
}

/* Started as root, a daemon becomes its section's user (default
 * postseal): that user must exist. Checked only as root, as the daemons
 * do; a daemon already running as that user passes. */
static int ps_check_user(const ps_conf *conf, const ps_conf_runas *r,
                         const char *section, ps_err *err)
{
    ps_priv_plan plan;

    return ps_conf_runas_plan(conf, r, section, &plan, err);
}

int ps_confcheck_use(const ps_conf *conf, ps_err *err)
{
    if (ps_check_limits(conf, err) != 0 || ps_check_sign_mode(conf, err) != 0)
        return -1;
    return 0;
}

int ps_confcheck_users(const ps_conf *conf, ps_err *err)
{
    if (conf->uses_milter &&
        ps_check_user(conf, &conf->milter.runas, "milter", err) != 0)
        return -1;
    if (conf->uses_policyd &&
        ps_check_user(conf, &conf->policyd.runas, "policyd", err) != 0)
        return -1;
    return 0;
}
