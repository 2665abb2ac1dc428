/* SRS in the milter: forwarded mail (from outside, a sender not ours, a
 * recipient not delivered here) leaves with an SRS0/SRS1 sender on our SRS
 * domain, and mail to such an address goes back to the original sender, or is
 * refused when the address is not one we made (or too old). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "milter.h"
#include "mail/srs.h"

/* Transports that deliver on this host; anything else (smtp, relay, and
 * error, which Postfix gives virtual alias domains) is forwarding. */
static int ps_fwd_local(const ps_snap *s, const char *mailer)
{
    static const char *const builtin[] = {"local", "virtual", "lmtp"};
    const ps_conf_list *l = &s->conf->return_path.local_transports;

    if (mailer == NULL)
        return 0; /* unknown: rewriting is the safe side for SPF */
    if (l->items != NULL) {
        for (size_t i = 0; i < l->n; i++)
            if (strcasecmp(l->items[i], mailer) == 0)
                return 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strcasecmp(builtin[i], mailer) == 0)
            return 1;
    return 0;
}

static int ps_fwd_is_srs(const char *local)
{
    return strncasecmp(local, "SRS0", 4) == 0 ||
           strncasecmp(local, "SRS1", 4) == 0;
}

static int ps_fwd_swap(ps_msg *m, const char *given, const char *original)
{
    ps_rcpt_swap *s = reallocarray(m->swaps, m->nswaps + 1, sizeof(*s));

    if (s == NULL)
        return -1;
    m->swaps = s;
    s = &m->swaps[m->nswaps];
    s->given = strdup(given);
    s->original = strdup(original);
    if (s->given == NULL || s->original == NULL) {
        free(s->given);
        free(s->original);
        return -1;
    }
    m->nswaps++;
    return 0;
}

int ps_fwd_rcpt(void *ctx, ps_session *c, const char *arg, const char *mailer)
{
    const char *domain = c->snap->conf->return_path.srs_domain.value;
    char addr[PS_SRS_OUT_MAX], orig[PS_SRS_ADDR_MAX];
    ps_mailbox mb;
    ps_err err = {""};

    if (!ps_fwd_local(c->snap, mailer))
        c->msg.remote_rcpt = 1;
    if (c->snap->srs_secrets == NULL ||
        ps_mailbox_parse_envelope(arg, &mb, &err) != 0 ||
        strcasecmp(mb.domain, domain) != 0 || !ps_fwd_is_srs(mb.local))
        return 0;
    snprintf(addr, sizeof(addr), "%s@%s", mb.local, mb.domain);
    ps_srs_cfg cfg = {c->snap->srs_secrets, domain, 0};
    if (ps_srs_reverse(&cfg, addr, time(NULL), orig, sizeof(orig), &err) != 0) {
        ps_log_kv(ps_milter_log(), LOG_INFO, "srs-rcpt", "qid", c->msg.qid,
                  "verdict", "reject", "reason", err.msg, "client", c->addr,
                  "session", c->sid, NULL);
        smfi_setreply(ctx, "550", "5.1.1", err.msg);
        return 1;
    }
    ps_log_kv(ps_milter_log(), LOG_INFO, "srs-rcpt", "qid", c->msg.qid,
              "verdict", "accept", "original", orig, "client", c->addr,
              "session", c->sid, NULL);
    ps_mm_inc(PS_MM_SRS, PS_MM_SRS_REVERSE);
    return ps_fwd_swap(&c->msg, arg, orig) != 0 ? -1 : 0;
}

static int ps_fwd_unswap(void *ctx, const ps_msg *m, ps_err *err)
{
    char arg[PS_SRS_ADDR_MAX + 2];

    for (size_t i = 0; i < m->nswaps; i++) {
        snprintf(arg, sizeof(arg), "<%s>", m->swaps[i].original);
        if (smfi_delrcpt(ctx, m->swaps[i].given) != MI_SUCCESS ||
            smfi_addrcpt(ctx, arg) != MI_SUCCESS)
            return ps_err_set(err, "the MTA refused to change a recipient");
    }
    return 0;
}

int ps_fwd_forwarded(const ps_session *c)
{
    ps_mailbox mb;
    ps_err why = {""};

    return c->msg.remote_rcpt && !ps_signpolicy_outbound(c, &c->msg) &&
           ps_mailbox_parse_envelope(c->msg.envfrom, &mb, &why) == 0 &&
           mb.domain[0] != '\0' &&
           !ps_signpolicy_our_domain(c->snap, mb.domain);
}

static int ps_fwd_sender(void *ctx, ps_session *c, ps_err *err)
{
    const char *domain = c->snap->conf->return_path.srs_domain.value;
    char addr[PS_SRS_ADDR_MAX], out[PS_SRS_OUT_MAX], arg[PS_SRS_OUT_MAX + 2];
    ps_mailbox mb;
    ps_err why = {""};
    int rc;

    if (c->snap->srs_secrets == NULL || !ps_fwd_forwarded(c) ||
        ps_mailbox_parse_envelope(c->msg.envfrom, &mb, &why) != 0)
        return 0;
    snprintf(addr, sizeof(addr), "%s@%s", mb.local, mb.domain);
    ps_srs_cfg cfg = {c->snap->srs_secrets, domain, 0};
    if ((rc = ps_srs_forward(&cfg, addr, time(NULL), out, sizeof(out), err)) <
        0)
        return -1;
    if (rc == PS_SRS_UNCHANGED)
        return 0;
    snprintf(arg, sizeof(arg), "<%s>", out);
    if (smfi_chgfrom(ctx, arg, NULL) != MI_SUCCESS)
        return ps_err_set(err, "the MTA refused to change the sender "
                               "(milter_protocol 6 and Postfix 2.6 or later "
                               "needed)");
    ps_mm_inc(PS_MM_SRS, PS_MM_SRS_FORWARD);
    ps_log_kv(ps_milter_log(), LOG_INFO, "srs", "qid", c->msg.qid, "from", addr,
              "to", out, "session", c->sid, NULL);
    return 0;
}

int ps_fwd_finish(void *ctx, ps_session *c, int rewritten, ps_err *err)
{
    if (ps_fwd_unswap(ctx, &c->msg, err) != 0)
        return -1;
    return rewritten ? 0 : ps_fwd_sender(ctx, c, err);
}
