/* libFuzzer target for `postseal webhook sign --scheme sns`: any input is
 * either refused with a message, or comes back as a message that the sns
 * verifier accepts with the matching key, whole or split anywhere
 * (fuzz_feed, shared with the other webhook targets). */
#include "fuzz_webhook.h"

#define FUZZ_NOW 1614265330 /* the time fuzz_feed verifies at */

static EVP_PKEY *fuzz_key;     /* made once: test code, not the core */
static ps_wh_config *fuzz_cfg; /* its public half, for the verifier */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/fuzz_sns_sign_key.XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;

    (void)argc;
    (void)argv;
    fuzz_key = EVP_RSA_gen(1024);
    fuzz_cfg = ps_wh_config_new(PS_WH_SNS, NULL);
    if (fuzz_key == NULL || fp == NULL || fuzz_cfg == NULL ||
        PEM_write_PUBKEY(fp, fuzz_key) != 1)
        abort();
    fclose(fp);
    if (ps_wh_config_add_key_file(fuzz_cfg, path, NULL) < 0)
        abort();
    unlink(path);
    /* Off: the input may carry a Timestamp of its own. */
    ps_wh_config_set_tolerance(fuzz_cfg, -1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[64 * 1024];
    ps_wh_result res;
    ps_err err = {""};
    size_t len;

    if (size < 1 || size > 8192)
        return 0;
    if (ps_webhook_sign_sns(fuzz_key,
                            "https://sns.us-east-1.amazonaws.com/"
                            "SimpleNotificationService-fuzz.pem",
                            data[0] & 1 ? "fuzz-id" : NULL, FUZZ_NOW, data + 1,
                            size - 1, out, sizeof(out) - 1, &err) < 0) {
        if (err.msg[0] == '\0')
            abort(); /* a refusal always says why */
        return 0;
    }
    len = strlen(out);
    if (fuzz_feed(fuzz_cfg, NULL, 0, out, len, len, &res) != PS_WH_OK ||
        fuzz_feed(fuzz_cfg, NULL, 0, out, len, data[0] % (len + 1), &res) !=
            PS_WH_OK) {
        fprintf(stderr, "signed message refused: %s\n%s\n", res.reason, out);
        abort();
    }
    return 0;
}
