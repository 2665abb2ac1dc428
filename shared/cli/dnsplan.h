/* Which records "postseal dns" prints and "postseal dns check" looks up:
 * the domains, their DKIM keys (from --key or a postseal.conf), the
 * return-path domain and the SRS domain, built from the options both
 * commands share. */
#ifndef PS_DNSPLAN_H
#define PS_DNSPLAN_H

#include <stddef.h>

#include "conf/conf.h"
#include "crypto/keys.h"

#define PS_PLAN_MAX   64  /* keys or domains in one run */
#define PS_PLAN_NAME  256 /* a DNS name and its NUL */
#define PS_PLAN_WHERE 320 /* "FILE:LINE: key 'name': " */

/* The options shared by both commands, as getopt_long returns them. */
enum {
    PS_PLAN_OPT_DOMAIN = 'd',
    PS_PLAN_OPT_SELECTOR = 's',
    PS_PLAN_OPT_KEY = 'k',
    PS_PLAN_OPT_CONF = 'c',
    PS_PLAN_OPT_RETURN_PATH = 'r',
    PS_PLAN_OPT_SRS_DOMAIN = 300, /* long option only */
};

#define PS_PLAN_LONGOPTS                                                       \
    {"domain", required_argument, NULL, PS_PLAN_OPT_DOMAIN},                   \
        {"selector", required_argument, NULL, PS_PLAN_OPT_SELECTOR},           \
        {"key", required_argument, NULL, PS_PLAN_OPT_KEY},                     \
        {"config", required_argument, NULL, PS_PLAN_OPT_CONF},                 \
        {"return-path", required_argument, NULL, PS_PLAN_OPT_RETURN_PATH},     \
        {"srs-domain", required_argument, NULL, PS_PLAN_OPT_SRS_DOMAIN},       \
    {                                                                          \
        "help", no_argument, NULL, 'h'                                         \
    }
#define PS_PLAN_SHORTOPTS "d:s:k:c:r:h"

typedef struct ps_plan_key {
    char domain[PS_PLAN_NAME]; /* without a trailing dot */
    const char *selector, *keyfile;
    char where[PS_PLAN_WHERE]; /* "" for --key, else config file:line */
    ps_key *key;
} ps_plan_key;

typedef struct ps_plan {
    /* set from the options */
    const char *domain, *selector, *keyfile, *conf_path, *return_path_opt;
    const char *srs_domain_opt;
    /* set by ps_plan_build */
    ps_conf *conf;
    char domains[PS_PLAN_MAX][PS_PLAN_NAME]; /* without a trailing dot */
    size_t ndomains;
    ps_plan_key keys[PS_PLAN_MAX];
    size_t nkeys;
    /* bounce domains: --return-path, or [return_path] domain and those
     * rewrite items name */
    char return_paths[PS_PLAN_MAX][PS_PLAN_NAME];
    size_t nreturn_paths;
    /* --srs-domain or [return_path] srs_domain ("" if none): forwarded
     * mail leaves with MAIL FROM on it, so it needs an MX and SPF too */
    char srs_domain[PS_PLAN_NAME];
} ps_plan;

/* 1 if the SRS domain needs records of its own (set, and not one of the
 * return-path domains, whose MX and SPF already serve it). */
int ps_plan_srs_apart(const ps_plan *p);

/* 1 if ch was one of the shared options (stored in p), 0 if not. */
int ps_plan_option(ps_plan *p, int ch, const char *arg);

/* Checks the options, reads the config (if any) and loads every key.
 * On error prints one line and returns PS_EXIT_USAGE; cmd names the
 * command in messages. */
int ps_plan_build(ps_plan *p, const char *cmd);

void ps_plan_free(ps_plan *p);

#endif
