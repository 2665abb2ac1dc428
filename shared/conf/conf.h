/* postseal.conf: one INI file for every front-end (sections [milter],
 * [keys], [signing], [return_path], [policyd], [limits], [events]), read
 * through libinih. Unknown sections and keys are errors, reported as file:line.
 */
#ifndef PS_CONF_H
#define PS_CONF_H

#include <stddef.h>

#include "base/err.h"
#include "base/privdrop.h"

#define PS_CONF_DEFAULT_PATH  "/etc/postseal/postseal.conf"
#define PS_CONF_DEFAULT_STORE "lmdb:/var/lib/postseal/quota" /* [policyd] */
#define PS_CONF_MAX_LIST      64  /* names in one comma-separated list */
#define PS_CONF_PATTERN_MAX   258 /* "*." and a domain of 255 bytes, NUL */

/* A value and the line it came from, so later checks (a bad CIDR, a key
 * file that won't load) can still say file:line. line 0: not in the file
 * (value NULL, or the default for keys that have one). */
typedef struct ps_conf_str {
    char *value;
    int line;
} ps_conf_str;

/* A comma-separated value split into names. items is NULL when the key
 * is not in the file (the caller's default applies) and a NULL-terminated
 * array otherwise, even for an empty value (n 0: "none"). */
typedef struct ps_conf_list {
    char **items;
    size_t n;
    int line;
} ps_conf_list;

enum { PS_MODE_SIGN = 1, PS_MODE_VERIFY = 2 };
/* [milter] dmarc_quarantine: what p=quarantine does when enforced. */
enum { PS_CONF_DMARC_HOLD, PS_CONF_DMARC_HEADER };
/* [milter] arc_seal: which mail gets an ARC set (RFC 8617). */
typedef enum ps_conf_arc_seal {
    PS_CONF_ARC_SEAL_NO,        /* default */
    PS_CONF_ARC_SEAL_FORWARDED, /* mail the SRS path forwards */
    PS_CONF_ARC_SEAL_ALWAYS     /* every message the milter passes */
} ps_conf_arc_seal;
/* canonicalization bits; 0 is relaxed/relaxed, the default. */
enum { PS_CONF_CANON_HEADER_SIMPLE = 1, PS_CONF_CANON_BODY_SIMPLE = 2 };

#define PS_CONF_RETPATH_MAX_AGE 7 /* days; [return_path] max_age default */
#define PS_CONF_EVENTS_MAX_AGE  7 /* days; [events] max_age default */
/* [events] retention: seconds a delivered (or unwanted, or dropped) event
 * stays in the spool after its time; dead_retention: the same for an
 * event an endpoint gave up on (0: until `postseal events drop`). */
#define PS_CONF_EVENTS_RETENTION      (7 * 86400)
#define PS_CONF_EVENTS_DEAD_RETENTION (30 * 86400)
#define PS_CONF_SUPP_TTL                                                       \
    (30 * 86400) /* [suppression] ttl default: Postal's                        \
                  */
#define PS_CONF_SUPP_TTL_MAX (3650 * 86400)

/* [suppression] mode: what a suppressed recipient gets at RCPT. */
typedef enum ps_conf_supp_mode {
    PS_SUPP_OFF,    /* no [suppression] section, or mode = off */
    PS_SUPP_REFUSE, /* 550 5.1.1 (the default once the section is there) */
    PS_SUPP_LOG     /* DUNNO and a log line */
} ps_conf_supp_mode;

/* [suppression] scope: whose mail a suppression applies to. */
typedef enum ps_conf_supp_scope {
    PS_SUPP_SCOPE_DOMAIN,    /* the sender's domain (default) */
    PS_SUPP_SCOPE_CREDENTIAL /* the sasl_username */
} ps_conf_supp_scope;
#define PS_CONF_MAX_VERIFY_DEFAULT 5  /* DKIM signatures checked per message */
#define PS_CONF_MAX_VERIFY_LIMIT   50 /* highest max_verify accepted */
/* [milter] arc_max_verify: ARC signature checks (and so key lookups and
 * body hashes) per message; the core's numbers (arc/arc.h, checked equal
 * in values.c) */
