/* Postal: an RSA signature of the body with the server's key, base64 in
 * X-Postal-Signature-256 (SHA-256) or, from older servers, in
 * X-Postal-Signature (SHA-1); the stronger one is used when both came. */
#include "webhook/webhook_int.h"

#define POSTAL_SIG256 "X-Postal-Signature-256"
#define POSTAL_SIG1   "X-Postal-Signature"

static ps_wh_verdict postal_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                                  ps_wh_result *res)
{
    ps_wh_pk_state *st = req->state;
    const char *sig;
    size_t n;
    ps_wh_verdict v;

    st->ts = -1;
    if (ps_wh_hdr_get(h, POSTAL_SIG256, &sig, &n) != 0) {
        if ((v = ps_wh_hdr_need(h, POSTAL_SIG256, &sig, &n, res)) != PS_WH_MORE)
            return v;
        return ps_wh_pk_start(req, "SHA256", POSTAL_SIG256, sig, n, res);
    }
    if ((v = ps_wh_hdr_need(h, POSTAL_SIG1, &sig, &n, res)) != PS_WH_MORE)
        return v;
    return ps_wh_pk_start(req, "SHA1", POSTAL_SIG1, sig, n, res);
}

static int postal_sign(const ps_wh_config *cfg, const void *priv,
                       const char *id, int64_t ts, const uint8_t *body,
                       size_t len, char *out, size_t outsize, ps_err *err)
{
    char sig1[1500], sig256[1500];

    (void)cfg, (void)id, (void)ts;
    if (ps_wh_pk_sign_b64(priv, "SHA1", "", 0, body, len, sig1, sizeof(sig1),
                          err) < 0 ||
        ps_wh_pk_sign_b64(priv, "SHA256", "", 0, body, len, sig256,
                          sizeof(sig256), err) < 0)
        return -1;
    return ps_wh_out(out, outsize, err,
                     POSTAL_SIG1 ": %s\n" POSTAL_SIG256 ": %s\n", sig1, sig256);
}

const ps_wh_ops ps_wh_postal_ops = {
    .name = "postal",
    .uses = PS_WH_USES_KEY,
    .state_size = sizeof(ps_wh_pk_state),
    .begin = postal_begin,
    .update = ps_wh_pk_update,
    .final = ps_wh_pk_final,
    .cleanup = ps_wh_pk_cleanup,
    .body_id = "uuid",
    .sign = postal_sign,
};
