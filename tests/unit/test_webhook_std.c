/* Unit tests for the conformance rules of Standard Webhooks and Stripe:
 * v1a Ed25519 signatures under whpk_ keys (alone and rotated with whsec_
 * secrets), unpadded secrets, fractional timestamps, and entries of a
 * signature list that do not decode being skipped rather than fatal. */
/* clang-format off: cmocka.h needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/encode.h"
#include "webhook/webhook.h"

#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS     1614265330
#define STD_BODY   "{\"test\": 2432232314}"
#define STD_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* A fresh Ed25519 key pair: its whpk_ text and a v1a entry signing the
 * Standard Webhooks content of ts (exact text) and the body. */
typedef struct edkey {
    EVP_PKEY *pk;
    char whpk[80];
} edkey;

static void edkey_new(edkey *k)
{
    uint8_t raw[32];
    size_t len = sizeof(raw);

    k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k->pk);
    assert_int_equal(EVP_PKEY_get_raw_public_key(k->pk, raw, &len), 1);
    memcpy(k->whpk, "whpk_", 5);
    ps_b64_encode(raw, len, k->whpk + 5);
}

static void v1a_entry(const edkey *k, const char *ts, char *out, size_t cap)
{
    char msg[256];
    uint8_t sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int n = snprintf(msg, sizeof(msg), "%s.%s.%s", STD_ID, ts, STD_BODY);

    assert_true(cap > 4 + ps_b64_encoded_size(64));
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pk), 1);
    assert_int_equal(
        EVP_DigestSign(ctx, sig, &siglen, (uint8_t *)msg, (size_t)n), 1);
    EVP_MD_CTX_free(ctx);
    memcpy(out, "v1a,", 4);
    ps_b64_encode(sig, siglen, out + 4);
}

static ps_wh_config *config2(ps_wh_scheme scheme, const char *a, const char *b)
{
    ps_err err;
    ps_wh_config *cfg = ps_wh_config_new(scheme, &err);

    assert_non_null(cfg);
    assert_int_equal(ps_wh_config_add_secret(cfg, a, strlen(a), &err), 0);
    if (b != NULL)
        assert_int_equal(ps_wh_config_add_secret(cfg, b, strlen(b), &err), 0);
    return cfg;
}

static ps_wh_verdict std_verify(const ps_wh_config *cfg, const char *ts,
                                const char *sig, int64_t now, ps_wh_result *res)
{
    ps_wh_header h[] = {{"webhook-id", 10, STD_ID, strlen(STD_ID)},
                        {"webhook-timestamp", 17, ts, strlen(ts)},
                        {"webhook-signature", 17, sig, strlen(sig)}};

    return ps_webhook_verify(cfg, h, 3, STD_BODY, strlen(STD_BODY), now, res);
}

