/* The one parser of the [policyd] store setting (lmdb:, redis://, unix://,
 * redis-sentinel://), the password file it may name, and the masked form
 * in which a setting is ever shown, so no password reaches a log. */
#include "conf/store_url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "base/encode.h"
#include "base/secfile.h"
#include "conf/conf_int.h"

#define PS_URL_EXPECTED                                                        \
    "expected lmdb:PATH, redis://[USER:PASSWORD@]HOST[:PORT][/DB], "           \
    "unix:///PATH or redis-sentinel://HOST[:PORT],.../MASTER[/DB]"

/* A piece of the setting: not NUL-terminated, it points into the spec. */
typedef struct ps_url_span {
    const char *p;
    size_t n;
} ps_url_span;

static ps_url_span ps_url_span_of(const char *p, const char *end)
{
    return (ps_url_span){p, (size_t)(end - p)};
}

static int ps_url_is(ps_url_span s, const char *word)
{
    return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

/* Digits only, at most 5 of them, 0..max. */
static int ps_url_number(ps_url_span s, int max, int *out)
{
    int v = 0;

    if (s.n == 0 || s.n > 5)
        return -1;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* RFC 3986 %XX escapes, so a password may hold '@', ':', '/' or '?'.
 * The text is never echoed: it may be the password. */
static int ps_url_decode(ps_url_span s, char *out, size_t size,
                         const char *what, ps_err *err)
{
    size_t o = 0;

    for (size_t i = 0; i < s.n; i++) {
        int c = (unsigned char)s.p[i];
        if (c == '%') {
            int hi = i + 2 < s.n ? ps_hex_digit((unsigned char)s.p[i + 1]) : -1;
            int lo = i + 2 < s.n ? ps_hex_digit((unsigned char)s.p[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return ps_err_set(err, "bad %%-escape in the %s", what);
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || iscntrl(c) || c == ' ')
            return ps_err_set(err, "control character or space in the %s",
                              what);
        if (o + 1 >= size)
            return ps_err_set(err, "%s longer than %zu bytes", what, size - 1);
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* USER:PASSWORD, :PASSWORD (the default user) or USER (password_file). */
static int ps_url_userinfo(ps_url_span s, ps_store_url *u, ps_err *err)
{
    const char *colon = memchr(s.p, ':', s.n);
    ps_url_span user = s, pass = {s.p + s.n, 0};

    if (colon != NULL) {
        user = ps_url_span_of(s.p, colon);
        pass = ps_url_span_of(colon + 1, s.p + s.n);
        if (pass.n == 0)
            return ps_err_set(err, "empty password after ':' (leave out "
                                   "'USER:@' for no AUTH)");
    } else if (s.n == 0) {
        return ps_err_set(err, "empty credentials before '@'");
    }
    if (ps_url_decode(user, u->user, sizeof(u->user), "user name", err) != 0)
        return -1;
    return ps_url_decode(pass, u->password, sizeof(u->password), "password",
                         err);
}

/* A host name or an IPv4 literal: letters, digits, '-' and '.'. */
static int ps_url_hostname(ps_url_span s, ps_err *err)
{
    if (s.n == 0 || s.n > 253)
        return ps_err_set(err, "host name must be 1 to 253 bytes");
    for (size_t i = 0; i < s.n; i++)
        if (!isalnum((unsigned char)s.p[i]) && s.p[i] != '-' && s.p[i] != '.')
            return ps_err_set(err, "bad character '%c' in host name '%.*s'",
                              s.p[i], (int)s.n, s.p);
    return 0;
}

/* HOST[:PORT] where HOST is a name, an IPv4 literal or [IPv6]. */
static int ps_url_host(ps_url_span s, int dflt, ps_store_host *h, ps_err *err)
{
    const char *end = s.p + s.n, *rb, *after;
    unsigned char addr[16];

    if (s.n > 0 && s.p[0] == '[') {
        rb = memchr(s.p, ']', s.n);
        if (rb == NULL || rb - s.p - 1 > PS_STORE_URL_MAX_HOST)
            return ps_err_set(err, "bad [IPv6] host '%.*s'", (int)s.n, s.p);
        snprintf(h->name, sizeof(h->name), "%.*s", (int)(rb - s.p - 1),
                 s.p + 1);
        if (inet_pton(AF_INET6, h->name, addr) != 1)
            return ps_err_set(err, "bad IPv6 address '%s'", h->name);
        after = rb + 1;
    } else {
        after = memchr(s.p, ':', s.n);
        after = after != NULL ? after : end;
        if (ps_url_hostname(ps_url_span_of(s.p, after), err) != 0)
            return -1;
        snprintf(h->name, sizeof(h->name), "%.*s", (int)(after - s.p), s.p);
    }
    h->port = dflt;
    if (after == end)
        return 0;
    if (*after != ':' ||
        ps_url_number(ps_url_span_of(after + 1, end), 65535, &h->port) != 0 ||
        h->port == 0)
        return ps_err_set(err, "bad port in '%.*s' (1 to 65535)", (int)s.n,
                          s.p);
    return 0;
}

/* The sentinels: HOST[:PORT],HOST[:PORT],... */
static int ps_url_hosts(ps_url_span s, ps_store_url *u, ps_err *err)
{
    const char *p = s.p, *end = s.p + s.n;

    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        if (u->nhosts == PS_STORE_URL_MAX_HOSTS)
            return ps_err_set(err, "more than %d sentinels",
                              PS_STORE_URL_MAX_HOSTS);
        if (stop == p)
            return ps_err_set(err, "empty sentinel address");
        if (ps_url_host(ps_url_span_of(p, stop), PS_STORE_URL_SENTINEL_PORT,
                        &u->hosts[u->nhosts++], err) != 0)
            return -1;
        p = stop + 1;
    }
    return 0;
}

static int ps_url_db(ps_url_span s, ps_store_url *u, ps_err *err)
{
    if (ps_url_number(s, PS_STORE_URL_MAX_DB, &u->db) != 0)
        return ps_err_set(err, "bad database number '%.*s' (0 to %d)",
                          (int)(s.n > 20 ? 20 : s.n), s.p, PS_STORE_URL_MAX_DB);
    return 0;
}

/* What follows the host: /DB (redis), /MASTER[/DB] (sentinel), or the
 * socket's absolute path (unix). */
static int ps_url_path(ps_url_span s, ps_store_url *u, ps_err *err)
{
    const char *slash;

    if (u->kind == PS_STORE_REDIS_UNIX) {
        if (s.n < 2 || s.p[0] != '/')
            return ps_err_set(err, "expected the socket's absolute path after "
                                   "unix:// (unix:///run/redis/redis.sock)");
        if (s.n >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return ps_err_set(err, "socket path longer than %zu bytes",
                              sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        snprintf(u->path, sizeof(u->path), "%.*s", (int)s.n, s.p);
        return 0;
    }
    if (u->kind == PS_STORE_REDIS)
        return s.n <= 1 ? 0
                        : ps_url_db(ps_url_span_of(s.p + 1, s.p + s.n), u, err);
    if (s.n < 2)
        return ps_err_set(err, "expected /MASTER, the name Sentinel monitors, "
                               "after the sentinels");
    slash = memchr(s.p + 1, '/', s.n - 1);
    slash = slash != NULL ? slash : s.p + s.n;
    if ((size_t)(slash - s.p - 1) > PS_STORE_URL_MAX_NAME || slash == s.p + 1)
        return ps_err_set(err, "master name must be 1 to %d bytes",
                          PS_STORE_URL_MAX_NAME);
    for (const char *c = s.p + 1; c < slash; c++)
        if (!isalnum((unsigned char)*c) && strchr("._-", *c) == NULL)
            return ps_err_set(err, "bad character '%c' in master name", *c);
    snprintf(u->master, sizeof(u->master), "%.*s", (int)(slash - s.p - 1),
             s.p + 1);
    if (slash + 1 >= s.p + s.n)
        return 0;
    return ps_url_db(ps_url_span_of(slash + 1, s.p + s.n), u, err);
}

/* ?db=N (unix only: elsewhere the database is in the path) and
 * ?password_file=PATH, joined by '&'. Values are not echoed. */
static int ps_url_param(ps_url_span s, ps_store_url *u, int *seen, ps_err *err)
{
    const char *eq = memchr(s.p, '=', s.n);
    ps_url_span key, val;

    if (eq == NULL)
        return ps_err_set(err, "expected NAME=VALUE after '?'");
    key = ps_url_span_of(s.p, eq);
    val = ps_url_span_of(eq + 1, s.p + s.n);
    if (ps_url_is(key, "db") && u->kind == PS_STORE_REDIS_UNIX) {
        if (*seen & 1)
            return ps_err_set(err, "db= given twice");
        *seen |= 1;
        return ps_url_db(val, u, err);
    }
    if (ps_url_is(key, "password_file")) {
        if (*seen & 2)
            return ps_err_set(err, "password_file= given twice");
        *seen |= 2;
        if (ps_url_decode(val, u->password_file, sizeof(u->password_file),
                          "password_file", err) != 0)
            return -1;
        return ps_conf_check_path(u->password_file, err);
    }
    return ps_err_set(err, "unknown parameter '%.*s' (%s)",
                      (int)(key.n > 40 ? 40 : key.n), key.p,
                      u->kind == PS_STORE_REDIS_UNIX ? "db, password_file"
                                                     : "password_file");
}

static int ps_url_query(ps_url_span s, ps_store_url *u, ps_err *err)
{
    const char *p = s.p, *end = s.p + s.n;
    int seen = 0;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        if (ps_url_param(ps_url_span_of(p, stop), u, &seen, err) != 0)
            return -1;
        p = stop + 1;
    }
    return 0;
}

static int ps_url_credentials_ok(const ps_store_url *u, ps_err *err)
{
    if (u->password[0] != '\0' && u->password_file[0] != '\0')
        return ps_err_set(err, "a password and password_file: give one");
    if (u->user[0] != '\0' && u->password[0] == '\0' &&
        u->password_file[0] == '\0')
        return ps_err_set(err,
                          "user '%s' needs a password (USER:PASSWORD@, "
                          "or ?password_file=PATH)",
                          u->user);
    return 0;
}

/* scheme://[USERINFO@]HOSTS[PATH][?QUERY]. The authority ends at the
 * first '/' or '?', and its userinfo at the last '@' in it (as
 * urllib splits it): a password with '/' or '?' must escape them. */
static const char *ps_url_authority_at(const char *rest)
{
    for (size_t i = strcspn(rest, "/?"); i > 0; i--)
        if (rest[i - 1] == '@')
            return rest + i - 1;
    return NULL;
}

static int ps_url_redis(const char *rest, ps_store_url *u, ps_err *err)
{
    size_t alen = strcspn(rest, "/?");
    const char *at = ps_url_authority_at(rest), *hosts = rest, *q;
    ps_url_span host, path;

    if (at != NULL) {
        if (ps_url_userinfo(ps_url_span_of(rest, at), u, err) != 0)
            return -1;
        hosts = at + 1;
    }
    host = ps_url_span_of(hosts, rest + alen);
    q = strchr(rest + alen, '?');
    path = ps_url_span_of(rest + alen, q != NULL ? q : rest + strlen(rest));
    if (u->kind == PS_STORE_REDIS_UNIX && host.n != 0)
        return ps_err_set(err, "unix:// takes no host: the socket path "
                               "follows (unix:///run/redis/redis.sock)");
    if (u->kind == PS_STORE_REDIS &&
        ps_url_host(host, PS_STORE_URL_REDIS_PORT, &u->hosts[0], err) != 0)
        return -1;
    u->nhosts = u->kind == PS_STORE_REDIS ? 1 : 0;
    if (u->kind == PS_STORE_REDIS_SENTINEL && ps_url_hosts(host, u, err) != 0)
        return -1;
    if (ps_url_path(path, u, err) != 0 ||
        (q != NULL &&
         ps_url_query(ps_url_span_of(q + 1, q + strlen(q)), u, err) != 0))
        return -1;
    return ps_url_credentials_ok(u, err);
}

int ps_store_url_parse(const char *spec, ps_store_url *u, ps_err *err)
{
    static const struct {
        const char *scheme;
        ps_store_kind kind;
    } schemes[] = {{"redis://", PS_STORE_REDIS},
                   {"unix://", PS_STORE_REDIS_UNIX},
                   {"redis-sentinel://", PS_STORE_REDIS_SENTINEL}};

    memset(u, 0, sizeof(*u));
    if (strpbrk(spec, " \t") != NULL)
        return ps_err_set(err, "spaces are not allowed in the store setting");
    if (strncmp(spec, "lmdb:", 5) == 0) {
        u->kind = PS_STORE_LMDB;
        if (ps_conf_check_path(spec + 5, err) != 0)
            return -1;
        snprintf(u->path, sizeof(u->path), "%s", spec + 5);
        return 0;
    }
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncmp(spec, schemes[i].scheme, strlen(schemes[i].scheme)) == 0) {
            u->kind = schemes[i].kind;
            if (ps_url_redis(spec + strlen(schemes[i].scheme), u, err) == 0)
                return 0;
            ps_store_url_wipe(u);
            return -1;
        }
    return ps_err_set(err, PS_URL_EXPECTED);
}

/* One line: a trailing newline is dropped, any other is an error. */
static int ps_url_read_password(ps_store_url *u, ps_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;

    if (ps_secfile_read(u->password_file, &buf, &len, err) != 0)
        return -1;
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (len == 0)
        rc = ps_err_set(err, "password_file %s is empty", u->password_file);
    else if (strlen(buf) != len || strpbrk(buf, "\r\n") != NULL)
        rc = ps_err_set(err, "password_file %s: the password must be one line",
                        u->password_file);
    else if (len > PS_STORE_URL_MAX_PASSWORD)
        rc = ps_err_set(err, "password_file %s: password longer than %d bytes",
                        u->password_file, PS_STORE_URL_MAX_PASSWORD);
    else
        memcpy(u->password, buf, len + 1);
    ps_secfile_free(buf, len);
    return rc;
}

int ps_store_url_load(const char *spec, ps_store_url *u, ps_err *err)
{
    if (ps_store_url_parse(spec, u, err) != 0)
        return -1;
    if (u->password_file[0] == '\0' || ps_url_read_password(u, err) == 0)
        return 0;
    ps_store_url_wipe(u);
    return -1;
}

int ps_store_url_fail(const ps_conf *conf, const char *spec, const char *why,
                      ps_err *err)
{
    char shown[PS_STORE_URL_SHOWN];
    int line = conf->policyd.store.line;

    ps_store_url_mask(spec, shown, sizeof(shown));
    if (line > 0)
        return ps_err_set(err, "%s:%d: store %s: %s", conf->path, line, shown,
                          why);
    return ps_err_set(err, "%s: store %s (the default): %s", conf->path, shown,
                      why);
}

int ps_store_url_check(const ps_conf *conf, ps_err *err)
{
    const char *spec = conf->policyd.store.value;
    ps_store_url u;
    ps_err why = {""};
    int rc;

    if (spec == NULL)
        return 0;
    rc = ps_store_url_load(spec, &u, &why);
    ps_store_url_wipe(&u);
    return rc == 0 ? 0 : ps_store_url_fail(conf, spec, why.msg, err);
}

/* Appends n bytes of s to out (size bytes), always NUL-terminated. */
static void ps_url_put(char *out, size_t size, size_t *o, const char *s,
                       size_t n)
{
    while (n-- > 0 && *o + 1 < size)
        out[(*o)++] = *s++;
    out[*o] = '\0';
}

/* The last '@' before the password_file parameter (whose path may hold
 * one), or NULL. */
/* Where the userinfo ends: the parser's '@' (the last in the authority),
 * or a later one before any "password_file=" (a password with a raw '/'
 * is hidden too), whichever comes last. */
static const char *ps_url_last_at(const char *from)
{
    const char *end = strstr(from, "password_file="),
               *at = ps_url_authority_at(from);

    for (const char *p = from; *p != '\0' && (end == NULL || p < end); p++)
        if (*p == '@' && (at == NULL || p > at))
            at = p;
    return at;
}

/* The password sits between the first ':' after "://" and the last '@'
 * (a raw '@' or '/' in it, wrongly unescaped, stays hidden too), and in
 * any "password=" parameter a mistaken setting may carry. */
void ps_store_url_mask(const char *spec, char *out, size_t size)
{
    const char *auth = strstr(spec, "://"), *at, *colon, *p = spec, *pw;
    size_t o = 0;

    if (size == 0)
        return;
    out[0] = '\0';
    if (auth != NULL && (at = ps_url_last_at(auth + 3)) != NULL &&
        (colon = memchr(auth + 3, ':', (size_t)(at - auth - 3))) != NULL) {
        ps_url_put(out, size, &o, p, (size_t)(colon + 1 - p));
        ps_url_put(out, size, &o, "****", 4);
        p = at;
    }
    while ((pw = strstr(p, "password=")) != NULL) {
        if (pw > spec && (pw[-1] == '?' || pw[-1] == '&')) {
            ps_url_put(out, size, &o, p, (size_t)(pw + 9 - p));
            ps_url_put(out, size, &o, "****", 4);
            p = pw + 9 + strcspn(pw + 9, "&");
        } else {
            ps_url_put(out, size, &o, p, (size_t)(pw + 9 - p));
            p = pw + 9;
        }
    }
    ps_url_put(out, size, &o, p, strlen(p));
}

void ps_store_url_host_text(const ps_store_host *h, char *out, size_t size)
{
    snprintf(out, size, strchr(h->name, ':') != NULL ? "[%s]:%d" : "%s:%d",
             h->name, h->port);
}

void ps_store_url_wipe(ps_store_url *u)
{
    ps_wipe(u, sizeof(*u));
}
