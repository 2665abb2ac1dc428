/* libFuzzer target for shared/arc/sets.c: any header block (fields split
 * at lines that do not start with whitespace, name up to ':') gives one
 * of the defined statuses, an error reason for every failure, and on OK
 * sets 1..count complete with fields that point inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_arc.h"

#define MAX_FIELDS 256

static void check_field(const ps_arc_field *f, const char *buf, size_t size,
                        size_t n)
{
    if (!f->present || f->pos >= n || f->value < buf ||
        f->value + f->value_len > buf + size || f->name < buf ||
        f->name + f->name_len > buf + size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ps_arc_header h[MAX_FIELDS];
    ps_arc_sets *s = ps_arc_sets_new();
    ps_err err = {""};
    const char *buf = (const char *)data;
    size_t body, n = fuzz_arc_fields(buf, size, h, MAX_FIELDS, &body);
    ps_arc_sets_status st;

    if (s == NULL)
        abort();
    st = ps_arc_sets_parse(h, n, s, &err);
    if (st != s->status || s->count > PS_ARC_MAX_INSTANCES)
        abort();
    if (st == PS_ARC_SETS_NONE && s->count != 0)
        abort();
    if (st != PS_ARC_SETS_OK && st != PS_ARC_SETS_NONE && err.msg[0] == '\0')
        abort();
    if (st == PS_ARC_SETS_OK)
        for (unsigned i = 0; i < s->count; i++)
            for (int k = 0; k < PS_ARC_NPARTS; k++)
                check_field(&s->set[i].part[k], buf, size, n);
    ps_arc_sets_free(s);
    return 0;
}
