/* ARC sealing in the milter (RFC 8617): mail this host passes on (the
 * SRS path's forwarded mail, or all of it) gets an ARC set made with the
 * [milter] arc_seal_key, its AAR our own Authentication-Results. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "arc/arc.h"
#include "milter.h"

int ps_arcseal_snap_init(ps_snap *s, ps_err *err)
{
    const ps_conf_str *name = &s->conf->milter.arc_seal_key;
    const ps_conf_key *k;
    const char *kname, *kfile;
    const ps_key *key;

    memset(&s->arc_signer, 0, sizeof(s->arc_signer));
    if (s->conf->milter.arc_seal == PS_CONF_ARC_SEAL_NO || name->value == NULL)
        return 0;
    if ((k = ps_conf_find_key(s->conf, name->value)) == NULL)
        return ps_err_set(err, "%s:%d: arc_seal_key '%s' is not in [keys]",
                          s->conf->path, name->line, name->value);
    for (size_t i = 0;
         ps_signrules_key_info(s->rules, i, &kname, &kfile, &key) == 0; i++)
        if (strcmp(kname, k->name) == 0) {
            s->arc_signer = (ps_dkim_signer){key, k->domain, k->selector};
            return 0;
        }
    return ps_err_set(err, "%s:%d: arc_seal_key '%s' was not loaded",
                      s->conf->path, name->line, name->value);
}

static int ps_arcseal_wanted(const ps_session *c)
{
    switch (c->snap->conf->milter.arc_seal) {
    case PS_CONF_ARC_SEAL_ALWAYS:
        return 1;
    case PS_CONF_ARC_SEAL_FORWARDED:
        return ps_fwd_forwarded(c);
    default:
        return 0;
    }
}

static void ps_arcseal_drop(ps_session *c, const char *why)
{
    ps_log_kv(ps_milter_log(), LOG_WARNING, "arc-seal", "qid", c->msg.qid,
              "verdict", "not-sealed", "reason", why, "session", c->sid, NULL);
    ps_arc_seal_free(c->msg.sealer);
    c->msg.sealer = NULL;
}

void ps_arcseal_start(ps_session *c)
{
    ps_msg *m = &c->msg;
    ps_err err = {""};

    if (c->snap->arc_signer.key == NULL || m->trace != PS_TRACE_NONE ||
        !ps_arcseal_wanted(c))
        return;
    if (m->overflow) {
        ps_arcseal_drop(c, "more header fields than kept");
        return;
    }
    m->sealer = ps_arc_seal_new(&c->snap->params, &c->snap->arc_signer,
                                time(NULL), &err);
    for (size_t i = 0; m->sealer != NULL && i < m->nhdrs; i++)
        if (!m->hdrs[i].forged &&
            ps_arc_seal_header(m->sealer, m->hdrs[i].name, m->hdrs[i].value,
                               &err) != 0)
            break;
    if (err.msg[0] != '\0')
        ps_arcseal_drop(c, err.msg);
}

void ps_arcseal_body(ps_session *c, const unsigned char *data, size_t n)
{
    ps_err err = {""};

    if (c->msg.sealer != NULL &&
        ps_arc_seal_body(c->msg.sealer, data, n, &err) != 0)
        ps_arcseal_drop(c, err.msg);
}

/* The chain as this milter validated it (verify mode, arc = yes); a
 * chain not validated here (sign-only mode, or arc = no) is not vouched
 * for: present, it is sealed as failed, which ends it rather than passing
 * it on unchecked. A key that could not be looked up counts as a failure
 * (RFC 8617 5.2: the chain did not validate). */
static ps_arc_seal_cv ps_arcseal_cv(const ps_session *c)
{
    const ps_msg *m = &c->msg;
    ps_arc_part part;

    switch (ps_arc_chain_result(c)) {
    case PS_ARC_RESULT_NONE:
        return PS_ARC_SEAL_CV_NONE;
    case PS_ARC_RESULT_PASS:
        return PS_ARC_SEAL_CV_PASS;
    case PS_ARC_RESULT_FAIL:
    case PS_ARC_RESULT_TEMPERROR:
        return PS_ARC_SEAL_CV_FAIL;
    default:
        break;
    }
    for (size_t i = 0; i < m->nhdrs; i++)
        if (ps_arc_field_kind(m->hdrs[i].name, strlen(m->hdrs[i].name), &part))
            return PS_ARC_SEAL_CV_FAIL;
    return PS_ARC_SEAL_CV_NONE;
}

/* Inserted at the top one by one: AAR first, so they read AS, AMS, AAR. */
static int ps_arcseal_insert(void *ctx, const ps_arc_seal_out *o)
{
    const char *names[3] = {"ARC-Authentication-Results",
                            "ARC-Message-Signature", "ARC-Seal"};
    const char *values[3] = {o->aar, o->ams, o->as};

    for (int i = 0; i < 3; i++) {
        char *v = ps_milter_lf(values[i]);
        int rc = v != NULL &&
                 smfi_insheader(ctx, 0, (char *)names[i], v) == MI_SUCCESS;
        free(v);
        if (!rc)
            return -1;
    }
    return 0;
}

void ps_arcseal_finish(void *ctx, ps_session *c)
{
    ps_msg *m = &c->msg;
    ps_arc_seal_out out = {0};
    ps_err err = {""};
    char *none = NULL, inst[16];
    const char *ar = m->authres;
    ps_arc_seal_cv cv = ps_arcseal_cv(c);

    if (m->sealer == NULL)
        return;
    if (ar == NULL &&
        ps_authres_format(c->snap->authserv_id, NULL, 0, &none, &err) == 0)
        ar = none;
    if (ar == NULL || ps_arc_seal_final(m->sealer, cv, ar, &out, &err) != 0)
        ps_arcseal_drop(c, err.msg);
    else if (out.outcome != PS_ARC_SEAL_SEALED)
        ps_arcseal_drop(c, out.outcome == PS_ARC_SEAL_AT_LIMIT
                               ? "chain-at-instance-50"
                               : "latest-seal-failed");
    else if (ps_arcseal_insert(ctx, &out) != 0)
        ps_arcseal_drop(c, "the MTA refused an ARC field");
    else {
        snprintf(inst, sizeof(inst), "%u", out.instance);
        ps_log_kv(ps_milter_log(), LOG_INFO, "arc-seal", "qid", m->qid,
                  "verdict", "sealed", "instance", inst, "cv",
                  ps_arc_seal_cv_name(cv), "session", c->sid, NULL);
    }
    ps_arc_seal_out_free(&out);
    free(none);
}
