/* Authentication-Results on inbound mail: fields that claim our
 * authserv-id are forgeries from outside and are deleted (RFC 8601
 * section 5); ours is added with one dkim result per signature checked,
 * the SPF verdict for the client and envelope sender, and DMARC's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmilter/mfapi.h>

#include "milter.h"

#define PS_ARHDR_NAME "Authentication-Results"

void ps_arhdr_mark_forged(ps_session *c)
{
    ps_msg *m = &c->msg;

    for (size_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(m->hdrs[i].name, PS_ARHDR_NAME) == 0 &&
            ps_authres_is_ours(m->hdrs[i].value, strlen(m->hdrs[i].value),
                               c->snap->authserv_id))
            m->hdrs[i].forged = 1;
}

/* Last first, so no deletion can move a field still to be deleted. */
int ps_arhdr_remove_forged(void *ctx, ps_session *c)
{
    ps_msg *m = &c->msg;
    char count[16], traces[16];
    int n = 0, t = 0;

    for (size_t i = m->nhdrs; i-- > 0;) {
        if (!m->hdrs[i].forged)
            continue;
        if (smfi_chgheader(ctx, m->hdrs[i].name, m->hdrs[i].index, NULL) !=
            MI_SUCCESS)
            return -1;
        if (strcasecmp(m->hdrs[i].name, PS_ARHDR_NAME) == 0)
            n++;
        else
            t++;
    }
    snprintf(count, sizeof(count), "%d", n);
    snprintf(traces, sizeof(traces), "%d", t);
    ps_mm_add(PS_MM_AUTHRES_REMOVED, 0, (uint64_t)n);
    if (n > 0 || t > 0)
        ps_log_kv(ps_milter_log(), LOG_NOTICE, "authres-removed", "qid", m->qid,
                  "count", count, "trace_fields", t > 0 ? traces : NULL,
                  "client", c->addr, "session", c->sid, NULL);
    return 0;
}

/* "a@b" from "<a@b>", "" for the null sender. */
static void ps_arhdr_mailfrom(const ps_msg *m, char *buf, size_t size)
{
    ps_mailbox env;
    ps_err why;

    buf[0] = '\0';
    if (ps_mailbox_parse_envelope(m->envfrom != NULL ? m->envfrom : "", &env,
                                  &why) != 0 ||
        (env.local[0] == '\0' && env.domain[0] == '\0'))
        return;
    snprintf(buf, size, "%s%s%s", env.local, env.domain[0] ? "@" : "",
             env.domain);
}

/* "pass:example.org,fail:example.net" for the log line. */
static void ps_arhdr_summary(const ps_authres_result *res, size_t n, char *buf,
                             size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++) {
        const char *d = res[i].nprops > 0 ? res[i].props[0].value : NULL;
        int w =
            snprintf(buf + len, size - len, "%s%s%s%s", i ? "," : "",
                     res[i].result, d != NULL ? ":" : "", d != NULL ? d : "");
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static void ps_arhdr_spf(ps_authres_result *r, const ps_spf_result *spf)
{
    memset(r, 0, sizeof(*r));
    r->method = "spf";
    r->result = spf->result;
    if (spf->value[0] != '\0') {
        r->props[0].name = spf->property;
        r->props[0].value = spf->value;
        r->nprops = 1;
    }
}

static int ps_arhdr_insert(void *ctx, ps_session *c,
                           const ps_authres_result *res, size_t n, ps_err *err)
{
    char *value = NULL, *lf = NULL;
    int rc = -1;

    if (ps_authres_format(c->snap->authserv_id, res, n, &value, err) != 0)
        return -1;
    if ((lf = ps_milter_lf(value)) == NULL)
        ps_err_set(err, "out of memory");
    else if (smfi_insheader(ctx, 0, PS_ARHDR_NAME, lf) != MI_SUCCESS)
        ps_err_set(err, "the MTA refused the Authentication-Results field");
    else
        rc = ps_trace_add(ctx, PS_TRACE_INBOUND, value, err);
    free(c->msg.authres); /* kept for an ARC set's AAR */
    c->msg.authres = value;
    free(lf);
    return rc;
}

/* Every signature max_verify allows, plus spf, dmarc and arc, fits one field:
 * a message with many signatures is never tempfailed for its count. */
_Static_assert(PS_MILTER_MAX_VERIFY + 4 <= PS_AUTHRES_MAX_RESULTS,
               "an Authentication-Results field holds every result");

int ps_arhdr_add(void *ctx, ps_session *c, ps_err *err)
{
    ps_authres_result res[PS_MILTER_MAX_VERIFY + 4], arc;
    char mailfrom[sizeof(((ps_spf_result *)0)->value)], dkim[256];
    ps_spf_result spf;
    size_t n = 0;

    if (ps_verify_final(c->msg.verify, res, PS_MILTER_MAX_VERIFY + 1, &n,
                        err) != 0)
        return -1;
    ps_arhdr_summary(res, n, dkim, sizeof(dkim));
    ps_arhdr_mailfrom(&c->msg, mailfrom, sizeof(mailfrom));
    ps_spf_check(c->snap, c->addr[0] ? c->addr : NULL, c->helo, mailfrom, &spf);
    ps_arhdr_spf(&res[n++], &spf);
    int has_arc = ps_arc_check(c, &arc); /* DMARC reads its verdict */

    n += (size_t)ps_dmarc_check(c, res, n, &spf, &res[n]);
    if (has_arc)
        res[n++] = arc;
    if (ps_arhdr_insert(ctx, c, res, n, err) != 0)
        return -1;
    ps_mm_authres(res, n);
    ps_log_kv(ps_milter_log(), LOG_INFO, "verify", "qid", c->msg.qid, "dkim",
              dkim, "spf", spf.result, spf.property, spf.value, "client",
              c->addr, "session", c->sid, NULL);
    return 0;
}
