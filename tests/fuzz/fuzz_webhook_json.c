/* libFuzzer target for the webhook JSON reader: any buffer is either
 * refused with a reason or walked member by member, every string value
 * unescaped within its own length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_int.h"

static void walk(const ps_json_val *obj)
{
    static const char *const keys[] = {"signature", "Type", "Message",
                                       "token",     "a",    ""};
    ps_json_val v;
    size_t len;
    char *buf;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (ps_json_member(obj, keys[i], &v) != 1)
            continue;
        if (v.p < obj->p || v.p + v.n > obj->p + obj->n)
            abort();
        if (v.type == PS_JSON_STRING) {
            buf = malloc(v.n);
            if (buf == NULL || ps_json_string(&v, buf, v.n, &len) < 0 ||
                len > v.n)
                abort();
            free(buf);
        } else if (v.type == PS_JSON_OBJECT) {
            walk(&v);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    ps_json_val root;
    ps_err err;

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    if (ps_json_check(text, size, &err) == 0) {
        root = ps_json_root(text, size);
        walk(&root);
    } else if (strncmp(err.msg, "JSON: ", 6) != 0) {
        abort();
    }
    free(text);
    return 0;
}
