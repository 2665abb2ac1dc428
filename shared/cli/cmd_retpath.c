/* postseal retpath encode|decode: makes the return path the milter would
 * put on a message, or checks one found in a bounce. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "mail/retpath.h"
#include "tokenopts.h"

static void ps_retpath_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: " PS_CLI_NAME " retpath encode --secret-file FILE --domain "
        "DOMAIN [--time EPOCH] REF\n"
        "       " PS_CLI_NAME " retpath decode --secret-file FILE [--domain "
        "DOMAIN] [--time EPOCH] ADDRESS\n\n"
        "encode prints b.REF.DAY.MAC@DOMAIN for message reference REF (1-20 "
        "letters or\ndigits); decode checks the MAC and the age (7 days) and "
        "prints \"ref=REF issued=EPOCH\".\nExit 1 when decode refuses the "
        "address.\n\n"
        "  -s, --secret-file FILE  secrets, one a line: the first signs, all "
        "verify\n"
        "  -d, --domain DOMAIN     the return-path (bounce) domain "
        "(decode: default\n"
        "                          the domain of ADDRESS)\n"
        "  -t, --time EPOCH        the clock, in seconds (tests)\n"
        "  -h, --help              this text\n");
}

int ps_cmd_retpath(int argc, char **argv)
{
    static const char *const verbs[2] = {"encode", "decode"};
    ps_cli_tokenopts_t o;
    ps_err err = {""};
    int rc;

    if (ps_cli_tokenopts("retpath", verbs, argc, argv, ps_retpath_usage, &o,
                         &rc) < 0)
        return rc;
    int decode = o.verb;
    ps_secrets *s = o.secrets;
    ps_retpath_cfg cfg = {s, o.domain, 0};
    char out[PS_RETPATH_ADDR_MAX];
    ps_retpath_token tok;
    rc = decode
             ? ps_retpath_decode(&cfg, o.operand, o.now, &tok, &err)
             : ps_retpath_encode(&cfg, o.operand, o.now, out, sizeof out, &err);
    ps_secrets_free(s);
    if (rc < 0) {
        ps_cli_fail("retpath %s: %s", argv[1], err.msg);
        return decode ? PS_EXIT_NO : PS_EXIT_USAGE;
    }
    if (decode)
        printf("ref=%s issued=%lld\n", tok.ref, (long long)tok.issued);
    else
        printf("%s\n", out);
    return PS_EXIT_OK;
}
