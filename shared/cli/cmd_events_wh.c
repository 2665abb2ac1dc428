/* postseal events list --pending and events retry|drop: the webhook
 * sender's per-endpoint state ([events] dir/webhooks/NAME.state, written
 * by postseal-policyd) shown, and requests appended to NAME.requests,
 * which the daemon applies on its next tick (within a second). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_events_wh.h"
#include "mail/events.h"
#include "mail/whstate.h"

static void wh_print_item(const char *name, const ps_whstate_item *it)
{
    char when[32];
    time_t next = (time_t)it->next;
    struct tm tm;

    gmtime_r(&next, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-16s %s %-7s attempts=%u next=%s\n", name, it->id,
           it->dead ? "dead" : "waiting", it->attempts,
           it->dead ? "-" : (it->next ? when : "now"));
}

static int wh_list_one(const char *dir, const char *name)
{
    char path[4096], line[256];
    ps_err err = {""};
    ps_whstate_item it;
    long long scanned;
    FILE *fp;

    if (ps_whstate_path(dir, name, PS_WHSTATE_SUFFIX, path, sizeof(path),
                        &err) != 0)
        return ps_cli_fail("%s", err.msg);
    if ((fp = fopen(path, "r")) == NULL)
        return errno == ENOENT ? PS_EXIT_OK
                               : ps_cli_fail("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (ps_whstate_parse(line, &scanned, &it) == PS_WHSTATE_ITEM)
            wh_print_item(name, &it);
    }
    fclose(fp);
    return PS_EXIT_OK;
}

int ps_events_wh_list(const ps_conf *conf)
{
    int rc = PS_EXIT_OK;

    for (size_t i = 0; i < conf->nendpoints && rc == PS_EXIT_OK; i++)
        rc = wh_list_one(conf->events.dir.value, conf->endpoints[i].name);
    return rc;
}

/* The daemon's user must be able to read and move the requests file: it
 * gets the owner of the webhooks directory (when run as root). */
static void wh_give_to_daemon(const char *dir, const char *path)
{
    char wdir[4096];
    struct stat st;

    snprintf(wdir, sizeof(wdir), "%s/" PS_WHSTATE_DIR, dir);
    if (stat(wdir, &st) == 0 && geteuid() == 0 &&
        chown(path, st.st_uid, st.st_gid) != 0)
        fprintf(stderr, PS_CLI_NAME ": %s: %s\n", path, strerror(errno));
}

int ps_events_wh_request(const ps_conf *conf, const char *verb,
                         const char *name, const char *id)
{
    char path[4096], line[128];
    ps_whstate_verb v;
    char parsed[PS_EVSPOOL_ID + 1];
    ps_err err = {""};
    int n = snprintf(line, sizeof(line), "%s %s", verb, id);

    if (n < 0 || (size_t)n >= sizeof(line) ||
        ps_whstate_parse_request(line, &v, parsed) != 0)
        return ps_cli_fail("events %s: expected an event id (32 hex digits) "
                           "or 'dead'",
                           verb);
    if (ps_conf_find_endpoint(conf, name) == NULL)
        return ps_cli_fail("events %s: no [endpoint %.64s] in %s", verb, name,
                           conf->path);
    if (ps_whstate_path(conf->events.dir.value, name, PS_WHSTATE_REQUESTS, path,
                        sizeof(path), &err) != 0)
        return ps_cli_fail("%s", err.msg);
    line[n++] = '\n';
    if (ps_events_append(path, line, (size_t)n, &err) != 0)
        return ps_cli_fail("%s", err.msg);
    wh_give_to_daemon(conf->events.dir.value, path);
    return PS_EXIT_OK;
}
