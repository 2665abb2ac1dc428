/* DMARC (RFC 7489, with DMARCbis where it has settled): the policy record,
 * the organizational domain through the Public Suffix List (libpsl), the
 * alignment of DKIM and SPF identifiers with the From domain, and the
 * evaluation of one message into a result and the policy to apply. */
#ifndef PS_DMARC_H
#define PS_DMARC_H

#include <stddef.h>

#include "base/err.h"
#include "dns/dns.h"
#include "dns/published.h"
#include "mail/mailbox.h"

#define PS_DMARC_MAX_FROM 16   /* addresses looked at in one From field */
#define PS_DMARC_RUA_MAX  1024 /* bytes of rua= kept for reports */
#define PS_DMARC_FO_MAX   16   /* bytes of fo= kept ("0:1:d:s" and NUL) */

/* ---- the policy record (RFC 7489 section 6.3) ---------------------------- */

typedef enum ps_dmarc_policy {
    PS_DMARC_POLICY_NONE,
    PS_DMARC_POLICY_QUARANTINE,
    PS_DMARC_POLICY_REJECT
} ps_dmarc_policy;

typedef enum ps_dmarc_align {
    PS_DMARC_RELAXED,
    PS_DMARC_STRICT
} ps_dmarc_align;

typedef struct ps_dmarc_record {
    ps_dmarc_policy p;
    ps_dmarc_policy sp; /* p when the record has no valid sp= */
    ps_dmarc_policy np; /* DMARCbis: non-existent subdomains; sp when no
                           valid np= */
    int has_np;         /* a valid np= */
    ps_dmarc_align adkim, aspf;
    int pct;      /* 0..100; 100 without a valid pct= */
    int testing;  /* DMARCbis t=y: the policy is applied one step softer */
    int has_rua;  /* at least one syntactically valid rua= URI */
    int p_absent; /* no valid p= or a bad sp=: p=none, since rua= is valid */
    char rua[PS_DMARC_RUA_MAX]; /* rua= as published, whole URIs only */
    char fo[PS_DMARC_FO_MAX];   /* fo= when valid ("0:d"), else "0" */
} ps_dmarc_record;

/* 1 when text (n bytes) is a DMARC record at all: its first tag is
 * v=DMARC1. Other TXT records at _dmarc.DOMAIN are ignored. */
int ps_dmarc_is_record(const char *text, size_t n);

/* Parses a record that ps_dmarc_is_record accepted. Unknown tags are
 * ignored, and so are invalid values of optional tags (their defaults
 * apply), as RFC 7489 section 6.3 says. -1 with a reason when the record
 * is unusable: a tag list that does not parse, or no valid p= and no
 * valid rua= (section 6.6.3). */
int ps_dmarc_record_parse(const char *text, size_t n, ps_dmarc_record *out,
                          ps_err *err);

/* The same reading, as a publisher should see it: also -1 when p= is
 * missing or invalid or sp= invalid, which receivers only tolerate
 * (err: "no p= tag", "p=maybe: DMARC policy must be ..."). */
int ps_dmarc_record_check(const char *text, size_t n, ps_dmarc_record *out,
                          ps_err *err);

/* "postseal dns check" on the TXT answer at _dmarc.DOMAIN: exactly one
 * v=DMARC1 record, which ps_dmarc_record_check accepts. */
ps_dnscheck_state ps_dmarc_check_published(const ps_dns_answer *ans,
                                           ps_dnscheck *v);

const char *ps_dmarc_policy_word(ps_dmarc_policy p); /* "none", ... */

/* ---- organizational domains (RFC 7489 section 3.2) ----------------------- */

typedef struct ps_dmarc_psl ps_dmarc_psl;

/* Loads the Public Suffix List: path, or Debian's (libpsl's newest of its
 * built-in list and /usr/share/publicsuffix) when NULL. */
int ps_dmarc_psl_load(const char *path, ps_dmarc_psl **out, ps_err *err);
void ps_dmarc_psl_free(ps_dmarc_psl *psl);

/* The organizational domain of domain (lower case, no trailing dot) into
 * out: the registrable domain, or the domain itself when it is a public
 * suffix. -1 when it does not fit. */
int ps_dmarc_org_domain(const ps_dmarc_psl *psl, const char *domain, char *out,
                        size_t size);

/* 1 when a and b are aligned in mode: the same name (strict), or the
 * same organizational domain (relaxed). Case is ignored. */
int ps_dmarc_aligned(const ps_dmarc_psl *psl, const char *a, const char *b,
                     ps_dmarc_align mode);

/* ---- the author domain --------------------------------------------------- */

typedef enum ps_dmarc_author {
    PS_DMARC_AUTHOR_OK,          /* one domain, in domain */
    PS_DMARC_AUTHOR_NO_FROM,     /* no From field */
    PS_DMARC_AUTHOR_MANY_FIELDS, /* several From fields */
    PS_DMARC_AUTHOR_UNPARSABLE,  /* a From that does not parse */
    PS_DMARC_AUTHOR_MANY_DOMAINS /* one From, addresses of several domains */
} ps_dmarc_author;

