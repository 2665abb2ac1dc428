/* DMARC in verify mode: the author domain from the From fields, the
 * _dmarc lookups through the milter's resolver (dnsq.c), the result in our
 * Authentication-Results field, and, when dmarc_enforce is on, the
 * domain's policy carried out: 550 5.7.1, Postfix's hold queue or a
 * header. One log line per message says what was decided and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <libmilter/mfapi.h>

#include "milter.h"

#define PS_DMARC_REPLY_MAX  65535 /* a DNS reply over TCP */
#define PS_DMARC_MAX_PASSES PS_MILTER_MAX_VERIFY
#define PS_DMARC_HEADER     "X-Postseal-DMARC-Quarantine"

int ps_dmarc_snap_init(ps_snap *s, ps_err *err)
{
    const ps_conf_str *fwd = &s->conf->milter.dmarc_trusted_forwarders;
    ps_err why = {""};

    if (!(s->mode & PS_MODE_VERIFY) || !s->conf->milter.dmarc)
        return 0;
    if (ps_dmarc_psl_load(NULL, &s->psl, err) != 0)
        return -1;
    if (fwd->value != NULL &&
        ps_cidr_parse(fwd->value, &s->dmarc_trusted, &why) != 0)
        return ps_err_set(err, "%s:%d: dmarc_trusted_forwarders: %s",
                          s->conf->path, fwd->line, why.msg);
    return 0;
}

void ps_dmarc_snap_free(ps_snap *s)
{
    ps_dmarc_psl_free(s->psl);
    s->psl = NULL;
}

/* The core's DNS hook: one query to the configured resolver. A reply
 * that does not come, or says SERVFAIL, is a temporary error. */
static int ps_dmarc_rr(void *arg, const char *name, int type,
                       ps_dns_answer *ans)
{
    unsigned char *buf = malloc(PS_DMARC_REPLY_MAX);
    ps_err why = {""};
    int n, rc = -1;

    if (buf == NULL)
        return -1;
    n = ps_dnsq_query(arg, name, type, buf, PS_DMARC_REPLY_MAX);
    if (n > 0 && ps_dns_parse_reply(buf, (size_t)n, type, ans, &why) == 0)
        rc = 0;
    free(buf);
    return rc;
}

/* TXT lookups through the milter's resolver: DMARC records here, ARC
 * seal keys in arc.c. */
int ps_dmarc_txt(void *arg, const char *name, ps_dns_answer *ans)
{
    return ps_dmarc_rr(arg, name, PS_DNS_TYPE_TXT, ans);
}

/* The d= of the dkim results that passed (RFC 8601 result tokens). */
static size_t ps_dmarc_dkim_passes(const ps_authres_result *res, size_t n,
                                   const char **out, size_t max)
{
    size_t k = 0;

    for (size_t i = 0; i < n && k < max; i++) {
        if (strcmp(res[i].method, "dkim") != 0 ||
            strcmp(res[i].result, "pass") != 0)
            continue;
        for (size_t j = 0; j < res[i].nprops; j++)
            if (strcmp(res[i].props[j].name, "header.d") == 0)
                out[k++] = res[i].props[j].value;
    }
    return k;
}

/* The domain SPF authenticated: MAIL FROM's, or the HELO name's for the
 * null sender; NULL unless SPF passed. */
static const char *ps_dmarc_spf_domain(const ps_spf_result *spf)
{
    const char *at;

    if (strcmp(spf->result, "pass") != 0 || spf->value[0] == '\0')
        return NULL;
    at = strrchr(spf->value, '@');
    return at != NULL ? at + 1 : spf->value;
}

static int ps_dmarc_roll(void)
{
    unsigned int r = 0;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return 0; /* no randomness: the policy applies in full */
    return (int)(r % 100);
}

/* The message's From field values, at most max of them counted. */
static size_t ps_dmarc_from_fields(const ps_msg *m, const char **from,
                                   size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(m->hdrs[i].name, "From") == 0) {
            if (n < max)
                from[n] = m->hdrs[i].value;
            n++;
        }
    return n;
}

