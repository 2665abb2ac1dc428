/* Option parsing shared by "postseal srs" and "postseal retpath": a
 * secret file, a domain, an optional message reference and a clock that
 * tests can set (--time EPOCH), then exactly one operand. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "tokenopts.h"

static int parse_epoch(const char *cmd, const char *s, time_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return ps_cli_fail("%s: --time wants seconds since 1970, not '%.40s'",
                           cmd, s);
    *out = (time_t)v;
    return 0;
}

static int ps_cli_tokenparse(const char *cmd, int argc, char **argv,
                             void (*usage)(FILE *), ps_cli_tokenopts_t *o)
{
    static const struct option longopts[] = {
        {"secret-file", required_argument, NULL, 's'},
        {"domain", required_argument, NULL, 'd'},
        {"ref", required_argument, NULL, 'r'},
        {"time", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":s:d:r:t:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            return PS_CLI_HELP;
        case 's':
            o->secret_file = optarg;
            break;
        case 'd':
            o->domain = optarg;
            break;
        case 'r':
            o->ref = optarg;
            break;
        case 't':
            if (parse_epoch(cmd, optarg, &o->now) != 0)
                return PS_EXIT_USAGE;
            break;
        default:
            return ps_cli_bad_option(cmd, ch, argv);
        }
    }
    if (optind < argc)
        o->operand = argv[optind++];
    if (ps_cli_no_operands(cmd, argc, argv) != 0)
        return PS_EXIT_USAGE;
    if (!o->operand)
        o->operand = o->ref;
    /* An address to check names its own domain. */
    if (!o->domain && o->verb == 1 && o->operand && strrchr(o->operand, '@'))
        o->domain = strrchr(o->operand, '@') + 1;
    if (!o->secret_file || !o->domain || !*o->domain || !o->operand)
        return ps_cli_fail(
            "%s: --secret-file, --domain (unless the address "
            "names it) and an operand are required (see " PS_CLI_NAME
            " %s --help)",
            cmd, cmd);
    return 0;
}

int ps_cli_tokenopts(const char *cmd, const char *const verbs[2], int argc,
                     char **argv, void (*usage)(FILE *), ps_cli_tokenopts_t *o,
                     int *exit_code)
{
    ps_err err = {""};

    memset(o, 0, sizeof *o);
    o->now = time(NULL);
    *exit_code = PS_EXIT_OK;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return usage(stdout), -1;
    if (argc < 2 || (strcmp(argv[1], verbs[0]) && strcmp(argv[1], verbs[1]))) {
        *exit_code =
            ps_cli_fail("%s: want %s or %s (see " PS_CLI_NAME " %s --help)",
                        cmd, verbs[0], verbs[1], cmd);
        return -1;
    }
    o->verb = strcmp(argv[1], verbs[1]) == 0;
    int rc = ps_cli_tokenparse(cmd, argc - 1, argv + 1, usage, o);
    if (rc != 0) {
        *exit_code = rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
        return -1;
    }
    if (ps_secrets_load(o->secret_file, &o->secrets, &err) < 0) {
        *exit_code = ps_cli_fail("%s", err.msg);
        return -1;
    }
    return 0;
}
