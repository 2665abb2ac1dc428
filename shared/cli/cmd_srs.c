/* postseal srs forward|reverse: the SRS rewrite the milter does, by hand,
 * for checking a forwarder's setup or decoding a bounce address. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/srs.h"
#include "tokenopts.h"

static void ps_srs_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: " PS_CLI_NAME " srs forward --secret-file FILE "
        "--domain DOMAIN [--time EPOCH] ADDRESS\n"
        "       " PS_CLI_NAME " srs reverse --secret-file FILE [--domain "
        "DOMAIN] [--time EPOCH] ADDRESS\n\n"
        "forward rewrites a sender into SRS0 (SRS1 if it already is SRS) on "
        "DOMAIN;\nreverse checks the hash and day stamp (21 days) and "
        "prints the original.\nExit 1 when reverse refuses the address.\n\n"
        "  -s, --secret-file FILE  secrets, one a line: the first signs, all "
        "verify\n"
        "  -d, --domain DOMAIN     the SRS domain (reverse: default the "
        "domain of\n"
        "                          ADDRESS)\n"
        "  -t, --time EPOCH        the clock, in seconds (tests)\n"
        "  -h, --help              this text\n");
}

int ps_cmd_srs(int argc, char **argv)
{
    static const char *const verbs[2] = {"forward", "reverse"};
    ps_cli_tokenopts_t o;
    ps_err err = {""};
    int rc;

    if (ps_cli_tokenopts("srs", verbs, argc, argv, ps_srs_usage, &o, &rc) < 0)
        return rc;
    int reverse = o.verb;
    ps_secrets *s = o.secrets;
    ps_srs_cfg cfg = {s, o.domain, 0};
    char out[PS_SRS_OUT_MAX];
    rc = reverse
             ? ps_srs_reverse(&cfg, o.operand, o.now, out, sizeof out, &err)
             : ps_srs_forward(&cfg, o.operand, o.now, out, sizeof out, &err);
    ps_secrets_free(s);
    if (rc < 0) {
        ps_cli_fail("srs %s: %s", argv[1], err.msg);
        return reverse ? PS_EXIT_NO : PS_EXIT_USAGE;
    }
    printf("%s\n", out);
    return PS_EXIT_OK;
}