static void ps_dmarc_log(const ps_session *c, ps_dmarc_result r,
                         const ps_dmarc_verdict *v, const char *reason)
{
    const ps_dmarc_outcome *o = &c->msg.dmarc;
    static const char *const actions[] = {"accept", "reject", "hold", "header",
                                          "tempfail"};
    int policy = r == PS_DMARC_PASS || r == PS_DMARC_FAIL;

    ps_log_kv(
        ps_milter_log(), LOG_INFO, "dmarc", "qid", c->msg.qid, "result",
        ps_dmarc_result_word(r), "domain", o->domain[0] ? o->domain : NULL,
        "policy", policy ? ps_dmarc_policy_word(v->requested) : NULL, "action",
        actions[o->action], "reason", reason, "detail",
        o->why[0] ? o->why : NULL, "client", c->addr, "session", c->sid, NULL);
}

/* The answer for a fail when enforcement is on: the reason word for the
 * log, and c->msg.dmarc.action/text. */
static const char *ps_dmarc_decide_fail(ps_session *c,
                                        const ps_dmarc_verdict *v)
{
    ps_dmarc_outcome *o = &c->msg.dmarc;
    const char *word = ps_dmarc_policy_word(v->requested);

    if (c->addr[0] != '\0' &&
        ps_cidr_match_text(&c->snap->dmarc_trusted, c->addr))
        return "trusted-forwarder";
    if (c->msg.arc.vouch > 0) {
        snprintf(o->why, sizeof(o->why), "sealer %.120s i=%u",
                 c->msg.arc.sealer, c->msg.arc.vouch);
        return "arc-trusted-sealer";
    }
    if (v->apply != PS_DMARC_POLICY_NONE && ps_arc_may_vouch(c)) {
        o->action = PS_DMARC_ACT_TEMPFAIL;
        snprintf(o->text, sizeof(o->text),
                 "ARC seal keys not available: try again later");
        return "arc-temperror";
    }
    if (v->apply == PS_DMARC_POLICY_NONE)
        return v->sampled_out ? "pct-sampled-out" : "policy-none";
    if (v->apply == PS_DMARC_POLICY_REJECT) {
        o->action = PS_DMARC_ACT_REJECT;
        snprintf(o->text, sizeof(o->text),
                 "DMARC policy of %s (%s=%s) rejects unauthenticated mail",
                 o->domain, ps_dmarc_policy_tag(v), word);
        return "policy-reject";
    }
    o->action = c->snap->conf->milter.dmarc_quarantine == PS_CONF_DMARC_HEADER
                    ? PS_DMARC_ACT_HEADER
                    : PS_DMARC_ACT_HOLD;
    snprintf(o->text, sizeof(o->text), "DMARC policy of %s (%s=%s%s)",
             o->domain, ps_dmarc_policy_tag(v), word,
             v->sampled_out ? ", softened by pct=" : "");
    return "policy-quarantine";
}

/* Several From fields, or From addresses of several domains: no single
 * author for DMARC to speak for. Enforcement refuses them, since
 * otherwise a second address would let a spoofed one escape its
 * domain's policy. */
static const char *ps_dmarc_decide_author(ps_session *c, ps_dmarc_author a)
{
    ps_dmarc_outcome *o = &c->msg.dmarc;

    if (a != PS_DMARC_AUTHOR_MANY_FIELDS && a != PS_DMARC_AUTHOR_MANY_DOMAINS)
        return "no-author-domain";
    if (c->addr[0] != '\0' &&
        ps_cidr_match_text(&c->snap->dmarc_trusted, c->addr))
        return "trusted-forwarder";
    o->action = PS_DMARC_ACT_REJECT;
    snprintf(o->text, sizeof(o->text), "%s: no single author domain for DMARC",
             a == PS_DMARC_AUTHOR_MANY_FIELDS ? "several From fields"
                                              : "From addresses of several "
                                                "domains");
    return "ambiguous-author";
}

/* The result of a message with one author domain. */
static ps_dmarc_result ps_dmarc_run(ps_session *c, const ps_dmarc_auth *auth,
                                    ps_dmarc_policy_found *found,
                                    ps_dmarc_verdict *v, const char **reason)
{
    ps_dmarc_outcome *o = &c->msg.dmarc;
    ps_err why = {""};

    ps_dmarc_discover(c->snap->psl, o->domain, ps_dmarc_txt, &c->snap->dns,
                      found, &why);
    ps_dmarc_check_existence(o->domain, ps_dmarc_rr, &c->snap->dns, found);
    snprintf(o->why, sizeof(o->why), "%s", why.msg);
    ps_dmarc_evaluate(c->snap->psl, o->domain, found, auth, ps_dmarc_roll(), v);
    if (v->result == PS_DMARC_PASS)
        *reason = v->dkim_aligned ? "dkim-aligned" : "spf-aligned";
    else if (v->result != PS_DMARC_FAIL)
        *reason = v->result == PS_DMARC_NONE ? "no-policy" : "no-usable-policy";
    else if (!c->snap->conf->milter.dmarc_enforce)
        *reason = "not-enforced";
    else
        *reason = ps_dmarc_decide_fail(c, v);
    return v->result;
}

