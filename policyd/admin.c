/* `postseal quota show [KEY]` and `postseal quota reset KEY`, run as
 * postseal-policyd -Q: the daemon binary is the one that holds the store
 * code, so the CLI runs it rather than linking LMDB and hiredis itself. */
#include "policyd.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef struct ps_admin {
    const ps_quota_rules *rules;
    int over; /* some window is full */
} ps_admin;

/* The configured window of a counter, found by the counter's own key:
 * its override if one names it, else its kind's default. */
static const ps_quota_window *ps_admin_limit(const ps_quota_rules *r,
                                             const char *key, size_t len,
                                             const ps_quota_window *w)
{
    const ps_quota_rule *found = NULL;

    for (size_t i = 0; i < r->nrules; i++) {
        const ps_quota_rule *rule = &r->rules[i];
        const char *kind = ps_quota_kind_name(rule->kind);
        size_t kl = strlen(kind);
        if (len <= kl || strncmp(key, kind, kl) != 0 || key[kl] != ':')
            continue;
        if (rule->match == NULL && found == NULL)
            found = rule;
        else if (rule->match != NULL && strlen(rule->match) == len - kl - 1 &&
                 strncmp(rule->match, key + kl + 1, len - kl - 1) == 0)
            found = rule;
    }
    for (size_t i = 0; found != NULL && i < found->nwin; i++)
        if (found->win[i].measure == w->measure &&
            found->win[i].period_ms == w->period_ms)
            return &found->win[i];
    return NULL;
}

/* One line per window, in the words of the SMTP refusal:
 * "KEY: messages 3/1h, used 3, frees in 59m58s". */
static void ps_admin_print(void *arg, const char *key, size_t keylen,
                           const ps_quota_window *w, ps_quota_state *st,
                           uint64_t now)
{
    ps_admin *a = arg;
    const ps_quota_window *lim = ps_admin_limit(a->rules, key, keylen, w);
    uint64_t used = ps_quota_used(st, w->period_ms, now);
    uint64_t wait = PS_QUOTA_UNKNOWN;
    char owner[PS_QUOTA_MAX_KEY + 1], line[PS_QUOTA_MAX_KEY + 128];

    snprintf(owner, sizeof(owner), "%.*s", (int)keylen, key);
    if (lim != NULL && used >= lim->limit) {
        a->over = 1;
        wait = ps_quota_frees_at(st, lim, now, 1);
        wait = wait == PS_QUOTA_NEVER ? wait : wait - now;
    }
    if (lim != NULL) {
        ps_quota_describe(owner, lim, used, wait, line, sizeof(line));
        printf("%s\n", line);
    } else {
        ps_quota_window one = *w;
        char text[64];
        one.limit = 0;
        ps_quota_window_format(&one, text, sizeof(text));
        printf("%s: %s per %s, used %llu (no limit configured)\n", owner,
               ps_quota_measure_name(w->measure), strchr(text, '/') + 1,
               (unsigned long long)used);
    }
}

/* "kind:name", normalised as the daemon keys it (an IPv6 address as the
 * network it counts under). */
static int ps_admin_key(const char *in, int ipv6_prefix,
                        char out[PS_QUOTA_MAX_KEY + 1], ps_err *err)
{
    char net[PS_QUOTA_MAX_NAME + 1];

    const char *colon = strchr(in, ':');
    int lower;

    if (colon == NULL || colon[1] == '\0' || strlen(in) > PS_QUOTA_MAX_KEY)
        return ps_err_set(err, "KEY must be KIND:NAME, as "
                               "sasl_username:app@example.com");
    lower = strncmp(in, "client_address:", 15) != 0;
    if (strncmp(in, "sasl_username:", 14) != 0 &&
        strncmp(in, "sender_domain:", 14) != 0 &&
        strncmp(in, "client_address:", 15) != 0)
        return ps_err_set(err,
                          "unknown kind in '%.80s' (sasl_username, "
                          "sender_domain or client_address)",
                          in);
    for (size_t i = 0; in[i] != '\0'; i++)
        out[i] = lower ? (char)tolower((unsigned char)in[i]) : in[i];
    out[strlen(in)] = '\0';
    if (!lower && ps_quota_ipv6_network(in + 15, ipv6_prefix, net))
        snprintf(out, PS_QUOTA_MAX_KEY + 1, "client_address:%s", net);
    return 0;
}

int ps_admin_run(const ps_pd_cfg *cfg, int reset, const char *key_in)
{
    char key[PS_QUOTA_MAX_KEY + 1];
    ps_admin a = {cfg->rules, 0};
    ps_err err = {""};
    const char *spec = cfg->store;
    int n;

    if (key_in != NULL &&
        ps_admin_key(key_in, cfg->rules->ipv6_prefix, key, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_ADMIN_NAME, err.msg);
        return 2;
    }
    if (strncmp(spec, "lmdb:", 5) == 0)
        n = ps_store_lmdb_admin(spec + 5, key_in ? key : NULL, reset,
                                ps_admin_print, &a, &err);
    else
        n = ps_store_redis_admin(spec, key_in ? key : NULL, reset,
                                 ps_admin_print, &a, &err);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", PS_ADMIN_NAME, err.msg);
        return 2;
    }
    if (reset)
        printf("reset %d window%s of %s\n", n, n == 1 ? "" : "s", key);
    else if (n == 0)
        printf("no counters%s%s\n", key_in ? " for " : "", key_in ? key : "");
    return !reset && key_in != NULL && a.over ? 1 : 0;
}
