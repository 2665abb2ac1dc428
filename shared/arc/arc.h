/* ARC (RFC 8617) in the core: the ARC sets of a message collected from its
 * header list (sets.c) and the chain validated (verify.c), reusing the
 * DKIM canonicalisation, the tag=value parser and the key parsing. */
#ifndef PS_ARC_H
#define PS_ARC_H

#include <stddef.h>

#include "base/err.h"
#include "dns/tagval.h"

#define PS_ARC_MAX_INSTANCES 50 /* RFC 8617 4.2.1: i= is 1..50 */

/* One header field as the message has it, in message order (index 0 is
 * the topmost, the most recently added): name without ':' (whitespace
 * before the ':' may stay), value exactly as it follows the ':'. The
 * bytes are the caller's and must outlive everything that points to them. */
typedef struct ps_arc_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} ps_arc_header;

/* The three members of a set; the order is the one an ARC-Seal signs them
 * in (RFC 8617 5.1.1): AAR, AMS, AS. */
typedef enum ps_arc_part {
    PS_ARC_AAR, /* ARC-Authentication-Results */
    PS_ARC_AMS, /* ARC-Message-Signature */
    PS_ARC_AS,  /* ARC-Seal */
    PS_ARC_NPARTS
} ps_arc_part;

typedef struct ps_arc_field {
    int present;
    size_t pos; /* index in the caller's header list */
    /* raw, as given (point into the caller's buffers): what is hashed */
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    /* AMS and AS: every tag of the value (i= included). AAR: empty, its
     * value is "i=N; authres-payload", not a tag list. */
    ps_tagval tags;
} ps_arc_field;

typedef struct ps_arc_set {
    ps_arc_field part[PS_ARC_NPARTS];
} ps_arc_set;

/* What the structure of the sets says (RFC 8617 5.1.1, 5.2 step 2-3).
 * Anything but OK and NONE makes the chain fail. */
typedef enum ps_arc_sets_status {
    PS_ARC_SETS_OK,        /* sets 1..count, each complete */
    PS_ARC_SETS_NONE,      /* no ARC field at all */
    PS_ARC_SETS_SYNTAX,    /* an i= that is not a number, a missing i=, or an
                            * AMS/AS whose tag list does not parse */
    PS_ARC_SETS_RANGE,     /* an i= outside 1..PS_ARC_MAX_INSTANCES */
    PS_ARC_SETS_DUPLICATE, /* two fields of one kind with the same i= */
    PS_ARC_SETS_MISSING,   /* an instance without one of its three fields */
    PS_ARC_SETS_GAP        /* instances are not 1..N without a hole */
} ps_arc_sets_status;

/* About 100 KiB: allocate it (ps_arc_sets_new), do not put it on a stack. */
typedef struct ps_arc_sets {
    ps_arc_sets_status status;
    unsigned count;                       /* highest instance seen (0: none) */
    ps_arc_set set[PS_ARC_MAX_INSTANCES]; /* set[k] is instance k + 1 */
} ps_arc_sets;

ps_arc_sets *ps_arc_sets_new(void);
void ps_arc_sets_free(ps_arc_sets *s);

/* Which ARC field a header name is (case-insensitive, trailing whitespace
 * ignored): 1 and *part set, or 0 for any other field. */
int ps_arc_field_kind(const char *name, size_t len, ps_arc_part *part);

/* Collects the ARC fields of hdrs (n fields, message order) into out by
 * instance, tags parsed. Returns out->status; for anything but OK and
 * NONE err says which field and why. On SYNTAX, RANGE, DUPLICATE the sets
 * are incomplete; on MISSING and GAP every field that was read is there
 * (a sealer adding its own set still needs count). */
ps_arc_sets_status ps_arc_sets_parse(const ps_arc_header *hdrs, size_t n,
                                     ps_arc_sets *out, ps_err *err);

/* A word for logs and tests ("ok", "none", "syntax", "range",
 * "duplicate", "missing", "gap"). */
const char *ps_arc_sets_status_name(ps_arc_sets_status s);

/* ---- chain validation (verify.c, RFC 8617 5.2) ---- */

#include "dns/dns.h"

/* Bytes of header fields a verifier keeps (all of them: h= may name any);
 * more makes the chain fail. */
#define PS_ARC_MAX_HEADER_BYTES (1024 * 1024)
#define PS_ARC_MAX_FIELDS       1000

/* The answer. RFC 8617's Authentication-Results word is pass, fail or
 * none; TEMPERROR (a key lookup that did not get an answer) is kept apart
 * so the caller can choose, and is written as fail if it must be one of
 * the three. */
