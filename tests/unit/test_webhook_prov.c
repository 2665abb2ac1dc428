/* Unit tests for the provider rules the SDKs hold deliveries to: the SNS
 * SigningCertURL (sns_url.c) and the pinned certificate it selects by file
 * name (a directory of them: rotation), Shopify's required headers. */
/* clang-format off: cmocka.h needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "webhook/webhook_int.h"

#define SNS_TS   1659048835 /* 2022-07-28T22:53:55Z */
#define SNS_HOST "https://sns.us-east-2.amazonaws.com/"

static char tmpdir[] = "/tmp/test_webhook_prov.XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void url_ok(const char *url, const char *name)
{
    const char *got;
    size_t n;

    assert_int_equal(ps_wh_sns_cert_url(url, strlen(url), &got, &n), 0);
    assert_int_equal(n, strlen(name));
    assert_memory_equal(got, name, n);
}

static void url_bad(const char *url)
{
    const char *got;
    size_t n;

    assert_int_equal(ps_wh_sns_cert_url(url, strlen(url), &got, &n), -1);
}

/* aws-js-sns-message-validator's host pattern and .pem rule, without its
 * leniencies (a query ending in .pem, a user before the host). */
static void test_sns_cert_url(void **state)
{
    (void)state;
    url_ok(SNS_HOST "SimpleNotificationService-7ff5.pem",
           "SimpleNotificationService-7ff5.pem");
    url_ok("HTTPS://SNS.cn-north-1.amazonaws.com.cn/a/b/SNS-1.pem",
           "SNS-1.pem");
    url_ok("https://sns.us-gov-west-1.amazonaws.com/x.PEM", "x.PEM");
    url_bad("http://sns.us-east-2.amazonaws.com/x.pem");
    url_bad("https://sns.us-east-2.amazonaws.com.evil.com/x.pem");
    url_bad("https://sns.evil.com/x.pem");
    url_bad("https://sns.ab.amazonaws.com/x.pem"); /* region under 3 */
    url_bad("https://sns.us.east.amazonaws.com/x.pem");
    url_bad("https://s3.us-east-2.amazonaws.com/x.pem");
    url_bad("https://sns.us-east-2.amazonaws.com:443/x.pem");
    url_bad("https://u@sns.us-east-2.amazonaws.com/x.pem");
    url_bad(SNS_HOST "x.pem?y");
    url_bad(SNS_HOST "x?.pem");
    url_bad(SNS_HOST "x.pem#f");
    url_bad(SNS_HOST "x.crt");
    url_bad(SNS_HOST ".pem");
    url_bad(SNS_HOST);
    url_bad("https://sns.us-east-2.amazonaws.com");
    url_bad("");
}

static void write_pub(const char *path, EVP_PKEY *pk)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(PEM_write_PUBKEY(fp, pk), 1);
    fclose(fp);
}

/* The message, signed by priv, claiming its certificate is at url. The
 * signer takes only URLs the verifier would: another one is put in after
 * signing, in place of SNS_HOST "SNS-b.pem" (the URL is not signed). */
static ps_wh_verdict sns_verify(const ps_wh_config *cfg, EVP_PKEY *priv,
                                const char *url, ps_wh_result *res)
{
    static const char body[] = "{\"Message\":\"m\",\"TopicArn\":\"arn:t\"}";
    static const char good[] = SNS_HOST "SNS-b.pem";
    char out[8192], swapped[8192];
    const char *at;
    ps_err err;

    if (ps_webhook_sign_sns(priv, url, "id-1", SNS_TS, body, strlen(body), out,
                            sizeof(out), &err) < 0) {
        assert_int_equal(ps_webhook_sign_sns(priv, good, "id-1", SNS_TS, body,
                                             strlen(body), out, sizeof(out),
                                             &err),
                         0);
        assert_non_null(at = strstr(out, good));
        snprintf(swapped, sizeof(swapped), "%.*s%s%s", (int)(at - out), out,
                 url, at + strlen(good));
        memcpy(out, swapped, sizeof(out));
    }
    return ps_webhook_verify(cfg, NULL, 0, out, strlen(out), SNS_TS, res);
}

/* A directory of pinned certificates: the one named like the URL's file
 * verifies (rotation is an added file); another name is tried against
 * every pin; a bad URL is refused before any key. */
