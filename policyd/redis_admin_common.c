/* What the blocking Redis admin commands (`postseal quota`, `postseal
 * suppression`) share: their connection from the store URL, their error
 * line, and the one SCAN walker, which hands every key matching a pattern,
 * batch after batch, to the caller's per-key callback. */
#include "redis_store.h"

#include <stdio.h>
#include <string.h>

redisContext *ps_redis_admin_connect(const char *url,
                                     char server[PS_REDIS_SERVER_MAX],
                                     ps_err *err)
{
    ps_store_url u;
    redisContext *c;
    int config;

    if (ps_store_url_load(url, &u, err) != 0)
        return NULL;
    c = ps_redis_sync_connect(&u, server, &config, err);
    ps_store_url_wipe(&u);
    return c;
}

void ps_redis_admin_failed(const redisContext *c, const char *server,
                           ps_err *err)
{
    ps_err_set(err, "redis %s: %s", server,
               c->err ? c->errstr : "unexpected reply");
}

/* A callback's -1 stops the walk and fails it, whatever batch it is in:
 * a NULL reply on a blocking hiredis context means the context is broken
 * (no later command can succeed), so going on to the next key or batch
 * would at best fail later and, on the last batch, report a partial walk
 * as a success. */
int ps_redis_scan_each(redisContext *c, const char *pattern, ps_redis_key_fn fn,
                       void *arg)
{
    char cursor[32] = "0";
    int n = 0, one;

    do {
        redisReply *r =
            redisCommand(c, "SCAN %s MATCH %s COUNT 500", cursor, pattern);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r != NULL)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            if ((one = fn(arg, c, r->element[1]->element[i]->str)) < 0) {
                freeReplyObject(r);
                return -1;
            }
            n += one;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}
