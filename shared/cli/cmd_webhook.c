/* postseal webhook sign|verify: the headers a provider would send for a
 * body (to test an endpoint by hand), and the verdict on a saved request,
 * both by the same rules as ngx_http_webhook_verify_module (shared/webhook). */
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "crypto/pem_int.h"
#include "base/secfile.h"
#include "webhook/webhook.h"

#define WH_MAX_FILES  16
#define WH_HEADROOM   (256 * 1024) /* request line and headers */
#define WH_SIGNED_MAX 16384

typedef struct wh_opts {
    int verify;
    const char *scheme_name, *id, *request, *cert_url;
    const char *secret_files[WH_MAX_FILES], *key_files[WH_MAX_FILES];
    size_t nsecret_files, nkey_files;
    int64_t timestamp, now, tolerance, max_body;
    int has_timestamp, has_now;
    ps_wh_scheme scheme;
} wh_opts;

static void wh_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " webhook sign --scheme S (--secret-file F | "
            "--key-file PRIV)\n"
            "                       [--cert-url URL] [--timestamp T] [--id ID] "
            "[--max-body BYTES]\n"
            "                       < BODY\n"
            "       " PS_CLI_NAME " webhook verify --scheme S (--secret-file F "
            "| --key-file PUB)...\n"
            "                       [--tolerance SECONDS|off] [--now T] "
            "[--max-body BYTES] [REQUEST]\n\n"
            "sign prints the headers (\"Name: value\" lines) S would send "
            "with BODY;\nmailgun prints a JSON body holding its signature "
            "object instead,\n{\"signature\": {\"timestamp\", \"token\", "
            "\"signature\"}}, which verifies as it is\n(--id is the token; "
            "add \"event-data\" beside \"signature\" for a full event);\n"
            "sns the whole message, signed: BODY is its "
            "JSON without the signature\n(Type, MessageId and Timestamp are "
            "added if missing).\nverify checks a saved request (request "
            "line optional, headers, an\nempty line, the body) read from "
            "REQUEST or stdin: exit 0 verified,\n1 refused, 2 bad usage or "
            "input.\n\n"
            "  -s, --scheme S          standard, svix, resend, postal, "
            "mailgun, sendgrid,\n"
            "                          sns, stripe, github, slack, shopify, "
            "basic, bearer\n"
            "  -f, --secret-file F     secrets, one a line (mode 0600); "
            "repeatable,\n"
            "                          the first signs, all verify "
            "(standard,\n"
            "                          svix, resend: whsec_ secrets and "
            "whpk_ keys)\n"
            "  -k, --key-file F        sign: the PEM private key; verify: "
            "a public key\n"
            "                          or certificate, or a directory of "
            "*.pem\n"
            "                          (repeatable)\n"
            "  -u, --cert-url URL      sns: the SigningCertURL to put in "
            "the message\n"
            "  -t, --timestamp T       unix time to sign with (default: "
            "now)\n"
            "  -i, --id ID             message id or token to sign "
            "(default: random)\n"
            "  -T, --tolerance S       seconds either side of now (default "
            "300), or off\n"
            "  -n, --now T             verify as if at unix time T\n"
            "  -m, --max-body BYTES    largest BODY (sign) or request body "
            "(verify)\n"
            "                          read (default 1048576)\n"
            "  -h, --help              this text\n");
}

static int wh_number(const char *opt, const char *arg, int64_t *out)
{
    char *end;
    long long v;

    v = strtoll(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < 0)
        return ps_cli_fail("webhook: %s takes a non-negative number, not "
                           "'%.40s'",
                           opt, arg);
    *out = v;
    return 0;
}

static int wh_arg(wh_opts *o, int ch, const char *arg)
{
    switch (ch) {
    case 's':
        o->scheme_name = arg;
        return 0;
    case 'f':
    case 'k':
        if ((ch == 'f' ? o->nsecret_files : o->nkey_files) == WH_MAX_FILES)
            return ps_cli_fail("webhook: more than %d files", WH_MAX_FILES);
        if (ch == 'f')
            o->secret_files[o->nsecret_files++] = arg;
        else
            o->key_files[o->nkey_files++] = arg;
        return 0;
    case 'i':
        o->id = arg;
        return 0;
    case 'u':
        o->cert_url = arg;
        return 0;
    case 't':
        o->has_timestamp = 1;
        return wh_number("--timestamp", arg, &o->timestamp);
    case 'n':
        o->has_now = 1;
        return wh_number("--now", arg, &o->now);
    case 'm':
        return wh_number("--max-body", arg, &o->max_body);
    case 'T':
        if (strcmp(arg, "off") == 0) {
            o->tolerance = PS_WH_TOLERANCE_OFF;
            return 0;
        }
        return wh_number("--tolerance", arg, &o->tolerance);
    }
    return PS_EXIT_USAGE;
}

