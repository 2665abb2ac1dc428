/* postseal: the admin's command-line tool. main() only picks the command
 * from a table; each command parses its own options and returns the exit
 * code (0 yes, 1 a negative answer, 2 bad usage or input). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct ps_cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} ps_cli_cmd;

static const ps_cli_cmd ps_cli_cmds[] = {
    {"keygen", ps_cmd_keygen, "generate a DKIM key and print its DNS record"},
    {"dns", ps_cmd_dns,
     "print the DNS records to publish (DKIM, SPF, DMARC, "
     "return path)"},
    {"dns check", NULL, "look the records up and say what is missing or wrong"},
    {"check", ps_cmd_check,
     "load a postseal.conf with every key and secret "
     "file it names"},
    {"webhook", ps_cmd_webhook,
     "sign a webhook body, or verify a saved request"},
    {"quota", ps_cmd_quota,
     "show or reset quota counters (postseal-policyd's store)"},
    {"suppression", ps_cmd_suppression,
     "list, add or remove suppressed recipients (postseal-policyd's store)"},
    {"events", ps_cmd_events,
     "list the delivery events spooled from Postfix's log"},
    {"dmarc", ps_cmd_dmarc,
     "dmarc report: build and mail DMARC aggregate reports (RFC 7489)"},
    {"srs", ps_cmd_srs, "SRS-rewrite a forwarded sender, or reverse one"},
    {"retpath", ps_cmd_retpath, "make or check a signed return path"},
    {"arc", ps_cmd_arc, "seal a saved message (ARC set) or validate its chain"},
};

#define PS_CLI_NCMDS (sizeof(ps_cli_cmds) / sizeof(ps_cli_cmds[0]))

static void ps_cli_usage(FILE *fp)
{
    fprintf(fp, "usage: " PS_CLI_NAME " COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < PS_CLI_NCMDS; i++)
        fprintf(fp, "  %-10s  %s\n", ps_cli_cmds[i].name,
                ps_cli_cmds[i].summary);
    fprintf(fp, "\n" PS_CLI_NAME " COMMAND --help shows a command's options; "
                "man postseal has the details.\nexit status: 0 success, 1 a "
                "negative answer, 2 bad usage or input\n" PS_CLI_NAME
                " --version prints the version (" PS_VERSION ").\n");
}

static int ps_cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
           strcmp(arg, "help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return ps_cli_fail("no command given (see " PS_CLI_NAME " --help)");
    if (ps_cli_is_help(argv[1])) {
        ps_cli_usage(stdout);
        return PS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
        return printf(PS_CLI_NAME " " PS_VERSION "\n") < 0 ? PS_EXIT_USAGE
                                                           : PS_EXIT_OK;
    for (size_t i = 0; i < PS_CLI_NCMDS; i++)
        if (ps_cli_cmds[i].run != NULL &&
            strcmp(argv[1], ps_cli_cmds[i].name) == 0)
            return ps_cli_cmds[i].run(argc - 1, argv + 1);
    return ps_cli_fail("unknown command '%.100s' (see " PS_CLI_NAME " --help)",
                       argv[1]);
}
