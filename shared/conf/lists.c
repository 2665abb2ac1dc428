/* The list sections of postseal.conf: [keys] (name = domain selector
 * keyfile), [signing] (domain pattern = key names) and [limits] (KIND[:MATCH]
 * = quota text), each entry remembered with its line for later errors. */
#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PS_CONF_MAX_KEYNAME 64
#define PS_CONF_MAX_MATCH   255

static const char *const ps_conf_limit_kinds[PS_CONF_LIMIT_NKINDS] = {
    "sasl_username", "sender_domain", "client_address"};

/* Room for one more element: the capacity of n elements is the next power
 * of two, so growing happens only when n is 0 or a power of two. */
static void *ps_conf_grow(void *arr, size_t n, size_t size)
{
    if (n != 0 && (n & (n - 1)) != 0)
        return arr;
    return reallocarray(arr, n != 0 ? 2 * n : 1, size);
}

/* Copies n strings (a NULL source stays NULL), all or none. */
static int ps_conf_dup_all(char **const dst[], const char *const src[],
                           size_t n, ps_err *err)
{
    for (size_t i = 0; i < n; i++) {
        *dst[i] = src[i] != NULL ? strdup(src[i]) : NULL;
        if (src[i] != NULL && *dst[i] == NULL) {
            while (i-- > 0)
                free(*dst[i]);
            return ps_err_set(err, "out of memory");
        }
    }
    return 0;
}

static void ps_conf_free_all(char **const ptr[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(*ptr[i]);
}

/* Key names are referred to from [signing] and logs: keep them plain. */
static int ps_conf_check_keyname(const char *name, ps_err *err)
{
    size_t n = strlen(name);

    if (n == 0 || n > PS_CONF_MAX_KEYNAME ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != n)
        return ps_err_set(err,
                          "bad key name '" PS_CONF_ECHO "': use 1 to %d "
                          "letters, digits, '.', '_' or '-'",
                          name, PS_CONF_MAX_KEYNAME);
    return 0;
}

const ps_conf_key *ps_conf_find_key(const ps_conf *conf, const char *name)
{
    for (size_t i = 0; conf != NULL && i < conf->nkeys; i++)
        if (strcmp(conf->keys[i].name, name) == 0)
            return &conf->keys[i];
    return NULL;
}

/* Splits "domain selector keyfile" into exactly three words, in place. */
static int ps_conf_split3(char *buf, char *word[3], ps_err *err)
{
    size_t n = 0;
    char *save = NULL, *w;

    for (w = strtok_r(buf, " \t", &save); w != NULL;
         w = strtok_r(NULL, " \t", &save)) {
        if (n < 3)
            word[n] = w;
        n++;
    }
    if (n != 3)
        return ps_err_set(err,
                          "needs 'domain selector keyfile' (3 words, "
                          "got %zu)",
                          n);
    return 0;
}

static int ps_conf_check_key_words(char *const word[3], ps_err *err)
{
    static const char *const what[3] = {"domain", "selector", "keyfile"};
    static int (*const check[3])(const char *, ps_err *) = {
        ps_conf_check_domain, ps_conf_check_selector, ps_conf_check_path};
    ps_err why = {""};

    for (int i = 0; i < 3; i++)
        if (check[i](word[i], &why) != 0)
            return ps_err_set(err, "bad %s '" PS_CONF_ECHO "': %s", what[i],
                              word[i], why.msg);
    return 0;
}

static int ps_conf_store_key(ps_conf *conf, const char *name,
                             char *const word[3], int line, ps_err *err)
{
    ps_conf_key k = {.line = line};
    ps_conf_key *arr = ps_conf_grow(conf->keys, conf->nkeys, sizeof(k));

    if (arr == NULL)
        return ps_err_set(err, "out of memory");
    conf->keys = arr;
    if (ps_conf_dup_all(
            (char **const[]){&k.name, &k.domain, &k.selector, &k.keyfile},
            (const char *const[]){name, word[0], word[1], word[2]}, 4,
            err) != 0)
        return -1;
    conf->keys[conf->nkeys++] = k;
    return 0;
}

int ps_conf_add_key(ps_conf *conf, const char *name, const char *value,
                    int line, ps_err *err)
{
    char buf[PS_CONF_MAX_VALUE + 1], *word[3];
    const ps_conf_key *old;
    ps_err why = {""};

    if (ps_conf_check_keyname(name, err) != 0)
        return -1;
    if ((old = ps_conf_find_key(conf, name)) != NULL)
        return ps_err_set(err, "repeated key '%s' in [keys] (first on line %d)",
                          name, old->line);
    snprintf(buf, sizeof(buf), "%s", value);
    if (ps_conf_split3(buf, word, &why) != 0 ||
        ps_conf_check_key_words(word, &why) != 0)
        return ps_err_set(err, "key '%s' in [keys]: %s", name, why.msg);
    return ps_conf_store_key(conf, name, word, line, err);
}

static int ps_conf_check_pattern(const char *pattern, ps_err *err)
{
    ps_err why = {""};

    if (ps_conf_check_domain_pattern(pattern, &why) != 0)
        return ps_err_set(err, "[signing]: %s", why.msg);
    return 0;
}

static int ps_conf_signing_item(const char *name, void *arg, ps_err *err)
{
    ps_conf_signing *s = arg;
    char **arr;

    if (ps_conf_check_keyname(name, err) != 0)
        return -1;
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i], name) == 0)
            return ps_err_set(err, "key '%s' named twice for '%s'", name,
                              s->pattern);
    if ((arr = ps_conf_grow(s->keys, s->nkeys, sizeof(*arr))) == NULL)
        return ps_err_set(err, "out of memory");
    s->keys = arr;
    if ((s->keys[s->nkeys] = strdup(name)) == NULL)
        return ps_err_set(err, "out of memory");
    s->nkeys++;
    return 0;
}

