/* What a message's expiry fails: per queue id, the recipients whose last
 * outcome was a deferral, with that deferral's status and reply. Kept from
 * the events as they are batched, and rebuilt on start (and after a failed
 * batch) from the spool, the one durable record of what was emitted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "mail/evspool.h"

#define EVF_PENDING_BUCKETS 1024 /* the first size; doubles as it fills */
#define EVF_PENDING_DAY     86400

typedef struct evf_prcpt {
    char *rcpt, *reply;
    char dsn[16];
} evf_prcpt;

typedef struct ps_evf_pmsg {
    struct ps_evf_pmsg *next;
    char qid[32];
    time_t when; /* the last deferral */
    evf_prcpt *rcpts;
    size_t n;
} ps_evf_pmsg;

static size_t evf_phash(const char *s)
{
    size_t h = 5381;

    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static void evf_pmsg_free(ps_evf_pmsg *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->rcpts[i].rcpt);
        free(m->rcpts[i].reply);
    }
    free(m->rcpts);
    free(m);
}

void ps_evf_pending_free(ps_evf_pending *p)
{
    for (size_t b = 0; b < p->nbuckets; b++)
        while (p->buckets[b] != NULL) {
            ps_evf_pmsg *m = p->buckets[b];
            p->buckets[b] = m->next;
            evf_pmsg_free(m);
        }
    free(p->buckets);
    memset(p, 0, sizeof(*p));
}

/* Where qid's entry is (or would be linked). */
static ps_evf_pmsg **evf_pslot(ps_evf_pending *p, const char *qid)
{
    ps_evf_pmsg **at = &p->buckets[evf_phash(qid) & (p->nbuckets - 1)];

    while (*at != NULL && strcmp((*at)->qid, qid) != 0)
        at = &(*at)->next;
    return at;
}

/* Twice the buckets, leaving out messages deferred last before oldest
 * (their records are gone with their day: no event could be made). */
static int evf_pgrow(ps_evf_pending *p, time_t oldest)
{
    size_t cap = p->nbuckets ? 2 * p->nbuckets : EVF_PENDING_BUCKETS;
    ps_evf_pending q = {calloc(cap, sizeof(ps_evf_pmsg *)), cap, 0};

    if (q.buckets == NULL)
        return -1;
    for (size_t b = 0; b < p->nbuckets; b++)
        while (p->buckets[b] != NULL) {
            ps_evf_pmsg *m = p->buckets[b];
            p->buckets[b] = m->next;
            if (m->when < oldest) {
                evf_pmsg_free(m);
                continue;
            }
            m->next = *evf_pslot(&q, m->qid);
            *evf_pslot(&q, m->qid) = m;
            q.n++;
        }
    free(p->buckets);
    *p = q;
    return 0;
}

static ps_evf_pmsg *evf_pget(ps_evf *f, const char *qid, time_t when,
                             ps_err *err)
{
    ps_evf_pending *p = &f->pending;
    ps_evf_pmsg **at, *m;

    if ((p->n + 1) > 2 * p->nbuckets &&
        evf_pgrow(p, when - (time_t)(f->max_age + 1) * EVF_PENDING_DAY) != 0) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    if (*(at = evf_pslot(p, qid)) != NULL)
        return *at;
    if ((m = calloc(1, sizeof(*m))) == NULL) {
        ps_err_set(err, "out of memory");
        return NULL;
    }
    snprintf(m->qid, sizeof(m->qid), "%s", qid);
    *at = m;
    p->n++;
    return m;
}

static evf_prcpt *evf_pfind(ps_evf_pmsg *m, const char *rcpt)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->rcpts[i].rcpt, rcpt) == 0)
            return &m->rcpts[i];
    return NULL;
}

