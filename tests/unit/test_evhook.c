/* Unit tests for shared/mail/evhook.c and the Postal body of
 * shared/mail/events.c: an event made into a webhook for a standard and a
 * postal endpoint verifies with the core's verifier, carries the event's
 * id, and fails once altered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/events.h"
#include "mail/evhook.h"
#include "webhook/webhook.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define NOW    1700000100

static char dir[] = "/tmp/ps-evhook-XXXXXX";

static ps_event sample(ps_event_kind kind)
{
    ps_event ev = {.when = 1700000000,
                   .kind = kind,
                   .qid = "4XyZ1",
                   .msgid = "<m1@a.example>",
                   .sender = "app@a.example",
                   .auth = "app",
                   .client = "127.0.0.1",
                   .recipient = "bob@b.example",
                   .dsn = "5.1.1",
                   .reply = "550 5.1.1 \"no\" such user",
                   .src = "maillog"};
    memcpy(ev.id, "0123456789abcdef0123456789abcdef", PS_EVSPOOL_ID + 1);
    return ev;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(chmod(path, 0600), 0);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* Splits "Name: value\n" lines into headers (pointing into text). */
static size_t split_headers(char *text, ps_wh_header *h, size_t max)
{
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line && n < max;
         line = strtok(NULL, "\n")) {
        char *colon = strstr(line, ": ");
        assert_non_null(colon);
        h[n] = (ps_wh_header){line, (size_t)(colon - line), colon + 2,
                              strlen(colon + 2)};
        n++;
    }
    return n;
}

static ps_wh_verdict verify(ps_wh_config *cfg, char *hdrs, const char *body,
                            size_t len, ps_wh_result *res)
{
    ps_wh_header h[8];
    size_t n = split_headers(hdrs, h, 8);
    return ps_webhook_verify(cfg, h, n, body, len, NOW, res);
}

static void test_standard(void **state)
{
    (void)state;
    char path[64], body[PS_EVENT_LINE_MAX], hdrs[PS_EVHOOK_HEADERS_MAX];
    size_t len;
    ps_err err = {""};
    ps_evhook *h;
    ps_wh_result res;
    ps_event ev = sample(PS_EVENT_FAILED);
    snprintf(path, sizeof path, "%s/app.whsec", dir);
    write_file(path, SECRET "\n");
    ps_conf_endpoint ep = {
        .name = "app", .format = PS_CONF_WH_STANDARD, .secret = {path, 1}};
    assert_int_equal(ps_evhook_new(&ep, &h, &err), 0);
    assert_int_equal(ps_evhook_make(h, &ev, NOW, body, sizeof body, &len, hdrs,
                                    sizeof hdrs, &err),
                     0);
    assert_non_null(strstr(body, "\"event\":\"failed\""));
    assert_non_null(strstr(hdrs, "webhook-id: "
                                 "0123456789abcdef0123456789abcdef\n"));
    assert_non_null(strstr(hdrs, "webhook-timestamp: 1700000100\n"));

    ps_wh_config *cfg = ps_wh_config_new(PS_WH_STANDARD, &err);
    assert_int_equal(ps_wh_config_add_secret(cfg, SECRET, strlen(SECRET), &err),
                     0);
    char copy[sizeof hdrs];
    memcpy(copy, hdrs, sizeof hdrs);
    assert_int_equal(verify(cfg, copy, body, len, &res), PS_WH_OK);
    assert_string_equal(res.id, ev.id);
    body[10] ^= 1; /* altered: refused */
    memcpy(copy, hdrs, sizeof hdrs);
    assert_int_equal(verify(cfg, copy, body, len, &res), PS_WH_DENIED);
    ps_wh_config_free(cfg);
    ps_evhook_free(h);
    unlink(path);
}

static void write_rsa(const char *priv_path, const char *pub_path)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    FILE *fp = fopen(priv_path, "w");
    assert_non_null(pk);
    assert_non_null(fp);
    assert_int_equal(chmod(priv_path, 0600), 0);
    assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL),
                     1);
    fclose(fp);
    fp = fopen(pub_path, "w");
    assert_int_equal(PEM_write_PUBKEY(fp, pk), 1);
    fclose(fp);
    EVP_PKEY_free(pk);
}