#define PS_CONF_ARC_MAX_VERIFY_DEFAULT 12
#define PS_CONF_ARC_MAX_VERIFY_LIMIT   100
#define PS_CONF_IPV6_PREFIX            64 /* [policyd] ipv6_prefix default */
/* [milter] internal_hosts when the file has no such line */
#define PS_CONF_INTERNAL_HOSTS "127.0.0.0/8, ::1"

#define PS_CONF_USER        "postseal" /* user default in [milter], [policyd] */
#define PS_CONF_SOCKET_MODE 0660       /* socket_mode default */

/* Whom a daemon runs as and who may reach its unix socket. */
typedef struct ps_conf_runas {
    ps_conf_str user;         /* default PS_CONF_USER; "root" keeps root */
    ps_conf_str socket_group; /* NULL: the user's own group */
    int socket_mode;          /* permission bits, default 0660 */
    int socket_mode_line;
} ps_conf_runas;

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

/* The kinds a [limits] key or an exempt item names, in the order of the
 * quota module's ps_quota_kind. */
enum {
    PS_CONF_LIMIT_SASL,   /* sasl_username */
    PS_CONF_LIMIT_DOMAIN, /* sender_domain */
    PS_CONF_LIMIT_CLIENT, /* client_address */
    PS_CONF_LIMIT_NKINDS
};

typedef struct ps_conf_limit { /* [limits] KIND[:MATCH] = ... */
    char *kind;  /* sasl_username | sender_domain | client_address | exempt */
    char *match; /* NULL for the default of a kind */
    char *value; /* kept as written; the quota module parses it */
    int line;
} ps_conf_limit;

/* [endpoint NAME] format: how the webhooks are shaped and signed. */
typedef enum ps_conf_wh_format {
    PS_CONF_WH_STANDARD, /* Standard Webhooks, a whsec_ secret (default) */
    PS_CONF_WH_POSTAL    /* Postal's names, payload and RSA signatures */
} ps_conf_wh_format;

#define PS_CONF_ENDPOINT_TIMEOUT     30 /* seconds per POST, default */
#define PS_CONF_ENDPOINT_CONCURRENCY 4  /* POSTs in flight, default */
#define PS_CONF_ENDPOINT_MAX_CONC    64 /* highest concurrency accepted */
#define PS_CONF_ENDPOINT_RETRY_FIRST 60 /* seconds, retry_first default */

/* [endpoint NAME] start: where an endpoint without a state file (new, or
 * removed and added again) starts reading the spool. */
typedef enum ps_conf_ep_start {
    PS_CONF_START_NOW,      /* at the spool's end: only events from now */
    PS_CONF_START_BEGINNING /* every event the spool still holds */
} ps_conf_ep_start;

/* [endpoint NAME]: one application that receives delivery events. */
typedef struct ps_conf_endpoint {
    char *name;
    int line; /* of its first entry: where errors about it point */
    ps_conf_str url, secret, key, ca_file;
    unsigned events; /* bit (1u << ps_event_kind) per wanted kind */
    int events_line;
    int for_kind;    /* PS_CONF_LIMIT_SASL or _DOMAIN; -1: all mail */
    char *for_match; /* the credential or the domain; NULL for all */
    int for_line;
    int format; /* ps_conf_wh_format */
    int format_line;
    int timeout; /* seconds */
    int timeout_line;
    int concurrency;
    int concurrency_line;
    int retry_first; /* seconds before the first retry; then doubling */
    int retry_first_line;
    int start; /* ps_conf_ep_start: where a new endpoint starts reading */
    int start_line;
} ps_conf_endpoint;

