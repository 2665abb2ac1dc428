/* The syntax of postseal.conf values, checked at load time so a typo fails
 * `postseal check` and `-n` with file:line instead of surfacing at the
 * first message. A grammar another part owns (sockets, networks, the
 * resolver, DKIM header lists) is checked by calling that part's parser. */
#include "conf/conf_int.h"

#include <stdlib.h>
#include <string.h>

#include "arc/arc.h"
#include "base/cidr.h"
#include "conf/listen.h"
#include "dkim/dkim_int.h"
#include "conf/store_url.h"
#include "dns/dns.h"
#include "dns/dnsname.h"

#define PS_CONF_MAX_PATH 4095

static int ps_conf_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *ps_conf_trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

/* Items are cut out of a stack copy, so the callback sees each trimmed
 * item NUL-terminated without any allocation. */
int ps_conf_each_item(const char *list, ps_conf_each_fn fn, void *arg,
                      ps_err *err)
{
    char buf[PS_CONF_MAX_VALUE + 1], *item, *next;
    size_t n = 0;

    if (strlen(list) > PS_CONF_MAX_VALUE)
        return ps_err_set(err, "list longer than %d bytes", PS_CONF_MAX_VALUE);
    strcpy(buf, list);
    for (item = buf; item != NULL; item = next) {
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        item = ps_conf_trim(item);
        if (*item == '\0')
            return ps_err_set(err, "empty item in comma-separated list");
        if (++n > PS_CONF_MAX_LIST)
            return ps_err_set(err, "more than %d items in one list",
                              PS_CONF_MAX_LIST);
        if (fn(item, arg, err) != 0)
            return -1;
    }
    return 0;
}

/* Sockets, networks and the resolver each have one parser in the core,
 * which the daemons call again when they bind, match or query. */
int ps_conf_check_milter_socket(const char *v, ps_err *err)
{
    ps_listen l;

    return ps_listen_parse_milter(v, &l, err);
}

int ps_conf_check_listen(const char *v, ps_err *err)
{
    ps_listen l;

    return ps_listen_parse(v, &l, err);
}

/* The grammar lives in store_url.c, with the daemon's and the CLI's. */
int ps_conf_check_store(const char *v, ps_err *err)
{
    ps_store_url u;
    int rc = ps_store_url_parse(v, &u, err);

    ps_store_url_wipe(&u);
    return rc;
}

int ps_conf_check_hosts(const char *v, ps_err *err)
{
    ps_cidr_list *list = malloc(sizeof(*list));
    int rc;

    if (list == NULL)
        return ps_err_set(err, "out of memory");
    rc = ps_cidr_parse(v, list, err);
    free(list);
    return rc;
}

int ps_conf_check_resolver(const char *v, ps_err *err)
{
    ps_dns_server server;

    return ps_dns_server_parse(v, &server, err);
}

/* An RFC 2045 token: what an authserv-id may be without quoting. */
int ps_conf_check_token(const char *v, ps_err *err)
{
    size_t n = strlen(v);

    if (n > 255)
        return ps_err_set(err, "longer than 255 bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
            return ps_err_set(err, "character '%c' not allowed", c);
    }
    return 0;
}

/* Daemons change directory, so a relative path would change meaning. */
int ps_conf_check_path(const char *v, ps_err *err)
{
    if (*v != '/')
        return ps_err_set(err, "must be an absolute path");
    if (strlen(v) > PS_CONF_MAX_PATH)
        return ps_err_set(err, "path longer than %d bytes", PS_CONF_MAX_PATH);
    if (strpbrk(v, " \t") != NULL)
        return ps_err_set(err, "spaces are not allowed in paths");
    return 0;
}

void ps_conf_table_spec(const char *spec, const char **path, int *refile)
{
    *refile = ps_conf_starts(spec, "refile:");
    *path = *refile                         ? spec + 7
            : ps_conf_starts(spec, "file:") ? spec + 5
                                            : spec;
}

/* A KeyTable is a plain file: names are looked up exactly. */
int ps_conf_check_keytable(const char *v, ps_err *err)
{
    const char *path;
    int refile;

    ps_conf_table_spec(v, &path, &refile);
    if (refile)
        return ps_err_set(err, "a KeyTable cannot be a refile:");
    return ps_conf_check_path(path, err);
}

int ps_conf_check_signingtable(const char *v, ps_err *err)
{
    const char *path;
    int refile;

    ps_conf_table_spec(v, &path, &refile);
    return ps_conf_check_path(path, err);
}

/* dnsname's reasons open with the name ("domain \"x\": empty label ..."),
 * which our messages already quote: keep only what follows. */
static int ps_conf_dnsname_reason(const ps_err *why, ps_err *err)
{
    const char *rest = strstr(why->msg, "\": ");

    return ps_err_set(err, "%s", rest != NULL ? rest + 3 : why->msg);
}

