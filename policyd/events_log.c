/* The mail log as the follower reads it: whole lines from the saved
 * offset, each delivery, hold or expiry line of a message the milter
 * recorded turned into events; rotation by rename (the old file drained first,
 * found again beside the new one after a restart) and by truncation (the
 * bytes before the offset no longer those read there). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "mail/evspool.h"
#include "mail/maillog.h"

static const int evf_kinds[] = {PS_EVENT_SENT, PS_EVENT_DELAYED,
                                PS_EVENT_FAILED};

/* The recipient as the milter recorded it: orig_to when Postfix rewrote
 * the address (aliases), else to; NULL for one the message did not have. */
static const char *evf_recipient(const ps_msgrec *rec, const ps_maillog_line *l)
{
    if (l->orig_to[0] != '\0' && ps_msgrec_has_rcpt(rec, l->orig_to))
        return l->orig_to;
    return ps_msgrec_has_rcpt(rec, l->to) ? l->to : NULL;
}

/* An expired message's line, what its failed events share. */
typedef struct evf_expiry {
    const ps_msgrec *rec;
    const char *line, *src;
    size_t n;
    time_t when;
} evf_expiry;

/* One recipient still deferred when its message expired: failed, with
 * its last deferral's status (4.X.X, as in the DSN Postfix returns) and
 * reply; the id is the expiry line's and the recipient's. */
static int evf_fail_expired(ps_evf *f, void *arg, const char *rcpt,
                            const char *dsn, const char *reply, ps_err *err)
{
    const evf_expiry *x = arg;
    char id[PS_EVSPOOL_ID + 1];

    return ps_event_make_id(x->line, x->n, rcpt, id, err) != 0
               ? -1
               : ps_evf_emit(f, x->rec, PS_EVENT_FAILED, id, x->when, rcpt, dsn,
                             reply, x->src, err);
}

int ps_evf_log_emit(ps_evf *f, const ps_maillog_line *l, const ps_msgrec *rec,
                    const char *line, size_t n, const char *src, ps_err *err)
{
    char id[PS_EVSPOOL_ID + 1];
    time_t when = l->when ? l->when : time(NULL);
    const char *rcpt;
    evf_expiry x = {rec, line, src, n, when};

    if (l->kind == PS_MAILLOG_EXPIRED)
        /* pending under the record's queue id: a content filter's
         * re-injected message expires under its own */
        return ps_evf_pending_expire(f, rec->qid, evf_fail_expired, &x, err);

    if (l->kind == PS_MAILLOG_HOLD) {
        /* The hold concerns every recipient of the message. */
        for (size_t i = 0; i < rec->nrcpts; i++)
            if (ps_event_make_id(line, n, rec->rcpts[i], id, err) != 0 ||
                ps_evf_emit(f, rec, PS_EVENT_HELD, id, when, rec->rcpts[i], "",
                            l->reply, src, err) != 0)
                return -1;
        return 0;
    }
    if ((rcpt = evf_recipient(rec, l)) == NULL) {
        f->skipped++;
        return 0;
    }
    if (ps_event_make_id(line, n, NULL, id, err) != 0)
        return -1;
    return ps_evf_emit(f, rec, evf_kinds[l->status], id, when, rcpt, l->dsn,
                       l->reply, src, err);
}

/* The message left the queue. One handed to a content filter leaves what
 * is pending to the message the filter re-injected, which drops it (under
 * the record's queue id) when it leaves in turn. */
static void evf_removed(ps_evf *f, const char *qid)
{
    const char *root = ps_evf_link_root(f, qid);

    if (!ps_evf_link_handed(f, qid))
        ps_evf_pending_drop(f, root != NULL ? root : qid);
    ps_evf_hold_drop(f, qid);
}

/* One whole line ending at offset end; only lines of mail we signed count:
 * a queue id without an accepted record (not ours) is skipped. */
static int evf_log_line(ps_evf *f, const char *line, size_t n, long long end,
                        ps_err *err)
{
    ps_maillog_line *l = malloc(sizeof(*l));
    ps_msgrec rec;
    char src[96], *recline = NULL;
    int rc = 0, found;

    if (l == NULL)
        return ps_err_set(err, "out of memory");
    switch (ps_maillog_parse(line, n, time(NULL), l)) {
    case PS_MAILLOG_REMOVED:
        evf_removed(f, l->qid);
        goto out;
    case PS_MAILLOG_DELIVERY:
        if ((rc = ps_evf_filter_hop(f, l, err)) != 0) {
            rc = rc < 0 ? -1 : 0;
            goto out;
        }
        break;
    case PS_MAILLOG_HOLD:
    case PS_MAILLOG_EXPIRED:
        break;
    default:
        goto out;
    }
    snprintf(src, sizeof(src), "m:%lld:%llu:%lld", f->cur.gen, f->cur.ino, end);
    if ((found = ps_evf_rec_find(f, l->qid, &rec, &recline, err)) <= 0) {
        rc = found;
        /* cleanup logs a header check's hold before the message ends,
         * where the milter writes its record: it may yet come; and a
         * content filter's re-injected message may be delivered before
         * the line of the hand-off that links it is written */
        if (found == 0 && (l->kind == PS_MAILLOG_HOLD ||
                           (f->nfilters > 0 && l->kind == PS_MAILLOG_DELIVERY)))
            rc = ps_evf_hold_wait(f, l, line, n, end, src, err);
        else
            f->skipped += found == 0;
        goto out;
    }
    rc = ps_evf_log_emit(f, l, &rec, line, n, src, err);
out:
    free(recline);
    free(l);
    return rc;
}

