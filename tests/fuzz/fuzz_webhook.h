/* The driver of the fuzz_webhook_*.c targets: a saved request checked by one
 * scheme, its body fed in two pieces split where the first byte says; any
 * input gets a verdict, the same wherever the split. */
#ifndef FUZZ_WEBHOOK_H
#define FUZZ_WEBHOOK_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "webhook/webhook.h"

/* The secrets or key a scheme is fuzzed with (two secrets: rotation; and a
 * whpk_ key for the Standard Webhooks brands). */
static inline ps_wh_config *fuzz_config(ps_wh_scheme scheme)
{
    int basic = scheme == PS_WH_BASIC;
    const char *s1 =
        basic ? "user:pass" : "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *s2 = basic ? "hooks:secret" : "whsec_c2Vjb25k";
    char path[] = "/tmp/fuzz_webhook_key.XXXXXX";
    ps_wh_config *cfg = ps_wh_config_new(scheme, NULL);
    EVP_PKEY *key;
    FILE *fp;
    int fd;

    if (cfg == NULL)
        abort();
    if (ps_wh_scheme_uses_secret(scheme)) {
        if (ps_wh_config_add_secret(cfg, s1, strlen(s1), NULL) < 0 ||
            ps_wh_config_add_secret(cfg, s2, strlen(s2), NULL) < 0 ||
            (scheme <= PS_WH_RESEND && /* v1a too: RFC 8032's first key */
             ps_wh_config_add_secret(
                 cfg, "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 49,
                 NULL) < 0))
            abort();
        return cfg;
    }
    /* a fresh key: what is fuzzed is the parsing, not a known signature */
    key = scheme == PS_WH_SENDGRID ? EVP_EC_gen("P-256") : EVP_RSA_gen(1024);
    fd = mkstemp(path);
    fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (key == NULL || fp == NULL || PEM_write_PUBKEY(fp, key) != 1)
        abort();
    fclose(fp);
    EVP_PKEY_free(key);
    if (ps_wh_config_add_key_file(cfg, path, NULL) < 0)
        abort();
    unlink(path);
    return cfg;
}

static inline ps_wh_verdict fuzz_feed(const ps_wh_config *cfg,
                                      const ps_wh_header *h, size_t nh,
                                      const char *body, size_t blen,
                                      size_t split, ps_wh_result *res)
{
    ps_wh_req *req;
    ps_wh_verdict v;

    v = ps_webhook_begin(cfg, h, nh, -1, 1614265330, &req, res);
    if (v != PS_WH_MORE)
        return v;
    v = ps_webhook_update(req, body, split, res);
    if (v == PS_WH_MORE)
        v = ps_webhook_update(req, body + split, blen - split, res);
    if (v == PS_WH_MORE)
        v = ps_webhook_final(req, res);
    ps_webhook_free(req);
    return v;
}

static inline int fuzz_scheme(ps_wh_scheme scheme, const uint8_t *data,
                              size_t size)
{
    static ps_wh_config *cfg[PS_WH_NSCHEMES];
    ps_wh_header h[PS_WH_REQUEST_MAX_HEADERS];
    ps_wh_result r1, r2;
    ps_wh_verdict v1, v2;
    const char *body;
    size_t nh, blen, split;
    char *text;

    if (size < 1)
        return 0;
    if (cfg[scheme] == NULL) {
        cfg[scheme] = fuzz_config(scheme);
        ps_wh_config_set_max_body(cfg[scheme], 4096);
    }
    /* alternate tolerance on and off, as the first byte says */
    ps_wh_config_set_tolerance(cfg[scheme], data[0] & 1 ? 300 : -1);
    text = malloc(size - 1 ? size - 1 : 1);
    if (text == NULL)
        abort();
    memcpy(text, data + 1, size - 1);
    if (ps_wh_request_parse(text, size - 1, h, PS_WH_REQUEST_MAX_HEADERS, &nh,
                            &body, &blen, NULL) == 0) {
        split = blen ? data[0] % (blen + 1) : 0;
        v1 = fuzz_feed(cfg[scheme], h, nh, body, blen, split, &r1);
        v2 = fuzz_feed(cfg[scheme], h, nh, body, blen, 0, &r2);
        if (v1 != v2 || (v1 != PS_WH_OK && r1.reason[0] == '\0'))
            abort();
        /* a verified request names a configured secret or key */
        if (v1 == PS_WH_OK &&
            (strlen(r1.id) > PS_WH_ID_MAX || r1.key != r2.key || r1.key == 0 ||
             r1.key > PS_WH_MAX_SECRETS))
            abort();
    }
    free(text);
    return 0;
}

#endif
