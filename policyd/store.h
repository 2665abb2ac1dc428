/* The counter stores behind postseal-policyd: one call evaluates a whole
 * request atomically (check every window of every counter, charge all or
 * none), whether the counters sit in an LMDB file or in Redis. */
#ifndef PS_POLICYD_STORE_H
#define PS_POLICYD_STORE_H

#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "base/err.h"
#include "base/log.h"
#include "conf/store_url.h"
#include "quota/quota.h"
#include "quota/quota_rules.h"
#include "quota/supp.h"

#define PS_STORE_MAX_ITEMS (PS_QUOTA_NKINDS * PS_QUOTA_MAX_WINDOWS)
/* "KEY#messages/31622400" */
#define PS_STORE_MAX_KEY    (PS_QUOTA_MAX_KEY + 32)
#define PS_STORE_TIMEOUT_MS 100 /* Redis: the answer or store_down by then */

/* The arrays come last and only their first nitems entries are ever
 * read, so a query can be reset by clearing the small part before them
 * (all of it is some 30 KB, mostly the sub-windows of items[].state). */
typedef struct ps_store_query {
    int charge;   /* END-OF-MESSAGE: charge if everything fits */
    int warn_pct; /* [policyd] warn_at */
    uint64_t cost[PS_QUOTA_NMEASURES];
    uint64_t now;             /* out: the store's clock, ms */
    ps_quota_verdict verdict; /* out */
    size_t nitems;
    const char *owner[PS_STORE_MAX_ITEMS]; /* the counter: target key */
    char keys[PS_STORE_MAX_ITEMS][PS_STORE_MAX_KEY];
    ps_quota_item items[PS_STORE_MAX_ITEMS]; /* state: filled by the store */
} ps_store_query;

/* ok: 0 answered (verdict, used, warn filled), -1 the store is down. */
typedef void (*ps_store_done)(void *arg, int ok);
#define PS_STORE_PENDING 1 /* eval: done is called later */

/* Suppression lookups (quota/supp.h): found is PS_STORE_SUPP_FOUND (the
 * entry filled, not yet expired), PS_STORE_SUPP_NONE, or -1 (down). */
#define PS_STORE_SUPP_NONE  0
#define PS_STORE_SUPP_FOUND 2 /* never PS_STORE_PENDING */
typedef void (*ps_store_supp_done)(void *arg, int found);

typedef struct ps_store ps_store;
struct ps_store {
    const char *kind; /* "lmdb" or "redis" */
    /* 1: the store logs its outages itself, once each with the reason
     * (Redis); 0: the request path logs the first failure and recovery. */
    int logs_outages;
    /* Answers now, returning ok (0 or -1, done is not called), or
     * returns PS_STORE_PENDING and calls done exactly once later, never
     * before returning: at the end of the event loop's turn (LMDB), on
     * the store's answer (Redis), or while another request is evaluated
     * (LMDB, a full batch). */
    int (*eval)(ps_store *s, ps_store_query *q, ps_store_done done, void *arg);
    void (*tick)(ps_store *s); /* once a minute: housekeeping */
    void (*free)(ps_store *s);
    /* The suppression under key, into e (alive until done): answered now
     * (the found value returned) or PS_STORE_PENDING and done later, as
     * eval. now: Unix seconds, entries until then or before are gone. */
    int (*supp_get)(ps_store *s, const char *key, int64_t now, ps_supp_entry *e,
                    ps_store_supp_done done, void *arg);
    /* Stores e under its key until e->until (best effort: -1 logged). */
    int (*supp_put)(ps_store *s, const ps_supp_entry *e);
};

/* The record key of one window of a counter. */
void ps_store_key(char out[PS_STORE_MAX_KEY], const char *owner,
                  const ps_quota_window *w);
/* Parses the "#MEASURE/SECONDS" end of a record key back. */
int ps_store_key_window(const char *key, size_t len, ps_quota_window *w,
                        size_t *owner_len);
uint64_t ps_store_clock_ms(void);

/* spec: the [policyd] store setting (conf/store_url.h); a password file
 * it names is read here. */
ps_store *ps_store_open(const char *spec, struct event_base *base, ps_log *lg,
                        ps_err *err);
ps_store *ps_store_lmdb_open(const char *path, struct event_base *base,
                             ps_log *lg, ps_err *err);
ps_store *ps_store_redis_open(const ps_store_url *u, struct event_base *base,
                              ps_log *lg, ps_err *err);
/* At start, before the loop runs: 0 the store answers; 1 not now (the
 * daemon starts, answers store_down and retries; why says what failed);
 * -1 the settings are refused (a wrong password, no such database): the
 * daemon must not start. Blocking, bounded by PS_REDIS_CONNECT_MS per
 * server asked. */
int ps_store_probe(const char *spec, ps_err *why);
int ps_store_redis_probe(const ps_store_url *u, ps_err *why);

/* The admin commands (postseal quota show|reset), synchronous. key NULL:
 * every counter. show prints one line per window; reset deletes a
 * counter's windows. Both return the number of windows, or -1. */
typedef void (*ps_store_each)(void *arg, const char *key, size_t keylen,
                              const ps_quota_window *w, ps_quota_state *st,
                              uint64_t now);
int ps_store_lmdb_admin(const char *path, const char *key, int reset,
                        ps_store_each each, void *arg, ps_err *err);
int ps_store_redis_admin(const char *url, const char *key, int reset,
                         ps_store_each each, void *arg, ps_err *err);

/* The admin commands of `postseal suppression`, synchronous. list: each
 * live entry to each; add: e stored; remove: e's key deleted. The number
 * of entries listed, added or removed, or -1. */
typedef enum { PS_SUPP_LIST, PS_SUPP_ADD, PS_SUPP_REMOVE } ps_supp_verb;
typedef void (*ps_supp_each)(void *arg, const ps_supp_entry *e);
int ps_store_lmdb_supp_admin(const char *path, ps_supp_verb verb,
                             const ps_supp_entry *e, int64_t now,
                             ps_supp_each each, void *arg, ps_err *err);
int ps_store_redis_supp_admin(const char *url, ps_supp_verb verb,
                              const ps_supp_entry *e, int64_t now,
                              ps_supp_each each, void *arg, ps_err *err);

#endif
