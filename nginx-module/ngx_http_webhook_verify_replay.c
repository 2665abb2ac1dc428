
/*
 * ngx_http_webhook_verify_module: the replay cache, a red-black tree of
 * replay ids in a shared memory zone, each kept until the signed timestamp
 * it came with falls out of the tolerance window.
 */

#include "ngx_http_webhook_verify.h"

#define NGX_HTTP_WV_EXPIRE_BATCH 8  /* expired entries freed per add */
#define NGX_HTTP_WV_FULL_LOG_GAP 60 /* seconds between "zone full" lines */
#define NGX_HTTP_WV_FULL_SCAN    64 /* oldest entries looked at when full */

typedef struct {
    ngx_rbtree_node_t node; /* key: the id's first bytes */
    ngx_queue_t queue;      /* newest at the head */
    time_t expires;
    u_char id[PS_WH_REPLAY_ID];
} ngx_http_wv_replay_node_t;

/* what a full zone did since its last log line, for every worker */
typedef struct {
    time_t logged; /* when the last line was written, 0: never */
    ngx_uint_t refused;
    ngx_uint_t evicted;
} ngx_http_wv_replay_full_t;

typedef struct {
    ngx_rbtree_t rbtree;
    ngx_rbtree_node_t sentinel;
    ngx_queue_t queue;
    ngx_uint_t entries; /* nodes in the tree, for the status gauge */
    ngx_http_wv_replay_full_t full;
} ngx_http_wv_replay_sh_t;

typedef struct {
    ngx_http_wv_replay_sh_t *sh;
    ngx_slab_pool_t *shpool;
    ngx_http_webhook_verify_main_conf_t *wmcf; /* where the counters are */
} ngx_http_wv_replay_ctx_t;

static ngx_rbtree_key_t ngx_http_wv_replay_key(const u_char *id)
{
    ngx_rbtree_key_t key;

    ngx_memcpy(&key, id, sizeof(key));

    return key;
}

static void ngx_http_wv_replay_insert_value(ngx_rbtree_node_t *temp,
                                            ngx_rbtree_node_t *node,
                                            ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t **p;
    ngx_http_wv_replay_node_t *n, *t;

    for (;;) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = (ngx_http_wv_replay_node_t *)node;
            t = (ngx_http_wv_replay_node_t *)temp;

            p = (ngx_memcmp(n->id, t->id, PS_WH_REPLAY_ID) < 0) ? &temp->left
                                                                : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}

