/* Internals of the postseal.conf reader shared by conf.c (the inih driver),
 * fields.c (single-valued keys), lists.c ([keys], [signing], [limits]) and
 * values.c (value syntax). Not installed for callers. */
#ifndef PS_CONF_INT_H
#define PS_CONF_INT_H

#include <stddef.h>

#include "conf/conf.h"
#include "base/err.h"

#define PS_CONF_MAX_FILE    (1024 * 1024) /* bytes in the whole file */
#define PS_CONF_MAX_VALUE   4096          /* bytes in one value */
#define PS_CONF_MAX_NAME    256           /* bytes in one key */
#define PS_CONF_MAX_LINE    (PS_CONF_MAX_VALUE + PS_CONF_MAX_NAME + 64)
#define PS_CONF_MAX_ENTRIES 10000   /* key = value lines in the file */
#define PS_CONF_ECHO        "%.80s" /* how much of a bad value to echo */

/* fields.c: the sections that exist, one entry, end-of-file checks. */
int ps_conf_section_known(const char *section);
int ps_conf_defaults(ps_conf *conf, ps_err *err);
int ps_conf_set(ps_conf *conf, const char *section, const char *key,
                const char *value, int line, ps_err *err);
void ps_conf_free_fields(ps_conf *conf);

/* lists.c: the sections whose entries form lists. */
int ps_conf_add_key(ps_conf *conf, const char *name, const char *value,
                    int line, ps_err *err);
int ps_conf_add_signing(ps_conf *conf, const char *pattern, const char *value,
                        int line, ps_err *err);
int ps_conf_add_limit(ps_conf *conf, const char *key, const char *value,
                      int line, ps_err *err);
/* endpoint.c: the [endpoint NAME] sections. */
#define PS_CONF_ENDPOINT_PREFIX "endpoint "
int ps_conf_endpoint_section(const char *section);
int ps_conf_add_endpoint_entry(ps_conf *conf, const char *section,
                               const char *key, const char *value, int line,
                               ps_err *err);
int ps_conf_check_endpoints(const ps_conf *conf, int *line, ps_err *err);
void ps_conf_free_endpoints(ps_conf *conf);
/* Checks what needs the whole file (names used before they are defined);
 * on error *line is the line to blame. */
int ps_conf_check_refs(const ps_conf *conf, int *line, ps_err *err);
void ps_conf_free_lists(ps_conf *conf);

/* values.c: value syntax. Each returns 0, or -1 with a short reason
 * ("port must be 1..65535") the caller puts after the key and value. */
int ps_conf_check_milter_socket(const char *v, ps_err *err);
int ps_conf_check_listen(const char *v, ps_err *err);
int ps_conf_check_store(const char *v, ps_err *err);
int ps_conf_check_hosts(const char *v, ps_err *err);
int ps_conf_check_resolver(const char *v, ps_err *err);
int ps_conf_check_token(const char *v, ps_err *err);
int ps_conf_check_path(const char *v, ps_err *err);
int ps_conf_check_keytable(const char *v, ps_err *err);
int ps_conf_check_signingtable(const char *v, ps_err *err);
int ps_conf_check_domain(const char *v, ps_err *err);
int ps_conf_check_selector(const char *v, ps_err *err);
int ps_conf_check_over_quota(const char *v, ps_err *err);
int ps_conf_check_store_down(const char *v, ps_err *err);
int ps_conf_parse_mode(const char *v, int *mode, ps_err *err);
int ps_conf_parse_supp_mode(const char *v, int *mode, ps_err *err);
int ps_conf_parse_supp_scope(const char *v, int *scope, ps_err *err);
int ps_conf_parse_supp_ttl(const char *v, int *secs, ps_err *err);
int ps_conf_parse_retention(const char *v, int *secs, ps_err *err);
int ps_conf_parse_dead_retention(const char *v, int *secs, ps_err *err);
int ps_conf_parse_warn_at(const char *v, int *percent, ps_err *err);
int ps_conf_parse_ipv6_prefix(const char *v, int *bits, ps_err *err);
int ps_conf_parse_canon(const char *v, int *bits, ps_err *err);
int ps_conf_parse_max_verify(const char *v, int *n, ps_err *err);
/* 2..PS_ARC_MAX_VERIFY_LIMIT: a one-set chain needs two checks. */
int ps_conf_parse_arc_max_verify(const char *v, int *n, ps_err *err);
int ps_conf_parse_expire(const char *v, int *seconds, ps_err *err);
int ps_conf_parse_days(const char *v, int *days, ps_err *err);
int ps_conf_parse_yesno(const char *v, int *flag, ps_err *err);
int ps_conf_parse_dmarc_quarantine(const char *v, int *how, ps_err *err);
int ps_conf_parse_arc_seal(const char *v, int *which, ps_err *err);
/* runas.c: user, socket_group, socket_mode. */
int ps_conf_check_account(const char *v, ps_err *err);
int ps_conf_parse_socket_mode(const char *v, int *mode, ps_err *err);
int ps_conf_runas_defaults(ps_conf_runas *r, ps_err *err);
int ps_conf_check_domain_pattern(const char *pattern, ps_err *err);
int ps_conf_check_rewrite(const char *const *items, size_t n, ps_err *err);
/* Domain names, each as ps_conf_check_domain wants it. */
int ps_conf_check_domains(const char *const *items, size_t n, ps_err *err);
int ps_conf_check_transports(const char *const *items, size_t n, ps_err *err);
/* filters.c: [events] content_filters. */
int ps_conf_check_filters(const char *const *items, size_t n, ps_err *err);
/* Lists are checked once split (items trimmed, n may be 0). */
int ps_conf_check_sign_headers(const char *const *items, size_t n, ps_err *err);
int ps_conf_check_oversign_headers(const char *const *items, size_t n,
                                   ps_err *err);

#endif
