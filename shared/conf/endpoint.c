/* The [endpoint NAME] sections of postseal.conf: where postseal-policyd
 * POSTs delivery events as signed webhooks, which events, whose mail, and
 * how they are signed. Parsed and checked here, used by the sender. */
#include "conf/conf_int.h"
#include "mail/evspool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PS_CONF_MAX_EPNAME 64
#define PS_CONF_MAX_URL    2048

int ps_conf_endpoint_section(const char *section)
{
    return strncmp(section, PS_CONF_ENDPOINT_PREFIX,
                   strlen(PS_CONF_ENDPOINT_PREFIX)) == 0;
}

/* Names appear in file names of the delivery state and in logs. */
static int ps_conf_check_epname(const char *name, ps_err *err)
{
    size_t n = strlen(name);

    if (n == 0 || n > PS_CONF_MAX_EPNAME ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_-") != n)
        return ps_err_set(err,
                          "bad endpoint name '" PS_CONF_ECHO
                          "': use 1 to %d letters, digits, '_' or '-'",
                          name, PS_CONF_MAX_EPNAME);
    return 0;
}

const ps_conf_endpoint *ps_conf_find_endpoint(const ps_conf *conf,
                                              const char *name)
{
    for (size_t i = 0; conf != NULL && i < conf->nendpoints; i++)
        if (strcmp(conf->endpoints[i].name, name) == 0)
            return &conf->endpoints[i];
    return NULL;
}

static ps_conf_endpoint *ps_conf_endpoint_get(ps_conf *conf, const char *name,
                                              int line, ps_err *err)
{
    ps_conf_endpoint *ep =
        (ps_conf_endpoint *)ps_conf_find_endpoint(conf, name);
    ps_conf_endpoint *arr;

    if (ep != NULL)
        return ep;
    if (ps_conf_check_epname(name, err) != 0)
        return NULL;
    arr = reallocarray(conf->endpoints, conf->nendpoints + 1, sizeof(*arr));
    if (arr == NULL) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    conf->endpoints = arr;
    ep = &arr[conf->nendpoints];
    *ep = (ps_conf_endpoint){.line = line,
                             .for_kind = -1,
                             .timeout = PS_CONF_ENDPOINT_TIMEOUT,
                             .concurrency = PS_CONF_ENDPOINT_CONCURRENCY,
                             .retry_first = PS_CONF_ENDPOINT_RETRY_FIRST};
    for (int k = 0; k < PS_EVENT_NKINDS; k++)
        ep->events |= 1u << k;
    if ((ep->name = strdup(name)) == NULL) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    conf->nendpoints++;
    return ep;
}

/* The host of an http(s) URL (no user:password@, which would end up in
 * logs), into host; 0, or -1 with the reason. */
static int ps_conf_url_host(const char *rest, char *host, size_t cap,
                            ps_err *err)
{
    size_t n;

    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL)
            return ps_err_set(err, "unclosed '[' in host");
        n = (size_t)(close - rest) + 1;
    } else {
        n = strcspn(rest, ":/?#");
    }
    if (n == 0 || n >= cap)
        return ps_err_set(err, "no host or host too long");
    if (memchr(rest, '@', strcspn(rest, "/?#")) != NULL)
        return ps_err_set(err, "credentials in the URL are refused (they "
                               "would be logged)");
    memcpy(host, rest, n);
    host[n] = '\0';
    return 0;
}

