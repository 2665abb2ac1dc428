
/*
 * ngx_http_webhook_verify_module: checks signed delivery webhooks in the
 * access phase. Glue only: directives, reading the body through a request
 * body filter (memory or temp file alike), the replay zone, statuses and
 * their counters;
 * every scheme's rules are in libpostseal (shared/webhook/webhook.h).
 */

#include "ngx_http_webhook_verify.h"

#define NGX_HTTP_WV_OFF           PS_WH_NSCHEMES
#define NGX_HTTP_WV_TOLERANCE_OFF -2
/* request headers passed to the core without a pool allocation */
#define NGX_HTTP_WV_HEADERS 32

typedef struct {
    ngx_uint_t scheme;
    ngx_array_t *secrets; /* ngx_str_t */
    ngx_array_t *keys;    /* ngx_str_t, file names */
    time_t tolerance;
    off_t max_body;
    ngx_shm_zone_t *replay;
    ngx_uint_t replay_full; /* ngx_http_wv_full_e */
    ngx_flag_t counters;    /* webhook_verify_counters */
    ps_wh_config *cfg;      /* NULL: not verified here */
} ngx_http_webhook_verify_loc_conf_t;

typedef struct {
    ps_wh_req *req; /* while the body streams */
    ps_wh_result res;
    ngx_shm_zone_t *replay; /* where the id went, if it did */
    ngx_int_t status;       /* the access phase answer */
    time_t retry_after;     /* with a 503: when the replay zone has room */
    off_t hashed;           /* body bytes fed to the core */
    ps_wh_scheme scheme;
    unsigned checked : 1;
    unsigned verified : 1;
    unsigned failed : 1;
    unsigned counted : 1;
} ngx_http_webhook_verify_ctx_t;

static ngx_int_t ngx_http_webhook_verify_handler(ngx_http_request_t *r);
static void ngx_http_webhook_verify_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_webhook_verify_body_filter(ngx_http_request_t *r,
                                                     ngx_chain_t *in);
static ngx_int_t ngx_http_webhook_verify_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_webhook_verify_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_webhook_verify_variable(ngx_http_request_t *r,
                                                  ngx_http_variable_value_t *v,
                                                  uintptr_t data);
static void *ngx_http_webhook_verify_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_webhook_verify_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_webhook_verify_merge_loc_conf(ngx_conf_t *cf,
                                                    void *parent, void *child);
static char *ngx_http_webhook_verify(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf);
static char *ngx_http_webhook_verify_file_arg(ngx_conf_t *cf,
                                              ngx_command_t *cmd, void *conf);
static char *ngx_http_webhook_verify_tolerance(ngx_conf_t *cf,
                                               ngx_command_t *cmd, void *conf);
static char *ngx_http_webhook_verify_replay(ngx_conf_t *cf, ngx_command_t *cmd,
                                            void *conf);
static ngx_int_t ngx_http_webhook_verify_init(ngx_conf_t *cf);

