/* libFuzzer target for shared/mail/srs.c: reverse never overflows on any input,
 * and any plain address forward accepts comes back unchanged from reverse
 * (the SRS round trip), with a bounded result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/srs.h"

#define T0 1577836860

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sec[] = "tops3cr3t\nold\n";
    ps_secrets *s = NULL;
    ps_err err = {""};
    char *in = malloc(size + 1), out[PS_SRS_OUT_MAX], back[PS_SRS_OUT_MAX];

    if (!in || ps_secrets_parse(sec, sizeof sec - 1, "fuzz", &s, &err) < 0)
        abort();
    memcpy(in, data, size);
    in[size] = '\0';
    ps_srs_cfg cfg = {s, "example.com", 0};
    if (ps_srs_reverse(&cfg, in, T0, out, sizeof out, &err) == 0 &&
        strlen(out) >= PS_SRS_OUT_MAX)
        abort();
    int rc = ps_srs_forward(&cfg, in, T0, out, sizeof out, &err);
    if (rc == PS_SRS_REWRITTEN && strncasecmp(in, "SRS", 3) != 0) {
        if (ps_srs_reverse(&cfg, out, T0, back, sizeof back, &err) != 0 ||
            strcmp(back, in) != 0)
            abort();
    } else if (rc < 0 && err.msg[0] == '\0') {
        abort();
    }
    ps_secrets_free(s);
    free(in);
    return 0;
}
