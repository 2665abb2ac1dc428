/* The milter's records as the follower reads them: day by day in
 * DIR/accepted/DAY/messages, accepted ones kept as an index of where each
 * queue id's record is (read again when a delivery line needs it), bounce
 * ones turned into "bounced" events. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "mail/evspool.h"

#define EVF_DAY 86400

static size_t evf_hash(const char *s)
{
    size_t h = 5381;

    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static ps_evf_entry *evf_slot(ps_evf_index *x, const char *qid)
{
    size_t i = evf_hash(qid) & (x->cap - 1);

    while (x->slots[i].qid[0] != '\0' && strcmp(x->slots[i].qid, qid) != 0)
        i = (i + 1) & (x->cap - 1);
    return &x->slots[i];
}

/* Rebuilt at twice the size, leaving out days no longer kept. */
static int evf_rehash(ps_evf_index *x, size_t cap, long oldest)
{
    ps_evf_index y = {calloc(cap, sizeof(ps_evf_entry)), cap, 0};

    if (y.slots == NULL)
        return -1;
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i].qid[0] != '\0' && x->slots[i].day >= oldest) {
            *evf_slot(&y, x->slots[i].qid) = x->slots[i];
            y.n++;
        }
    free(x->slots);
    *x = y;
    return 0;
}

static int evf_index_put(ps_evf *f, const char *qid, long day, off_t off,
                         ps_err *err)
{
    ps_evf_index *x = &f->idx;
    ps_evf_entry *e;

    if (strlen(qid) >= sizeof(e->qid))
        return 0;
    if ((x->n + 1) * 2 > x->cap && evf_rehash(x, x->cap ? 2 * x->cap : 1024,
                                              day - (long)f->max_age - 1) != 0)
        return ps_err_set(err, "out of memory");
    e = evf_slot(x, qid);
    if (e->qid[0] == '\0') {
        snprintf(e->qid, sizeof(e->qid), "%s", qid);
        x->n++;
    }
    e->day = day;
    e->off = off;
    return 0;
}

void ps_evf_index_free(ps_evf_index *x)
{
    free(x->slots);
    memset(x, 0, sizeof(*x));
}

static int evf_rec_path(const ps_evf *f, long day, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%ld/" PS_MSGREC_NAME, f->recdir, day);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The line at off (newline excluded), malloc'd; NULL at a partial line
 * or on failure (*err set then). */
static char *evf_read_line(int fd, off_t off, size_t *len, ps_err *err)
{
    size_t cap = 4096, n = 0;
    char *buf = NULL, *nl, *p;

    for (;;) {
        ssize_t r;
        if ((p = realloc(buf, cap + 1)) == NULL) {
            ps_err_set(err, "out of memory");
            break;
        }
        buf = p;
        if ((r = pread(fd, buf + n, cap - n, off + (off_t)n)) < 0) {
            ps_err_set(err, "read: %s", strerror(errno));
            break;
        }
        buf[n + (size_t)r] = '\0';
        if ((nl = memchr(buf + n, '\n', (size_t)r)) != NULL) {
            *nl = '\0';
            *len = (size_t)(nl - buf);
            return buf;
        }
        n += (size_t)r;
        if (r == 0 || cap >= PS_EVF_REC_MAX)
            break; /* a line being written, or one too long */
        cap *= 2;
    }
    free(buf);
    return NULL;
}

/* A read that stopped: 0 at the end of the file, else -1 with the file
 * named in err. */
static int evf_blame(const char *path, ps_err *err)
{
    char why[PS_ERR_MAX];

    if (err->msg[0] == '\0')
        return 0;
    snprintf(why, sizeof(why), "%s", err->msg);
    return ps_err_set(err, "%s: %s", path, why);
}

/* The bytes from off through the next newline when the line there is
 * longer than PS_EVF_REC_MAX; 0 when it is not (or not whole yet). */
static long long evf_skip_long(int fd, long long off)
{
    char buf[65536], *nl;
    long long n = 0;
    ssize_t r;

    while ((r = pread(fd, buf, sizeof(buf), (off_t)(off + n))) > 0) {
        if ((nl = memchr(buf, '\n', (size_t)r)) != NULL)
            return n + (nl - buf) + 1 > PS_EVF_REC_MAX ? n + (nl - buf) + 1 : 0;
        n += r;
    }
    return 0;
}

static void evf_src_rec(char *src, size_t cap, long day, long long off)
{
    snprintf(src, cap, "r:%ld:%lld", day, off);
}

/* A bounce record past what the spool covers: the bounced event, joined
 * to the accepted record of its reference (the original queue id). */
static int evf_bounce(ps_evf *f, const ps_msgrec *b, const char *raw,
                      size_t rawlen, long long end, ps_err *err)
{
    ps_msgrec acc;
    char id[PS_EVSPOOL_ID + 1], src[64], *line = NULL;
    char *rcpt = strdup(b->rcpts[0]), *status = strdup(b->status),
         *diag = strdup(b->diagnostic);
    int rc = -1, found;

    if (rcpt == NULL || status == NULL || diag == NULL) {
        ps_err_set(err, "out of memory");
        goto out;
    }
    if ((found = ps_evf_rec_find(f, b->qid, &acc, &line, err)) <= 0) {
        rc = found;
        if (found == 0)
            f->skipped++;
        goto out;
    }
    evf_src_rec(src, sizeof(src), f->cur.day, end);
    rc = ps_event_make_id(raw, rawlen, NULL, id, err) != 0
             ? -1
             : ps_evf_emit(f, &acc, PS_EVENT_BOUNCED, id, b->when, rcpt, status,
                           diag, src, err);
out:
    free(line);
    free(rcpt);
    free(status);
    free(diag);
    return rc;
}

static int evf_rec_line(ps_evf *f, char *line, size_t len, long long end,
                        ps_err *err)
{
    ps_msgrec m;
    char *raw = strndup(line, len);
    int rc = 0, past;

    if (raw == NULL)
        return ps_err_set(err, "out of memory");
    past = f->cur.day > f->saved.day ||
           (f->cur.day == f->saved.day && end > f->saved.roff);
    if (ps_msgrec_parse(line, f->fields, &m) != 0)
        ps_log_kv(f->lg, LOG_WARNING, "events", "reason",
                  "unreadable record line skipped", "dir", f->recdir, NULL);
    else if (m.type == PS_MSGREC_ACCEPTED)
        rc = evf_index_put(f, m.qid, f->cur.day,
                           (off_t)(end - (long long)len - 1), err) != 0
                 ? -1
                 : ps_evf_hold_record(f, m.qid, &m, 0, err);
    else if (past)
        rc = evf_bounce(f, &m, raw, len, end, err);
    free(raw);
    return rc;
}

/* The oldest day directory after day (0: the oldest of all), or -1. */
static long evf_next_day(const ps_evf *f, long day)
{
    DIR *d = opendir(f->recdir);
    struct dirent *e;
    long best = -1;
    char *end;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        long v = strtol(e->d_name, &end, 10);
        if (e->d_name[0] != '.' && *end == '\0' && v > day &&
            (best < 0 || v < best))
            best = v;
    }
    closedir(d);
    return best;
}

