/* The libmilter callbacks: they keep the connection's and message's state,
 * and at end of headers hand the message to signing or verification.
 * Any internal failure answers SMFIS_TEMPFAIL, so mail is never lost and
 * never passes unsigned when it should have been signed. */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "milter.h"

#define PS_CB_ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS)
/* Envelope changes (return paths, SRS): asked for when the MTA offers them;
 * one that does not gets a temporary failure only when a change is due. */
#define PS_CB_ENVELOPE (SMFIF_CHGFROM | SMFIF_ADDRCPT | SMFIF_DELRCPT)
/* Steps we never look at: fewer round trips per message. DATA is not one
 * of them: see ps_cb_data. */
#define PS_CB_SKIP (SMFIP_NOUNKNOWN)
/* Steps whose failures and refusals wait for the next step that answers
 * (DATA, or end of message), so the MTA need not wait for each answer:
 * every round trip costs the MTA and us two context switches. Postfix
 * holds what needs no answer and sends it with the next step that does:
 * through Postfix the connection, HELO and MAIL FROM arrive together with
 * the first recipient asked for, or with DATA, in one read. A message
 * counts as in flight, for SIGTERM's drain, from then on. Postfix gives a
 * milter's verdict on the content at end of DATA anyway. libmilter
 * answers for us when the MTA cannot do without. */
#define PS_CB_NOREPLY                                                          \
    (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR |            \
     SMFIP_NR_EOH | SMFIP_NR_BODY)

/* Numbers the connections of this process for session=; the log's pid
 * tells processes apart. */
static atomic_ulong ps_cb_sessions;

static ps_session *ps_cb_conn(SMFICTX *ctx)
{
    return smfi_getpriv(ctx);
}

/* The reason when none was given: a step without its connection or
 * message (its connect or MAIL FROM step failed, and said why then, or
 * the MTA skipped it), or the only failure that sets no message. */
static const char *ps_cb_reason(const ps_session *c, const ps_err *err)
{
    if (err != NULL && err->msg[0])
        return err->msg;
    if (c == NULL)
        return "no connection context (connect step failed or not sent)";
    if (c->msg.envfrom == NULL)
        return "no message context (MAIL FROM step failed or not sent)";
    return "out of memory";
}

static sfsistat ps_cb_fail(ps_session *c, ps_stage stage, const ps_err *err)
{
    ps_mm_inc(PS_MM_TEMPFAILS, stage);
    ps_log_kv(ps_milter_log(), LOG_ERR, "error", "qid",
              c != NULL ? c->msg.qid : "-", "stage", ps_stage_word(stage),
              "reason", ps_cb_reason(c, err), "session",
              c != NULL ? c->sid : NULL, NULL);
    return SMFIS_TEMPFAIL;
}

/* For the steps without a reply: logs now, answers at end of message. */
static sfsistat ps_cb_defer_fail(ps_session *c, ps_stage stage,
                                 const ps_err *err)
{
    ps_cb_fail(c, stage, err);
    if (c != NULL)
        c->msg.failed = 1;
    return SMFIS_NOREPLY;
}

static void ps_cb_refuse(ps_msg *m, const char *code, const char *xcode,
                         const char *text)
{
    m->failed = 1;
    m->refuse_code = code;
    m->refuse_xcode = xcode;
    m->refuse_text = text;
}

static sfsistat ps_cb_restarting(SMFICTX *ctx)
{
    ps_mm_inc(PS_MM_TEMPFAILS, PS_STAGE_RESTARTING);
    smfi_setreply(ctx, "451", "4.3.2", "signing service restarting");
    return SMFIS_TEMPFAIL;
}

/* The answer, at the first step that has one, for a message that did not
 * start at MAIL FROM: its failure was logged then. */
static sfsistat ps_cb_unstarted(SMFICTX *ctx)
{
    return ps_milter_draining() ? ps_cb_restarting(ctx) : SMFIS_TEMPFAIL;
}

