/* Lines read before the record of their message: cleanup logs a header or
 * body check's HOLD while the message is still arriving, before the end
 * of message where the milter writes its record; with content filters, a
 * re-injected message may be delivered before the hand-off line that
 * links it to its record is written. Such a line waits here (a bounded
 * ring: most are mail postseal did not sign, whose record never comes)
 * until the record is known, then gives its events; a hold line is
 * forgotten when its message leaves the queue, a delivery line is not
 * (its message may be gone before the hand-off is logged) but is only
 * joined by a hand-off logged within PS_EVF_LINK_WINDOW of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "mail/maillog.h"

static void evf_hold_clear(ps_evf_hold *h)
{
    free(h->line);
    memset(h, 0, sizeof(*h));
}

int ps_evf_hold_wait(ps_evf *f, const ps_maillog_line *l, const char *line,
                     size_t n, long long end, const char *src, ps_err *err)
{
    ps_evf_hold *h = &f->holds[f->holds_next];

    evf_hold_clear(h);
    if ((h->line = malloc(n ? n : 1)) == NULL)
        return ps_err_set(err, "out of memory");
    memcpy(h->line, line, n);
    h->n = n;
    snprintf(h->qid, sizeof(h->qid), "%s", l->qid);
    h->kind = l->kind;
    h->when = l->when;
    snprintf(h->src, sizeof(h->src), "%s", src);
    h->gen = f->cur.gen;
    h->off = end;
    f->holds_next = (f->holds_next + 1) % PS_EVF_HOLDS;
    return 0;
}

/* A delivery line waits only for a hand-off close to it in time: a queue
 * id seen again much later is another message. */
static int evf_hold_near(const ps_evf_hold *h, time_t near)
{
    if (h->kind != PS_MAILLOG_DELIVERY)
        return 1;
    if (near == 0 || h->when == 0)
        return near == 0;
    return h->when <= near + PS_EVF_LINK_WINDOW &&
           near <= h->when + PS_EVF_LINK_WINDOW;
}

int ps_evf_hold_record(ps_evf *f, const char *qid, const ps_msgrec *rec,
                       time_t near, ps_err *err)
{
    ps_maillog_line *l = NULL;
    int rc = 0;

    for (size_t i = 0; i < PS_EVF_HOLDS && rc == 0; i++) {
        ps_evf_hold *h = &f->holds[i];
        ps_maillog_kind k;
        if (h->line == NULL || h->emitted || strcmp(h->qid, qid) != 0 ||
            !evf_hold_near(h, near))
            continue;
        if (l == NULL && (l = malloc(sizeof(*l))) == NULL)
            return ps_err_set(err, "out of memory");
        k = ps_maillog_parse(h->line, h->n, time(NULL), l);
        if (k == PS_MAILLOG_HOLD || k == PS_MAILLOG_DELIVERY)
            rc = ps_evf_log_emit(f, l, rec, h->line, h->n, h->src, err);
        h->emitted = 1; /* kept until its batch is in the spool */
    }
    free(l);
    return rc;
}

void ps_evf_hold_drop(ps_evf *f, const char *qid)
{
    for (size_t i = 0; i < PS_EVF_HOLDS; i++)
        if (f->holds[i].line != NULL && !f->holds[i].emitted &&
            f->holds[i].kind == PS_MAILLOG_HOLD &&
            strcmp(f->holds[i].qid, qid) == 0)
            evf_hold_clear(&f->holds[i]);
}

void ps_evf_hold_flushed(ps_evf *f)
{
    for (size_t i = 0; i < PS_EVF_HOLDS; i++)
        if (f->holds[i].emitted)
            evf_hold_clear(&f->holds[i]);
}

void ps_evf_hold_rewind(ps_evf *f)
{
    for (size_t i = 0; i < PS_EVF_HOLDS; i++) {
        ps_evf_hold *h = &f->holds[i];
        /* a line read again from saved waits again or finds its record; an
         * emitted one waits again for its record, read again too */
        if (h->line != NULL &&
            (h->gen > f->saved.gen ||
             (h->gen == f->saved.gen && h->off > f->saved.off)))
            evf_hold_clear(h);
        h->emitted = 0;
    }
}

void ps_evf_hold_free(ps_evf *f)
{
    for (size_t i = 0; i < PS_EVF_HOLDS; i++)
        evf_hold_clear(&f->holds[i]);
}
