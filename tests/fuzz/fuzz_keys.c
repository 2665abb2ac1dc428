/* libFuzzer target for shared/crypto/keys.c: ps_key_parse_pem on arbitrary
 * bytes must either refuse with a one-line message naming the input, or return
 * a usable RSA/Ed25519 key whose public half can be published. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"

static void check_accepted(ps_key *key)
{
    char *p = NULL, *rec = NULL;
    ps_err err;

    if (ps_key_type_of(key) == PS_KEY_RSA &&
        (ps_key_bits(key) < PS_KEY_RSA_MIN_BITS ||
         ps_key_bits(key) > PS_KEY_RSA_MAX_BITS))
        abort();
    if (ps_key_public_b64(key, &p, &err) != 0 || p == NULL || p[0] == '\0')
        abort();
    if (ps_key_dkim_record(key, &rec, &err) != 0 ||
        strncmp(rec, "v=DKIM1; k=", 11) != 0)
        abort();
    free(p);
    free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy without a NUL: the parser must honour size. */
    char *buf = malloc(size ? size : 1);
    ps_key *key = NULL;
    ps_err err = {""};

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    if (ps_key_parse_pem(buf, size, "fuzz", &key, &err) == 0) {
        check_accepted(key);
        ps_key_free(key);
    } else if (key != NULL || strncmp(err.msg, "fuzz: ", 6) != 0 ||
               memchr(err.msg, '\n', sizeof(err.msg)) != NULL) {
        abort();
    }
    free(buf);
    return 0;
}