/* Reads the current day's file from cur.roff to its last whole line. */
static int evf_rec_day(ps_evf *f, ps_err *err)
{
    char path[PATH_MAX], *line;
    size_t len;
    int fd;

    if (evf_rec_path(f, f->cur.day, path, sizeof(path)) != 0)
        return ps_err_set(err, "%s: path too long", f->recdir);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", path, strerror(errno));
    for (;;) {
        long long end, skip;
        int rc;
        if ((line = evf_read_line(fd, (off_t)f->cur.roff, &len, err)) == NULL) {
            /* Not a line being written but one too long to be ours. */
            if (err->msg[0] || (skip = evf_skip_long(fd, f->cur.roff)) == 0)
                break;
            ps_log_kv(f->lg, LOG_WARNING, "events", "reason",
                      "record line too long: skipped", "file", path, NULL);
            f->cur.roff += skip;
            continue;
        }
        end = f->cur.roff + (long long)len + 1;
        rc = evf_rec_line(f, line, len, end, err);
        free(line);
        if (rc != 0) {
            close(fd);
            return -1;
        }
        f->cur.roff = end;
    }
    close(fd);
    return evf_blame(path, err);
}

int ps_evf_rec_catch_up(ps_evf *f, ps_err *err)
{
    for (;;) {
        long next;
        if (f->cur.day > 0 && evf_rec_day(f, err) != 0)
            return -1;
        next = evf_next_day(f, f->cur.day);
        /* A writer that took the old day just before midnight may still
         * append to it for a moment: the old day is left after that. */
        if (next < 0 ||
            (f->cur.day > 0 &&
             time(NULL) < (f->cur.day + 1) * EVF_DAY + PS_EVF_DAY_GRACE))
            return 0;
        f->cur.day = next;
        f->cur.roff = 0;
    }
}

int ps_evf_rec_find(ps_evf *f, const char *qid, ps_msgrec *rec, char **line,
                    ps_err *err)
{
    char path[PATH_MAX];
    ps_evf_entry *e;
    size_t len;
    int fd;
    const char *root = ps_evf_link_root(f, qid);

    *line = NULL;
    if (root != NULL)
        qid = root; /* re-injected by a content filter: the first record */
    if (f->idx.cap == 0 || (e = evf_slot(&f->idx, qid))->qid[0] == '\0' ||
        evf_rec_path(f, e->day, path, sizeof(path)) != 0)
        return 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0; /* expired with its day */
    *line = evf_read_line(fd, e->off, &len, err);
    close(fd);
    if (*line == NULL)
        return evf_blame(path, err);
    if (ps_msgrec_parse(*line, f->fields, rec) != 0 ||
        rec->type != PS_MSGREC_ACCEPTED) {
        free(*line);
        *line = NULL;
        return 0;
    }
    return 1;
}
