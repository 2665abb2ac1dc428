/* The DMARC rule of "postseal dns check": the record published at
 * _dmarc.DOMAIN read by the same parser verify mode uses, so the check and
 * the receivers cannot disagree on what the record says. */
#include <stdio.h>
#include <string.h>

#include "dmarc/dmarc.h"

static ps_dnscheck_state
ps_dmarc_published_set(ps_dnscheck *v, ps_dnscheck_state state, const char *why)
{
    v->state = state;
    snprintf(v->why, sizeof(v->why), "%s", why);
    return state;
}

ps_dnscheck_state ps_dmarc_check_published(const ps_dns_answer *ans,
                                           ps_dnscheck *v)
{
    const char *rec = NULL;
    size_t n = 0;
    ps_dmarc_record r;
    ps_err err = {""};

    for (size_t i = 0; i < ans->count; i++)
        if (ps_dmarc_is_record(ans->records[i], strlen(ans->records[i])) &&
            n++ == 0)
            rec = ans->records[i];
    if (n == 0)
        return ps_dmarc_published_set(v, PS_DNSCHECK_MISSING,
                                      "no v=DMARC1 record");
    if (n > 1) {
        snprintf(err.msg, sizeof(err.msg),
                 "%zu v=DMARC1 records: receivers then ignore DMARC; keep "
                 "one",
                 n);
        return ps_dmarc_published_set(v, PS_DNSCHECK_FAIL, err.msg);
    }
    if (ps_dmarc_record_check(rec, strlen(rec), &r, &err) != 0)
        return ps_dmarc_published_set(v, PS_DNSCHECK_FAIL, err.msg);
    return ps_dmarc_published_set(v, PS_DNSCHECK_OK, "");
}
