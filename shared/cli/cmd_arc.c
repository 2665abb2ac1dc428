/* postseal arc seal: adds an ARC set (RFC 8617) to a saved message by
 * hand, with a key from postseal.conf's [keys] or a key file, the way the
 * milter seals forwarded mail; prints the message with the set on top.
 * "arc verify" is cmd_arc_verify.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/arc_seal.h"
#include "base/textfile.h"
#include "cli.h"
#include "conf/conf.h"
#include "crypto/keys.h"

#define ARC_MSG_MAX  (64u * 1024 * 1024)
#define ARC_LIST_MAX PS_DKIM_MAX_SIGNED

typedef struct arc_opts {
    const char *keyname, *keyfile, *conf, *domain, *selector, *aar, *file;
    const char *cv;
    char *headers; /* --headers, cut in place */
    const char *hlist[ARC_LIST_MAX];
    size_t nhlist;
    time_t now;
} arc_opts;

static void ps_arc_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " arc seal (--key NAME -c postseal.conf | "
            "--key-file PEM --domain D --selector S)\n"
            "                    --cv none|pass|fail --aar \"AUTHSERV-ID; "
            "RESULTS\" [--time EPOCH]\n"
            "                    [--headers From:To:...] FILE|-\n\n"
            "Adds instance N+1 of the message's ARC chain (RFC 8617): "
            "ARC-Seal,\nARC-Message-Signature and ARC-Authentication-Results "
            "on top of FILE,\nprinted on stdout. Exit 1 when no set may be "
            "added (instance 50 reached,\nor the latest seal says cv=fail).\n\n"
            "  -k, --key NAME        a key of [keys] in the configuration "
            "(d= and s= from it)\n"
            "  -c, --config FILE     postseal.conf (with --key)\n"
            "      --key-file PEM    a private key file instead (RSA or "
            "Ed25519)\n"
            "  -d, --domain D        d= with --key-file\n"
            "  -s, --selector S      s= with --key-file\n"
            "      --cv RESULT       the chain as this host validated it: "
            "none (no chain),\n"
            "                        pass or fail\n"
            "  -a, --aar TEXT        this host's Authentication-Results "
            "payload for the AAR\n"
            "  -t, --time EPOCH      t= (default: now)\n"
            "      --headers LIST    the fields the ARC-Message-Signature "
            "signs, ':'-separated\n"
            "                        (default: the DKIM signing defaults, "
            "oversigned)\n"
            "  -h, --help            this text\n");
}

static int ps_arc_time(const char *v, time_t *now)
{
    char *end;
    long long t;

    errno = 0;
    t = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || t < 0)
        return ps_cli_fail("arc seal: bad --time '%.40s'", v);
    *now = (time_t)t;
    return 0;
}

static int ps_arc_split(arc_opts *o)
{
    for (char *p = strtok(o->headers, ":"); p != NULL; p = strtok(NULL, ":")) {
        if (o->nhlist == ARC_LIST_MAX)
            return ps_cli_fail("arc seal: more than %d names in --headers",
                               ARC_LIST_MAX);
        o->hlist[o->nhlist++] = p;
    }
    return 0;
}

