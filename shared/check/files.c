/* The "does everything the config names load?" check: parsing the file
 * proves its syntax; this proves the keys, tables and secrets behind it,
 * with the config line to blame when one of them does not load. */
#include "check/check_int.h"

#include "conf/store_url.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/evhook.h"
#include "signing/signrules.h"

/* A secret file is loaded and wiped at once: only its validity matters. */
static int ps_confcheck_secrets(const ps_conf *conf, const ps_conf_str *file,
                                const char *key, ps_err *err)
{
    ps_secrets *s = NULL;
    ps_err why = {""};

    if (file->value == NULL)
        return 0;
    if (ps_secrets_load(file->value, &s, &why) < 0)
        return ps_err_set(err, "%s:%d: %s: %s", conf->path, file->line, key,
                          why.msg);
    ps_secrets_free(s);
    return 0;
}

/* Each [endpoint]'s secret or key loads as the sender will load it. */
static int ps_confcheck_endpoints(const ps_conf *conf, ps_err *err)
{
    for (size_t i = 0; i < conf->nendpoints; i++) {
        const ps_conf_endpoint *ep = &conf->endpoints[i];
        const ps_conf_str *f =
            ep->format == PS_CONF_WH_POSTAL ? &ep->key : &ep->secret;
        ps_evhook *h = NULL;
        ps_err why = {""};

        if (ps_evhook_new(ep, &h, &why) != 0)
            return ps_err_set(err, "%s:%d: [endpoint %s]: %s", conf->path,
                              f->line, ep->name, why.msg);
        ps_evhook_free(h);
    }
    return 0;
}

int ps_confcheck_loads(const ps_conf *conf, ps_err *err)
{
    ps_signrules *rules = NULL;

    if (ps_signrules_load(conf, 0, &rules, err) < 0)
        return -1;
    ps_signrules_free(rules);
    if (ps_confcheck_secrets(conf, &conf->return_path.secret_file,
                             "secret_file", err) < 0 ||
        ps_confcheck_secrets(conf, &conf->return_path.srs_secret_file,
                             "srs_secret_file", err) < 0 ||
        ps_confcheck_endpoints(conf, err) < 0 ||
        ps_store_url_check(conf, err) < 0)
        return -1;
    return 0;
}

/* Cheap, local verdicts first; loading keys and resolving hosts last. */
int ps_confcheck_run(const ps_conf *conf, ps_err *err)
{
    if (ps_confcheck_use(conf, err) != 0 ||
        ps_confcheck_loads(conf, err) != 0 ||
        ps_confcheck_paths(conf, err) != 0 ||
        ps_confcheck_users(conf, err) != 0)
        return -1;
    return 0;
}

void ps_confcheck_explain(const ps_conf *conf, ps_err *err)
{
    ps_err first = {""};

    if (ps_confcheck_run(conf, &first) != 0)
        *err = first;
}