typedef struct ps_conf {
    char *path;
    struct {
        ps_conf_str socket, internal_hosts, authserv_id, resolver, keytable,
            signingtable, metrics;
        int mode; /* PS_MODE_* bits; default sign|verify */
        int mode_line;
        int canonicalization; /* PS_CONF_CANON_* bits */
        int canonicalization_line;
        ps_conf_list sign_headers;     /* NULL items: the core's defaults */
        ps_conf_list oversign_headers; /* n 0: oversigning turned off */
        int max_verify;                /* 1..PS_CONF_MAX_VERIFY_LIMIT */
        int max_verify_line;
        int signature_expire; /* seconds from t= to x=; 0: no x= */
        int signature_expire_line;
        int dmarc; /* 1 (default): DMARC evaluated in verify mode */
        int dmarc_line;
        int dmarc_enforce; /* 1: p=/sp= honoured; default 0 */
        int dmarc_enforce_line;
        int dmarc_quarantine; /* PS_CONF_DMARC_HOLD (default) or _HEADER */
        int dmarc_quarantine_line;
        ps_conf_str dmarc_trusted_forwarders; /* CIDRs never enforced */
        int arc_seal;                         /* ps_conf_arc_seal */
        int arc_seal_line;
        ps_conf_str arc_seal_key; /* a [keys] name; needed unless arc_seal no */
        ps_conf_str dmarc_history; /* directory of DMARC records, or NULL */
        int arc; /* 1 (default): ARC chains validated in verify mode */
        int arc_line;
        ps_conf_list arc_trusted_sealers; /* sealer d= that may vouch */
        int arc_max_verify; /* signature checks per message (arc/arc.h) */
        int arc_max_verify_line;
        ps_conf_runas runas;
    } milter;
    ps_conf_key *keys;
    size_t nkeys;
    ps_conf_signing *signing;
    size_t nsigning;
    struct {
        ps_conf_str domain, secret_file, srs_domain, srs_secret_file, events;
        ps_conf_list rewrite;          /* sender domains given return paths */
        ps_conf_list local_transports; /* NULL items: local, virtual, lmtp */
        int max_age;                   /* days a return path is accepted */
        int max_age_line;
        int discard_bounces; /* 1: a recognised bounce is not delivered */
        int discard_bounces_line;
    } return_path;
    struct {
        ps_conf_str listen, store, over_quota, store_down, metrics;
        int warn_at; /* percent, default 80 */
        int warn_at_line;
        ps_conf_runas runas;
        int ipv6_prefix; /* bits: IPv6 clients share a counter per network */
        int ipv6_prefix_line;
    } policyd;
    struct {
        /* dir: the milter's accepted-message records and the event spool;
         * maillog: Postfix's log, followed by postseal-policyd */
        ps_conf_str dir, maillog;
        int max_age; /* days accepted-message records are kept */
        int max_age_line;
        int retention; /* seconds, PS_CONF_EVENTS_RETENTION */
        int retention_line;
        int dead_retention; /* seconds; 0: dead events kept until dropped */
        int dead_retention_line;
        /* local content filters (ps_conf_filter_parse): a delivery to one
         * is a hand-off, its outcomes are the re-injected message's */
        ps_conf_list content_filters;
    } events;
    struct {
        /* "postseal dmarc report": who reports, and the MTA's sendmail */
        ps_conf_str org_name, email, sendmail, resolver;
    } dmarc_report;
    struct {
        /* A recipient that failed permanently is refused at RCPT for a
         * while (policyd/suppress.h); off unless the section is present. */
        int mode; /* ps_conf_supp_mode */
        int mode_line;
        int scope; /* ps_conf_supp_scope */
        int scope_line;
        int ttl; /* seconds */
        int ttl_line;
        int seen; /* the section is in the file */
    } suppression;
    ps_conf_limit *limits;
    size_t nlimits;
    ps_conf_endpoint *endpoints;
    size_t nendpoints;
    /* 1: the file has a [policyd] or [limits] section, so the policy
     * daemon's defaults (its store) are checked as well as what is set. */
    int uses_policyd;
    int uses_milter; /* a section only the milter reads */
} ps_conf;