static int evf_pdeferred(ps_evf *f, const ps_event *ev, ps_err *err)
{
    ps_evf_pmsg *m = evf_pget(f, ev->qid, ev->when, err);
    evf_prcpt *r, *grown;
    char *reply;

    if (m == NULL)
        return -1;
    if ((r = evf_pfind(m, ev->recipient)) == NULL) {
        if ((grown = reallocarray(m->rcpts, m->n + 1, sizeof(*grown))) == NULL)
            return ps_err_set(err, "out of memory");
        m->rcpts = grown;
        r = &m->rcpts[m->n];
        *r = (evf_prcpt){0};
        if ((r->rcpt = strdup(ev->recipient)) == NULL)
            return ps_err_set(err, "out of memory");
        m->n++;
    }
    if ((reply = strdup(ev->reply)) == NULL)
        return ps_err_set(err, "out of memory");
    free(r->reply);
    r->reply = reply;
    snprintf(r->dsn, sizeof(r->dsn), "%s", ev->dsn);
    if (ev->when > m->when)
        m->when = ev->when;
    return 0;
}

void ps_evf_pending_settle(ps_evf *f, const char *qid, const char *rcpt)
{
    ps_evf_pmsg **at, *m;
    evf_prcpt *r;

    if (f->pending.nbuckets == 0 ||
        (m = *(at = evf_pslot(&f->pending, qid))) == NULL ||
        (r = evf_pfind(m, rcpt)) == NULL)
        return;
    free(r->rcpt);
    free(r->reply);
    *r = m->rcpts[--m->n];
    if (m->n == 0)
        ps_evf_pending_drop(f, qid);
}

int ps_evf_pending_note(ps_evf *f, const ps_event *ev, ps_err *err)
{
    if (ev->qid == NULL || ev->qid[0] == '\0' || ev->recipient == NULL ||
        strlen(ev->qid) >= sizeof(((ps_evf_pmsg *)0)->qid))
        return 0;
    if (ev->kind == PS_EVENT_DELAYED)
        return evf_pdeferred(f, ev, err);
    if (ev->kind == PS_EVENT_SENT || ev->kind == PS_EVENT_FAILED)
        ps_evf_pending_settle(f, ev->qid, ev->recipient);
    return 0;
}

void ps_evf_pending_drop(ps_evf *f, const char *qid)
{
    ps_evf_pmsg **at, *m;

    if (f->pending.nbuckets == 0 ||
        (m = *(at = evf_pslot(&f->pending, qid))) == NULL)
        return;
    *at = m->next;
    f->pending.n--;
    evf_pmsg_free(m);
}

int ps_evf_pending_expire(ps_evf *f, const char *qid,
                          int (*fail)(ps_evf *, void *, const char *rcpt,
                                      const char *dsn, const char *reply,
                                      ps_err *),
                          void *arg, ps_err *err)
{
    ps_evf_pmsg **at, *m;
    int rc = 0;

    if (f->pending.nbuckets == 0 ||
        (m = *(at = evf_pslot(&f->pending, qid))) == NULL)
        return 0;
    /* Unlinked first: each failed event it emits would look it up. */
    *at = m->next;
    f->pending.n--;
    for (size_t i = 0; i < m->n && rc == 0; i++)
        rc = fail(f, arg, m->rcpts[i].rcpt, m->rcpts[i].dsn, m->rcpts[i].reply,
                  err);
    evf_pmsg_free(m);
    return rc;
}

int ps_evf_pending_load(ps_evf *f, ps_err *err)
{
    FILE *fp;
    char *line = NULL, *fields[PS_EVSPOOL_NFIELDS];
    size_t cap = 0;
    ssize_t n;
    ps_event ev;
    int rc = 0;

    ps_evf_pending_free(&f->pending);
    if ((fp = fopen(f->spool, "re")) == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", f->spool, strerror(errno));
    while (rc == 0 && (n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (ps_evspool_parse(line, fields, &ev) == 0)
            rc = ps_evf_pending_note(f, &ev, err);
    }
    if (rc == 0 && ferror(fp))
        rc = ps_err_set(err, "%s: %s", f->spool, strerror(errno));
    free(line);
    fclose(fp);
    return rc;
}
