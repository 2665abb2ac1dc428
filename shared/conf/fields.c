/* The single-valued keys of postseal.conf as one table (section, key, where
 * the value goes, how it is checked): a new key is one line here plus its
 * field in conf.h, its man page entry and its line in the example file. */
#include "conf/conf_int.h"
#include "conf/store_url.h"
#include "base/secfile.h"

#include <stdlib.h>
#include <string.h>

typedef int (*ps_conf_check_fn)(const char *value, ps_err *err);
typedef int (*ps_conf_parse_fn)(const char *value, int *num, ps_err *err);
typedef int (*ps_conf_items_fn)(const char *const *items, size_t n,
                                ps_err *err);

/* Exactly one of check, parse and items is set; it says the kind. */
typedef struct ps_conf_field {
    const char *section, *key;
    ps_conf_check_fn check; /* kept as a ps_conf_str at `at` */
    ps_conf_parse_fn parse; /* or: converted into the int at `at` */
    ps_conf_items_fn items; /* or: split into the ps_conf_list at `at` */
    size_t at;
    size_t line_at; /* parse only: the int holding its line */
} ps_conf_field;

/* clang-format off */
#define PS_STR(sec, key, field, fn) \
    {sec, key, fn, NULL, NULL, offsetof(ps_conf, field), 0}
