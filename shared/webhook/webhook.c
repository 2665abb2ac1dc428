/* Webhook verification entry points: the scheme table, configurations
 * (secrets, keys, tolerance, body limit) and the begin/update/final
 * dispatch with the body limit enforced for every scheme alike. */
#include "webhook/webhook_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/secfile.h"
#include "crypto/secrets.h"

static const ps_wh_ops *const scheme_ops[PS_WH_NSCHEMES] = {
    [PS_WH_STANDARD] = &ps_wh_standard_ops,
    [PS_WH_SVIX] = &ps_wh_svix_ops,
    [PS_WH_RESEND] = &ps_wh_resend_ops,
    [PS_WH_POSTAL] = &ps_wh_postal_ops,
    [PS_WH_MAILGUN] = &ps_wh_mailgun_ops,
    [PS_WH_SENDGRID] = &ps_wh_sendgrid_ops,
    [PS_WH_SNS] = &ps_wh_sns_ops,
    [PS_WH_STRIPE] = &ps_wh_stripe_ops,
    [PS_WH_GITHUB] = &ps_wh_github_ops,
    [PS_WH_SLACK] = &ps_wh_slack_ops,
    [PS_WH_SHOPIFY] = &ps_wh_shopify_ops,
    [PS_WH_BASIC] = &ps_wh_basic_ops,
    [PS_WH_BEARER] = &ps_wh_bearer_ops,
};

int ps_wh_scheme_parse(const char *name, size_t len, ps_wh_scheme *out)
{
    for (int i = 0; i < PS_WH_NSCHEMES; i++)
        if (ps_wh_ieq(name, len, scheme_ops[i]->name)) {
            *out = (ps_wh_scheme)i;
            return 0;
        }
    return -1;
}

const char *ps_wh_scheme_name(ps_wh_scheme scheme)
{
    return (unsigned)scheme < PS_WH_NSCHEMES ? scheme_ops[scheme]->name : "?";
}

int ps_wh_scheme_uses_secret(ps_wh_scheme scheme)
{
    return (unsigned)scheme < PS_WH_NSCHEMES &&
           (scheme_ops[scheme]->uses & PS_WH_USES_SECRET);
}

int ps_wh_scheme_uses_key(ps_wh_scheme scheme)
{
    return (unsigned)scheme < PS_WH_NSCHEMES &&
           (scheme_ops[scheme]->uses & PS_WH_USES_KEY);
}

int ps_wh_scheme_can_sign(ps_wh_scheme scheme)
{
    return (unsigned)scheme < PS_WH_NSCHEMES && scheme_ops[scheme]->sign;
}

