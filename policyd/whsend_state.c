/* The webhook sender's durable state, one file per endpoint (lines of
 * mail/whstate.h): written aside, fsync'd and renamed over, so a crash
 * leaves the old state or the new one. Also the retry schedule and the
 * requests of `postseal events retry|drop`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "whsend.h"

long long ps_whs_delay(const ps_whs_ep *ep, unsigned attempts)
{
    long long d = ep->conf.retry_first;

    for (unsigned i = 1; i < attempts && d < PS_WHS_MAX_DELAY; i++)
        d *= 2;
    return d < PS_WHS_MAX_DELAY ? d : PS_WHS_MAX_DELAY;
}

int ps_whs_item_add(ps_whs_ep *ep, const ps_whs_item *it, ps_err *err)
{
    if (ep->n == ep->cap) {
        size_t cap = ep->cap ? 2 * ep->cap : 64;
        ps_whs_item *a = reallocarray(ep->items, cap, sizeof(*a));
        if (a == NULL)
            return ps_err_set(err, "out of memory");
        ep->items = a;
        ep->cap = cap;
    }
    ep->items[ep->n++] = *it;
    return 0;
}

int ps_whs_state_load(ps_whs_ep *ep, ps_err *err)
{
    FILE *fp = fopen(ep->state, "r");
    char line[256];
    int lineno = 0;
    ps_whs_item it;

    if (fp == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", ep->state, strerror(errno));
    while (fgets(line, sizeof(line), fp) != NULL) {
        ps_whstate_line kind;
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        kind = ps_whstate_parse(line, &ep->scanned, &it);
        if (kind == PS_WHSTATE_BAD ||
            (kind == PS_WHSTATE_ITEM && ps_whs_item_add(ep, &it, err) != 0)) {
            fclose(fp);
            return kind == PS_WHSTATE_BAD
                       ? ps_err_set(err, "%s:%d: unreadable", ep->state, lineno)
                       : -1;
        }
    }
    fclose(fp);
    return 0;
}

static int whs_write_all(FILE *fp, const ps_whs_ep *ep)
{
    char line[256];

    fprintf(fp, "scanned %lld\n", ep->scanned);
    for (size_t i = 0; i < ep->n; i++)
        if (ps_whstate_format(&ep->items[i], line, sizeof(line)) > 0)
            fputs(line, fp);
    return fflush(fp) == 0 && fsync(fileno(fp)) == 0 ? 0 : -1;
}

void ps_whs_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ps_whs_state_write(const ps_whs_ep *ep, const char *path, ps_err *err)
{
    FILE *fp;
    int ok;

    if ((fp = fopen(path, "we")) == NULL)
        return ps_err_set(err, "%s: %s", path, strerror(errno));
    ok = whs_write_all(fp, ep) == 0;
    if (fclose(fp) != 0 || !ok)
        return ps_err_set(err, "%s: %s", path, strerror(errno));
    return 0;
}

int ps_whs_state_save(ps_whs_ep *ep, ps_err *err)
{
    char tmp[PATH_MAX + 8];

    snprintf(tmp, sizeof(tmp), "%s.tmp", ep->state);
    if (ps_whs_state_write(ep, tmp, err) != 0)
        return -1;
    if (rename(tmp, ep->state) != 0)
        return ps_err_set(err, "%s: %s", ep->state, strerror(errno));
    ps_whs_sync_dir(ep->s->dir);
    ep->dirty = 0;
    return 0;
}

/* One request on the events held. An event in flight is dropped once its
 * POST ends; a retry of one is that POST. */
static void whs_apply(ps_whs_ep *ep, ps_whstate_verb verb, const char *id,
                      long long now)
{
    int dead_ones = strcmp(id, "dead") == 0;

    for (size_t i = 0; i < ep->n;) {
        ps_whs_item *it = &ep->items[i];
        if (dead_ones ? !it->dead : strcmp(it->id, id) != 0) {
            i++;
            continue;
        }
        if (it->busy) {
            it->dropped |= verb == PS_WHSTATE_DROP;
            i++;
            continue;
        }
        ep->dirty = 1;
        if (verb == PS_WHSTATE_DROP) {
            memmove(it, it + 1, (ep->n - i - 1) * sizeof(*it));
            ep->n--;
            continue;
        }
        it->dead = 0;
        it->attempts = 0;
        it->first = 0;
        it->next = now;
        i++;
    }
}

/* The requests file is moved aside, applied, the state saved, then the
 * aside copy removed: after a crash the aside copy is applied again,
 * which changes nothing that was already done. */
int ps_whs_requests(ps_whs_ep *ep, long long now, ps_err *err)
{
    char work[PATH_MAX + 8], line[128], id[PS_EVSPOOL_ID + 1];
    ps_whstate_verb verb;
    FILE *fp;

    snprintf(work, sizeof(work), "%s.work", ep->requests);
    if (rename(ep->requests, work) != 0 && errno != ENOENT)
        return ps_err_set(err, "%s: %s", ep->requests, strerror(errno));
    if ((fp = fopen(work, "re")) == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", work, strerror(errno));
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (ps_whstate_parse_request(line, &verb, id) == 0)
            whs_apply(ep, verb, id, now);
    }
    fclose(fp);
    if (ep->dirty && ps_whs_state_save(ep, err) != 0)
        return -1;
    unlink(work);
    return 0;
}
