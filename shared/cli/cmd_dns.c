/* postseal dns: prints the records a sending domain publishes (DKIM for
 * each key, SPF, DMARC, and the MX and SPF of the return-path and SRS
 * domains) as zone-file lines with ';' comments saying what each is for. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dnsplan.h"
#include "dns/dnsname.h"
#include "dns/dnsrec.h"

/* SPF allows ten DNS lookups per check; "mx" is one, and each include at
 * least one more. */
#define PS_DNS_MAX_INCLUDES 9

typedef struct ps_dns_opts {
    ps_plan plan;
    const char *mx, *rua, *policy;
    const char *includes[PS_DNS_MAX_INCLUDES];
    size_t nincludes;
} ps_dns_opts;

enum { OPT_MX = 'm', OPT_INCLUDE = 'i', OPT_RUA = 'u', OPT_POLICY = 'p' };

static void ps_dns_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: " PS_CLI_NAME " dns --domain DOMAIN "
        "[--selector SEL --key FILE]\n"
        "                    [--return-path RPDOMAIN] [--srs-domain "
        "SRSDOMAIN] [--mx HOST]\n"
        "                    [--spf-include NAME]...\n"
        "                    [--dmarc-rua ADDR] [--dmarc-policy "
        "none|quarantine|reject]\n"
        "                    [-c postseal.conf]\n"
        "       " PS_CLI_NAME " dns check ... (see " PS_CLI_NAME
        " dns check --help)\n\n"
        "Prints the DNS records to publish, as zone-file lines.\n\n"
        "  -d, --domain DOMAIN       the sending (From) domain\n"
        "  -s, --selector SEL        the DKIM selector of --key\n"
        "  -k, --key FILE            a DKIM private key (PEM): its public "
        "record is printed\n"
        "  -r, --return-path DOMAIN  the return-path (bounce) domain, e.g. "
        "rp.DOMAIN\n"
        "      --srs-domain DOMAIN   the SRS domain of forwarded mail, e.g. "
        "fwd.DOMAIN\n"
        "  -m, --mx HOST             the host that receives bounces to both "
        "(default\n"
        "                            mail.DOMAIN)\n"
        "  -i, --spf-include NAME    add include:NAME to SPF (repeatable, "
        "at most %d)\n"
        "  -u, --dmarc-rua ADDR      where DMARC aggregate reports go\n"
        "  -p, --dmarc-policy P      none (default), quarantine or reject\n"
        "  -c, --config FILE         also every [keys] entry of DOMAIN (all "
        "domains\n"
        "                            without --domain), and [return_path] "
        "domain\n"
        "                            and srs_domain\n"
        "  -h, --help                this text\n",
        PS_DNS_MAX_INCLUDES);
}

static int ps_dns_arg(ps_dns_opts *o, int ch, const char *arg)
{
    ps_err err = {""};

    switch (ch) {
    case OPT_MX:
        o->mx = arg;
        return ps_dnsname_check_domain(arg, &err) < 0
                   ? ps_cli_fail("dns: --mx: %s", err.msg)
                   : 0;
    case OPT_INCLUDE:
        if (o->nincludes == PS_DNS_MAX_INCLUDES)
            return ps_cli_fail("dns: at most %d --spf-include (SPF allows 10 "
                               "DNS lookups)",
                               PS_DNS_MAX_INCLUDES);
        o->includes[o->nincludes++] = arg;
        return ps_dnsname_check_spf_include(arg, &err) < 0
                   ? ps_cli_fail("dns: --spf-include: %s", err.msg)
                   : 0;
    case OPT_RUA:
        o->rua = arg;
        return 0;
    case OPT_POLICY:
        o->policy = arg;
        return 0;
    }
    return ps_plan_option(&o->plan, ch, arg) ? 0 : PS_EXIT_USAGE;
}

static int ps_dns_parse(int argc, char **argv, ps_dns_opts *o)
{
    static const struct option longopts[] = {
        PS_PLAN_LONGOPTS,
        {"mx", required_argument, NULL, OPT_MX},
        {"spf-include", required_argument, NULL, OPT_INCLUDE},
        {"dmarc-rua", required_argument, NULL, OPT_RUA},
        {"dmarc-policy", required_argument, NULL, OPT_POLICY},
        {NULL, 0, NULL, 0},
    };
    ps_err err = {""};
    int ch;

    o->policy = "none";
    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":" PS_PLAN_SHORTOPTS "m:i:u:p:",
                             longopts, NULL)) != -1) {
        if (ch == 'h')
            return ps_dns_usage(stdout), PS_CLI_HELP;
        if (ch == '?' || ch == ':')
            return ps_cli_bad_option("dns", ch, argv);
        if (ps_dns_arg(o, ch, optarg) != 0)
            return PS_EXIT_USAGE;
    }
    if (ps_dnsrec_check_dmarc(o->policy, o->rua, &err) < 0)
        return ps_cli_fail("dns: %s", err.msg);
    return ps_cli_no_operands("dns", argc, argv);
}

/* ---- printing ------------------------------------------------------------ */

static int ps_dns_print_txt(const char *name, const char *txt)
{
    char *line = txt != NULL ? ps_dnsrec_txt_line(name, PS_CLI_TTL, txt) : NULL;

    if (line == NULL)
        return ps_cli_fail("dns: cannot format the record for %s", name);
    printf("%s\n", line);
    free(line);
    return 0;
}