static int ps_arc_opts(int argc, char **argv, arc_opts *o)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"key-file", required_argument, NULL, 'K'},
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"cv", required_argument, NULL, 'V'},
        {"aar", required_argument, NULL, 'a'},
        {"time", required_argument, NULL, 't'},
        {"headers", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":k:c:d:s:a:t:h", longopts, NULL)) !=
           -1) {
        switch (ch) {
        case 'h':
            ps_arc_usage(stdout);
            return PS_CLI_HELP;
        case 'k':
            o->keyname = optarg;
            break;
        case 'c':
            o->conf = optarg;
            break;
        case 'K':
            o->keyfile = optarg;
            break;
        case 'd':
            o->domain = optarg;
            break;
        case 's':
            o->selector = optarg;
            break;
        case 'V':
            o->cv = optarg;
            break;
        case 'a':
            o->aar = optarg;
            break;
        case 'H':
            o->headers = optarg;
            break;
        case 't':
            if (ps_arc_time(optarg, &o->now) != 0)
                return PS_EXIT_USAGE;
            break;
        default:
            return ps_cli_bad_option("arc seal", ch, argv);
        }
    }
    if (optind + 1 != argc)
        return ps_cli_fail(
            "arc seal: one message file expected (see " PS_CLI_NAME
            " arc --help)");
    o->file = argv[optind];
    if ((o->keyname == NULL) == (o->keyfile == NULL) ||
        (o->keyname != NULL && o->conf == NULL) ||
        (o->keyfile != NULL && (o->domain == NULL || o->selector == NULL)))
        return ps_cli_fail("arc seal: give --key NAME with -c FILE, or "
                           "--key-file with --domain and --selector");
    if (o->cv == NULL || o->aar == NULL)
        return ps_cli_fail("arc seal: --cv and --aar are needed");
    return o->headers != NULL ? (ps_arc_split(o) != 0 ? PS_EXIT_USAGE : 0) : 0;
}

/* The key and its d=/s=: from [keys] (the milter's key table) or the
 * command line. *conf keeps the strings alive. */
static int ps_arc_signer(const arc_opts *o, ps_conf **conf, ps_key **key,
                         ps_dkim_signer *sg)
{
    const char *path = o->keyfile;
    ps_err err = {""};

    sg->domain = o->domain;
    sg->selector = o->selector;
    if (o->keyname != NULL) {
        const ps_conf_key *k;
        if (ps_conf_load(o->conf, conf, &err) != 0)
            return ps_cli_fail("arc seal: %s", err.msg);
        if ((k = ps_conf_find_key(*conf, o->keyname)) == NULL)
            return ps_cli_fail("arc seal: %s: no key '%.100s' in [keys]",
                               o->conf, o->keyname);
        sg->domain = k->domain;
        sg->selector = k->selector;
        path = k->keyfile;
    }
    if (ps_key_load(path, key, &err) != 0)
        return ps_cli_fail("arc seal: %s", err.msg);
    sg->key = *key;
    return 0;
}

static int ps_arc_read(const char *file, char **buf, size_t *len)
{
    ps_err err = {""};
    size_t cap = 1 << 16, n;

    if (strcmp(file, "-") != 0) {
        if (ps_textfile_read(file, ARC_MSG_MAX, buf, len, &err) != 0)
            return ps_cli_fail("arc seal: %s", err.msg);
        return 0;
    }
    *len = 0;
    *buf = malloc(cap + 1);
    while (*buf != NULL && (n = fread(*buf + *len, 1, cap - *len, stdin)) > 0)
        if ((*len += n) == cap) {
            char *p = cap < ARC_MSG_MAX ? realloc(*buf, 2 * cap + 1) : NULL;
            if (p == NULL)
                free(*buf);
            *buf = p;
            cap *= 2;
        }
    if (*buf == NULL || ferror(stdin))
        return ps_cli_fail("arc seal: cannot read the message (over %u "
                           "bytes?)",
                           ARC_MSG_MAX);
    (*buf)[*len] = '\0';
    return 0;
}

/* One header field at p: its name up to ':' and its value to the end of
 * its last continuation line (terminator dropped), as NUL-terminated
 * copies. Returns the start of the next line, NULL on a malformed one. */
static const char *ps_arc_field(const char *p, const char *end, char **name,
                                char **value)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *e = p, *v;

    do {
        const char *lf = memchr(e, '\n', (size_t)(end - e));
        e = lf != NULL ? lf + 1 : end;
    } while (e < end && (*e == ' ' || *e == '\t'));
    if (colon == NULL || colon == p || colon > e)
        return NULL;
    v = e;
    if (v > colon + 1 && v[-1] == '\n')
        v--;
    if (v > colon + 1 && v[-1] == '\r')
        v--;
    *name = strndup(p, (size_t)(colon - p));
    *value = strndup(colon + 1, (size_t)(v - colon - 1));
    return e;
}

static int ps_arc_is_blank(const char *p, const char *end)
{
    return *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n');
}

