/* Spool retention (whsend.h): the events every endpoint is done with and
 * older than [events] retention are cut out of the spool. The new spool
 * and every endpoint's state (offsets moved) are written beside the old
 * ones, then a commit mark; only then are they renamed into place. A
 * crash before the mark leaves the old files in force, after it the
 * start finishes the renames: no event lost, none sent twice but an
 * at-least-once repeat with the same id. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "whsend.h"

/* One cut: spool bytes [start, end), and all bytes cut up to its end. */
typedef struct whs_cut {
    long long start, end, total;
} whs_cut;

typedef struct whs_plan {
    whs_cut *cuts;
    size_t n, cap;
    unsigned long removed, kept, expired;
    long long size;
} whs_plan;

static int whs_plan_cut(whs_plan *p, long long start, long long end)
{
    long long before = p->n ? p->cuts[p->n - 1].total : 0;

    if (p->n > 0 && p->cuts[p->n - 1].end == start) {
        p->cuts[p->n - 1].end = end;
        p->cuts[p->n - 1].total += end - start;
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        whs_cut *c = reallocarray(p->cuts, cap, sizeof(*c));
        if (c == NULL)
            return -1;
        p->cuts = c;
        p->cap = cap;
    }
    p->cuts[p->n++] = (whs_cut){start, end, before + end - start};
    return 0;
}

