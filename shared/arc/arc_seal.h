/* ARC sealing (RFC 8617 5.1): a message gets instance N = the highest
 * instance it carries + 1, as ARC-Authentication-Results (what this host
 * found), ARC-Message-Signature (a DKIM signature by the core signer) and
 * ARC-Seal over the chain, with the chain result the caller gives. */
#ifndef PS_ARC_SEAL_H
#define PS_ARC_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "dkim/dkim.h"

/* The chain result this host found (RFC 8617 4.4, cv=). */
typedef enum ps_arc_seal_cv {
    PS_ARC_SEAL_CV_NONE, /* no chain: only for instance 1 */
    PS_ARC_SEAL_CV_PASS,
    PS_ARC_SEAL_CV_FAIL
} ps_arc_seal_cv;

/* What ps_arc_seal_final did. */
typedef enum ps_arc_seal_outcome {
    PS_ARC_SEAL_SEALED,
    PS_ARC_SEAL_AT_LIMIT, /* instance 50 (or an i= past it) is there */
    PS_ARC_SEAL_FAILED    /* the latest seal says cv=fail: no set after it
                           * (RFC 8617 5.1.2) */
} ps_arc_seal_outcome;

/* The three field values (after "Name:", leading space included, folded
 * with CRLF+TAB), malloc'd; to be added on top of the message in the
 * order AS, AMS, AAR from the top. */
typedef struct ps_arc_seal_out {
    ps_arc_seal_outcome outcome;
    unsigned instance;
    char *aar, *ams, *as;
} ps_arc_seal_out;

typedef struct ps_arc_sealer ps_arc_sealer;

/* One seal by signer (its key, d= and s=) at time now. params as for
 * ps_dkim_sign_new (NULL: relaxed/relaxed, the default lists). */
ps_arc_sealer *ps_arc_seal_new(const ps_dkim_params *params,
                               const ps_dkim_signer *signer, time_t now,
                               ps_err *err);

/* Every header field of the message, in message order (topmost first),
 * as for ps_dkim_sign_header; then the body, as for ps_dkim_sign_body. */
int ps_arc_seal_header(ps_arc_sealer *s, const char *name, const char *value,
                       ps_err *err);
int ps_arc_seal_body(ps_arc_sealer *s, const uint8_t *data, size_t n,
                     ps_err *err);

/* The instance a seal would get (after the last header field): 1 for a
 * message without ARC fields, 0 when none may be added (out of range, or
 * the latest seal failed). */
unsigned ps_arc_seal_instance(ps_arc_sealer *s, ps_err *err);

/* Ends the message. authres is this host's Authentication-Results payload
 * ("authserv-id; spf=pass ..."; folded lines allowed) for the AAR; cv the
 * chain result. Refused: cv none over an existing chain, pass or fail
 * without one, pass over sets that are not complete. 0 with
 * out->outcome saying whether a set was made. */
int ps_arc_seal_final(ps_arc_sealer *s, ps_arc_seal_cv cv, const char *authres,
                      ps_arc_seal_out *out, ps_err *err);

void ps_arc_seal_out_free(ps_arc_seal_out *out);
void ps_arc_seal_free(ps_arc_sealer *s);

/* "none", "pass", "fail"; and back (-1 for another word). */
const char *ps_arc_seal_cv_name(ps_arc_seal_cv cv);
int ps_arc_seal_cv_parse(const char *word, ps_arc_seal_cv *cv);

#endif
