/* DMARC aggregate reports (RFC 7489 section 7.2, appendix C): one day's
 * history records (history.h) grouped per policy domain and per row,
 * written as the feedback XML, wrapped gzip'd in a MIME message for each
 * rua= mailto: address the domain may receive reports at, and handed to
 * the local MTA. The core builds and sends; it never prints. */
#ifndef PS_DMARC_REPORT_H
#define PS_DMARC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "dmarc/dmarc.h"
#include "dmarc/history.h"

#define PS_DMREP_MAX_URIS 16 /* rua= URIs looked at per domain */

/* Who reports, and the period (seconds since 1970, UTC, both included). */
typedef struct ps_dmrep_meta {
    const char *org_name, *email; /* email: local@domain */
    time_t begin, end;
} ps_dmrep_meta;

/* ---- one day's records (report_read.c) --------------------------------- */

typedef struct ps_dmrep_entry {
    char *line; /* owns the text h points into */
    char *key;  /* what makes two messages one row */
    ps_dmhist h;
} ps_dmrep_entry;

typedef struct ps_dmrep_set {
    ps_dmrep_entry *v;
    size_t n, cap;
} ps_dmrep_set;

/* Called for each line that is not a record; the line is skipped. */
typedef void (*ps_dmrep_bad_fn)(void *arg, const char *path, size_t line,
                                const char *why);

/* Adds the records of path to set. -1 with err when the file cannot be
 * read or memory runs out. */
int ps_dmrep_read(ps_dmrep_set *set, const char *path, ps_dmrep_bad_fn bad,
                  void *arg, ps_err *err);
#define PS_DMREP_OOM (-2)
/* Adds one record line (no newline); -1 with err when it is not one,
 * PS_DMREP_OOM when memory ran out. */
int ps_dmrep_add_line(ps_dmrep_set *set, const char *line, size_t n,
                      ps_err *err);
void ps_dmrep_set_free(ps_dmrep_set *set);

/* ---- grouping (report_group.c) ----------------------------------------- */

/* One policy domain's part of the set: entries v[first..first+n), sorted
 * so that equal rows are adjacent; latest is the newest record, whose
 * policy and rua= the report states. */
typedef struct ps_dmrep_domain {
    const char *domain;
    const ps_dmrep_entry *v;
    size_t n;
    const ps_dmhist *latest;
} ps_dmrep_domain;

/* Sorts the set and lists its domains (*out malloc'd, *n of them). */
int ps_dmrep_group(ps_dmrep_set *set, ps_dmrep_domain **out, size_t *n,
                   ps_err *err);

/* ---- the XML (report_xml.c) -------------------------------------------- */

/* The report's id: "DAY.DOMAIN@RECEIVER", the same on every run. */
int ps_dmrep_report_id(const ps_dmrep_meta *m, const char *domain, char *out,
                       size_t cap, ps_err *err);
/* The feedback document for one domain, malloc'd into *xml (*n bytes). */
int ps_dmrep_xml(const ps_dmrep_meta *m, const ps_dmrep_domain *d, char **xml,
                 size_t *n, ps_err *err);

/* ---- rua= (report_rua.c) ----------------------------------------------- */

typedef struct ps_dmrep_uri {
    char addr[PS_MAILBOX_LOCAL_MAX + PS_MAILBOX_DOMAIN_MAX + 2];
    const char *domain; /* into addr */
    uint64_t limit;     /* bytes ("!10m"), 0: no limit */
} ps_dmrep_uri;

/* The mailto: URIs of rua= (other schemes and malformed ones are left
 * out), at most max. */
size_t ps_dmrep_rua_parse(const char *rua, ps_dmrep_uri *out, size_t max);
/* RFC 7489 section 7.1: 1 when domain may send reports to rua_domain
 * (the same organizational domain, or <domain>._report._dmarc.<rua_domain>
 * publishes a v=DMARC1 record), 0 when not, -1 with err when DNS failed. */
int ps_dmrep_rua_allowed(const ps_dmarc_psl *psl, const char *domain,
                         const char *rua_domain, ps_dmarc_txt_fn lookup,
                         void *arg, ps_err *err);

/* ---- the message (report_mail.c) --------------------------------------- */

/* RFC 7489 section 7.2.1.1's file name: receiver!domain!begin!end.xml.gz. */
int ps_dmrep_filename(const ps_dmrep_meta *m, const char *domain, char *out,
                      size_t cap, ps_err *err);
/* The MIME message to `to` carrying xml gzip'd, malloc'd into *msg. */
int ps_dmrep_mail(const ps_dmrep_meta *m, const char *domain, const char *xml,
                  size_t xn, const char *to, char **msg, size_t *n,
                  ps_err *err);
/* Runs `sendmail -t -oi` and writes msg to it: 0 when it exited 0. */
int ps_dmrep_sendmail(const char *sendmail, const char *msg, size_t n,
                      ps_err *err);

#endif