ps_wh_config *ps_wh_config_new(ps_wh_scheme scheme, ps_err *err)
{
    ps_wh_config *cfg;

    if ((unsigned)scheme >= PS_WH_NSCHEMES) {
        ps_err_set(err, "unknown webhook scheme");
        return NULL;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    cfg->scheme = scheme;
    cfg->ops = scheme_ops[scheme];
    cfg->tolerance = PS_WH_DEFAULT_TOLERANCE;
    cfg->max_body = PS_WH_DEFAULT_MAX_BODY;
    cfg->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (cfg->sha256 == NULL) {
        ps_err_openssl(err, "SHA-256: not available");
        free(cfg);
        return NULL;
    }
    return cfg;
}

int ps_wh_config_add_secret(ps_wh_config *cfg, const char *text, size_t len,
                            ps_err *err)
{
    ps_wh_secret *s;
    int rc;

    if (!(cfg->ops->uses & PS_WH_USES_SECRET))
        return ps_err_set(err, "scheme %s takes a key, not a secret",
                          cfg->ops->name);
    if (cfg->nsecrets == PS_WH_MAX_SECRETS)
        return ps_err_set(err, "more than %d secrets", PS_WH_MAX_SECRETS);
    if (len == 0)
        return ps_err_set(err, "empty secret");
    s = &cfg->secrets[cfg->nsecrets];
    rc = cfg->ops->pubkey != NULL ? cfg->ops->pubkey(text, len, &s->pub, err)
                                  : 0;
    if (rc != 0) {
        cfg->nsecrets += rc > 0;
        return rc > 0 ? 0 : -1;
    }
    if (cfg->ops->secret != NULL) {
        if (cfg->ops->secret(text, len, &s->data, &s->len, err) < 0)
            return -1;
    } else {
        s->data = malloc(len);
        if (s->data == NULL)
            return ps_err_set(err, "out of memory");
        memcpy(s->data, text, len);
        s->len = len;
    }
    if (cfg->ops->uses & PS_WH_USES_HMAC) {
        s->mac = ps_hmac_key_new(PS_HMAC_SHA256, s->data, s->len, err);
        if (s->mac == NULL) {
            ps_wipe(s->data, s->len);
            free(s->data);
            memset(s, 0, sizeof(*s));
            return -1;
        }
    }
    cfg->nsecrets++;
    return 0;
}

int ps_wh_config_add_secret_file(ps_wh_config *cfg, const char *path,
                                 ps_err *err)
{
    ps_secrets *set;
    const uint8_t *p;
    size_t len;
    int rc = 0;

    if (ps_secrets_load(path, &set, err) < 0)
        return -1;
    if (ps_secrets_count(set) == 0)
        rc = ps_err_set(err, "%s: no secret in the file", path);
    for (size_t i = 0; rc == 0 && i < ps_secrets_count(set); i++) {
        p = ps_secrets_get(set, i, &len);
        if (ps_wh_config_add_secret(cfg, (const char *)p, len, err) < 0) {
            /* the message names no secret: add where it came from */
            char why[PS_ERR_MAX];

            snprintf(why, sizeof(why), "%s", err != NULL ? err->msg : "");
            rc = ps_err_set(err, "%s: secret %zu: %.400s", path, i + 1, why);
        }
    }
    ps_secrets_free(set);
    return rc;
}

static int add_one_key(ps_wh_config *cfg, const char *path, ps_err *err)
{
    const char *slash = strrchr(path, '/');

    if (cfg->nkeys == PS_WH_MAX_KEYS)
        return ps_err_set(err, "%s: more than %d keys", path, PS_WH_MAX_KEYS);
    cfg->key_names[cfg->nkeys] = strdup(slash != NULL ? slash + 1 : path);
    if (cfg->key_names[cfg->nkeys] == NULL)
        return ps_err_set(err, "out of memory");
    if (ps_pubkey_load(path, &cfg->keys[cfg->nkeys], err) < 0) {
        free(cfg->key_names[cfg->nkeys]);
        cfg->key_names[cfg->nkeys] = NULL;
        return -1;
    }
    cfg->nkeys++;
    return 0;
}

static int pem_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return d->d_name[0] != '.' && n > 4 &&
           strcmp(d->d_name + n - 4, ".pem") == 0;
}

/* Every "*.pem" of a directory, in name order (so $webhook_key is stable). */
static int add_key_dir(ps_wh_config *cfg, const char *dir, ps_err *err)
{
    struct dirent **ents;
    char path[PATH_MAX];
    int n = scandir(dir, &ents, pem_file, alphasort), rc = 0;

    if (n < 0)
        return ps_err_set(err, "%s: %s", dir, strerror(errno));
    if (n == 0)
        rc = ps_err_set(err, "%s: no *.pem file in the directory", dir);
    for (int i = 0; i < n; i++) {
        if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir,
                                ents[i]->d_name) >= (int)sizeof(path))
            rc = ps_err_set(err, "%s: path too long", dir);
        if (rc == 0)
            rc = add_one_key(cfg, path, err);
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int ps_wh_config_add_key_file(ps_wh_config *cfg, const char *path, ps_err *err)
{
    struct stat st;

    if (!(cfg->ops->uses & PS_WH_USES_KEY))
        return ps_err_set(err, "scheme %s takes a secret, not a key",
                          cfg->ops->name);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return add_key_dir(cfg, path, err);
    return add_one_key(cfg, path, err);
}

