
/*
 * ngx_http_webhook_verify_module: what its two files share, the module
 * itself and the shared-memory replay cache of verified webhooks.
 */

#ifndef _NGX_HTTP_WEBHOOK_VERIFY_H_INCLUDED_
#define _NGX_HTTP_WEBHOOK_VERIFY_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "webhook/webhook.h"

extern ngx_module_t ngx_http_webhook_verify_module;

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

#endif /* _NGX_HTTP_WEBHOOK_VERIFY_H_INCLUDED_ */
