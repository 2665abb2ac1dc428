
/*
 * ngx_http_webhook_verify_module: the counters in shared memory (one zone
 * for every worker, kept across reloads) and webhook_verify_status, which
 * serves them in the Prometheus text format 0.0.4, like stub_status.
 */

#include "ngx_http_webhook_verify.h"

/* one shm zone's slab pool needs a few pages around the counters */
#define NGX_HTTP_WV_STATUS_PAGES 8
/* longest sample line: name, two labels, a 20-digit value */
#define NGX_HTTP_WV_STATUS_LINE 128
/* HELP and TYPE lines and the unlabelled samples */
#define NGX_HTTP_WV_STATUS_FIXED 2048

#define NGX_HTTP_WV_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* label values of postseal_webhook_requests_total{outcome} */
static const char *ngx_http_wv_outcome_names[NGX_HTTP_WV_NOUTCOMES] = {
    "verified",  "bad_request", "unauthorized", "replayed",
    "too_large", "unavailable", "error"};

typedef struct {
    ngx_http_wv_counters_t *counters;
} ngx_http_wv_status_ctx_t;

ngx_http_wv_counters_t *
ngx_http_webhook_verify_counters(ngx_http_webhook_verify_main_conf_t *wmcf)
{
    ngx_http_wv_status_ctx_t *ctx;

    if (wmcf->status == NULL) {
        return NULL;
    }

    ctx = wmcf->status->data;

    return ctx->counters;
}

/*
 * A reload finds the zone of the same name, size and module and passes the
 * old context: the counters go on from where they were. A restart (or a
 * reload that loads a changed module file) starts them from zero.
 */
static ngx_int_t ngx_http_wv_status_init_zone(ngx_shm_zone_t *shm_zone,
                                              void *data)
{
    ngx_http_wv_status_ctx_t *octx = data;

    ngx_slab_pool_t *shpool;
    ngx_http_wv_status_ctx_t *ctx;

    ctx = shm_zone->data;

    if (octx) {
        ctx->counters = octx->counters;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *)shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->counters = shpool->data;
        return NGX_OK;
    }

    ctx->counters = ngx_slab_calloc(shpool, sizeof(ngx_http_wv_counters_t));
    if (ctx->counters == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ctx->counters;

    return NGX_OK;
}

ngx_int_t
ngx_http_webhook_verify_status_init(ngx_conf_t *cf,
                                    ngx_http_webhook_verify_main_conf_t *wmcf)
{
    ngx_str_t name = ngx_string(NGX_HTTP_WV_STATUS_ZONE);
    ngx_shm_zone_t *shm_zone;
    ngx_http_wv_status_ctx_t *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_wv_status_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name,
                                     NGX_HTTP_WV_STATUS_PAGES * ngx_pagesize,
                                     &ngx_http_webhook_verify_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is the module's "
                           "counters: choose another name",
                           &name);
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_wv_status_init_zone;
    shm_zone->data = ctx;
    wmcf->status = shm_zone;

    return NGX_OK;
}

static u_char *ngx_http_wv_status_header(u_char *p, const char *name,
                                         const char *type, const char *help)
{
    return ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                       type);
}

/*
 * A scheme's series are written when some location verifies it, or when
 * its counters moved before a reload took it out: every series a graph
 * needs is there from the start, at zero, and none goes missing.
 */
static ngx_uint_t
ngx_http_wv_status_shown(ngx_http_webhook_verify_main_conf_t *wmcf,
                         ngx_http_wv_counters_t *c, ngx_uint_t scheme)
{
    ngx_uint_t o;

    if (wmcf->schemes & ((ngx_uint_t)1 << scheme)) {
        return 1;
    }

    for (o = 0; o < NGX_HTTP_WV_NOUTCOMES; o++) {
        if (c->requests[scheme][o] != 0) {
            return 1;
        }
    }

    return 0;
}

