/* libFuzzer target for ps_pubkey_dkim_spki (shared/crypto/pubkey.c): a DKIM
 * key record from DNS is rewritten only when its p= is a PKCS#1 key, never
 * past the output buffer, and the rewritten record needs no second pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/pubkey.h"

#define OUT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy without a NUL: the parser must honour size. */
    char *rec = malloc(size ? size : 1), *out = malloc(OUT_MAX);
    char *again = malloc(OUT_MAX);
    int rc;

    if (rec == NULL || out == NULL || again == NULL)
        abort();
    memcpy(rec, data, size);
    rc = ps_pubkey_dkim_spki(rec, size, out, OUT_MAX);
    if (rc < -1 || rc > 1)
        abort();
    if (rc == 1 && (strlen(out) >= OUT_MAX || strstr(out, "p=") == NULL ||
                    ps_pubkey_dkim_spki(out, strlen(out), again, OUT_MAX) != 0))
        abort();
    free(again);
    free(out);
    free(rec);
    return 0;
}
