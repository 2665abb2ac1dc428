/* Unit tests for shared/crypto/pubkey.c and the key schemes: every key format
 * accepted and the wrong ones refused, SendGrid's and AWS SNS's published
 * vectors, and Postal/SendGrid/SNS sign-then-verify with fresh keys. */
/* clang-format off: cmocka.h needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/encode.h"
#include "crypto/pubkey.h"
#include "webhook/webhook.h"

#define HDR(n, v)                                                              \
    {                                                                          \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                     \
    }

/* sendgrid-python test/unit/test_eventwebhook.py */
#define SG_KEY                                                                 \
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8k"  \
    "F9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
#define SG_SIG                                                                 \
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+"  \
    "luQAbPIqHh89M15TluLtEZtM="
static const char sg_body[] =
    "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":"
    "\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0"
    "T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A."
    "filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":"
    "\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\","
    "\"timestamp\":1600112492}]\r\n";

/* aws-php-sns-message-validator tests/FunctionalValidationsTest.php */
static const char sns_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIF1zCCBL+gAwIBAgIQB9pYWG3Mi7xej22g9pobJTANBgkqhkiG9w0BAQsFADBG\n"
    "MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRUwEwYDVQQLEwxTZXJ2ZXIg\n"
    "Q0EgMUIxDzANBgNVBAMTBkFtYXpvbjAeFw0yMTA5MDcwMDAwMDBaFw0yMjA4MTcy\n"
    "MzU5NTlaMBwxGjAYBgNVBAMTEXNucy5hbWF6b25hd3MuY29tMIIBIjANBgkqhkiG\n"
    "9w0BAQEFAAOCAQ8AMIIBCgKCAQEAutFqueT3XgP13udzxE6UpbdjOtVO5DwoMpSM\n"
    "iDNMnGzF1TYH5/R2LPUOBeTB0SkKnR4kpNcUZhicpGD4aKciz/GEZ6wu65xncfT9\n"
    "H/KBOQwoXYTuClHwp6fYpGzcGFaFoEYMnijL/o4qmTSd+ukglQUgKpsDw4ofw6rU\n"
    "m2CttJo+GQSNQ9NfGR1h/0J+zsApkeSYrXRx5wNlu87z8os1C/6PBrUHwt3xXeaf\n"
    "Xzfwut8aRRYsS8BySOA9DAgLfNHlfdQCjKPXKrG/ussgReyWD6n/HH+j7Uha3xos\n"
    "TzQqJifcxlTq6MxWdPR6fDaJNvqw6DOE7UjUNxHguXHlVfxhlQIDAQABo4IC6TCC\n"
    "AuUwHwYDVR0jBBgwFoAUWaRmBlKge5WSPKOUByeWdFv5PdAwHQYDVR0OBBYEFAqz\n"
    "C+vyouneE7mWWLbi9i0UsWUbMBwGA1UdEQQVMBOCEXNucy5hbWF6b25hd3MuY29t\n"
    "MA4GA1UdDwEB/wQEAwIFoDAdBgNVHSUEFjAUBggrBgEFBQcDAQYIKwYBBQUHAwIw\n"
    "OwYDVR0fBDQwMjAwoC6gLIYqaHR0cDovL2NybC5zY2ExYi5hbWF6b250cnVzdC5j\n"
    "b20vc2NhMWIuY3JsMBMGA1UdIAQMMAowCAYGZ4EMAQIBMHUGCCsGAQUFBwEBBGkw\n"
    "ZzAtBggrBgEFBQcwAYYhaHR0cDovL29jc3Auc2NhMWIuYW1hem9udHJ1c3QuY29t\n"
    "MDYGCCsGAQUFBzAChipodHRwOi8vY3J0LnNjYTFiLmFtYXpvbnRydXN0LmNvbS9z\n"
    "Y2ExYi5jcnQwDAYDVR0TAQH/BAIwADCCAX0GCisGAQQB1nkCBAIEggFtBIIBaQFn\n"
    "AHYAKXm+8J45OSHwVnOfY6V35b5XfZxgCvj5TV0mXCVdx4QAAAF7vfDVkQAABAMA\n"
    "RzBFAiEA2XfHuy36aqRFiaL8c3md2mH451go8707+fRE0pEdSRACIE/g5FXTUXUZ\n"
    "PFcmOhm9TZ+uMY1i4CIQ/CKVWln6C3t+AHYAUaOw9f0BeZxWbbg3eI8MpHrMGyfL\n"
    "956IQpoN/tSLBeUAAAF7vfDVjAAABAMARzBFAiBF1MhhFP0+FQt3daDFfMYoWwnr\n"
    "muTInrjNpwfzlvQBugIhAPYadFzr+LaxSJoiZEbEHBvTts7bT0M3eCQONA2O7w6n\n"
    "AHUAQcjKsd8iRkoQxqE6CUKHXk4xixsD6+tLx2jwkGKWBvYAAAF7vfDVdAAABAMA\n"
    "RjBEAiAtPapmFAuA71ih4NoSd5hJelzAltNQpxDMcDfDyHyU8gIgWxmaa6+2KbBu\n"
    "9xdv379zvnJACFR7jc+4asl08Dn4aagwDQYJKoZIhvcNAQELBQADggEBAA54QX0u\n"
    "oFWXfMmv02CGZv4NWo5TapyeeixQ2kKpZHRdVZjxZrw+hoF6HD7P3kGjH8ztyJll\n"
    "tDxB0qgMltbPhQdScwhA6iTgoaBYqEUC/VHKd4PmmPT6yIsM36NBZVmkGlzl5uNo\n"
    "/dBgBaG0SsVJnhr5zro3c2quC7n6fVGEZhf/UgQwRnnvThnvbNKguglDMq4uEqv8\n"
    "njKyleht+glkcmXO0m9qLKt6BOS0amy6U2GlAwRn0Wx02ndJtnRCSC6kPuRWK/SQ\n"
    "FEjB7gCK4hdKaAOuWdZpI55vF6ifOeM8toC3g7ofO8qLTnJupAG+ZitY5J3cvHWr\n"
    "HqOUdKigPDHYLRo=\n"
    "-----END CERTIFICATE-----\n";

