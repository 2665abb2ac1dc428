/* The libmilter side of signing: the kept header fields go to the core
 * signer at end of headers, the body as it streams, and at end of message
 * one DKIM-Signature field per key is added on top of the message. */
#include <stdlib.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "milter.h"

int ps_sign_start(ps_session *c, ps_err *err)
{
    ps_msg *m = &c->msg;

    m->signer = ps_dkim_sign_new(&c->snap->params, m->match.signers,
                                 m->match.count, time(NULL), err);
    if (m->signer == NULL)
        return -1;
    for (size_t i = 0; i < m->nhdrs; i++)
        if (!m->hdrs[i].forged &&
            ps_dkim_sign_header(m->signer, m->hdrs[i].name, m->hdrs[i].value,
                                err) != 0)
            return -1;
    return 0;
}

int ps_sign_body(ps_session *c, const unsigned char *data, size_t n,
                 ps_err *err)
{
    return ps_dkim_sign_body(c->msg.signer, data, n, err);
}

static void ps_sign_free_values(char **values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(values[i]);
    free(values);
}

int ps_sign_finish(void *ctx, ps_session *c, ps_err *err)
{
    char **values = NULL, *v;
    size_t count = 0;
    int rc = 0;

    if (ps_dkim_sign_final(c->msg.signer, &values, &count, err) != 0)
        return -1;
    /* Each insert goes on top: the last first, so the fields read in
     * signer order. */
    for (size_t i = count; i-- > 0 && rc == 0;) {
        if ((v = ps_milter_lf(values[i])) == NULL)
            rc = ps_err_set(err, "out of memory");
        else if (smfi_insheader(ctx, 0, "DKIM-Signature", v) != MI_SUCCESS)
            rc = ps_err_set(err, "the MTA refused the DKIM-Signature field");
        free(v);
    }
    /* A second pass (content_filter re-injection) is not to sign again. */
    if (rc == 0 && count > 0)
        rc = ps_trace_add(ctx, PS_TRACE_SIGNED, values[0], err);
    ps_sign_free_values(values, count);
    return rc;
}
