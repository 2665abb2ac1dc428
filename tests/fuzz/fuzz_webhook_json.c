/* libFuzzer target for the webhook JSON reader: any buffer is either
 * refused with a reason or walked member by member, every string value
 * unescaped within its own length; the streamed id scanner finds the same
 * id whether fed at once or a byte at a time, within its bound. */
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

static void idscan(const uint8_t *data, size_t size)
{
    ps_json_idscan whole, bytes;

    ps_json_idscan_init(&whole, "id");
    ps_json_idscan_init(&bytes, "id");
    ps_json_idscan_feed(&whole, data, size);
    for (size_t i = 0; i < size; i++)
        ps_json_idscan_feed(&bytes, data + i, 1);
    if (whole.found != bytes.found || whole.vlen != bytes.vlen ||
        whole.vlen > PS_WH_ID_MAX || memcmp(whole.val, bytes.val, whole.vlen))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    ps_json_val root;
    ps_err err;

    if (text == NULL)
        abort();
    idscan(data, size);
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
