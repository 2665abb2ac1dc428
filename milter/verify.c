/* DKIM verification of inbound mail with libopendkim: one library handle
 * per configuration snapshot whose key lookups go through dnsq.c, at most
 * max_verify signatures checked per message, each turned into one RFC 8601
 * dkim= result with header.d, header.s, header.a and header.b. */
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>

#include "crypto/pubkey.h"
#include "milter.h"

#define PS_VERIFY_DNS_MAX 4096 /* bytes of a key lookup's reply (EDNS) */
#define PS_VERIFY_HDR_MAX (256 * 1024) /* Postfix keeps 100 KB by default */

/* A key lookup that failed for a reason that may pass (no reply, SERVFAIL):
 * libopendkim's key callback can only say "not found" for one signature,
 * so the callback notes the signature here and the result says temperror. */
typedef struct ps_verify_tempfail {
    const DKIM_SIGINFO *sig;
    char why[48];
} ps_verify_tempfail;

struct ps_verify {
    DKIM *dkim;
    int max_verify;
    int status; /* of the last libopendkim call that failed, or OK */
    int nosig;  /* eoh found no signature to check */
    const ps_dnsq *dns;
    ps_verify_tempfail temp[PS_MILTER_MAX_VERIFY];
    int ntemp;
    char comments[PS_MILTER_MAX_VERIFY * 2][96]; /* l= notes */
    char bvals[PS_MILTER_MAX_VERIFY * 2][16];    /* header.b prefixes */
};

static const char *ps_verify_rcode(int rcode)
{
    switch (rcode) {
    case ns_r_servfail:
        return "SERVFAIL";
    case ns_r_refused:
        return "REFUSED";
    case ns_r_formerr:
        return "FORMERR";
    case ns_r_notimpl:
        return "NOTIMP";
    default:
        return "error reply";
    }
}

/* The first TXT record of a reply, its strings joined, into buf. 1 when
 * found, 0 for none (NXDOMAIN, no TXT), -1 for a failure that may pass
 * (why says which). */
static int ps_verify_txt(const unsigned char *ans, int len, char *buf,
                         size_t size, char why[48])
{
    ns_msg msg;
    ns_rr rr;
    size_t k = 0;

    if (len < 0)
        return snprintf(why, 48, "key lookup timed out"), -1;
    if (ns_initparse(ans, len, &msg) != 0)
        return snprintf(why, 48, "key lookup reply corrupt"), -1;
    if (ns_msg_getflag(msg, ns_f_rcode) == ns_r_nxdomain)
        return 0;
    if (ns_msg_getflag(msg, ns_f_rcode) != ns_r_noerror)
        return snprintf(why, 48, "key lookup failed: %s",
                        ps_verify_rcode(ns_msg_getflag(msg, ns_f_rcode))),
               -1;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
            return snprintf(why, 48, "key lookup reply corrupt"), -1;
        if (ns_rr_type(rr) != ns_t_txt)
            continue;
        for (const unsigned char *p = ns_rr_rdata(rr), *e = p + ns_rr_rdlen(rr);
             p < e; p += 1 + *p) {
            if (p + 1 + *p > e || k + *p >= size)
                return snprintf(why, 48, "key lookup reply corrupt"), -1;
            memcpy(buf + k, p + 1, *p);
            k += *p;
        }
        buf[k] = '\0';
        return 1;
    }
    return 0;
}

/* The key record for one signature, through the snapshot's resolver; a
 * p= holding a PKCS#1 RSAPublicKey (published in the wild, accepted by
 * dkimpy) is handed on as the SubjectPublicKeyInfo libopendkim reads. */