static int ps_conf_host_loopback(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

/* https anywhere; http only to this host, since events carry addresses. */
static int ps_conf_check_url(const char *v, ps_err *err)
{
    char host[256];
    int https = strncasecmp(v, "https://", 8) == 0;

    if (strlen(v) > PS_CONF_MAX_URL)
        return ps_err_set(err, "longer than %d bytes", PS_CONF_MAX_URL);
    if (strpbrk(v, " \t") != NULL)
        return ps_err_set(err, "spaces in URL");
    if (!https && strncasecmp(v, "http://", 7) != 0)
        return ps_err_set(err, "expected an https:// URL");
    if (ps_conf_url_host(v + (https ? 8 : 7), host, sizeof(host), err) != 0)
        return -1;
    if (!https && !ps_conf_host_loopback(host))
        return ps_err_set(err, "http:// only to loopback (127.0.0.0/8, "
                               "[::1], localhost); use https://");
    return 0;
}

typedef struct ps_conf_evmask {
    unsigned bits;
} ps_conf_evmask;

static int ps_conf_event_item(const char *item, void *arg, ps_err *err)
{
    ps_conf_evmask *m = arg;

    if (strcmp(item, "all") == 0) {
        m->bits |= (1u << PS_EVENT_NKINDS) - 1;
        return 0;
    }
    for (int k = 0; k < PS_EVENT_NKINDS; k++)
        if (strcmp(item, ps_event_kind_name((ps_event_kind)k)) == 0) {
            m->bits |= 1u << k;
            return 0;
        }
    char known[256] = "";
    for (int k = 0; k < PS_EVENT_NKINDS; k++) {
        strncat(known, ps_event_kind_name((ps_event_kind)k),
                sizeof(known) - strlen(known) - 1);
        strncat(known, ", ", sizeof(known) - strlen(known) - 1);
    }
    return ps_err_set(err,
                      "unknown event '" PS_CONF_ECHO "' (expected %sor all)",
                      item, known);
}

static int ps_conf_parse_events(const char *v, unsigned *bits, ps_err *err)
{
    ps_conf_evmask m = {0};

    if (ps_conf_each_item(v, ps_conf_event_item, &m, err) != 0)
        return -1;
    *bits = m.bits;
    return 0;
}

/* "all", "sasl_username:NAME" or "sender_domain:DOMAIN", with the
 * KIND:MATCH reader [limits] uses. */
static int ps_conf_parse_for(ps_conf_endpoint *ep, const char *v, ps_err *err)
{
    const char *match;
    int kind;

    if (strcmp(v, "all") == 0) {
        ep->for_kind = -1;
        return 0;
    }
    if (ps_conf_limit_kind(v, &kind, &match, err) != 0)
        return -1;
    if (kind == PS_CONF_LIMIT_CLIENT || match == NULL)
        return ps_err_set(err, "expected all, sasl_username:NAME or "
                               "sender_domain:DOMAIN");
    if (kind == PS_CONF_LIMIT_DOMAIN && ps_conf_check_domain(match, err) != 0)
        return -1;
    if ((ep->for_match = strdup(match)) == NULL)
        return ps_err_set(err, "out of memory");
    ep->for_kind = kind;
    return 0;
}

static int ps_conf_parse_format(const char *v, int *format, ps_err *err)
{
    if (strcmp(v, "standard") == 0)
        *format = PS_CONF_WH_STANDARD;
    else if (strcmp(v, "postal") == 0)
        *format = PS_CONF_WH_POSTAL;
    else
        return ps_err_set(err, "expected standard or postal");
    return 0;
}

static int ps_conf_parse_start(const char *v, int *start, ps_err *err)
{
    if (strcmp(v, "now") == 0)
        *start = PS_CONF_START_NOW;
    else if (strcmp(v, "beginning") == 0)
        *start = PS_CONF_START_BEGINNING;
    else
        return ps_err_set(err, "expected now or beginning");
    return 0;
}

static int ps_conf_parse_range(const char *v, int lo, int hi, int *out,
                               ps_err *err)
{
    size_t digits = strspn(v, "0123456789");
    int k = digits > 0 && digits <= 5 && v[digits] == '\0' ? atoi(v) : -1;

    if (k < lo || k > hi)
        return ps_err_set(err, "expected a number from %d to %d", lo, hi);
    *out = k;
    return 0;
}

static int ps_conf_ep_str(ps_conf_str *s, const char *v, int line,
                          int (*check)(const char *, ps_err *), ps_err *err)
{
    if (check(v, err) != 0)
        return -1;
    if ((s->value = strdup(v)) == NULL)
        return ps_err_set(err, "out of memory");
    s->line = line;
    return 0;
}

/* Each key once: *seen is the line it was first set on (0: not yet). */
static int ps_conf_ep_once(const ps_conf_endpoint *ep, const char *key,
                           int seen, ps_err *err)
{
    if (seen == 0)
        return 0;
    return ps_err_set(err,
                      "repeated key '%s' in [endpoint %s] (first on "
                      "line %d)",
                      key, ep->name, seen);
}

static int ps_conf_ep_num(ps_conf_endpoint *ep, const char *key, const char *v,
                          int line, ps_err *err)
{
    if (strcmp(key, "timeout") == 0)
        return ps_conf_ep_once(ep, key, ep->timeout_line, err) != 0 ||
                       ps_conf_parse_range(v, 1, 600, &ep->timeout, err) != 0
                   ? -1
                   : (ep->timeout_line = line, 0);
    if (strcmp(key, "concurrency") == 0)
        return ps_conf_ep_once(ep, key, ep->concurrency_line, err) != 0 ||
                       ps_conf_parse_range(v, 1, PS_CONF_ENDPOINT_MAX_CONC,
                                           &ep->concurrency, err) != 0
                   ? -1
                   : (ep->concurrency_line = line, 0);
    if (strcmp(key, "retry_first") == 0)
        return ps_conf_ep_once(ep, key, ep->retry_first_line, err) != 0 ||
                       ps_conf_parse_range(v, 1, 3600, &ep->retry_first, err) !=
                           0
                   ? -1
                   : (ep->retry_first_line = line, 0);
    if (strcmp(key, "format") == 0)
        return ps_conf_ep_once(ep, key, ep->format_line, err) != 0 ||
                       ps_conf_parse_format(v, &ep->format, err) != 0
                   ? -1
                   : (ep->format_line = line, 0);
    if (strcmp(key, "start") == 0)
        return ps_conf_ep_once(ep, key, ep->start_line, err) != 0 ||
                       ps_conf_parse_start(v, &ep->start, err) != 0
                   ? -1
                   : (ep->start_line = line, 0);
    return ps_err_set(err, "unknown key '%s' in [endpoint %s]", key, ep->name);
}

static int ps_conf_ep_set(ps_conf_endpoint *ep, const char *key, const char *v,
                          int line, ps_err *err)
{
    struct {
        const char *key;
        ps_conf_str *at;
        int (*check)(const char *, ps_err *);
    } strs[] = {{"url", &ep->url, ps_conf_check_url},
                {"secret", &ep->secret, ps_conf_check_path},
                {"key", &ep->key, ps_conf_check_path},
                {"ca_file", &ep->ca_file, ps_conf_check_path}};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strcmp(key, strs[i].key) == 0)
            return ps_conf_ep_once(ep, key, strs[i].at->line, err) != 0
                       ? -1
                       : ps_conf_ep_str(strs[i].at, v, line, strs[i].check,
                                        err);
    if (strcmp(key, "events") == 0)
        return ps_conf_ep_once(ep, key, ep->events_line, err) != 0 ||
                       ps_conf_parse_events(v, &ep->events, err) != 0
                   ? -1
                   : (ep->events_line = line, 0);
    if (strcmp(key, "for") == 0)
        return ps_conf_ep_once(ep, key, ep->for_line, err) != 0 ||
                       ps_conf_parse_for(ep, v, err) != 0
                   ? -1
                   : (ep->for_line = line, 0);
    return ps_conf_ep_num(ep, key, v, line, err);
}

