/* Internals shared by the Redis store (async, on the daemon's loop) and
 * the Redis side of `postseal quota` (blocking): the script, the server
 * address and how a counter's window is named in Redis. */
#ifndef PS_POLICYD_REDIS_STORE_H
#define PS_POLICYD_REDIS_STORE_H

#include "store.h"

#define PS_REDIS_KEY_MAX (PS_STORE_MAX_KEY + 8)

extern const char ps_redis_script[];

typedef struct ps_redis_addr {
    char host[256];
    int port, db;
} ps_redis_addr;

/* "redis://HOST[:PORT][/DB]"; HOST may be [IPv6]. */
int ps_redis_parse_url(const char *url, ps_redis_addr *a, ps_err *err);
/* "OWNER#measure/secs" -> "ps:{OWNER}#measure/secs": one credential's
 * windows share a hash tag, so they sit on one cluster slot. */
void ps_redis_key(char out[PS_REDIS_KEY_MAX], const char *store_key);

#endif