static int wh_parse(int argc, char **argv, wh_opts *o)
{
    static const struct option longopts[] = {
        {"scheme", required_argument, NULL, 's'},
        {"secret-file", required_argument, NULL, 'f'},
        {"key-file", required_argument, NULL, 'k'},
        {"timestamp", required_argument, NULL, 't'},
        {"id", required_argument, NULL, 'i'},
        {"cert-url", required_argument, NULL, 'u'},
        {"tolerance", required_argument, NULL, 'T'},
        {"now", required_argument, NULL, 'n'},
        {"max-body", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = o->verify ? "webhook verify" : "webhook sign";
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":s:f:k:t:i:u:T:n:m:h", longopts,
                             NULL)) != -1) {
        if (ch == 'h')
            return wh_usage(stdout), PS_CLI_HELP;
        if (ch == '?' || ch == ':')
            return ps_cli_bad_option(cmd, ch, argv);
        if (wh_arg(o, ch, optarg) != 0)
            return PS_EXIT_USAGE;
    }
    if (o->verify && optind < argc)
        o->request = argv[optind++];
    return ps_cli_no_operands(cmd, argc, argv);
}

static int wh_check(wh_opts *o)
{
    if (o->scheme_name == NULL)
        return ps_cli_fail("webhook: --scheme is required (see " PS_CLI_NAME
                           " webhook --help)");
    if (ps_wh_scheme_parse(o->scheme_name, strlen(o->scheme_name), &o->scheme) <
        0)
        return ps_cli_fail("webhook: unknown scheme '%.40s'", o->scheme_name);
    if (!o->verify && !ps_wh_scheme_can_sign(o->scheme) &&
        o->scheme != PS_WH_SNS)
        return ps_cli_fail("webhook sign: signing %s is not supported (its "
                           "provider alone signs)",
                           o->scheme_name);
    if (!o->verify && o->scheme == PS_WH_SNS && o->cert_url == NULL)
        return ps_cli_fail("webhook sign: sns takes --cert-url URL (the "
                           "message's SigningCertURL)");
    if (o->cert_url != NULL && (o->verify || o->scheme != PS_WH_SNS))
        return ps_cli_fail("webhook: --cert-url is for signing sns");
    if (ps_wh_scheme_uses_secret(o->scheme) &&
        (o->nsecret_files == 0 || o->nkey_files > 0))
        return ps_cli_fail("webhook: scheme %s takes --secret-file",
                           o->scheme_name);
    if (ps_wh_scheme_uses_key(o->scheme) &&
        (o->nkey_files == 0 || o->nsecret_files > 0))
        return ps_cli_fail("webhook: scheme %s takes --key-file",
                           o->scheme_name);
    if (!o->verify && o->nkey_files > 1)
        return ps_cli_fail("webhook sign: one --key-file signs");
    if (o->verify && (o->id != NULL || o->has_timestamp))
        return ps_cli_fail("webhook verify: --id and --timestamp are for "
                           "sign");
    if (!o->verify && (o->has_now || o->request != NULL))
        return ps_cli_fail("webhook sign: --now is for verify");
    return 0;
}

/* All of fp (at most max bytes) into a fresh buffer; cmd names the
 * command in messages, and one over max is told how to raise it. */
static int wh_read_all(FILE *fp, const char *cmd, const char *name, size_t max,
                       char **out, size_t *len)
{
    size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap + 1), *nb;

    while (buf != NULL) {
        if (n == cap) {
            if (cap > max)
                break;
            cap *= 2;
            nb = realloc(buf, cap + 1);
            if (nb == NULL)
                break;
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp))
                break;
            if (n > max)
                break;
            buf[n] = '\0';
            *out = buf;
            *len = n;
            return 0;
        }
    }
    free(buf);
    if (n > max)
        return ps_cli_fail("%s: %s is over %zu bytes (raise --max-body)", cmd,
                           name, max);
    return ps_cli_fail("%s: cannot read %s", cmd, name);
}

static int wh_config(const wh_opts *o, ps_wh_config **out)
{
    ps_wh_config *cfg;
    ps_err err = {""};

    cfg = ps_wh_config_new(o->scheme, &err);
    if (cfg == NULL)
        return ps_cli_fail("webhook: %s", err.msg);
    for (size_t i = 0; i < o->nsecret_files; i++)
        if (ps_wh_config_add_secret_file(cfg, o->secret_files[i], &err) < 0)
            goto fail;
    for (size_t i = 0; o->verify && i < o->nkey_files; i++)
        if (ps_wh_config_add_key_file(cfg, o->key_files[i], &err) < 0)
            goto fail;
    ps_wh_config_set_tolerance(cfg, o->tolerance);
    ps_wh_config_set_max_body(cfg, o->max_body);
    *out = cfg;
    return 0;
fail:
    ps_wh_config_free(cfg);
    return ps_cli_fail("webhook: %s", err.msg);
}