static void ps_dmarc_prop(ps_authres_result *r, const char *name,
                          const char *value)
{
    r->props[r->nprops].name = name;
    r->props[r->nprops].value = value;
    r->nprops++;
}

int ps_dmarc_check(ps_session *c, const ps_authres_result *res, size_t n,
                   const ps_spf_result *spf, ps_authres_result *out)
{
    ps_dmarc_outcome *o = &c->msg.dmarc;
    const char *from[2], *passes[PS_DMARC_MAX_PASSES], *reason;
    ps_dmarc_auth auth = {passes, 0, ps_dmarc_spf_domain(spf)};
    ps_dmarc_policy_found found;
    ps_dmarc_verdict v;
    ps_dmarc_author a;
    ps_dmarc_result r = PS_DMARC_PERMERROR;
    ps_err why = {""};
    size_t nfrom = ps_dmarc_from_fields(&c->msg, from, 2);

    if (c->snap->psl == NULL)
        return 0;
    memset(o, 0, sizeof(*o));
    memset(&v, 0, sizeof(v));
    memset(&found, 0, sizeof(found));
    auth.ndkim = ps_dmarc_dkim_passes(res, n, passes, PS_DMARC_MAX_PASSES);
    a = ps_dmarc_author_domain(from, nfrom, o->domain, &why);
    if (a == PS_DMARC_AUTHOR_OK) {
        r = ps_dmarc_run(c, &auth, &found, &v, &reason);
    } else {
        /* DMARCbis: From addresses of several domains are exempt (none);
         * no From, several, or one that does not parse: permerror. */
        r = a == PS_DMARC_AUTHOR_MANY_DOMAINS ? PS_DMARC_NONE
                                              : PS_DMARC_PERMERROR;
        snprintf(o->why, sizeof(o->why), "%s", why.msg);
        reason = c->snap->conf->milter.dmarc_enforce
                     ? ps_dmarc_decide_author(c, a)
                     : "no-author-domain";
    }
    memset(out, 0, sizeof(*out));
    out->method = "dmarc";
    out->result = ps_dmarc_result_word(r);
    out->reason =
        r != PS_DMARC_PASS && r != PS_DMARC_FAIL && o->why[0] ? o->why : NULL;
    if (o->domain[0] != '\0')
        ps_dmarc_prop(out, "header.from", o->domain);
    if (r == PS_DMARC_PASS || r == PS_DMARC_FAIL)
        ps_dmarc_prop(out, "policy.dmarc", ps_dmarc_policy_word(v.requested));
    /* RFC 8601 2.3's policy ptype; "arc" as DMARC's report names the
     * local-policy override of a trusted intermediary. */
    if (r == PS_DMARC_FAIL && c->msg.arc.vouch > 0)
        ps_dmarc_prop(out, "policy.override", "arc");
    ps_dmarc_log(c, r, &v, reason);
    ps_dmarc_history_note(c, res, n, spf, &found, &v);
    return 1;
}

int ps_dmarc_enforce(void *ctx, ps_session *c)
{
    ps_dmarc_outcome *o = &c->msg.dmarc;

    switch (o->action) {
    case PS_DMARC_ACT_REJECT:
        smfi_setreply(ctx, "550", "5.7.1", o->text);
        return 1;
    case PS_DMARC_ACT_HOLD:
        /* An MTA that did not grant quarantining gets the header. */
        if (smfi_quarantine(ctx, o->text) == MI_SUCCESS)
            return 0;
        ps_log_kv(ps_milter_log(), LOG_WARNING, "dmarc-hold-refused", "qid",
                  c->msg.qid, "fallback", "header", "session", c->sid, NULL);
        /* fall through */
    case PS_DMARC_ACT_HEADER:
        return smfi_insheader(ctx, 0, PS_DMARC_HEADER, o->text) == MI_SUCCESS
                   ? 0
                   : -1;
    case PS_DMARC_ACT_TEMPFAIL:
        smfi_setreply(ctx, "451", "4.7.1", o->text);
        return 2;
    default:
        return 0;
    }
}
