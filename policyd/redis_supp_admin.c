/* `postseal suppression list|add|remove` against Redis: a blocking
 * hiredis connection made as the daemon makes its own (redis_sync.c);
 * list SCANs the "ps:sup:" keys, add SETs one with its expiry, remove
 * DELetes one. */
#include "redis_store.h"

#include <string.h>

#include <hiredis/hiredis.h>

typedef struct ps_redis_supp_walk {
    int64_t now;
    ps_supp_each each;
    void *arg;
} ps_redis_supp_walk;

/* One key's value to each, if it is a live entry: 1, 0, or -1. */
static int ps_redis_supp_one(void *arg, redisContext *c, const char *key)
{
    const ps_redis_supp_walk *w = arg;
    redisReply *v = redisCommand(c, "GET %s", key);
    ps_supp_entry e;
    int n = 0;

    if (v == NULL)
        return -1;
    if (v->type == REDIS_REPLY_STRING &&
        ps_supp_parse(v->str, v->len, &e) == 0 && e.until > w->now) {
        w->each(w->arg, &e);
        n = 1;
    }
    freeReplyObject(v);
    return n;
}

static int ps_redis_supp_list(redisContext *c, int64_t now, ps_supp_each each,
                              void *arg)
{
    ps_redis_supp_walk w = {now, each, arg};

    return ps_redis_scan_each(c, "ps:" PS_SUPP_PREFIX "*", ps_redis_supp_one,
                              &w);
}

static int ps_redis_supp_change(redisContext *c, ps_supp_verb verb,
                                const ps_supp_entry *e)
{
    char key[PS_SUPP_KEY_MAX], val[PS_SUPP_VALUE_MAX];
    size_t len = ps_supp_format(e, val);
    redisReply *r;
    int n;

    ps_supp_key(e, key);
    r = verb == PS_SUPP_ADD ? redisCommand(c, "SET ps:%s %b EXAT %lld", key,
                                           val, len, (long long)e->until)
                            : redisCommand(c, "DEL ps:%s", key);
    if (r == NULL)
        return -1;
    n = r->type == REDIS_REPLY_ERROR     ? -1
        : r->type == REDIS_REPLY_INTEGER ? (int)r->integer
                                         : 1;
    freeReplyObject(r);
    return n;
}

int ps_store_redis_supp_admin(const char *url, ps_supp_verb verb,
                              const ps_supp_entry *e, int64_t now,
                              ps_supp_each each, void *arg, ps_err *err)
{
    char server[PS_REDIS_SERVER_MAX];
    redisContext *c = ps_redis_admin_connect(url, server, err);
    int n;

    if (c == NULL)
        return -1;
    n = verb == PS_SUPP_LIST ? ps_redis_supp_list(c, now, each, arg)
                             : ps_redis_supp_change(c, verb, e);
    if (n < 0)
        ps_redis_admin_failed(c, server, err);
    redisFree(c);
    return n;
}