typedef enum ps_arc_result {
    PS_ARC_RESULT_NONE,
    PS_ARC_RESULT_PASS,
    PS_ARC_RESULT_FAIL,
    PS_ARC_RESULT_TEMPERROR
} ps_arc_result;

typedef struct ps_arc_outcome {
    ps_arc_result result;
    unsigned count; /* instances in the chain */
    /* PASS only: 0 when every AMS still verifies, else the lowest instance
     * whose AMS, and the AMS of every later instance, verify (the
     * header.oldest-pass of RFC 8617 7.2, as OpenARC writes it). */
    unsigned oldest_pass;
    unsigned failed_instance; /* FAIL/TEMPERROR: the instance at fault */
    char reason[256];         /* FAIL/TEMPERROR: why, for the log */
} ps_arc_outcome;

/* TXT lookup of "selector._domainkey.domain": 0 with the answer (no
 * record or nxdomain is an answer), -1 when no answer came. The same
 * shape as the DMARC lookup, so one resolver hook serves both. */
typedef int (*ps_arc_txt_fn)(void *arg, const char *name, ps_dns_answer *ans);

typedef struct ps_arc_verify ps_arc_verify;

/* Signature checks (each needing a key) one message may cost. A sender
 * controls every ARC byte: up to 50 sets, each AMS with its own c=/l=
 * (its own body hash) and key. A chain of N sets needs N + 1 checks (every
 * ARC-Seal, the newest AMS); the header.oldest-pass search gets what is
 * left. A chain that needs more fails (RFC 8617 allows receivers to set
 * limits); keys are fetched once per selector and domain. */
#define PS_ARC_MAX_VERIFY_DEFAULT 12
#define PS_ARC_MAX_VERIFY_LIMIT   (2 * PS_ARC_MAX_INSTANCES)

ps_arc_verify *ps_arc_verify_new(void);
/* The cap on signature checks, and so on key lookups and body hashes
 * (2..PS_ARC_MAX_VERIFY_LIMIT, else the default); before
 * ps_arc_verify_eoh. */
void ps_arc_verify_limit(ps_arc_verify *v, unsigned max_verify);
/* Each header field in message order (top first), as the MTA has it
 * (copied). Past PS_ARC_MAX_FIELDS or PS_ARC_MAX_HEADER_BYTES the chain
 * will fail; the call itself never does. */
void ps_arc_verify_header(ps_arc_verify *v, const char *name, size_t nlen,
                          const char *value, size_t vlen);
/* After the last header: the sets are read and a body hash started for
 * the newest AMS and for the older ones the cap leaves room for. */
void ps_arc_verify_eoh(ps_arc_verify *v);
/* The body in any chunking, line ends CRLF (bare LF taken as CRLF). */
void ps_arc_verify_body(ps_arc_verify *v, const void *data, size_t n);
/* Validates the chain; keys through lookup. Always fills out. */
void ps_arc_verify_final(ps_arc_verify *v, ps_arc_txt_fn lookup, void *arg,
                         ps_arc_outcome *out);
/* The sets read at end of headers (valid until ps_arc_verify_free). */
const ps_arc_sets *ps_arc_verify_sets(const ps_arc_verify *v);
void ps_arc_verify_free(ps_arc_verify *v);

/* "pass", "fail", "none", "temperror". */
const char *ps_arc_result_name(ps_arc_result r);

/* ---- who sealed what (trust.c) ---- */

#define PS_ARC_DOMAIN_MAX 253

/* The d= of instance i's ARC-Seal, lowercased, into out (size
 * PS_ARC_DOMAIN_MAX + 1): 0, or -1 if there is none or it is too long. */
int ps_arc_sealer_domain(const ps_arc_sets *s, unsigned instance, char *out);

/* 1 if instance i's ARC-Authentication-Results records method=pass
 * ("dmarc", "dkim", "spf"), else 0. */
int ps_arc_aar_passed(const ps_arc_sets *s, unsigned instance,
                      const char *method);

/* The instance that lets local policy override a DMARC failure: for a
 * chain that passed, the oldest instance k that is still intact (k at or
 * above the oldest-pass, so the message is as it left k's hands), whose
 * sealer's d= is on trusted (exact domain names, case-insensitive), and
 * whose ARC-Authentication-Results says dmarc=pass. 0 if there is none. */
unsigned ps_arc_trusted_instance(const ps_arc_sets *s, const ps_arc_outcome *o,
                                 const char *const *trusted, size_t ntrusted);

#endif