static ngx_command_t ngx_http_webhook_verify_commands[] = {

    {ngx_string("webhook_verify"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_webhook_verify, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},

    {ngx_string("webhook_verify_secret"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_webhook_verify_file_arg, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_webhook_verify_loc_conf_t, secrets), NULL},

    {ngx_string("webhook_verify_key"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_webhook_verify_file_arg, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_webhook_verify_loc_conf_t, keys), NULL},

    {ngx_string("webhook_verify_tolerance"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_webhook_verify_tolerance, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},

    {ngx_string("webhook_verify_max_body"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_off_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_webhook_verify_loc_conf_t, max_body), NULL},

    {ngx_string("webhook_verify_replay"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE12,
     ngx_http_webhook_verify_replay, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},

    {ngx_string("webhook_verify_replay_zone"),
     NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_http_webhook_verify_replay_zone,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL},

    {ngx_string("webhook_verify_counters"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_webhook_verify_loc_conf_t, counters), NULL},

    {ngx_string("webhook_verify_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
     ngx_http_webhook_verify_status, 0, 0, NULL},

    ngx_null_command};

static ngx_http_module_t ngx_http_webhook_verify_module_ctx = {
    ngx_http_webhook_verify_add_variables, /* preconfiguration */
    ngx_http_webhook_verify_init,          /* postconfiguration */

    ngx_http_webhook_verify_create_main_conf, /* create main configuration */
    NULL,                                     /* init main configuration */

    NULL, /* create server configuration */
    NULL, /* merge server configuration */

    ngx_http_webhook_verify_create_loc_conf, /* create location configuration */
    ngx_http_webhook_verify_merge_loc_conf   /* merge location configuration */
};

ngx_module_t ngx_http_webhook_verify_module = {
    NGX_MODULE_V1,
    &ngx_http_webhook_verify_module_ctx, /* module context */
    ngx_http_webhook_verify_commands,    /* module directives */
    NGX_HTTP_MODULE,                     /* module type */
    NULL,                                /* init master */
    NULL,                                /* init module */
    NULL,                                /* init process */
    NULL,                                /* init thread */
    NULL,                                /* exit thread */
    NULL,                                /* exit process */
    NULL,                                /* exit master */
    NGX_MODULE_V1_PADDING};

enum {
    NGX_HTTP_WV_VAR_VERIFIED,
    NGX_HTTP_WV_VAR_SCHEME,
    NGX_HTTP_WV_VAR_ID,
    NGX_HTTP_WV_VAR_KEY
};

static ngx_http_variable_t ngx_http_webhook_verify_vars[] = {

    {ngx_string("webhook_verified"), NULL, ngx_http_webhook_verify_variable,
     NGX_HTTP_WV_VAR_VERIFIED, NGX_HTTP_VAR_NOCACHEABLE, 0},

    {ngx_string("webhook_scheme"), NULL, ngx_http_webhook_verify_variable,
     NGX_HTTP_WV_VAR_SCHEME, NGX_HTTP_VAR_NOCACHEABLE, 0},

    {ngx_string("webhook_id"), NULL, ngx_http_webhook_verify_variable,
     NGX_HTTP_WV_VAR_ID, NGX_HTTP_VAR_NOCACHEABLE, 0},

    {ngx_string("webhook_key"), NULL, ngx_http_webhook_verify_variable,
     NGX_HTTP_WV_VAR_KEY, NGX_HTTP_VAR_NOCACHEABLE, 0},

    ngx_http_null_variable};

static ngx_http_request_body_filter_pt ngx_http_next_request_body_filter;

static void ngx_http_webhook_verify_cleanup(void *data)
{
    ngx_http_webhook_verify_ctx_t *ctx = data;

    ps_webhook_free(ctx->req);
    ngx_free(ctx);
}

/* the context survives internal redirects in its pool cleanup */
static ngx_http_webhook_verify_ctx_t *
ngx_http_webhook_verify_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t *cln;
    ngx_http_webhook_verify_ctx_t *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webhook_verify_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_webhook_verify_cleanup) {
                ctx = cln->data;
                ngx_http_set_ctx(r, ctx, ngx_http_webhook_verify_module);
                break;
            }
        }
    }

    return ctx;
}

/*
 * The request headers as the core wants them, in buf when they fit: the
 * core reads the array during ps_webhook_begin only, and a pool
 * allocation here would often cost the request pool another block.
 */
static ps_wh_header *ngx_http_webhook_verify_headers(ngx_http_request_t *r,
                                                     ps_wh_header *buf,
                                                     size_t nbuf, size_t *n)
{
    size_t count;
    ngx_uint_t i;
    ngx_list_part_t *part;
    ngx_table_elt_t *h;
    ps_wh_header *out;

    count = 0;
    for (part = &r->headers_in.headers.part; part; part = part->next) {
        count += part->nelts;
    }

    out = buf;

    if (count > nbuf) {
        out = ngx_palloc(r->pool, count * sizeof(ps_wh_header));
        if (out == NULL) {
            return NULL;
        }
    }

    *n = 0;
    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            out[*n].name = (const char *)h[i].key.data;
            out[*n].name_len = h[i].key.len;
            out[*n].value = (const char *)h[i].value.data;
            out[*n].value_len = h[i].value.len;
            (*n)++;
        }
    }

    return out;
}

