/* The ARC-Seal signature (RFC 8617 4.1.3, 5.1.1): the ARC header fields
 * it covers, relaxed, then the seal with an empty b=, signed by the same
 * text, canonicalisation and signing step as DKIM-Signature. */
#include "dkim/dkim_int.h"

#include <string.h>

static int cv_ok(const char *cv)
{
    return cv != NULL && (strcmp(cv, "none") == 0 || strcmp(cv, "pass") == 0 ||
                          strcmp(cv, "fail") == 0);
}

int ps_dkim_seal(const ps_dkim_signer *signer, time_t now, unsigned instance,
                 const char *cv, const ps_dkim_field *fields, size_t nfields,
                 char **value, ps_err *err)
{
    ps_dkim_buf hd = {.max = PS_DKIM_MAX_HEADER_BYTES};
    ps_dkim_sigtext_in in = {.field = "ARC-Seal",
                             .instance = instance,
                             .cv = cv,
                             .hcanon = PS_CANON_RELAXED,
                             .x = -1,
                             .t = (long long)now};
    int rc;

    *value = NULL;
    if (ps_dkim_check_signers(signer, 1, err) < 0)
        return -1;
    if (instance < 1 || instance > PS_DKIM_ARC_MAX_INSTANCE)
        return ps_err_set(err, "ARC instance %u is not 1 to %d", instance,
                          PS_DKIM_ARC_MAX_INSTANCE);
    if (!cv_ok(cv))
        return ps_err_set(err, "ARC cv= must be none, pass or fail");
    if (now < 0 || (long long)now > PS_DKIM_MAX_TIME)
        return ps_err_set(err, "ARC sealing time %lld is out of range",
                          (long long)now);
    for (size_t i = 0; i < nfields; i++)
        if (ps_dkim_canon_header(PS_CANON_RELAXED, fields[i].name,
                                 strlen(fields[i].name), fields[i].value,
                                 strlen(fields[i].value), &hd) < 0) {
            ps_dkim_buf_free(&hd);
            return ps_err_set(err, "ARC sealing: the ARC sets exceed %d bytes",
                              PS_DKIM_MAX_HEADER_BYTES);
        }
    in.algorithm = ps_key_algorithm(signer->key);
    in.domain = signer->domain;
    in.selector = signer->selector;
    rc = ps_dkim_sig_make(&in, signer->key, hd.data != NULL ? hd.data : "",
                          hd.len, value, err);
    ps_dkim_buf_free(&hd);
    return rc;
}
