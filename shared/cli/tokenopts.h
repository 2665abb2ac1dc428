/* Options of the commands that make or check signed addresses ("srs",
 * "retpath"): parsed once here so both spell them the same way. */
#ifndef PS_CLI_TOKENOPTS_H
#define PS_CLI_TOKENOPTS_H

#include <stdio.h>
#include <time.h>
#include "crypto/secrets.h"

typedef struct ps_secrets ps_secrets;

typedef struct ps_cli_tokenopts_t {
    int verb;                /* 0 or 1: which of the two verbs was given */
    ps_secrets *secrets;     /* loaded from --secret-file; caller frees */
    const char *secret_file; /* required */
    const char *domain;      /* --domain, or NULL */
    const char *ref;         /* --ref, or NULL */
    const char *operand;     /* the one argument left, or NULL */
    time_t now;              /* --time, default the clock */
} ps_cli_tokenopts_t;

/* argv[1] must be one of verbs; then the options, --domain and the operand
 * (--ref REF stands for it) are required and the secrets are loaded. The
 * second verb (decode, reverse) checks an address: without --domain, its
 * domain is the address's own.
 * Returns 0 to go on, or -1 with *exit_code set (0 after --help, else
 * PS_EXIT_USAGE after one line on stderr). */
int ps_cli_tokenopts(const char *cmd, const char *const verbs[2], int argc,
                     char **argv, void (*usage)(FILE *), ps_cli_tokenopts_t *o,
                     int *exit_code);

#endif