/* Feeds the header fields and body of msg to the sealer. */
static int ps_arc_feed(ps_arc_sealer *s, const char *msg, size_t len,
                       ps_err *err)
{
    const char *p = msg, *end = msg + len;

    while (p < end && !ps_arc_is_blank(p, end)) {
        char *name = NULL, *value = NULL;
        const char *next = ps_arc_field(p, end, &name, &value);
        int rc = next == NULL || name == NULL || value == NULL
                     ? ps_err_set(err, "a header line without a field name")
                     : ps_arc_seal_header(s, name, value, err);
        free(name);
        free(value);
        if (rc != 0)
            return -1;
        p = next;
    }
    if (p < end)
        p += *p == '\r' ? 2 : 1;
    return ps_arc_seal_body(s, (const uint8_t *)p, (size_t)(end - p), err);
}

/* The three fields in the order they go on top: AS, AMS, AAR. */
static void ps_arc_print(const ps_arc_seal_out *out, const char *msg,
                         size_t len)
{
    printf("ARC-Seal:%s\r\nARC-Message-Signature:%s\r\n"
           "ARC-Authentication-Results:%s\r\n",
           out->as, out->ams, out->aar);
    fwrite(msg, 1, len, stdout);
}

static int ps_arc_run(const arc_opts *o, const ps_dkim_signer *sg,
                      ps_arc_seal_cv cv, const char *msg, size_t len)
{
    /* --headers: exactly those, none oversigned */
    ps_dkim_params params = {.sign_headers = o->nhlist ? o->hlist : NULL,
                             .nsign_headers = o->nhlist,
                             .oversign_headers = o->nhlist ? o->hlist : NULL,
                             .noversign_headers = 0};
    ps_err err = {""};
    ps_arc_seal_out out = {0};
    ps_arc_sealer *s = ps_arc_seal_new(&params, sg, o->now, &err);
    int rc = PS_EXIT_USAGE;

    if (s == NULL || ps_arc_feed(s, msg, len, &err) != 0 ||
        ps_arc_seal_final(s, cv, o->aar, &out, &err) != 0)
        ps_cli_fail("arc seal: %s: %s", o->file, err.msg);
    else if (out.outcome != PS_ARC_SEAL_SEALED) {
        ps_cli_fail("arc seal: %s: no ARC set added: %s", o->file,
                    out.outcome == PS_ARC_SEAL_AT_LIMIT
                        ? "the chain has reached instance 50"
                        : "the latest ARC-Seal says cv=fail");
        rc = PS_EXIT_NO;
    } else {
        ps_arc_print(&out, msg, len);
        rc = fflush(stdout) == 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    }
    ps_arc_seal_out_free(&out);
    ps_arc_seal_free(s);
    return rc;
}

int ps_cmd_arc(int argc, char **argv)
{
    arc_opts o = {.now = time(NULL)};
    ps_conf *conf = NULL;
    ps_key *key = NULL;
    ps_dkim_signer sg = {0};
    ps_arc_seal_cv cv;
    char *msg = NULL;
    size_t len = 0;
    int rc;

    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return ps_cmd_arc_verify(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "seal") != 0) {
        if (argc >= 2 &&
            (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            ps_arc_usage(stdout);
            printf("\n       " PS_CLI_NAME " arc verify [--txt NAME=RECORD]... "
                   "[--resolver IP[:PORT]] FILE\n");
            return PS_EXIT_OK;
        }
        return ps_cli_fail("arc: expected 'seal' or 'verify' (see " PS_CLI_NAME
                           " arc --help)");
    }
    rc = ps_arc_opts(argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (ps_arc_seal_cv_parse(o.cv, &cv) != 0)
        return ps_cli_fail("arc seal: --cv must be none, pass or fail");
    if ((rc = ps_arc_signer(&o, &conf, &key, &sg)) == 0 &&
        (rc = ps_arc_read(o.file, &msg, &len)) == 0)
        rc = ps_arc_run(&o, &sg, cv, msg, len);
    free(msg);
    ps_key_free(key);
    ps_conf_free(conf);
    return rc;
}
