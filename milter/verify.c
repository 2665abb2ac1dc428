/* DKIM verification of inbound mail with libopendkim: one library handle
 * per configuration snapshot whose key lookups go through dnsq.c, at most
 * max_verify signatures checked per message, each turned into one RFC 8601
 * dkim= result with header.d, header.s, header.a and header.b. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "milter.h"

#define PS_VERIFY_TIMEOUT 10 /* seconds for one key lookup, both tries */
#define PS_VERIFY_HDR_MAX (256 * 1024) /* Postfix keeps 100 KB by default */

struct ps_verify {
    DKIM *dkim;
    int max_verify;
    int status; /* of the last libopendkim call that failed, or OK */
    int nosig;  /* eoh found no signature to check */
    char bvals[PS_MILTER_MAX_VERIFY * 2][16]; /* header.b prefixes */
};

/* A finished query, handed from the start hook to the wait hook: the
 * lookup itself is synchronous, the milter thread has nothing else to do. */
typedef struct ps_verify_query {
    int len; /* -1: no reply */
} ps_verify_query;

static int ps_verify_dns_start(void *srv, int type, unsigned char *name,
                               unsigned char *buf, size_t buflen, void **qh)
{
    ps_verify_query *q = malloc(sizeof(*q));

    if (q == NULL)
        return DKIM_DNS_ERROR;
    q->len = ps_dnsq_query(srv, (const char *)name, type, buf, buflen);
    *qh = q;
    return DKIM_DNS_SUCCESS;
}

static int ps_verify_dns_wait(void *srv, void *qh, struct timeval *to,
                              size_t *bytes, int *error, int *dnssec)
{
    const ps_verify_query *q = qh;

    (void)srv;
    (void)to;
    if (dnssec != NULL)
        *dnssec = DKIM_DNSSEC_UNKNOWN;
    if (error != NULL)
        *error = 0;
    if (q->len < 0)
        return DKIM_DNS_EXPIRED;
    if (bytes != NULL)
        *bytes = (size_t)q->len;
    return DKIM_DNS_SUCCESS;
}

static int ps_verify_dns_cancel(void *srv, void *qh)
{
    (void)srv;
    free(qh);
    return DKIM_DNS_SUCCESS;
}

/* The service handle is the snapshot's ps_dnsq: nothing to close. */
static void ps_verify_dns_close(void *srv)
{
    (void)srv;
}

/* Checks the first max_verify signatures and ignores the rest, so a
 * message with hundreds of signatures costs no more than a few. */
static DKIM_CBSTAT ps_verify_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs,
                                       int nsigs)
{
    const ps_verify *v = dkim_get_user_context(dkim);

    for (int i = v != NULL ? v->max_verify : 0; i < nsigs; i++)
        dkim_sig_ignore(sigs[i]);
    return DKIM_CBSTAT_CONTINUE;
}

int ps_verify_lib_init(ps_snap *s, ps_err *err)
{
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    unsigned int timeout = PS_VERIFY_TIMEOUT;

    if (lib == NULL)
        return ps_err_set(err, "libopendkim: dkim_init failed");
    dkim_dns_set_query_service(lib, &s->dns);
    dkim_dns_set_query_start(lib, ps_verify_dns_start);
    dkim_dns_set_query_waitreply(lib, ps_verify_dns_wait);
    dkim_dns_set_query_cancel(lib, ps_verify_dns_cancel);
    dkim_dns_set_close(lib, ps_verify_dns_close);
    dkim_set_prescreen(lib, ps_verify_prescreen);
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &timeout,
                     sizeof(timeout)) != DKIM_STAT_OK) {
        dkim_close(lib);
        return ps_err_set(err, "libopendkim: cannot set the DNS timeout");
    }
    s->dkimlib = lib;
    return 0;
}

void ps_verify_lib_free(ps_snap *s)
{
    if (s->dkimlib != NULL)
        dkim_close(s->dkimlib);
    s->dkimlib = NULL;
}

ps_verify *ps_verify_new(const ps_snap *s, const char *qid, ps_err *err)
{
    ps_verify *v = calloc(1, sizeof(*v));
    DKIM_STAT st = DKIM_STAT_OK;

    if (v == NULL)
        return ps_err_set(err, "out of memory"), NULL;
    v->max_verify = s->max_verify;
    v->dkim = dkim_verify(s->dkimlib, (const unsigned char *)qid, NULL, &st);
    if (v->dkim == NULL) {
        ps_err_set(err, "libopendkim: %s", dkim_getresultstr(st));
        free(v);
        return NULL;
    }
    dkim_set_user_context(v->dkim, v);
    v->status = DKIM_STAT_OK;
    return v;
}

/* libopendkim wants "Name:value" with CRLF folding; the MTA folds with
 * LF. A libopendkim error is kept: the message then gets no dkim pass. */
