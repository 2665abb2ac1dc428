/* libFuzzer target for ps_wh_request_parse, the saved requests `postseal
 * webhook verify` reads: headers and body always inside the input, the
 * body length matching any Content-Length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_wh_header h[PS_WH_REQUEST_MAX_HEADERS];
    char *text = malloc(size ? size : 1);
    const char *body, *end;
    size_t nh, blen;
    ps_err err;

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    end = text + size;
    if (ps_wh_request_parse(text, size, h, PS_WH_REQUEST_MAX_HEADERS, &nh,
                            &body, &blen, &err) == 0) {
        if (nh > PS_WH_REQUEST_MAX_HEADERS || body < text || body + blen != end)
            abort();
        for (size_t i = 0; i < nh; i++)
            if (h[i].name < text || h[i].name + h[i].name_len > body ||
                h[i].value < text || h[i].value + h[i].value_len > body ||
                h[i].name_len == 0)
                abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
