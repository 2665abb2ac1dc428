/* `postseal suppression list|add|remove`, run as postseal-policyd -S
 * (the binary that holds the store code, as for `postseal quota`): the
 * entries of the store [policyd] store names, LMDB or Redis. */
#include "policyd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define PS_SUPP_ADMIN_NAME "postseal: suppression"

static void ps_suppress_admin_print(void *arg, const ps_supp_entry *e)
{
    char since[32], until[32];
    struct tm tm;
    time_t t;

    (void)arg;
    t = (time_t)e->since;
    gmtime_r(&t, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    t = (time_t)e->until;
    gmtime_r(&t, &tm);
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s %s:%s since %s until %s\n", e->rcpt,
           ps_supp_scope_name(e->scope), e->who, since, until);
}

int ps_suppress_admin(const ps_pd_cfg *cfg, const char *verb, const char *rcpt,
                      const char *who)
{
    const ps_conf *conf = cfg->conf;
    ps_supp_verb v = strcmp(verb, "add") == 0      ? PS_SUPP_ADD
                     : strcmp(verb, "remove") == 0 ? PS_SUPP_REMOVE
                                                   : PS_SUPP_LIST;
    int64_t now = (int64_t)time(NULL);
    ps_supp_entry e = {0};
    ps_err err = {""};
    int n;

    if (v != PS_SUPP_LIST &&
        ps_supp_set(&e, conf->suppression.scope, who, rcpt) != 0) {
        fprintf(stderr, "%s: bad recipient or %s\n", PS_SUPP_ADMIN_NAME,
                ps_supp_scope_name(conf->suppression.scope));
        return 2;
    }
    e.since = now;
    e.until = now + conf->suppression.ttl;
    if (strncmp(cfg->store, "lmdb:", 5) == 0)
        n = ps_store_lmdb_supp_admin(cfg->store + 5, v, &e, now,
                                     ps_suppress_admin_print, NULL, &err);
    else
        n = ps_store_redis_supp_admin(cfg->store, v, &e, now,
                                      ps_suppress_admin_print, NULL, &err);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", PS_SUPP_ADMIN_NAME, err.msg);
        return 2;
    }
    if (v == PS_SUPP_ADD && ps_suppress_event_admin(conf, &e, &err) != 0)
        fprintf(stderr, "%s: added, but no suppressed event: %s\n",
                PS_SUPP_ADMIN_NAME, err.msg);
    if (v == PS_SUPP_LIST && n == 0)
        printf("no suppressed recipients\n");
    else if (v == PS_SUPP_ADD)
        printf("suppressed %s for %s %s\n", e.rcpt, ps_supp_scope_name(e.scope),
               e.who);
    else if (v == PS_SUPP_REMOVE)
        printf("%s %s for %s %s\n", n > 0 ? "removed" : "no entry for", e.rcpt,
               ps_supp_scope_name(e.scope), e.who);
    return v == PS_SUPP_REMOVE && n == 0 ? 1 : 0;
}
