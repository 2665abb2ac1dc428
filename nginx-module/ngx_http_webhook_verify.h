
/*
 * ngx_http_webhook_verify_module: what its three files share, the module
 * itself, the shared-memory replay cache of verified webhooks and the
 * shared-memory counters served by webhook_verify_status.
 */

#ifndef _NGX_HTTP_WEBHOOK_VERIFY_H_INCLUDED_
#define _NGX_HTTP_WEBHOOK_VERIFY_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "webhook/webhook.h"

extern ngx_module_t ngx_http_webhook_verify_module;

/* the counters' zone; replay zones may not take this name */
#define NGX_HTTP_WV_STATUS_ZONE "webhook_verify_status"

/* How a checked request ended: postseal_webhook_requests_total{outcome} */
typedef enum {
    NGX_HTTP_WV_VERIFIED,
    NGX_HTTP_WV_BAD_REQUEST,  /* 400 */
    NGX_HTTP_WV_UNAUTHORIZED, /* 401 */
    NGX_HTTP_WV_REPLAYED,     /* 409 */
    NGX_HTTP_WV_TOO_LARGE,    /* 413 */
    NGX_HTTP_WV_UNAVAILABLE,  /* 503: replay zone full, full=refuse */
    NGX_HTTP_WV_ERROR,        /* 500 */
    NGX_HTTP_WV_NOUTCOMES
} ngx_http_wv_outcome_e;

/*
 * The counters, one word each in shared memory, added to with
 * ngx_atomic_fetch_add by every worker: a scrape reads the sum of all
 * workers without a lock.
 */
typedef struct {
    ngx_atomic_t requests[PS_WH_NSCHEMES][NGX_HTTP_WV_NOUTCOMES];
    ngx_atomic_t hashed_bytes[PS_WH_NSCHEMES];
    ngx_atomic_t replay_evictions;
    ngx_atomic_t replay_refusals;
} ngx_http_wv_counters_t;

typedef struct {
    ngx_shm_zone_t *status;    /* holds an ngx_http_wv_counters_t */
    ngx_array_t *replay_zones; /* ngx_shm_zone_t *, for the entries gauge */
    ngx_uint_t schemes;        /* bit per scheme some location verifies */
} ngx_http_webhook_verify_main_conf_t;

/* Adds the counters' zone (postconfiguration). */
ngx_int_t
ngx_http_webhook_verify_status_init(ngx_conf_t *cf,
                                    ngx_http_webhook_verify_main_conf_t *wmcf);

/* The counters, NULL until their zone exists (never while serving). */
ngx_http_wv_counters_t *
ngx_http_webhook_verify_counters(ngx_http_webhook_verify_main_conf_t *wmcf);

/* "webhook_verify_status;" at location level */
char *ngx_http_webhook_verify_status(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf);

/* "webhook_verify_replay_zone NAME:SIZE" at http level */
char *ngx_http_webhook_verify_replay_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                          void *conf);

/* What a full zone does with a new id (webhook_verify_replay ... full=). */
typedef enum {
    NGX_HTTP_WV_FULL_REFUSE, /* 503: no unexpired entry is ever dropped */
    NGX_HTTP_WV_FULL_EVICT   /* drop the oldest entry, and its protection */
} ngx_http_wv_full_e;

/*
 * Remembers a verified request's replay id until expires: NGX_OK if it was
 * new, NGX_DECLINED if it was seen and has not expired, NGX_BUSY if the
 * zone is full and full is NGX_HTTP_WV_FULL_REFUSE (*retry_after: seconds
 * until its oldest entry expires), NGX_ERROR if it could not be held even
 * after forgetting the oldest entry. A full zone is logged at most once a
 * minute, with the counts since the last line.
 */
ngx_int_t ngx_http_webhook_verify_replay_add(ngx_shm_zone_t *zone,
                                             const u_char *id, time_t expires,
                                             ngx_http_wv_full_e full,
                                             time_t *retry_after,
                                             ngx_log_t *log);

/* Forgets an id, so a delivery the upstream failed can be retried. */
void ngx_http_webhook_verify_replay_forget(ngx_shm_zone_t *zone,
                                           const u_char *id);

/* How many ids a replay zone holds now (expired ones not yet freed too). */
ngx_uint_t ngx_http_webhook_verify_replay_entries(ngx_shm_zone_t *zone);

#endif /* _NGX_HTTP_WEBHOOK_VERIFY_H_INCLUDED_ */
