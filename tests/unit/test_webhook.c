/* Unit tests for shared/webhook/ and the HMAC schemes: published vectors,
 * sign/verify round trips, rotation, the tolerance window both ways, bodies
 * in any pieces, the body limit, replay ids, delivery ids read from JSON
 * bodies (Stripe, Slack), saved-request parsing. */
/* clang-format off: cmocka.h needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook.h"

#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS     1614265330
#define STD_BODY   "{\"test\": 2432232314}"
#define STD_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

#define HDR(n, v)                                                              \
    {                                                                          \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                     \
    }

static ps_wh_config *config(ps_wh_scheme scheme, const char *secret)
{
    ps_err err;
    ps_wh_config *cfg = ps_wh_config_new(scheme, &err);

    assert_non_null(cfg);
    if (secret != NULL)
        assert_int_equal(
            ps_wh_config_add_secret(cfg, secret, strlen(secret), &err), 0);
    return cfg;
}

static ps_wh_verdict verify(const ps_wh_config *cfg, const ps_wh_header *h,
                            size_t n, const char *body, int64_t now,
                            ps_wh_result *res)
{
    return ps_webhook_verify(cfg, h, n, body, strlen(body), now, res);
}

static void test_scheme_names(void **state)
{
    ps_wh_scheme s;

    (void)state;
    for (int i = 0; i < PS_WH_NSCHEMES; i++) {
        const char *name = ps_wh_scheme_name((ps_wh_scheme)i);

        assert_int_equal(ps_wh_scheme_parse(name, strlen(name), &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(ps_wh_scheme_parse("GitHub", 6, &s), 0);
    assert_int_equal(s, PS_WH_GITHUB);
    assert_int_equal(ps_wh_scheme_parse("git", 3, &s), -1);
    assert_int_equal(ps_wh_scheme_parse("off", 3, &s), -1);
    assert_true(ps_wh_scheme_uses_key(PS_WH_SNS));
    assert_false(ps_wh_scheme_uses_secret(PS_WH_SNS));
    assert_true(ps_wh_scheme_uses_secret(PS_WH_BEARER));
}

static void test_config_errors(void **state)
{
    ps_err err;
    ps_wh_config *cfg;

    (void)state;
    cfg = config(PS_WH_STANDARD, NULL);
    assert_int_equal(ps_wh_config_check(cfg, &err), -1);
    assert_non_null(strstr(err.msg, "needs at least one secret"));
    assert_int_equal(ps_wh_config_add_secret(cfg, "whsec_!!", 8, &err), -1);
    assert_non_null(strstr(err.msg, "whsec_"));
    assert_null(strstr(err.msg, "!!")); /* the secret is never echoed */
    assert_int_equal(ps_wh_config_add_secret(cfg, "", 0, &err), -1);
    for (int i = 0; i < PS_WH_MAX_SECRETS; i++)
        assert_int_equal(
            ps_wh_config_add_secret(cfg, STD_SECRET, strlen(STD_SECRET), &err),
            0);
    assert_int_equal(
        ps_wh_config_add_secret(cfg, STD_SECRET, strlen(STD_SECRET), &err), -1);
    assert_int_equal(ps_wh_config_add_key_file(cfg, "/dev/null", &err), -1);
    assert_non_null(strstr(err.msg, "takes a secret"));
    assert_int_equal(ps_wh_config_check(cfg, &err), 0);
    ps_wh_config_free(cfg);

    cfg = config(PS_WH_BASIC, NULL);
    assert_int_equal(ps_wh_config_add_secret(cfg, "nocolon", 7, &err), -1);
    ps_wh_config_free(cfg);
    cfg = config(PS_WH_SNS, NULL);
    assert_int_equal(ps_wh_config_add_secret(cfg, "s", 1, &err), -1);
    assert_int_equal(ps_wh_config_check(cfg, &err), -1);
    ps_wh_config_free(cfg);
    ps_wh_config_free(NULL);
}

