/* TXT and MX lookups through libresolv with a private resolver state per
 * call (thread-safe, no global), so a check can name its own server and
 * keep timeouts short instead of inheriting resolv.conf's. */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_ANSWER_MAX 65536 /* a TCP answer can be this large */

_Static_assert(PS_DNS_TYPE_TXT == ns_t_txt && PS_DNS_TYPE_MX == ns_t_mx &&
                   PS_DNS_TYPE_A == ns_t_a && PS_DNS_TYPE_AAAA == ns_t_aaaa,
               "record type numbers");
#define DNS_SPEC_MAX 64 /* "[IPv6]:PORT" fits with room to spare */

/* ---- the resolver address ----------------------------------------------- */

/* Digits only: strtol alone would take "+53", " 53" or "053x". */
static int dns_port(const char *s, in_port_t *port, ps_err *err)
{
    size_t n = strlen(s);
    long v = n > 0 && n <= 5 && strspn(s, "0123456789") == n
                 ? strtol(s, NULL, 10)
                 : 0;

    if (v < 1 || v > 65535)
        return ps_err_set(err, "port must be a number from 1 to 65535");
    *port = htons((in_port_t)v);
    return 0;
}

/* Splits "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT" into host and port
 * text; a bare IPv6 address has several ':' and no port. */
static int dns_split(char *buf, char **host, char **port, ps_err *err)
{
    char *colon;

    *port = NULL;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return ps_err_set(err, "expected [IPv6]:PORT");
        *close = '\0';
        *host = buf + 1;
        if (close[1] == ':')
            *port = close + 2;
        return 0;
    }
    *host = buf;
    colon = strchr(buf, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        *colon = '\0';
        *port = colon + 1;
    }
    return 0;
}

int ps_dns_server_parse(const char *spec, ps_dns_server *out, ps_err *err)
{
    char buf[DNS_SPEC_MAX], *host = buf, *port = NULL;
    in_port_t p = htons(NS_DEFAULTPORT);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;

    memset(out, 0, sizeof(*out));
    if (strlen(spec) >= sizeof(buf))
        return ps_err_set(err, "too long for an address and port");
    strcpy(buf, spec);
    if (dns_split(buf, &host, &port, err) < 0)
        return -1;
    if (port != NULL && dns_port(port, &p, err) < 0)
        return -1;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1 && buf[0] != '[') {
        v4->sin_family = AF_INET;
        v4->sin_port = p;
        out->len = sizeof(*v4);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = p;
        out->len = sizeof(*v6);
        return 0;
    }
    return ps_err_set(err, "expected IP, IP:PORT or [IPv6]:PORT");
}

/* Points the state at one server. An IPv6 server lives, as glibc keeps
 * it after reading resolv.conf, in a malloc'd slot of the extension
 * area (freed by res_nclose) with the IPv4 slot marked unused. */
static int dns_use_server(res_state st, const char *spec, ps_err *err)
{
    ps_dns_server server;
    struct sockaddr_in6 *slot;
    ps_err why = {""};

    if (ps_dns_server_parse(spec, &server, &why) < 0)
        return ps_err_set(err, "resolver \"%.80s\": %s", spec, why.msg);
    st->nscount = 1;
    if (server.addr.ss_family == AF_INET) {
        memcpy(&st->nsaddr_list[0], &server.addr, sizeof(st->nsaddr_list[0]));
        return 0;
    }
    slot = st->_u._ext.nsaddrs[0];
    if (slot == NULL) {
        slot = malloc(sizeof(*slot));
        if (slot == NULL)
            return ps_err_set(err, "out of memory");
        st->_u._ext.nsaddrs[0] = slot;
    }
    memcpy(slot, &server.addr, sizeof(*slot));
    st->nsaddr_list[0].sin_family = 0;
    return 0;
}

static int dns_open(res_state st, const char *resolver, ps_err *err)
{
    memset(st, 0, sizeof(*st));
    if (res_ninit(st) != 0)
        return ps_err_set(err, "cannot initialise the resolver");
    st->retrans = PS_DNS_RETRANS;
    st->retry = PS_DNS_RETRY;
    if (resolver != NULL && dns_use_server(st, resolver, err) < 0) {
        res_nclose(st);
        return -1;
    }
    return 0;
}

/* ---- reading the answer ------------------------------------------------- */

/* A TXT RR is one or more <length><bytes> strings; DKIM, SPF and DMARC
 * all read them joined with nothing in between. */
static char *dns_txt_join(const uint8_t *rd, size_t n, ps_err *err)
{
    char *out = malloc(n + 1), *o = out;
    size_t i = 0;

    if (out == NULL)
        return ps_err_set(err, "out of memory"), NULL;
    while (i < n) {
        size_t len = rd[i++];

        if (len > n - i || memchr(rd + i, '\0', len) != NULL) {
            free(out);
            ps_err_set(err, len > n - i ? "malformed TXT record"
                                        : "TXT record holds a NUL byte");
            return NULL;
        }
        memcpy(o, rd + i, len);
        o += len;
        i += len;
    }
    *o = '\0';
    return out;
}

static char *dns_mx_name(const ns_msg *msg, const ns_rr *rr, ps_err *err)
{
    char name[NS_MAXDNAME];

    if (ns_rr_rdlen(*rr) < 3 ||
        ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg),
                           ns_rr_rdata(*rr) + 2, name, sizeof(name)) < 0)
        return ps_err_set(err, "malformed MX record"), NULL;
    if (strcmp(name, ".") != 0 && name[0] != '\0' &&
        name[strlen(name) - 1] == '.')
        name[strlen(name) - 1] = '\0';
    if (name[0] == '\0')
        strcpy(name, ".");
    return strdup(name);
}

