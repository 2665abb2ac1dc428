/* libFuzzer target for shared/conf/listen.c and the resolver parser of
 * shared/dns/dns.c: any spec is either parsed into a socket that holds
 * only what the grammar allows, or refused with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/listen.h"
#include "dns/dns.h"

static void check_listen(const ps_listen *l, int rc, const ps_err *err)
{
    if (rc != 0) {
        if (err->msg[0] == '\0')
            abort();
        return;
    }
    if (l->kind == PS_LISTEN_UNIX
            ? l->path[0] != '/'
            : (atoi(l->port) < 1 || atoi(l->port) > 65535))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    ps_listen l;
    ps_dns_server s;
    ps_err err = {""};

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    check_listen(&l, ps_listen_parse(buf, &l, &err), &err);
    err.msg[0] = '\0';
    check_listen(&l, ps_listen_parse_milter(buf, &l, &err), &err);
    err.msg[0] = '\0';
    if (ps_dns_server_parse(buf, &s, &err) == 0
            ? s.len == 0 || s.len > sizeof(s.addr)
            : err.msg[0] == '\0')
        abort();
    free(buf);
    return 0;
}