static void test_standard_vector(void **state)
{
    ps_wh_header h[] = {HDR("webhook-id", STD_ID),
                        HDR("Webhook-Timestamp", "1614265330"),
                        HDR("webhook-signature", STD_SIG)};
    ps_wh_config *cfg = config(PS_WH_STANDARD, STD_SECRET);
    ps_wh_config *bare = config(PS_WH_STANDARD, STD_SECRET + 6);
    ps_wh_result res, res2;

    (void)state;
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS, &res), PS_WH_OK);
    assert_string_equal(res.id, STD_ID);
    assert_true(res.has_replay_id);
    assert_int_equal(res.expires, STD_TS + 300);
    assert_int_equal(res.key, 1); /* the first secret, not its MAC */
    assert_int_equal(verify(bare, h, 3, STD_BODY, STD_TS, &res2), PS_WH_OK);
    assert_memory_equal(res.replay_id, res2.replay_id, PS_WH_REPLAY_ID);
    assert_int_equal(verify(cfg, h, 3, STD_BODY " ", STD_TS, &res),
                     PS_WH_DENIED);
    assert_string_equal(res.reason, "signature does not match");
    assert_int_equal(verify(cfg, h, 2, STD_BODY, STD_TS, &res), PS_WH_DENIED);
    assert_int_equal(verify(cfg, h + 1, 2, STD_BODY, STD_TS, &res),
                     PS_WH_DENIED);
    ps_wh_config_free(cfg);
    ps_wh_config_free(bare);
}

static void test_standard_signature_lists(void **state)
{
    static const char *const pass[] = {
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
        "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " STD_SIG
        " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "  " STD_SIG "  ",
        "v1a,whatever " STD_SIG,
        /* an entry that does not decode is skipped, not fatal */
        "v1,g0hM9Ss " STD_SIG,
        STD_SIG " v1,Zg==Zg== v1,",
        "nocomma " STD_SIG,
    };
    static const struct {
        const char *sig;
        ps_wh_verdict want;
    } fail[] = {
        {"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", PS_WH_DENIED},
        {"v1,g0hM9Ss", PS_WH_DENIED},
        {"v1,", PS_WH_DENIED},
        {"v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", PS_WH_DENIED},
        {"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", PS_WH_DENIED},
        {"", PS_WH_DENIED},
        {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", PS_WH_DENIED},
        /* one spelling per signature: stray trailing bits, '=' inside,
         * extra padding, whitespace, the URL alphabet */
        {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", PS_WH_DENIED},
        {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE=VlNIOLJ1OE=", PS_WH_DENIED},
        {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE==", PS_WH_DENIED},
        {"v1,\tg0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", PS_WH_DENIED},
        {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O\nE=", PS_WH_DENIED},
        {"v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", PS_WH_DENIED},
        {"v1,Zg==Zg==", PS_WH_DENIED},
    };
    ps_wh_config *cfg = config(PS_WH_STANDARD, STD_SECRET);
    ps_wh_result res;

    (void)state;
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        ps_wh_header h[] = {
            HDR("webhook-id", STD_ID),
            HDR("webhook-timestamp", "1614265330"),
            {"webhook-signature", 17, pass[i], strlen(pass[i])}};

        assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS, &res), PS_WH_OK);
    }
    for (size_t i = 0; i < sizeof(fail) / sizeof(fail[0]); i++) {
        ps_wh_header h[] = {
            HDR("webhook-id", STD_ID),
            HDR("webhook-timestamp", "1614265330"),
            {"webhook-signature", 17, fail[i].sig, strlen(fail[i].sig)}};

        assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS, &res),
                         fail[i].want);
    }
    ps_wh_config_free(cfg);
}