/* Reads and checks path. Errors: "path:line: reason", or "path: reason"
 * when the file can't be read or is over 1 MB. *out is NULL on error. */
int ps_conf_load(const char *path, ps_conf **out, ps_err *err);
/* The same from a buffer; name stands for the file in messages. */
int ps_conf_parse(const char *text, size_t len, const char *name, ps_conf **out,
                  ps_err *err);
/* The [keys] entry called name, or NULL. */
const ps_conf_key *ps_conf_find_key(const ps_conf *conf, const char *name);
/* Splits a [return_path] rewrite item, "PATTERN" or "PATTERN=BOUNCE", into
 * pattern (copied) and *bounce (pointing into item, NULL when absent: the
 * [return_path] domain serves). -1 when pattern does not fit. */
int ps_conf_rewrite_item(const char *item, char *pattern, size_t size,
                         const char **bounce);
/* The [milter] or [policyd] settings as the core's privilege drop takes
 * them (pointers into conf; section names the section in messages). */
void ps_conf_runas_spec(const ps_conf *conf, const ps_conf_runas *r,
                        const char *section, ps_priv_spec *spec);
/* The drop plan for that section: ps_priv_plan_make on its spec. */
int ps_conf_runas_plan(const ps_conf *conf, const ps_conf_runas *r,
                       const char *section, ps_priv_plan *plan, ps_err *err);
/* The one parser of "KIND[:MATCH]" ([limits] keys, exempt items): *kind
 * receives PS_CONF_LIMIT_*, *match where MATCH starts in text (NULL
 * without one). */
int ps_conf_limit_kind(const char *text, int *kind, const char **match,
                       ps_err *err);
/* The one parser of an OpenDKIM data set as keytable and signingtable
 * name it: "file:PATH", "refile:PATH" (wildcard patterns) or "PATH".
 * *path points into spec; *refile is 1 for "refile:". */
void ps_conf_table_spec(const char *spec, const char **path, int *refile);
/* The name of a PS_CONF_LIMIT_* kind ("?" out of range). */
const char *ps_conf_limit_kind_name(int kind);
/* Calls fn with each trimmed item of a comma-separated list, as every
 * list of the file is split; an empty item is an error. */
typedef int (*ps_conf_each_fn)(const char *item, void *arg, ps_err *err);
int ps_conf_each_item(const char *list, ps_conf_each_fn fn, void *arg,
                      ps_err *err);
/* The [endpoint NAME] entry called name, or NULL. */
const ps_conf_endpoint *ps_conf_find_endpoint(const ps_conf *conf,
                                              const char *name);
/* 1 if ep wants an event of this kind (ps_event_kind) about mail from
 * this sender and credential (NULL or "" when none). */
int ps_conf_endpoint_wants(const ps_conf_endpoint *ep, int kind,
                           const char *sender, const char *credential);
/* A deep copy of an endpoint, for a daemon that outlives its conf (0, or
 * -1 out of memory with dst cleared); clear frees its strings. */
int ps_conf_endpoint_copy(ps_conf_endpoint *dst, const ps_conf_endpoint *src);
void ps_conf_endpoint_clear(ps_conf_endpoint *ep);
void ps_conf_free(ps_conf *conf);

/* One [events] content_filters item: an IP address and a port. */
typedef struct ps_conf_filter {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned port;
} ps_conf_filter;
/* "ADDR:PORT" (IPv4) or "[IPv6]:PORT" into out; -1 with a reason. */
int ps_conf_filter_parse(const char *item, ps_conf_filter *out, ps_err *err);
/* 1 when addr (an IP address as text, no brackets) and port are one of
 * set[0..n). */
int ps_conf_filter_match(const ps_conf_filter *set, size_t n, const char *addr,
                         unsigned port);

/* The checks of [dmarc_report] org_name and email, for the command-line
 * options that give the same values: printable ASCII text of at most 255
 * bytes; a plain address local@domain. */
int ps_conf_check_text(const char *v, ps_err *err);
int ps_conf_check_email(const char *v, ps_err *err);

#endif
