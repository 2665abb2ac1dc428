/* libFuzzer target for shared/dns/tagval.c: any input is either refused with
 * a message, or split into at most PS_TAGVAL_MAX distinct, well-formed
 * tags that point inside the input and that ps_tagval_find finds again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/tagval.h"

static int inside(const char *buf, size_t size, const char *p, size_t n)
{
    return p >= buf && n <= size && (size_t)(p - buf) <= size - n;
}

static void check_tag(const char *buf, size_t size, const ps_tagval *tv,
                      const ps_tag *t)
{
    char *name, *stripped;

    if (!inside(buf, size, t->name, t->name_len) ||
        !inside(buf, size, t->value, t->value_len) || t->name_len == 0 ||
        memchr(t->value, ';', t->value_len) != NULL)
        abort();
    if (t->value_len > 0 &&
        (t->value[0] == ' ' || t->value[t->value_len - 1] == ' '))
        abort();
    stripped = ps_tagval_strip_ws(t);
    if (stripped == NULL || strpbrk(stripped, " \t\r\n") != NULL)
        abort();
    free(stripped);
    name = strndup(t->name, t->name_len);
    if (name == NULL || strlen(name) != t->name_len)
        abort();
    if (ps_tagval_find(tv, name) != t)
        abort(); /* a duplicate slipped through */
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* no NUL: size must bound it */
    ps_tagval tv;
    ps_err err = {""};

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    if (ps_tagval_parse(buf, size, &tv, &err) == 0) {
        if (tv.count > PS_TAGVAL_MAX)
            abort();
        for (size_t i = 0; i < tv.count; i++)
            check_tag(buf, size, &tv, &tv.tags[i]);
    } else if (tv.count != 0 || err.msg[0] == '\0') {
        abort();
    }
    free(buf);
    return 0;
}