static void test_tolerance(void **state)
{
    ps_wh_header h[] = {HDR("webhook-id", STD_ID),
                        HDR("webhook-timestamp", "1614265330"),
                        HDR("webhook-signature", STD_SIG)};
    ps_wh_config *cfg = config(PS_WH_STANDARD, STD_SECRET);
    ps_wh_result res;

    (void)state;
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS + 300, &res), PS_WH_OK);
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS - 300, &res), PS_WH_OK);
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS + 301, &res),
                     PS_WH_DENIED);
    assert_non_null(strstr(res.reason, "in the past"));
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS - 301, &res),
                     PS_WH_DENIED);
    assert_non_null(strstr(res.reason, "in the future"));
    ps_wh_config_set_tolerance(cfg, 10);
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS + 11, &res),
                     PS_WH_DENIED);
    ps_wh_config_set_tolerance(cfg, PS_WH_TOLERANCE_OFF);
    assert_int_equal(verify(cfg, h, 3, STD_BODY, 2000000000, &res), PS_WH_OK);
    assert_int_equal(res.expires, 2000000000 + PS_WH_DEFAULT_TOLERANCE);
    h[1].value = "1614265330x";
    h[1].value_len = 11;
    assert_int_equal(verify(cfg, h, 3, STD_BODY, STD_TS, &res),
                     PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
}

/* Signs with the core, verifies with the core, under a second secret. */
static void round_trip(ps_wh_scheme scheme, const char *secret1,
                       const char *secret2)
{
    ps_wh_header h[16];
    char out[4096], *line, *save = NULL, *colon;
    const char *body = "{\"event\":\"delivered\",\"n\":1}";
    ps_wh_config *signer = config(scheme, secret2);
    ps_wh_config *cfg = config(scheme, secret1);
    ps_wh_result res;
    size_t n = 0;
    ps_err err;

    assert_int_equal(
        ps_wh_config_add_secret(cfg, secret2, strlen(secret2), &err), 0);
    assert_int_equal(ps_webhook_sign(signer, NULL, "id-1", 1700000000, body,
                                     strlen(body), out, sizeof(out), &err),
                     0);
    for (line = strtok_r(out, "\n", &save); line != NULL && n < 16;
         line = strtok_r(NULL, "\n", &save)) {
        colon = strchr(line, ':');
        assert_non_null(colon);
        h[n].name = line;
        h[n].name_len = (size_t)(colon - line);
        h[n].value = colon + 2;
        h[n].value_len = strlen(colon + 2);
        n++;
    }
    assert_int_equal(verify(cfg, h, n, body, 1700000000, &res), PS_WH_OK);
    assert_int_equal(res.key, 2); /* which secret matched: the second */
    assert_int_equal(verify(cfg, h, n, "{}", 1700000000, &res), PS_WH_DENIED);
    ps_wh_config_free(cfg);
    cfg = config(scheme, secret1);
    assert_int_equal(verify(cfg, h, n, body, 1700000000, &res), PS_WH_DENIED);
    ps_wh_config_free(cfg);
    ps_wh_config_free(signer);
}

static void test_round_trips_and_rotation(void **state)
{
    (void)state;
    round_trip(PS_WH_STANDARD, STD_SECRET, "whsec_c2Vjb25k");
    round_trip(PS_WH_SVIX, STD_SECRET, "whsec_c2Vjb25k");
    round_trip(PS_WH_RESEND, STD_SECRET, "whsec_c2Vjb25k");
    round_trip(PS_WH_STRIPE, "whsec_test_secret", "whsec_other");
    round_trip(PS_WH_GITHUB, "It's a Secret to Everybody", "new secret");
    round_trip(PS_WH_SLACK, "8f742231b10e8888abcd99yyyzzz85a5", "another");
    round_trip(PS_WH_SHOPIFY, "hush", "hush2");
}

