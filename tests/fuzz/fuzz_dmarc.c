/* libFuzzer target for shared/dmarc/record.c and the author-domain reader:
 * any TXT text is either refused with a reason or gives a record whose
 * values are in range (np= included); what the publisher check accepts the
 * receivers' parse accepts with a policy of its own; any From value gives
 * one of the defined answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/dmarc.h"

static void check_record(const ps_dmarc_record *r)
{
    if (r->p > PS_DMARC_POLICY_REJECT || r->sp > PS_DMARC_POLICY_REJECT ||
        r->np > PS_DMARC_POLICY_REJECT || (!r->has_np && r->np != r->sp) ||
        r->pct < 0 || r->pct > 100 || r->adkim > PS_DMARC_STRICT ||
        r->aspf > PS_DMARC_STRICT)
        abort();
    if (r->p_absent && (!r->has_rua || r->p != PS_DMARC_POLICY_NONE))
        abort();
    /* fo= and rua= as kept for reports: fo a list of 0/1/d/s, rua cut
     * at a URI boundary inside its buffer */
    if (r->fo[0] == '\0' || strspn(r->fo, "01ds:") != strlen(r->fo) ||
        strlen(r->rua) >= PS_DMARC_RUA_MAX)
        abort();
}

static void check_published(const char *buf, size_t size)
{
    ps_dmarc_record r, rr;
    ps_err err = {""};

    if (ps_dmarc_record_check(buf, size, &r, &err) == 0) {
        if (r.p_absent || ps_dmarc_record_parse(buf, size, &rr, &err) != 0 ||
            memcmp(&r, &rr, sizeof(r)) != 0)
            abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    const char *from[1];
    char domain[PS_MAILBOX_DOMAIN_MAX + 1];
    ps_dmarc_record r;
    ps_dmarc_author a;
    ps_err err = {""};

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_dmarc_record_parse(buf, size, &r, &err) == 0) {
        if (!ps_dmarc_is_record(buf, size))
            abort();
        check_record(&r);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    check_published(buf, size);
    err.msg[0] = '\0';
    from[0] = buf;
    a = ps_dmarc_author_domain(from, 1, domain, &err);
    if (a > PS_DMARC_AUTHOR_MANY_DOMAINS ||
        (a == PS_DMARC_AUTHOR_OK) != (domain[0] != '\0') ||
        (a != PS_DMARC_AUTHOR_OK && err.msg[0] == '\0'))
        abort();
    free(buf);
    return 0;
}