static void ps_conf_signing_clear(ps_conf_signing *s)
{
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->pattern);
}

int ps_conf_add_signing(ps_conf *conf, const char *pattern, const char *value,
                        int line, ps_err *err)
{
    ps_conf_signing s = {.line = line};
    ps_conf_signing *arr;

    if (ps_conf_check_pattern(pattern, err) != 0)
        return -1;
    for (size_t i = 0; i < conf->nsigning; i++)
        if (strcasecmp(conf->signing[i].pattern, pattern) == 0)
            return ps_err_set(err,
                              "repeated key '%s' in [signing] (first on "
                              "line %d)",
                              pattern, conf->signing[i].line);
    if ((arr = ps_conf_grow(conf->signing, conf->nsigning, sizeof(s))) == NULL)
        return ps_err_set(err, "out of memory");
    conf->signing = arr;
    if ((s.pattern = strdup(pattern)) == NULL)
        return ps_err_set(err, "out of memory");
    if (ps_conf_each_item(value, ps_conf_signing_item, &s, err) != 0) {
        ps_conf_signing_clear(&s);
        return -1;
    }
    conf->signing[conf->nsigning++] = s;
    return 0;
}

const char *ps_conf_limit_kind_name(int kind)
{
    return kind >= 0 && kind < PS_CONF_LIMIT_NKINDS ? ps_conf_limit_kinds[kind]
                                                    : "?";
}

int ps_conf_limit_kind(const char *text, int *kind, const char **match,
                       ps_err *err)
{
    const char *colon = strchr(text, ':');
    size_t n = colon != NULL ? (size_t)(colon - text) : strlen(text);

    *match = colon != NULL ? colon + 1 : NULL;
    for (*kind = 0; *kind < PS_CONF_LIMIT_NKINDS; (*kind)++)
        if (strlen(ps_conf_limit_kinds[*kind]) == n &&
            strncmp(text, ps_conf_limit_kinds[*kind], n) == 0)
            break;
    if (*kind == PS_CONF_LIMIT_NKINDS)
        return ps_err_set(err,
                          "unknown limit kind '%.*s' (expected "
                          "sasl_username, sender_domain, client_address or "
                          "exempt)",
                          (int)(n < 31 ? n : 31), text);
    if (colon != NULL &&
        (colon[1] == '\0' || strlen(colon + 1) > PS_CONF_MAX_MATCH))
        return ps_err_set(err, "'%s:' must be followed by 1 to %d bytes",
                          ps_conf_limit_kinds[*kind], PS_CONF_MAX_MATCH);
    return 0;
}

/* "KIND[:MATCH]" as written in a [limits] key: kind receives KIND's name,
 * *match where MATCH starts (NULL without one). */
static int ps_conf_split_kind(const char *text, const char **kind,
                              const char **match, ps_err *err)
{
    int k;

    if (ps_conf_limit_kind(text, &k, match, err) != 0)
        return -1;
    *kind = ps_conf_limit_kinds[k];
    return 0;
}

static int ps_conf_exempt_item(const char *item, void *arg, ps_err *err)
{
    const char *kind, *match;

    (void)arg;
    if (ps_conf_split_kind(item, &kind, &match, err) != 0)
        return -1;
    if (match == NULL)
        return ps_err_set(err, "exempt '%s' needs KIND:MATCH", item);
    return 0;
}

static int ps_conf_limit_same(const ps_conf_limit *l, const char *kind,
                              const char *match)
{
    if (strcmp(l->kind, kind) != 0)
        return 0;
    if (l->match == NULL || match == NULL)
        return l->match == match;
    return strcmp(l->match, match) == 0;
}

static int ps_conf_store_limit(ps_conf *conf, const char *kind,
                               const char *match, const char *value, int line,
                               ps_err *err)
{
    ps_conf_limit l = {.line = line};
    ps_conf_limit *arr = ps_conf_grow(conf->limits, conf->nlimits, sizeof(l));

    if (arr == NULL)
        return ps_err_set(err, "out of memory");
    conf->limits = arr;
    if (ps_conf_dup_all((char **const[]){&l.kind, &l.match, &l.value},
                        (const char *const[]){kind, match, value}, 3, err) != 0)
        return -1;
    conf->limits[conf->nlimits++] = l;
    return 0;
}