/* The answer kept for end of message. */
static sfsistat ps_cb_deferred(SMFICTX *ctx, const ps_msg *m)
{
    if (m->refuse_code == NULL)
        return SMFIS_TEMPFAIL;
    smfi_setreply(ctx, (char *)m->refuse_code, (char *)m->refuse_xcode,
                  (char *)m->refuse_text);
    return m->refuse_code[0] == '5' ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static void ps_cb_free_conn(ps_session *c)
{
    if (c == NULL)
        return;
    if (c->msg.envfrom != NULL)
        ps_milter_busy(-1);
    ps_mm_connections(-1);
    ps_msg_reset(&c->msg);
    ps_snap_release(c->snap);
    free(c);
}

static void ps_cb_addr(ps_session *c, const struct sockaddr *sa)
{
    const void *bytes = NULL;

    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        bytes = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        bytes = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (bytes == NULL ||
        inet_ntop(sa->sa_family, bytes, c->addr, sizeof(c->addr)) == NULL)
        c->addr[0] = '\0';
}

static sfsistat ps_cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    ps_session *c = calloc(1, sizeof(*c));

    /* Postfix sends connect again after XCLIENT: start afresh. */
    ps_cb_free_conn(ps_cb_conn(ctx));
    smfi_setpriv(ctx, NULL);
    /* Without a connection every message of it is refused at MAIL FROM. */
    if (ps_milter_draining()) {
        free(c);
        return SMFIS_NOREPLY;
    }
    if (c == NULL || (c->snap = ps_snap_acquire()) == NULL) {
        ps_err err = {""};
        ps_err_set(&err, c == NULL ? "out of memory" : "no configuration");
        free(c);
        ps_cb_fail(NULL, PS_STAGE_CONNECT, &err);
        return SMFIS_NOREPLY;
    }
    snprintf(c->host, sizeof(c->host), "%s", host != NULL ? host : "");
    ps_cb_addr(c, sa);
    snprintf(c->sid, sizeof(c->sid), "%lx",
             atomic_fetch_add(&ps_cb_sessions, 1) + 1);
    smfi_setpriv(ctx, c);
    ps_mm_connections(1);
    return SMFIS_NOREPLY;
}

/* No reply: a missing connection is refused at MAIL FROM instead. */
static sfsistat ps_cb_helo(SMFICTX *ctx, char *helo)
{
    ps_session *c = ps_cb_conn(ctx);

    if (c != NULL)
        snprintf(c->helo, sizeof(c->helo), "%s", helo != NULL ? helo : "");
    return SMFIS_NOREPLY;
}

/* Each message takes the configuration current at its MAIL FROM, so a
 * reload reaches long SMTP sessions too; nothing of the previous message
 * still points into the old snapshot. */
static void ps_cb_refresh_snap(ps_session *c)
{
    ps_snap *cur = ps_snap_acquire();

    if (cur == NULL)
        return;
    ps_snap_release(c->snap);
    c->snap = cur;
}

/* No reply (SMFIP_NR_MAIL): a message that cannot start is refused at
 * DATA (ps_cb_data), before its content is sent. */
static sfsistat ps_cb_envfrom(SMFICTX *ctx, char **argv)
{
    ps_session *c = ps_cb_conn(ctx);

    if (c == NULL) {
        if (!ps_milter_draining())
            ps_cb_fail(NULL, PS_STAGE_MAIL, NULL);
        return SMFIS_NOREPLY;
    }
    if (c->msg.envfrom != NULL) {
        ps_msg_reset(&c->msg);
        ps_milter_busy(-1);
    }
    if (ps_milter_draining())
        return SMFIS_NOREPLY;
    ps_cb_refresh_snap(c);
    if (ps_msg_start(&c->msg, argv != NULL ? argv[0] : "",
                     smfi_getsymval(ctx, "{auth_authen}"),
                     smfi_getsymval(ctx, "i")) != 0) {
        ps_err err = {"out of memory"};
        ps_msg_reset(&c->msg);
        ps_cb_fail(c, PS_STAGE_MAIL, &err);
        return SMFIS_NOREPLY;
    }
    ps_milter_busy(1);
    c->msg.started_ns = ps_mm_now();
    return SMFIS_NOREPLY;
}

