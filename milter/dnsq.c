/* Raw DNS queries for libopendkim and libspf2, which both parse replies
 * themselves: to the [milter] resolver over UDP (TCP when truncated), so
 * tests and sites can point them at one server, or to the system's. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dns/dns.h"
#include "milter.h"

#define PS_DNSQ_EDNS_SIZE 4096
#define PS_DNSQ_MAXQUERY  (NS_HFIXEDSZ + NS_MAXCDNAME + 4 + 11)

/* The address comes from the core's one parser of the resolver grammar,
 * the same call the config check makes. */
int ps_dnsq_init(ps_dnsq *q, const char *resolver, ps_err *err)
{
    ps_dns_server server;
    ps_err why = {""};

    memset(q, 0, sizeof(*q));
    q->timeout_ms = PS_MILTER_DNS_TIMEOUT * 1000;
    q->tries = 2;
    q->system = resolver == NULL;
    if (resolver == NULL)
        return 0;
    if (ps_dns_server_parse(resolver, &server, &why) != 0)
        return ps_err_set(err, "bad resolver '%.80s': %s", resolver, why.msg);
    memcpy(&q->server, &server.addr, sizeof(q->server));
    q->server_len = server.len;
    return 0;
}

/* A recursive query for name, with an EDNS0 record offering large UDP
 * replies; its length, or -1 for a name that cannot be encoded. */
static int ps_dnsq_build(const char *name, int type, unsigned char *buf,
                         size_t size)
{
    HEADER *h = (HEADER *)buf;
    uint16_t id;
    int n;
    unsigned char *p;

    memset(buf, 0, NS_HFIXEDSZ);
    if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
        return -1;
    h->id = id;
    h->rd = 1;
    h->qdcount = htons(1);
    h->arcount = htons(1);
    n = dn_comp(name, buf + NS_HFIXEDSZ, (int)(size - NS_HFIXEDSZ - 15), NULL,
                NULL);
    if (n < 0)
        return -1;
    p = buf + NS_HFIXEDSZ + n;
    NS_PUT16(type, p);
    NS_PUT16(ns_c_in, p);
    *p++ = 0; /* OPT: root name, type 41, class = our UDP size */
    NS_PUT16(ns_t_opt, p);
    NS_PUT16(PS_DNSQ_EDNS_SIZE, p);
    NS_PUT32(0, p);
    NS_PUT16(0, p);
    return (int)(p - buf);
}

/* Whether a reply answers our query: same id, a response, and the same
 * question (ASCII case ignored: servers may change it). */
static int ps_dnsq_matches(const unsigned char *q, int qlen,
                           const unsigned char *a, int alen)
{
    int qsec = qlen - NS_HFIXEDSZ - 11;

    if (alen < NS_HFIXEDSZ + qsec || memcmp(q, a, 2) != 0 ||
        !((const HEADER *)a)->qr || ((const HEADER *)a)->qdcount != htons(1))
        return 0;
    for (int i = NS_HFIXEDSZ; i < NS_HFIXEDSZ + qsec; i++)
        if (tolower(q[i]) != tolower(a[i]))
            return 0;
    return 1;
}

static int ps_dnsq_wait(int fd, short events, int ms)
{
    struct pollfd p = {fd, events, 0};
    int rc;

    do
        rc = poll(&p, 1, ms);
    while (rc < 0 && errno == EINTR);
    return rc == 1 ? 0 : -1;
}

static int ps_dnsq_socket(const ps_dnsq *dq, int type)
{
    int fd =
        socket(dq->server.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&dq->server, dq->server_len) !=
            0 &&
        (errno != EINPROGRESS || ps_dnsq_wait(fd, POLLOUT, dq->timeout_ms))) {
        close(fd);
        return -1;
    }
    return fd;
}

static int ps_dnsq_udp(const ps_dnsq *dq, const unsigned char *q, int qlen,
                       unsigned char *ans, size_t anslen)
{
    int fd = ps_dnsq_socket(dq, SOCK_DGRAM), n = -1;

    if (fd < 0)
        return -1;
    if (send(fd, q, (size_t)qlen, 0) == qlen) {
        /* Replies that don't match (late, spoofed) are skipped until the
         * try's time is up. */
        while (ps_dnsq_wait(fd, POLLIN, dq->timeout_ms) == 0) {
            n = (int)recv(fd, ans, anslen, 0);
            if (n > 0 && ps_dnsq_matches(q, qlen, ans, n))
                break;
            n = -1;
        }
    }
    close(fd);
    return n;
}

static int ps_dnsq_io(int fd, unsigned char *buf, size_t n, int out, int ms)
{
    size_t done = 0;
    ssize_t r;

    while (done < n) {
        if (ps_dnsq_wait(fd, out ? POLLOUT : POLLIN, ms) != 0)
            return -1;
        r = out ? send(fd, buf + done, n - done, MSG_NOSIGNAL)
                : recv(fd, buf + done, n - done, 0);
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static int ps_dnsq_tcp(const ps_dnsq *dq, const unsigned char *q, int qlen,
                       unsigned char *ans, size_t anslen)
{
    unsigned char out[2 + PS_DNSQ_MAXQUERY], len[2];
    int fd = ps_dnsq_socket(dq, SOCK_STREAM), n = -1;
    size_t alen;

    if (fd < 0)
        return -1;
    out[0] = (unsigned char)(qlen >> 8);
    out[1] = (unsigned char)qlen;
    memcpy(out + 2, q, (size_t)qlen);
    if (ps_dnsq_io(fd, out, (size_t)qlen + 2, 1, dq->timeout_ms) == 0 &&
        ps_dnsq_io(fd, len, 2, 0, dq->timeout_ms) == 0) {
        alen = (size_t)len[0] << 8 | len[1];
        if (alen <= anslen &&
            ps_dnsq_io(fd, ans, alen, 0, dq->timeout_ms) == 0 &&
            ps_dnsq_matches(q, qlen, ans, (int)alen))
            n = (int)alen;
    }
    close(fd);
    return n;
}

static int ps_dnsq_system(const ps_dnsq *dq, const unsigned char *q, int qlen,
                          unsigned char *ans, size_t anslen)
{
    struct __res_state st;
    int n;

    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) != 0)
        return -1;
    /* resolv.conf's waits, but never longer than ours (a caller with a
     * deadline shortens them; the resolver waits a second at least) */
    if (st.retrans > dq->timeout_ms / 1000)
        st.retrans = dq->timeout_ms >= 1000 ? dq->timeout_ms / 1000 : 1;
    if (st.retry > dq->tries)
        st.retry = dq->tries;
    n = res_nsend(&st, q, qlen, ans, (int)anslen);
    res_nclose(&st);
    return n;
}

int ps_dnsq_query(const ps_dnsq *dq, const char *name, int type,
                  unsigned char *ans, size_t anslen)
{
    unsigned char q[PS_DNSQ_MAXQUERY];
    int qlen = ps_dnsq_build(name, type, q, sizeof(q)), n = -1;

    if (qlen < 0 || anslen < NS_HFIXEDSZ)
        return -1;
    if (dq->system)
        return ps_dnsq_system(dq, q, qlen, ans, anslen);
    for (int i = 0; i < dq->tries && n < 0; i++)
        n = ps_dnsq_udp(dq, q, qlen, ans, anslen);
    if (n > 0 && ((HEADER *)ans)->tc)
        n = ps_dnsq_tcp(dq, q, qlen, ans, anslen);
    return n;
}
