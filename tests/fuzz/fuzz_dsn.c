/* libFuzzer target for shared/mail/dsn.c: any bounce is either refused with a
 * reason or yields bounded recipients holding an '@' and no control
 * characters or quotes (they go into logs and JSON as they are). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dsn.h"

static void check_str(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ||
            s[i] == '\\')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ps_dsn d;
    ps_err err = {""};

    if (ps_dsn_parse((const char *)data, size, &d, &err) < 0) {
        if (err.msg[0] == '\0')
            abort();
        return 0;
    }
    if (d.n == 0 || d.n > PS_DSN_RCPTS_MAX || d.source == PS_DSN_NONE)
        abort();
    for (size_t i = 0; i < d.n; i++) {
        const ps_dsn_rcpt *r = &d.rcpt[i];
        if (!strchr(r->recipient, '@') || r->action[0] == '\0')
            abort();
        check_str(r->recipient, sizeof r->recipient);
        check_str(r->action, sizeof r->action);
        check_str(r->status, sizeof r->status);
        check_str(r->diagnostic, sizeof r->diagnostic);
    }
    return 0;
}