static const char sns_msg[] =
    "{\"Type\": \"Notification\", \"MessageId\": \"4504e649-d933-5aa9-8199-"
    "bd14ccf05f0b\", \"TopicArn\": \"arn:aws:sns:us-east-2:295079676684:"
    "publish-and-verify-530b26da-0687-4fe4-9f71-780bad3181e2\", \"Subject\": "
    "\"Hello world\", \"Message\": \"Hello world\", \"Timestamp\": \"2022-07-"
    "28T22:53:55.086Z\", \"SignatureVersion\": \"2\", \"Signature\": \"cETcSv"
    "mmkt+My05qCLKexyl0+RyG83mSryKPqTfS+tYcxDJWVcjPJAr+qdpElzVaBl1aTGYVWMY64"
    "i9JqZ/JES8pylNj8LGvdhuNQKO59/WCoIimZAsNhn0xEgOeeDU+W/0BU4sdpCGMNjo0S/F"
    "uIiWaRe4E0YWRVrxeQevaQ70euDdfWgd5v1eCKQz8b367b9XBmMztL/CWUFI6YaKK/MV21"
    "eyvJe3Y7CtVYiOKEYiAZnAEkynK7gUGO5TsgDjGNYhj6U3xYsWgI03bmioSl7kdFSUj+AZ"
    "7ugas5fghqxgoDsdfqsjMYKRm5KKHQWsgzI619yIzpNKUiSMHxdZXpQ==\", "
    "\"SigningCertURL\": \"https://sns.us-east-2.amazonaws.com/SimpleNotifi"
    "cationService-7ff5318490ec183fbaddaa2a969abfda.pem\"}";
#define SNS_TS 1659048835 /* 2022-07-28T22:53:55Z */

static char tmpdir[] = "/tmp/test_webhook_pk.XXXXXX";

static const char *write_tmp(const char *name, const char *text, size_t len)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
    return path;
}

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

