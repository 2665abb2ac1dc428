/* Local content filters ([events] content_filters): a message handed to
 * one ("Q1: to=<r>, relay=127.0.0.1[127.0.0.1]:10024, ... status=sent
 * (250 ... queued as Q2)") is not delivered yet: the hop gives no event,
 * and Q2 is linked to Q1's record, so Q2's outcomes are joined to what
 * the milter recorded for Q1. Links are appended to DIR/filter.links
 * before the batch that needed them is in the spool, and read again on
 * start, so a restart between the hop and the delivery keeps them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "mail/events.h"
#include "mail/maillog.h"

#define EVF_LINK_FIELDS 6
#define EVF_LINK_DAY    86400

static size_t evf_lhash(const char *s)
{
    size_t h = 5381;

    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static ps_evf_link *evf_lslot(ps_evf_links *x, const char *qid)
{
    size_t i = evf_lhash(qid) & (x->cap - 1);

    while (x->slots[i].qid[0] != '\0' && strcmp(x->slots[i].qid, qid) != 0)
        i = (i + 1) & (x->cap - 1);
    return &x->slots[i];
}

static ps_evf_link *evf_lfind(ps_evf *f, const char *qid)
{
    ps_evf_link *e;

    if (f->links.cap == 0 || (e = evf_lslot(&f->links, qid))->qid[0] == '\0')
        return NULL;
    return e;
}

/* Twice the size, leaving out links older than the records they join. */
static int evf_lgrow(ps_evf *f, time_t now)
{
    ps_evf_links *x = &f->links;
    size_t cap = x->cap ? 2 * x->cap : 256;
    ps_evf_links y = {calloc(cap, sizeof(ps_evf_link)), cap, 0};
    time_t oldest = now - (time_t)(f->max_age + 1) * EVF_LINK_DAY;

    if (y.slots == NULL)
        return -1;
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i].qid[0] != '\0' && x->slots[i].when >= oldest) {
            *evf_lslot(&y, x->slots[i].qid) = x->slots[i];
            y.n++;
        }
    free(x->slots);
    *x = y;
    return 0;
}

static ps_evf_link *evf_lget(ps_evf *f, const char *qid, time_t when,
                             ps_err *err)
{
    ps_evf_link *e;

    if (strlen(qid) >= sizeof(e->qid)) {
        ps_err_set(err, "queue id too long: %.40s", qid);
        return NULL;
    }
    if ((f->links.n + 1) * 2 > f->links.cap && evf_lgrow(f, when) != 0) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    e = evf_lslot(&f->links, qid);
    if (e->qid[0] == '\0') {
        snprintf(e->qid, sizeof(e->qid), "%s", qid);
        f->links.n++;
    }
    if (when > e->when)
        e->when = when;
    return e;
}

/* next is the message root's continuation; from was handed to a filter. */
static int evf_link_put(ps_evf *f, const char *next, const char *root,
                        const char *from, time_t when, ps_err *err)
{
    ps_evf_link *e, *h;

    if ((h = evf_lget(f, from, when, err)) == NULL)
        return -1;
    h->handed = 1;
    if ((e = evf_lget(f, next, when, err)) == NULL)
        return -1;
    if (strcmp(e->root, root) != 0)
        e->persisted = e->batched = 0; /* a new link: written again */
    snprintf(e->root, sizeof(e->root), "%s", root);
    snprintf(e->from, sizeof(e->from), "%s", from);
    return 0;
}

const char *ps_evf_link_root(ps_evf *f, const char *qid)
{
    ps_evf_link *e = evf_lfind(f, qid);

    return e != NULL && e->root[0] != '\0' ? e->root : NULL;
}

int ps_evf_link_handed(ps_evf *f, const char *qid)
{
    ps_evf_link *e = evf_lfind(f, qid);

    return e != NULL && e->handed;
}

/* Is l a hand-off to a configured filter that says the next queue id? */
static int evf_is_hop(const ps_evf *f, const ps_maillog_line *l)
{
    char addr[64];
    unsigned port;

    return f->nfilters > 0 && l->kind == PS_MAILLOG_DELIVERY &&
           l->status == PS_MAILLOG_SENT && l->queued_as[0] != '\0' &&
           strcmp(l->queued_as, l->qid) != 0 &&
           ps_maillog_relay_endpoint(l->relay, addr, sizeof(addr), &port) ==
               0 &&
           ps_conf_filter_match(f->filters, f->nfilters, addr, port);
}

/* A link not yet in filter.links into the batch: "L WHEN NEXT ROOT FROM". */
static void evf_link_batch(ps_evf *f, ps_evf_link *e, time_t when)
{
    char w[32];

    if (e->persisted || e->batched)
        return;
    snprintf(w, sizeof(w), "%lld", (long long)when);
    ps_record_put(&f->linkbatch, "L");
    ps_record_put(&f->linkbatch, w);
    ps_record_put(&f->linkbatch, e->qid);
    ps_record_put(&f->linkbatch, e->root);
    ps_record_put(&f->linkbatch, e->from);
    ps_record_end(&f->linkbatch);
    e->batched = 1;
}

