/* Bounces to the return-path domain: a recipient there is accepted at RCPT
 * only with a valid, unexpired token (shared/retpath.c); anything else gets
 * a 550 saying why, so forged bounces (backscatter) never get in. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "milter.h"
#include "retpath.h"

int ps_rp_load(ps_snap *s, ps_err *err)
{
    const ps_conf_str *file = &s->conf->return_path.secret_file;
    ps_err why = {""};

    if (s->conf->return_path.domain.value == NULL || file->value == NULL)
        return 0;
    if (ps_secrets_load(file->value, &s->rp_secrets, &why) != 0)
        return ps_err_set(err, "%s:%d: secret_file: %s", s->conf->path,
                          file->line, why.msg);
    return 0;
}

void ps_rp_free(ps_snap *s)
{
    ps_secrets_free(s->rp_secrets);
    s->rp_secrets = NULL;
}

int ps_rp_rcpt(void *ctx, ps_conn *c, const char *arg)
{
    const char *domain = c->snap->conf->return_path.domain.value;
    ps_mailbox mb;
    ps_err err = {""};
    char addr[PS_MAILBOX_LOCAL_MAX + PS_MAILBOX_DOMAIN_MAX + 2];
    ps_retpath_token tok;

    if (domain == NULL || c->snap->rp_secrets == NULL ||
        ps_mailbox_parse_envelope(arg, &mb, &err) != 0 ||
        strcasecmp(mb.domain, domain) != 0)
        return 0;
    snprintf(addr, sizeof(addr), "%s@%s", mb.local, mb.domain);
    ps_retpath_cfg cfg = {c->snap->rp_secrets, domain, 0};
    if (ps_retpath_decode(&cfg, addr, time(NULL), &tok, &err) == 0) {
        ps_log_kv(ps_milter_log(), LOG_INFO, "bounce-rcpt", "qid", c->msg.qid,
                  "verdict", "accept", "ref", tok.ref, NULL);
        return 0;
    }
    ps_log_kv(ps_milter_log(), LOG_INFO, "bounce-rcpt", "qid", c->msg.qid,
              "verdict", "reject", "reason", err.msg, NULL);
    smfi_setreply(ctx, "550", "5.7.1", err.msg);
    return 1;
}
