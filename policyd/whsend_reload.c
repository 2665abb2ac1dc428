/* The webhook sender on SIGHUP (whsend.h): [endpoint] sections added,
 * changed or removed without dropping a POST in flight, [events]
 * retention taken; and the state files of endpoints no longer
 * configured removed, since a compaction would make their offsets name
 * other events. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "whsend.h"

/* The state and requests files of endpoint name; how many events the
 * state still held, for the log. */
static unsigned whs_drop_files(ps_whs *s, const char *name)
{
    static const char *const suffixes[] = {
        PS_WHSTATE_REQUESTS, PS_WHSTATE_REQUESTS ".work", PS_WHSTATE_SUFFIX};
    char path[PATH_MAX], line[256];
    unsigned held = 0;
    ps_err err = {""};
    FILE *fp;

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (ps_whstate_path(s->events_dir, name, suffixes[i], path,
                            sizeof(path), &err) != 0)
            continue;
        if (i == 2 && (fp = fopen(path, "re")) != NULL) {
            while (fgets(line, sizeof(line), fp) != NULL)
                held += line[0] == 'I';
            fclose(fp);
        }
        unlink(path);
    }
    return held;
}

static void whs_log_removed(ps_whs *s, const char *name, unsigned held)
{
    char n[16];

    snprintf(n, sizeof(n), "%u", held);
    ps_log_kv(s->lg, held ? LOG_WARNING : LOG_INFO, "webhook", "endpoint", name,
              "result", "removed", "undelivered_forgotten", n, NULL);
}

void ps_whs_retire(ps_whs_ep *ep)
{
    ps_whs *s = ep->s;
    size_t i;

    for (i = 0; i < s->neps && s->eps[i] != ep; i++)
        ;
    if (i < s->neps) {
        memmove(&s->eps[i], &s->eps[i + 1],
                (s->neps - i - 1) * sizeof(*s->eps));
        s->neps--;
    }
    whs_drop_files(s, ep->conf.name);
    whs_log_removed(s, ep->conf.name,
                    (unsigned)ep->n); /* newer than the file */
    ps_whs_ep_free(ep);
}

static ps_whs_ep *whs_find(const ps_whs *s, const char *name)
{
    for (size_t i = 0; i < s->neps; i++)
        if (strcmp(s->eps[i]->conf.name, name) == 0)
            return s->eps[i];
    return NULL;
}

/* The new section's URL, signing material, limits; the events held, the
 * position and the POSTs in flight stay. */
static int whs_ep_update(ps_whs_ep *ep, const ps_conf_endpoint *c, ps_err *err)
{
    ps_evhook *hook;
    ps_conf_endpoint copy;

    if (ps_evhook_new(c, &hook, err) != 0)
        return -1;
    if (ps_conf_endpoint_copy(&copy, c) != 0) {
        ps_evhook_free(hook);
        return ps_err_set(err, "out of memory");
    }
    ps_evhook_free(ep->hook);
    ps_conf_endpoint_clear(&ep->conf);
    ep->hook = hook;
    ep->conf = copy;
    ep->retiring = 0; /* removed, then back before its POSTs ended */
    return 0;
}

/* The endpoint of section c, kept, changed or made; NULL when it cannot
 * be (logged: the others still reload). */
static ps_whs_ep *whs_reload_one(ps_whs *s, const ps_conf_endpoint *c)
{
    ps_whs_ep *ep = whs_find(s, c->name);
    ps_err err = {""};
    int rc = ep != NULL ? whs_ep_update(ep, c, &err)
                        : ps_whs_ep_new(s, c, &ep, &err);

    if (rc != 0)
        ps_log_kv(s->lg, LOG_ERR, "reload", "endpoint", c->name, "result",
                  "failed", "reason", err.msg, "kept",
                  ep != NULL ? "its previous section" : "nothing", NULL);
    return ep;
}

/* Old endpoints not in arr: retiring, freed below once idle. */
static void whs_keep_retiring(ps_whs *s, ps_whs_ep **arr, size_t *n)
{
    for (size_t i = 0; i < s->neps; i++) {
        size_t j;
        for (j = 0; j < *n && arr[j] != s->eps[i]; j++)
            ;
        if (j == *n) {
            s->eps[i]->retiring = 1;
            arr[(*n)++] = s->eps[i];
        }
    }
}

int ps_whs_reload(ps_whs *s, const ps_conf *conf, ps_err *err)
{
    size_t n = 0;
    ps_whs_ep **arr = calloc(conf->nendpoints + s->neps + 1, sizeof(*arr));

    if (arr == NULL)
        return ps_err_set(err, "out of memory");
    if (conf->events.dir.value == NULL ||
        strcmp(conf->events.dir.value, s->events_dir) != 0)
        ps_log_kv(s->lg, LOG_WARNING, "reload", "note",
                  "an [events] dir change takes a restart", NULL);
    s->retention = conf->events.retention;
    s->dead_retention = conf->events.dead_retention;
    s->next_compact = 0;
    for (size_t i = 0; i < conf->nendpoints; i++) {
        ps_whs_ep *ep = whs_reload_one(s, &conf->endpoints[i]);
        if (ep != NULL)
            arr[n++] = ep;
    }
    whs_keep_retiring(s, arr, &n);
    free(s->eps);
    s->eps = arr;
    s->neps = n;
    for (size_t i = 0; i < s->neps;)
        if (s->eps[i]->retiring && s->eps[i]->inflight == 0)
            ps_whs_retire(s->eps[i]); /* shifts the rest down */
        else
            i++;
    return 0;
}

/* "NAME.state" exactly: NAME into name. */
static int whs_state_name(const char *file, char *name, size_t cap)
{
    size_t n = strlen(file), k = strlen(PS_WHSTATE_SUFFIX);

    if (n <= k || strcmp(file + n - k, PS_WHSTATE_SUFFIX) != 0 || n - k >= cap)
        return -1;
    memcpy(name, file, n - k);
    name[n - k] = '\0';
    return 0;
}

void ps_whs_prune(ps_whs *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *de;
    char name[NAME_MAX + 1];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL)
        if (whs_state_name(de->d_name, name, sizeof(name)) == 0 &&
            whs_find(s, name) == NULL)
            whs_log_removed(s, name, whs_drop_files(s, name));
    closedir(d);
}