int ps_verify_header(ps_verify *v, const char *name, const char *value)
{
    size_t nn = strlen(name), nv = strlen(value), k = 0;
    unsigned char *buf;

    if (v->status != DKIM_STAT_OK)
        return 0;
    if (nn + nv > PS_VERIFY_HDR_MAX) {
        v->status = DKIM_STAT_SYNTAX; /* a field no signer would cover */
        return 0;
    }
    if ((buf = malloc(nn + 1 + 2 * nv + 1)) == NULL)
        return -1;
    memcpy(buf, name, nn);
    k = nn;
    buf[k++] = ':';
    for (size_t i = 0; i < nv; i++) {
        if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
            buf[k++] = '\r';
        buf[k++] = (unsigned char)value[i];
    }
    if (dkim_header(v->dkim, buf, k) != DKIM_STAT_OK)
        v->status = DKIM_STAT_SYNTAX;
    free(buf);
    return 0;
}

int ps_verify_eoh(ps_verify *v)
{
    DKIM_STAT st;

    if (v->status != DKIM_STAT_OK)
        return 0;
    st = dkim_eoh(v->dkim);
    if (st == DKIM_STAT_NOSIG)
        v->nosig = 1;
    else if (st != DKIM_STAT_OK)
        v->status = st;
    return 0;
}

int ps_verify_body(ps_verify *v, const unsigned char *data, size_t n)
{
    if (v->status != DKIM_STAT_OK || v->nosig || n == 0)
        return 0;
    if (dkim_body(v->dkim, (unsigned char *)data, n) != DKIM_STAT_OK)
        v->status = DKIM_STAT_SYNTAX;
    return 0;
}

/* RFC 8601 result and reason for one processed signature. */
static const char *ps_verify_word(DKIM_SIGINFO *sig, const char **reason)
{
    unsigned int flags = dkim_sig_getflags(sig);
    int e = dkim_sig_geterror(sig);

    *reason = NULL;
    if ((flags & DKIM_SIGFLAG_PASSED) &&
        dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH)
        return "pass";
    if (e == DKIM_SIGERROR_KEYFAIL) {
        *reason = "key lookup failed";
        return "temperror";
    }
    if (e == DKIM_SIGERROR_BADSIG || e == DKIM_SIGERROR_OK ||
        e == DKIM_SIGERROR_UNKNOWN || (flags & DKIM_SIGFLAG_PASSED)) {
        *reason = (flags & DKIM_SIGFLAG_PASSED) ? "body hash mismatch"
                                                : "signature mismatch";
        return "fail";
    }
    *reason = dkim_sig_geterrorstr(e);
    if (e == DKIM_SIGERROR_EXPIRED || e == DKIM_SIGERROR_FUTURE)
        return "fail";
    return "permerror";
}

static void ps_verify_prop(ps_authres_result *r, const char *name,
                           const char *value)
{
    if (value == NULL || *value == '\0' || r->nprops >= PS_AUTHRES_MAX_PROPS)
        return;
    r->props[r->nprops].name = name;
    r->props[r->nprops].value = value;
    r->nprops++;
}

static void ps_verify_one(ps_verify *v, DKIM_SIGINFO *sig, size_t i,
                          ps_authres_result *r)
{
    const unsigned char *b = dkim_sig_gettagvalue(sig, 0, (unsigned char *)"b");

    memset(r, 0, sizeof(*r));
    r->method = "dkim";
    r->result = ps_verify_word(sig, &r->reason);
    ps_verify_prop(r, "header.d", (const char *)dkim_sig_getdomain(sig));
    ps_verify_prop(r, "header.s", (const char *)dkim_sig_getselector(sig));
    ps_verify_prop(r, "header.a", (const char *)dkim_sig_getalgorithm(sig));
    if (b != NULL && i < sizeof(v->bvals) / sizeof(v->bvals[0])) {
        /* RFC 6008: enough of b= to tell signatures of one domain apart */
        size_t k = 0;
        for (const unsigned char *p = b; *p != '\0' && k < 8; p++)
            if (*p > ' ')
                v->bvals[i][k++] = (char)*p;
        v->bvals[i][k] = '\0';
        ps_verify_prop(r, "header.b", v->bvals[i]);
    }
}

/* No signature to report: RFC 8601 says dkim=none, whatever kept
 * libopendkim from reading the message (a From of <> or one it cannot
 * parse); a reader must not take our permerror for a broken signature. */
static void ps_verify_none(ps_authres_result *r)
{
    memset(r, 0, sizeof(*r));
    r->method = "dkim";
    r->result = "none";
}

int ps_verify_final(ps_verify *v, ps_authres_result *res, size_t max, size_t *n,
                    ps_err *err)
{
    DKIM_SIGINFO **sigs = NULL;
    int nsigs = 0;
    DKIM_STAT st = v->status;

    *n = 0;
    if (max == 0)
        return ps_err_set(err, "no room for DKIM results");
    if (st == DKIM_STAT_OK && !v->nosig)
        st = dkim_eom(v->dkim, NULL);
    if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL)
        return ps_err_set(err, "libopendkim: %s", dkim_getresultstr(st));
    if (v->nosig || dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK ||
        nsigs == 0) {
        ps_verify_none(&res[(*n)++]);
        return 0;
    }
    for (int i = 0; i < nsigs && *n < max; i++)
        if (!(dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)) {
            ps_verify_one(v, sigs[i], *n, &res[*n]);
            (*n)++;
        }
    if (*n == 0)
        ps_verify_none(&res[(*n)++]);
    return 0;
}

void ps_verify_free(ps_verify *v)
{
    if (v == NULL)
        return;
    dkim_free(v->dkim);
    free(v);
}