int ps_evf_filter_hop(ps_evf *f, const ps_maillog_line *l, ps_err *err)
{
    ps_msgrec rec;
    ps_evf_link *e;
    char *line = NULL, root[32];
    int found;
    time_t when = l->when ? l->when : time(NULL);

    if (!evf_is_hop(f, l))
        return 0;
    if ((found = ps_evf_rec_find(f, l->qid, &rec, &line, err)) <= 0)
        return found < 0 ? -1 : 1; /* not ours: no event either way */
    snprintf(root, sizeof(root), "%s", rec.qid);
    e = evf_lfind(f, l->queued_as);
    if ((e == NULL || strcmp(e->root, root) != 0) &&
        evf_link_put(f, l->queued_as, root, l->qid, when, err) != 0) {
        free(line);
        return -1;
    }
    evf_link_batch(f, evf_lfind(f, l->queued_as), when);
    ps_log_kv(f->lg, LOG_INFO, "events", "hop", "content filter", "qid", l->qid,
              "next", l->queued_as, "root", root, NULL);
    /* The recipient is no longer deferred at the filter; hold lines of
     * the next message read before this one may now find their record. */
    ps_evf_pending_settle(f, root, l->to);
    if (l->orig_to[0] != '\0')
        ps_evf_pending_settle(f, root, l->orig_to);
    free(line);
    if (f->linkbatch.oom)
        return ps_err_set(err, "out of memory");
    if ((found = ps_evf_rec_find(f, l->queued_as, &rec, &line, err)) > 0)
        found = ps_evf_hold_record(f, l->queued_as, &rec, when, err);
    free(line);
    return found < 0 ? -1 : 1;
}

int ps_evf_links_flush(ps_evf *f, ps_err *err)
{
    if (f->linkbatch.n == 0)
        return 0;
    if (ps_events_append(f->linkfile, f->linkbatch.p, f->linkbatch.n, err) != 0)
        return -1;
    for (size_t i = 0; i < f->links.cap; i++)
        if (f->links.slots[i].batched) {
            f->links.slots[i].batched = 0;
            f->links.slots[i].persisted = 1;
        }
    f->linkbatch.n = 0;
    return 0;
}

void ps_evf_links_rewind(ps_evf *f)
{
    for (size_t i = 0; i < f->links.cap; i++)
        f->links.slots[i].batched = 0;
    f->linkbatch.n = 0;
}

/* One line of the links file: "L WHEN NEXT ROOT FROM". */
static int evf_link_line(ps_evf *f, char *line, time_t oldest, ps_err *err)
{
    char *fields[EVF_LINK_FIELDS], *end;
    ps_evf_link *e;
    long long when;

    if (ps_record_split(line, fields, EVF_LINK_FIELDS) != 5 ||
        strcmp(fields[0], "L") != 0)
        return 0; /* a partial line from a crash: its hop is read again */
    when = strtoll(fields[1], &end, 10);
    if (*end != '\0' || (time_t)when < oldest)
        return 0;
    if (evf_link_put(f, fields[2], fields[3], fields[4], (time_t)when, err) !=
        0)
        return -1;
    if ((e = evf_lfind(f, fields[2])) != NULL)
        e->persisted = 1;
    return 0;
}

int ps_evf_links_load(ps_evf *f, ps_err *err)
{
    FILE *fp = fopen(f->linkfile, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    time_t oldest = time(NULL) - (time_t)(f->max_age + 1) * EVF_LINK_DAY;

    if (fp == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", f->linkfile, strerror(errno));
    while (rc == 0 && (n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] != '\n')
            break;
        line[n - 1] = '\0';
        rc = evf_link_line(f, line, oldest, err);
    }
    free(line);
    fclose(fp);
    return rc;
}

/* Written again with only the links still kept (on start): the file
 * does not grow without end. Aside, fsync'd, renamed over. */
int ps_evf_links_compact(ps_evf *f, ps_err *err)
{
    char tmp[PATH_MAX + 8];
    ps_record r = {0};
    int fd, rc = 0;

    for (size_t i = 0; i < f->links.cap; i++) {
        const ps_evf_link *e = &f->links.slots[i];
        char w[32];
        if (e->qid[0] == '\0' || e->root[0] == '\0')
            continue;
        snprintf(w, sizeof(w), "%lld", (long long)e->when);
        ps_record_put(&r, "L");
        ps_record_put(&r, w);
        ps_record_put(&r, e->qid);
        ps_record_put(&r, e->root);
        ps_record_put(&r, e->from);
        ps_record_end(&r);
    }
    if (r.oom) {
        ps_record_free(&r);
        return ps_err_set(err, "out of memory");
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->linkfile);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0 ||
        (r.n > 0 && write(fd, r.p, r.n) != (ssize_t)r.n) || fsync(fd) != 0 ||
        rename(tmp, f->linkfile) != 0)
        rc = ps_err_set(err, "%s: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    ps_record_free(&r);
    return rc;
}

int ps_evf_filters_setup(ps_evf *f, const ps_conf *conf, ps_err *err)
{
    const ps_conf_list *l = &conf->events.content_filters;
    int n =
        snprintf(f->linkfile, sizeof(f->linkfile), "%s/filter.links", f->dir);

    if (n < 0 || (size_t)n >= sizeof(f->linkfile))
        return ps_err_set(err, "%s: path too long", f->dir);
    if (l->n > 0 && (f->filters = calloc(l->n, sizeof(*f->filters))) == NULL)
        return ps_err_set(err, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        if (ps_conf_filter_parse(l->items[i], &f->filters[i], err) != 0)
            return -1;
    f->nfilters = l->n;
    if (ps_evf_links_load(f, err) != 0)
        return -1;
    return f->links.n > 0 ? ps_evf_links_compact(f, err) : 0;
}

void ps_evf_links_free(ps_evf *f)
{
    free(f->links.slots);
    memset(&f->links, 0, sizeof(f->links));
    free(f->filters);
    f->filters = NULL;
    ps_record_free(&f->linkbatch);
}
