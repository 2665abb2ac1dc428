/* libFuzzer target for shared/mail/retpath.c: decoding any address either
 * refuses with a reason or yields a reference that encodes back to an
 * address decoding to the same reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/retpath.h"

#define T0 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sec[] = "k1\nk2\n";
    ps_secrets *s = NULL;
    ps_err err = {""};
    ps_retpath_token tok, tok2;
    char *in = malloc(size + 1), out[PS_RETPATH_ADDR_MAX];

    if (!in || ps_secrets_parse(sec, sizeof sec - 1, "fuzz", &s, &err) < 0)
        abort();
    memcpy(in, data, size);
    in[size] = '\0';
    ps_retpath_cfg cfg = {s, "rp.example.com", 0};
    if (ps_retpath_decode(&cfg, in, T0, &tok, &err) == 0) {
        if (strlen(tok.ref) > PS_RETPATH_REF_MAX ||
            ps_retpath_encode(&cfg, tok.ref, T0, out, sizeof out, &err) < 0 ||
            ps_retpath_decode(&cfg, out, T0, &tok2, &err) < 0 ||
            strcmp(tok.ref, tok2.ref) != 0)
            abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
    /* the input as a reference: encode refuses or round-trips */
    if (ps_retpath_encode(&cfg, in, T0, out, sizeof out, &err) == 0 &&
        (ps_retpath_decode(&cfg, out, T0, &tok, &err) < 0 ||
         strcasecmp(tok.ref, in) != 0))
        abort();
    ps_secrets_free(s);
    free(in);
    return 0;
}