void ps_wh_config_set_tolerance(ps_wh_config *cfg, int64_t seconds)
{
    cfg->tolerance = seconds < 0 ? PS_WH_TOLERANCE_OFF : seconds;
}

void ps_wh_config_set_max_body(ps_wh_config *cfg, int64_t bytes)
{
    if (bytes < 0)
        bytes = 0;
    cfg->max_body = bytes > PS_WH_MAX_MAX_BODY ? PS_WH_MAX_MAX_BODY : bytes;
}

void ps_wh_config_set_replay_ids(ps_wh_config *cfg, int on)
{
    cfg->no_replay_ids = !on;
}

int ps_wh_config_check(const ps_wh_config *cfg, ps_err *err)
{
    if ((cfg->ops->uses & PS_WH_USES_SECRET) && cfg->nsecrets == 0)
        return ps_err_set(err, "scheme %s needs at least one secret",
                          cfg->ops->name);
    if ((cfg->ops->uses & PS_WH_USES_KEY) && cfg->nkeys == 0)
        return ps_err_set(err, "scheme %s needs a public key or certificate",
                          cfg->ops->name);
    return 0;
}

ps_wh_scheme ps_wh_config_scheme(const ps_wh_config *cfg)
{
    return cfg->scheme;
}

int64_t ps_wh_config_tolerance(const ps_wh_config *cfg)
{
    return cfg->tolerance;
}

int64_t ps_wh_config_max_body(const ps_wh_config *cfg)
{
    return cfg->max_body;
}

void ps_wh_config_free(ps_wh_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nsecrets; i++) {
        ps_wipe(cfg->secrets[i].data, cfg->secrets[i].len);
        free(cfg->secrets[i].data);
        ps_hmac_key_free(cfg->secrets[i].mac);
        EVP_PKEY_free(cfg->secrets[i].pub);
    }
    for (size_t i = 0; i < cfg->nkeys; i++) {
        ps_pubkey_free(cfg->keys[i]);
        free(cfg->key_names[i]);
    }
    EVP_MD_free(cfg->sha256);
    ps_wipe(cfg, sizeof(*cfg));
    free(cfg);
}

/* Where a request's scheme state starts in its allocation (the id scanner,
 * when the scheme has one, follows the state). */
#define REQ_ALIGN(n)                                                           \
    (((n) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) *               \
     _Alignof(max_align_t))
#define REQ_STATE_OFFSET REQ_ALIGN(sizeof(ps_wh_req))

void ps_webhook_free(ps_wh_req *req)
{
    if (req == NULL)
        return;
    if (req->ops->cleanup != NULL)
        req->ops->cleanup(req);
    if (req->state != NULL)
        ps_wipe(req->state, req->ops->state_size);
    free(req);
}

/* Out of line so that the compiler cannot fuse malloc and this memset
 * back into the calloc ps_webhook_begin avoids. */
__attribute__((noinline)) static void zero(void *p, size_t n)
{
    memset(p, 0, n);
}