/* PEM text of pk as written by write_fn into a fresh buffer. */
static char *pem_of(EVP_PKEY *pk, int which, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    assert_non_null(bio);
    if (which == 0)
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
    else if (which == 1)
        assert_int_equal(
            PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    return out;
}

static void parse_ok(const char *text, const char *kind)
{
    ps_pubkey *k;
    ps_err err;

    assert_int_equal(ps_pubkey_parse(text, strlen(text), "t", &k, &err), 0);
    assert_string_equal(ps_pubkey_kind(k), kind);
    ps_pubkey_free(k);
}

static void parse_bad(const char *text, const char *why)
{
    ps_pubkey *k;
    ps_err err;

    assert_int_equal(ps_pubkey_parse(text, strlen(text), "t", &k, &err), -1);
    assert_null(k);
    assert_non_null(strstr(err.msg, why));
}

static void test_key_formats(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *small = EVP_RSA_gen(512);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *pem, rec[1024], *p;
    size_t len;

    (void)state;
    parse_ok(sns_cert, "rsa");
    parse_ok(SG_KEY, "ec");
    parse_ok("  " SG_KEY "\n", "ec");
    pem = pem_of(rsa, 0, &len);
    parse_ok(pem, "rsa");
    /* the p= tag of a DKIM record, as Postal shows its key */
    p = strstr(pem, "\n") + 1;
    snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%.*s",
             (int)(strstr(p, "-----END") - p), p);
    for (char *q = rec; *q; q++)
        if (*q == '\n')
            memmove(q, q + 1, strlen(q));
    parse_ok(rec, "rsa");
    free(pem);
    pem = pem_of(small, 0, &len);
    parse_bad(pem, "RSA key of 512 bits");
    free(pem);
    pem = pem_of(ed, 0, &len);
    parse_bad(pem, "unsupported key type");
    free(pem);
    pem = pem_of(rsa, 1, &len);
    parse_bad(pem, "no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block");
    free(pem);
    parse_bad("hello", "no PEM public key");
    parse_bad("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
              "garbled PUBLIC KEY");
    parse_bad("", "no PEM public key");
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(small);
    EVP_PKEY_free(ed);
}

static ps_wh_config *key_config(ps_wh_scheme scheme, const char *text)
{
    ps_wh_config *cfg;
    ps_err err;

    cfg = ps_wh_config_new(scheme, &err);
    assert_non_null(cfg);
    assert_int_equal(ps_wh_config_add_key_file(
                         cfg, write_tmp("key", text, strlen(text)), &err),
                     0);
    return cfg;
}

static void test_sendgrid_vector(void **state)
{
    ps_wh_header h[] = {
        HDR("X-Twilio-Email-Event-Webhook-Signature", SG_SIG),
        HDR("X-Twilio-Email-Event-Webhook-Timestamp", "1600112502")};
    ps_wh_config *cfg = key_config(PS_WH_SENDGRID, SG_KEY);
    ps_wh_result res;

    (void)state;
    assert_int_equal(ps_webhook_verify(cfg, h, 2, sg_body, sizeof(sg_body) - 1,
                                       1600112502, &res),
                     PS_WH_OK);
    /* $webhook_id: the sg_event_id of the (first) event */
    assert_string_equal(res.id,
                        "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA");
    assert_int_equal(
        ps_webhook_verify(cfg, h, 2, "payload", 7, 1600112502, &res),
        PS_WH_DENIED);
    assert_int_equal(ps_webhook_verify(cfg, h, 2, sg_body, sizeof(sg_body) - 1,
                                       1600112502 + 301, &res),
                     PS_WH_DENIED);
    h[1] = (ps_wh_header)HDR("X-Twilio-Email-Event-Webhook-Timestamp",
                             "timestamp");
    assert_int_equal(ps_webhook_verify(cfg, h, 2, sg_body, sizeof(sg_body) - 1,
                                       1600112502, &res),
                     PS_WH_MALFORMED);
    ps_wh_config_free(cfg);
}

static void test_sns_vector(void **state)
{
    ps_wh_header h[] = {HDR("x-amz-sns-message-type", "Notification")};
    ps_wh_config *cfg = key_config(PS_WH_SNS, sns_cert);
    char altered[sizeof(sns_msg)];
    ps_wh_result res;
    ps_err err;

    (void)state;
    assert_int_equal(ps_webhook_verify(cfg, h, 1, sns_msg, sizeof(sns_msg) - 1,
                                       SNS_TS, &res),
                     PS_WH_OK);
    assert_string_equal(res.id, "4504e649-d933-5aa9-8199-bd14ccf05f0b");
    assert_int_equal(res.expires, SNS_TS + 300);
    assert_int_equal(res.key, 1);
    assert_int_equal(ps_webhook_verify(cfg, h, 1, sns_msg, sizeof(sns_msg) - 1,
                                       SNS_TS + 400, &res),
                     PS_WH_DENIED);
    memcpy(altered, sns_msg, sizeof(sns_msg));
    memcpy(strstr(altered, "Hello world"), "Hello World", 11);
    assert_int_equal(ps_webhook_verify(cfg, h, 1, altered, sizeof(sns_msg) - 1,
                                       SNS_TS, &res),
                     PS_WH_DENIED);
    h[0] =
        (ps_wh_header)HDR("x-amz-sns-message-type", "SubscriptionConfirmation");
    assert_int_equal(ps_webhook_verify(cfg, h, 1, sns_msg, sizeof(sns_msg) - 1,
                                       SNS_TS, &res),
                     PS_WH_MALFORMED);
    assert_int_equal(ps_webhook_sign(cfg, NULL, NULL, 0, "", 0, altered,
                                     sizeof(altered), &err),
                     -1);
    ps_wh_config_free(cfg);
    /* $webhook_key: the second key configured is the one that verifies */
    cfg = key_config(PS_WH_SNS, SG_KEY);
    assert_int_equal(
        ps_wh_config_add_key_file(
            cfg, write_tmp("key", sns_cert, strlen(sns_cert)), &err),
        0);
    h[0] = (ps_wh_header)HDR("x-amz-sns-message-type", "Notification");
    assert_int_equal(ps_webhook_verify(cfg, h, 1, sns_msg, sizeof(sns_msg) - 1,
                                       SNS_TS, &res),
                     PS_WH_OK);
    assert_int_equal(res.key, 2);
    ps_wh_config_free(cfg);
}

