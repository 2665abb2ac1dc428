/* Internals shared by the Redis store (async, on the daemon's loop) and
 * the Redis side of `postseal quota` and the start-up check (blocking):
 * the script, how a counter's window is named in Redis, and the commands
 * and replies of a connection's handshake (AUTH, SELECT, Sentinel, ROLE). */
#ifndef PS_POLICYD_REDIS_STORE_H
#define PS_POLICYD_REDIS_STORE_H

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "conf/store_url.h"
#include "store.h"

#define PS_REDIS_KEY_MAX    (PS_STORE_MAX_KEY + 8)
#define PS_REDIS_CONNECT_MS 1000 /* connect + handshake, per attempt */
#define PS_REDIS_SERVER_MAX 300  /* "host:port" or a socket path */

extern const char ps_redis_script[];

/* "OWNER#measure/secs" -> "ps:{OWNER}#measure/secs": one credential's
 * windows share a hash tag, so they sit on one cluster slot. */
void ps_redis_key(char out[PS_REDIS_KEY_MAX], const char *store_key);

/* AUTH [USER] PASSWORD, when u has a password: the argument count, or 0. */
int ps_redis_auth_argv(const ps_store_url *u, const char *argv[3]);
/* A reply to SENTINEL get-master-addr-by-name as the master's address;
 * -1 (why filled) when the sentinel does not know the master. */
int ps_redis_sentinel_reply(const redisReply *r, ps_store_host *master,
                            char *why, size_t size);
/* 0 when a reply to ROLE says master; else -1, why filled. */
int ps_redis_role_reply(const redisReply *r, char *why, size_t size);
/* An error reply that says this connection is of no use (a replica,
 * credentials gone, a server still loading): 1, so it is dropped and a
 * new one made, through Sentinel when it is configured. */
int ps_redis_error_drops_link(const char *err);
/* A handshake error reply that retrying will not fix (wrong password,
 * no such database): the daemon refuses to start on it. */
int ps_redis_error_is_config(const char *err);

/* A blocking connection made as the daemon's own (Sentinel asked, AUTH,
 * SELECT, ROLE), for postseal quota and the start-up check. NULL on
 * failure: err says why, *config set when the settings are at fault
 * rather than the network. */
redisContext *ps_redis_sync_connect(const ps_store_url *u,
                                    char server[PS_REDIS_SERVER_MAX],
                                    int *config, ps_err *err);

/* ps_redis_sync_connect for an admin command, from the store's URL (its
 * credentials wiped once connected). */
redisContext *ps_redis_admin_connect(const char *url,
                                     char server[PS_REDIS_SERVER_MAX],
                                     ps_err *err);
/* An admin command on c failed: err names the server and the cause. */
void ps_redis_admin_failed(const redisContext *c, const char *server,
                           ps_err *err);

/* What the walk does with one key it found: 1 counted, 0 passed over,
 * -1 failed (the walk stops there and fails). */
typedef int (*ps_redis_key_fn)(void *arg, redisContext *c, const char *key);
/* SCAN MATCH pattern to the end, each key to fn: the sum of fn's
 * answers, or -1 when a SCAN or fn failed. */
int ps_redis_scan_each(redisContext *c, const char *pattern, ps_redis_key_fn fn,
                       void *arg);

/* The async connection of the daemon: made, handshaken and remade by
 * itself; the store hears when it is ready and when it is lost. */
typedef struct ps_redis_link ps_redis_link;
typedef struct ps_redis_link_events {
    void (*up)(void *arg, const char *server);
    /* A ready link lost, or an attempt that failed. */
    void (*down)(void *arg, const char *reason);
    void *arg;
} ps_redis_link_events;

ps_redis_link *ps_redis_link_new(const ps_store_url *u, struct event_base *evb,
                                 const ps_redis_link_events *ev, ps_err *err);
/* Redis's clock minus ours, in ms, as measured by TIME in the handshake
 * of the ready connection (within half its round trip). */
int64_t ps_redis_link_clock_offset(const ps_redis_link *l);
/* The connection when it is ready for requests, else NULL. */
struct redisAsyncContext *ps_redis_link_ready(ps_redis_link *l);
/* The ready connection misbehaved (no answer in time, READONLY): drop it
 * (its pending replies come back NULL) and make a new one. */
void ps_redis_link_drop(ps_redis_link *l, const char *reason);
void ps_redis_link_free(ps_redis_link *l);

#endif
