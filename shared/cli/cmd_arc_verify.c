/* postseal arc verify: the milter's ARC chain validation on a message
 * file, with keys from DNS or given on the command line (--txt), for
 * checking a forwarder's seals and replaying published test suites.
 * "postseal arc" itself dispatches here on the verb "verify". */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc/arc.h"
#include "base/textfile.h"
#include "cli.h"

#define PS_ARC_CLI_MAX_TXT  64
#define PS_ARC_CLI_MAX_FILE (64 * 1024 * 1024)

typedef struct arc_keys {
    const char *txt[PS_ARC_CLI_MAX_TXT]; /* "NAME=RECORD" */
    size_t ntxt;
    const char *resolver;
} arc_keys;

static void ps_arc_usage(FILE *fp)
{
    fprintf(fp, "usage: " PS_CLI_NAME " arc verify [--txt NAME=RECORD]... "
                "[--resolver IP[:PORT]] FILE\n\n"
                "Validates the ARC chain of the message in FILE (RFC 8617 5.2) "
                "as postseal-milter\ndoes and prints arc=pass|fail|none, the "
                "instance count and header.oldest-pass.\nExit 0 on pass, 1 on "
                "fail or none, 2 when a key lookup or the input failed.\n\n"
                "  -t, --txt NAME=RECORD   answer the TXT lookup of NAME "
                "(s._domainkey.d) with\n"
                "                          RECORD instead of asking DNS "
                "(repeatable)\n"
                "  -r, --resolver SERVER   DNS server for the keys (default: "
                "the system's)\n"
                "  -h, --help              this text\n");
}

static int arc_lookup(void *arg, const char *name, ps_dns_answer *ans)
{
    const arc_keys *k = arg;
    size_t len = strlen(name);
    ps_err err;

    memset(ans, 0, sizeof(*ans));
    if (k->ntxt == 0)
        return ps_dns_txt(k->resolver, name, ans, &err);
    for (size_t i = 0; i < k->ntxt; i++)
        if (strncasecmp(k->txt[i], name, len) == 0 && k->txt[i][len] == '=') {
            ans->records[0] = strdup(k->txt[i] + len + 1);
            ans->count = ans->records[0] != NULL;
            return ans->records[0] != NULL ? 0 : -1;
        }
    ans->nxdomain = 1;
    return 0;
}

/* The end of the field that starts at p: the line end not followed by
 * whitespace (a folded line continues the field). */
static const char *field_end(const char *p, const char *end)
{
    for (const char *q = p; q < end; q++)
        if (*q == '\n' && (q + 1 >= end || (q[1] != ' ' && q[1] != '\t')))
            return q;
    return end;
}

/* Feeds the header fields and the body of a message in memory. */
static void feed(ps_arc_verify *v, const char *msg, size_t len)
{
    const char *p = msg, *end = msg + len;

    while (p < end && *p != '\n' &&
           !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
        const char *fe = field_end(p, end), *colon = p;
        const char *ve = fe > p && fe[-1] == '\r' ? fe - 1 : fe;

        while (colon < ve && *colon != ':')
            colon++;
        if (colon < ve)
            ps_arc_verify_header(v, p, (size_t)(colon - p), colon + 1,
                                 (size_t)(ve - colon - 1));
        p = fe < end ? fe + 1 : end;
    }
    ps_arc_verify_eoh(v);
    if (p < end)
        p += *p == '\r' ? 2 : 1;
    if (p < end)
        ps_arc_verify_body(v, p, (size_t)(end - p));
}

static int arc_verify_file(const char *path, arc_keys *keys)
{
    char *msg = NULL;
    size_t len = 0;
    ps_err err = {""};
    ps_arc_verify *v;
    ps_arc_outcome o;

    if (ps_textfile_read(path, PS_ARC_CLI_MAX_FILE, &msg, &len, &err) < 0)
        return ps_cli_fail("arc verify: %s", err.msg);
    v = ps_arc_verify_new();
    if (v == NULL) {
        free(msg);
        return ps_cli_fail("arc verify: out of memory");
    }
    feed(v, msg, len);
    ps_arc_verify_final(v, arc_lookup, keys, &o);
    printf("arc=%s i=%u", ps_arc_result_name(o.result), o.count);
    if (o.result == PS_ARC_RESULT_PASS)
        printf(" header.oldest-pass=%u", o.oldest_pass);
    else if (o.reason[0] != '\0')
        printf(" (%s)", o.reason);
    printf("\n");
    ps_arc_verify_free(v);
    free(msg);
    return o.result == PS_ARC_RESULT_PASS        ? PS_EXIT_OK
           : o.result == PS_ARC_RESULT_TEMPERROR ? PS_EXIT_USAGE
                                                 : PS_EXIT_NO;
}

int ps_cmd_arc_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"txt", required_argument, NULL, 't'},
        {"resolver", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    arc_keys keys = {{NULL}, 0, NULL};
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":t:r:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            ps_arc_usage(stdout);
            return PS_EXIT_OK;
        } else if (ch == 't' && keys.ntxt < PS_ARC_CLI_MAX_TXT &&
                   strchr(optarg, '=') != NULL) {
            keys.txt[keys.ntxt++] = optarg;
        } else if (ch == 't') {
            return ps_cli_fail("arc verify: --txt wants NAME=RECORD (at "
                               "most %d)",
                               PS_ARC_CLI_MAX_TXT);
        } else if (ch == 'r') {
            keys.resolver = optarg;
        } else {
            return ps_cli_bad_option("arc verify", ch, argv);
        }
    }
    if (optind != argc - 1)
        return ps_cli_fail("arc verify: one message FILE expected");
    return arc_verify_file(argv[optind], &keys);
}
