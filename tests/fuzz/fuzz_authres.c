/* libFuzzer target for shared/mail/authres.c: reading the authserv-id of any
 * field value stays in bounds, and any value from a message, written into
 * our field, leaves exactly one line per result with no bare CR or LF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/authres.h"

static void check_field(const char *v, size_t nresults)
{
    size_t lines = 0;

    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\n' && (p == v || p[-1] != '\r' || p[1] != '\t'))
            abort();
        if (*p == '\r' && p[1] != '\n')
            abort();
        lines += *p == '\n';
    }
    if (lines != nresults)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), id[PS_AUTHRES_ID_MAX + 1], *out = NULL;
    ps_authres_result r = {.method = "dkim", .result = "fail", .nprops = 2};
    ps_err err;
    int bad_comment, rc;

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_authres_authserv_id(buf, size, id, sizeof(id)) == 0 &&
        (id[0] == '\0' || strlen(id) >= sizeof(id)))
        abort();
    ps_authres_is_ours(buf, size, "mx.example.com");
    r.reason = buf;
    r.props[0].name = "header.d";
    r.props[0].value = buf;
    r.props[1].name = "header.b";
    r.props[1].value = buf + size / 2;
    /* a comment too: every part of a result; one the contract forbids
     * (parentheses, backslash, line ends) must be refused, not written */
    r.comment = buf + size / 3;
    bad_comment = strpbrk(r.comment, "()\\\r\n") != NULL;
    rc = ps_authres_format("mx.example.com", &r, 1, &out, &err);
    if (bad_comment ? rc == 0 : rc != 0)
        abort();
    if (rc == 0)
        check_field(out, 1);
    free(out);
    free(buf);
    return 0;
}
