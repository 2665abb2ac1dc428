/* libFuzzer target for ps_secrets_parse: any buffer gives either a set of
 * 1..PS_SECRETS_MAX non-empty secrets or one error line, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_secrets *s = NULL;
    ps_err err;
    size_t n, len;

    /* an exactly sized copy, so reading past the end is caught */
    char *text = malloc(size ? size : 1);

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    if (ps_secrets_parse(text, size, "fuzz.secrets", &s, &err) != 0) {
        if (s != NULL || strncmp(err.msg, "fuzz.secrets", 12) != 0)
            abort();
        free(text);
        return 0;
    }
    n = ps_secrets_count(s);
    if (n == 0 || n > PS_SECRETS_MAX || ps_secrets_get(s, n, &len) != NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ps_secrets_get(s, i, &len) == NULL || len == 0 || len > size)
            abort();
    ps_secrets_free(s);
    free(text);
    return 0;
}
