/* postseal keygen: a new DKIM key written as DIR/DOMAIN.SELECTOR.pem (mode
 * 0600, never over an existing file) and the TXT record that publishes it,
 * printed as a zone-file line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dns/dnsname.h"
#include "dns/dnsrec.h"
#include "crypto/keys.h"

#define PS_KEYGEN_PATH_MAX 4096

typedef struct ps_keygen_opts {
    const char *domain, *selector, *out;
    char domain_buf[256]; /* the domain as used: lower case, no final dot */
    ps_key_type type;
    int bits; /* 0: not given */
} ps_keygen_opts;

static void ps_keygen_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " keygen --domain DOMAIN "
            "--selector SELECTOR\n"
            "                       [--algorithm rsa|ed25519] [--bits "
            "2048|3072|4096] [--out DIR]\n\n"
            "Writes DIR/DOMAIN.SELECTOR.pem (mode 0600; an existing file is "
            "never\noverwritten) and prints the DKIM TXT record to publish.\n\n"
            "  -d, --domain DOMAIN     the signing domain (d=)\n"
            "  -s, --selector SEL      the selector (s=), e.g. s2026r\n"
            "  -a, --algorithm ALG     rsa (default) or ed25519\n"
            "  -b, --bits N            RSA modulus size: 2048 (default), "
            "3072 or 4096\n"
            "  -o, --out DIR           directory for the key (default: the "
            "current one)\n"
            "  -h, --help              this text\n");
}

static int ps_keygen_arg(ps_keygen_opts *o, int ch, const char *arg)
{
    switch (ch) {
    case 'd':
        o->domain = arg;
        return 0;
    case 's':
        o->selector = arg;
        return 0;
    case 'o':
        o->out = arg;
        return 0;
    case 'a':
        if (strcmp(arg, "rsa") == 0)
            o->type = PS_KEY_RSA;
        else if (strcmp(arg, "ed25519") == 0)
            o->type = PS_KEY_ED25519;
        else
            return ps_cli_fail("keygen: --algorithm must be rsa or ed25519, "
                               "not '%.40s'",
                               arg);
        return 0;
    case 'b':
        if (strcmp(arg, "2048") != 0 && strcmp(arg, "3072") != 0 &&
            strcmp(arg, "4096") != 0)
            return ps_cli_fail("keygen: --bits must be 2048, 3072 or 4096, "
                               "not '%.40s'",
                               arg);
        o->bits = atoi(arg);
        return 0;
    }
    return PS_EXIT_USAGE;
}

static int ps_keygen_parse(int argc, char **argv, ps_keygen_opts *o)
{
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"algorithm", required_argument, NULL, 'a'},
        {"bits", required_argument, NULL, 'b'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    o->out = ".";
    o->type = PS_KEY_RSA;
    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":d:s:a:b:o:h", longopts, NULL)) !=
           -1) {
        if (ch == 'h')
            return ps_keygen_usage(stdout), PS_CLI_HELP;
        if (ch == '?' || ch == ':')
            return ps_cli_bad_option("keygen", ch, argv);
        if (ps_keygen_arg(o, ch, optarg) != 0)
            return PS_EXIT_USAGE;
    }
    return ps_cli_no_operands("keygen", argc, argv);
}

static int ps_keygen_check(ps_keygen_opts *o)
{
    ps_err err = {""};

    if (o->domain == NULL || o->selector == NULL)
        return ps_cli_fail("keygen: --domain and --selector are required "
                           "(see " PS_CLI_NAME " keygen --help)");
    if (ps_dnsname_check_domain(o->domain, &err) < 0 ||
        ps_dnsname_check_selector(o->selector, &err) < 0)
        return ps_cli_fail("keygen: %s", err.msg);
    if (o->bits != 0 && o->type != PS_KEY_RSA)
        return ps_cli_fail("keygen: --bits applies to RSA keys only");
    if (ps_cli_name(o->domain_buf, sizeof(o->domain_buf), "", o->domain) ==
        NULL)
        return ps_cli_fail("keygen: the domain is too long");
    o->domain = o->domain_buf;
    return 0;
}

/* The comment lines keep the output valid zone-file text, so it can be
 * pasted (or appended to a zone) as a whole. */
static int ps_keygen_print(const ps_keygen_opts *o, const ps_key *key,
                           const char *path)
{
    char name[PS_KEYGEN_PATH_MAX], *rec = NULL, *line = NULL;
    ps_err err = {""};
    int rc = PS_EXIT_USAGE;

    if (ps_key_dkim_record(key, &rec, &err) < 0)
        return ps_cli_fail("keygen: %s", err.msg);
    snprintf(name, sizeof(name), "%s._domainkey.%s", o->selector, o->domain);
    line = ps_dnsrec_txt_line(name, PS_CLI_TTL, rec);
    if (line == NULL) {
        ps_cli_fail("keygen: cannot format the record for %s", name);
        goto out;
    }
    printf("; DKIM public key for %s, selector %s (%s, %d bits): publish "
           "this TXT record\n%s\n; private key written to %s (mode 0600)\n",
           o->domain, o->selector, ps_key_dkim_k(key), ps_key_bits(key), line,
           path);
    rc = fflush(stdout) == 0 ? PS_EXIT_OK
                             : ps_cli_fail("keygen: cannot write the output");
out:
    free(rec);
    free(line);
    return rc;
}

/* DIR/DOMAIN.SELECTOR.pem */
static int ps_keygen_path(const ps_keygen_opts *o, char *path, size_t size)
{
    size_t dlen = strlen(o->out);
    const char *sep = dlen > 0 && o->out[dlen - 1] == '/' ? "" : "/";
    int n = snprintf(path, size, "%s%s%s.%s.pem", o->out, sep, o->domain,
                     o->selector);

    if (n < 0 || (size_t)n >= size)
        return ps_cli_fail("keygen: --out path is too long");
    return 0;
}

int ps_cmd_keygen(int argc, char **argv)
{
    ps_keygen_opts o;
    char path[PS_KEYGEN_PATH_MAX];
    ps_key *key = NULL;
    ps_err err = {""};
    int rc;

    rc = ps_keygen_parse(argc, argv, &o);
    if (rc == 0)
        rc = ps_keygen_check(&o);
    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (ps_keygen_path(&o, path, sizeof(path)) != 0)
        return PS_EXIT_USAGE;
    if (ps_key_generate(o.type, o.bits != 0 ? o.bits : 2048, &key, &err) < 0 ||
        ps_key_write_pem(key, path, &err) < 0) {
        ps_key_free(key);
        return ps_cli_fail("keygen: %s", err.msg);
    }
    rc = ps_keygen_print(&o, key, path);
    ps_key_free(key);
    return rc;
}
