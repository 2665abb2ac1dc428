/* libFuzzer target for policyd/policy_proto.c: any bytes, fed in chunks
 * whose sizes the input itself picks, give requests whose attributes are
 * sound whether the request is refused or not (a name without '=', no
 * newline anywhere, no name twice, each found again by ps_policy_get,
 * within the line; a value marked cut only if its line filled it), never
 * more than the limits allow, and a parser whose memory stays within
 * PS_POLICY_MAX_REQUEST. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../policyd/policy_proto.h"

static void ps_fuzz_check(const ps_policy_parser *p)
{
    if (p->nattrs > PS_POLICY_MAX_ATTRS || p->cap > PS_POLICY_MAX_REQUEST ||
        p->len > PS_POLICY_MAX_REQUEST)
        abort();
    for (size_t i = 0; i < p->nattrs; i++) {
        const char *name = ps_policy_name_at(p, i);
        const char *value = ps_policy_get(p, name);
        /* the name index finds this very attribute: names are distinct */
        if (value != p->buf + p->attrs[i].value)
            abort();
        if (name[0] == '\0' || strchr(name, '=') != NULL ||
            strchr(name, '\n') != NULL || value == NULL ||
            strchr(value, '\n') != NULL ||
            strlen(name) + strlen(value) + 1 > PS_POLICY_MAX_LINE)
            abort();
        if (p->attrs[i].cut &&
            strlen(name) + strlen(value) + 1 != PS_POLICY_MAX_LINE)
            abort();
    }
    if (p->error != PS_POLICY_OK)
        return;
    if (strcmp(ps_policy_get(p, "request"), "smtpd_access_policy") != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_policy_parser p;
    size_t pos = 1, chunk = size > 0 ? (size_t)data[0] % 64 + 1 : 1;

    ps_policy_init(&p);
    while (pos < size) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        size_t used = ps_policy_feed(&p, (const char *)data + pos, n);
        if (used == (size_t)-1)
            break;
        if (used > n || (used < n && !p.done))
            abort();
        pos += used;
        if (p.done) {
            ps_fuzz_check(&p);
            ps_policy_reset(&p);
        }
    }
    ps_policy_pending(&p);
    ps_policy_free(&p);
    return 0;
}