/* The author domain from the values of the message's From fields (nfrom
 * of them). A field with several addresses of one domain gives that
 * domain (DMARCbis: evaluated); of several domains,
 * PS_DMARC_AUTHOR_MANY_DOMAINS (DMARCbis: exempt from DMARC). why gets a
 * few words for the log when the answer is not OK. */
ps_dmarc_author ps_dmarc_author_domain(const char *const *from, size_t nfrom,
                                       char domain[PS_MAILBOX_DOMAIN_MAX + 1],
                                       ps_err *why);

/* ---- evaluation ---------------------------------------------------------- */

typedef enum ps_dmarc_result {
    PS_DMARC_PASS,
    PS_DMARC_FAIL,
    PS_DMARC_NONE,
    PS_DMARC_TEMPERROR,
    PS_DMARC_PERMERROR
} ps_dmarc_result;

/* The RFC 8601 word: "pass", "fail", "none", "temperror", "permerror". */
const char *ps_dmarc_result_word(ps_dmarc_result r);

/* One TXT lookup, as the caller does DNS: 0 with the answer (nxdomain or
 * no records is "nothing published"), -1 when the lookup failed (timeout,
 * SERVFAIL): a temporary error. */
typedef int (*ps_dmarc_txt_fn)(void *arg, const char *name, ps_dns_answer *ans);

/* What policy discovery (RFC 7489 section 6.6.3) found. */
typedef enum ps_dmarc_found {
    PS_DMARC_FOUND,      /* rec holds the record, at the From domain or
                            at its organizational domain (at_org) */
    PS_DMARC_NOT_FOUND,  /* no record at either */
    PS_DMARC_DNS_ERROR,  /* a lookup failed */
    PS_DMARC_BAD_RECORD, /* several records, or one unusable (why says) */
} ps_dmarc_found;

typedef struct ps_dmarc_policy_found {
    ps_dmarc_found found;
    ps_dmarc_record rec;
    int at_org;      /* the record is the organizational domain's, for a
                        subdomain of it: sp= applies */
    int nonexistent; /* ...and that subdomain does not exist: np= applies
                        (set by ps_dmarc_check_existence) */
    char org[PS_MAILBOX_DOMAIN_MAX + 1];
} ps_dmarc_policy_found;

/* Looks up _dmarc.DOMAIN, then _dmarc.ORGDOMAIN when the first has no
 * record and the organizational domain differs. */
void ps_dmarc_discover(const ps_dmarc_psl *psl, const char *domain,
                       ps_dmarc_txt_fn lookup, void *arg,
                       ps_dmarc_policy_found *out, ps_err *why);

/* One lookup of type PS_DNS_TYPE_A, _AAAA or _MX, as ps_dmarc_txt_fn. */
typedef int (*ps_dmarc_rr_fn)(void *arg, const char *name, int type,
                              ps_dns_answer *ans);

/* DMARCbis's non-existent domain: NXDOMAIN or no records (NODATA) for
 * each of A, AAAA and MX. 1 when domain does not exist, 0 when it does or
 * a lookup failed (an outage must not make the stricter np= apply). An
 * NXDOMAIN ends the lookups: nothing exists below it (RFC 8020). */
int ps_dmarc_domain_absent(const char *domain, ps_dmarc_rr_fn lookup,
                           void *arg);

/* After discovery: when the policy is the organizational domain's and
 * its np= differs from sp=, looks up whether domain exists and sets
 * found->nonexistent; no lookups otherwise. */
void ps_dmarc_check_existence(const char *domain, ps_dmarc_rr_fn lookup,
                              void *arg, ps_dmarc_policy_found *found);

/* The authenticated identifiers of a message: the d= of every DKIM
 * signature that passed, and the SPF result's domain (MAIL FROM, or the
 * HELO name for the null sender) when SPF passed (NULL otherwise). */
typedef struct ps_dmarc_auth {
    const char *const *dkim_pass;
    size_t ndkim;
    const char *spf_pass;
} ps_dmarc_auth;

/* What to do with the message, as the domain asks. */
typedef struct ps_dmarc_verdict {
    ps_dmarc_result result;
    ps_dmarc_policy requested; /* p=, or sp= for a subdomain, np= for a
                                  non-existent one: policy.dmarc */
    ps_dmarc_policy apply;     /* after pct= and t=: what enforcement does */
    int dkim_aligned, spf_aligned;
    int sampled_out; /* pct= chose this message to get a softer policy */
    int by_sp;       /* requested is the organizational domain's sp= */
    int by_np;       /* ...its np=, the subdomain not existing */
} ps_dmarc_verdict;

/* The tag requested came from: "p", "sp" or "np". */
const char *ps_dmarc_policy_tag(const ps_dmarc_verdict *v);

/* The verdict for a message from domain given what discovery found and
 * what authenticated. roll is a number in 0..99 the caller draws for
 * pct= (the policy applies when roll < pct). apply is NONE unless the
 * result is fail. */
void ps_dmarc_evaluate(const ps_dmarc_psl *psl, const char *domain,
                       const ps_dmarc_policy_found *found,
                       const ps_dmarc_auth *auth, int roll,
                       ps_dmarc_verdict *out);

#endif
