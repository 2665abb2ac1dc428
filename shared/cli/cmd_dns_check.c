/* postseal dns check: looks up every record "postseal dns" would print
 * and says, one line each, whether it is ok, wrong (FAIL) or MISSING;
 * a failed lookup stops it, as unseen records can't be confirmed or blamed. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dmarc/dmarc.h"
#include "dns/dns.h"
#include "dns/published.h"
#include "dnsplan.h"

enum { OPT_RESOLVER = 256 }; /* long option only */

typedef enum ps_check_kind {
    CHECK_DKIM,
    CHECK_SPF,
    CHECK_DMARC,
    CHECK_MX
} ps_check_kind;

static const char *const ps_check_kinds[] = {"dkim", "spf", "dmarc", "mx"};

typedef struct ps_check_run {
    ps_plan plan;
    const char *resolver;
    int failed; /* a record was missing or wrong */
} ps_check_run;

static void ps_dnscheck_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: " PS_CLI_NAME " dns check --domain DOMAIN [--selector SEL "
        "--key FILE]\n"
        "                          [--return-path RPDOMAIN] [--srs-domain "
        "SRSDOMAIN]\n"
        "                          [-c postseal.conf]\n"
        "                          [--resolver IP[:PORT]]\n\n"
        "Looks up the DKIM, SPF and DMARC records of DOMAIN and the MX and "
        "SPF of the\nreturn-path and SRS domains; one line per record: ok, "
        "FAIL or "
        "MISSING.\nExit status: 0 all ok, 1 something missing or wrong, 2 "
        "bad usage or a\nfailed lookup.\n\n"
        "  -d, --domain DOMAIN       the sending (From) domain\n"
        "  -s, --selector SEL        the DKIM selector of --key\n"
        "  -k, --key FILE            the DKIM private key the record must "
        "match\n"
        "  -r, --return-path DOMAIN  the return-path (bounce) domain\n"
        "      --srs-domain DOMAIN   the SRS domain of forwarded mail\n"
        "  -c, --config FILE         also every [keys] entry of DOMAIN (all "
        "domains\n"
        "                            without --domain), and [return_path] "
        "domain\n"
        "                            and srs_domain\n"
        "      --resolver ADDR       ask this server (IP, IP:PORT or "
        "[IPv6]:PORT)\n"
        "                            instead of the system resolver\n"
        "  -h, --help                this text\n");
}

static int ps_dnscheck_parse(int argc, char **argv, ps_check_run *r)
{
    static const struct option longopts[] = {
        PS_PLAN_LONGOPTS,
        {"resolver", required_argument, NULL, OPT_RESOLVER},
        {NULL, 0, NULL, 0},
    };
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":" PS_PLAN_SHORTOPTS, longopts,
                             NULL)) != -1) {
        if (ch == 'h')
            return ps_dnscheck_usage(stdout), PS_CLI_HELP;
        if (ch == '?' || ch == ':')
            return ps_cli_bad_option("dns check", ch, argv);
        if (ch == OPT_RESOLVER)
            r->resolver = optarg;
        else if (!ps_plan_option(&r->plan, ch, optarg))
            return PS_EXIT_USAGE;
    }
    return ps_cli_no_operands("dns check", argc, argv);
}

static void ps_check_judge(ps_check_kind kind, const ps_dns_answer *ans,
                           const ps_key *key, ps_dnscheck *v)
{
    switch (kind) {
    case CHECK_DKIM:
        ps_dnscheck_dkim(ans, key, v);
        break;
    case CHECK_SPF:
        ps_dnscheck_spf(ans, v);
        break;
    case CHECK_DMARC:
        ps_dmarc_check_published(ans, v);
        break;
    case CHECK_MX:
        ps_dnscheck_mx(ans, v);
        break;
    }
}

/* Looks name up and prints its line; PS_EXIT_USAGE if the lookup failed. */
static int ps_dnscheck_one(ps_check_run *r, ps_check_kind kind,
                           const char *name, const ps_key *key)
{
    ps_dns_answer ans;
    ps_dnscheck v;
    ps_err err = {""};
    int rc = kind == CHECK_MX ? ps_dns_mx(r->resolver, name, &ans, &err)
                              : ps_dns_txt(r->resolver, name, &ans, &err);

    if (rc < 0)
        return ps_cli_fail("dns check: %s", err.msg);
    ps_check_judge(kind, &ans, key, &v);
    ps_dns_answer_free(&ans);
    printf("%-4s %s %s%s%s\n", ps_dnscheck_label(v.state), ps_check_kinds[kind],
           name, v.why[0] != '\0' ? ": " : "", v.why);
    fflush(stdout); /* before any error line on stderr */
    if (v.state != PS_DNSCHECK_OK)
        r->failed = 1;
    return 0;
}

static int ps_dnscheck_domain(ps_check_run *r, const char *domain)
{
    char name[PS_PLAN_NAME + 80];

    for (size_t i = 0; i < r->plan.nkeys; i++) {
        const ps_plan_key *k = &r->plan.keys[i];

        if (!ps_cli_same_name(k->domain, domain))
            continue;
        snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, domain);
        if (ps_dnscheck_one(r, CHECK_DKIM, name, k->key) != 0)
            return PS_EXIT_USAGE;
    }
    if (ps_dnscheck_one(r, CHECK_SPF, domain, NULL) != 0)
        return PS_EXIT_USAGE;
    snprintf(name, sizeof(name), "_dmarc.%s", domain);
    return ps_dnscheck_one(r, CHECK_DMARC, name, NULL);
}

/* A domain in MAIL FROM (return path or SRS): its MX and SPF. */
static int ps_dnscheck_envelope(ps_check_run *r, const char *name)
{
    if (ps_dnscheck_one(r, CHECK_MX, name, NULL) != 0 ||
        ps_dnscheck_one(r, CHECK_SPF, name, NULL) != 0)
        return PS_EXIT_USAGE;
    return 0;
}

static int ps_dnscheck_all(ps_check_run *r)
{
    for (size_t i = 0; i < r->plan.ndomains; i++)
        if (ps_dnscheck_domain(r, r->plan.domains[i]) != 0)
            return PS_EXIT_USAGE;
    for (size_t i = 0; i < r->plan.nreturn_paths; i++)
        if (ps_dnscheck_envelope(r, r->plan.return_paths[i]) != 0)
            return PS_EXIT_USAGE;
    if (ps_plan_srs_apart(&r->plan) &&
        ps_dnscheck_envelope(r, r->plan.srs_domain) != 0)
        return PS_EXIT_USAGE;
    return r->failed ? PS_EXIT_NO : PS_EXIT_OK;
}

int ps_cmd_dns_check(int argc, char **argv)
{
    ps_check_run r;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = ps_dnscheck_parse(argc, argv, &r);
    if (rc == 0)
        rc = ps_plan_build(&r.plan, "dns check");
    if (rc == 0)
        rc = ps_dnscheck_all(&r);
    ps_plan_free(&r.plan);
    return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
}