static ngx_http_wv_replay_node_t *
ngx_http_wv_replay_lookup(ngx_http_wv_replay_ctx_t *ctx, const u_char *id)
{
    ngx_int_t rc;
    ngx_rbtree_key_t key;
    ngx_rbtree_node_t *node, *sentinel;
    ngx_http_wv_replay_node_t *n;

    key = ngx_http_wv_replay_key(id);
    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        n = (ngx_http_wv_replay_node_t *)node;
        rc = ngx_memcmp(id, n->id, PS_WH_REPLAY_ID);

        if (rc == 0) {
            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}

static void ngx_http_wv_replay_delete(ngx_http_wv_replay_ctx_t *ctx,
                                      ngx_http_wv_replay_node_t *n)
{
    ngx_queue_remove(&n->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &n->node);
    ngx_slab_free_locked(ctx->shpool, n);
    ctx->sh->entries--;
}

/* frees expired entries from the old end, a few at a time */
static void ngx_http_wv_replay_expire(ngx_http_wv_replay_ctx_t *ctx, time_t now)
{
    ngx_uint_t i;
    ngx_queue_t *q;
    ngx_http_wv_replay_node_t *n;

    for (i = 0; i < NGX_HTTP_WV_EXPIRE_BATCH; i++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        n = ngx_queue_data(q, ngx_http_wv_replay_node_t, queue);

        if (n->expires >= now) {
            return;
        }

        ngx_http_wv_replay_delete(ctx, n);
    }
}

/*
 * The counts since the last "zone full" line into *out, when a minute has
 * passed and there is something to say (under the lock; the line itself is
 * written after it): one line a minute however many requests meet a full
 * zone, where one a request filled the log.
 */
static ngx_uint_t ngx_http_wv_replay_full_due(ngx_http_wv_replay_ctx_t *ctx,
                                              time_t now,
                                              ngx_http_wv_replay_full_t *out)
{
    ngx_http_wv_replay_full_t *f = &ctx->sh->full;

    if (f->refused + f->evicted == 0 ||
        now - f->logged < NGX_HTTP_WV_FULL_LOG_GAP) {
        return 0;
    }

    *out = *f; /* out->logged: when the previous line was written */
    f->refused = 0;
    f->evicted = 0;
    f->logged = now;

    return 1;
}

static void ngx_http_wv_replay_full_log(ngx_shm_zone_t *zone, time_t now,
                                        ngx_http_wv_replay_full_t *f,
                                        ngx_log_t *log)
{
    ngx_str_t since;
    u_char buf[sizeof("in the last  s") + NGX_TIME_T_LEN];

    /* f->logged is the time of the line before this one, 0: none */
    since.data = buf;
    since.len =
        f->logged
            ? (size_t)(ngx_sprintf(buf, "in the last %T s", now - f->logged) -
                       buf)
            : 0;
    if (since.len == 0) {
        ngx_str_set(&since, "first time");
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "webhook_verify: replay zone \"%V\" full: %ui deliveries "
                  "refused with 503 (full=refuse), %ui unexpired entries "
                  "forgotten (full=evict: their replays pass), %V; make the "
                  "zone larger",
                  &zone->shm.name, f->refused, f->evicted, &since);
}

/*
 * The queue is in insertion order, not expiry order (a delivery signed
 * ahead of the clock lives longer than the ones after it), so an expired
 * entry may sit behind an unexpired oldest one. When full, the oldest few
 * are looked at: 1 if an expired one was freed; otherwise *retry_after is
 * the seconds until the first of them expires.
 */
static ngx_uint_t ngx_http_wv_replay_reclaim(ngx_http_wv_replay_ctx_t *ctx,
                                             time_t now, time_t *retry_after)
{
    time_t first;
    ngx_uint_t i;
    ngx_queue_t *q;
    ngx_http_wv_replay_node_t *n;

    first = 0;
    q = ngx_queue_last(&ctx->sh->queue);

    for (i = 0;
         i < NGX_HTTP_WV_FULL_SCAN && q != ngx_queue_sentinel(&ctx->sh->queue);
         i++, q = ngx_queue_prev(q)) {
        n = ngx_queue_data(q, ngx_http_wv_replay_node_t, queue);

        if (n->expires < now) {
            ngx_http_wv_replay_delete(ctx, n);
            return 1;
        }

        if (first == 0 || n->expires < first) {
            first = n->expires;
        }
    }

    *retry_after = first - now + 1;

    return 0;
}

/*
 * A node for a new id. When the zone is full: refuse (NULL, *busy set,
 * *retry_after until the oldest entry expires), or forget the oldest entry
 * and its replay window with it.
 */
static ngx_http_wv_replay_node_t *
ngx_http_wv_replay_alloc(ngx_http_wv_replay_ctx_t *ctx, time_t now,
                         ngx_http_wv_full_e full, ngx_uint_t *busy,
                         time_t *retry_after)
{
    ngx_queue_t *q;
    ngx_http_wv_counters_t *c;
    ngx_http_wv_replay_node_t *n;

    n = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_http_wv_replay_node_t));
    if (n != NULL || ngx_queue_empty(&ctx->sh->queue)) {
        return n;
    }

    c = ngx_http_webhook_verify_counters(ctx->wmcf);

    q = ngx_queue_last(&ctx->sh->queue);
    n = ngx_queue_data(q, ngx_http_wv_replay_node_t, queue);

    if (ngx_http_wv_replay_reclaim(ctx, now, retry_after)) {
        /* an expired entry behind a longer-lived one made room */

    } else if (full == NGX_HTTP_WV_FULL_REFUSE) {
        ctx->sh->full.refused++;
        (void)ngx_atomic_fetch_add(&c->replay_refusals, 1);
        *busy = 1;
        return NULL;

    } else {
        ctx->sh->full.evicted++;
        (void)ngx_atomic_fetch_add(&c->replay_evictions, 1);
        ngx_http_wv_replay_delete(ctx, n);
    }

    return ngx_slab_alloc_locked(ctx->shpool,
                                 sizeof(ngx_http_wv_replay_node_t));
}

