/* libFuzzer target for shared/dns/dns.c's reply parser: any bytes, read as a
 * TXT, MX, A and AAAA reply, are refused with a message and an empty answer,
 * or give at most PS_DNS_MAX_RECORDS strings of bounded length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

/* A TXT record cannot outgrow the reply, but compression pointers can
 * make an MX name longer than it: up to NS_MAXDNAME in text form. */
#define NAME_TEXT_MAX 1025

static void check(const uint8_t *data, size_t size, int type)
{
    ps_dns_answer ans;
    ps_err err = {""};

    if (ps_dns_parse_reply(data, size, type, &ans, &err) == 0) {
        if (ans.count > PS_DNS_MAX_RECORDS || (ans.nxdomain && ans.count))
            abort();
        for (size_t i = 0; i < ans.count; i++)
            if (ans.records[i] == NULL ||
                strlen(ans.records[i]) >
                    (type == PS_DNS_TYPE_TXT ? size : NAME_TEXT_MAX))
                abort();
    } else if (ans.count != 0 || err.msg[0] == '\0') {
        abort();
    }
    ps_dns_answer_free(&ans);
    if (ans.count != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size: overreads trap */

    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    check(copy, size, PS_DNS_TYPE_TXT);
    check(copy, size, PS_DNS_TYPE_MX);
    check(copy, size, PS_DNS_TYPE_A);
    check(copy, size, PS_DNS_TYPE_AAAA);
    free(copy);
    return 0;
}
