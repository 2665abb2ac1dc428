/* postseal dmarc report: the day's DMARC history ([milter] dmarc_history)
 * as RFC 7489 aggregate reports, one per policy domain, printed or mailed
 * through the local MTA's sendmail to the domain's rua= mailto: addresses
 * that may receive them (section 7.1) and whose size limit they fit. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "conf/conf.h"
#include "dmarc/report.h"
#include "dns/dns.h"

#define DM_SENDMAIL "/usr/sbin/sendmail"
#define DM_DAY      86400

typedef struct dm_opts {
    const char *conf, *day, *org_name, *email, *sendmail, *resolver;
    int send;
} dm_opts;

typedef struct dm_run {
    const dm_opts *o;
    ps_dmrep_meta meta;
    ps_dmarc_psl *psl;
    int failed; /* a bad line or a report not handed over: exit 1 */
} dm_run;

static void dm_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " dmarc report [--day YYYY-MM-DD] "
            "[--org-name NAME] [--email ADDR]\n"
            "       [--print | --send] [--sendmail PATH] [--resolver IP] "
            "[-c FILE]\n\n"
            "Builds the RFC 7489 aggregate report of each policy domain "
            "with rua=\nfrom one day's DMARC history ([milter] "
            "dmarc_history). --print writes\nthe XML to standard output; "
            "--send mails it gzip'd through `sendmail\n-t -oi` to each rua= "
            "mailto: address the domain may report to (another\n"
            "organization's address needs its "
            "DOMAIN._report._dmarc.RUADOMAIN record)\nand whose !size "
            "limit the message fits.\n\n"
            "  -c, --config FILE   postseal.conf (default " PS_CONF_DEFAULT_PATH
            ")\n"
            "      --day DAY       the UTC day, YYYY-MM-DD (default: "
            "yesterday)\n"
            "      --org-name NAME the reporter ([dmarc_report] org_name)\n"
            "      --email ADDR    its contact and From address "
            "([dmarc_report] email)\n"
            "      --print         write the reports' XML (the default)\n"
            "      --send          mail the reports\n"
            "      --sendmail PATH the MTA's sendmail ([dmarc_report] "
            "sendmail,\n                      default " DM_SENDMAIL ")\n"
            "      --resolver IP   DNS server for the _report._dmarc "
            "lookups\n  -h, --help          this text\n\n"
            "exit status: 0 ok, 1 a bad history line or a report not "
            "handed over,\n2 bad usage, configuration or unreadable "
            "history\n");
}

static int dm_args(int argc, char **argv, dm_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"day", required_argument, NULL, 'd'},
        {"org-name", required_argument, NULL, 'o'},
        {"email", required_argument, NULL, 'e'},
        {"sendmail", required_argument, NULL, 'm'},
        {"resolver", required_argument, NULL, 'r'},
        {"print", no_argument, NULL, 'p'},
        {"send", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch, print = 0;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->conf = optarg;
            break;
        case 'd':
            o->day = optarg;
            break;
        case 'o':
            o->org_name = optarg;
            break;
        case 'e':
            o->email = optarg;
            break;
        case 'm':
            o->sendmail = optarg;
            break;
        case 'r':
            o->resolver = optarg;
            break;
        case 'p':
            print = 1;
            break;
        case 's':
            o->send = 1;
            break;
        case 'h':
            return dm_usage(stdout), PS_CLI_HELP;
        default:
            return ps_cli_bad_option("dmarc report", ch, argv);
        }
    }
    if (print && o->send)
        return ps_cli_fail("dmarc report: --print and --send exclude each "
                           "other");
    return ps_cli_no_operands("dmarc report", argc, argv);
}