/* Signs with a fresh private key through the core, verifies with its
 * public half. */
/* body carries the delivery id want (Postal's uuid, SendGrid's
 * sg_event_id of the first event in the batch). */
static void sign_verify(ps_wh_scheme scheme, EVP_PKEY *priv, const char *body,
                        const char *want)
{
    ps_wh_header h[4];
    char *pem, out[4096], *line, *save = NULL;
    ps_wh_config *cfg;
    ps_wh_result res;
    size_t len, n = 0;
    ps_err err;

    pem = pem_of(priv, 0, &len);
    cfg = key_config(scheme, pem);
    free(pem);
    assert_int_equal(ps_webhook_sign(cfg, priv, NULL, 1700000000, body,
                                     strlen(body), out, sizeof(out), &err),
                     0);
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), n++) {
        h[n].name = line;
        h[n].name_len = (size_t)(strchr(line, ':') - line);
        h[n].value = line + h[n].name_len + 2;
        h[n].value_len = strlen(h[n].value);
    }
    assert_int_equal(
        ps_webhook_verify(cfg, h, n, body, strlen(body), 1700000000, &res),
        PS_WH_OK);
    assert_string_equal(res.id, want);
    assert_int_equal(ps_webhook_verify(cfg, h, n, "{}", 2, 1700000000, &res),
                     PS_WH_DENIED);
    assert_int_equal(ps_webhook_sign(cfg, NULL, NULL, 1700000000, body,
                                     strlen(body), out, sizeof(out), &err),
                     -1);
    ps_wh_config_free(cfg);
}

