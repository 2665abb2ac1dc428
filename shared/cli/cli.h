/* The postseal command-line tool: the commands the dispatcher knows, the
 * exit codes every command shares, and small helpers for their option
 * parsing and their one-line error messages. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stddef.h>
#include <stdio.h>

#define PS_CLI_NAME "postseal"
#define PS_CLI_TTL  3600 /* seconds, for every record we print */

enum {
    PS_EXIT_OK = 0,
    PS_EXIT_NO = 1,    /* a negative answer: a record missing or wrong */
    PS_EXIT_USAGE = 2, /* bad usage or input, lookup failures */
    PS_CLI_HELP = -1   /* option parsing printed --help: exit 0 */
};

/* Each command gets argv with its own name at argv[0]. */
int ps_cmd_keygen(int argc, char **argv);
int ps_cmd_dns(int argc, char **argv);       /* also "dns check" */
int ps_cmd_dns_check(int argc, char **argv); /* argv[0] is "check" */
int ps_cmd_check(int argc, char **argv);
int ps_cmd_quota(int argc, char **argv);
int ps_cmd_suppression(int argc, char **argv);
/* postseal-policyd beside this program (build tree, install prefix),
 * else the name alone for PATH: the store commands run it. */
void ps_cli_policyd(char *out, size_t size);
/* The options of a command that takes only -c FILE and -h: 0, or
 * PS_CLI_HELP (usage printed), or the exit code of a bad option. */
int ps_cli_conf_args(int argc, char **argv, const char *cmd,
                     void (*usage)(FILE *), const char **conf);
int ps_cmd_webhook(int argc, char **argv); /* "webhook sign|verify" */
int ps_cmd_srs(int argc, char **argv);
int ps_cmd_retpath(int argc, char **argv);
int ps_cmd_arc(int argc, char **argv);    /* "arc seal" */
int ps_cmd_events(int argc, char **argv); /* "events list" */
int ps_cmd_dmarc(int argc, char **argv);  /* "dmarc report" */
int ps_cmd_arc(int argc, char **argv);    /* "arc verify" */
/* argv[0] is "verify" */
int ps_cmd_arc_verify(int argc, char **argv);

/* Prints "postseal: MESSAGE" on stderr; returns PS_EXIT_USAGE. */
int ps_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Resets getopt for a command's argv (GNU getopt keeps state between
 * calls) and silences its own messages: ours are one line each. */
void ps_cli_getopt_reset(void);
/* The one line for what getopt_long returned as '?' or ':' (optstring
 * must start with ':'); returns PS_EXIT_USAGE. */
int ps_cli_bad_option(const char *cmd, int ch, char **argv);
/* Refuses arguments left after the options; 0 if there are none. */
int ps_cli_no_operands(const char *cmd, int argc, char **argv);

/* name in lower case without one trailing '.', into buf (of size); NULL
 * if it does not fit. prefix (may be "") goes in front, as it is:
 * "_dmarc." + "example.com". */
const char *ps_cli_name(char *buf, size_t size, const char *prefix,
                        const char *name);
/* 1 if a and b are the same DNS name (ASCII case and a trailing '.'
 * ignored). */
int ps_cli_same_name(const char *a, const char *b);

#endif