/* Retry-After for a 503: the refusal is kept only as long as it must be */
static ngx_int_t ngx_http_webhook_verify_retry_after(ngx_http_request_t *r,
                                                     time_t seconds)
{
    ngx_table_elt_t *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (h->value.data == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    h->hash = 1;
#if defined(nginx_version) && nginx_version >= 1023000
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Retry-After");
    h->value.len = ngx_sprintf(h->value.data, "%T", seconds) - h->value.data;

    return NGX_OK;
}

/*
 * Refusals are what an admin looks for (a rotated secret, an attack), so
 * they reach nginx's default error_log level, error, as the access and
 * limit_req modules' refusals do; a flood of forged requests must not fill
 * the disk, so each worker writes at most one such line a second. The rest
 * go out at info, so at level info every refusal still has its line, and
 * the next error line counts them. Per worker: a worker is one thread.
 */
static time_t ngx_http_webhook_verify_logged_at;
static ngx_uint_t ngx_http_webhook_verify_unlogged;

static void ngx_http_webhook_verify_log_refusal(
    ngx_http_request_t *r, ngx_http_webhook_verify_ctx_t *ctx, ngx_int_t status)
{
    time_t now = ngx_time();
    ngx_uint_t level = NGX_LOG_ERR;
    u_char more[80], *end = more;

    if (now == ngx_http_webhook_verify_logged_at) {
        ngx_http_webhook_verify_unlogged++;
        level = NGX_LOG_INFO;

    } else if (ngx_http_webhook_verify_unlogged > 0) {
        end = ngx_snprintf(more, sizeof(more),
                           " (and %ui more since the last such line, at info)",
                           ngx_http_webhook_verify_unlogged);
    }

    ngx_log_error(level, r->connection->log, 0,
                  "webhook_verify: %s: %i: %s, id \"%s\"%*s",
                  ps_wh_scheme_name(ctx->scheme), status, ctx->res.reason,
                  ctx->res.id, (size_t)(end - more), more);

    if (level == NGX_LOG_INFO) {
        return;
    }

    ngx_http_webhook_verify_logged_at = now;
    ngx_http_webhook_verify_unlogged = 0;
}

/*
 * The request's outcome and hashed bytes into the shared counters, once:
 * one atomic add each, the only cost status counting puts on a request.
 */
static void ngx_http_webhook_verify_count(ngx_http_request_t *r,
                                          ngx_http_webhook_verify_ctx_t *ctx,
                                          ngx_int_t status)
{
    ngx_http_wv_outcome_e outcome;
    ngx_http_wv_counters_t *c;
    ngx_http_webhook_verify_main_conf_t *wmcf;
    ngx_http_webhook_verify_loc_conf_t *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webhook_verify_module);
    if (ctx->counted || !wlcf->counters) {
        return;
    }

    ctx->counted = 1;

    switch (status) {
    case NGX_OK:
        outcome = NGX_HTTP_WV_VERIFIED;
        break;
    case NGX_HTTP_BAD_REQUEST:
        outcome = NGX_HTTP_WV_BAD_REQUEST;
        break;
    case NGX_HTTP_UNAUTHORIZED:
        outcome = NGX_HTTP_WV_UNAUTHORIZED;
        break;
    case NGX_HTTP_CONFLICT:
        outcome = NGX_HTTP_WV_REPLAYED;
        break;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        outcome = NGX_HTTP_WV_TOO_LARGE;
        break;
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        outcome = NGX_HTTP_WV_UNAVAILABLE;
        break;
    default:
        outcome = NGX_HTTP_WV_ERROR;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webhook_verify_module);
    c = ngx_http_webhook_verify_counters(wmcf);

    (void)ngx_atomic_fetch_add(&c->requests[ctx->scheme][outcome], 1);

    if (ctx->hashed > 0) {
        (void)ngx_atomic_fetch_add(&c->hashed_bytes[ctx->scheme],
                                   (ngx_atomic_int_t)ctx->hashed);
    }
}