static DKIM_CBSTAT ps_verify_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig,
                                        unsigned char *buf, size_t buflen)
{
    ps_verify *v = dkim_get_user_context(dkim);
    const char *sel = (const char *)dkim_sig_getselector(sig);
    const char *dom = (const char *)dkim_sig_getdomain(sig);
    unsigned char ans[PS_VERIFY_DNS_MAX];
    char name[NS_MAXDNAME], txt[PS_VERIFY_DNS_MAX], why[48] = "";
    unsigned char wire[NS_MAXCDNAME];
    int n, rc;

    /* A name DNS cannot carry (over 255 octets, a label over 63) has no
     * key: permerror, not the temperror of a query that never went out. */
    if (v == NULL || sel == NULL || dom == NULL ||
        snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom) >=
            (int)sizeof(name) ||
        dn_comp(name, wire, sizeof(wire), NULL, NULL) < 0)
        return DKIM_CBSTAT_NOTFOUND;
    n = ps_dnsq_query(v->dns, name, ns_t_txt, ans, sizeof(ans));
    rc = ps_verify_txt(ans, n, txt, sizeof(txt), why);
    if (rc < 0 && v->ntemp < PS_MILTER_MAX_VERIFY) {
        v->temp[v->ntemp].sig = sig;
        memcpy(v->temp[v->ntemp++].why, why, sizeof(why));
    }
    if (rc <= 0)
        return DKIM_CBSTAT_NOTFOUND;
    if (ps_pubkey_dkim_spki(txt, strlen(txt), (char *)buf, buflen) != 0)
        return DKIM_CBSTAT_CONTINUE; /* rewritten, or -1: too long either way */
    if (strlen(txt) >= buflen)
        return DKIM_CBSTAT_NOTFOUND;
    memcpy(buf, txt, strlen(txt) + 1);
    return DKIM_CBSTAT_CONTINUE;
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
    unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES;

    if (lib == NULL)
        return ps_err_set(err, "libopendkim: dkim_init failed");
    /* A DKIM-Signature lacking a required tag (v= in pre-RFC drafts) is
     * kept as a signature with its error: RFC 6376 6.1.1 says PERMFAIL,
     * where libopendkim would otherwise drop it and leave dkim=none. */
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
                     sizeof(flags)) != DKIM_STAT_OK ||
        dkim_set_key_lookup(lib, ps_verify_key_lookup) != DKIM_STAT_OK ||
        dkim_set_prescreen(lib, ps_verify_prescreen) != DKIM_STAT_OK) {
        dkim_close(lib);
        return ps_err_set(err, "libopendkim: cannot set the callbacks");
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
    v->dns = &s->dns;
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
    /* A malformed DKIM-Signature stays in libopendkim's list with its
     * error (BADSIGHANDLES) and is reported as permerror: it must not
     * stop the other fields, or the message would read dkim=none. */
    if (dkim_header(v->dkim, buf, k) != DKIM_STAT_OK &&
        strcasecmp(name, DKIM_SIGNHEADER) != 0)
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

static const char *ps_verify_tempfailed(const ps_verify *v,
                                        const DKIM_SIGINFO *sig)
{
    for (int i = 0; i < v->ntemp; i++)
        if (v->temp[i].sig == sig)
            return v->temp[i].why;
    return NULL;
}

/* RFC 8601 result and reason for a signature libopendkim refused before
 * any cryptography, or NULL: a signature outside its validity window is
 * neutral (it was not checked), one its key or body forbids is permerror,
 * as libopendkim and Mail::DKIM treat them, never a body hash mismatch. */
static const char *ps_verify_unusable(int e, const char **reason)
{
    switch (e) {
    case DKIM_SIGERROR_EXPIRED:
        *reason = "signature expired (x=)";
        return "neutral";
    case DKIM_SIGERROR_FUTURE:
        *reason = "signature timestamp in the future (t=)";
        return "neutral";
    case DKIM_SIGERROR_SUBDOMAIN:
        *reason = "i= domain is not d= and the key has t=s";
        return "permerror";
    case DKIM_SIGERROR_DOMAIN:
        *reason = "i= is not within d=";
        return "permerror";
    case DKIM_SIGERROR_TOOLARGE_L:
        *reason = "l= is longer than the body";
        return "permerror";
    default:
        return NULL;
    }
}

/* t= and x= are digits (RFC 6376 3.5); libopendkim reads "", "-1" or
 * "never" as a time and would call the signature expired or future. */
static const char *ps_verify_bad_time(DKIM_SIGINFO *sig, const char **reason)
{
    static const char *const tags[] = {"t", "x"};

    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        const char *v = (const char *)dkim_sig_gettagvalue(
            sig, 0, (unsigned char *)tags[i]);
        size_t n = v != NULL ? strspn(v, "0123456789") : 0;
        if (v != NULL && (n == 0 || v[n] != '\0')) {
            *reason =
                i == 0 ? "t= is not a timestamp" : "x= is not a timestamp";
            return "permerror";
        }
    }
    return NULL;
}

/* RFC 8601 result and reason for one processed signature. */
static const char *ps_verify_word(const ps_verify *v, DKIM_SIGINFO *sig,
                                  const char **reason)
{
    unsigned int flags = dkim_sig_getflags(sig);
    int e = dkim_sig_geterror(sig);
    const char *word;

    *reason = ps_verify_tempfailed(v, sig);
    if (*reason != NULL)
        return "temperror";
    if ((word = ps_verify_bad_time(sig, reason)) != NULL ||
        (word = ps_verify_unusable(e, reason)) != NULL)
        return word;
    if ((flags & DKIM_SIGFLAG_PASSED) &&
        dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
        dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
        if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK ||
            alg != DKIM_SIGN_RSASHA1)
            return "pass";
        *reason = "rsa-sha1 is not accepted (RFC 8301)";
        return "policy"; /* verified, but by a hash RFC 8301 retired */
    }
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
    return "permerror";
}

/* For a passing signature whose l= leaves part of the body out, a
 * comment that says so: a reader must not trust what follows. */
static const char *ps_verify_l_comment(ps_verify *v, DKIM_SIGINFO *sig,
                                       size_t i)
{
    ssize_t msglen = -1, signlen = -1;

    if (i >= sizeof(v->comments) / sizeof(v->comments[0]) ||
        dkim_sig_getcanonlen(v->dkim, sig, &msglen, NULL, &signlen) !=
            DKIM_STAT_OK ||
        signlen < 0 || msglen <= signlen)
        return NULL;
    snprintf(v->comments[i], sizeof(v->comments[i]),
             "l=%zd: only the first %zd body octets are signed", signlen,
             signlen);
    return v->comments[i];
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
    r->result = ps_verify_word(v, sig, &r->reason);
    if (strcmp(r->result, "pass") == 0)
        r->comment = ps_verify_l_comment(v, sig, i);
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