/* No reply (SMFIP_NR_HDR): a failure is kept for end of headers. */
static sfsistat ps_cb_header(SMFICTX *ctx, char *name, char *value)
{
    ps_session *c = ps_cb_conn(ctx);

    if (c == NULL || c->msg.envfrom == NULL || c->msg.failed || name == NULL ||
        value == NULL)
        return SMFIS_NOREPLY;
    if (ps_msg_add_header(&c->msg, name, value) != 0)
        return ps_cb_defer_fail(c, PS_STAGE_HEADER, NULL);
    return SMFIS_NOREPLY;
}

/* Postfix gives the queue id ("i") with the end-of-header macros; an
 * MTA may give it with MAIL FROM already. */
static void ps_cb_qid(SMFICTX *ctx, ps_msg *m)
{
    const char *qid = smfi_getsymval(ctx, "i");

    if (qid != NULL && *qid != '\0')
        snprintf(m->qid, sizeof(m->qid), "%s", qid);
}

static void ps_cb_log_decision(const ps_session *c, const ps_decision *d)
{
    char keys[PS_DKIM_MAX_KEYS * 300] = "";
    size_t len = 0;
    const ps_signrules_match *m = &c->msg.match;

    /* Key names are short (64 bytes in [keys]); the size covers a
     * KeyTable's longer ones too, and snprintf cuts the rest. */
    for (size_t i = 0; d->action == PS_ACT_SIGN && i < m->count; i++) {
        int w = snprintf(keys + len, sizeof(keys) - len, "%s%.250s",
                         i ? "," : "", m->keynames[i]);
        if (w < 0 || (size_t)w >= sizeof(keys) - len)
            break;
        len += (size_t)w;
    }
    ps_log_kv(ps_milter_log(), LOG_INFO, "decision", "qid", c->msg.qid, "sign",
              d->action == PS_ACT_SIGN ? "yes" : "no", "reason",
              ps_signpolicy_reason_word(d->reason), "detail",
              d->detail[0] ? d->detail : NULL, "from_domain",
              d->from.domain[0] ? d->from.domain : NULL, "rule",
              d->action == PS_ACT_SIGN ? m->rule : NULL, "keys",
              keys[0] ? keys : NULL, "client", c->addr[0] ? c->addr : NULL,
              "auth", c->msg.auth, "session", c->sid, NULL);
}

static int ps_cb_verify_start(ps_session *c, ps_err *err)
{
    ps_msg *m = &c->msg;

    if ((m->verify = ps_verify_new(c->snap, m->qid, err)) == NULL)
        return -1;
    for (size_t i = 0; i < m->nhdrs; i++)
        if (!m->hdrs[i].forged &&
            ps_verify_header(m->verify, m->hdrs[i].name, m->hdrs[i].value))
            return ps_err_set(err, "out of memory");
    return ps_verify_eoh(m->verify);
}

/* Only return-path and SRS addresses are checked here; one bad recipient
 * is refused alone, the others of the message go on. */
static sfsistat ps_cb_envrcpt(SMFICTX *ctx, char **argv)
{
    ps_session *c = ps_cb_conn(ctx);
    const char *arg = argv != NULL && argv[0] != NULL ? argv[0] : "";
    ps_err err = {""};
    int rc;

    if (c == NULL || c->msg.envfrom == NULL)
        return ps_cb_unstarted(ctx);
    ps_cb_qid(ctx, &c->msg);
    if (ps_rp_rcpt(ctx, c, arg))
        return SMFIS_REJECT;
    rc = ps_fwd_rcpt(ctx, c, arg, smfi_getsymval(ctx, "{rcpt_mailer}"));
    if (rc < 0)
        return ps_cb_fail(c, PS_STAGE_RCPT, NULL);
    if (rc == 0 && (ps_rp_note_rcpt(c, arg, &err) != 0 ||
                    ps_acc_note_rcpt(c, arg, &err) != 0))
        return ps_cb_fail(c, PS_STAGE_RCPT, &err);
    return rc > 0 ? SMFIS_REJECT : SMFIS_CONTINUE;
}

