/* A delivery event as the webhook an [endpoint] receives: the body in the
 * endpoint's format and the headers that sign it, made by the core's
 * webhook signers (the ones `postseal webhook sign` uses), so `postseal
 * webhook verify` and the nginx module verify what postseal sends. */
#ifndef PS_EVHOOK_H
#define PS_EVHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "conf/conf.h"
#include "mail/evspool.h"

#define PS_EVHOOK_HEADERS_MAX 4096 /* signature headers of one request */

/* An endpoint's signing material, loaded once: the whsec_ secret file
 * (format standard) or the RSA private key (format postal). */
typedef struct ps_evhook ps_evhook;

int ps_evhook_new(const ps_conf_endpoint *ep, ps_evhook **out, ps_err *err);
/* The body of ev for this endpoint into body (NUL-terminated, length in
 * *blen), and its signature headers, "Name: value\n" lines, into hdrs.
 * Standard Webhooks: webhook-id is the event's id, so every retry of one
 * event carries the same id; webhook-timestamp is now. */
int ps_evhook_make(const ps_evhook *h, const ps_event *ev, int64_t now,
                   char *body, size_t bcap, size_t *blen, char *hdrs,
                   size_t hcap, ps_err *err);
/* Wipes the secrets, then frees. NULL is fine. */
void ps_evhook_free(ps_evhook *h);

#endif
