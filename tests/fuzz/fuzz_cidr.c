/* libFuzzer target for shared/base/cidr.c: any list either parses into at
 * most PS_CIDR_MAX networks with valid prefixes and no host bits, each
 * matching its own address, or is refused with a reason. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), text[INET6_ADDRSTRLEN];
    ps_cidr_list *l = malloc(sizeof(*l));
    ps_err err = {""};

    if (buf == NULL || l == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_cidr_parse(buf, l, &err) == 0) {
        if (l->count > PS_CIDR_MAX)
            abort();
        for (size_t i = 0; i < l->count; i++) {
            const ps_cidr_net *n = &l->nets[i];
            if (n->prefix < 0 ||
                n->prefix > (n->family == AF_INET ? 32 : 128) ||
                inet_ntop(n->family, n->addr, text, sizeof(text)) == NULL ||
                !ps_cidr_match_text(l, text))
                abort();
        }
    } else if (err.msg[0] == '\0') {
        abort();
    }
    ps_cidr_match_text(l, buf);
    free(l);
    free(buf);
    return 0;
}
