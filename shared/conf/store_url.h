/* The [policyd] store setting: an LMDB file, or a Redis server reached by
 * TCP, by a unix socket or through Redis Sentinel, with AUTH credentials.
 * The one parser of that grammar: postseal check, postseal-policyd -n,
 * its start and reload, and postseal quota all read it here. */
#ifndef PS_STORE_URL_H
#define PS_STORE_URL_H

#include <stddef.h>

#include "base/err.h"
#include "conf/conf.h"

#define PS_STORE_URL_MAX_HOSTS     8   /* sentinels in one setting */
#define PS_STORE_URL_MAX_HOST      255 /* a host name, or IPv6 text */
#define PS_STORE_URL_MAX_NAME      128 /* an ACL user, a Sentinel master */
#define PS_STORE_URL_MAX_PASSWORD  512
#define PS_STORE_URL_MAX_PATH      4095
#define PS_STORE_URL_MAX_DB        65535
#define PS_STORE_URL_REDIS_PORT    6379
#define PS_STORE_URL_SENTINEL_PORT 26379
#define PS_STORE_URL_SHOWN         200 /* bytes of a masked setting shown */

typedef enum ps_store_kind {
    PS_STORE_LMDB,           /* lmdb:/PATH */
    PS_STORE_REDIS,          /* redis://[USER:PASSWORD@]HOST[:PORT][/DB] */
    PS_STORE_REDIS_UNIX,     /* unix://[USER:PASSWORD@]/PATH[?db=N] */
    PS_STORE_REDIS_SENTINEL, /* redis-sentinel://[..@]H[:P],H[:P]/MASTER[/DB] */
} ps_store_kind;

typedef struct ps_store_host {
    char name[PS_STORE_URL_MAX_HOST + 1]; /* IPv6 without brackets */
    int port;
} ps_store_host;

/* Holds a password: clear it with ps_store_url_wipe(). */
typedef struct ps_store_url {
    ps_store_kind kind;
    char path[PS_STORE_URL_MAX_PATH + 1]; /* LMDB file, or Redis socket */
    ps_store_host hosts[PS_STORE_URL_MAX_HOSTS]; /* the server, or sentinels */
    size_t nhosts;
    char master[PS_STORE_URL_MAX_NAME + 1]; /* Sentinel's name of the master */
    int db;
    char user[PS_STORE_URL_MAX_NAME + 1]; /* "": AUTH with a password only */
    char password[PS_STORE_URL_MAX_PASSWORD + 1];  /* "": no AUTH */
    char password_file[PS_STORE_URL_MAX_PATH + 1]; /* ?password_file= */
} ps_store_url;

/* The syntax of spec, into *u (password_file named, not read). Messages
 * never include the password. */
int ps_store_url_parse(const char *spec, ps_store_url *u, ps_err *err);
/* ps_store_url_parse, then the password from password_file if named (a
 * file only its owner may read; one line). */
int ps_store_url_load(const char *spec, ps_store_url *u, ps_err *err);
/* Loads conf's [policyd] store, if set, and wipes it again: what
 * `postseal check` and `postseal-policyd -n` prove. Errors as
 * "FILE:LINE: store SHOWN: reason". */
int ps_store_url_check(const ps_conf *conf, ps_err *err);
/* err = "FILE:LINE: store SHOWN: why", for a failure of conf's store
 * (spec: the setting in force, perhaps a default the file leaves out). */
int ps_store_url_fail(const ps_conf *conf, const char *spec, const char *why,
                      ps_err *err);
/* spec with its password (and any "password=" value) replaced by "****",
 * cut to size: the only form of a store setting to log or print. */
void ps_store_url_mask(const char *spec, char *out, size_t size);
/* "HOST:PORT", "[IPv6]:PORT" or the socket path of a Redis endpoint. */
void ps_store_url_host_text(const ps_store_host *h, char *out, size_t size);
void ps_store_url_wipe(ps_store_url *u);

#endif
