/* libFuzzer target for shared/mail/mailbox.c: any From value is either refused
 * with a reason, or gives one mailbox whose domain is lower case, has no
 * trailing dot and fits the bounds; envelope parsing never fails on
 * bounded input and never overflows; the list reader keeps its bounds. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mailbox.h"

static void check_mailbox(const ps_mailbox *mb)
{
    size_t nl = strnlen(mb->local, sizeof(mb->local));
    size_t nd = strnlen(mb->domain, sizeof(mb->domain));

    if (nl > PS_MAILBOX_LOCAL_MAX || nd > PS_MAILBOX_DOMAIN_MAX)
        abort();
    for (size_t i = 0; i < nd; i++)
        if (isupper((unsigned char)mb->domain[i]))
            abort();
}

/* The list reader: n mailboxes, each as bounded as the single one. */
static void check_list(const char *buf, size_t size)
{
    ps_mailbox list[4];
    size_t n = 99;
    ps_err err = {""};

    if (ps_mailbox_parse_list(buf, size, list, 4, &n, &err) == 0) {
        if (n == 0 || n > 4)
            abort();
        for (size_t i = 0; i < n; i++)
            check_mailbox(&list[i]);
    } else if (n != 0 || err.msg[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    ps_mailbox mb;
    ps_err err = {""};

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_mailbox_parse_from(buf, size, &mb, &err) == 0) {
        check_mailbox(&mb);
        if (mb.domain[0] == '\0' || mb.domain[strlen(mb.domain) - 1] == '.')
            abort();
    } else if (err.msg[0] == '\0' || mb.domain[0] != '\0') {
        abort();
    }
    check_list(buf, size);
    if (ps_mailbox_parse_envelope(buf, &mb, &err) == 0)
        check_mailbox(&mb);
    free(buf);
    return 0;
}