static u_char *
ngx_http_wv_status_requests(u_char *p,
                            ngx_http_webhook_verify_main_conf_t *wmcf,
                            ngx_http_wv_counters_t *c)
{
    ngx_uint_t s, o;

    p = ngx_http_wv_status_header(p, "postseal_webhook_requests_total",
                                  "counter",
                                  "Webhook requests checked, by scheme and "
                                  "outcome.");

    for (s = 0; s < PS_WH_NSCHEMES; s++) {
        if (!ngx_http_wv_status_shown(wmcf, c, s)) {
            continue;
        }

        for (o = 0; o < NGX_HTTP_WV_NOUTCOMES; o++) {
            p = ngx_sprintf(p,
                            "postseal_webhook_requests_total{scheme=\"%s\","
                            "outcome=\"%s\"} %uA\n",
                            ps_wh_scheme_name((ps_wh_scheme)s),
                            ngx_http_wv_outcome_names[o], c->requests[s][o]);
        }
    }

    p = ngx_http_wv_status_header(p, "postseal_webhook_hashed_bytes_total",
                                  "counter",
                                  "Request body bytes fed to the verifier, "
                                  "by scheme.");

    for (s = 0; s < PS_WH_NSCHEMES; s++) {
        if (ngx_http_wv_status_shown(wmcf, c, s)) {
            p = ngx_sprintf(p,
                            "postseal_webhook_hashed_bytes_total{scheme=\"%s\"}"
                            " %uA\n",
                            ps_wh_scheme_name((ps_wh_scheme)s),
                            c->hashed_bytes[s]);
        }
    }

    return p;
}

static u_char *
ngx_http_wv_status_replay(u_char *p, ngx_http_webhook_verify_main_conf_t *wmcf,
                          ngx_http_wv_counters_t *c)
{
    ngx_uint_t i, entries;
    ngx_shm_zone_t **zones;

    entries = 0;
    zones = wmcf->replay_zones->elts;

    for (i = 0; i < wmcf->replay_zones->nelts; i++) {
        entries += ngx_http_webhook_verify_replay_entries(zones[i]);
    }

    p = ngx_http_wv_status_header(p, "postseal_webhook_replay_entries", "gauge",
                                  "Replay ids held, over all replay zones.");
    p = ngx_sprintf(p, "postseal_webhook_replay_entries %ui\n", entries);

    p = ngx_http_wv_status_header(
        p, "postseal_webhook_replay_evictions_total", "counter",
        "Unexpired replay ids forgotten for room (full=evict).");
    p = ngx_sprintf(p, "postseal_webhook_replay_evictions_total %uA\n",
                    c->replay_evictions);

    p = ngx_http_wv_status_header(
        p, "postseal_webhook_replay_refusals_total", "counter",
        "Verified deliveries refused with 503: replay zone full "
        "(full=refuse).");
    p = ngx_sprintf(p, "postseal_webhook_replay_refusals_total %uA\n",
                    c->replay_refusals);

    return p;
}

static ngx_int_t ngx_http_webhook_verify_status_handler(ngx_http_request_t *r)
{
    size_t len;
    ngx_int_t rc;
    ngx_buf_t *b;
    ngx_chain_t out;
    ngx_http_wv_counters_t *c;
    ngx_http_webhook_verify_main_conf_t *wmcf;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webhook_verify_module);
    c = ngx_http_webhook_verify_counters(wmcf);
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&r->headers_out.content_type, NGX_HTTP_WV_CONTENT_TYPE);
    r->headers_out.content_type_lowcase = NULL;

    len = NGX_HTTP_WV_STATUS_FIXED + PS_WH_NSCHEMES *
                                         (NGX_HTTP_WV_NOUTCOMES + 1) *
                                         NGX_HTTP_WV_STATUS_LINE;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_wv_status_requests(b->last, wmcf, c);
    b->last = ngx_http_wv_status_replay(b->last, wmcf, c);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

char *ngx_http_webhook_verify_status(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf)
{
    ngx_http_core_loc_conf_t *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_webhook_verify_status_handler;

    return NGX_CONF_OK;
}