/* No reply (SMFIP_NR_EOH): the decision is acted on at end of message. */
static sfsistat ps_cb_eoh(SMFICTX *ctx)
{
    ps_session *c = ps_cb_conn(ctx);
    ps_decision d;
    ps_err err = {""};

    if (c == NULL || c->msg.envfrom == NULL || c->msg.failed)
        return SMFIS_NOREPLY; /* answered at end of message */
    ps_cb_qid(ctx, &c->msg);
    ps_arhdr_mark_forged(c);
    ps_trace_check(c);
    /* A bounce passing again (re-injection) was read the first time. */
    if (c->msg.trace == PS_TRACE_NONE && ps_bounce_start(&c->msg) != 0)
        return ps_cb_defer_fail(c, PS_STAGE_BOUNCE, NULL);
    ps_signpolicy_decide(c, &c->msg, &d);
    ps_cb_log_decision(c, &d);
    c->msg.action = d.action;
    ps_mm_inc(PS_MM_MESSAGES, d.action);
    if (d.action != PS_ACT_SIGN)
        ps_mm_inc(PS_MM_UNSIGNED, d.reason);
    if (d.reason == PS_WHY_TOO_MANY_HEADERS) {
        ps_cb_refuse(&c->msg, "552", "5.3.4", "too many header fields to sign");
        return SMFIS_NOREPLY;
    }
    if (d.action == PS_ACT_SIGN && ps_sign_start(c, &err) != 0)
        return ps_cb_defer_fail(c, PS_STAGE_SIGN, &err);
    if (d.action == PS_ACT_VERIFY &&
        (ps_cb_verify_start(c, &err) != 0 || ps_arc_start(c, &err) != 0))
        return ps_cb_defer_fail(c, PS_STAGE_VERIFY, &err);
    ps_arcseal_start(c);
    return SMFIS_NOREPLY;
}

/* No reply (SMFIP_NR_BODY): a failure is kept for end of message. */
static sfsistat ps_cb_body(SMFICTX *ctx, unsigned char *data, size_t n)
{
    ps_session *c = ps_cb_conn(ctx);
    ps_err err = {""};

    if (c == NULL || c->msg.failed)
        return SMFIS_NOREPLY;
    ps_bounce_body(&c->msg, data, n);
    if (c->msg.action == PS_ACT_SIGN && ps_sign_body(c, data, n, &err) != 0)
        return ps_cb_defer_fail(c, PS_STAGE_SIGN, &err);
    if (c->msg.action == PS_ACT_VERIFY &&
        ps_verify_body(c->msg.verify, data, n) != 0)
        return ps_cb_defer_fail(c, PS_STAGE_VERIFY, NULL);
    ps_arcseal_body(c, data, n);
    if (c->msg.action == PS_ACT_VERIFY)
        ps_arc_body(c, data, n);
    return SMFIS_NOREPLY;
}

/* The answer to MAIL FROM too, when no recipient was asked for: a
 * message that did not start (no connection, no memory, or the milter is
 * stopping) is refused here. Answered at once, for the MTA's sake
 * over TCP as well: Postfix sends the DATA step as a lone small write and
 * the message's first header only after that is acknowledged (Nagle, on
 * its side); unanswered, our kernel delays the ACK ~40 ms on every
 * message. The answer carries it. */
static sfsistat ps_cb_data(SMFICTX *ctx)
{
    ps_session *c = ps_cb_conn(ctx);

    if (c == NULL || c->msg.envfrom == NULL)
        return ps_cb_unstarted(ctx);
    return SMFIS_CONTINUE;
}

/* Envelope changes come last: a failure before them leaves the envelope
 * as the client sent it. */