static void test_v1a_alone_and_rotated(void **state)
{
    edkey k, other;
    char v1a[128], both[256];
    ps_wh_config *pk_only, *rotated;
    ps_wh_result res;

    (void)state;
    edkey_new(&k);
    edkey_new(&other);
    v1a_entry(&k, "1614265330", v1a, sizeof(v1a));
    pk_only = config2(PS_WH_STANDARD, k.whpk, NULL);
    assert_int_equal(std_verify(pk_only, "1614265330", v1a, STD_TS, &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 1);
    assert_true(res.has_replay_id);
    /* another body, another key, an HMAC-only header */
    assert_int_equal(std_verify(pk_only, "1614265331", v1a, STD_TS, &res),
                     PS_WH_DENIED);
    assert_int_equal(std_verify(pk_only, "1614265330", STD_SIG, STD_TS, &res),
                     PS_WH_DENIED);
    assert_non_null(strstr(res.reason, "only v1 (HMAC)"));
    rotated = config2(PS_WH_SVIX, STD_SECRET, other.whpk);
    assert_int_equal(std_verify(rotated, "1614265330", v1a, STD_TS, &res),
                     PS_WH_DENIED);
    snprintf(both, sizeof(both), "%s %s", v1a, STD_SIG);
    assert_int_equal(std_verify(rotated, "1614265330", both, STD_TS, &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 1);
    ps_wh_config_free(rotated);
    rotated = config2(PS_WH_STANDARD, other.whpk, k.whpk);
    assert_int_equal(std_verify(rotated, "1614265330", both, STD_TS, &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 2);
    ps_wh_config_free(rotated);
    rotated = config2(PS_WH_STANDARD, STD_SECRET, NULL);
    assert_int_equal(std_verify(rotated, "1614265330", v1a, STD_TS, &res),
                     PS_WH_DENIED);
    assert_non_null(strstr(res.reason, "no whpk_"));
    ps_wh_config_free(rotated);
    ps_wh_config_free(pk_only);
    EVP_PKEY_free(k.pk);
    EVP_PKEY_free(other.pk);
}

static void test_key_texts(void **state)
{
    static const char *const bad[] = {
        "whpk_",
        "whpk_AAAA",
        "whpk_not base64",
        "whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", /* 24 bytes, not 32 */
        "whsec_",
        "whsec_!!!!",
        "whsec_M"};
    static const char *const good[] = {
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr=="};
    ps_err err;
    ps_wh_config *cfg = ps_wh_config_new(PS_WH_STANDARD, &err);

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            ps_wh_config_add_secret(cfg, bad[i], strlen(bad[i]), &err), -1);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(
            ps_wh_config_add_secret(cfg, good[i], strlen(good[i]), &err), 0);
    ps_wh_config_free(cfg);
}

static void test_fractional_timestamps(void **state)
{
    edkey k;
    char v1a[128];
    ps_wh_config *cfg;
    ps_wh_result res;

    (void)state;
    edkey_new(&k);
    cfg = config2(PS_WH_STANDARD, k.whpk, NULL);
    v1a_entry(&k, "1614265330.123456", v1a, sizeof(v1a));
    assert_int_equal(
        std_verify(cfg, "1614265330.123456", v1a, STD_TS + 300, &res),
        PS_WH_OK);
    /* the header's text, or its whole seconds (as the reference libraries
     * verify), nothing else */
    assert_int_equal(std_verify(cfg, "1614265330.12345", v1a, STD_TS, &res),
                     PS_WH_DENIED);
    v1a_entry(&k, "1614265330", v1a, sizeof(v1a));
    assert_int_equal(std_verify(cfg, "1614265330.5", v1a, STD_TS, &res),
                     PS_WH_OK);
    assert_int_equal(std_verify(cfg, "1614265331.5", v1a, STD_TS, &res),
                     PS_WH_DENIED);
    ps_wh_config_free(cfg);
    cfg = config2(PS_WH_STANDARD, "whsec_c2Vjb25k", STD_SECRET);
    assert_int_equal(std_verify(cfg, "1614265330.25", STD_SIG, STD_TS, &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 2);
    assert_int_equal(std_verify(cfg, "1614265331.25", STD_SIG, STD_TS, &res),
                     PS_WH_DENIED);
    ps_wh_config_free(cfg);
    cfg = config2(PS_WH_STANDARD, k.whpk, NULL);
    v1a_entry(&k, "1614265330.123456", v1a, sizeof(v1a));
    assert_int_equal(
        std_verify(cfg, "1614265330.123456", v1a, STD_TS + 301, &res),
        PS_WH_DENIED);
    assert_non_null(strstr(res.reason, "in the past"));
    assert_int_equal(std_verify(cfg, "1614265330.", v1a, STD_TS, &res),
                     PS_WH_MALFORMED);
    assert_int_equal(
        std_verify(cfg, "1614265330.1234567890", v1a, STD_TS, &res),
        PS_WH_MALFORMED);
    assert_int_equal(std_verify(cfg, "1614265330.1e3", v1a, STD_TS, &res),
                     PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
    EVP_PKEY_free(k.pk);
}

/* The bound counts the entries kept (v1, v1a), not the others. */
static void test_signature_bound(void **state)
{
    char hv[4096] = "";
    ps_wh_config *cfg = config2(PS_WH_STANDARD, STD_SECRET, NULL);
    ps_wh_result res;

    (void)state;
    for (int i = 0; i < 15; i++)
        strcat(hv, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ");
    for (int i = 0; i < 20; i++)
        strcat(hv, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ");
    strcat(hv, STD_SIG);
    assert_int_equal(std_verify(cfg, "1614265330", hv, STD_TS, &res), PS_WH_OK);
    strcat(hv, " " STD_SIG);
    assert_int_equal(std_verify(cfg, "1614265330", hv, STD_TS, &res),
                     PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
}

static ps_wh_verdict stripe_verify(const ps_wh_config *cfg, const char *hv,
                                   ps_wh_result *res)
{
    static const char body[] = "{\"id\":\"evt_1\"}";
    ps_wh_header h = {"Stripe-Signature", 16, hv, strlen(hv)};

    return ps_webhook_verify(cfg, &h, 1, body, strlen(body), 1700000000, res);
}

static void test_stripe_unreadable_entries(void **state)
{
    ps_wh_config *cfg = config2(PS_WH_STRIPE, "whsec_test_secret", NULL);
    char out[512], hv[600], *sig;
    ps_wh_result res;
    ps_err err;

    (void)state;
    assert_int_equal(ps_webhook_sign(cfg, NULL, NULL, 1700000000,
                                     "{\"id\":\"evt_1\"}", 14, out, sizeof(out),
                                     &err),
                     0);
    out[strcspn(out, "\n")] = '\0';
    sig = out + strlen("Stripe-Signature: ");
    snprintf(hv, sizeof(hv), "%s,v1=bad_signature", sig);
    assert_int_equal(stripe_verify(cfg, hv, &res), PS_WH_OK);
    snprintf(hv, sizeof(hv), "t=1700000000,v1=zz,%s", sig + 13);
    assert_int_equal(stripe_verify(cfg, hv, &res), PS_WH_OK);
    assert_int_equal(stripe_verify(cfg, "t=1700000000,v1=bad_signature", &res),
                     PS_WH_DENIED);
    /* the header itself must be well formed */
    snprintf(hv, sizeof(hv), "%s,garbage", sig);
    assert_int_equal(stripe_verify(cfg, hv, &res), PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1a_alone_and_rotated),
        cmocka_unit_test(test_key_texts),
        cmocka_unit_test(test_fractional_timestamps),
        cmocka_unit_test(test_stripe_unreadable_entries),
        cmocka_unit_test(test_signature_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