#define PS_NUM(sec, key, field, fn) \
    {sec, key, NULL, fn, NULL, offsetof(ps_conf, field), \
     offsetof(ps_conf, field##_line)}
#define PS_LIST(sec, key, field, fn) \
    {sec, key, NULL, NULL, fn, offsetof(ps_conf, field), 0}
/* clang-format on */

static const ps_conf_field ps_conf_fields[] = {
    PS_STR("milter", "socket", milter.socket, ps_conf_check_milter_socket),
    PS_NUM("milter", "mode", milter.mode, ps_conf_parse_mode),
    PS_STR("milter", "metrics", milter.metrics, ps_conf_check_listen),
    PS_STR("milter", "internal_hosts", milter.internal_hosts,
           ps_conf_check_hosts),
    PS_STR("milter", "authserv_id", milter.authserv_id, ps_conf_check_token),
    PS_STR("milter", "resolver", milter.resolver, ps_conf_check_resolver),
    PS_STR("milter", "keytable", milter.keytable, ps_conf_check_keytable),
    PS_STR("milter", "signingtable", milter.signingtable,
           ps_conf_check_signingtable),
    PS_NUM("milter", "canonicalization", milter.canonicalization,
           ps_conf_parse_canon),
    PS_LIST("milter", "sign_headers", milter.sign_headers,
            ps_conf_check_sign_headers),
    PS_LIST("milter", "oversign_headers", milter.oversign_headers,
            ps_conf_check_oversign_headers),
    PS_NUM("milter", "max_verify", milter.max_verify, ps_conf_parse_max_verify),
    PS_NUM("milter", "signature_expire", milter.signature_expire,
           ps_conf_parse_expire),
    PS_NUM("milter", "dmarc", milter.dmarc, ps_conf_parse_yesno),
    PS_NUM("milter", "dmarc_enforce", milter.dmarc_enforce,
           ps_conf_parse_yesno),
    PS_NUM("milter", "dmarc_quarantine", milter.dmarc_quarantine,
           ps_conf_parse_dmarc_quarantine),
    PS_STR("milter", "dmarc_trusted_forwarders",
           milter.dmarc_trusted_forwarders, ps_conf_check_hosts),
    PS_NUM("milter", "arc_seal", milter.arc_seal, ps_conf_parse_arc_seal),
    PS_STR("milter", "arc_seal_key", milter.arc_seal_key, ps_conf_check_token),
    PS_STR("milter", "dmarc_history", milter.dmarc_history, ps_conf_check_path),
    PS_NUM("milter", "arc", milter.arc, ps_conf_parse_yesno),
    PS_LIST("milter", "arc_trusted_sealers", milter.arc_trusted_sealers,
            ps_conf_check_domains),
    PS_NUM("milter", "arc_max_verify", milter.arc_max_verify,
           ps_conf_parse_arc_max_verify),
    PS_STR("milter", "user", milter.runas.user, ps_conf_check_account),
    PS_STR("milter", "socket_group", milter.runas.socket_group,
           ps_conf_check_account),
    PS_NUM("milter", "socket_mode", milter.runas.socket_mode,
           ps_conf_parse_socket_mode),
    PS_STR("return_path", "domain", return_path.domain, ps_conf_check_domain),
    PS_STR("return_path", "secret_file", return_path.secret_file,
           ps_conf_check_path),
    PS_STR("return_path", "srs_domain", return_path.srs_domain,
           ps_conf_check_domain),
    PS_STR("return_path", "srs_secret_file", return_path.srs_secret_file,
           ps_conf_check_path),
    PS_STR("return_path", "events", return_path.events, ps_conf_check_path),
    PS_LIST("return_path", "rewrite", return_path.rewrite,
            ps_conf_check_rewrite),
    PS_NUM("return_path", "max_age", return_path.max_age, ps_conf_parse_days),
    PS_NUM("return_path", "discard_bounces", return_path.discard_bounces,
           ps_conf_parse_yesno),
    PS_LIST("return_path", "local_transports", return_path.local_transports,
            ps_conf_check_transports),
    PS_STR("policyd", "listen", policyd.listen, ps_conf_check_listen),
    PS_STR("policyd", "store", policyd.store, ps_conf_check_store),
    PS_STR("policyd", "metrics", policyd.metrics, ps_conf_check_listen),
    PS_STR("policyd", "over_quota", policyd.over_quota,
           ps_conf_check_over_quota),
    PS_STR("policyd", "store_down", policyd.store_down,
           ps_conf_check_store_down),
    PS_NUM("policyd", "warn_at", policyd.warn_at, ps_conf_parse_warn_at),
    PS_STR("policyd", "user", policyd.runas.user, ps_conf_check_account),
    PS_STR("policyd", "socket_group", policyd.runas.socket_group,
           ps_conf_check_account),
    PS_NUM("policyd", "socket_mode", policyd.runas.socket_mode,
           ps_conf_parse_socket_mode),
    PS_NUM("policyd", "ipv6_prefix", policyd.ipv6_prefix,
           ps_conf_parse_ipv6_prefix),
    PS_STR("events", "dir", events.dir, ps_conf_check_path),
    PS_STR("events", "maillog", events.maillog, ps_conf_check_path),
    PS_NUM("events", "max_age", events.max_age, ps_conf_parse_days),
    PS_NUM("events", "retention", events.retention, ps_conf_parse_retention),
    PS_NUM("events", "dead_retention", events.dead_retention,
           ps_conf_parse_dead_retention),
    PS_LIST("events", "content_filters", events.content_filters,
            ps_conf_check_filters),
    PS_STR("dmarc_report", "org_name", dmarc_report.org_name,
           ps_conf_check_text),
    PS_STR("dmarc_report", "email", dmarc_report.email, ps_conf_check_email),
    PS_STR("dmarc_report", "sendmail", dmarc_report.sendmail,
           ps_conf_check_path),
    PS_STR("dmarc_report", "resolver", dmarc_report.resolver,
           ps_conf_check_resolver),
    PS_NUM("suppression", "mode", suppression.mode, ps_conf_parse_supp_mode),
    PS_NUM("suppression", "scope", suppression.scope, ps_conf_parse_supp_scope),
    PS_NUM("suppression", "ttl", suppression.ttl, ps_conf_parse_supp_ttl),
};

/* Sections whose entries are lists, handled in conf_lists.c. */
static const char *const ps_conf_list_sections[] = {"keys", "signing",
                                                    "limits"};

#define PS_NELEM(a) (sizeof(a) / sizeof((a)[0]))

int ps_conf_section_known(const char *section)
{
    if (ps_conf_endpoint_section(section))
        return 1;
    for (size_t i = 0; i < PS_NELEM(ps_conf_list_sections); i++)
        if (strcmp(section, ps_conf_list_sections[i]) == 0)
            return 1;
    for (size_t i = 0; i < PS_NELEM(ps_conf_fields); i++)
        if (strcmp(section, ps_conf_fields[i].section) == 0)
            return 1;
    return 0;
}

static int ps_conf_set_default(ps_conf_str *s, const char *value, ps_err *err)
{
    s->value = strdup(value);
    s->line = 0;
    return s->value == NULL ? ps_err_set(err, "out of memory") : 0;
}

int ps_conf_defaults(ps_conf *conf, ps_err *err)
{
    conf->milter.mode = PS_MODE_SIGN | PS_MODE_VERIFY;
    conf->milter.max_verify = PS_CONF_MAX_VERIFY_DEFAULT;
    conf->milter.dmarc = 1;
    conf->milter.arc = 1;
    conf->milter.arc_max_verify = PS_CONF_ARC_MAX_VERIFY_DEFAULT;
    conf->policyd.warn_at = 80;
    conf->policyd.ipv6_prefix = PS_CONF_IPV6_PREFIX;
    conf->return_path.max_age = PS_CONF_RETPATH_MAX_AGE;
    conf->events.max_age = PS_CONF_EVENTS_MAX_AGE;
    conf->events.retention = PS_CONF_EVENTS_RETENTION;
    conf->events.dead_retention = PS_CONF_EVENTS_DEAD_RETENTION;
    conf->suppression.ttl = PS_CONF_SUPP_TTL;
    if (ps_conf_runas_defaults(&conf->milter.runas, err) != 0 ||
        ps_conf_runas_defaults(&conf->policyd.runas, err) != 0)
        return -1;
    /* Mail from sendmail(1) and cron on the host itself is signed unless
     * the file says otherwise (OpenDKIM's InternalHosts default). */
    if (ps_conf_set_default(&conf->milter.internal_hosts,
                            PS_CONF_INTERNAL_HOSTS, err) != 0 ||
        ps_conf_set_default(&conf->policyd.over_quota, "DEFER_IF_PERMIT",
                            err) != 0)
        return -1;
    return ps_conf_set_default(&conf->policyd.store_down, "DUNNO", err);
}

static const ps_conf_field *ps_conf_field_find(const char *section,
                                               const char *key)
{
    for (size_t i = 0; i < PS_NELEM(ps_conf_fields); i++)
        if (strcmp(section, ps_conf_fields[i].section) == 0 &&
            strcmp(key, ps_conf_fields[i].key) == 0)
            return &ps_conf_fields[i];
    return NULL;
}

static int ps_conf_repeated(const ps_conf_field *f, int first, ps_err *err)
{
    return ps_err_set(err, "repeated key '%s' in [%s] (first on line %d)",
                      f->key, f->section, first);
}

/* A store setting may hold a password: it is echoed masked. */
static int ps_conf_bad(const ps_conf_field *f, const char *value,
                       const ps_err *why, ps_err *err)
{
    char shown[PS_STORE_URL_SHOWN];

    if (f->check == ps_conf_check_store)
        ps_store_url_mask(value, shown, sizeof(shown));
    return ps_err_set(err, "bad %s '" PS_CONF_ECHO "': %s", f->key,
                      f->check == ps_conf_check_store ? shown : value,
                      why->msg);
}

/* A key that was already set is an error, since two values for one
 * setting would leave the reader guessing which one counts. */
static int ps_conf_set_str(ps_conf *conf, const ps_conf_field *f,
                           const char *value, int line, ps_err *err)
{
    ps_conf_str *str = (ps_conf_str *)((char *)conf + f->at);
    ps_err why = {""};
    char *copy;

    if (str->line != 0)
        return ps_conf_repeated(f, str->line, err);
    if (f->check(value, &why) != 0)
        return ps_conf_bad(f, value, &why, err);
    if ((copy = strdup(value)) == NULL)
        return ps_err_set(err, "out of memory");
    free(str->value); /* a default, when there was one */
    str->value = copy;
    str->line = line;
    return 0;
}

static int ps_conf_set_num(ps_conf *conf, const ps_conf_field *f,
                           const char *value, int line, ps_err *err)
{
    int *num = (int *)((char *)conf + f->at);
    int *seen = (int *)((char *)conf + f->line_at);
    ps_err why = {""};

    if (*seen != 0)
        return ps_conf_repeated(f, *seen, err);
    if (f->parse(value, num, &why) != 0)
        return ps_conf_bad(f, value, &why, err);
    *seen = line;
    return 0;
}

static void ps_conf_list_clear(ps_conf_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int ps_conf_list_item(const char *item, void *arg, ps_err *err)
{
    ps_conf_list *l = arg;

    if ((l->items[l->n] = strdup(item)) == NULL)
        return ps_err_set(err, "out of memory");
    l->n++;
    return 0;
}

/* Always a NULL-terminated array, even for "", since a present but empty
 * list ("oversign_headers =") means none, not the default. */
static int ps_conf_list_split(ps_conf_list *l, const char *value, ps_err *err)
{
    l->items = calloc(PS_CONF_MAX_LIST + 1, sizeof(*l->items));
    if (l->items == NULL)
        return ps_err_set(err, "out of memory");
    if (*value == '\0')
        return 0;
    return ps_conf_each_item(value, ps_conf_list_item, l, err);
}

static int ps_conf_set_list(ps_conf *conf, const ps_conf_field *f,
                            const char *value, int line, ps_err *err)
{
    ps_conf_list *l = (ps_conf_list *)((char *)conf + f->at);
    ps_err why = {""};

    if (l->line != 0)
        return ps_conf_repeated(f, l->line, err);
    if (ps_conf_list_split(l, value, &why) != 0 ||
        f->items((const char *const *)l->items, l->n, &why) != 0) {
        ps_conf_list_clear(l);
        return ps_conf_bad(f, value, &why, err);
    }
    l->line = line;
    return 0;
}

int ps_conf_set(ps_conf *conf, const char *section, const char *key,
                const char *value, int line, ps_err *err)
{
    const ps_conf_field *f = ps_conf_field_find(section, key);

    /* Only a list may be empty: "none" is a setting there. */
    if (*value == '\0' && (f == NULL || f->items == NULL))
        return ps_err_set(err, "empty value for '%s' in [%s]", key, section);
    if (strcmp(section, "keys") == 0)
        return ps_conf_add_key(conf, key, value, line, err);
    if (strcmp(section, "signing") == 0)
        return ps_conf_add_signing(conf, key, value, line, err);
    if (strcmp(section, "limits") == 0)
        return ps_conf_add_limit(conf, key, value, line, err);
    if (ps_conf_endpoint_section(section))
        return ps_conf_add_endpoint_entry(conf, section, key, value, line, err);
    if (f == NULL)
        return ps_err_set(err, "unknown key '%s' in [%s]", key, section);
    if (f->check != NULL)
        return ps_conf_set_str(conf, f, value, line, err);
    if (f->items != NULL)
        return ps_conf_set_list(conf, f, value, line, err);
    return ps_conf_set_num(conf, f, value, line, err);
}

/* Wiped: a value may hold a secret (the store's Redis password). */
static void ps_conf_str_free(char *value)
{
    if (value != NULL)
        ps_wipe(value, strlen(value));
    free(value);
}

void ps_conf_free_fields(ps_conf *conf)
{
    char *base = (char *)conf;

    for (size_t i = 0; i < PS_NELEM(ps_conf_fields); i++)
        if (ps_conf_fields[i].check != NULL)
            ps_conf_str_free(
                ((ps_conf_str *)(base + ps_conf_fields[i].at))->value);
        else if (ps_conf_fields[i].items != NULL)
            ps_conf_list_clear((ps_conf_list *)(base + ps_conf_fields[i].at));
}