static void test_basic_bearer_round_trips(void **state)
{
    ps_wh_header h[1];
    char out[512];
    ps_wh_config *cfg = config(PS_WH_BASIC, "u:p");
    ps_wh_result res;
    ps_err err;

    (void)state;
    assert_int_equal(
        ps_webhook_sign(cfg, NULL, NULL, 0, "", 0, out, sizeof(out), &err), 0);
    assert_string_equal(out, "Authorization: Basic dTpw\n");
    h[0] = (ps_wh_header)HDR("authorization", "basic dTpw");
    assert_int_equal(verify(cfg, h, 1, "", 0, &res), PS_WH_OK);
    assert_string_equal(res.id, "u");
    assert_false(res.has_replay_id);
    h[0] = (ps_wh_header)HDR("Authorization", "Basic dTpx");
    assert_int_equal(verify(cfg, h, 1, "", 0, &res), PS_WH_DENIED);
    ps_wh_config_free(cfg);
    cfg = config(PS_WH_BEARER, "tok");
    assert_int_equal(ps_wh_config_add_secret(cfg, "tok2", 4, &err), 0);
    h[0] = (ps_wh_header)HDR("Authorization", "Bearer tok");
    assert_int_equal(verify(cfg, h, 1, "", 0, &res), PS_WH_OK);
    assert_int_equal(res.key, 1);
    h[0] = (ps_wh_header)HDR("Authorization", "Bearer tok2");
    assert_int_equal(verify(cfg, h, 1, "", 0, &res), PS_WH_OK);
    assert_int_equal(res.key, 2);
    h[0] = (ps_wh_header)HDR("Authorization", "Bearer to");
    assert_int_equal(verify(cfg, h, 1, "", 0, &res), PS_WH_DENIED);
    ps_wh_config_free(cfg);
}