/* the answer for a verdict: replay check, log line, status */
static ngx_int_t ngx_http_webhook_verify_done(
    ngx_http_request_t *r, ngx_http_webhook_verify_ctx_t *ctx, ps_wh_verdict v)
{
    ngx_int_t rc, status;
    ngx_http_webhook_verify_loc_conf_t *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webhook_verify_module);

    ctx->checked = 1;

    switch (v) {
    case PS_WH_OK:
        status = NGX_OK;
        break;
    case PS_WH_MALFORMED:
    case PS_WH_DENIED:
    case PS_WH_TOO_LARGE:
        status = (ngx_int_t)v;
        break;
    default:
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_OK && ctx->res.has_replay_id && wlcf->replay != NULL) {
        rc = ngx_http_webhook_verify_replay_add(
            wlcf->replay, ctx->res.replay_id, (time_t)ctx->res.expires,
            (ngx_http_wv_full_e)wlcf->replay_full, &ctx->retry_after,
            r->connection->log);
        if (rc == NGX_OK) {
            ctx->replay = wlcf->replay;

        } else if (rc == NGX_BUSY) {
            status = NGX_HTTP_SERVICE_UNAVAILABLE;
            ngx_cpystrn((u_char *)ctx->res.reason,
                        (u_char *)"replay zone full (full=refuse): the "
                                  "provider may retry after Retry-After",
                        sizeof(ctx->res.reason));

        } else if (rc == NGX_DECLINED) {
            status = NGX_HTTP_CONFLICT;
            ngx_cpystrn((u_char *)ctx->res.reason,
                        (u_char *)"replayed: seen within its time window",
                        sizeof(ctx->res.reason));

        } else {
            status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            ngx_cpystrn((u_char *)ctx->res.reason,
                        (u_char *)"replay zone cannot hold the id",
                        sizeof(ctx->res.reason));
        }
    }

    ctx->status = status;

    if (status == NGX_OK) {
        ctx->verified = 1;
        ngx_http_webhook_verify_count(r, ctx, status);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "webhook_verify: %s: verified, id \"%s\" key %ui",
                       ps_wh_scheme_name(ctx->scheme), ctx->res.id,
                       (ngx_uint_t)ctx->res.key);
        return NGX_OK;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE &&
        ngx_http_webhook_verify_retry_after(r, ctx->retry_after) != NGX_OK) {
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_webhook_verify_count(r, ctx, status);

    /* a full zone has its own line a minute: not one more a request */
    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_DEBUG, r->connection->log, 0,
                      "webhook_verify: %s: %i: %s, id \"%s\"",
                      ps_wh_scheme_name(ctx->scheme), status, ctx->res.reason,
                      ctx->res.id);
        return status;
    }

    ngx_http_webhook_verify_log_refusal(r, ctx, status);

    return status;
}

/*
 * A subrequest (auth_request, SSI include, mirror, ...) is not what the
 * client signed: it has no body of its own and its own URI. nginx runs no
 * access phase for subrequests, so a verifying location would serve one
 * unchecked; it is refused here, in the preaccess phase, which they do
 * pass. 500, not 401/403: final under satisfy any, and auth_request turns
 * it into 500 rather than letting the main request through.
 */
static ngx_int_t ngx_http_webhook_verify_subrequest(ngx_http_request_t *r)
{
    ngx_http_webhook_verify_loc_conf_t *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webhook_verify_module);

    if (wlcf->cfg == NULL || r == r->main) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "webhook_verify: %s: 500: refused a subrequest to \"%V\" "
                  "(auth_request, SSI include, mirror): only the client's "
                  "own request can be verified; set webhook_verify off in "
                  "locations reached by subrequests",
                  ps_wh_scheme_name(ps_wh_config_scheme(wlcf->cfg)), &r->uri);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

