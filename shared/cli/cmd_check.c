/* postseal check: the whole-file verdict on a postseal.conf, the same one
 * both daemons' -n, start and reload give (check/check.h), so a mistake
 * shows up here, with its file and line, rather than in their logs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "conf/conf.h"
#include "check/check.h"

static void ps_check_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: " PS_CLI_NAME " check [-c FILE]\n\n"
        "Gives the verdict postseal-milter and postseal-policyd give on the "
        "configuration\n(their -n, start and reload run the same check): "
        "every value, DKIM key,\nOpenDKIM table, secret file, limit, the "
        "events file, store and sockets.\nPrints \"FILE: ok\", or the first "
        "error as FILE:LINE: reason.\n\n"
        "  -c, --config FILE   the configuration (default " PS_CONF_DEFAULT_PATH
        ")\n"
        "  -h, --help          this text\n");
}

static int ps_check_parse(int argc, char **argv, const char **path)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    *path = PS_CONF_DEFAULT_PATH;
    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        if (ch == 'h')
            return ps_check_usage(stdout), PS_CLI_HELP;
        if (ch != 'c')
            return ps_cli_bad_option("check", ch, argv);
        *path = optarg;
    }
    return ps_cli_no_operands("check", argc, argv);
}

int ps_cmd_check(int argc, char **argv)
{
    const char *path;
    ps_conf *conf = NULL;
    ps_err err = {""};
    int rc = ps_check_parse(argc, argv, &path);

    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (ps_conf_load(path, &conf, &err) < 0 ||
        ps_confcheck_run(conf, &err) < 0) {
        ps_conf_free(conf);
        return ps_cli_fail("%s", err.msg);
    }
    ps_conf_free(conf);
    printf("%s: ok\n", path);
    return PS_EXIT_OK;
}
