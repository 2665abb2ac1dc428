/* postseal suppression list | add RCPT WHO | remove RCPT WHO: the
 * recipients postseal-policyd refuses after a permanent failure, in the
 * store its [policyd] section names. Runs postseal-policyd -S, as
 * `postseal quota` runs -Q, and passes its exit code on. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf/conf.h"

static void ps_supp_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " suppression list [-c FILE]\n"
            "       " PS_CLI_NAME " suppression add|remove RCPT WHO "
            "[-c FILE]\n\n"
            "Lists, adds or removes the recipients postseal-policyd refuses "
            "after a\npermanent failure. WHO is the sender domain, or the "
            "credential with\n[suppression] scope = credential; add uses "
            "[suppression] ttl.\n\n"
            "  -c, --config FILE   postseal.conf (default " PS_CONF_DEFAULT_PATH
            ")\n"
            "  -h, --help          this text\n\n"
            "exit status: 0 ok, 1 remove found no entry, 2 bad usage or "
            "store error\n");
}

int ps_cmd_suppression(int argc, char **argv)
{
    const char *conf = PS_CONF_DEFAULT_PATH, *verb;
    char daemon[PATH_MAX + 32];
    int rc = ps_cli_conf_args(argc, argv, "suppression", ps_supp_usage, &conf),
        nargs;

    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (optind >= argc)
        return ps_cli_fail(
            "suppression: expected list, add or remove (see " PS_CLI_NAME
            " suppression --help)");
    verb = argv[optind++];
    nargs = argc - optind;
    if (strcmp(verb, "list") == 0                                 ? nargs != 0
        : strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0 ? nargs != 2
                                                                  : 1)
        return ps_cli_fail("suppression: expected list, add RCPT WHO or "
                           "remove RCPT WHO");
    ps_cli_policyd(daemon, sizeof(daemon));
    fflush(stdout);
    execvp(daemon, (char *[]){daemon, "-c", (char *)conf, "-S", (char *)verb,
                              nargs ? argv[optind] : NULL,
                              nargs ? argv[optind + 1] : NULL, NULL});
    return ps_cli_fail("suppression: cannot run %s: %m", daemon);
}
