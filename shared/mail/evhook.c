/* Delivery events as signed webhooks: loads an endpoint's secret or key,
 * formats an event as its body (mail/events.h) and signs it with the
 * core's webhook signer for the endpoint's format. */
#include "mail/evhook.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "base/secfile.h"
#include "crypto/pem_int.h"
#include "mail/events.h"
#include "webhook/webhook.h"

struct ps_evhook {
    int format;        /* ps_conf_wh_format */
    ps_wh_config *cfg; /* its scheme; standard: holds the secret */
    EVP_PKEY *priv;    /* postal: the signing key */
};

static int evhook_load_key(ps_evhook *h, const char *path, ps_err *err)
{
    char *pem;
    size_t len;
    int rc;

    if (ps_secfile_read(path, &pem, &len, err) < 0)
        return -1;
    rc = ps_key_pem_decode(pem, len, path, &h->priv, err);
    ps_secfile_free(pem, len);
    if (rc < 0)
        return -1;
    if (EVP_PKEY_get_base_id(h->priv) != EVP_PKEY_RSA)
        return ps_err_set(err, "%s: Postal signs with an RSA key", path);
    return 0;
}

int ps_evhook_new(const ps_conf_endpoint *ep, ps_evhook **out, ps_err *err)
{
    ps_evhook *h = calloc(1, sizeof(*h));
    int postal = ep->format == PS_CONF_WH_POSTAL;
    int rc;

    *out = NULL;
    if (h == NULL)
        return ps_err_set(err, "out of memory");
    h->format = ep->format;
    h->cfg = ps_wh_config_new(postal ? PS_WH_POSTAL : PS_WH_STANDARD, err);
    if (h->cfg == NULL)
        rc = -1;
    else if (postal)
        rc = ep->key.value == NULL
                 ? ps_err_set(err, "endpoint %s: no key", ep->name)
                 : evhook_load_key(h, ep->key.value, err);
    else
        rc = ep->secret.value == NULL
                 ? ps_err_set(err, "endpoint %s: no secret", ep->name)
                 : ps_wh_config_add_secret_file(h->cfg, ep->secret.value, err);
    if (rc < 0) {
        ps_evhook_free(h);
        return -1;
    }
    *out = h;
    return 0;
}

int ps_evhook_make(const ps_evhook *h, const ps_event *ev, int64_t now,
                   char *body, size_t bcap, size_t *blen, char *hdrs,
                   size_t hcap, ps_err *err)
{
    int n = h->format == PS_CONF_WH_POSTAL
                ? ps_events_format_postal(ev, body, bcap, err)
                : ps_events_format_event(ev, body, bcap, err);

    if (n < 0)
        return -1;
    *blen = (size_t)n;
    return ps_webhook_sign(h->cfg, h->priv, ev->id, now, body, *blen, hdrs,
                           hcap, err) < 0
               ? -1
               : 0;
}

void ps_evhook_free(ps_evhook *h)
{
    if (h == NULL)
        return;
    ps_wh_config_free(h->cfg);
    EVP_PKEY_free(h->priv);
    free(h);
}
