/* Benchmark client, not a test: speaks the milter protocol (v6) to a
 * milter the way Postfix does and pushes one message through it N times
 * from C worker threads, counting the fields of one name it gets back
 * (DKIM-Signature for signers; Authentication-Results holding a given
 * text for verifiers). Used by tests/bench/ for postseal-milter vs
 * opendkim and opendmarc.
 *
 * Usage: milter_bench --port PORT --message FILE [--messages N]
 *        [--connections C] [--per-conn K] [--expect S] [--host ADDR]
 *        [--from ADDR] [--socket PATH] [--client IPV4] [--no-auth]
 *        [--count NAME] [--count-text TEXT] [--save-added FILE]
 * Prints one key=value line; exits 1 if any message came back with fewer
 * than S counted fields or failed, so a misconfigured milter cannot look
 * fast. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "base/fdio.h"

#define MAX_WORKERS 256
#define MAX_HEADERS 200
/* libmilter refuses packets over MILTER_MAX_DATA_SIZE (65535) unless a
 * larger size is negotiated, and Postfix sends body chunks of this size. */
#define BODY_CHUNK 65535
#define OUTBUF     (128 * 1024)
/* A milter that stops answering fails the run instead of hanging it. */
#define IO_TIMEOUT_SEC 60

/* What Postfix (milter8.c) offers: every step may be skipped or left
 * unanswered, header values keep their leading space if wanted. */
#define OFFER_PROTO                                                            \
    (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT |            \
     SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NR_HDR |                \
     SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP | SMFIP_RCPT_REJ |            \
     SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |           \
     SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY |            \
     SMFIP_HDR_LEADSPC)
/* All modification actions (SMFIF_ADDHDRS .. SMFIF_SETSYMLIST, mfapi.h):
 * the milter picks what it needs. */
#define OFFER_ACTIONS 0x1FFu

typedef struct hdr {
    char *name;
    char *value; /* as after the ':', leading space kept, folds as LF */
} hdr;

typedef struct message {
    hdr hdrs[MAX_HEADERS];
    size_t nhdrs;
    char *body; /* CRLF line ends, as Postfix passes the body */
    size_t blen;
} message;

typedef struct opts {
    const char *host;
    int port;
    long messages;
    int connections;
    long per_conn;      /* messages per milter connection; 0: one per worker */
    int expect;         /* DKIM-Signature fields wanted per message, exactly */
    const char *from;   /* envelope sender and SASL login */
    const char *socket; /* a unix-domain socket instead of host:port */
    const char *client; /* the SMTP client address in CONNECT */
    int no_auth;        /* no SASL macros: an unauthenticated client */
    const char *count;  /* the added field counted */
    const char *count_text; /* ...only when its value holds this */
    const char *save_added; /* the first message's added fields go here */
} opts;

/* One milter connection and what was negotiated on it. */
typedef struct conn {
    int fd;
    uint32_t proto; /* the protocol flags the milter chose */
    char out[OUTBUF];
    size_t olen;
    char *in; /* the last reply's payload */
    size_t incap;
} conn;

static opts o = {"127.0.0.1",
                 0,
                 1000,
                 4,
                 0,
                 1,
                 "bench@example.com",
                 NULL,
                 "127.0.0.1",
                 0,
                 "DKIM-Signature",
                 NULL,
                 NULL};
