/* DKIM signing (RFC 6376, RFC 8463) done in the core with OpenSSL: headers
 * and body canonicalised (simple/relaxed) and hashed as the message
 * streams in, one body hash shared by every key, signatures made at the
 * end. Verification of inbound mail is libopendkim's job, not this one. */
#ifndef PS_DKIM_H
#define PS_DKIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "crypto/keys.h"

/* signatures per message; header fields per message (more: refused); names
 * in a sign or oversign list */
#define PS_DKIM_MAX_KEYS    4
#define PS_DKIM_MAX_HEADERS 1000
#define PS_DKIM_MAX_SIGNED  64
/* Canonical bytes of the fields that may be signed (the others are not
 * kept); more: refused. */
#define PS_DKIM_MAX_HEADER_BYTES (1024 * 1024)
/* The highest ARC instance (RFC 8617 4.2.1). */
#define PS_DKIM_ARC_MAX_INSTANCE 50

/* Relaxed first: a zeroed ps_dkim_params means relaxed/relaxed. */
typedef enum ps_canon { PS_CANON_RELAXED, PS_CANON_SIMPLE } ps_canon;

/* One signature to make: the key and the d=/s= it signs as. The struct
 * is copied; the key and strings must outlive the message. */
typedef struct ps_dkim_signer {
    const ps_key *key; /* owned by the caller, outlives the message */
    const char *domain;
    const char *selector;
} ps_dkim_signer;

/* How to sign; shared by many messages (read-only while they use it). */
typedef struct ps_dkim_params {
    ps_canon header_canon; /* default relaxed */
    ps_canon body_canon;   /* default relaxed */
    /* Header names to sign when present (case-insensitive); a name ending
     * in '*' is a prefix ("List-*"). NULL: ps_dkim_default_headers. */
    const char *const *sign_headers;
    size_t nsign_headers;
    /* Names signed once more than they occur, so none can be added
     * (oversigning). NULL: ps_dkim_default_oversign. */
    const char *const *oversign_headers;
    size_t noversign_headers;
    time_t expire_after; /* x= is t= + this; 0: no x= */
} ps_dkim_params;

extern const char *const ps_dkim_default_headers[];
extern const size_t ps_dkim_default_nheaders;
extern const char *const ps_dkim_default_oversign[];
extern const size_t ps_dkim_default_noversign;

typedef struct ps_dkim_sign ps_dkim_sign;

/* Starts a message to be signed by every signer (1..PS_DKIM_MAX_KEYS).
 * params NULL: relaxed/relaxed, the default lists, no x=. Refused: a bad
 * canonicalisation, a list without From, over PS_DKIM_MAX_SIGNED names or
 * with a name that cannot go in h=, a signer without key or with a d=/s=
 * that is not a domain name. */
ps_dkim_sign *ps_dkim_sign_new(const ps_dkim_params *params,
                               const ps_dkim_signer *signers, size_t nsigners,
                               time_t now, ps_err *err);

/* One header field as the MTA has it: name without ':' (whitespace before
 * the ':' may stay), value exactly as it follows the ':' (leading space
 * kept, folding as CRLF or bare LF). Only fields the lists name are kept;
 * a name with bytes h= cannot carry (space, ';', 8-bit) is never signed.
 * Refused: an empty name, a field after the body, more than
 * PS_DKIM_MAX_HEADERS fields or PS_DKIM_MAX_HEADER_BYTES kept. */
int ps_dkim_sign_header(ps_dkim_sign *s, const char *name, const char *value,
                        ps_err *err);

/* The next piece of body, in any chunking; line ends as CRLF (bare LF is
 * taken as CRLF). Hashed at once: nothing is buffered beyond pending
 * empty lines and whitespace. */
int ps_dkim_sign_body(ps_dkim_sign *s, const uint8_t *data, size_t n,
                      ps_err *err);

/* Ends the body and makes the signatures: *values[i] is the value of the
 * i-th DKIM-Signature header (after "DKIM-Signature:", leading space
 * included, folded with CRLF+TAB), malloc'd, in signer order; *count is
 * nsigners. The caller frees each string and the array. Refused: a
 * message without From, a second call. Tags: v a c d s t [x] h bh b,
 * never l=. */
int ps_dkim_sign_final(ps_dkim_sign *s, char ***values, size_t *count,
                       ps_err *err);

/* Makes the signatures ARC-Message-Signature values of instance
 * 1..PS_DKIM_ARC_MAX_INSTANCE (RFC 8617 4.1.2): i= in place of v=, hashed
 * under that field name. Any time before ps_dkim_sign_final. */
int ps_dkim_sign_arc_instance(ps_dkim_sign *s, unsigned instance, ps_err *err);

void ps_dkim_sign_free(ps_dkim_sign *s);

/* A header field as ps_dkim_sign_header takes it. */
typedef struct ps_dkim_field {
    const char *name, *value;
} ps_dkim_field;

/* An ARC-Seal value (RFC 8617 4.1.3, 5.1.1): tags i cv a d s t b, signed
 * by the same step as DKIM over fields (the ARC sets it covers, oldest
 * first, each as AAR, AMS, AS, ending with this instance's AAR and AMS),
 * relaxed, then the seal itself with b= empty. cv is "none", "pass" or
 * "fail"; the caller decides which sets the seal covers. *value is
 * malloc'd, folded like a DKIM-Signature. */
int ps_dkim_seal(const ps_dkim_signer *signer, time_t now, unsigned instance,
                 const char *cv, const ps_dkim_field *fields, size_t nfields,
                 char **value, ps_err *err);

#endif
