/* Who gets signed: mail from an authenticated client ({auth_authen}) or
 * from internal_hosts, with exactly one parsable From field whose domain
 * (or the return-path domain) has a signing rule. Everything else is not
 * signed, and the reason is one fixed word the log can be searched for. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "milter.h"

/* The log's words, indexed by ps_reason. */
static const char *const ps_signpolicy_words[PS_WHY_NREASONS] = {
    [PS_WHY_AUTHENTICATED] = "authenticated",
    [PS_WHY_INTERNAL] = "internal",
    [PS_WHY_VERIFY_ONLY] = "verify-only-mode",
    [PS_WHY_NOT_OUTBOUND] = "not-internal-not-authenticated",
    [PS_WHY_TOO_MANY_HEADERS] = "too-many-headers",
    [PS_WHY_FROM_REPEATED] = "from-repeated",
    [PS_WHY_NO_FROM] = "no-from",
    [PS_WHY_FROM_UNPARSABLE] = "from-unparsable",
    [PS_WHY_NO_SIGNING_RULE] = "no-signing-rule",
    [PS_WHY_REINJECTED_SIGNED] = "reinjected-signed",
    [PS_WHY_REINJECTED_INBOUND] = "reinjected-inbound",
    [PS_WHY_TRACE_UNVERIFIED] = "trace-unverified",
};

const char *ps_signpolicy_reason_word(ps_reason r)
{
    return (unsigned)r < PS_WHY_NREASONS && ps_signpolicy_words[r] != NULL
               ? ps_signpolicy_words[r]
               : "?";
}

/* The single From field, or NULL with the reason in d. */
static const ps_hdr *ps_signpolicy_from(const ps_msg *m, ps_decision *d)
{
    const ps_hdr *from = NULL;

    for (size_t i = 0; i < m->nhdrs; i++) {
        if (strcasecmp(m->hdrs[i].name, "From") != 0)
            continue;
        if (from != NULL) {
            d->reason = PS_WHY_FROM_REPEATED;
            return NULL;
        }
        from = &m->hdrs[i];
    }
    if (from == NULL)
        d->reason = PS_WHY_NO_FROM;
    return from;
}

/* Postal's fallback: the domain the return path will carry, i.e. the
 * bounce domain a rewrite rule gives the envelope sender, else the
 * [return_path] domain, else the envelope sender's. */
static const char *ps_signpolicy_fallback(const ps_session *c, const ps_msg *m,
                                          ps_mailbox *env)
{
    const char *def = c->snap->conf->return_path.domain.value, *bounce;
    ps_err why;

    if (ps_mailbox_parse_envelope(m->envfrom != NULL ? m->envfrom : "", env,
                                  &why) != 0 ||
        env->domain[0] == '\0')
        return def;
    if ((bounce = ps_rp_bounce_domain_for(c->snap, env->domain)) != NULL)
        return bounce;
    return def != NULL ? def : env->domain;
}

static void ps_signpolicy_sign(const ps_session *c, ps_msg *m, ps_decision *d)
{
    const ps_hdr *from = ps_signpolicy_from(m, d);
    ps_mailbox env;
    ps_err why = {""};

    if (from == NULL)
        return;
    if (ps_mailbox_parse_from(from->value, strlen(from->value), &d->from,
                              &why) != 0) {
        d->reason = PS_WHY_FROM_UNPARSABLE;
        snprintf(d->detail, sizeof(d->detail), "%s", why.msg);
        return;
    }
    if (ps_signrules_lookup(c->snap->rules, d->from.local, d->from.domain,
                            ps_signpolicy_fallback(c, m, &env),
                            &m->match) == 0) {
        d->reason = PS_WHY_NO_SIGNING_RULE;
        return;
    }
    d->action = PS_ACT_SIGN;
    d->reason = m->auth != NULL ? PS_WHY_AUTHENTICATED : PS_WHY_INTERNAL;
}

int ps_signpolicy_outbound(const ps_session *c, const ps_msg *m)
{
    return m->auth != NULL || (c->addr[0] != '\0' &&
                               ps_cidr_match_text(&c->snap->internal, c->addr));
}

int ps_signpolicy_our_domain(const ps_snap *s, const char *domain)
{
    const char *srs = s->conf->return_path.srs_domain.value;
    ps_signrules_match match;

    return (srs != NULL && strcasecmp(srs, domain) == 0) ||
           ps_rp_is_bounce_domain(s, domain) ||
           ps_rp_bounce_domain_for(s, domain) != NULL ||
           ps_signrules_lookup(s->rules, NULL, domain, NULL, &match) > 0;
}

void ps_signpolicy_decide(const ps_session *c, ps_msg *m, ps_decision *d)
{
    const ps_snap *s = c->snap;

    memset(d, 0, sizeof(*d));
    d->action = PS_ACT_NONE;
    if (m->trace != PS_TRACE_NONE) {
        d->reason = ps_trace_reason(m->trace); /* the first pass decided */
        return;
    }
    if (!(s->mode & PS_MODE_SIGN))
        d->reason = PS_WHY_VERIFY_ONLY;
    else if (!ps_signpolicy_outbound(c, m))
        d->reason = PS_WHY_NOT_OUTBOUND;
    else if (m->overflow)
        d->reason = PS_WHY_TOO_MANY_HEADERS;
    else
        ps_signpolicy_sign(c, m, d);
    /* Our Authentication-Results speaks of mail that reached us from
     * outside; on outbound mail a receiver could take it for ours. */
    if (d->action == PS_ACT_NONE && (s->mode & PS_MODE_VERIFY) &&
        !m->overflow && !ps_signpolicy_outbound(c, m))
        d->action = PS_ACT_VERIFY;
}