/* exempt is a list and may repeat; a kind (or kind:match) is one limit
 * set, so a second line for it is an error rather than a silent merge. */
int ps_conf_add_limit(ps_conf *conf, const char *key, const char *value,
                      int line, ps_err *err)
{
    const char *kind, *match;

    if (strcmp(key, "exempt") == 0) {
        if (ps_conf_each_item(value, ps_conf_exempt_item, NULL, err) != 0)
            return -1;
        return ps_conf_store_limit(conf, key, NULL, value, line, err);
    }
    if (strncmp(key, "exempt:", 7) == 0)
        return ps_err_set(err, "'exempt' takes no ':MATCH' (write "
                               "exempt = KIND:MATCH, ...)");
    if (ps_conf_split_kind(key, &kind, &match, err) != 0)
        return -1;
    for (size_t i = 0; i < conf->nlimits; i++)
        if (ps_conf_limit_same(&conf->limits[i], kind, match))
            return ps_err_set(err,
                              "repeated key '%s' in [limits] (first on "
                              "line %d)",
                              key, conf->limits[i].line);
    return ps_conf_store_limit(conf, kind, match, value, line, err);
}

/* A rewrite list without the bounce domain and its secrets would silently
 * leave every return path as it is. */
static int ps_conf_rewrite_needs_domain(const ps_conf_list *rw)
{
    char pattern[PS_CONF_PATTERN_MAX];
    const char *bounce;

    for (size_t i = 0; i < rw->n; i++)
        if (ps_conf_rewrite_item(rw->items[i], pattern, sizeof(pattern),
                                 &bounce) == 0 &&
            bounce == NULL)
            return 1;
    return 0;
}

static int ps_conf_check_rewrite_refs(const ps_conf *conf, int *line,
                                      ps_err *err)
{
    const ps_conf_list *rw = &conf->return_path.rewrite;

    if (rw->n == 0 || (conf->return_path.secret_file.value != NULL &&
                       (conf->return_path.domain.value != NULL ||
                        !ps_conf_rewrite_needs_domain(rw))))
        return 0;
    *line = rw->line;
    return ps_err_set(err, "rewrite in [return_path] needs secret_file, and "
                           "domain for a pattern without its own "
                           "=BOUNCE-DOMAIN");
}

/* Sealing without a key, or with one [keys] does not define, would seal
 * nothing and say so only per message. */
static int ps_conf_check_arc_refs(const ps_conf *conf, int *line, ps_err *err)
{
    const ps_conf_str *key = &conf->milter.arc_seal_key;

    if (conf->milter.arc_seal == PS_CONF_ARC_SEAL_NO ||
        (key->value != NULL && ps_conf_find_key(conf, key->value) != NULL))
        return 0;
    *line = key->value != NULL ? key->line : conf->milter.arc_seal_line;
    if (key->value == NULL)
        return ps_err_set(err, "arc_seal in [milter] needs arc_seal_key");
    return ps_err_set(err,
                      "arc_seal_key '%s' in [milter] is not defined in "
                      "[keys]",
                      key->value);
}

int ps_conf_check_refs(const ps_conf *conf, int *line, ps_err *err)
{
    if (ps_conf_check_rewrite_refs(conf, line, err) != 0 ||
        ps_conf_check_arc_refs(conf, line, err) != 0 ||
        ps_conf_check_endpoints(conf, line, err) != 0)
        return -1;
    for (size_t i = 0; i < conf->nsigning; i++) {
        const ps_conf_signing *s = &conf->signing[i];
        for (size_t k = 0; k < s->nkeys; k++) {
            if (ps_conf_find_key(conf, s->keys[k]) != NULL)
                continue;
            *line = s->line;
            return ps_err_set(err,
                              "key '%s' for '%s' in [signing] is not "
                              "defined in [keys]",
                              s->keys[k], s->pattern);
        }
    }
    return 0;
}

void ps_conf_free_lists(ps_conf *conf)
{
    for (size_t i = 0; i < conf->nkeys; i++) {
        ps_conf_key *k = &conf->keys[i];
        ps_conf_free_all(
            (char **const[]){&k->name, &k->domain, &k->selector, &k->keyfile},
            4);
    }
    free(conf->keys);
    for (size_t i = 0; i < conf->nsigning; i++)
        ps_conf_signing_clear(&conf->signing[i]);
    free(conf->signing);
    for (size_t i = 0; i < conf->nlimits; i++) {
        ps_conf_limit *l = &conf->limits[i];
        ps_conf_free_all((char **const[]){&l->kind, &l->match, &l->value}, 3);
    }
    free(conf->limits);
}
