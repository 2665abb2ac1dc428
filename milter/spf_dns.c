/* A libspf2 DNS layer over dnsq.c, so SPF lookups go to the [milter]
 * resolver like DKIM key lookups do: each reply is parsed into libspf2's
 * record sets (A, AAAA, MX, PTR, TXT) with its h_errno-style status. */
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "milter.h"
#include "spf_dns.h"

#define PS_SPF_DNS_BUF 8192

/* Copies one record's data into slot cnt: 0, or -1 to skip it. */
static int ps_spf_dns_txt(SPF_dns_rr_t *rr, int cnt, const unsigned char *rd,
                          size_t rdlen)
{
    char *dst;
    size_t i = 0, n;

    if (SPF_dns_rr_buf_realloc(rr, cnt, rdlen + 1) != SPF_E_SUCCESS)
        return -1;
    dst = rr->rr[cnt]->txt;
    while (i < rdlen) {
        n = rd[i++];
        if (n > rdlen - i)
            return -1; /* a string running past its record */
        memcpy(dst, rd + i, n);
        dst += n;
        i += n;
    }
    *dst = '\0';
    return 0;
}

static int ps_spf_dns_name(SPF_dns_rr_t *rr, int cnt, const ns_msg *msg,
                           const unsigned char *rd)
{
    char name[NS_MAXDNAME];

    if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), rd, name,
                           sizeof(name)) < 0 ||
        SPF_dns_rr_buf_realloc(rr, cnt, strlen(name) + 1) != SPF_E_SUCCESS)
        return -1;
    strcpy(rr->rr[cnt]->ptr, name); /* mx and ptr share the slot */
    return 0;
}

static int ps_spf_dns_fixed(SPF_dns_rr_t *rr, int cnt, const void *rd,
                            size_t rdlen, size_t want)
{
    if (rdlen != want || SPF_dns_rr_buf_realloc(rr, cnt, want) != SPF_E_SUCCESS)
        return -1;
    memcpy(rr->rr[cnt], rd, want);
    return 0;
}

static int ps_spf_dns_add(SPF_dns_rr_t *rr, int cnt, const ns_msg *msg,
                          const ns_rr *r)
{
    const unsigned char *rd = ns_rr_rdata(*r);
    size_t rdlen = ns_rr_rdlen(*r);

    switch (ns_rr_type(*r)) {
    case ns_t_a:
        return ps_spf_dns_fixed(rr, cnt, rd, rdlen, sizeof(struct in_addr));
    case ns_t_aaaa:
        return ps_spf_dns_fixed(rr, cnt, rd, rdlen, sizeof(struct in6_addr));
    case ns_t_mx:
        return rdlen > 2 ? ps_spf_dns_name(rr, cnt, msg, rd + 2) : -1;
    case ns_t_ptr:
        return ps_spf_dns_name(rr, cnt, msg, rd);
    case ns_t_txt:
    case ns_t_spf:
        return ps_spf_dns_txt(rr, cnt, rd, rdlen);
    default:
        return -1;
    }
}

static SPF_dns_stat_t ps_spf_dns_status(int rcode)
{
    switch (rcode) {
    case ns_r_noerror:
        return NETDB_SUCCESS;
    case ns_r_nxdomain:
        return HOST_NOT_FOUND;
    case ns_r_servfail:
        return TRY_AGAIN;
    default:
        return NO_RECOVERY;
    }
}

static SPF_dns_rr_t *ps_spf_dns_parse(SPF_dns_server_t *srv, const char *domain,
                                      ns_type type, const unsigned char *ans,
                                      int len)
{
    SPF_dns_rr_t *rr;
    ns_msg msg;
    ns_rr r;
    int cnt = 0, n;

    if (ns_initparse(ans, len, &msg) < 0)
        return SPF_dns_rr_new_init(srv, domain, type, 0, NO_RECOVERY);
    rr =
        SPF_dns_rr_new_init(srv, domain, type, 0,
                            ps_spf_dns_status(ns_msg_getflag(msg, ns_f_rcode)));
    if (rr == NULL || rr->herrno != NETDB_SUCCESS)
        return rr;
    n = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < n; i++) {
        if (ns_parserr(&msg, ns_s_an, i, &r) < 0) {
            rr->herrno = NO_RECOVERY;
            break;
        }
        if (ns_rr_type(r) == type && ps_spf_dns_add(rr, cnt, &msg, &r) == 0)
            cnt++;
    }
    rr->num_rr = cnt;
    if (cnt == 0 && rr->herrno == NETDB_SUCCESS)
        rr->herrno = NO_DATA;
    return rr;
}

static SPF_dns_rr_t *ps_spf_dns_lookup(SPF_dns_server_t *srv,
                                       const char *domain, ns_type type,
                                       int should_cache)
{
    unsigned char *ans = malloc(PS_SPF_DNS_BUF);
    SPF_dns_rr_t *rr;
    int n;

    (void)should_cache;
    if (ans == NULL)
        return NULL; /* libspf2's convention for out of memory */
    n = ps_dnsq_query(srv->hook, domain, type, ans, PS_SPF_DNS_BUF);
    rr = n < 0 ? SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN)
               : ps_spf_dns_parse(srv, domain, type, ans, n);
    free(ans);
    return rr;
}

static void ps_spf_dns_destroy(SPF_dns_server_t *srv)
{
    free(srv);
}

SPF_dns_server_t *ps_spf_dns_new(const ps_dnsq *dq)
{
    SPF_dns_server_t *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->destroy = ps_spf_dns_destroy;
    srv->lookup = ps_spf_dns_lookup;
    srv->name = "postseal";
    srv->hook = (void *)dq;
    return srv;
}