static int wh_private_key(const char *path, EVP_PKEY **out)
{
    char *pem;
    size_t len;
    ps_err err = {""};
    int rc;

    if (ps_secfile_read(path, &pem, &len, &err) < 0)
        return ps_cli_fail("webhook sign: %s", err.msg);
    rc = ps_key_pem_decode(pem, len, path, out, &err);
    ps_secfile_free(pem, len);
    return rc < 0 ? ps_cli_fail("webhook sign: %s", err.msg) : 0;
}

static int wh_sign(const wh_opts *o, const ps_wh_config *cfg)
{
    char *body = NULL, *out = NULL;
    size_t len, outsize;
    int64_t ts;
    EVP_PKEY *priv = NULL;
    ps_err err = {""};
    int rc = PS_EXIT_USAGE;

    if (o->nkey_files == 1 && wh_private_key(o->key_files[0], &priv) != 0)
        return PS_EXIT_USAGE;
    if (wh_read_all(stdin, "webhook sign", "stdin", (size_t)o->max_body, &body,
                    &len) != 0)
        goto out;
    /* SNS's output is the message itself, signed: the body and more. */
    outsize = WH_SIGNED_MAX + (o->scheme == PS_WH_SNS ? len : 0);
    out = malloc(outsize);
    if (out == NULL) {
        ps_cli_fail("webhook sign: out of memory");
        goto out;
    }
    ts = o->has_timestamp ? o->timestamp : (int64_t)time(NULL);
    if ((o->scheme == PS_WH_SNS
             ? ps_webhook_sign_sns(priv, o->cert_url, o->id, ts, body, len, out,
                                   outsize, &err)
             : ps_webhook_sign(cfg, priv, o->id, ts, body, len, out, outsize,
                               &err)) < 0) {
        ps_cli_fail("webhook sign: %s", err.msg);
        goto out;
    }
    fputs(out, stdout);
    rc = fflush(stdout) == 0 ? PS_EXIT_OK
                             : ps_cli_fail("webhook sign: cannot write");
out:
    EVP_PKEY_free(priv);
    free(body);
    free(out);
    return rc;
}

static int wh_verify(const wh_opts *o, const ps_wh_config *cfg)
{
    ps_wh_header headers[PS_WH_REQUEST_MAX_HEADERS];
    const char *name = o->request != NULL ? o->request : "stdin";
    const char *body;
    char *req = NULL;
    size_t len, nh, blen;
    ps_wh_result res;
    ps_wh_verdict v;
    ps_err err = {""};
    FILE *fp = stdin;
    int rc;

    if (o->request != NULL && (fp = fopen(o->request, "rb")) == NULL)
        return ps_cli_fail("webhook verify: cannot open %s", o->request);
    rc = wh_read_all(fp, "webhook verify", name,
                     (size_t)o->max_body + WH_HEADROOM, &req, &len);
    if (fp != stdin)
        fclose(fp);
    if (rc != 0)
        return rc;
    if (ps_wh_request_parse(req, len, headers, PS_WH_REQUEST_MAX_HEADERS, &nh,
                            &body, &blen, &err) < 0) {
        free(req);
        return ps_cli_fail("webhook verify: %s: %s", name, err.msg);
    }
    v = ps_webhook_verify(cfg, headers, nh, body, blen,
                          o->has_now ? o->now : (int64_t)time(NULL), &res);
    free(req);
    if (v == PS_WH_OK) {
        printf("verified: scheme=%s id=%s key=%u\n", o->scheme_name,
               res.id[0] ? res.id : "-", res.key);
        return fflush(stdout) == 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    }
    ps_cli_fail("webhook verify: refused (%d): %s", (int)v, res.reason);
    return v == PS_WH_INTERNAL ? PS_EXIT_USAGE : PS_EXIT_NO;
}

int ps_cmd_webhook(int argc, char **argv)
{
    wh_opts o;
    ps_wh_config *cfg = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    o.tolerance = PS_WH_DEFAULT_TOLERANCE;
    o.max_body = PS_WH_DEFAULT_MAX_BODY;
    if (argc < 2)
        return ps_cli_fail("webhook: sign or verify expected (see " PS_CLI_NAME
                           " webhook --help)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        wh_usage(stdout);
        return PS_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") == 0)
        o.verify = 1;
    else if (strcmp(argv[1], "sign") != 0)
        return ps_cli_fail("webhook: unknown command '%.40s' (sign or "
                           "verify)",
                           argv[1]);
    rc = wh_parse(argc - 1, argv + 1, &o);
    if (rc == 0)
        rc = wh_check(&o);
    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (wh_config(&o, &cfg) != 0)
        return PS_EXIT_USAGE;
    rc = o.verify ? wh_verify(&o, cfg) : wh_sign(&o, cfg);
    ps_wh_config_free(cfg);
    return rc;
}