int ps_conf_add_endpoint_entry(ps_conf *conf, const char *section,
                               const char *key, const char *value, int line,
                               ps_err *err)
{
    const char *name = section + strlen(PS_CONF_ENDPOINT_PREFIX);
    ps_conf_endpoint *ep = ps_conf_endpoint_get(conf, name, line, err);
    ps_err why = {""};

    if (ep == NULL)
        return -1;
    if (ps_conf_ep_set(ep, key, value, line, &why) != 0)
        return ps_err_set(err, "bad %s '" PS_CONF_ECHO "' in [endpoint %s]: %s",
                          key, value, ep->name, why.msg);
    return 0;
}

/* What one endpoint needs once its section is read: a URL, whose mail it
 * is for, and the signing material its format uses, no other. */
static int ps_conf_check_endpoint(const ps_conf_endpoint *ep, int *line,
                                  ps_err *err)
{
    int standard = ep->format == PS_CONF_WH_STANDARD;

    *line = ep->line;
    if (ep->url.value == NULL)
        return ps_err_set(err, "[endpoint %s] has no url", ep->name);
    if (ep->for_line == 0)
        return ps_err_set(err,
                          "[endpoint %s] has no 'for' (all, "
                          "sasl_username:NAME or sender_domain:DOMAIN)",
                          ep->name);
    if (standard && ep->secret.value == NULL)
        return ps_err_set(err,
                          "[endpoint %s] (format standard) has no "
                          "secret file",
                          ep->name);
    if (!standard && ep->key.value == NULL)
        return ps_err_set(err,
                          "[endpoint %s] (format postal) has no key "
                          "file",
                          ep->name);
    if (standard ? ep->key.value != NULL : ep->secret.value != NULL) {
        *line = standard ? ep->key.line : ep->secret.line;
        return ps_err_set(err, "[endpoint %s]: '%s' is for format %s only",
                          ep->name, standard ? "key" : "secret",
                          standard ? "postal" : "standard");
    }
    return 0;
}