static ngx_int_t ngx_http_webhook_verify_handler(ngx_http_request_t *r)
{
    size_t n;
    ngx_int_t rc;
    ps_wh_header *headers;
    ps_wh_header buf[NGX_HTTP_WV_HEADERS];
    ps_wh_verdict v;
    ngx_pool_cleanup_t *cln;
    ngx_http_webhook_verify_ctx_t *ctx;
    ngx_http_webhook_verify_loc_conf_t *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webhook_verify_module);

    /* subrequests never get here: nginx skips the access phase for them */
    if (wlcf->cfg == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_webhook_verify_get_ctx(r);

    if (ctx != NULL) {
        return ctx->checked ? ctx->status : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The context (mostly the verdict's text fields) is not taken from the
     * request pool: with it the pool of a proxied request needs one more
     * 4 KB block (counted with uprobes: one more posix_memalign and a
     * malloc_consolidate per request, ~0.5 us), where a malloc of this
     * size comes from glibc's per-thread cache. The pool cleanup frees it.
     */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_alloc(sizeof(ngx_http_webhook_verify_ctx_t), r->connection->log);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(ctx, sizeof(ngx_http_webhook_verify_ctx_t));
    cln->data = ctx;
    cln->handler = ngx_http_webhook_verify_cleanup;
    ngx_http_set_ctx(r, ctx, ngx_http_webhook_verify_module);
    ctx->scheme = ps_wh_config_scheme(wlcf->cfg);

    if (r->request_body || r->discard_body) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "webhook_verify: the request body was read or "
                      "discarded before the access phase");
        ctx->checked = 1;
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_http_webhook_verify_count(r, ctx, ctx->status);
        return ctx->status;
    }

    headers = ngx_http_webhook_verify_headers(r, buf, NGX_HTTP_WV_HEADERS, &n);
    if (headers == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v = ps_webhook_begin(wlcf->cfg, headers, n, r->headers_in.content_length_n,
                         ngx_time(), &ctx->req, &ctx->res);

    if (v != PS_WH_MORE) {
        return ngx_http_webhook_verify_done(r, ctx, v);
    }

    rc = ngx_http_read_client_request_body(
        r, ngx_http_webhook_verify_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}

static void ngx_http_webhook_verify_body_handler(ngx_http_request_t *r)
{
    ps_wh_verdict v;
    ngx_http_webhook_verify_ctx_t *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webhook_verify_module);

    if (ctx->req == NULL) {
        ctx->checked = 1;
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_http_webhook_verify_count(r, ctx, ctx->status);

    } else {
        v = ps_webhook_final(ctx->req, &ctx->res);
        ps_webhook_free(ctx->req);
        ctx->req = NULL;

        (void)ngx_http_webhook_verify_done(r, ctx, v);
    }

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}

/*
 * Every byte of the body passes here on its way to memory or to the temp
 * file, so what is hashed is what the upstream gets, wherever it is kept.
 */
static ngx_int_t ngx_http_webhook_verify_body_filter(ngx_http_request_t *r,
                                                     ngx_chain_t *in)
{
    size_t size;
    ngx_buf_t *b;
    ngx_chain_t *cl;
    ps_wh_verdict v;
    ngx_http_webhook_verify_ctx_t *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webhook_verify_module);

    if (ctx == NULL || ctx->req == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_in_memory(b) && ngx_buf_size(b) > 0) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "webhook_verify: request body buffer not in memory");
            v = PS_WH_INTERNAL;
            goto failed;
        }

        size = b->last - b->pos;
        if (size == 0) {
            continue;
        }

        ctx->hashed += size;

        v = ps_webhook_update(ctx->req, b->pos, size, &ctx->res);
        if (v != PS_WH_MORE) {
            goto failed;
        }
    }

    return ngx_http_next_request_body_filter(r, in);

failed:

    ps_webhook_free(ctx->req);
    ctx->req = NULL;

    return ngx_http_webhook_verify_done(r, ctx, v);
}

/* a delivery the upstream did not take is forgotten, so its retry passes */
static ngx_int_t ngx_http_webhook_verify_log_handler(ngx_http_request_t *r)
{
    ngx_http_webhook_verify_ctx_t *ctx;

    ctx = ngx_http_webhook_verify_get_ctx(r);

    if (ctx == NULL || ctx->replay == NULL ||
        r->headers_out.status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return NGX_OK;
    }

    ngx_http_webhook_verify_replay_forget(ctx->replay, ctx->res.replay_id);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "webhook_verify: status %ui, replay key forgotten",
                   r->headers_out.status);

    ctx->replay = NULL;

    return NGX_OK;
}

static ngx_int_t ngx_http_webhook_verify_variable(ngx_http_request_t *r,
                                                  ngx_http_variable_value_t *v,
                                                  uintptr_t data)
{
    u_char *p;
    const char *s;
    ngx_http_webhook_verify_ctx_t *ctx;

    ctx = ngx_http_webhook_verify_get_ctx(r->main);

    if (ctx == NULL || !ctx->checked) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_WV_VAR_VERIFIED:
        s = ctx->verified ? "1" : "0";
        break;

    case NGX_HTTP_WV_VAR_SCHEME:
        s = ps_wh_scheme_name(ctx->scheme);
        break;

    case NGX_HTTP_WV_VAR_ID:
        s = ctx->res.id;
        break;

    default: /* NGX_HTTP_WV_VAR_KEY: which secret or key, never its bytes */
        if (!ctx->verified || ctx->res.key == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%ui", (ngx_uint_t)ctx->res.key) - p;
        v->valid = 1;
        v->no_cacheable = 1;
        v->not_found = 0;
        v->data = p;
        return NGX_OK;
    }

    if (s[0] == '\0') {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_strlen(s);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = (u_char *)s;

    return NGX_OK;
}

static ngx_int_t ngx_http_webhook_verify_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t *var, *v;

    for (v = ngx_http_webhook_verify_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}

static void *ngx_http_webhook_verify_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_webhook_verify_main_conf_t *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_webhook_verify_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    wmcf->replay_zones =
        ngx_array_create(cf->pool, 2, sizeof(ngx_shm_zone_t *));
    if (wmcf->replay_zones == NULL) {
        return NULL;
    }

    return wmcf;
}

