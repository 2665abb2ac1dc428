/* DMARC history ([milter] dmarc_history): one record line per message the
 * milter evaluated against a published policy, appended and fsync'd to
 * DIR/YYYY-MM-DD (UTC), read back by "postseal dmarc report" to build the
 * RFC 7489 section 7.2 aggregate reports. */
#ifndef PS_DMARC_HISTORY_H
#define PS_DMARC_HISTORY_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "dmarc/dmarc.h"
#include "mail/record.h"

#define PS_DMHIST_MAX_DKIM 16 /* signatures kept per message */
#define PS_DMHIST_FIXED    21 /* fields before the DKIM triples */
#define PS_DMHIST_FIELDS   (PS_DMHIST_FIXED + 3 * PS_DMHIST_MAX_DKIM)
#define PS_DMHIST_DAY_MAX  11 /* "YYYY-MM-DD" and its NUL */

/* Results of RFC 7489 appendix C's SPFResultType and DKIMResultType
 * (pass..permerror are shared; softfail is SPF's, policy DKIM's). */
typedef enum ps_dmhist_auth {
    PS_DMHIST_NONE,
    PS_DMHIST_PASS,
    PS_DMHIST_FAIL,
    PS_DMHIST_SOFTFAIL,
    PS_DMHIST_NEUTRAL,
    PS_DMHIST_POLICY,
    PS_DMHIST_TEMPERROR,
    PS_DMHIST_PERMERROR
} ps_dmhist_auth;

/* PolicyOverrideType, as bits of ps_dmhist.reasons. */
enum {
    PS_DMHIST_R_FORWARDED = 1 << 0,
    PS_DMHIST_R_SAMPLED_OUT = 1 << 1,
    PS_DMHIST_R_TRUSTED_FORWARDER = 1 << 2,
    PS_DMHIST_R_MAILING_LIST = 1 << 3,
    PS_DMHIST_R_LOCAL_POLICY = 1 << 4,
    PS_DMHIST_R_OTHER = 1 << 5,
    PS_DMHIST_R_ALL = (1 << 6) - 1
};

typedef struct ps_dmhist_dkim {
    const char *domain, *selector; /* d=, s= ("" when unknown) */
    ps_dmhist_auth result;
} ps_dmhist_dkim;

/* The policy_published of a report: the record's p, sp, pct, adkim,
 * aspf, fo. */
typedef struct ps_dmhist_policy {
    ps_dmarc_policy p, sp;
    ps_dmarc_align adkim, aspf;
    int pct;
    const char *fo; /* fo= as the record gave it, "0" by default */
} ps_dmhist_policy;

/* Pointers into the line it was read from (or given by the writer). */
typedef struct ps_dmhist {
    time_t when;
    const char *source_ip;
    const char *header_from;   /* the author domain */
    const char *envelope_from; /* MAIL FROM's domain, "" for <> */
    const char *spf_domain;    /* the domain SPF checked */
    int spf_helo;              /* 1: SPF checked HELO (scope helo) */
    ps_dmhist_auth spf;
    const char *policy_domain; /* where the record was found */
    ps_dmhist_policy policy;   /* what it published */
    const char *rua;           /* its rua= as published */
    int pass;                  /* DMARC result: 1 pass, 0 fail */
    int dkim_aligned, spf_aligned;
    ps_dmarc_policy disposition; /* what was applied */
    unsigned reasons;            /* PS_DMHIST_R_* */
    ps_dmhist_dkim dkim[PS_DMHIST_MAX_DKIM];
    size_t ndkim;
} ps_dmhist;

/* The record's line, newline included, into r (r->oom on no memory). */
void ps_dmhist_format(const ps_dmhist *h, ps_record *r);
/* Reads a line (no newline; split in place). fields must hold
 * PS_DMHIST_FIELDS pointers. -1 with a reason when the line is not a
 * record. */
int ps_dmhist_parse(char *line, char **fields, ps_dmhist *h, ps_err *err);

/* The words of the appendix C enumerations ("softfail", "sampled_out"). */
const char *ps_dmhist_auth_word(ps_dmhist_auth a);
const char *ps_dmhist_reason_word(unsigned bit);
/* A result word of RFC 8601 (what the verifiers write) as an enum; an
 * unknown word is permerror. */
ps_dmhist_auth ps_dmhist_auth_from_word(const char *word);

/* The day's name of when, "YYYY-MM-DD" in UTC. */
void ps_dmhist_day(time_t when, char out[PS_DMHIST_DAY_MAX]);
/* The file of when's day in dir: DIR/YYYY-MM-DD. */
int ps_dmhist_path(const char *dir, time_t when, char *out, size_t cap,
                   ps_err *err);
/* Appends one record to its day's file in dir (made 0750 if missing) and
 * makes it durable: one write(2) of the whole line with O_APPEND, so
 * concurrent writers never interleave, then fsync. */
int ps_dmhist_append(const char *dir, const ps_dmhist *h, ps_err *err);
/* The same for a record ps_dmhist_format already wrote into line, of a
 * message evaluated at when: for a writer that decides later whether the
 * record is kept. */
int ps_dmhist_write(const char *dir, time_t when, const ps_record *line,
                    ps_err *err);

#endif
