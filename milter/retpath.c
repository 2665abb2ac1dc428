/* Return paths in the milter: outbound mail from a rewrite domain leaves
 * with a signed, expiring bounce address as its envelope sender, and a
 * recipient on the bounce domain is accepted at RCPT only with a valid,
 * unexpired token (shared/mail/retpath.c); anything else gets a 550 saying why,
 * so forged bounces (backscatter) never get in. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "base/encode.h"
#include "milter.h"
#include "mail/retpath.h"
#include "crypto/secrets.h"
#include "mail/sent.h"

#define PS_RP_SENT_DIR_MAX 4096

/* A secret file is loaded only when its domain is set too: either alone
 * has nothing to do in the milter. */
static int ps_rp_secrets(const ps_snap *s, const ps_conf_str *domain,
                         const ps_conf_str *file, const char *key,
                         ps_secrets **out, ps_err *err)
{
    ps_err why = {""};

    if (domain->value == NULL || file->value == NULL)
        return 0;
    if (ps_secrets_load(file->value, out, &why) != 0)
        return ps_err_set(err, "%s:%d: %s: %s", s->conf->path, file->line, key,
                          why.msg);
    return 0;
}

int ps_rp_load(ps_snap *s, ps_err *err)
{
    const ps_conf *c = s->conf;

    if (ps_rp_secrets(s, &c->return_path.domain, &c->return_path.secret_file,
                      "secret_file", &s->rp_secrets, err) != 0)
        return -1;
    return ps_rp_secrets(s, &c->return_path.srs_domain,
                         &c->return_path.srs_secret_file, "srs_secret_file",
                         &s->srs_secrets, err);
}

void ps_rp_free(ps_snap *s)
{
    ps_secrets_free(s->rp_secrets);
    ps_secrets_free(s->srs_secrets);
    s->rp_secrets = NULL;
    s->srs_secrets = NULL;
}

const char *ps_rp_bounce_domain_for(const ps_snap *s, const char *domain)
{
    const ps_conf_list *rw = &s->conf->return_path.rewrite;
    const char *best = NULL, *bounce;
    char pattern[PS_CONF_PATTERN_MAX];
    int best_rank = 0, rank;

    /* Exact beats *.domain, the longer wildcard the shorter, as in
     * [signing]. */
    for (size_t i = 0; i < rw->n; i++) {
        if (ps_conf_rewrite_item(rw->items[i], pattern, sizeof(pattern),
                                 &bounce) != 0 ||
            (rank = ps_signrules_pattern_rank(pattern, domain)) <= best_rank)
            continue;
        best_rank = rank;
        best = bounce != NULL ? bounce : s->conf->return_path.domain.value;
    }
    return best;
}

int ps_rp_is_bounce_domain(const ps_snap *s, const char *domain)
{
    const ps_conf_list *rw = &s->conf->return_path.rewrite;
    const char *def = s->conf->return_path.domain.value, *bounce;
    char pattern[PS_CONF_PATTERN_MAX];

    if (def != NULL && strcasecmp(def, domain) == 0)
        return 1;
    for (size_t i = 0; i < rw->n; i++)
        if (ps_conf_rewrite_item(rw->items[i], pattern, sizeof(pattern),
                                 &bounce) == 0 &&
            bounce != NULL && strcasecmp(bounce, domain) == 0)
            return 1;
    return 0;
}

int ps_rp_rcpt(void *ctx, ps_session *c, const char *arg)
{
    ps_mailbox mb;
    ps_err err = {""};
    char addr[PS_MAILBOX_LOCAL_MAX + PS_MAILBOX_DOMAIN_MAX + 2];
    ps_retpath_token tok;

    if (c->snap->rp_secrets == NULL ||
        ps_mailbox_parse_envelope(arg, &mb, &err) != 0 ||
        !ps_rp_is_bounce_domain(c->snap, mb.domain))
        return 0;
    snprintf(addr, sizeof(addr), "%s@%s", mb.local, mb.domain);
    ps_retpath_cfg cfg = {c->snap->rp_secrets, mb.domain,
                          (unsigned)c->snap->conf->return_path.max_age};
    if (ps_retpath_decode(&cfg, addr, time(NULL), &tok, &err) == 0) {
        ps_log_kv(ps_milter_log(), LOG_INFO, "bounce-rcpt", "qid", c->msg.qid,
                  "verdict", "accept", "ref", tok.ref, "client", c->addr,
                  "session", c->sid, NULL);
        if (c->msg.bounce_ref[0] == '\0') {
            snprintf(c->msg.bounce_ref, sizeof(c->msg.bounce_ref), "%s",
                     tok.ref);
            c->msg.bounce_issued = tok.issued;
        }
        return 0;
    }
    ps_log_kv(ps_milter_log(), LOG_INFO, "bounce-rcpt", "qid", c->msg.qid,
              "verdict", "reject", "reason", err.msg, "client", c->addr,
              "session", c->sid, NULL);
    smfi_setreply(ctx, "550", "5.7.1", err.msg);
    ps_mm_inc(PS_MM_BOUNCES, PS_MM_BOUNCE_REFUSED);
    return 1;
}