ps_wh_verdict ps_webhook_begin(const ps_wh_config *cfg,
                               const ps_wh_header *headers, size_t nheaders,
                               int64_t content_length, int64_t now,
                               ps_wh_req **out, ps_wh_result *res)
{
    ps_wh_hdrs h = {headers, nheaders};
    size_t scan_at = REQ_STATE_OFFSET + REQ_ALIGN(cfg->ops->state_size);
    size_t size = cfg->ops->body_id != NULL
                      ? scan_at + sizeof(ps_json_idscan)
                      : REQ_STATE_OFFSET + cfg->ops->state_size;
    ps_wh_req *req;
    ps_wh_verdict v;

    memset(res, 0, sizeof(*res));
    *out = NULL;
    if (content_length > cfg->max_body)
        return ps_wh_fail(res, PS_WH_TOO_LARGE,
                          "body of %lld bytes over the limit of %lld",
                          (long long)content_length, (long long)cfg->max_body);
    /* One allocation per request: the scheme's state follows the request.
     * Not calloc: glibc serves a small malloc (the HMAC schemes' state
     * fits) from its per-thread cache, a calloc never. */
    req = malloc(size);
    if (req == NULL)
        return ps_wh_fail(res, PS_WH_INTERNAL, "out of memory");
    zero(req, size);
    req->cfg = cfg;
    req->ops = cfg->ops;
    req->now = now;
    if (req->ops->state_size > 0)
        req->state = (char *)req + REQ_STATE_OFFSET;
    if (req->ops->body_id != NULL) {
        req->idscan = (ps_json_idscan *)((char *)req + scan_at);
        ps_json_idscan_init(req->idscan, req->ops->body_id);
    }
    v = req->ops->begin(req, &h, res);
    if (v != PS_WH_MORE) {
        ps_webhook_free(req);
        res->verdict = v;
        return v;
    }
    res->verdict = PS_WH_MORE;
    *out = req;
    return PS_WH_MORE;
}

ps_wh_verdict ps_webhook_update(ps_wh_req *req, const void *data, size_t n,
                                ps_wh_result *res)
{
    ps_wh_verdict v;

    if (req->done)
        return ps_wh_fail(res, PS_WH_INTERNAL, "body fed after the verdict");
    if ((int64_t)n > req->cfg->max_body - req->received) {
        req->done = 1;
        return ps_wh_fail(res, PS_WH_TOO_LARGE,
                          "body over the limit of "
                          "%lld bytes",
                          (long long)req->cfg->max_body);
    }
    req->received += (int64_t)n;
    if (req->idscan != NULL)
        ps_json_idscan_feed(req->idscan, data, n);
    if (n == 0 || req->ops->update == NULL)
        return PS_WH_MORE;
    v = req->ops->update(req, data, n, res);
    if (v != PS_WH_MORE)
        req->done = 1;
    return v;
}

ps_wh_verdict ps_webhook_final(ps_wh_req *req, ps_wh_result *res)
{
    ps_wh_verdict v;

    if (req->done)
        return ps_wh_fail(res, PS_WH_INTERNAL, "verdict asked twice");
    req->done = 1;
    if (req->ops->final == NULL)
        return ps_wh_fail(res, PS_WH_INTERNAL, "no body step");
    v = req->ops->final(req, res);
    if (req->idscan != NULL && req->idscan->found && res->id[0] == '\0')
        ps_wh_set_id(res, req->idscan->val, req->idscan->vlen);
    res->verdict = v;
    return v;
}

ps_wh_verdict ps_webhook_verify(const ps_wh_config *cfg,
                                const ps_wh_header *headers, size_t nheaders,
                                const void *body, size_t len, int64_t now,
                                ps_wh_result *res)
{
    ps_wh_req *req;
    ps_wh_verdict v;

    v = ps_webhook_begin(cfg, headers, nheaders, (int64_t)len, now, &req, res);
    if (v != PS_WH_MORE)
        return v;
    v = ps_webhook_update(req, body, len, res);
    if (v == PS_WH_MORE)
        v = ps_webhook_final(req, res);
    ps_webhook_free(req);
    return v;
}

int ps_webhook_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                    int64_t timestamp, const void *body, size_t len, char *out,
                    size_t outsize, ps_err *err)
{
    if (cfg->ops->sign == NULL)
        return ps_err_set(err, "scheme %s: signing is not supported",
                          cfg->ops->name);
    if (outsize == 0)
        return ps_err_set(err, "no room for the headers");
    out[0] = '\0';
    return cfg->ops->sign(cfg, priv, id, timestamp, body, len, out, outsize,
                          err);
}
