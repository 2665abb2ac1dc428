/* Test driver for the core DKIM signer: reads a message on stdin, feeds
 * its header fields one by one and its body in --chunk pieces, and writes
 * the message with the DKIM-Signature fields prepended (timing lives in
 * tests/bench/dkim_sign_bench.c). Exit 0, or 2 with one line on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim/dkim.h"
#include "crypto/keys.h"

#define MAX_MSG  (512u * 1024 * 1024)
#define MAX_LIST PS_DKIM_MAX_SIGNED

typedef struct field {
    char *name, *value;
} field;

typedef struct opts {
    ps_dkim_signer signers[PS_DKIM_MAX_KEYS];
    ps_key *keys[PS_DKIM_MAX_KEYS];
    size_t nsigners, chunk;
    ps_dkim_params params;
    const char *sign[MAX_LIST], *over[MAX_LIST];
    char *sign_text, *over_text;
    time_t now;
} opts;

typedef struct msg {
    char *data;
    size_t len, body_off;
    field *fields;
    size_t nfields;
} msg;

static void die(const char *fmt, const char *arg)
{
    fputs("dkim_sign_file: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

static void usage(void)
{
    fputs("usage: dkim_sign_file --key PEM --domain D --selector S [--key PEM2 "
          "--domain D2 --selector S2 ...]\n"
          "       [--canon relaxed/simple] [--chunk N] [--time T] "
          "[--expire SECS]\n"
          "       [--headers a:b:c] [--oversign a:b] < message > signed\n",
          stderr);
    exit(2);
}

/* ---- options ------------------------------------------------------------ */

static long number(const char *s, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < 0)
        die("bad %s", what);
    return v;
}

static ps_canon canon_of(const char *s, size_t n)
{
    if (n == 6 && strncmp(s, "simple", 6) == 0)
        return PS_CANON_SIMPLE;
    if (n == 7 && strncmp(s, "relaxed", 7) == 0)
        return PS_CANON_RELAXED;
    die("bad --canon %s (relaxed or simple)", s);
    return PS_CANON_RELAXED;
}

static void set_canon(opts *o, const char *s)
{
    const char *slash = strchr(s, '/');

    o->params.header_canon =
        canon_of(s, slash ? (size_t)(slash - s) : strlen(s));
    o->params.body_canon =
        slash ? canon_of(slash + 1, strlen(slash + 1))
              : PS_CANON_SIMPLE; /* RFC 6376: c=x is x/simple */
}

/* "a:b:c" into names (the text is kept and cut in place). */
static size_t split_list(char *text, const char **names)
{
    size_t n = 0;

    for (char *p = strtok(text, ":"); p != NULL; p = strtok(NULL, ":")) {
        if (n == MAX_LIST)
            die("more than %s names in a list", "64");
        names[n++] = p;
    }
    return n;
}

static void add_key(opts *o, const char *path)
{
    ps_err err;

    if (o->nsigners == PS_DKIM_MAX_KEYS)
        die("at most 4 keys (%s)", path);
    if (ps_key_load(path, &o->keys[o->nsigners], &err) != 0)
        die("%s", err.msg);
    o->signers[o->nsigners].key = o->keys[o->nsigners];
    o->nsigners++;
}

static ps_dkim_signer *last_signer(opts *o, const char *opt)
{
    if (o->nsigners == 0)
        die("%s before --key", opt);
    return &o->signers[o->nsigners - 1];
}

static void parse_opts(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--key") == 0)
            add_key(o, v);
        else if (strcmp(a, "--domain") == 0)
            last_signer(o, a)->domain = v;
        else if (strcmp(a, "--selector") == 0)
            last_signer(o, a)->selector = v;
        else if (strcmp(a, "--canon") == 0)
            set_canon(o, v);
        else if (strcmp(a, "--chunk") == 0)
            o->chunk = (size_t)number(v, "--chunk");
        else if (strcmp(a, "--time") == 0)
            o->now = (time_t)number(v, "--time");
        else if (strcmp(a, "--expire") == 0)
            o->params.expire_after = (time_t)number(v, "--expire");
        else if (strcmp(a, "--headers") == 0)
            o->sign_text = strdup(v);
        else if (strcmp(a, "--oversign") == 0)
            o->over_text = strdup(v);
        else
            usage();
    }
    if (o->nsigners == 0 || o->chunk == 0)
        usage();
    if (o->sign_text != NULL) {
        o->params.sign_headers = o->sign;
        o->params.nsign_headers = split_list(o->sign_text, o->sign);
    }
    if (o->over_text != NULL) {
        o->params.oversign_headers = o->over;
        o->params.noversign_headers = split_list(o->over_text, o->over);
    }
}

