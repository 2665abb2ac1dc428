/* ARC in verify mode (RFC 8617): the chain is validated by the core as
 * the message streams past, keys through the milter's resolver; the
 * result goes into our Authentication-Results field, and a trusted
 * sealer that vouches for the message lets a DMARC failure through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "milter.h"

/* The resolver and the deadline one message's ARC lookups share. */
typedef struct ps_arc_dns {
    const ps_dnsq *dq;
    struct timespec end; /* CLOCK_MONOTONIC */
} ps_arc_dns;

static int ps_arc_on(const ps_session *c)
{
    return c->snap->conf->milter.arc != 0;
}

int ps_arc_start(ps_session *c, ps_err *err)
{
    ps_msg *m = &c->msg;

    if (!ps_arc_on(c))
        return 0;
    if ((m->arc.v = ps_arc_verify_new()) == NULL)
        return ps_err_set(err, "out of memory");
    ps_arc_verify_limit(m->arc.v,
                        (unsigned)c->snap->conf->milter.arc_max_verify);
    for (size_t i = 0; i < m->nhdrs; i++)
        ps_arc_verify_header(m->arc.v, m->hdrs[i].name, strlen(m->hdrs[i].name),
                             m->hdrs[i].value, strlen(m->hdrs[i].value));
    ps_arc_verify_eoh(m->arc.v);
    return 0;
}

void ps_arc_body(ps_session *c, const unsigned char *data, size_t n)
{
    if (c->msg.arc.v != NULL)
        ps_arc_verify_body(c->msg.arc.v, data, n);
}

static long ps_arc_ms_left(const struct timespec *end)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (end->tv_sec - now.tv_sec) * 1000L +
           (end->tv_nsec - now.tv_nsec) / 1000000L;
}

/* A key lookup with what is left of the message's ARC DNS time: each try
 * waits at most its share, and nothing is sent once the time is up. */
static int ps_arc_txt(void *arg, const char *name, ps_dns_answer *ans)
{
    const ps_arc_dns *d = arg;
    ps_dnsq q = *d->dq;
    long left = ps_arc_ms_left(&d->end);

    if (left <= 0)
        return -1;
    if ((long)q.timeout_ms * q.tries > left)
        q.timeout_ms = (int)(left / q.tries > 0 ? left / q.tries : 1);
    return ps_dmarc_txt(&q, name, ans);
}

/* Which trusted sealer vouches (ps_arc_trusted_instance), its domain kept
 * for the DMARC log line. */
static void ps_arc_vouch(ps_session *c, const ps_arc_sets *sets)
{
    const ps_conf_list *t = &c->snap->conf->milter.arc_trusted_sealers;
    ps_arc_msg *a = &c->msg.arc;

    a->vouch = ps_arc_trusted_instance(sets, &a->out,
                                       (const char *const *)t->items, t->n);
    if (a->vouch > 0)
        ps_arc_sealer_domain(sets, a->vouch, a->sealer);
}

static void ps_arc_log(const ps_session *c)
{
    const ps_arc_msg *a = &c->msg.arc;
    char count[12], oldest[12], vouch[12];

    snprintf(count, sizeof(count), "%u", a->out.count);
    snprintf(oldest, sizeof(oldest), "%u", a->out.oldest_pass);
    snprintf(vouch, sizeof(vouch), "%u", a->vouch);
    ps_log_kv(ps_milter_log(), LOG_INFO, "arc", "qid", c->msg.qid, "result",
              ps_arc_result_name(a->out.result), "instances", count,
              "oldest_pass",
              a->out.result == PS_ARC_RESULT_PASS ? oldest : NULL,
              "trusted_sealer", a->vouch > 0 ? a->sealer : NULL,
              "trusted_instance", a->vouch > 0 ? vouch : NULL, "reason",
              a->out.reason[0] ? a->out.reason : NULL, "client", c->addr,
              "session", c->sid, NULL);
}

int ps_arc_check(ps_session *c, ps_authres_result *out)
{
    ps_arc_msg *a = &c->msg.arc;
    ps_arc_dns dns = {&c->snap->dns, {0, 0}};

    if (a->v == NULL)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &dns.end);
    dns.end.tv_sec += PS_MILTER_ARC_DNS_DEADLINE;
    ps_arc_verify_final(a->v, ps_arc_txt, &dns, &a->out);
    if (c->msg.overflow && a->out.result != PS_ARC_RESULT_NONE) {
        a->out.result = PS_ARC_RESULT_FAIL; /* fields were dropped */
        snprintf(a->out.reason, sizeof(a->out.reason),
                 "more header fields than kept");
    }
    ps_arc_vouch(c, ps_arc_verify_sets(a->v));
    ps_arc_log(c);
    memset(out, 0, sizeof(*out));
    out->method = "arc";
    /* RFC 8617 has pass, fail and none: a key not looked up is a fail,
     * with the reason saying so. */
    out->result = a->out.result == PS_ARC_RESULT_TEMPERROR
                      ? "fail"
                      : ps_arc_result_name(a->out.result);
    out->reason = a->out.reason[0] ? a->out.reason : NULL;
    if (a->out.result == PS_ARC_RESULT_NONE)
        return 1;
    if (c->addr[0] != '\0') {
        out->props[out->nprops].name = "smtp.remote-ip";
        out->props[out->nprops++].value = c->addr;
    }
    if (a->out.result == PS_ARC_RESULT_PASS) {
        snprintf(a->oldest, sizeof(a->oldest), "%u", a->out.oldest_pass);
        out->props[out->nprops].name = "header.oldest-pass";
        out->props[out->nprops++].value = a->oldest;
    }
    return 1;
}

int ps_arc_may_vouch(const ps_session *c)
{
    const ps_arc_msg *a = &c->msg.arc;
    const ps_conf_list *t = &c->snap->conf->milter.arc_trusted_sealers;
    const ps_arc_sets *sets;
    char domain[PS_ARC_DOMAIN_MAX + 1];

    if (a->v == NULL || a->out.result != PS_ARC_RESULT_TEMPERROR)
        return 0;
    sets = ps_arc_verify_sets(a->v);
    for (unsigned i = 1; i <= sets->count; i++)
        if (ps_arc_sealer_domain(sets, i, domain) == 0 &&
            ps_arc_aar_passed(sets, i, "dmarc"))
            for (size_t k = 0; k < t->n; k++)
                if (strcasecmp(domain, t->items[k]) == 0)
                    return 1;
    return 0;
}

int ps_arc_chain_result(const ps_session *c)
{
    return c->msg.arc.v != NULL ? (int)c->msg.arc.out.result : -1;
}

void ps_arc_msg_free(ps_arc_msg *a)
{
    ps_arc_verify_free(a->v);
    a->v = NULL;
}