int ps_conf_check_domain(const char *v, ps_err *err)
{
    ps_err why = {""};

    if (ps_dnsname_check_domain(v, &why) != 0)
        return ps_conf_dnsname_reason(&why, err);
    return 0;
}

int ps_conf_check_selector(const char *v, ps_err *err)
{
    ps_err why = {""};

    if (ps_dnsname_check_selector(v, &why) != 0)
        return ps_conf_dnsname_reason(&why, err);
    return 0;
}

/* Free text that goes into a report and a mail header unencoded. */
int ps_conf_check_text(const char *v, ps_err *err)
{
    if (*v == '\0')
        return ps_err_set(err, "empty");
    if (strlen(v) > 255)
        return ps_err_set(err, "longer than 255 bytes");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < ' ' || *p > '~')
            return ps_err_set(err, "printable ASCII only");
    return 0;
}

/* A plain address local@domain, as a report's From and email: no
 * display name, no angle brackets. */
int ps_conf_check_email(const char *v, ps_err *err)
{
    const char *at = strrchr(v, '@');
    ps_err why = {""};

    if (at == NULL || at == v || strpbrk(v, " <>\"(),;:[]") != NULL)
        return ps_err_set(err, "expected an address local@domain");
    if (ps_dnsname_check_domain(at + 1, &why) != 0)
        return ps_conf_dnsname_reason(&why, err);
    return 0;
}

static int ps_conf_check_word(const char *v, const char *const *words,
                              const char *expect, ps_err *err)
{
    for (; *words != NULL; words++)
        if (strcmp(v, *words) == 0)
            return 0;
    return ps_err_set(err, "expected %s", expect);
}

int ps_conf_check_over_quota(const char *v, ps_err *err)
{
    static const char *const words[] = {"DEFER_IF_PERMIT", "REJECT", "HOLD",
                                        "DEFER", NULL};

    return ps_conf_check_word(v, words,
                              "DEFER_IF_PERMIT, REJECT, HOLD or DEFER", err);
}

int ps_conf_check_store_down(const char *v, ps_err *err)
{
    static const char *const words[] = {"DUNNO", "DEFER_IF_PERMIT", NULL};

    return ps_conf_check_word(v, words, "DUNNO or DEFER_IF_PERMIT", err);
}

static int ps_conf_mode_item(const char *item, void *arg, ps_err *err)
{
    int *mode = arg, bit;

    if (strcmp(item, "sign") == 0)
        bit = PS_MODE_SIGN;
    else if (strcmp(item, "verify") == 0)
        bit = PS_MODE_VERIFY;
    else
        return ps_err_set(err, "expected sign, verify or sign,verify");
    if (*mode & bit)
        return ps_err_set(err, "'%s' named twice", item);
    *mode |= bit;
    return 0;
}

int ps_conf_parse_mode(const char *v, int *mode, ps_err *err)
{
    int bits = 0;

    if (ps_conf_each_item(v, ps_conf_mode_item, &bits, err) != 0)
        return -1;
    *mode = bits;
    return 0;
}

int ps_conf_parse_warn_at(const char *v, int *percent, ps_err *err)
{
    size_t digits = strspn(v, "0123456789");
    int n;

    if (digits == 0 || digits > 3 || strcmp(v + digits, "%") != 0)
        return ps_err_set(err, "expected a percentage from 1%% to 100%%");
    n = atoi(v);
    if (n < 1 || n > 100)
        return ps_err_set(err, "expected a percentage from 1%% to 100%%");
    *percent = n;
    return 0;
}

static int ps_conf_canon_word(const char *w, size_t n, int simple_bit,
                              int *bits)
{
    if (n == 6 && strncmp(w, "simple", n) == 0)
        *bits |= simple_bit;
    else if (!(n == 7 && strncmp(w, "relaxed", n) == 0))
        return -1;
    return 0;
}

/* HEADER/BODY as in c=; one word is the header's and the body is simple,
 * as RFC 6376 3.5 reads a c= without '/'. */
int ps_conf_parse_canon(const char *v, int *bits, ps_err *err)
{
    const char *slash = strchr(v, '/');
    int b = 0;

    if (ps_conf_canon_word(v, slash ? (size_t)(slash - v) : strlen(v),
                           PS_CONF_CANON_HEADER_SIMPLE, &b) != 0 ||
        ps_conf_canon_word(slash ? slash + 1 : "simple",
                           slash ? strlen(slash + 1) : 6,
                           PS_CONF_CANON_BODY_SIMPLE, &b) != 0)
        return ps_err_set(err, "expected HEADER/BODY, each simple or "
                               "relaxed");
    *bits = b;
    return 0;
}