/* The whole lines of buf[0..n); *used: the bytes consumed. */
static int evf_log_lines(ps_evf *f, size_t n, size_t *used, ps_err *err)
{
    char *p = f->buf, *nl;

    while ((nl = memchr(p, '\n', n - (size_t)(p - f->buf))) != NULL) {
        size_t len = (size_t)(nl - p);
        long long end = f->cur.off + (long long)(nl + 1 - f->buf);
        if (!f->skipping && evf_log_line(f, p, len, end, err) != 0)
            return -1;
        f->skipping = 0;
        p = nl + 1;
    }
    *used = (size_t)(p - f->buf);
    if (*used == 0 && n == PS_EVF_READ) {
        f->skipping = 1; /* a line longer than a read: not Postfix's */
        *used = n;
    }
    return 0;
}

/* Reads fd from cur.off to its end (or the budget); *got: bytes used. */
static int evf_log_drain(ps_evf *f, int fd, size_t *got, ps_err *err)
{
    *got = 0;
    while (*got < PS_EVF_BUDGET) {
        ssize_t r = pread(fd, f->buf, PS_EVF_READ, (off_t)f->cur.off);
        size_t used;
        /* The milter writes a message's record before Postfix can log a
         * line of it: the records read after this read have them all. */
        if (r < 0 || (r > 0 && ps_evf_rec_catch_up(f, err) != 0))
            return r < 0
                       ? ps_err_set(err, "%s: %s", f->maillog, strerror(errno))
                       : -1;
        if (r == 0 || evf_log_lines(f, (size_t)r, &used, err) != 0)
            return r == 0 ? 0 : -1;
        if (used == 0)
            return 0; /* a partial line: the rest is being written */
        f->cur.off += (long long)used;
        *got += used;
        f->printlen = used < sizeof(f->print) ? used : sizeof(f->print);
        memcpy(f->print, f->buf + used - f->printlen, f->printlen);
    }
    return 0;
}

/* After a restart: the file followed before, renamed beside the log
 * (maillog.1, maillog.20261206-...), found by its inode. */
static int evf_log_find_old(const ps_evf *f)
{
    char copy[PATH_MAX], base[PATH_MAX], path[PATH_MAX * 2];
    DIR *d;
    struct dirent *e;
    struct stat st;
    int fd = -1;

    snprintf(copy, sizeof(copy), "%s", f->maillog);
    snprintf(base, sizeof(base), "%s", basename(copy));
    snprintf(copy, sizeof(copy), "%s", f->maillog);
    if ((d = opendir(dirname(copy))) == NULL)
        return -1;
    while (fd < 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, strlen(base)) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", copy, e->d_name);
        if (stat(path, &st) == 0 && (unsigned long long)st.st_ino == f->cur.ino)
            fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    closedir(d);
    return fd;
}

static void evf_log_next_file(ps_evf *f)
{
    f->cur.gen++;
    f->cur.ino = 0;
    f->cur.off = 0;
    f->printlen = 0;
}

/* Truncated (copytruncate) even if written past cur.off since: the bytes
 * before cur.off are not those read there. */
static int evf_log_truncated(const ps_evf *f)
{
    char now[sizeof(f->print)];

    if (f->printlen == 0 || f->cur.off < (long long)f->printlen)
        return 0;
    return pread(f->fd, now, f->printlen,
                 (off_t)(f->cur.off - (long long)f->printlen)) !=
               (ssize_t)f->printlen ||
           memcmp(now, f->print, f->printlen) != 0;
}

static int evf_log_open(ps_evf *f, ps_err *err)
{
    struct stat st;
    size_t got;
    int old;

    if ((f->fd = open(f->maillog, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", f->maillog, strerror(errno));
    fstat(f->fd, &st);
    if (f->cur.ino != 0 && (unsigned long long)st.st_ino != f->cur.ino) {
        if ((old = evf_log_find_old(f)) < 0)
            ps_log_kv(f->lg, LOG_WARNING, "events", "reason",
                      "the log followed before was rotated away while "
                      "stopped and is not beside it: its unread lines are "
                      "lost",
                      "maillog", f->maillog, NULL);
        else if (evf_log_drain(f, old, &got, err) != 0) {
            close(old);
            return -1;
        } else
            close(old);
        evf_log_next_file(f);
    } else if (f->cur.ino != 0 && (long long)st.st_size < f->cur.off) {
        evf_log_next_file(f); /* truncated while stopped */
    }
    f->cur.ino = (unsigned long long)st.st_ino;
    return 0;
}

/* After a drain: has the path come to name another file? A renamed file is
 * drained once more on the next tick (the writer may add a last line before it
 * reopens), then left. */
static void evf_log_check_rotation(ps_evf *f, size_t got)
{
    struct stat st;

    if (stat(f->maillog, &st) != 0 ||
        (unsigned long long)st.st_ino != f->cur.ino) {
        if (f->rotated && got == 0) {
            close(f->fd);
            f->fd = -1;
            f->rotated = 0;
            evf_log_next_file(f);
        } else {
            f->rotated = 1;
        }
    }
}

static void evf_log_restart(ps_evf *f)
{
    unsigned long long ino = f->cur.ino;

    evf_log_next_file(f);
    f->cur.ino = ino;
    ps_log_kv(f->lg, LOG_NOTICE, "events", "note",
              "the mail log was truncated: read again from its start",
              "maillog", f->maillog, NULL);
}

int ps_evf_log_read(ps_evf *f, ps_err *err)
{
    size_t got;

    if (f->fd < 0 && evf_log_open(f, err) != 0)
        return -1;
    if (f->fd < 0)
        return 0;
    if (evf_log_truncated(f))
        evf_log_restart(f);
    if (evf_log_drain(f, f->fd, &got, err) != 0)
        return -1;
    if (got >= PS_EVF_BUDGET)
        return 1;
    evf_log_check_rotation(f, got);
    return f->fd < 0; /* switched: the new file at once */
}