ngx_int_t ngx_http_webhook_verify_replay_add(ngx_shm_zone_t *zone,
                                             const u_char *id, time_t expires,
                                             ngx_http_wv_full_e full,
                                             time_t *retry_after,
                                             ngx_log_t *log)
{
    time_t now;
    ngx_int_t rc;
    ngx_uint_t busy, due;
    ngx_http_wv_replay_ctx_t *ctx;
    ngx_http_wv_replay_node_t *n;
    ngx_http_wv_replay_full_t counts;

    ctx = zone->data;
    now = ngx_time();
    busy = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_wv_replay_expire(ctx, now);

    n = ngx_http_wv_replay_lookup(ctx, id);

    if (n != NULL && n->expires >= now) {
        rc = NGX_DECLINED;

    } else if (n != NULL) {
        n->expires = expires;
        ngx_queue_remove(&n->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &n->queue);
        rc = NGX_OK;

    } else {
        n = ngx_http_wv_replay_alloc(ctx, now, full, &busy, retry_after);

        if (n == NULL) {
            rc = busy ? NGX_BUSY : NGX_ERROR;

        } else {
            ngx_memcpy(n->id, id, PS_WH_REPLAY_ID);
            n->node.key = ngx_http_wv_replay_key(id);
            n->expires = expires;
            ngx_rbtree_insert(&ctx->sh->rbtree, &n->node);
            ngx_queue_insert_head(&ctx->sh->queue, &n->queue);
            ctx->sh->entries++;
            rc = NGX_OK;
        }
    }

    due = ngx_http_wv_replay_full_due(ctx, now, &counts);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (due) {
        ngx_http_wv_replay_full_log(zone, now, &counts, log);
    }

    return rc;
}

void ngx_http_webhook_verify_replay_forget(ngx_shm_zone_t *zone,
                                           const u_char *id)
{
    ngx_http_wv_replay_ctx_t *ctx;
    ngx_http_wv_replay_node_t *n;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    n = ngx_http_wv_replay_lookup(ctx, id);
    if (n != NULL) {
        ngx_http_wv_replay_delete(ctx, n);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}

ngx_uint_t ngx_http_webhook_verify_replay_entries(ngx_shm_zone_t *zone)
{
    ngx_uint_t n;
    ngx_http_wv_replay_ctx_t *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    n = ctx->sh->entries;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return n;
}

static ngx_int_t ngx_http_wv_replay_init_zone(ngx_shm_zone_t *shm_zone,
                                              void *data)
{
    ngx_http_wv_replay_ctx_t *octx = data;

    size_t len;
    ngx_http_wv_replay_ctx_t *ctx;

    ctx = shm_zone->data;

    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *)shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_wv_replay_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_wv_replay_insert_value);

    ngx_queue_init(&ctx->sh->queue);
    ctx->sh->entries = 0;
    ngx_memzero(&ctx->sh->full, sizeof(ngx_http_wv_replay_full_t));

    len =
        sizeof(" in webhook_verify_replay_zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in webhook_verify_replay_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is answered by full= and logged once a minute */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}

char *ngx_http_webhook_verify_replay_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                          void *conf)
{
    ngx_http_webhook_verify_main_conf_t *wmcf = conf;

    u_char *p;
    ssize_t size;
    ngx_str_t *value, name, s;
    ngx_shm_zone_t *shm_zone, **slot;
    ngx_http_wv_replay_ctx_t *ctx;

    value = cf->args->elts;

    p = (u_char *)ngx_strchr(value[1].data, ':');
    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected NAME:SIZE",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    if (name.len == sizeof(NGX_HTTP_WV_STATUS_ZONE) - 1 &&
        ngx_strncmp(name.data, NGX_HTTP_WV_STATUS_ZONE, name.len) == 0) {
        return "cannot name a zone \"" NGX_HTTP_WV_STATUS_ZONE "\": the "
               "module's counters use that name";
    }

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t)(8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is too small",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_wv_replay_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone =
        ngx_shared_memory_add(cf, &name, size, &ngx_http_webhook_verify_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate zone \"%V\"",
                           &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_wv_replay_init_zone;
    shm_zone->data = ctx;
    ctx->wmcf = wmcf;

    slot = ngx_array_push(wmcf->replay_zones);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = shm_zone;

    return NGX_CONF_OK;
}