int ps_conf_check_endpoints(const ps_conf *conf, int *line, ps_err *err)
{
    for (size_t i = 0; i < conf->nendpoints; i++)
        if (ps_conf_check_endpoint(&conf->endpoints[i], line, err) != 0)
            return -1;
    if (conf->nendpoints > 0 && conf->events.dir.value == NULL) {
        *line = conf->endpoints[0].line;
        return ps_err_set(err,
                          "[endpoint %s] needs [events] dir (the "
                          "spool it delivers from)",
                          conf->endpoints[0].name);
    }
    return 0;
}

static int ps_conf_domain_of(const char *sender, const char *domain)
{
    const char *at = sender != NULL ? strrchr(sender, '@') : NULL;

    return at != NULL && strcasecmp(at + 1, domain) == 0;
}

int ps_conf_endpoint_wants(const ps_conf_endpoint *ep, int kind,
                           const char *sender, const char *credential)
{
    if (kind < 0 || kind >= PS_EVENT_NKINDS || !(ep->events & (1u << kind)))
        return 0;
    if (ep->for_kind == PS_CONF_LIMIT_SASL)
        return credential != NULL && strcmp(credential, ep->for_match) == 0;
    if (ep->for_kind == PS_CONF_LIMIT_DOMAIN)
        return ps_conf_domain_of(sender, ep->for_match);
    return 1;
}

void ps_conf_endpoint_clear(ps_conf_endpoint *ep)
{
    free(ep->name);
    free(ep->for_match);
    free(ep->url.value);
    free(ep->secret.value);
    free(ep->key.value);
    free(ep->ca_file.value);
    memset(ep, 0, sizeof(*ep));
}

static int ps_conf_copy_str(ps_conf_str *dst, const ps_conf_str *src)
{
    dst->value = src->value != NULL ? strdup(src->value) : NULL;
    return src->value != NULL && dst->value == NULL ? -1 : 0;
}

int ps_conf_endpoint_copy(ps_conf_endpoint *dst, const ps_conf_endpoint *src)
{
    *dst = *src;
    dst->name = strdup(src->name);
    dst->for_match = src->for_match ? strdup(src->for_match) : NULL;
    if ((dst->name == NULL) | (src->for_match && dst->for_match == NULL) |
        ps_conf_copy_str(&dst->url, &src->url) |
        ps_conf_copy_str(&dst->secret, &src->secret) |
        ps_conf_copy_str(&dst->key, &src->key) |
        ps_conf_copy_str(&dst->ca_file, &src->ca_file)) {
        ps_conf_endpoint_clear(dst);
        return -1;
    }
    return 0;
}

void ps_conf_free_endpoints(ps_conf *conf)
{
    for (size_t i = 0; i < conf->nendpoints; i++)
        ps_conf_endpoint_clear(&conf->endpoints[i]);
    free(conf->endpoints);
    conf->endpoints = NULL;
    conf->nendpoints = 0;
}
