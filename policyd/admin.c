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

static void ps_admin_print(void *arg, const char *key, size_t keylen,
                           const ps_quota_window *w, ps_quota_state *st,
                           uint64_t now)
{
    ps_admin *a = arg;
    const ps_quota_window *lim = ps_admin_limit(a->rules, key, keylen, w);
    uint64_t used = ps_quota_used(st, w->period_ms, now);
    char text[64] = "none", frees[32] = "-";
    ps_quota_window one = *w;

    if (lim != NULL) {
        ps_quota_window_format(lim, text, sizeof(text));
        if (used >= lim->limit) {
            a->over = 1;
            ps_quota_duration_format(ps_quota_frees_at(st, lim, now, 1) - now,
                                     frees, sizeof(frees));
        }
    } else {
        one.limit = 0;
        ps_quota_window_format(&one, text, sizeof(text));
    }
    printf("%.*s %s used=%llu limit=%s full_for=%s\n", (int)keylen, key,
           ps_quota_measure_name(w->measure), (unsigned long long)used,
           lim != NULL ? text + strcspn(text, " ") + 1 : "none", frees);
}

/* "kind:name", normalised as the daemon keys it. */
static int ps_admin_key(const char *in, char out[PS_QUOTA_MAX_KEY + 1],
                        ps_err *err)
{
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
    return 0;
}

int ps_admin_run(const ps_pd_cfg *cfg, int reset, const char *key_in)
{
    char key[PS_QUOTA_MAX_KEY + 1];
    ps_admin a = {cfg->rules, 0};
    ps_err err = {""};
    const char *spec = cfg->store;
    int n;

    if (key_in != NULL && ps_admin_key(key_in, key, &err) != 0) {
        fprintf(stderr, "%s: %s\n", PS_POLICYD_NAME, err.msg);
        return 2;
    }
    if (strncmp(spec, "lmdb:", 5) == 0)
        n = ps_store_lmdb_admin(spec + 5, key_in ? key : NULL, reset,
                                ps_admin_print, &a, &err);
    else
        n = ps_store_redis_admin(spec, key_in ? key : NULL, reset,
                                 ps_admin_print, &a, &err);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", PS_POLICYD_NAME, err.msg);
        return 2;
    }
    if (reset)
        printf("reset %d window%s of %s\n", n, n == 1 ? "" : "s", key);
    else if (n == 0)
        printf("no counters%s%s\n", key_in ? " for " : "", key_in ? key : "");
    return !reset && key_in != NULL && a.over ? 1 : 0;
}