static void *ngx_http_webhook_verify_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_webhook_verify_loc_conf_t *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_webhook_verify_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->secrets = NULL;
     *     conf->keys = NULL;
     *     conf->cfg = NULL;
     */

    conf->scheme = NGX_CONF_UNSET_UINT;
    conf->tolerance = NGX_CONF_UNSET;
    conf->max_body = NGX_CONF_UNSET;
    conf->replay = NGX_CONF_UNSET_PTR;
    conf->replay_full = NGX_CONF_UNSET_UINT;
    conf->counters = NGX_CONF_UNSET;

    return conf;
}

static void ngx_http_webhook_verify_free_cfg(void *data)
{
    ps_wh_config_free(data);
}

/* the core's configuration for a location: files are read here, as root */
static char *
ngx_http_webhook_verify_build(ngx_conf_t *cf,
                              ngx_http_webhook_verify_loc_conf_t *conf)
{
    int rc;
    char *path;
    ps_err err;
    ngx_str_t *s;
    ngx_uint_t i;
    ps_wh_config *cfg;
    ngx_pool_cleanup_t *cln;

    cfg = ps_wh_config_new((ps_wh_scheme)conf->scheme, &err);
    if (cfg == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "webhook_verify: %s", err.msg);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ps_wh_config_free(cfg);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_webhook_verify_free_cfg;
    cln->data = cfg;

    ps_wh_config_set_tolerance(cfg, conf->tolerance == NGX_HTTP_WV_TOLERANCE_OFF
                                        ? PS_WH_TOLERANCE_OFF
                                        : (int64_t)conf->tolerance);
    ps_wh_config_set_max_body(cfg, (int64_t)conf->max_body);
    ps_wh_config_set_replay_ids(cfg, conf->replay != NULL);

    s = conf->secrets ? conf->secrets->elts : NULL;

    for (i = 0; s && i < conf->secrets->nelts; i++) {
        if (s[i].len > 5 && ngx_strncmp(s[i].data, "file=", 5) == 0) {
            path = (char *)s[i].data + 5;
            rc = ps_wh_config_add_secret_file(cfg, path, &err);

        } else {
            rc = ps_wh_config_add_secret(cfg, (const char *)s[i].data, s[i].len,
                                         &err);
        }

        if (rc < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "webhook_verify_secret: %s", err.msg);
            return NGX_CONF_ERROR;
        }
    }

    s = conf->keys ? conf->keys->elts : NULL;

    for (i = 0; s && i < conf->keys->nelts; i++) {
        if (s[i].len <= 5 || ngx_strncmp(s[i].data, "file=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "webhook_verify_key takes file=PATH");
            return NGX_CONF_ERROR;
        }

        if (ps_wh_config_add_key_file(cfg, (char *)s[i].data + 5, &err) < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "webhook_verify_key: %s",
                               err.msg);
            return NGX_CONF_ERROR;
        }
    }

    if (ps_wh_config_check(cfg, &err) < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "webhook_verify: %s", err.msg);
        return NGX_CONF_ERROR;
    }

    conf->cfg = cfg;

    return NGX_CONF_OK;
}

static char *ngx_http_webhook_verify_merge_loc_conf(ngx_conf_t *cf,
                                                    void *parent, void *child)
{
    ngx_http_webhook_verify_loc_conf_t *prev = parent;
    ngx_http_webhook_verify_loc_conf_t *conf = child;

    ngx_http_webhook_verify_main_conf_t *wmcf;

    ngx_conf_merge_uint_value(conf->scheme, prev->scheme, NGX_HTTP_WV_OFF);
    ngx_conf_merge_value(conf->tolerance, prev->tolerance,
                         PS_WH_DEFAULT_TOLERANCE);
    ngx_conf_merge_off_value(conf->max_body, prev->max_body,
                             PS_WH_DEFAULT_MAX_BODY);
    ngx_conf_merge_ptr_value(conf->replay, prev->replay, NULL);
    ngx_conf_merge_uint_value(conf->replay_full, prev->replay_full,
                              NGX_HTTP_WV_FULL_REFUSE);
    ngx_conf_merge_value(conf->counters, prev->counters, 1);

    if (conf->secrets == NULL) {
        conf->secrets = prev->secrets;
    }

    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    if (conf->scheme == NGX_HTTP_WV_OFF) {
        return NGX_CONF_OK;
    }

    /* its series are shown at zero before its first request */
    wmcf =
        ngx_http_conf_get_module_main_conf(cf, ngx_http_webhook_verify_module);
    wmcf->schemes |= (ngx_uint_t)1 << conf->scheme;

    return ngx_http_webhook_verify_build(cf, conf);
}

