/* postseal quota show [KEY] | reset KEY: the counters of postseal-policyd,
 * in its LMDB file or its Redis. The store code lives in the daemon's
 * binary (LMDB, hiredis), so this command runs postseal-policyd -Q, found
 * beside this program or else on PATH, and passes its exit code on. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf/conf.h"

#define PS_QUOTA_DAEMON "postseal-policyd"

int ps_cmd_quota(int argc, char **argv);

static void ps_quota_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " quota show [KEY] [-c FILE]\n"
            "       " PS_CLI_NAME " quota reset KEY [-c FILE]\n\n"
            "Shows or resets the quota counters of postseal-policyd, in the "
            "store its\n[policyd] section names (LMDB file or Redis). KEY "
            "is KIND:NAME, as in\nsasl_username:app@example.com, "
            "sender_domain:example.com or\nclient_address:192.0.2.0/24; "
            "show without KEY lists every counter.\n\n"
            "  -c, --config FILE   postseal.conf (default " PS_CONF_DEFAULT_PATH
            ")\n"
            "  -h, --help          this text\n\n"
            "exit status: 0 ok, 1 KEY is over a limit (show), 2 bad usage or "
            "store error\n");
}

/* The daemon beside this binary (build tree, install prefix), else PATH. */
void ps_cli_policyd(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    snprintf(out, size, "%s", PS_QUOTA_DAEMON);
    if (n <= 0)
        return;
    self[n] = '\0';
    snprintf(out, size, "%s/" PS_QUOTA_DAEMON, dirname(self));
    if (access(out, X_OK) != 0)
        snprintf(out, size, "%s", PS_QUOTA_DAEMON);
}

int ps_cli_conf_args(int argc, char **argv, const char *cmd,
                     void (*usage)(FILE *), const char **conf)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        if (ch == 'c')
            *conf = optarg;
        else if (ch == 'h')
            return usage(stdout), PS_CLI_HELP;
        else
            return ps_cli_bad_option(cmd, ch, argv);
    }
    return 0;
}

int ps_cmd_quota(int argc, char **argv)
{
    const char *conf = PS_CONF_DEFAULT_PATH, *verb, *key = NULL;
    char daemon[PATH_MAX + 32];
    int rc = ps_cli_conf_args(argc, argv, "quota", ps_quota_usage, &conf);

    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (optind >= argc)
        return ps_cli_fail("quota: expected show or reset (see " PS_CLI_NAME
                           " quota --help)");
    verb = argv[optind++];
    if (optind < argc)
        key = argv[optind++];
    if (optind < argc)
        return ps_cli_fail("quota: unexpected '%.80s'", argv[optind]);
    if (strcmp(verb, "show") != 0 && strcmp(verb, "reset") != 0)
        return ps_cli_fail("quota: unknown action '%.40s' (show or reset)",
                           verb);
    if (strcmp(verb, "reset") == 0 && key == NULL)
        return ps_cli_fail("quota: reset needs a KEY, as "
                           "sasl_username:app@example.com");
    ps_cli_policyd(daemon, sizeof(daemon));
    fflush(stdout);
    execvp(daemon, (char *[]){daemon, "-c", (char *)conf, "-Q", (char *)verb,
                              (char *)key, NULL});
    return ps_cli_fail("quota: cannot run %s: %m", daemon);
}