static int ps_dns_dkim(const ps_plan_key *k)
{
    char name[PS_PLAN_NAME + 80], *rec = NULL;
    ps_err err = {""};
    int rc;

    snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector, k->domain);
    if (ps_key_dkim_record(k->key, &rec, &err) < 0)
        return ps_cli_fail("%s%s", k->where, err.msg);
    printf("\n; DKIM key for %s, selector %s (%s, %d bits): receivers fetch it "
           "to verify\n; the DKIM-Signature postseal-milter adds. Keep it "
           "published while mail\n; signed with it may still be checked.\n",
           k->domain, k->selector, ps_key_dkim_k(k->key), ps_key_bits(k->key));
    rc = ps_dns_print_txt(name, rec);
    free(rec);
    return rc;
}

static int ps_dns_spf(const ps_dns_opts *o, const char *domain)
{
    char *spf = ps_dnsrec_spf(o->includes, o->nincludes);
    int rc = ps_dns_print_txt(domain, spf);

    free(spf);
    return rc;
}

static int ps_dns_domain(const ps_dns_opts *o, const char *domain)
{
    char name[PS_PLAN_NAME + 8], *dmarc;
    int rc;

    for (size_t i = 0; i < o->plan.nkeys; i++)
        if (ps_cli_same_name(o->plan.keys[i].domain, domain) &&
            ps_dns_dkim(&o->plan.keys[i]) != 0)
            return PS_EXIT_USAGE;
    printf("\n; SPF for %s: the hosts that may send mail for it (\"mx\": its "
           "MX hosts).\n; A domain has exactly one v=spf1 record: merge with "
           "any existing one.\n",
           domain);
    if (ps_dns_spf(o, domain) != 0)
        return PS_EXIT_USAGE;
    printf("\n; DMARC for %s: what receivers do with mail From it that has "
           "neither an\n; aligned DKIM signature nor aligned SPF (p=none: "
           "report only); rua: where\n; daily aggregate reports go.\n",
           domain);
    snprintf(name, sizeof(name), "_dmarc.%s", domain);
    dmarc = ps_dnsrec_dmarc(o->policy, o->rua);
    rc = ps_dns_print_txt(name, dmarc);
    free(dmarc);
    return rc;
}

/* The MX and SPF of a domain that appears in MAIL FROM (return path or
 * SRS), after what says why. */
static int ps_dns_envelope_domain(const ps_dns_opts *o, const char *name,
                                  const char *why)
{
    char mx[PS_PLAN_NAME + 8];

    if (o->mx != NULL)
        ps_cli_name(mx, sizeof(mx), "", o->mx);
    else
        snprintf(mx, sizeof(mx), "mail.%s", o->plan.domains[0]);
    printf("%s, so bounces come back to its MX, which must be the\n; Postfix "
           "host running postseal-milter%s.\n%s. %d IN MX 10 %s.\n",
           why,
           o->mx != NULL ? "" : " (mail.DOMAIN by default: name it with --mx)",
           name, PS_CLI_TTL, mx);
    printf("; SPF for %s: receivers check SPF against the MAIL FROM domain, "
           "which is\n; this one; \"mx\" allows the host above to send.\n",
           name);
    return ps_dns_spf(o, name);
}

static int ps_dns_return_path(const ps_dns_opts *o, const char *rp)
{
    char why[PS_PLAN_NAME + 160];

    snprintf(why, sizeof(why),
             "\n; Return path %s: postseal-milter puts signed, expiring bounce "
             "addresses\n; under it in MAIL FROM",
             rp);
    return ps_dns_envelope_domain(o, rp, why);
}

static int ps_dns_srs(const ps_dns_opts *o)
{
    const char *srs = o->plan.srs_domain;
    char why[2 * PS_PLAN_NAME + 200];

    if (srs[0] == '\0')
        return 0;
    if (!ps_plan_srs_apart(&o->plan)) {
        printf("\n; SRS domain %s is a return-path domain above: its MX and "
               "SPF serve\n; forwarded mail too.\n",
               srs);
        return 0;
    }
    snprintf(why, sizeof(why),
             "\n; SRS domain %s: mail postseal-milter forwards for others "
             "leaves with\n; MAIL FROM:<SRS0=...@%s>",
             srs, srs);
    return ps_dns_envelope_domain(o, srs, why);
}

static int ps_dns_print(const ps_dns_opts *o)
{
    printf("; DNS records from " PS_CLI_NAME " dns, ready to paste into the "
           "zone; TTL %d seconds.\n",
           PS_CLI_TTL);
    for (size_t i = 0; i < o->plan.ndomains; i++)
        if (ps_dns_domain(o, o->plan.domains[i]) != 0)
            return PS_EXIT_USAGE;
    if (o->plan.nreturn_paths == 0)
        printf("\n; No return-path domain (--return-path, or [return_path] "
               "domain): MAIL FROM\n; keeps the sender's address, so SPF is "
               "checked against the domain above.\n");
    for (size_t i = 0; i < o->plan.nreturn_paths; i++)
        if (ps_dns_return_path(o, o->plan.return_paths[i]) != 0)
            return PS_EXIT_USAGE;
    if (ps_dns_srs(o) != 0)
        return PS_EXIT_USAGE;
    return fflush(stdout) == 0 ? PS_EXIT_OK
                               : ps_cli_fail("dns: cannot write the output");
}

int ps_cmd_dns(int argc, char **argv)
{
    ps_dns_opts o;
    int rc;

    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return ps_cmd_dns_check(argc - 1, argv + 1);
    memset(&o, 0, sizeof(o));
    rc = ps_dns_parse(argc, argv, &o);
    if (rc == 0)
        rc = ps_plan_build(&o.plan, "dns");
    if (rc == 0)
        rc = ps_dns_print(&o);
    ps_plan_free(&o.plan);
    return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
}