static void test_github_slack_docs(void **state)
{
    ps_wh_header gh[] = {
        HDR("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37"
                                   "570b6d7586c22c46f4379c8b043e17"),
        HDR("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")};
    ps_wh_header sl[] = {HDR("X-Slack-Request-Timestamp", "1531420618"),
                         HDR("X-Slack-Signature",
                             "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d"
                             "21a10bd27519666489c69b503")};
    static const char slack_body[] =
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
        "testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id="
        "U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F"
        "397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
        "47445629121.803a0bc887a14d10d2c447fce8b6703c";
    ps_wh_config *cfg = config(PS_WH_GITHUB, "It's a Secret to Everybody");
    ps_wh_result res;

    (void)state;
    assert_int_equal(verify(cfg, gh, 2, "Hello, World!", 0, &res), PS_WH_OK);
    assert_string_equal(res.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_int_equal(verify(cfg, gh, 2, "Hello, World?", 0, &res),
                     PS_WH_DENIED);
    gh[0] = (ps_wh_header)HDR("X-Hub-Signature-256", "sha1=00");
    assert_int_equal(verify(cfg, gh, 2, "Hello, World!", 0, &res),
                     PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
    cfg = config(PS_WH_SLACK, "8f742231b10e8888abcd99yyyzzz85a5");
    assert_int_equal(verify(cfg, sl, 2, slack_body, 1531420618, &res),
                     PS_WH_OK);
    assert_int_equal(verify(cfg, sl, 2, slack_body, 1531420618 + 301, &res),
                     PS_WH_DENIED);
    ps_wh_config_free(cfg);
}

static void test_mailgun_vector(void **state)
{
    static const char form[] =
        "timestamp=1403645220&token=5egbgr1vjgqxtrnp65xfznchgdccwh5d6i09vijq"
        "i3whgowmn6&signature=9cfc5c41582e51246e73c88d34db3af0a3a2692a76fbab8"
        "1492842f000256d33";
    static const char json[] =
        "{\"signature\": {\"timestamp\": 1403645220, \"token\": \"5egbgr1vjgq"
        "xtrnp65xfznchgdccwh5d6i09vijqi3whgowmn6\", \"signature\": \"9cfc5c41"
        "582e51246e73c88d34db3af0a3a2692a76fbab81492842f000256d33\"},"
        " \"event-data\": {\"id\": \"ev1\"}}";
    ps_wh_header fh[] = {
        HDR("Content-Type", "application/x-www-form-urlencoded")};
    ps_wh_header jh[] = {HDR("Content-Type", "application/json; charset=x")};
    ps_wh_config *cfg =
        config(PS_WH_MAILGUN, "key-3ax6xnjp29jd6fds4gc373sgvjxteol0");
    ps_wh_result res;

    (void)state;
    assert_int_equal(verify(cfg, fh, 1, form, 1403645220, &res), PS_WH_OK);
    assert_int_equal(res.key, 1);
    assert_int_equal(verify(cfg, jh, 1, json, 1403645220, &res), PS_WH_OK);
    assert_string_equal(res.id, "ev1");
    assert_int_equal(verify(cfg, NULL, 0, json, 1403645220, &res), PS_WH_OK);
    assert_int_equal(verify(cfg, fh, 1, form, 1403645220 + 400, &res),
                     PS_WH_DENIED);
    assert_int_equal(verify(cfg, jh, 1, form, 1403645220, &res),
                     PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
}

/* The same verdict whatever the pieces the body arrives in. */
static void test_streaming_pieces(void **state)
{
    char body[3001], out[1024], *nl, *p;
    ps_wh_header h[8];
    ps_wh_config *cfg = config(PS_WH_STANDARD, STD_SECRET);
    ps_wh_result res;
    ps_wh_req *req;
    size_t n = 0, at, step;
    ps_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(body) - 1; i++)
        body[i] = (char)('a' + i % 26);
    body[sizeof(body) - 1] = '\0';
    assert_int_equal(ps_webhook_sign(cfg, NULL, "m", 100, body, 3000, out,
                                     sizeof(out), &err),
                     0);
    for (p = out; (nl = strchr(p, '\n')) != NULL; p = nl + 1, n++) {
        *nl = '\0';
        h[n].name = p;
        h[n].name_len = (size_t)(strchr(p, ':') - p);
        h[n].value = p + h[n].name_len + 2;
        h[n].value_len = strlen(h[n].value);
    }
    for (step = 1; step <= 3000; step = step * 3 + 1) {
        assert_int_equal(ps_webhook_begin(cfg, h, n, -1, 100, &req, &res),
                         PS_WH_MORE);
        for (at = 0; at < 3000; at += step)
            assert_int_equal(
                ps_webhook_update(req, body + at,
                                  at + step > 3000 ? 3000 - at : step, &res),
                PS_WH_MORE);
        assert_int_equal(ps_webhook_update(req, "", 0, &res), PS_WH_MORE);
        assert_int_equal(ps_webhook_final(req, &res), PS_WH_OK);
        ps_webhook_free(req);
    }
    ps_wh_config_free(cfg);
}

static void test_body_limit(void **state)
{
    ps_wh_header h[] = {HDR("X-Hub-Signature-256", "sha256=00")};
    ps_wh_config *cfg = config(PS_WH_GITHUB, "s");
    ps_wh_result res;
    ps_wh_req *req;

    (void)state;
    ps_wh_config_set_max_body(cfg, 10);
    assert_int_equal(ps_webhook_begin(cfg, h, 1, 11, 0, &req, &res),
                     PS_WH_TOO_LARGE);
    assert_null(req);
    assert_int_equal(ps_webhook_begin(cfg, h, 1, -1, 0, &req, &res),
                     PS_WH_MORE);
    assert_int_equal(ps_webhook_update(req, "0123456789", 10, &res),
                     PS_WH_MORE);
    assert_int_equal(ps_webhook_update(req, "x", 1, &res), PS_WH_TOO_LARGE);
    assert_int_equal(ps_webhook_final(req, &res), PS_WH_INTERNAL);
    ps_webhook_free(req);
    ps_wh_config_free(cfg);
}

static void test_repeated_headers_are_malformed(void **state)
{
    ps_wh_header h[] = {HDR("X-Hub-Signature-256", "sha256=00"),
                        HDR("x-hub-signature-256", "sha256=00")};
    ps_wh_config *cfg = config(PS_WH_GITHUB, "s");
    ps_wh_result res;

    (void)state;
    assert_int_equal(verify(cfg, h, 2, "", 0, &res), PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
}

static void test_replay_ids(void **state)
{
    ps_wh_header one[] = {HDR("webhook-id", STD_ID),
                          HDR("webhook-timestamp", "1614265330"),
                          HDR("webhook-signature", STD_SIG)};
    ps_wh_header two[] = {
        HDR("webhook-id", STD_ID), HDR("webhook-timestamp", "1614265330"),
        HDR("webhook-signature",
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " STD_SIG)};
    ps_wh_config *a = config(PS_WH_STANDARD, STD_SECRET);
    ps_wh_config *b = config(PS_WH_SVIX, STD_SECRET);
    ps_wh_result r1, r2, r3;

    (void)state;
    assert_int_equal(verify(a, one, 3, STD_BODY, STD_TS, &r1), PS_WH_OK);
    assert_int_equal(verify(a, two, 3, STD_BODY, STD_TS, &r2), PS_WH_OK);
    assert_memory_equal(r1.replay_id, r2.replay_id, PS_WH_REPLAY_ID);
    assert_int_equal(verify(b, one, 3, STD_BODY, STD_TS, &r3), PS_WH_OK);
    assert_memory_not_equal(r1.replay_id, r3.replay_id, PS_WH_REPLAY_ID);
    /* off where no replay cache reads them; the key index stays */
    ps_wh_config_set_replay_ids(a, 0);
    assert_int_equal(verify(a, one, 3, STD_BODY, STD_TS, &r3), PS_WH_OK);
    assert_false(r3.has_replay_id);
    assert_int_equal(r3.key, r1.key);
    ps_wh_config_free(a);
    ps_wh_config_free(b);
}

/* The headers ps_webhook_sign made, split into h (NUL-terminating out's
 * lines): how many. */
static size_t split_headers(char *out, ps_wh_header *h, size_t cap)
{
    char *line, *save = NULL, *colon;
    size_t n = 0;

    for (line = strtok_r(out, "\n", &save); line != NULL && n < cap;
         line = strtok_r(NULL, "\n", &save), n++) {
        colon = strchr(line, ':');
        assert_non_null(colon);
        h[n] = (ps_wh_header){line, (size_t)(colon - line), colon + 2,
                              strlen(colon + 2)};
    }
    return n;
}

/* $webhook_id of a body signed by scheme, fed one byte at a time, for
 * every verdict: the id read from the body as it streamed. */
static void body_id(ps_wh_scheme scheme, const char *secret, const char *body,
                    const char *want)
{
    ps_wh_config *cfg = config(scheme, secret);
    ps_wh_header h[8];
    char out[1024];
    ps_wh_result res;
    ps_wh_req *req;
    size_t n, len = strlen(body);
    ps_err err;

    assert_int_equal(ps_webhook_sign(cfg, NULL, NULL, 1700000000, body, len,
                                     out, sizeof(out), &err),
                     0);
    n = split_headers(out, h, 8);
    assert_int_equal(ps_webhook_begin(cfg, h, n, -1, 1700000000, &req, &res),
                     PS_WH_MORE);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(ps_webhook_update(req, body + i, 1, &res), PS_WH_MORE);
    assert_int_equal(ps_webhook_final(req, &res), PS_WH_OK);
    assert_string_equal(res.id, want);
    ps_webhook_free(req);
    ps_wh_config_free(cfg);
}

static void test_body_ids(void **state)
{
    (void)state;
    /* Stripe's event id: the top-level "id", not the object's */
    body_id(PS_WH_STRIPE, "whsec_x",
            "{\"data\": {\"object\": {\"id\": \"pi_1\", \"a\": [{\"id\": "
            "\"x\"}]}}, \"type\": \"charge.succeeded\", \"id\" : "
            "\"evt_1NG8Du2eZvKYlo2CUI79vXWy\"}",
            "evt_1NG8Du2eZvKYlo2CUI79vXWy");
    /* an escaped quote ends nothing; quotes never reach a log */
    body_id(PS_WH_STRIPE, "whsec_x", "{\"id\":\"evt_\\\"q\\\"\"}", "evt_q");
    /* none, or not a string: no id */
    body_id(PS_WH_STRIPE, "whsec_x", "{\"object\": \"event\"}", "");
    body_id(PS_WH_STRIPE, "whsec_x", "{\"id\": 42, \"x\": \"id\"}", "");
    body_id(PS_WH_STRIPE, "whsec_x", "[\"id\", \"evt\"]", "");
    /* a key only equal in its first bytes, or a value named id */
    body_id(PS_WH_STRIPE, "whsec_x",
            "{\"idx\": \"no\", \"i\": \"id\", \"id\": \"evt_2\"}", "evt_2");
    /* Slack Events API: event_id (slash commands are forms: none) */
    body_id(PS_WH_SLACK, "8f742231b10e8888abcd99yyyzzz85a5",
            "{\"token\": \"t\", \"event\": {\"event_id\": \"inner\"}, "
            "\"type\": \"event_callback\", \"event_id\": \"Ev08MFMKH6\"}",
            "Ev08MFMKH6");
    body_id(PS_WH_SLACK, "8f742231b10e8888abcd99yyyzzz85a5",
            "token=x&event_id=Ev1", "");
}

static void test_request_parse(void **state)
{
    static const char req[] = "POST /hooks/x HTTP/1.1\r\nHost: a\r\n"
                              "X-Sig:  v1 \r\nContent-Length: 4\r\n\r\nbody";
    static const char lf[] = "A: 1\nB:2\n\n";
    ps_wh_header h[4];
    const char *body;
    size_t n, blen;
    ps_err err;

    (void)state;
    assert_int_equal(
        ps_wh_request_parse(req, sizeof(req) - 1, h, 4, &n, &body, &blen, &err),
        0);
    assert_int_equal(n, 3);
    assert_int_equal(h[1].value_len, 2);
    assert_memory_equal(h[1].value, "v1", 2);
    assert_int_equal(blen, 4);
    assert_int_equal(
        ps_wh_request_parse(lf, sizeof(lf) - 1, h, 4, &n, &body, &blen, &err),
        0);
    assert_int_equal(n, 2);
    assert_int_equal(blen, 0);
    assert_int_equal(
        ps_wh_request_parse(req, sizeof(req) - 2, h, 4, &n, &body, &blen, &err),
        -1);
    assert_non_null(strstr(err.msg, "Content-Length"));
    assert_int_equal(
        ps_wh_request_parse("A: 1\n", 5, h, 4, &n, &body, &blen, &err), -1);
    assert_int_equal(
        ps_wh_request_parse("bad line\n\n", 10, h, 4, &n, &body, &blen, &err),
        -1);
    assert_int_equal(
        ps_wh_request_parse("A: 1\nB: 2\n\n", 11, h, 1, &n, &body, &blen, &err),
        -1);
    assert_int_equal(ps_wh_request_parse("Transfer-Encoding: chunked\n\n", 28,
                                         h, 4, &n, &body, &blen, &err),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheme_names),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_standard_vector),
        cmocka_unit_test(test_standard_signature_lists),
        cmocka_unit_test(test_tolerance),
        cmocka_unit_test(test_round_trips_and_rotation),
        cmocka_unit_test(test_basic_bearer_round_trips),
        cmocka_unit_test(test_github_slack_docs),
        cmocka_unit_test(test_mailgun_vector),
        cmocka_unit_test(test_streaming_pieces),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_repeated_headers_are_malformed),
        cmocka_unit_test(test_replay_ids),
        cmocka_unit_test(test_request_parse),
        cmocka_unit_test(test_body_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
