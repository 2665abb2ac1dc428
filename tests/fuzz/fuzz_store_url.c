/* libFuzzer target for shared/conf/store_url.c: any setting either parses
 * into a store a daemon can use (a kind, 1..8 hosts with ports, a
 * database in range), or is refused with a reason that does not echo the
 * password; the masked form of a setting with a password hides it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/store_url.h"

static void ps_fuzz_check_ok(const ps_store_url *u)
{
    if (u->kind == PS_STORE_LMDB || u->kind == PS_STORE_REDIS_UNIX) {
        if (u->path[0] != '/' || u->nhosts != 0)
            abort();
    } else if (u->nhosts < 1 || u->nhosts > PS_STORE_URL_MAX_HOSTS ||
               (u->kind == PS_STORE_REDIS && u->nhosts != 1) ||
               (u->kind == PS_STORE_REDIS_SENTINEL && u->master[0] == '\0')) {
        abort();
    }
    for (size_t i = 0; i < u->nhosts; i++)
        if (u->hosts[i].name[0] == '\0' || u->hosts[i].port < 1 ||
            u->hosts[i].port > 65535)
            abort();
    if (u->db < 0 || u->db > PS_STORE_URL_MAX_DB ||
        (u->user[0] != '\0' && u->password[0] == '\0' &&
         u->password_file[0] == '\0'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), shown[PS_STORE_URL_SHOWN];
    ps_store_url *u = malloc(sizeof(*u));
    ps_err err = {""};

    if (buf == NULL || u == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_store_url_parse(buf, u, &err) == 0) {
        ps_fuzz_check_ok(u);
        ps_store_url_mask(buf, shown, sizeof(shown));
        /* a password given in the setting is masked wherever it sits */
        if (u->password[0] != '\0' && strlen(buf) < sizeof(shown) - 8 &&
            strstr(shown, ":****@") == NULL)
            abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
    ps_store_url_wipe(u);
    free(u);
    free(buf);
    return 0;
}