static void test_postal(void **state)
{
    (void)state;
    char priv[64], pub[64], body[PS_EVENT_LINE_MAX],
        hdrs[PS_EVHOOK_HEADERS_MAX];
    char copy[sizeof hdrs];
    size_t len;
    ps_err err = {""};
    ps_evhook *h;
    ps_wh_result res;
    snprintf(priv, sizeof priv, "%s/postal.pem", dir);
    snprintf(pub, sizeof pub, "%s/postal.pub", dir);
    write_rsa(priv, pub);
    ps_conf_endpoint ep = {
        .name = "p", .format = PS_CONF_WH_POSTAL, .key = {priv, 1}};
    assert_int_equal(ps_evhook_new(&ep, &h, &err), 0);
    ps_wh_config *cfg = ps_wh_config_new(PS_WH_POSTAL, &err);
    assert_int_equal(ps_wh_config_add_key_file(cfg, pub, &err), 0);

    ps_event ev = sample(PS_EVENT_SENT);
    assert_int_equal(ps_evhook_make(h, &ev, NOW, body, sizeof body, &len, hdrs,
                                    sizeof hdrs, &err),
                     0);
    assert_non_null(strstr(hdrs, "X-Postal-Signature: "));
    assert_non_null(strstr(hdrs, "X-Postal-Signature-256: "));
    assert_string_equal(
        body, "{\"event\":\"MessageSent\",\"timestamp\":1700000000,\"uuid\":"
              "\"0123456789abcdef0123456789abcdef\",\"payload\":{\"status\":"
              "\"Sent\",\"details\":\"550 5.1.1 \\\"no\\\" such user\","
              "\"output\":\"550 5.1.1 \\\"no\\\" such user\","
              "\"sent_with_ssl\":false,\"time\":null,\"timestamp\":1700000000,"
              "\"message\":{\"direction\":\"outgoing\",\"id\":\"4XyZ1\","
              "\"token\":\"0123456789abcdef0123456789abcdef\",\"message_id\":"
              "\"<m1@a.example>\",\"to\":\"bob@b.example\",\"from\":"
              "\"app@a.example\",\"subject\":\"\",\"timestamp\":1700000000,"
              "\"spam_status\":\"NotChecked\",\"tag\":null}}}\n");
    memcpy(copy, hdrs, sizeof hdrs);
    assert_int_equal(verify(cfg, copy, body, len, &res), PS_WH_OK);
    body[len - 3] = ']';
    memcpy(copy, hdrs, sizeof hdrs);
    assert_int_equal(verify(cfg, copy, body, len, &res), PS_WH_DENIED);

    ev = sample(PS_EVENT_BOUNCED);
    assert_int_equal(ps_evhook_make(h, &ev, NOW, body, sizeof body, &len, hdrs,
                                    sizeof hdrs, &err),
                     0);
    assert_non_null(strstr(body, "{\"event\":\"MessageBounced\""));
    assert_non_null(strstr(body, "\"payload\":{\"bounce\":{"));
    assert_non_null(strstr(body, "\"original_message\":{\"direction\":"
                                 "\"outgoing\",\"id\":\"4XyZ1\""));
    assert_null(strstr(body, "\"payload\":{\"status\"")); /* Anymail: bounced */
    memcpy(copy, hdrs, sizeof hdrs);
    assert_int_equal(verify(cfg, copy, body, len, &res), PS_WH_OK);
    const char *names[][2] = {{"MessageDelayed", "SoftFail"},
                              {"MessageDeliveryFailed", "HardFail"},
                              {"MessageHeld", "Held"}};
    ps_event_kind kinds[] = {PS_EVENT_DELAYED, PS_EVENT_FAILED, PS_EVENT_HELD};
    for (int i = 0; i < 3; i++) {
        char want[64];
        ev = sample(kinds[i]);
        assert_true(ps_events_format_postal(&ev, body, sizeof body, &err) > 0);
        snprintf(want, sizeof want, "{\"event\":\"%s\"", names[i][0]);
        assert_non_null(strstr(body, want));
        snprintf(want, sizeof want, "\"status\":\"%s\"", names[i][1]);
        assert_non_null(strstr(body, want));
    }
    assert_int_equal(ps_events_format_postal(&ev, body, 50, &err), -1);
    ps_wh_config_free(cfg);
    ps_evhook_free(h);
    unlink(priv);
    unlink(pub);
}

static void test_load_errors(void **state)
{
    (void)state;
    char path[64];
    ps_err err = {""};
    ps_evhook *h = (ps_evhook *)&h;
    snprintf(path, sizeof path, "%s/missing", dir);
    ps_conf_endpoint ep = {
        .name = "a", .format = PS_CONF_WH_STANDARD, .secret = {path, 1}};
    assert_int_equal(ps_evhook_new(&ep, &h, &err), -1);
    assert_null(h);
    assert_non_null(strstr(err.msg, path));
    ep = (ps_conf_endpoint){
        .name = "p", .format = PS_CONF_WH_POSTAL, .key = {path, 1}};
    assert_int_equal(ps_evhook_new(&ep, &h, &err), -1);
    assert_non_null(strstr(err.msg, path));
    /* an EC key: Postal's signatures are RSA */
    snprintf(path, sizeof path, "%s/ec.pem", dir);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    FILE *fp = fopen(path, "w");
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(PEM_write_PrivateKey(fp, ec, NULL, NULL, 0, NULL, NULL),
                     1);
    fclose(fp);
    EVP_PKEY_free(ec);
    ep.key.value = path;
    assert_int_equal(ps_evhook_new(&ep, &h, &err), -1);
    assert_non_null(strstr(err.msg, "RSA"));
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard),
        cmocka_unit_test(test_postal),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
