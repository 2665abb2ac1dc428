/* The webhook sender's durable state, one file per endpoint:
 * "scanned OFF" then "I OFF ID ATTEMPTS FIRST NEXT DEAD" per event not yet
 * delivered; written aside, fsync'd and renamed over, so a crash leaves
 * the old state or the new one. Also the retry schedule. */
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

static int whs_state_line(ps_whs_ep *ep, const char *line, ps_err *err)
{
    ps_whs_item it = {0};
    int n = -1;

    if (sscanf(line, "scanned %lld%n", &ep->scanned, &n) == 1 &&
        line[n] == '\0')
        return ep->scanned >= 0 ? 0 : -1;
    if (sscanf(line, "I %lld %32s %u %lld %lld %d%n", &it.off, it.id,
               &it.attempts, &it.first, &it.next, &it.dead, &n) != 6 ||
        line[n] != '\0' || strlen(it.id) != PS_EVSPOOL_ID)
        return -1;
    return ps_whs_item_add(ep, &it, err) == 0 ? 0 : -2;
}

int ps_whs_state_load(ps_whs_ep *ep, ps_err *err)
{
    FILE *fp = fopen(ep->state, "r");
    char line[256];
    int rc = 0, lineno = 0;

    if (fp == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", ep->state, strerror(errno));
    while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        rc = whs_state_line(ep, line, err);
    }
    fclose(fp);
    if (rc == -1)
        return ps_err_set(err, "%s:%d: unreadable", ep->state, lineno);
    return rc;
}

static int whs_write_all(FILE *fp, const ps_whs_ep *ep)
{
    fprintf(fp, "scanned %lld\n", ep->scanned);
    for (size_t i = 0; i < ep->n; i++) {
        const ps_whs_item *it = &ep->items[i];
        fprintf(fp, "I %lld %s %u %lld %lld %d\n", it->off, it->id,
                it->attempts, it->first, it->next, it->dead);
    }
    return fflush(fp) == 0 && fsync(fileno(fp)) == 0 ? 0 : -1;
}

int ps_whs_state_save(ps_whs_ep *ep, ps_err *err)
{
    char tmp[PATH_MAX + 8];
    FILE *fp;
    int fd, ok;

    snprintf(tmp, sizeof(tmp), "%s.tmp", ep->state);
    if ((fp = fopen(tmp, "we")) == NULL)
        return ps_err_set(err, "%s: %s", tmp, strerror(errno));
    ok = whs_write_all(fp, ep) == 0;
    if (fclose(fp) != 0 || !ok)
        return ps_err_set(err, "%s: %s", tmp, strerror(errno));
    if (rename(tmp, ep->state) != 0)
        return ps_err_set(err, "%s: %s", ep->state, strerror(errno));
    if ((fd = open(ep->s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    ep->dirty = 0;
    return 0;
}
