/* DMARC history ([milter] dmarc_history): one durable record per message
 * evaluated against a published policy, for "postseal dmarc report". A
 * record that cannot be written is logged and the message goes on: the
 * record feeds a statistics report to the domain owner, and refusing mail
 * because that report would miss a line would turn a full or misowned
 * directory into lost inbound mail, the larger harm. */
#include <stdio.h>
#include <string.h>

#include "dmarc/history.h"
#include "milter.h"

/* The domain of MAIL FROM's argument ("<a@b>" or "a@b"); "" for <>. */
static void ps_dmhist_envfrom(const char *arg, char *out, size_t cap)
{
    const char *at = arg != NULL ? strrchr(arg, '@') : NULL;
    size_t n;

    out[0] = '\0';
    if (at == NULL)
        return;
    n = strcspn(at + 1, ">");
    snprintf(out, cap, "%.*s", (int)n, at + 1);
}

static const char *ps_dmhist_prop(const ps_authres_result *r, const char *name)
{
    for (size_t j = 0; j < r->nprops; j++)
        if (strcmp(r->props[j].name, name) == 0)
            return r->props[j].value;
    return "";
}

static void ps_dmhist_dkims(const ps_authres_result *res, size_t n,
                            ps_dmhist *h)
{
    for (size_t i = 0; i < n && h->ndkim < PS_DMHIST_MAX_DKIM; i++) {
        ps_dmhist_dkim *d = &h->dkim[h->ndkim];
        if (strcmp(res[i].method, "dkim") != 0)
            continue;
        d->domain = ps_dmhist_prop(&res[i], "header.d");
        d->selector = ps_dmhist_prop(&res[i], "header.s");
        d->result = ps_dmhist_auth_from_word(res[i].result);
        if (d->domain[0] == '\0' || strlen(d->domain) > 255 ||
            strlen(d->selector) > 255)
            continue; /* nothing a report could name (the reader's limits) */
        if (d->result == PS_DMHIST_SOFTFAIL)
            d->result = PS_DMHIST_FAIL;
        h->ndkim++;
    }
}

static ps_dmarc_policy ps_dmhist_disposition(ps_dmarc_action a)
{
    switch (a) {
    case PS_DMARC_ACT_REJECT:
        return PS_DMARC_POLICY_REJECT;
    case PS_DMARC_ACT_HOLD:
    case PS_DMARC_ACT_HEADER:
        return PS_DMARC_POLICY_QUARANTINE;
    default:
        return PS_DMARC_POLICY_NONE;
    }
}

/* Why a failing message did not get the policy the domain asked for. */
static unsigned ps_dmhist_reasons(const ps_session *c,
                                  const ps_dmarc_verdict *v)
{
    if (v->result != PS_DMARC_FAIL || v->requested == PS_DMARC_POLICY_NONE)
        return 0;
    if (!c->snap->conf->milter.dmarc_enforce)
        return PS_DMHIST_R_LOCAL_POLICY;
    if (c->addr[0] != '\0' &&
        ps_cidr_match_text(&c->snap->dmarc_trusted, c->addr))
        return PS_DMHIST_R_TRUSTED_FORWARDER;
    return v->sampled_out ? PS_DMHIST_R_SAMPLED_OUT : 0;
}

void ps_dmarc_history_note(ps_session *c, const ps_authres_result *res,
                           size_t n, const ps_spf_result *spf,
                           const ps_dmarc_policy_found *found,
                           const ps_dmarc_verdict *v)
{
    const char *dir = c->snap->conf->milter.dmarc_history.value;
    const char *at = strrchr(spf->value, '@');
    char envfrom[PS_MAILBOX_DOMAIN_MAX + 1];
    ps_dmhist h;

    if (dir == NULL || found->found != PS_DMARC_FOUND || c->addr[0] == '\0')
        return;
    memset(&h, 0, sizeof(h));
    ps_dmhist_envfrom(c->msg.envfrom, envfrom, sizeof(envfrom));
    h.when = time(NULL);
    h.source_ip = c->addr;
    h.header_from = c->msg.dmarc.domain;
    h.envelope_from = envfrom;
    h.spf_domain = at != NULL ? at + 1 : spf->value;
    h.spf_helo = strcmp(spf->property, "smtp.helo") == 0;
    h.spf = ps_dmhist_auth_from_word(spf->result);
    h.policy_domain = found->at_org ? found->org : c->msg.dmarc.domain;
    h.policy.p = found->rec.p;
    h.policy.sp = found->rec.sp;
    h.policy.pct = found->rec.pct;
    h.policy.adkim = found->rec.adkim;
    h.policy.aspf = found->rec.aspf;
    h.policy.fo = found->rec.fo;
    h.rua = found->rec.rua;
    h.pass = v->result == PS_DMARC_PASS;
    h.dkim_aligned = v->dkim_aligned;
    h.spf_aligned = v->spf_aligned;
    h.disposition = ps_dmhist_disposition(c->msg.dmarc.action);
    h.reasons = ps_dmhist_reasons(c, v);
    ps_dmhist_dkims(res, n, &h);
    if (h.spf == PS_DMHIST_POLICY)
        h.spf = PS_DMHIST_PERMERROR;
    ps_record_free(&c->msg.dmhist);
    ps_dmhist_format(&h, &c->msg.dmhist);
    c->msg.dmhist_when = h.when;
}

void ps_dmarc_history_write(const ps_session *c)
{
    const char *dir = c->snap->conf->milter.dmarc_history.value;
    ps_err err = {""};

    if (dir == NULL || (c->msg.dmhist.n == 0 && !c->msg.dmhist.oom))
        return; /* no policy found, or history off at evaluation */
    if (ps_dmhist_write(dir, c->msg.dmhist_when, &c->msg.dmhist, &err) != 0)
        ps_log_kv(ps_milter_log(), LOG_WARNING, "dmarc-history-failed", "qid",
                  c->msg.qid, "error", err.msg, "effect",
                  "message goes on, its report line is lost", "session", c->sid,
                  NULL);
}
