/* The words of a Redis connection's handshake, shared by the async store
 * and the blocking admin connection: AUTH's arguments, Sentinel's and
 * ROLE's replies, which error replies condemn a connection, and the Redis
 * name of a counter's window. */
#include "redis_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ps_redis_key(char out[PS_REDIS_KEY_MAX], const char *store_key)
{
    const char *hash = strrchr(store_key, '#');
    int owner = hash != NULL ? (int)(hash - store_key) : (int)strlen(store_key);

    snprintf(out, PS_REDIS_KEY_MAX, "ps:{%.*s}%s", owner, store_key,
             hash != NULL ? hash : "");
}

int ps_redis_auth_argv(const ps_store_url *u, const char *argv[3])
{
    int n = 0;

    if (u->password[0] == '\0')
        return 0;
    argv[n++] = "AUTH";
    if (u->user[0] != '\0')
        argv[n++] = u->user;
    argv[n++] = u->password;
    return n;
}

int ps_redis_sentinel_reply(const redisReply *r, ps_store_host *master,
                            char *why, size_t size)
{
    long port;
    char *end;

    if (r == NULL) {
        snprintf(why, size, "sentinel closed the connection");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, size, "sentinel: %.200s", r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        snprintf(why, size, "sentinel does not know the master");
        return -1;
    }
    port = strtol(r->element[1]->str, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535 ||
        r->element[0]->len > PS_STORE_URL_MAX_HOST) {
        snprintf(why, size, "sentinel gave a bad master address");
        return -1;
    }
    snprintf(master->name, sizeof(master->name), "%s", r->element[0]->str);
    master->port = (int)port;
    return 0;
}

int ps_redis_role_reply(const redisReply *r, char *why, size_t size)
{
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "master") == 0)
        return 0;
    snprintf(why, size, "ROLE: %s, not master (a failover under way?)",
             r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                     r->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->str
                 : "no answer");
    return -1;
}

static int ps_redis_error_is(const char *err, const char *const *codes)
{
    for (; *codes != NULL; codes++)
        if (strncmp(err, *codes, strlen(*codes)) == 0 &&
            (err[strlen(*codes)] == ' ' || err[strlen(*codes)] == '\0'))
            return 1;
    return 0;
}

int ps_redis_error_drops_link(const char *err)
{
    static const char *const codes[] = {"READONLY", "NOAUTH",     "WRONGPASS",
                                        "LOADING",  "MASTERDOWN", NULL};

    return ps_redis_error_is(err, codes);
}

/* Redis 6+ says WRONGPASS; older servers, and AUTH sent to a server with
 * no password, say "ERR ... AUTH ..."; SELECT says "ERR DB index ...". */
int ps_redis_error_is_config(const char *err)
{
    static const char *const codes[] = {"WRONGPASS", "NOAUTH", "NOPERM", NULL};

    return ps_redis_error_is(err, codes) ||
           (strncmp(err, "ERR", 3) == 0 &&
            (strstr(err, "AUTH") != NULL || strstr(err, "password") != NULL ||
             strstr(err, "DB index") != NULL));
}