static char *ngx_http_webhook_verify(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf)
{
    ngx_http_webhook_verify_loc_conf_t *wlcf = conf;

    ngx_str_t *value;
    ps_wh_scheme scheme;

    if (wlcf->scheme != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        wlcf->scheme = NGX_HTTP_WV_OFF;
        return NGX_CONF_OK;
    }

    if (ps_wh_scheme_parse((const char *)value[1].data, value[1].len, &scheme) <
        0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown webhook scheme \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    wlcf->scheme = scheme;

    return NGX_CONF_OK;
}

/* webhook_verify_secret and webhook_verify_key: repeatable, kept as given */
static char *ngx_http_webhook_verify_file_arg(ngx_conf_t *cf,
                                              ngx_command_t *cmd, void *conf)
{
    char *p = conf;

    ngx_str_t *value, *s;
    ngx_array_t **a;

    a = (ngx_array_t **)(p + cmd->offset);

    if (*a == NULL) {
        *a = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "takes a non-empty value";
    }

    s = ngx_array_push(*a);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = value[1];

    return NGX_CONF_OK;
}

static char *ngx_http_webhook_verify_tolerance(ngx_conf_t *cf,
                                               ngx_command_t *cmd, void *conf)
{
    ngx_http_webhook_verify_loc_conf_t *wlcf = conf;

    ngx_str_t *value;
    time_t t;

    if (wlcf->tolerance != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        wlcf->tolerance = NGX_HTTP_WV_TOLERANCE_OFF;

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "webhook_verify_tolerance off accepts replayed "
                           "old signatures: for recorded fixtures only");
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 1);
    if (t == (time_t)NGX_ERROR) {
        return "invalid value";
    }

    wlcf->tolerance = t;

    return NGX_CONF_OK;
}

static char *ngx_http_webhook_verify_replay(ngx_conf_t *cf, ngx_command_t *cmd,
                                            void *conf)
{
    ngx_http_webhook_verify_loc_conf_t *wlcf = conf;

    ngx_str_t *value, name;

    if (wlcf->replay != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        wlcf->replay = NULL;
        return NGX_CONF_OK;
    }

    if (value[1].len <= 5 || ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        return "takes zone=NAME [full=refuse|evict] or off";
    }

    wlcf->replay_full = NGX_HTTP_WV_FULL_REFUSE;

    if (cf->args->nelts == 3) {
        if (ngx_strcmp(value[2].data, "full=refuse") == 0) {
            wlcf->replay_full = NGX_HTTP_WV_FULL_REFUSE;

        } else if (ngx_strcmp(value[2].data, "full=evict") == 0) {
            wlcf->replay_full = NGX_HTTP_WV_FULL_EVICT;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": takes full=refuse or "
                               "full=evict",
                               &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    name.data = value[1].data + 5;
    name.len = value[1].len - 5;

    if (name.len == sizeof(NGX_HTTP_WV_STATUS_ZONE) - 1 &&
        ngx_strncmp(name.data, NGX_HTTP_WV_STATUS_ZONE, name.len) == 0) {
        return "cannot use zone \"" NGX_HTTP_WV_STATUS_ZONE "\": it holds "
               "the module's counters";
    }

    wlcf->replay =
        ngx_shared_memory_add(cf, &name, 0, &ngx_http_webhook_verify_module);
    if (wlcf->replay == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

static ngx_int_t ngx_http_webhook_verify_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt *h;
    ngx_http_core_main_conf_t *cmcf;
    ngx_http_webhook_verify_main_conf_t *wmcf;

    wmcf =
        ngx_http_conf_get_module_main_conf(cf, ngx_http_webhook_verify_module);
    if (ngx_http_webhook_verify_status_init(cf, wmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_webhook_verify_subrequest;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_webhook_verify_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_webhook_verify_log_handler;

    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_webhook_verify_body_filter;

    return NGX_OK;
}
