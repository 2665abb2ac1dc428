/* postseal events list [--json|--pending] [-c FILE]: the event spool of
 * [events] dir (postseal-policyd's follower writes it), one line per
 * event, oldest first: a table, or the JSON objects the webhooks carry;
 * and events retry|drop ENDPOINT ID (cmd_events_wh.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_events_wh.h"
#include "conf/conf.h"
#include "mail/events.h"
#include "mail/evspool.h"

static void ev_usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PS_CLI_NAME " events list [--json|--pending] [-c FILE]\n"
            "       " PS_CLI_NAME " events retry|drop ENDPOINT ID|dead "
            "[-c FILE]\n\n"
            "Lists the delivery events postseal-policyd spooled from "
            "Postfix's log\n([events] dir/spool): id, time, event, queue "
            "id, recipient, status.\n"
            "--pending lists, per [endpoint], the events not yet delivered "
            "(waiting\nfor a retry, or dead after 30 hours of tries). "
            "retry sends an event (or\nevery dead one) again now; drop "
            "forgets it. postseal-policyd applies\nboth within a second."
            "\n\n"
            "  -c, --config FILE   postseal.conf (default " PS_CONF_DEFAULT_PATH
            ")\n"
            "      --json          one JSON object per event, all fields\n"
            "      --pending       the webhook endpoints' undelivered events\n"
            "  -h, --help          this text\n\n"
            "exit status: 0 ok, 2 bad usage or unreadable spool\n");
}

static int ev_args(int argc, char **argv, const char **conf, int *json)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"pending", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;

    ps_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":c:jh", longopts, NULL)) != -1) {
        if (ch == 'c')
            *conf = optarg;
        else if (ch == 'j')
            *json = 1;
        else if (ch == 'p')
            *json = 2;
        else if (ch == 'h')
            return ev_usage(stdout), PS_CLI_HELP;
        else
            return ps_cli_bad_option("events", ch, argv);
    }
    return 0;
}

static void ev_print(const ps_event *ev, int json)
{
    char out[64 * 1024], when[32];
    ps_err err = {""};
    struct tm tm;

    if (json) {
        if (ps_events_format_event(ev, out, sizeof(out), &err) < 0)
            fprintf(stderr, PS_CLI_NAME ": event %s: %s\n", ev->id, err.msg);
        else
            fputs(out, stdout);
        return;
    }
    gmtime_r(&ev->when, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s %s %-7s %-12s %s %s\n", ev->id, when,
           ps_event_kind_name(ev->kind), ev->qid, ev->recipient,
           ev->dsn[0] ? ev->dsn : "-");
}

static int ev_list(const char *path, int json)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL, *fields[PS_EVSPOOL_NFIELDS];
    size_t cap = 0;
    ssize_t n;
    unsigned long bad = 0;
    ps_event ev;

    if (fp == NULL)
        return ps_cli_fail("%s: cannot read the spool", path);
    while ((n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] != '\n')
            break; /* being written */
        line[n - 1] = '\0';
        if (ps_evspool_parse(line, fields, &ev) != 0)
            bad++;
        else
            ev_print(&ev, json);
    }
    free(line);
    fclose(fp);
    if (bad > 0)
        fprintf(stderr, PS_CLI_NAME ": %s: %lu unreadable lines skipped\n",
                path, bad);
    return PS_EXIT_OK;
}

/* retry|drop ENDPOINT ID */
static int ev_request(const ps_conf *conf, int argc, char **argv)
{
    if (argc - optind != 3)
        return ps_cli_fail("events %s: expected ENDPOINT and an event id "
                           "or 'dead'",
                           argv[optind]);
    return ps_events_wh_request(conf, argv[optind], argv[optind + 1],
                                argv[optind + 2]);
}

static int ev_run(const ps_conf *conf, int argc, char **argv, int json)
{
    char spool[4096];
    ps_err err = {""};

    if (strcmp(argv[optind], "list") != 0)
        return ev_request(conf, argc, argv);
    if (json == 2)
        return ps_events_wh_list(conf);
    if (ps_evspool_path(conf->events.dir.value, spool, sizeof(spool), &err) !=
        0)
        return ps_cli_fail("%s", err.msg);
    return ev_list(spool, json);
}

int ps_cmd_events(int argc, char **argv)
{
    const char *conf_path = PS_CONF_DEFAULT_PATH;
    int json = 0, rc = ev_args(argc, argv, &conf_path, &json);
    ps_conf *conf = NULL;
    ps_err err = {""};

    if (rc != 0)
        return rc == PS_CLI_HELP ? PS_EXIT_OK : rc;
    if (optind >= argc || (strcmp(argv[optind], "list") != 0 &&
                           strcmp(argv[optind], "retry") != 0 &&
                           strcmp(argv[optind], "drop") != 0))
        return ps_cli_fail(
            "events: expected 'list', 'retry' or 'drop' (see " PS_CLI_NAME
            " events --help)");
    if (strcmp(argv[optind], "list") == 0 && optind + 1 < argc)
        return ps_cli_fail("events list: unexpected argument '%.100s'",
                           argv[optind + 1]);
    if (ps_conf_load(conf_path, &conf, &err) != 0)
        return ps_cli_fail("%s", err.msg);
    if (conf->events.dir.value == NULL) {
        ps_conf_free(conf);
        return ps_cli_fail("%s: no [events] dir: no spool", conf_path);
    }
    rc = ev_run(conf, argc, argv, json);
    ps_conf_free(conf);
    return rc;
}
