/* postseal.conf: one INI file for every front-end (sections [milter],
 * [keys], [signing], [return_path], [policyd], [limits]), read through
 * libinih. Unknown sections and keys are errors, reported as file:line. */
#ifndef PS_CONF_H
#define PS_CONF_H

#include <stddef.h>

#include "err.h"

#define PS_CONF_DEFAULT_PATH "/etc/postseal/postseal.conf"
#define PS_CONF_MAX_LIST     64 /* names in one comma-separated list */

/* A value and the line it came from, so later checks (a bad CIDR, a key
 * file that won't load) can still say file:line. line 0: not in the file
 * (value NULL, or the default for keys that have one). */
typedef struct ps_conf_str {
    char *value;
    int line;
} ps_conf_str;

enum { PS_MODE_SIGN = 1, PS_MODE_VERIFY = 2 };

typedef struct ps_conf_key { /* [keys] name = domain selector keyfile */
    char *name, *domain, *selector, *keyfile;
    int line;
} ps_conf_key;

typedef struct ps_conf_signing { /* [signing] pattern = key, key... */
    char *pattern;               /* "example.com" or "*.example.com" */
    char **keys;                 /* names from [keys], checked to exist */
    size_t nkeys;
    int line;
} ps_conf_signing;

typedef struct ps_conf_limit { /* [limits] KIND[:MATCH] = ... */
    char *kind;  /* sasl_username | sender_domain | client_address | exempt */
    char *match; /* NULL for the default of a kind */
    char *value; /* kept as written; the quota module parses it */
    int line;
} ps_conf_limit;

typedef struct ps_conf {
    char *path;
    struct {
        ps_conf_str socket, internal_hosts, authserv_id, resolver, keytable,
            signingtable;
        int mode; /* PS_MODE_* bits; default sign|verify */
        int mode_line;
    } milter;
    ps_conf_key *keys;
    size_t nkeys;
    ps_conf_signing *signing;
    size_t nsigning;
    struct {
        ps_conf_str domain, secret_file, srs_domain, srs_secret_file, events;
    } return_path;
    struct {
        ps_conf_str listen, store, over_quota, store_down;
        int warn_at; /* percent, default 80 */
        int warn_at_line;
    } policyd;
    ps_conf_limit *limits;
    size_t nlimits;
} ps_conf;

/* Reads and checks path. Errors: "path:line: reason", or "path: reason"
 * when the file can't be read or is over 1 MB. *out is NULL on error. */
int ps_conf_load(const char *path, ps_conf **out, ps_err *err);
/* The same from a buffer; name stands for the file in messages. */
int ps_conf_parse(const char *text, size_t len, const char *name, ps_conf **out,
                  ps_err *err);
/* The [keys] entry called name, or NULL. */
const ps_conf_key *ps_conf_find_key(const ps_conf *conf, const char *name);
void ps_conf_free(ps_conf *conf);

#endif