/* ---- the message ----------------------------------------------------------
 */

static void read_all(msg *m)
{
    size_t cap = 1 << 16, n;

    m->data = malloc(cap);
    while (m->data != NULL &&
           (n = fread(m->data + m->len, 1, cap - m->len, stdin)) > 0) {
        m->len += n;
        if (m->len == cap) {
            if (cap >= MAX_MSG)
                die("message larger than %s", "512 MiB");
            cap *= 2;
            m->data = realloc(m->data, cap);
        }
    }
    if (m->data == NULL || ferror(stdin))
        die("cannot read the message%s", "");
    m->data[m->len] = '\0'; /* room is left: the buffer grows when full */
}

/* End of the line starting at i: the index just past its LF (or len). */
static size_t line_end(const msg *m, size_t i)
{
    const char *lf = memchr(m->data + i, '\n', m->len - i);

    return lf ? (size_t)(lf - m->data) + 1 : m->len;
}

static int is_blank_line(const msg *m, size_t i)
{
    return m->data[i] == '\n' ||
           (m->data[i] == '\r' && i + 1 < m->len && m->data[i + 1] == '\n');
}

/* One field from i: name up to ':', value to the end of its last
 * continuation line, without that line's terminator. */
static size_t parse_field(msg *m, size_t i, field *f)
{
    size_t end = line_end(m, i), vend;
    const char *colon = memchr(m->data + i, ':', end - i);

    if (colon == NULL || colon == m->data + i) {
        char *line = strndup(m->data + i, strcspn(m->data + i, "\r\n"));
        die("header line without a field name: %s", line);
    }
    while (end < m->len && (m->data[end] == ' ' || m->data[end] == '\t'))
        end = line_end(m, end);
    vend = end;
    if (vend > i && m->data[vend - 1] == '\n')
        vend--;
    if (vend > i && m->data[vend - 1] == '\r')
        vend--;
    f->name = strndup(m->data + i, (size_t)(colon - (m->data + i)));
    f->value = strndup(colon + 1, vend - (size_t)(colon + 1 - m->data));
    if (memchr(m->data + i, '\0', end - i) != NULL)
        die("NUL byte in header field %s", f->name);
    return end;
}

static void parse_message(msg *m)
{
    size_t i = 0;

    m->fields = calloc(PS_DKIM_MAX_HEADERS + 1, sizeof(*m->fields));
    while (i < m->len && !is_blank_line(m, i)) {
        if (m->nfields > PS_DKIM_MAX_HEADERS)
            die("more than %s header fields", "1000");
        i = parse_field(m, i, &m->fields[m->nfields++]);
    }
    m->body_off = i < m->len ? line_end(m, i) : m->len;
}

/* ---- signing
 * ----------------------------------------------------------------- */

static char **sign_message(const opts *o, const msg *m, size_t *count)
{
    ps_err err;
    ps_dkim_sign *s =
        ps_dkim_sign_new(&o->params, o->signers, o->nsigners, o->now, &err);
    char **values = NULL;

    if (s == NULL)
        die("%s", err.msg);
    for (size_t i = 0; i < m->nfields; i++)
        if (ps_dkim_sign_header(s, m->fields[i].name, m->fields[i].value,
                                &err) != 0)
            die("%s", err.msg);
    for (size_t off = m->body_off; off < m->len; off += o->chunk) {
        size_t n = m->len - off < o->chunk ? m->len - off : o->chunk;
        if (ps_dkim_sign_body(s, (const uint8_t *)m->data + off, n, &err) != 0)
            die("%s", err.msg);
    }
    if (ps_dkim_sign_final(s, &values, count, &err) != 0)
        die("%s", err.msg);
    ps_dkim_sign_free(s);
    return values;
}

static void free_values(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void cleanup(opts *o, msg *m)
{
    for (size_t i = 0; i < m->nfields; i++) {
        free(m->fields[i].name);
        free(m->fields[i].value);
    }
    free(m->fields);
    free(m->data);
    for (size_t i = 0; i < o->nsigners; i++)
        ps_key_free(o->keys[i]);
    free(o->sign_text);
    free(o->over_text);
}

int main(int argc, char **argv)
{
    opts o = {.chunk = 65536, .now = time(NULL)};
    msg m = {0};
    char **values;
    size_t count;

    parse_opts(argc, argv, &o);
    read_all(&m);
    parse_message(&m);
    values = sign_message(&o, &m, &count);
    for (size_t i = 0; i < count; i++)
        printf("DKIM-Signature:%s\r\n", values[i]);
    fwrite(m.data, 1, m.len, stdout);
    free_values(values, count);
    cleanup(&o, &m);
    return fflush(stdout) == 0 ? 0 : 2;
}
