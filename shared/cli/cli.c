/* Helpers shared by the postseal commands: one-line errors on stderr,
 * getopt_long error reporting, and DNS name handling for the records. */
#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int ps_cli_fail(const char *fmt, ...)
{
    va_list ap;

    fputs(PS_CLI_NAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PS_EXIT_USAGE;
}

void ps_cli_getopt_reset(void)
{
    optind = 0; /* 0, not 1: GNU getopt then forgets a half-read cluster */
    opterr = 0;
}

/* A long option is the argument getopt just stepped over; a short one may
 * sit inside a cluster ("-dx"), so it is rebuilt from optopt. */
int ps_cli_bad_option(const char *cmd, int ch, char **argv)
{
    const char *what = argv[optind > 0 ? optind - 1 : 0];
    char shortopt[3] = {'-', (char)optopt, '\0'};

    if (strncmp(what, "--", 2) != 0 && optopt > ' ' && optopt < 0x7f)
        what = shortopt;
    if (ch == ':')
        return ps_cli_fail("%s: option %s needs a value (see " PS_CLI_NAME
                           " %s --help)",
                           cmd, what, cmd);
    return ps_cli_fail("%s: unknown option %s (see " PS_CLI_NAME " %s --help)",
                       cmd, what, cmd);
}

int ps_cli_no_operands(const char *cmd, int argc, char **argv)
{
    if (optind >= argc)
        return 0;
    return ps_cli_fail("%s: unexpected argument '%.100s' (see " PS_CLI_NAME
                       " %s --help)",
                       cmd, argv[optind], cmd);
}

/* Lower case, so a name typed as Example.COM gives the same file names
 * and records as example.com. */
const char *ps_cli_name(char *buf, size_t size, const char *prefix,
                        const char *name)
{
    size_t len = strlen(name), plen = strlen(prefix);
    int n;

    if (len > 1 && name[len - 1] == '.')
        len--;
    n = snprintf(buf, size, "%s%.*s", prefix, (int)len, name);
    if (n < 0 || (size_t)n >= size)
        return NULL;
    for (char *p = buf + plen; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return buf;
}

int ps_cli_same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > 1 && a[la - 1] == '.')
        la--;
    if (lb > 1 && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}