int ps_rp_sent_dir(const ps_snap *s, char *out, size_t cap, ps_err *err)
{
    const char *events = s->conf->return_path.events.value;

    if (events == NULL)
        return 0;
    return ps_sent_dir(events, out, cap, err) == 0 ? 1 : -1;
}

static int ps_rp_sent_append(ps_msg *m, const char *line, ps_err *err)
{
    size_t n = strlen(line);
    char *p;

    if (m->sent_cap - m->sent_len < n) {
        size_t cap = m->sent_cap ? 2 * m->sent_cap : 16 * PS_SENT_LINE;
        if ((p = realloc(m->sent, cap)) == NULL)
            return ps_err_set(err, "out of memory");
        m->sent = p;
        m->sent_cap = cap;
    }
    memcpy(m->sent + m->sent_len, line, n);
    m->sent_len += n;
    return 0;
}

int ps_rp_note_rcpt(ps_session *c, const char *arg, ps_err *err)
{
    ps_mailbox mb;
    ps_err why = {""};
    char addr[PS_MAILBOX_LOCAL_MAX + PS_MAILBOX_DOMAIN_MAX + 2];
    char line[PS_SENT_LINE];

    if (c->snap->rp_secrets == NULL ||
        c->snap->conf->return_path.events.value == NULL ||
        !ps_signpolicy_outbound(c, &c->msg) ||
        ps_mailbox_parse_envelope(arg, &mb, &why) != 0 || mb.domain[0] == '\0')
        return 0;
    snprintf(addr, sizeof(addr), "%s@%s", mb.local, mb.domain);
    if (ps_sent_line(c->snap->rp_secrets, 0, addr, line, err) != 0)
        return -1;
    return ps_rp_sent_append(&c->msg, line, err);
}

/* Before the return path is given: the message's recipients, so that a
 * bounce to it is recorded for them only. */
static int ps_rp_keep_rcpts(const ps_session *c, const char *ref, time_t now,
                            ps_err *err)
{
    char dir[PS_RP_SENT_DIR_MAX];
    int rc = ps_rp_sent_dir(c->snap, dir, sizeof(dir), err);

    if (rc <= 0)
        return rc;
    return ps_sent_record(
        dir, now, (unsigned)c->snap->conf->return_path.max_age, ref,
        c->msg.sent != NULL ? c->msg.sent : "", c->msg.sent_len, err);
}

/* The queue id is the reference a bounce is tied back to; an MTA that
 * gives none gets a random one, still unique enough to find in the log. */
static void ps_rp_ref(const ps_msg *m, char ref[PS_RETPATH_REF_MAX + 1])
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strspn(m->qid, alnum);
    uint8_t raw[10];

    if (n > 0 && n <= PS_RETPATH_REF_MAX && m->qid[n] == '\0') {
        memcpy(ref, m->qid, n + 1);
        return;
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        memset(raw, 0, sizeof(raw));
    ref[ps_b32_encode(raw, sizeof(raw), ref)] = '\0';
}

/* The bounce domain for this message's return path, or NULL when its
 * sender is not one to rewrite. */
static const char *ps_rp_wanted(const ps_session *c, ps_mailbox *sender)
{
    ps_err why = {""};

    if (c->snap->rp_secrets == NULL || !ps_signpolicy_outbound(c, &c->msg) ||
        ps_mailbox_parse_envelope(c->msg.envfrom, sender, &why) != 0 ||
        sender->domain[0] == '\0')
        return NULL;
    return ps_rp_bounce_domain_for(c->snap, sender->domain);
}

int ps_rp_rewrite(void *ctx, ps_session *c, ps_err *err)
{
    const char *domain;
    ps_mailbox sender;
    char ref[PS_RETPATH_REF_MAX + 1], addr[PS_RETPATH_ADDR_MAX];
    char arg[PS_RETPATH_ADDR_MAX + 2];
    time_t now = time(NULL);

    if ((domain = ps_rp_wanted(c, &sender)) == NULL)
        return 0;
    ps_rp_ref(&c->msg, ref);
    ps_retpath_cfg cfg = {c->snap->rp_secrets, domain, 0};
    if (ps_retpath_encode(&cfg, ref, now, addr, sizeof(addr), err) != 0 ||
        ps_rp_keep_rcpts(c, ref, now, err) != 0)
        return -1;
    snprintf(arg, sizeof(arg), "<%s>", addr);
    if (smfi_chgfrom(ctx, arg, NULL) != MI_SUCCESS)
        return ps_err_set(err, "the MTA refused to change the sender "
                               "(milter_protocol 6 and Postfix 2.6 or later "
                               "needed)");
    ps_log_kv(ps_milter_log(), LOG_INFO, "return-path", "qid", c->msg.qid,
              "sender_domain", sender.domain, "ref", ref, "to", addr, "session",
              c->sid, NULL);
    return 1;
}