static sfsistat ps_cb_envelope(SMFICTX *ctx, ps_session *c)
{
    ps_err err = {""};
    int rewritten;

    if (c->msg.trace != PS_TRACE_NONE)
        return SMFIS_CONTINUE; /* the first pass changed it */
    if ((rewritten = ps_rp_rewrite(ctx, c, &err)) < 0)
        return ps_cb_fail(c, PS_STAGE_RETURN_PATH, &err);
    ps_mm_add(PS_MM_RETPATH, 0, (uint64_t)rewritten);
    if (ps_fwd_finish(ctx, c, rewritten, &err) != 0)
        return ps_cb_fail(c, PS_STAGE_SRS, &err);
    return SMFIS_CONTINUE;
}

static sfsistat ps_cb_finish(SMFICTX *ctx, ps_session *c)
{
    ps_err err = {""};
    int discard, rc;

    if (c->msg.failed)
        return ps_cb_deferred(ctx, &c->msg); /* logged when it happened */
    ps_cb_qid(ctx, &c->msg);
    if (ps_bounce_finish(c, &discard, &err) != 0)
        return ps_cb_fail(c, PS_STAGE_BOUNCE, &err);
    if (discard) {
        ps_log_kv(ps_milter_log(), LOG_INFO, "discarded", "qid", c->msg.qid,
                  "reason", "bounce-recorded", "session", c->sid, NULL);
        return SMFIS_DISCARD;
    }
    if (ps_arhdr_remove_forged(ctx, c) != 0)
        return ps_cb_fail(c, PS_STAGE_AUTHRES, NULL);
    if (c->msg.action == PS_ACT_SIGN) {
        if (ps_sign_finish(ctx, c, &err) != 0)
            return ps_cb_fail(c, PS_STAGE_SIGN, &err);
        ps_mm_signed(&c->msg.match);
        ps_log_kv(ps_milter_log(), LOG_INFO, "signed", "qid", c->msg.qid,
                  "rule", c->msg.match.rule, "session", c->sid, NULL);
        if (ps_acc_record(c, &err) != 0)
            return ps_cb_fail(c, PS_STAGE_EVENTS, &err);
    }
    if (c->msg.action == PS_ACT_VERIFY) {
        if (ps_arhdr_add(ctx, c, &err) != 0)
            return ps_cb_fail(c, PS_STAGE_VERIFY, &err);
        if ((rc = ps_dmarc_enforce(ctx, c)) == 2) {
            ps_err_set(&err, "ARC key lookup failed for a trusted sealer");
            return ps_cb_fail(c, PS_STAGE_ARC, &err);
        }
        if (rc != 0)
            return rc > 0 ? SMFIS_REJECT : ps_cb_fail(c, PS_STAGE_DMARC, NULL);
    }
    ps_arcseal_finish(ctx, c);
    /* Outside mail left unverified (sign-only mode) is marked too, so a
     * second pass does not take it for internal mail. */
    if (c->msg.action == PS_ACT_NONE && c->msg.trace == PS_TRACE_NONE &&
        !ps_signpolicy_outbound(c, &c->msg) &&
        ps_trace_add(ctx, PS_TRACE_INBOUND, NULL, &err) != 0)
        return ps_cb_fail(c, PS_STAGE_TRACE, &err);
    return ps_cb_envelope(ctx, c);
}

static sfsistat ps_cb_eom(SMFICTX *ctx)
{
    ps_session *c = ps_cb_conn(ctx);
    sfsistat rc;

    if (c == NULL || c->msg.envfrom == NULL)
        return ps_cb_fail(c, PS_STAGE_EOM, NULL);
    rc = ps_cb_finish(ctx, c);
    /* A temporary failure is tried again and recorded then: once. */
    if (rc != SMFIS_TEMPFAIL)
        ps_dmarc_history_write(c);
    ps_mm_message_done(c->msg.started_ns);
    ps_msg_reset(&c->msg);
    ps_milter_busy(-1);
    return rc;
}