static void test_postal_sendgrid_round_trips(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(1024), *ec = EVP_EC_gen("P-256");

    (void)state;
    sign_verify(PS_WH_POSTAL, rsa,
                "{\"event\":\"MessageSent\",\"timestamp\":1700000000.5,"
                "\"payload\":{\"message\":{\"id\":7,\"uuid\":\"inner\"}},"
                "\"uuid\":\"f3b1e2a0-5d3c-4c1e-9a7b-2e4f6a8b9c0d\"}",
                "f3b1e2a0-5d3c-4c1e-9a7b-2e4f6a8b9c0d");
    sign_verify(PS_WH_SENDGRID, ec,
                "[{\"event\":\"open\",\"sg_event_id\":\"first\"},"
                "{\"event\":\"click\",\"sg_event_id\":\"second\"}]",
                "first");
    sign_verify(PS_WH_SENDGRID, ec,
                "[{\"event\":\"open\"},{\"sg_event_id\":\"second\"}]", "");
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

#define SNS_URL                                                                \
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"

/* Signs body as SNS at SNS_TS into out (cap bytes) and verifies it with
 * cfg: the verdict. */
static ps_wh_verdict sns_round_trip(const ps_wh_config *cfg, EVP_PKEY *priv,
                                    const char *body, char *out, size_t cap)
{
    ps_wh_result res;
    ps_err err;

    assert_int_equal(ps_webhook_sign_sns(priv, SNS_URL, NULL, SNS_TS, body,
                                         strlen(body), out, cap, &err),
                     0);
    assert_int_equal(out[strlen(out) - 1], '\n');
    return ps_webhook_verify(cfg, NULL, 0, out, strlen(out), SNS_TS + 1, &res);
}

/* The message comes back signed, with what it lacked added, and verifies
 * by the same rules as AWS's own (test_sns_vector). */
static void test_sns_sign(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
    char *pem, out[8192], *p;
    ps_wh_config *cfg;
    size_t len;
    ps_err err;

    (void)state;
    pem = pem_of(rsa, 0, &len);
    cfg = key_config(PS_WH_SNS, pem);
    free(pem);
    assert_int_equal(
        sns_round_trip(
            cfg, rsa,
            " {\"Message\":\"caf\\u00e9\\n\",\"TopicArn\":\"arn:t\"} \n", out,
            sizeof(out)),
        PS_WH_OK);
    assert_non_null(strstr(out, "\"Type\":\"Notification\""));
    assert_non_null(strstr(out, "\"Timestamp\":\"2022-07-28T22:53:55.000Z\""));
    assert_non_null(strstr(out, "\"SignatureVersion\":\"2\""));
    assert_non_null(strstr(out, "\"SigningCertURL\":\"" SNS_URL "\"}\n"));
    /* A changed byte of the message no longer verifies. */
    p = strstr(out, "caf");
    p[0] = 'C';
    assert_int_not_equal(ps_webhook_verify(cfg, NULL, 0, out, strlen(out),
                                           SNS_TS + 1, &(ps_wh_result){0}),
                         PS_WH_OK);
    /* Version 1 and a confirmation, with the id and time it gives. */
    assert_int_equal(
        sns_round_trip(
            cfg, rsa,
            "{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"m\","
            "\"Token\":\"t\",\"SubscribeURL\":\"https://x/\","
            "\"TopicArn\":\"a\",\"MessageId\":\"m-1\","
            "\"Timestamp\":\"2022-07-28T22:53:50Z\","
            "\"SignatureVersion\":\"1\"}",
            out, sizeof(out)),
        PS_WH_OK);
    assert_null(strstr(out, "SignatureVersion\":\"2"));
    /* Refused: signed already, bad Type or version, no key, EC key, no URL,
     * an id that would need escaping, too small an output; and what the
     * verifier refuses (a Timestamp that is not ISO 8601, a MessageId over
     * what it keeps), by the same rule. */
    const char *bad[] = {
        "{\"Message\":\"m\",\"TopicArn\":\"a\",\"Signature\":\"x\"}",
        "{\"Type\":\"Other\",\"Message\":\"m\",\"TopicArn\":\"a\"}",
        "{\"Message\":\"m\",\"TopicArn\":\"a\",\"SignatureVersion\":\"3\"}",
        "{\"Message\":\"m\"}",
        "[]",
        "{\"Message\":\"m\",\"TopicArn\":\"a\",\"MessageId\":1}",
        "{\"Message\":\"m\",\"TopicArn\":\"a\",\"Timestamp\":\"n\"}",
        "{\"Message\":\"m\",\"TopicArn\":\"a\",\"Timestamp\":"
        "\"2022-07-28T22:53:50\"}",
        "{\"Message\":\"m\",\"TopicArn\":\"a\",\"MessageId\":\""
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ps_webhook_sign_sns(rsa, SNS_URL, NULL, SNS_TS, bad[i],
                                             strlen(bad[i]), out, sizeof(out),
                                             &err),
                         -1);
    const char *ok = "{\"Message\":\"m\",\"TopicArn\":\"a\"}";
    assert_int_equal(ps_webhook_sign_sns(NULL, SNS_URL, NULL, 0, ok, strlen(ok),
                                         out, sizeof(out), &err),
                     -1);
    assert_int_equal(ps_webhook_sign_sns(ec, SNS_URL, NULL, 0, ok, strlen(ok),
                                         out, sizeof(out), &err),
                     -1);
    assert_int_equal(ps_webhook_sign_sns(rsa, "", NULL, 0, ok, strlen(ok), out,
                                         sizeof(out), &err),
                     -1);
    assert_int_equal(ps_webhook_sign_sns(rsa, SNS_URL, "a\"b", 0, ok,
                                         strlen(ok), out, sizeof(out), &err),
                     -1);
    assert_int_equal(ps_webhook_sign_sns(rsa, SNS_URL, NULL, 0, ok, strlen(ok),
                                         out, 100, &err),
                     -1);
    ps_wh_config_free(cfg);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_formats),
        cmocka_unit_test(test_sendgrid_vector),
        cmocka_unit_test(test_sns_vector),
        cmocka_unit_test(test_postal_sendgrid_round_trips),
        cmocka_unit_test(test_sns_sign),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