static void test_sns_pins_by_name(void **state)
{
    EVP_PKEY *old = EVP_RSA_gen(2048), *cur = EVP_RSA_gen(2048);
    char dir[300], path[400];
    ps_wh_config *cfg;
    ps_wh_result res;
    ps_err err;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/pins", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    cfg = ps_wh_config_new(PS_WH_SNS, &err);
    assert_int_equal(ps_wh_config_add_key_file(cfg, dir, &err), -1);
    assert_non_null(strstr(err.msg, "no *.pem"));
    snprintf(path, sizeof(path), "%s/SNS-a.pem", dir);
    write_pub(path, old);
    snprintf(path, sizeof(path), "%s/SNS-b.pem", dir);
    write_pub(path, cur);
    snprintf(path, sizeof(path), "%s/README", dir);
    write_pub(path, cur); /* not *.pem: not loaded */
    assert_int_equal(ps_wh_config_add_key_file(cfg, dir, &err), 0);
    assert_int_equal(cfg->nkeys, 2);

    assert_int_equal(sns_verify(cfg, cur, SNS_HOST "SNS-b.pem", &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 2);
    assert_string_equal(res.id, "id-1");
    assert_int_equal(sns_verify(cfg, old, SNS_HOST "SNS-a.pem", &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 1);
    /* the name selects: a signature by another pin does not verify */
    assert_int_equal(sns_verify(cfg, cur, SNS_HOST "SNS-a.pem", &res),
                     PS_WH_DENIED);
    assert_non_null(strstr(res.reason, "SNS-a.pem"));
    /* no pin of that name: each is tried */
    assert_int_equal(sns_verify(cfg, cur, SNS_HOST "SNS-c.pem", &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 2);
    assert_int_equal(
        sns_verify(cfg, cur, "https://sns.evil.com/SNS-b.pem", &res),
        PS_WH_MALFORMED);
    assert_non_null(strstr(res.reason, "SigningCertURL"));
    /* and the signer refuses to make such a message */
    assert_int_equal(ps_webhook_sign_sns(cur, "https://sns.evil.com/SNS-b.pem",
                                         NULL, SNS_TS, "{}", 2, path,
                                         sizeof(path), &err),
                     -1);
    ps_wh_config_free(cfg);
    EVP_PKEY_free(old);
    EVP_PKEY_free(cur);
}

/* shopify-api-js refuses a delivery lacking any of these; so do we, 400,
 * naming the header. */
static void test_shopify_required(void **state)
{
    static const char *const need[] = {
        "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-API-Version",
        "X-Shopify-Webhook-Id"};
    ps_wh_config *cfg = ps_wh_config_new(PS_WH_SHOPIFY, NULL);
    ps_wh_header h[8];
    char out[1024], *line, *save, *colon;
    size_t n = 0;
    ps_wh_result res;
    ps_err err;

    (void)state;
    assert_int_equal(ps_wh_config_add_secret(cfg, "hush", 4, &err), 0);
    assert_int_equal(
        ps_webhook_sign(cfg, NULL, "wh-1", 0, "{}", 2, out, sizeof(out), &err),
        0);
    for (line = strtok_r(out, "\n", &save); line != NULL && n < 8;
         line = strtok_r(NULL, "\n", &save)) {
        colon = strchr(line, ':');
        assert_non_null(colon);
        h[n++] = (ps_wh_header){line, (size_t)(colon - line), colon + 2,
                                strlen(colon + 2)};
    }
    assert_int_equal(n, 5);
    assert_int_equal(ps_webhook_verify(cfg, h, n, "{}", 2, 0, &res), PS_WH_OK);
    assert_string_equal(res.id, "wh-1");
    for (size_t k = 0; k < 4; k++) {
        ps_wh_header less[8];
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
            if (!ps_wh_ieq(h[i].name, h[i].name_len, need[k]))
                less[m++] = h[i];
        assert_int_equal(m, n - 1);
        assert_int_equal(ps_webhook_verify(cfg, less, m, "{}", 2, 0, &res),
                         PS_WH_MALFORMED);
        assert_non_null(strstr(res.reason, need[k]));
        /* empty counts as missing, as in shopify-api-js */
        memcpy(less, h, sizeof(h[0]) * n);
        for (size_t i = 0; i < n; i++)
            if (ps_wh_ieq(h[i].name, h[i].name_len, need[k]))
                less[i].value_len = 0;
        assert_int_equal(ps_webhook_verify(cfg, less, n, "{}", 2, 0, &res),
                         PS_WH_MALFORMED);
    }
    ps_wh_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sns_cert_url),
        cmocka_unit_test(test_sns_pins_by_name),
        cmocka_unit_test(test_shopify_required),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