/* YYYY-MM-DD as the UTC day's first second. */
static int dm_day(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    if (strlen(s) != 10 || (end = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
        *end != '\0')
        return -1;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

/* Options win over [dmarc_report]; each value through its one check. */
static int dm_settings(dm_opts *o, const ps_conf *c, dm_run *run)
{
    ps_err why = {""};
    ps_dns_server server;
    time_t begin = (time(NULL) / DM_DAY - 1) * DM_DAY;

    if (o->org_name == NULL)
        o->org_name = c->dmarc_report.org_name.value;
    if (o->email == NULL)
        o->email = c->dmarc_report.email.value;
    if (o->sendmail == NULL)
        o->sendmail = c->dmarc_report.sendmail.value
                          ? c->dmarc_report.sendmail.value
                          : DM_SENDMAIL;
    if (o->resolver == NULL)
        o->resolver = c->dmarc_report.resolver.value
                          ? c->dmarc_report.resolver.value
                          : c->milter.resolver.value;
    if (o->org_name == NULL || o->email == NULL)
        return ps_cli_fail("dmarc report: no reporter: give --org-name and "
                           "--email, or [dmarc_report] org_name and email "
                           "in %s",
                           o->conf);
    if (ps_conf_check_text(o->org_name, &why) != 0)
        return ps_cli_fail("dmarc report: --org-name: %s", why.msg);
    if (ps_conf_check_email(o->email, &why) != 0)
        return ps_cli_fail("dmarc report: --email: %s", why.msg);
    if (o->resolver != NULL &&
        ps_dns_server_parse(o->resolver, &server, &why) != 0)
        return ps_cli_fail("dmarc report: --resolver '%s': %s", o->resolver,
                           why.msg);
    if (o->day != NULL && dm_day(o->day, &begin) != 0)
        return ps_cli_fail("dmarc report: --day '%s': expected YYYY-MM-DD",
                           o->day);
    run->meta =
        (ps_dmrep_meta){o->org_name, o->email, begin, begin + DM_DAY - 1};
    return 0;
}

static void dm_bad_line(void *arg, const char *path, size_t line,
                        const char *why)
{
    dm_run *run = arg;

    fprintf(stderr, PS_CLI_NAME ": %s:%zu: %s (line skipped)\n", path, line,
            why);
    run->failed = 1;
}

static int dm_txt(void *arg, const char *name, ps_dns_answer *ans)
{
    ps_err err = {""};

    return ps_dns_txt(arg, name, ans, &err);
}

/* One report to one rua= address, when allowed and small enough. */
static void dm_send_one(dm_run *run, const ps_dmrep_domain *d, const char *xml,
                        size_t xn, const ps_dmrep_uri *u)
{
    char *msg = NULL;
    size_t n = 0;
    ps_err err = {""};
    int ok = ps_dmrep_rua_allowed(run->psl, d->domain, u->domain, dm_txt,
                                  (void *)run->o->resolver, &err);

    if (ok <= 0) {
        fprintf(stderr, PS_CLI_NAME ": %s: not sent to %s: %s\n", d->domain,
                u->addr,
                ok < 0 ? err.msg
                       : "another organization's address without the "
                         "_report._dmarc record that authorises it");
        run->failed |= ok < 0;
        return;
    }
    if (ps_dmrep_mail(&run->meta, d->domain, xml, xn, u->addr, &msg, &n,
                      &err) != 0) {
        fprintf(stderr, PS_CLI_NAME ": %s: %s\n", d->domain, err.msg);
        run->failed = 1;
        return;
    }
    if (u->limit != 0 && n > u->limit)
        fprintf(stderr,
                PS_CLI_NAME ": %s: not sent to %s: %zu bytes, over its "
                            "limit of %llu\n",
                d->domain, u->addr, n, (unsigned long long)u->limit);
    else if (ps_dmrep_sendmail(run->o->sendmail, msg, n, &err) != 0) {
        fprintf(stderr, PS_CLI_NAME ": %s: %s\n", d->domain, err.msg);
        run->failed = 1;
    } else
        printf("%s: report of %zu messages sent to %s (%zu bytes)\n", d->domain,
               d->n, u->addr, n);
    free(msg);
}

static void dm_domain(dm_run *run, const ps_dmrep_domain *d)
{
    ps_dmrep_uri uris[PS_DMREP_MAX_URIS];
    size_t nu = ps_dmrep_rua_parse(d->latest->rua, uris, PS_DMREP_MAX_URIS);
    char *xml = NULL;
    size_t xn = 0;
    ps_err err = {""};

    if (nu == 0)
        return; /* no mailto: rua=: the domain asks for no reports */
    if (ps_dmrep_xml(&run->meta, d, &xml, &xn, &err) != 0) {
        fprintf(stderr, PS_CLI_NAME ": %s: %s\n", d->domain, err.msg);
        run->failed = 1;
        return;
    }
    if (!run->o->send)
        fwrite(xml, 1, xn, stdout);
    for (size_t i = 0; run->o->send && i < nu; i++)
        dm_send_one(run, d, xml, xn, &uris[i]);
    free(xml);
}

static int dm_report(dm_run *run, const char *dir)
{
    char path[4096];
    ps_dmrep_set set = {0};
    ps_dmrep_domain *doms = NULL;
    size_t nd = 0;
    ps_err err = {""};

    struct stat st;

    if (ps_dmhist_path(dir, run->meta.begin, path, sizeof(path), &err) != 0)
        return ps_cli_fail("dmarc report: %s", err.msg);
    if (stat(path, &st) != 0 && stat(dir, &st) == 0) {
        /* A day without mail under a policy: nothing to report. */
        fprintf(stderr, PS_CLI_NAME ": %s: no DMARC records for that day\n",
                path);
        return PS_EXIT_OK;
    }
    if (ps_dmrep_read(&set, path, dm_bad_line, run, &err) != 0 ||
        ps_dmrep_group(&set, &doms, &nd, &err) != 0) {
        ps_dmrep_set_free(&set);
        return ps_cli_fail("dmarc report: %s", err.msg);
    }
    for (size_t i = 0; i < nd; i++)
        dm_domain(run, &doms[i]);
    free(doms);
    ps_dmrep_set_free(&set);
    return run->failed ? PS_EXIT_NO : PS_EXIT_OK;
}

int ps_cmd_dmarc(int argc, char **argv)
{
    dm_opts o = {.conf = PS_CONF_DEFAULT_PATH};
    dm_run run = {.o = &o};
    ps_conf *conf = NULL;
    ps_err err = {""};
    int rc;

    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return dm_usage(stdout), PS_EXIT_OK;
    if (argc < 2 || strcmp(argv[1], "report") != 0)
        return ps_cli_fail("dmarc: expected 'report' (see " PS_CLI_NAME
                           " dmarc --help)");
    if ((rc = dm_args(argc - 1, argv + 1, &o)) != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (ps_conf_load(o.conf, &conf, &err) != 0)
        return ps_cli_fail("%s", err.msg);
    if (conf->milter.dmarc_history.value == NULL)
        rc = ps_cli_fail("%s: no [milter] dmarc_history: no DMARC records "
                         "to report",
                         o.conf);
    else if ((rc = dm_settings(&o, conf, &run)) == 0 &&
             (rc = ps_dmarc_psl_load(NULL, &run.psl, &err)) != 0)
        rc = ps_cli_fail("dmarc report: %s", err.msg);
    if (rc == 0) {
        signal(SIGPIPE, SIG_IGN); /* a sendmail that quits: an error */
        rc = dm_report(&run, conf->milter.dmarc_history.value);
    }
    ps_dmarc_psl_free(run.psl);
    ps_conf_free(conf);
    return rc;
}