static message msg;
static atomic_long next_msg;
static atomic_long n_ok, n_sigs, n_unsigned, n_failed;
static atomic_int first_error_told;
static int quickack = 1;
static int verbose;
static const int one_int = 1;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("milter_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Only the first failure is printed: the count tells the rest. */
static void tell(const char *fmt, ...)
{
    va_list ap;

    if (atomic_exchange(&first_error_told, 1))
        return;
    va_start(ap, fmt);
    fputs("milter_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the message file ---------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n;
    char *p = malloc(cap);

    if (f == NULL || p == NULL)
        die("%s: %s", path, strerror(errno));
    *len = 0;
    while ((n = fread(p + *len, 1, cap - *len, f)) > 0) {
        *len += n;
        if (*len == cap && (p = realloc(p, cap *= 2)) == NULL)
            die("out of memory");
    }
    fclose(f);
    return p;
}

/* Lines of [s, s+n) without their CR/LF, one at a time. */
static size_t next_line(const char *s, size_t n, size_t pos, size_t *end)
{
    size_t i = pos;

    while (i < n && s[i] != '\n')
        i++;
    *end = i > pos && s[i - 1] == '\r' ? i - 1 : i;
    return i < n ? i + 1 : n;
}

static void append(char **buf, size_t *len, size_t *cap, const char *p,
                   size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        if ((*buf = realloc(*buf, *cap)) == NULL)
            die("out of memory");
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Splits the file into header fields (folds joined with LF, as Postfix
 * passes them) and a body with CRLF line ends, whatever the file uses. */
static void load_message(const char *path)
{
    size_t len, pos = 0, end, bcap = 0, vcap = 0;
    char *text = slurp(path, &len);
    hdr *cur = NULL;

    while (pos < len) {
        size_t start = pos;
        pos = next_line(text, len, pos, &end);
        if (end == start)
            break; /* the empty line: the body follows */
        if (text[start] == ' ' || text[start] == '\t') {
            size_t vlen;
            if (cur == NULL)
                die("%s: continuation line before any header", path);
            vlen = strlen(cur->value);
            vcap = vlen + 1;
            append(&cur->value, &vlen, &vcap, "\n", 1);
            append(&cur->value, &vlen, &vcap, text + start, end - start);
            continue;
        }
        char *colon = memchr(text + start, ':', end - start);
        if (colon == NULL || msg.nhdrs == MAX_HEADERS)
            die("%s: bad or too many header lines", path);
        cur = &msg.hdrs[msg.nhdrs++];
        cur->name = strndup(text + start, (size_t)(colon - (text + start)));
        cur->value = strndup(colon + 1, (size_t)(text + end - colon - 1));
        if (cur->name == NULL || cur->value == NULL)
            die("out of memory");
    }
    while (pos < len) {
        size_t start = pos;
        int had_nl;
        pos = next_line(text, len, pos, &end);
        had_nl = pos > 0 && text[pos - 1] == '\n';
        append(&msg.body, &msg.blen, &bcap, text + start, end - start);
        if (had_nl)
            append(&msg.body, &msg.blen, &bcap, "\r\n", 2);
    }
    if (msg.body == NULL)
        append(&msg.body, &msg.blen, &bcap, "", 0);
    if (msg.nhdrs == 0)
        die("%s: no header fields", path);
    free(text);
}

/* ---- the wire ------------------------------------------------------------ */

static int flush_out(conn *c)
{
    int rc = ps_fd_write_all(c->fd, c->out, c->olen);

    c->olen = 0;
    return rc;
}

/* Queues one packet (length, command, payload pieces). Postfix, too,
 * writes commands that need no answer into a buffer and flushes before it
 * waits for one; a body chunk (at most BODY_CHUNK) always fits. */
static int put(conn *c, char cmd, const char *a, size_t alen, const char *b,
               size_t blen)
{
    uint32_t len = htonl((uint32_t)(1 + alen + blen));
    size_t need = 5 + alen + blen;

    if (need > sizeof(c->out))
        return -1;
    if (c->olen + need > sizeof(c->out) && flush_out(c) != 0)
        return -1;
    memcpy(c->out + c->olen, &len, 4);
    c->out[c->olen + 4] = cmd;
    if (alen)
        memcpy(c->out + c->olen + 5, a, alen);
    if (blen)
        memcpy(c->out + c->olen + 5 + alen, b, blen);
    c->olen += need;
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Flushes, then reads one reply; its payload is left in c->in. Progress
 * replies only say "still working" and are skipped. Returns the reply
 * code, or -1 on a broken connection. */
static int reply(conn *c, uint32_t *plen)
{
    for (;;) {
        unsigned char head[5];
        uint32_t len;

        if (c->olen > 0 && flush_out(c) != 0)
            return -1;
        if (quickack && o.socket == NULL)
            setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one_int,
                       sizeof(one_int));
        if (read_all(c->fd, (char *)head, 5) != 0)
            return -1;
        memcpy(&len, head, 4);
        len = ntohl(len);
        if (len == 0 || len > 16 * 1024 * 1024)
            return -1;
        len -= 1;
        if (len + 1 > c->incap) {
            free(c->in);
            c->incap = len + 1;
            if ((c->in = malloc(c->incap)) == NULL)
                return -1;
        }
        if (read_all(c->fd, c->in, len) != 0)
            return -1;
        c->in[len] = '\0';
        if (verbose)
            fprintf(stderr, "milter_bench: fd %d reply '%c' (%u bytes)\n",
                    c->fd, head[4], len);
        if (head[4] == SMFIR_PROGRESS)
            continue;
        if (plen != NULL)
            *plen = len;
        return head[4];
    }
}

/* Macros for the next command, name/value pairs ending with NULL. */
static int macros(conn *c, char stage, ...)
{
    char buf[1024];
    size_t n = 1;
    va_list ap;
    const char *s;

    buf[0] = stage;
    va_start(ap, stage);
    while ((s = va_arg(ap, const char *)) != NULL) {
        size_t l = strlen(s) + 1;
        if (n + l > sizeof(buf)) {
            va_end(ap);
            return -1;
        }
        memcpy(buf + n, s, l);
        n += l;
    }
    va_end(ap);
    return put(c, SMFIC_MACRO, buf, n, NULL, 0);
}

/* Sends one command unless the milter asked not to get it (skip flag),
 * and waits for the continue unless it asked not to answer (nr flag).
 * 1: continue, 0: the milter ended the message/connection early. */
static int step(conn *c, uint32_t skip, uint32_t nr, char cmd, const char *a,
                size_t alen)
{
    int r;

    if (c->proto & skip)
        return 1;
    if (put(c, cmd, a, alen, NULL, 0) != 0)
        return -1;
    if (c->proto & nr)
        return 1;
    if ((r = reply(c, NULL)) < 0)
        return -1;
    if (r == SMFIR_CONTINUE)
        return 1;
    tell("reply '%c' to command '%c'", r, cmd);
    return 0;
}

static void conn_close(conn *c, int polite)
{
    if (c->fd < 0)
        return;
    if (polite && put(c, SMFIC_QUIT, NULL, 0, NULL, 0) == 0)
        flush_out(c);
    close(c->fd);
    c->fd = -1;
    c->olen = 0;
}

/* A connected socket to the milter: TCP to --host:--port, or the unix
 * socket at --socket (Postfix's unix:PATH milters). */
static int conn_socket(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)o.port)};
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    int fd, one = 1;

    if (o.socket != NULL) {
        snprintf(su.sun_path, sizeof(su.sun_path), "%s", o.socket);
        if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0 &&
            connect(fd, (struct sockaddr *)&su, sizeof(su)) == 0)
            return fd;
        tell("connect to %s: %s", o.socket, strerror(errno));
    } else {
        if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1)
            die("bad --host %s", o.host);
        /* Small replies must not wait for Nagle. */
        if ((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
            connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        tell("connect to %s:%d: %s", o.host, o.port, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Connects, negotiates and sends the SMTP connection's CONNECT and HELO,
 * with the macros Postfix sends by default at each stage. */
static int conn_open(conn *c)
{
    struct timeval tv = {IO_TIMEOUT_SEC, 0};
    uint32_t neg[3] = {htonl(6), htonl(OFFER_ACTIONS), htonl(OFFER_PROTO)};
    uint32_t len;
    int r;
    /* CONNECT: host name, family '4', client port, address. */
    char cbuf[64], client_macro[80];
    int clen = snprintf(cbuf, sizeof(cbuf), "localhost%c4%c%c%s", 0, 0x63, 0x21,
                        o.client);

    if ((c->fd = conn_socket()) < 0)
        return -1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (put(c, SMFIC_OPTNEG, (char *)neg, sizeof(neg), NULL, 0) != 0 ||
        (r = reply(c, &len)) != SMFIC_OPTNEG || len < 12) {
        tell("option negotiation failed");
        return -1;
    }
    memcpy(&c->proto, c->in + 8, 4);
    c->proto = ntohl(c->proto);
    snprintf(client_macro, sizeof(client_macro), "localhost [%s]", o.client);
    if (macros(c, SMFIC_CONNECT, "j", "bench.example.com", "{daemon_name}",
               "smtpd", "v", "Postfix 3.7 (milter_bench)", "_", client_macro,
               NULL) != 0)
        return -1;
    if (step(c, SMFIP_NOCONNECT, SMFIP_NR_CONN, SMFIC_CONNECT, cbuf,
             (size_t)clen + 1) != 1)
        return -1;
    if (step(c, SMFIP_NOHELO, SMFIP_NR_HELO, SMFIC_HELO, "bench.example.com",
             sizeof("bench.example.com")) != 1)
        return -1;
    return 0;
}

/* One added field, "name\0value\0" in n bytes: 1 when it is the kind
 * counted. The first message's fields are saved when asked (a chain's
 * next milter gets the message with them, as Postfix passes it on). */
static int added(const char *p, size_t n, int first)
{
    size_t nl = strnlen(p, n);
    const char *v = nl < n ? p + nl + 1 : "";

    if (nl + 1 >= n || memchr(v, '\0', n - nl - 1) == NULL)
        return 0;
    if (first && o.save_added != NULL) {
        FILE *f = fopen(o.save_added, "a"); /* message 0: one thread */
        if (f == NULL || fprintf(f, "%s:%s\r\n", p, v) < 0 || fclose(f) != 0)
            die("%s: cannot write", o.save_added);
    }
    return strcasecmp(p, o.count) == 0 &&
           (o.count_text == NULL || strstr(v, o.count_text) != NULL);
}

/* One message, MAIL to end of body. Returns the number of DKIM-Signature
 * fields the milter added, or -1 if the connection is broken. */
static int one_message(conn *c, long n)
{
    char qid[32], hbuf[8192], env[300];
    int r, sigs = 0;
    uint32_t len;

    snprintf(qid, sizeof(qid), "B%09lX", n);
    snprintf(env, sizeof(env), "<%s>", o.from);
    if ((o.no_auth
             ? macros(c, SMFIC_MAIL, "i", qid, "{mail_addr}", o.from, NULL)
             : macros(c, SMFIC_MAIL, "i", qid, "{auth_type}", "PLAIN",
                      "{auth_authen}", o.from, "{mail_addr}", o.from, NULL)) !=
        0)
        return -1;
    if ((r = step(c, SMFIP_NOMAIL, SMFIP_NR_MAIL, SMFIC_MAIL, env,
                  strlen(env) + 1)) != 1)
        goto early;
    if (macros(c, SMFIC_RCPT, "{rcpt_addr}", "rcpt@example.net", NULL) != 0)
        return -1;
    if ((r = step(c, SMFIP_NORCPT, SMFIP_NR_RCPT, SMFIC_RCPT,
                  "<rcpt@example.net>", sizeof("<rcpt@example.net>"))) != 1)
        goto early;
    if ((r = step(c, SMFIP_NODATA, SMFIP_NR_DATA, SMFIC_DATA, NULL, 0)) != 1)
        goto early;
    for (size_t i = 0; i < msg.nhdrs; i++) {
        const char *v = msg.hdrs[i].value;
        size_t nl = strlen(msg.hdrs[i].name) + 1, vl;
        /* Without HDR_LEADSPC the MTA drops the space after the colon. */
        if (!(c->proto & SMFIP_HDR_LEADSPC))
            while (*v == ' ' || *v == '\t')
                v++;
        vl = strlen(v) + 1;
        if (nl + vl > sizeof(hbuf))
            return -1;
        memcpy(hbuf, msg.hdrs[i].name, nl);
        memcpy(hbuf + nl, v, vl);
        if ((r = step(c, SMFIP_NOHDRS, SMFIP_NR_HDR, SMFIC_HEADER, hbuf,
                      nl + vl)) != 1)
            goto early;
    }
    if (macros(c, SMFIC_EOH, "i", qid, NULL) != 0)
        return -1;
    if ((r = step(c, SMFIP_NOEOH, SMFIP_NR_EOH, SMFIC_EOH, NULL, 0)) != 1)
        goto early;
    for (size_t off = 0; !(c->proto & SMFIP_NOBODY) && off < msg.blen;) {
        size_t k = msg.blen - off < BODY_CHUNK ? msg.blen - off : BODY_CHUNK;
        if (put(c, SMFIC_BODY, msg.body + off, k, NULL, 0) != 0)
            return -1;
        off += k;
        if (c->proto & SMFIP_NR_BODY)
            continue;
        if ((r = reply(c, NULL)) < 0)
            return -1;
        if (r == SMFIR_SKIP)
            break;
        if (r != SMFIR_CONTINUE) {
            tell("reply '%c' to a body chunk", r);
            r = 0;
            goto early;
        }
    }
    if (macros(c, SMFIC_BODYEOB, "i", qid, NULL) != 0 ||
        put(c, SMFIC_BODYEOB, NULL, 0, NULL, 0) != 0)
        return -1;
    /* Modifications come first, then the verdict. */
    for (;;) {
        if ((r = reply(c, &len)) < 0)
            return -1;
        if (r == SMFIR_ADDHEADER || (r == SMFIR_INSHEADER && len > 4))
            sigs += added(c->in + (r == SMFIR_INSHEADER ? 4 : 0),
                          len - (r == SMFIR_INSHEADER ? 4 : 0), n == 0);
        else if (r == SMFIR_CONTINUE || r == SMFIR_ACCEPT)
            return sigs;
        else if (r == SMFIR_REJECT || r == SMFIR_TEMPFAIL ||
                 r == SMFIR_DISCARD || r == SMFIR_REPLYCODE ||
                 r == SMFIR_CONN_FAIL || r == SMFIR_SHUTDOWN) {
            tell("reply '%c' at end of message %s", r, qid);
            return 0;
        }
    }
early:
    if (r < 0)
        return -1;
    /* The milter is done with this message: tell it so, as Postfix does. */
    if (put(c, SMFIC_ABORT, NULL, 0, NULL, 0) != 0)
        return -1;
    return 0;
}

static void *worker(void *arg)
{
    conn *c = calloc(1, sizeof(*c));
    long n, in_conn = 0;

    (void)arg;
    if (c == NULL)
        die("out of memory");
    c->fd = -1;
    while ((n = atomic_fetch_add(&next_msg, 1)) < o.messages) {
        int sigs;
        if (c->fd < 0 && conn_open(c) != 0) {
            conn_close(c, 0);
            atomic_fetch_add(&n_failed, 1);
            continue;
        }
        sigs = one_message(c, n);
        if (sigs < 0) {
            tell("message %ld: connection broken", n);
            atomic_fetch_add(&n_failed, 1);
            conn_close(c, 0);
            in_conn = 0;
            continue;
        }
        atomic_fetch_add(&n_sigs, sigs);
        if (sigs != o.expect)
            atomic_fetch_add(&n_unsigned, 1);
        else
            atomic_fetch_add(&n_ok, 1);
        if (o.per_conn > 0 && ++in_conn >= o.per_conn) {
            conn_close(c, 1);
            in_conn = 0;
        }
    }
    conn_close(c, 1);
    free(c->in);
    free(c);
    return NULL;
}

static long num(const char *flag, const char *v, long min, long max)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max)
        die("bad %s %s", flag, v);
    return n;
}

static void usage(FILE *f)
{
    fputs(
        "usage: milter_bench --port PORT --message FILE [--messages N]\n"
        "         [--connections C] [--per-conn K] [--expect S] [--host ADDR]\n"
        "         [--from ADDR] [--socket PATH]\n"
        "  --socket PATH a unix-domain socket instead of --host/--port\n"
        "  --per-conn K  messages per milter connection (0: one connection per "
        "worker)\n"
        "  --expect S    DKIM-Signature fields each message must get, exactly "
        "(default 1)\n"
        "  --from ADDR   envelope sender and SASL login (default "
        "bench@example.com)\n"
        "  --client IP   the SMTP client's IPv4 address (default 127.0.0.1)\n"
        "  --no-auth     an unauthenticated client (no SASL macros)\n"
        "  --count NAME  the added field --expect counts (default "
        "DKIM-Signature)\n"
        "  --count-text T  ...only when its value contains T\n"
        "  --save-added FILE  append the fields added to message 0 there\n",
        f);
}

int main(int argc, char **argv)
{
    pthread_t th[MAX_WORKERS];
    struct timespec t0, t1;
    const char *file = NULL;
    double secs;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout), 0;
        if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(a, "--no-quickack") == 0) {
            quickack = 0;
            continue;
        }
        if (strcmp(a, "--no-auth") == 0) {
            o.no_auth = 1;
            continue;
        }
        if (v == NULL)
            return usage(stderr), 2;
        i++;
        if (strcmp(a, "--port") == 0)
            o.port = (int)num(a, v, 1, 65535);
        else if (strcmp(a, "--host") == 0)
            o.host = v;
        else if (strcmp(a, "--socket") == 0 && strlen(v) < 100)
            o.socket = v;
        else if (strcmp(a, "--messages") == 0)
            o.messages = num(a, v, 1, 100000000);
        else if (strcmp(a, "--connections") == 0)
            o.connections = (int)num(a, v, 1, MAX_WORKERS);
        else if (strcmp(a, "--per-conn") == 0)
            o.per_conn = num(a, v, 0, 100000000);
        else if (strcmp(a, "--expect") == 0)
            o.expect = (int)num(a, v, 0, 16);
        else if (strcmp(a, "--message") == 0)
            file = v;
        else if (strcmp(a, "--from") == 0 && strlen(v) < 256)
            o.from = v;
        else if (strcmp(a, "--client") == 0 && strlen(v) < 40)
            o.client = v;
        else if (strcmp(a, "--count") == 0)
            o.count = v;
        else if (strcmp(a, "--count-text") == 0)
            o.count_text = v;
        else if (strcmp(a, "--save-added") == 0)
            o.save_added = v;
        else
            return usage(stderr), 2;
    }
    if ((o.port == 0 && o.socket == NULL) || file == NULL)
        return usage(stderr), 2;
    load_message(file);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < o.connections; i++)
        if (pthread_create(&th[i], NULL, worker, NULL) != 0)
            die("cannot start a worker thread");
    for (int i = 0; i < o.connections; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("messages=%ld ok=%ld signatures=%ld unsigned=%ld failed=%ld "
           "seconds=%.3f msgs_per_sec=%.1f\n",
           o.messages, atomic_load(&n_ok), atomic_load(&n_sigs),
           atomic_load(&n_unsigned), atomic_load(&n_failed), secs,
           (double)o.messages / secs);
    return atomic_load(&n_ok) == o.messages ? 0 : 1;
}