static int ps_conf_parse_count(const char *v, int lo, int hi, int *n,
                               ps_err *err)
{
    size_t digits = strspn(v, "0123456789");
    int k = digits > 0 && digits <= 3 && v[digits] == '\0' ? atoi(v) : 0;

    if (k < lo || k > hi)
        return ps_err_set(err, "expected a number from %d to %d", lo, hi);
    *n = k;
    return 0;
}

int ps_conf_parse_max_verify(const char *v, int *n, ps_err *err)
{
    return ps_conf_parse_count(v, 1, PS_CONF_MAX_VERIFY_LIMIT, n, err);
}

_Static_assert(PS_CONF_ARC_MAX_VERIFY_DEFAULT == PS_ARC_MAX_VERIFY_DEFAULT &&
                   PS_CONF_ARC_MAX_VERIFY_LIMIT == PS_ARC_MAX_VERIFY_LIMIT,
               "conf.h and arc/arc.h disagree on arc_max_verify");

int ps_conf_parse_arc_max_verify(const char *v, int *n, ps_err *err)
{
    return ps_conf_parse_count(v, 2, PS_CONF_ARC_MAX_VERIFY_LIMIT, n, err);
}

/* Seconds, or a number with s, m, h or d; the core's own limit on x=
 * (ten years) keeps the product well inside an int. */
int ps_conf_parse_expire(const char *v, int *seconds, ps_err *err)
{
    static const char units[] = "smhd";
    static const long long mult[] = {1, 60, 3600, 86400};
    size_t digits = strspn(v, "0123456789");
    const char *u = v[digits] != '\0' ? strchr(units, v[digits]) : units;
    long long secs;

    if (digits == 0 || digits > 10 || u == NULL ||
        (v[digits] != '\0' && v[digits + 1] != '\0'))
        return ps_err_set(err, "expected seconds, or a number with s, m, h "
                               "or d (0: no x=)");
    secs = strtoll(v, NULL, 10) * mult[u - units];
    if (secs > PS_DKIM_MAX_EXPIRE)
        return ps_err_set(err, "longer than %lld days",
                          PS_DKIM_MAX_EXPIRE / 86400);
    *seconds = (int)secs;
    return 0;
}

/* The core's own checks (names h= can carry, From present), so the file
 * is refused at load time for what signing would refuse later. */
int ps_conf_check_sign_headers(const char *const *items, size_t n, ps_err *err)
{
    ps_dkim_params in = {.sign_headers = items, .nsign_headers = n}, out;

    return ps_dkim_check_params(&in, &out, err);
}

int ps_conf_check_oversign_headers(const char *const *items, size_t n,
                                   ps_err *err)
{
    ps_dkim_params in = {.oversign_headers = items, .noversign_headers = n},
                   out;

    return ps_dkim_check_params(&in, &out, err);
}

/* "example.com" or "*.example.com", as [signing] and rewrite take them. */
int ps_conf_check_domain_pattern(const char *pattern, ps_err *err)
{
    const char *domain = strncmp(pattern, "*.", 2) == 0 ? pattern + 2 : pattern;
    ps_err why = {""};

    if (ps_conf_check_domain(domain, &why) != 0)
        return ps_err_set(err,
                          "bad pattern '" PS_CONF_ECHO "' (expected "
                          "example.com or *.example.com): %s",
                          pattern, why.msg);
    return 0;
}

int ps_conf_rewrite_item(const char *item, char *pattern, size_t size,
                         const char **bounce)
{
    const char *eq = strchr(item, '=');
    size_t n = eq != NULL ? (size_t)(eq - item) : strlen(item);

    *bounce = eq != NULL ? eq + 1 : NULL;
    if (n >= size)
        return -1;
    memcpy(pattern, item, n);
    pattern[n] = '\0';
    return 0;
}

static int ps_conf_check_rewrite_item(const char *item, ps_err *err)
{
    char pattern[PS_CONF_PATTERN_MAX];
    const char *bounce;
    ps_err why = {""};

    if (ps_conf_rewrite_item(item, pattern, sizeof(pattern), &bounce) != 0)
        return ps_err_set(err, "item too long");
    if (ps_conf_check_domain_pattern(pattern, err) != 0)
        return -1;
    if (bounce != NULL && ps_conf_check_domain(bounce, &why) != 0)
        return ps_err_set(err,
                          "bad bounce domain '" PS_CONF_ECHO "' for '%s': %s",
                          bounce, pattern, why.msg);
    return 0;
}

int ps_conf_check_rewrite(const char *const *items, size_t n, ps_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (ps_conf_check_rewrite_item(items[i], err) != 0)
            return -1;
    return 0;
}

/* Postfix transport names ({rcpt_mailer}): master.cf service names. */
int ps_conf_check_domains(const char *const *items, size_t n, ps_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (ps_conf_check_domain(items[i], err) != 0)
            return -1;
    return 0;
}