/* An A or AAAA record as text; a wrong length is a malformed reply. */
static char *dns_addr(const ns_rr *rr, ps_err *err)
{
    char text[INET6_ADDRSTRLEN];
    int family = ns_rr_type(*rr) == ns_t_a ? AF_INET : AF_INET6;
    unsigned want = family == AF_INET ? 4 : 16;

    if (ns_rr_rdlen(*rr) != want ||
        inet_ntop(family, ns_rr_rdata(*rr), text, sizeof(text)) == NULL) {
        ps_err_set(err, "malformed address record");
        return NULL;
    }
    return strdup(text);
}

/* Answers may hold a CNAME chain before the records asked for: only RRs
 * of the queried type count. */
static int dns_collect(const ns_msg *msg, int type, ps_dns_answer *ans,
                       ps_err *err)
{
    ns_msg m = *msg; /* ns_parserr keeps a cursor in it */
    ns_rr rr;

    for (int i = 0; i < ns_msg_count(m, ns_s_an); i++) {
        char *rec;

        if (ns_parserr(&m, ns_s_an, i, &rr) < 0)
            return ps_err_set(err, "malformed reply");
        if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
            continue;
        if (ans->count == PS_DNS_MAX_RECORDS)
            return ps_err_set(err, "more than %d records", PS_DNS_MAX_RECORDS);
        if (type == ns_t_txt)
            rec = dns_txt_join(ns_rr_rdata(rr), ns_rr_rdlen(rr), err);
        else if (type == ns_t_mx)
            rec = dns_mx_name(&m, &rr, err);
        else
            rec = dns_addr(&rr, err);
        if (rec == NULL)
            return -1;
        ans->records[ans->count++] = rec;
    }
    return 0;
}

int ps_dns_parse_reply(const unsigned char *buf, size_t len, int type,
                       ps_dns_answer *ans, ps_err *err)
{
    ns_msg msg;
    int rcode;

    memset(ans, 0, sizeof(*ans));
    if (type != ns_t_txt && type != ns_t_mx && type != ns_t_a &&
        type != ns_t_aaaa)
        return ps_err_set(err, "unsupported record type %d", type);
    if (len > DNS_ANSWER_MAX || ns_initparse(buf, (int)len, &msg) < 0)
        return ps_err_set(err, "malformed reply");
    rcode = ns_msg_getflag(msg, ns_f_rcode);
    if (rcode == ns_r_nxdomain) {
        ans->nxdomain = 1;
        return 0;
    }
    if (rcode != ns_r_noerror)
        return ps_err_set(err, "server answered with rcode %d", rcode);
    if (dns_collect(&msg, type, ans, err) < 0) {
        ps_dns_answer_free(ans);
        return -1;
    }
    return 0;
}

/* ---- one query ---------------------------------------------------------- */

static int dns_send(res_state st, const char *name, int type, uint8_t *buf,
                    int *len, ps_err *err)
{
    uint8_t query[NS_PACKETSZ];
    int qlen = res_nmkquery(st, ns_o_query, name, ns_c_in, type, NULL, 0, NULL,
                            query, sizeof(query));

    if (qlen < 0)
        return ps_err_set(err, "not a name that can be looked up");
    errno = 0;
    *len = res_nsend(st, query, qlen, buf, DNS_ANSWER_MAX);
    if (*len >= 0)
        return 0;
    if (errno == ECONNREFUSED)
        return ps_err_set(err, "connection refused (is a DNS server "
                               "listening there?)");
    return ps_err_set(err, "no answer (timed out, or the server failed)");
}

static int dns_lookup(const char *resolver, const char *name, int type,
                      ps_dns_answer *ans, ps_err *err)
{
    struct __res_state st;
    ps_err why = {""};
    uint8_t *buf = NULL;
    int len = 0, rc = -1;

    memset(ans, 0, sizeof(*ans));
    if (name == NULL || name[0] == '\0')
        return ps_err_set(err, "DNS lookup: empty name");
    if (dns_open(&st, resolver, &why) < 0)
        goto fail;
    buf = malloc(DNS_ANSWER_MAX);
    if (buf == NULL)
        ps_err_set(&why, "out of memory");
    else if (dns_send(&st, name, type, buf, &len, &why) == 0)
        rc = ps_dns_parse_reply(buf, (size_t)len, type, ans, &why);
    res_nclose(&st);
    free(buf);
fail:
    if (rc < 0) {
        ps_dns_answer_free(ans);
        ps_err_set(err, "DNS lookup of %.300s %s via %s: %s", name,
                   type == ns_t_txt  ? "TXT"
                   : type == ns_t_mx ? "MX"
                   : type == ns_t_a  ? "A"
                                     : "AAAA",
                   resolver != NULL ? resolver : "the system resolver",
                   why.msg);
    }
    return rc;
}

int ps_dns_txt(const char *resolver, const char *name, ps_dns_answer *ans,
               ps_err *err)
{
    return dns_lookup(resolver, name, ns_t_txt, ans, err);
}

int ps_dns_mx(const char *resolver, const char *name, ps_dns_answer *ans,
              ps_err *err)
{
    return dns_lookup(resolver, name, ns_t_mx, ans, err);
}

int ps_dns_lookup(const char *resolver, const char *name, int type,
                  ps_dns_answer *ans, ps_err *err)
{
    return dns_lookup(resolver, name, type, ans, err);
}

void ps_dns_answer_free(ps_dns_answer *ans)
{
    if (ans == NULL)
        return;
    for (size_t i = 0; i < ans->count; i++)
        free(ans->records[i]);
    memset(ans, 0, sizeof(*ans));
}