/* Where a kept line (or a line boundary) at old offset off now is. */
static long long whs_moved(const void *arg, long long off)
{
    const whs_plan *p = arg;
    size_t lo = 0, hi = p->n;

    while (lo < hi) { /* the first cut ending after off */
        size_t mid = lo + (hi - lo) / 2;
        if (p->cuts[mid].end <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return off - (lo > 0 ? p->cuts[lo - 1].total : 0);
}

static int whs_item_cmp(const void *a, const void *b)
{
    const ps_whs_item *x = a, *y = b;

    return (x->off > y->off) - (x->off < y->off);
}

/* Does ep still need the line [off, end)? Its dead item past
 * dead_retention is marked dropped instead (forgotten below). */
static int whs_ep_needs(ps_whs_ep *ep, size_t *cur, long long off,
                        long long end, const ps_event *ev, long long now)
{
    ps_whs_item *it;

    if (ep->scanned < end)
        return 1; /* not looked at yet */
    while (*cur < ep->n && ep->items[*cur].off < off)
        (*cur)++;
    if (*cur == ep->n || (it = &ep->items[*cur])->off != off)
        return 0;
    if (it->dead && !it->busy && ev != NULL && ep->s->dead_retention > 0 &&
        (long long)ev->when + ep->s->dead_retention <= now) {
        it->dropped = 1;
        return 0;
    }
    return 1;
}

static int whs_plan_line(ps_whs *s, whs_plan *p, size_t *curs, char *line,
                         long long off, long long end, long long now)
{
    char *fields[PS_EVSPOOL_NFIELDS];
    ps_event ev;
    int parsed = ps_evspool_parse(line, fields, &ev) == 0, needed = 0;

    for (size_t i = 0; i < s->neps; i++)
        needed |= whs_ep_needs(s->eps[i], &curs[i], off, end,
                               parsed ? &ev : NULL, now);
    if (needed || (parsed && (long long)ev.when + s->retention > now)) {
        p->kept++;
        return 0;
    }
    p->removed++;
    return whs_plan_cut(p, off, end);
}

/* Which lines go: one read of the spool. */
static int whs_plan_make(ps_whs *s, whs_plan *p, long long now, ps_err *err)
{
    FILE *fp = fopen(s->spool, "re");
    size_t *curs = calloc(s->neps + 1, sizeof(*curs)), cap = 0;
    char *line = NULL;
    ssize_t n = 0;
    long long off = 0;
    int rc = 0;

    if (fp == NULL || curs == NULL) {
        rc = fp == NULL && errno == ENOENT
                 ? 1
                 : ps_err_set(err, "%s: %s", s->spool, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < s->neps; i++)
        if (s->eps[i]->n > 0)
            qsort(s->eps[i]->items, s->eps[i]->n, sizeof(ps_whs_item),
                  whs_item_cmp);
    while (rc == 0 && (n = getline(&line, &cap, fp)) > 0 &&
           line[n - 1] == '\n') {
        line[n - 1] = '\0';
        if (whs_plan_line(s, p, curs, line, off, off + n, now) != 0)
            rc = ps_err_set(err, "out of memory");
        off += n;
    }
    p->size = off + (n > 0 ? n : 0); /* a partial last line is kept */
out:
    free(line);
    free(curs);
    if (fp != NULL)
        fclose(fp);
    return rc;
}

/* Dead events past dead_retention leave their endpoint's state. */
static void whs_forget_expired(ps_whs *s, whs_plan *p)
{
    for (size_t e = 0; e < s->neps; e++) {
        ps_whs_ep *ep = s->eps[e];
        size_t k = 0;
        for (size_t i = 0; i < ep->n; i++) {
            if (ep->items[i].dropped && !ep->items[i].busy) {
                ps_log_kv(s->lg, LOG_WARNING, "webhook", "endpoint",
                          ep->conf.name, "id", ep->items[i].id, "result",
                          "expired", "reason", "dead past dead_retention",
                          NULL);
                p->expired++;
                ep->dirty = 1;
                continue;
            }
            ep->items[k++] = ep->items[i];
        }
        ep->n = k;
    }
}

static int whs_copy(int in, int out, long long from, long long to, char *buf,
                    size_t cap)
{
    while (from < to) {
        size_t want = to - from < (long long)cap ? (size_t)(to - from) : cap;
        ssize_t got = pread(in, buf, want, (off_t)from);
        if (got <= 0 || write(out, buf, (size_t)got) != got)
            return -1;
        from += got;
    }
    return 0;
}

/* The kept lines into path, fsync'd. */
static int whs_write_spool(ps_whs *s, const whs_plan *p, const char *path,
                           ps_err *err)
{
    int in = open(s->spool, O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    long long at = 0;
    int ok = in >= 0 && out >= 0;

    for (size_t i = 0; ok && i <= p->n; i++) {
        long long to = i < p->n ? p->cuts[i].start : p->size;
        ok = whs_copy(in, out, at, to, s->line, PS_WHS_LINE_MAX) == 0;
        at = i < p->n ? p->cuts[i].end : to;
    }
    ok = ok && fsync(out) == 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        ok = 0;
    return ok ? 0 : ps_err_set(err, "%s: %s", path, strerror(errno));
}

static int whs_ep_compact_path(const ps_whs_ep *ep, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s" PS_WHS_COMPACT_SUFFIX, ep->state);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ep's state with the offsets moved, into NAME.state.compact. */
static int whs_write_moved_state(const ps_whs_ep *ep, const whs_plan *p,
                                 ps_err *err)
{
    char path[PATH_MAX + 16];
    ps_whs_ep moved = *ep;
    int rc;

    if (whs_ep_compact_path(ep, path, sizeof(path)) != 0)
        return ps_err_set(err, "%s: path too long", ep->state);
    moved.items = ep->n ? malloc(ep->n * sizeof(*ep->items)) : NULL;
    if (ep->n && moved.items == NULL)
        return ps_err_set(err, "out of memory");
    for (size_t i = 0; i < ep->n; i++) {
        moved.items[i] = ep->items[i];
        moved.items[i].off = whs_moved(p, ep->items[i].off);
    }
    moved.scanned = whs_moved(p, ep->scanned);
    rc = ps_whs_state_write(&moved, path, err);
    free(moved.items);
    return rc;
}

static void whs_crash_point(const ps_whs *s, int step)
{
    if (s->crash_at == step)
        raise(SIGKILL);
}

static int whs_mark(const char *path, ps_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

    if (fd < 0 || fsync(fd) != 0) {
        if (fd >= 0)
            close(fd);
        return ps_err_set(err, "%s: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

/* Renames NAME.state.compact over NAME.state for each in dir (at start,
 * or the endpoints of a compaction just committed). */
static int whs_rename_states(const char *dir, ps_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char from[PATH_MAX], to[PATH_MAX];
    size_t k = strlen(PS_WHSTATE_SUFFIX PS_WHS_COMPACT_SUFFIX);
    int rc = 0;

    if (d == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", dir, strerror(errno));
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= k ||
            strcmp(de->d_name + n - k, PS_WHSTATE_SUFFIX PS_WHS_COMPACT_SUFFIX))
            continue;
        snprintf(from, sizeof(from), "%s/%s", dir, de->d_name);
        snprintf(to, sizeof(to), "%s/%.*s", dir,
                 (int)(n - strlen(PS_WHS_COMPACT_SUFFIX)), de->d_name);
        if (rename(from, to) != 0)
            rc = ps_err_set(err, "%s: %s", from, strerror(errno));
    }
    closedir(d);
    ps_whs_sync_dir(dir);
    return rc;
}

/* Removes every NAME.state.compact in dir (a compaction not committed). */
static void whs_remove_states(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];
    const char *suffix = PS_WHSTATE_SUFFIX PS_WHS_COMPACT_SUFFIX;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name), k = strlen(suffix);
        if (n > k && strcmp(de->d_name + n - k, suffix) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

typedef struct whs_paths {
    char spool[PATH_MAX], next[PATH_MAX + 16], mark[PATH_MAX], states[PATH_MAX];
} whs_paths;

static int whs_paths_of(const char *dir, whs_paths *w, ps_err *err)
{
    int a, b, c;

    if (ps_evspool_path(dir, w->spool, sizeof(w->spool), err) != 0)
        return -1;
    a = snprintf(w->next, sizeof(w->next), "%s" PS_WHS_COMPACT_SUFFIX,
                 w->spool);
    b = snprintf(w->mark, sizeof(w->mark), "%s/" PS_WHS_COMPACT_MARK, dir);
    c = snprintf(w->states, sizeof(w->states), "%s/" PS_WHSTATE_DIR, dir);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof(w->next) ||
        (size_t)b >= sizeof(w->mark) || (size_t)c >= sizeof(w->states))
        return ps_err_set(err, "%s: path too long", dir);
    return 0;
}

/* After the mark: the new files into place, then the mark removed. */
static int whs_finish(const char *dir, const whs_paths *w, const ps_whs *s,
                      ps_err *err)
{
    if (rename(w->next, w->spool) != 0 && errno != ENOENT)
        return ps_err_set(err, "%s: %s", w->next, strerror(errno));
    ps_whs_sync_dir(dir);
    if (s != NULL)
        whs_crash_point(s, 4);
    if (whs_rename_states(w->states, err) != 0)
        return -1;
    if (s != NULL)
        whs_crash_point(s, 5);
    if (unlink(w->mark) != 0)
        return ps_err_set(err, "%s: %s", w->mark, strerror(errno));
    ps_whs_sync_dir(dir);
    return 0;
}

int ps_whs_compact_recover(const char *dir, ps_err *err)
{
    whs_paths w;
    struct stat st;

    if (whs_paths_of(dir, &w, err) != 0)
        return -1;
    if (stat(w.mark, &st) == 0)
        return whs_finish(dir, &w, NULL, err);
    unlink(w.next);
    whs_remove_states(w.states);
    return 0;
}

/* The new files beside the old ones, then the mark (the commit). */
static int whs_commit(ps_whs *s, const whs_plan *p, const whs_paths *w,
                      ps_err *err)
{
    if (whs_write_spool(s, p, w->next, err) != 0)
        return -1;
    whs_crash_point(s, 1);
    for (size_t i = 0; i < s->neps; i++)
        if (whs_write_moved_state(s->eps[i], p, err) != 0)
            return -1;
    ps_whs_sync_dir(w->states);
    ps_whs_sync_dir(s->events_dir);
    whs_crash_point(s, 2);
    if (whs_mark(w->mark, err) != 0)
        return -1;
    ps_whs_sync_dir(s->events_dir);
    whs_crash_point(s, 3);
    return whs_finish(s->events_dir, w, s, err);
}

/* The daemon's own view follows the files: offsets of the events held,
 * of the POSTs in flight, the spool reopened. */
static void whs_apply(ps_whs *s, const whs_plan *p)
{
    for (size_t e = 0; e < s->neps; e++) {
        ps_whs_ep *ep = s->eps[e];
        for (size_t i = 0; i < ep->n; i++)
            ep->items[i].off = whs_moved(p, ep->items[i].off);
        ep->scanned = whs_moved(p, ep->scanned);
        ep->dirty = 0;
        ps_whs_http_moved(s, ep, whs_moved, p);
    }
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    s->spool_fd = open(s->spool, O_RDONLY | O_CLOEXEC);
}

static void whs_log_compacted(ps_whs *s, const whs_plan *p)
{
    char removed[24], kept[24], expired[24], before[24], after[24];

    snprintf(removed, sizeof(removed), "%lu", p->removed);
    snprintf(kept, sizeof(kept), "%lu", p->kept);
    snprintf(expired, sizeof(expired), "%lu", p->expired);
    snprintf(before, sizeof(before), "%lld", p->size);
    snprintf(after, sizeof(after), "%lld",
             p->size - (p->n ? p->cuts[p->n - 1].total : 0));
    ps_log_kv(s->lg, LOG_INFO, "compact", "result", "ok", "removed", removed,
              "kept", kept, "dead_expired", expired, "bytes_before", before,
              "bytes_after", after, NULL);
}

int ps_whs_compact(ps_whs *s, long long now, ps_err *err)
{
    whs_plan p = {0};
    whs_paths w;
    int rc;

    if (whs_paths_of(s->events_dir, &w, err) != 0)
        return -1;
    rc = whs_plan_make(s, &p, now, err);
    if (rc == 0)
        whs_forget_expired(s, &p);
    if (rc == 0 && p.removed > 0) {
        rc = whs_commit(s, &p, &w, err);
        if (rc == 0 || stat(w.mark, &(struct stat){0}) == 0) {
            /* committed: what a failed rename left, the next start
             * finishes; the daemon goes on with the new offsets */
            whs_apply(s, &p);
            whs_log_compacted(s, &p);
        } else {
            unlink(w.next); /* not committed: the old files stay */
            whs_remove_states(w.states);
        }
    }
    for (size_t i = 0; rc == 0 && p.expired > 0 && i < s->neps; i++)
        if (s->eps[i]->dirty)
            rc = ps_whs_state_save(s->eps[i], err);
    free(p.cuts);
    return rc > 0 ? 0 : rc;
}