int ps_conf_check_transports(const char *const *items, size_t n, ps_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (ps_conf_check_token(items[i], err) != 0)
            return -1;
    return 0;
}

int ps_conf_parse_days(const char *v, int *days, ps_err *err)
{
    size_t digits = strspn(v, "0123456789");
    int k = digits > 0 && digits <= 3 && v[digits] == '\0' ? atoi(v) : 0;

    if (k < 1 || k > 365)
        return ps_err_set(err, "expected a number of days from 1 to 365");
    *days = k;
    return 0;
}

int ps_conf_parse_yesno(const char *v, int *flag, ps_err *err)
{
    if (strcmp(v, "yes") == 0)
        *flag = 1;
    else if (strcmp(v, "no") == 0)
        *flag = 0;
    else
        return ps_err_set(err, "expected yes or no");
    return 0;
}

/* hold: Postfix's hold queue (smfi_quarantine), for the admin to
 * release or delete; header: delivered with a marking header. */
int ps_conf_parse_dmarc_quarantine(const char *v, int *how, ps_err *err)
{
    if (strcmp(v, "hold") == 0)
        *how = PS_CONF_DMARC_HOLD;
    else if (strcmp(v, "header") == 0)
        *how = PS_CONF_DMARC_HEADER;
    else
        return ps_err_set(err, "expected hold or header");
    return 0;
}

/* forwarded: what the SRS path rewrites (mail relayed for others);
 * always: everything the milter passes, ours included. */
int ps_conf_parse_arc_seal(const char *v, int *which, ps_err *err)
{
    static const char *const words[] = {"no", "forwarded", "always"};

    for (int i = 0; i < 3; i++)
        if (strcmp(v, words[i]) == 0) {
            *which = i;
            return 0;
        }
    return ps_err_set(err, "expected no, forwarded or always");
}

/* 16 bits at least: a shorter prefix would put unrelated networks on one
 * counter; 128 counts each address alone. */
int ps_conf_parse_ipv6_prefix(const char *v, int *bits, ps_err *err)
{
    size_t digits = strspn(v, "0123456789");
    int k = digits > 0 && digits <= 3 && v[digits] == '\0' ? atoi(v) : 0;

    if (k < 16 || k > 128)
        return ps_err_set(err, "expected a prefix length from 16 to 128");
    *bits = k;
    return 0;
}

int ps_conf_parse_supp_mode(const char *v, int *mode, ps_err *err)
{
    if (strcmp(v, "refuse") == 0)
        *mode = PS_SUPP_REFUSE;
    else if (strcmp(v, "log") == 0)
        *mode = PS_SUPP_LOG;
    else if (strcmp(v, "off") == 0)
        *mode = PS_SUPP_OFF;
    else
        return ps_err_set(err, "expected refuse, log or off");
    return 0;
}

int ps_conf_parse_supp_scope(const char *v, int *scope, ps_err *err)
{
    if (strcmp(v, "domain") == 0)
        *scope = PS_SUPP_SCOPE_DOMAIN;
    else if (strcmp(v, "credential") == 0)
        *scope = PS_SUPP_SCOPE_CREDENTIAL;
    else
        return ps_err_set(err, "expected domain or credential");
    return 0;
}

/* "30d", "12h", "90m", "600s" or plain seconds; 1 s (for tests) to 3650
 * days. */
int ps_conf_parse_supp_ttl(const char *v, int *secs, ps_err *err)
{
    size_t digits = strspn(v, "0123456789");
    const char *unit = v + digits;
    long long n = digits > 0 && digits <= 9 ? atoll(v) : -1, mul = 0;

    if (*unit == '\0' || strcmp(unit, "s") == 0)
        mul = 1;
    else if (strcmp(unit, "m") == 0)
        mul = 60;
    else if (strcmp(unit, "h") == 0)
        mul = 3600;
    else if (strcmp(unit, "d") == 0)
        mul = 86400;
    if (n < 0 || mul == 0 || n * mul < 1 || n * mul > PS_CONF_SUPP_TTL_MAX)
        return ps_err_set(err, "expected a time from 1s to 3650d, as 30d, "
                               "12h, 90m or 600s");
    *secs = (int)(n * mul);
    return 0;
}

/* [events] retention: the grammar of [suppression] ttl. */
int ps_conf_parse_retention(const char *v, int *secs, ps_err *err)
{
    return ps_conf_parse_supp_ttl(v, secs, err);
}

/* [events] dead_retention: a time as retention, or off (0). */
int ps_conf_parse_dead_retention(const char *v, int *secs, ps_err *err)
{
    if (strcmp(v, "off") == 0) {
        *secs = 0;
        return 0;
    }
    if (ps_conf_parse_supp_ttl(v, secs, err) != 0)
        return ps_err_set(err, "expected off or a time from 1s to 3650d, "
                               "as 30d, 12h, 90m or 600s");
    return 0;
}
