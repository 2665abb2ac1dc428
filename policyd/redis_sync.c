/* A blocking Redis connection made as the daemon makes its own: through
 * Sentinel when configured, then AUTH, SELECT and (Sentinel) ROLE. For
 * `postseal quota` and the start-up check, never on the daemon's loop. */
#include "redis_store.h"

#include <stdio.h>
#include <string.h>

static redisContext *ps_sync_open(const ps_store_host *h, const char *path,
                                  ps_err *err)
{
    struct timeval tv = {PS_REDIS_CONNECT_MS / 1000,
                         PS_REDIS_CONNECT_MS % 1000 * 1000};
    redisContext *c = path != NULL
                          ? redisConnectUnixWithTimeout(path, tv)
                          : redisConnectWithTimeout(h->name, h->port, tv);

    if (c == NULL || c->err) {
        ps_err_set(err, "%s", c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* The first sentinel that names the master wins. */
static int ps_sync_ask(const ps_store_url *u, ps_store_host *master,
                       ps_err *err)
{
    char why[256] = "no sentinel", where[PS_REDIS_SERVER_MAX];

    for (size_t i = 0; i < u->nhosts; i++) {
        ps_err e = {""};
        redisContext *c = ps_sync_open(&u->hosts[i], NULL, &e);
        redisReply *r;
        ps_store_url_host_text(&u->hosts[i], where, sizeof(where));
        if (c == NULL) {
            snprintf(why, sizeof(why), "sentinel %.40s: %.200s", where, e.msg);
            continue;
        }
        r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", u->master);
        if (ps_redis_sentinel_reply(r, master, why, sizeof(why)) == 0) {
            freeReplyObject(r);
            redisFree(c);
            return 0;
        }
        if (r != NULL)
            freeReplyObject(r);
        redisFree(c);
    }
    return ps_err_set(err, "no sentinel named master '%s' (last: %s)",
                      u->master, why);
}

/* One handshake command; an error reply is the connection's failure. */
static int ps_sync_command(redisContext *c, int argc, const char **argv,
                           int *config, ps_err *err)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int rc = 0;

    if (r == NULL)
        return ps_err_set(err, "%s: %s", argv[0], c->errstr);
    if (r->type == REDIS_REPLY_ERROR) {
        *config = ps_redis_error_is_config(r->str);
        rc = ps_err_set(err, "%s refused: %.200s", argv[0], r->str);
    }
    freeReplyObject(r);
    return rc;
}

static int ps_sync_handshake(redisContext *c, const ps_store_url *u,
                             int *config, ps_err *err)
{
    const char *auth[3], *select[2] = {"SELECT", NULL}, *role[1] = {"ROLE"};
    char db[16], why[200];
    int n = ps_redis_auth_argv(u, auth);
    redisReply *r;

    snprintf(db, sizeof(db), "%d", u->db);
    select[1] = db;
    if ((n > 0 && ps_sync_command(c, n, auth, config, err) != 0) ||
        ps_sync_command(c, 2, select, config, err) != 0)
        return -1;
    if (u->kind != PS_STORE_REDIS_SENTINEL)
        return 0;
    r = redisCommandArgv(c, 1, role, NULL);
    n = ps_redis_role_reply(r, why, sizeof(why));
    if (r != NULL)
        freeReplyObject(r);
    return n == 0 ? 0 : ps_err_set(err, "%s", why);
}

redisContext *ps_redis_sync_connect(const ps_store_url *u,
                                    char server[PS_REDIS_SERVER_MAX],
                                    int *config, ps_err *err)
{
    ps_store_host master;
    const ps_store_host *h = &u->hosts[0];
    redisContext *c;
    ps_err why = {""};

    *config = 0;
    if (u->kind == PS_STORE_REDIS_SENTINEL) {
        if (ps_sync_ask(u, &master, err) != 0)
            return NULL;
        h = &master;
    }
    if (u->kind == PS_STORE_REDIS_UNIX)
        snprintf(server, PS_REDIS_SERVER_MAX, "%.200s", u->path);
    else
        ps_store_url_host_text(h, server, PS_REDIS_SERVER_MAX);
    c = ps_sync_open(h, u->kind == PS_STORE_REDIS_UNIX ? u->path : NULL, &why);
    if (c == NULL || ps_sync_handshake(c, u, config, &why) != 0) {
        ps_err_set(err, "redis %s: %s", server, why.msg);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* A wrong password or database refuses the start; a server that is not
 * there yet does not (it may be starting too). */
int ps_store_redis_probe(const ps_store_url *u, ps_err *why)
{
    char server[PS_REDIS_SERVER_MAX];
    int config;
    redisContext *c = ps_redis_sync_connect(u, server, &config, why);

    if (c == NULL)
        return config ? -1 : 1;
    redisFree(c);
    return 0;
}