static sfsistat ps_cb_abort(SMFICTX *ctx)
{
    ps_session *c = ps_cb_conn(ctx);

    if (c == NULL)
        return SMFIS_CONTINUE;
    if (c->msg.envfrom != NULL)
        ps_milter_busy(-1);
    ps_msg_reset(&c->msg);
    return SMFIS_CONTINUE;
}

static sfsistat ps_cb_close(SMFICTX *ctx)
{
    ps_cb_free_conn(ps_cb_conn(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

/* The steps the configuration can do without, among those the MTA
 * offers to skip: each skipped step is a command (and its macros) fewer
 * for libmilter to read, several system calls each. Recipients matter
 * only for return-path and SRS addresses (and SRS's and ARC's test for
 * forwarding) and for accepted-message records ([events]); HELO only for
 * SPF, which verification alone checks. The configuration at connect
 * decides for the connection's lifetime, so a reload that needs them
 * reaches new SMTP sessions. */
static unsigned long ps_cb_skippable(void)
{
    ps_snap *s = ps_snap_acquire();
    unsigned long skip = 0;

    if (s != NULL && s->rp_secrets == NULL && s->srs_secrets == NULL &&
        s->conf->events.dir.value == NULL &&
        s->conf->milter.arc_seal != PS_CONF_ARC_SEAL_FORWARDED)
        skip |= SMFIP_NORCPT;
    if (s != NULL && !(s->mode & PS_MODE_VERIFY))
        skip |= SMFIP_NOHELO;
    ps_snap_release(s);
    return skip;
}

/* Header values byte for byte (SMFIP_HDR_LEADSPC keeps the space after
 * the colon), and only the steps and actions used. */
static sfsistat ps_cb_negotiate(SMFICTX *ctx, unsigned long f0,
                                unsigned long f1, unsigned long f2,
                                unsigned long f3, unsigned long *pf0,
                                unsigned long *pf1, unsigned long *pf2,
                                unsigned long *pf3)
{
    (void)f2;
    (void)f3;
    if ((f0 & PS_CB_ACTIONS) != PS_CB_ACTIONS || !(f1 & SMFIP_HDR_LEADSPC)) {
        ps_log_kv(ps_milter_log(), LOG_ERR, "error", "stage", "negotiate",
                  "reason",
                  "the MTA cannot add/change headers or keep "
                  "their leading space (milter_protocol = 6)",
                  NULL);
        return SMFIS_REJECT;
    }
    *pf0 = PS_CB_ACTIONS | (f0 & (PS_CB_ENVELOPE | SMFIF_QUARANTINE));
    /* The queue id at RCPT, whatever milter_rcpt_macros says (Postfix has
     * one from the second recipient on): RCPT lines then join the
     * message's others by qid, not only by session. These are all the
     * macros read at RCPT. */
    if ((f0 & SMFIF_SETSYMLIST) &&
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, (char *)"i {rcpt_mailer}") ==
            MI_SUCCESS)
        *pf0 |= SMFIF_SETSYMLIST;
    *pf1 = SMFIP_HDR_LEADSPC |
           (f1 & (PS_CB_SKIP | PS_CB_NOREPLY | ps_cb_skippable()));
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static struct smfiDesc ps_cb_desc = {
    .xxfi_name = PS_MILTER_NAME,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = PS_CB_ACTIONS | PS_CB_ENVELOPE | SMFIF_QUARANTINE,
    .xxfi_connect = ps_cb_connect,
    .xxfi_helo = ps_cb_helo,
    .xxfi_envfrom = ps_cb_envfrom,
    .xxfi_envrcpt = ps_cb_envrcpt,
    .xxfi_data = ps_cb_data,
    .xxfi_header = ps_cb_header,
    .xxfi_eoh = ps_cb_eoh,
    .xxfi_body = ps_cb_body,
    .xxfi_eom = ps_cb_eom,
    .xxfi_abort = ps_cb_abort,
    .xxfi_close = ps_cb_close,
    .xxfi_negotiate = ps_cb_negotiate,
};

struct smfiDesc *ps_callbacks(void)
{
    return &ps_cb_desc;
}
