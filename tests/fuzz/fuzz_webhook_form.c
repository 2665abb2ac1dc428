/* libFuzzer target for the webhook form readers: the first line is a
 * Content-Type, the rest an urlencoded or multipart body; a field is
 * found once, absent, or refused, and never longer than its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"timestamp", "token", "signature"};
    char *text = malloc(size ? size : 1), out[64];
    const char *nl;
    size_t ctlen, len;
    int rc;

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    nl = memchr(text, '\n', size);
    ctlen = nl != NULL ? (size_t)(nl - text) : 0;
    for (size_t i = 0; i < 3; i++) {
        len = 0;
        rc = ps_form_urlencoded(text, size, names[i], out, sizeof(out), &len);
        if (rc < -1 || rc > 1 || len > sizeof(out))
            abort();
        if (nl == NULL)
            continue;
        rc = ps_form_multipart(nl + 1, size - ctlen - 1, text, ctlen, names[i],
                               out, sizeof(out), &len);
        if (rc < -1 || rc > 1 || len > sizeof(out))
            abort();
    }
    free(text);
    return 0;
}
