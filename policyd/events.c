/* The event follower's life in postseal-policyd's loop (events.h): start
 * (positions from the state file, moved past the spool's last events),
 * the timer that reads both sources, and the one append + state save per
 * batch that makes each event land in the spool exactly once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "mail/events.h"
#include "mail/evspool.h"

#define EVF_STATE "follow.state"

static int evf_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* "log GEN INO OFF\nrecords DAY OFF\n"; no file: the start of both. */
static int evf_state_load(ps_evf *f, ps_err *err)
{
    FILE *fp = fopen(f->state, "r");
    ps_evf_pos *p = &f->saved;
    int ok;

    if (fp == NULL)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", f->state, strerror(errno));
    ok = fscanf(fp, "log %lld %llu %lld\nrecords %ld %lld\n", &p->gen, &p->ino,
                &p->off, &p->day, &p->roff) == 5;
    fclose(fp);
    if (!ok || p->off < 0 || p->roff < 0)
        return ps_err_set(err, "%s: unreadable (remove it to start over)",
                          f->state);
    return 0;
}

/* Written aside, fsync'd and renamed over: the old state or the new one,
 * never half of either. */
static int evf_state_save(ps_evf *f, ps_err *err)
{
    char tmp[PATH_MAX + 8], text[256];
    const ps_evf_pos *p = &f->cur;
    int fd, n = snprintf(text, sizeof(text),
                         "log %lld %llu %lld\nrecords %ld %lld\n", p->gen,
                         p->ino, p->off, p->day, p->roff);

    snprintf(tmp, sizeof(tmp), "%s.tmp", f->state);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
        return ps_err_set(err, "%s: %s", tmp, strerror(errno));
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        close(fd);
        return ps_err_set(err, "%s: %s", tmp, strerror(errno));
    }
    close(fd);
    if (rename(tmp, f->state) != 0)
        return ps_err_set(err, "%s: %s", f->state, strerror(errno));
    if ((fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    f->saved = f->cur;
    return 0;
}

static int evf_pos_after(long long a1, long long a2, long long b1, long long b2)
{
    return a1 > b1 || (a1 == b1 && a2 > b2);
}

/* One spool event's source position, when past the saved one. */
static void evf_recover_src(ps_evf *f, const char *src)
{
    long long gen, off;
    unsigned long long ino;
    long day;

    if (sscanf(src, "m:%lld:%llu:%lld", &gen, &ino, &off) == 3 &&
        evf_pos_after(gen, off, f->saved.gen, f->saved.off)) {
        f->saved.gen = gen;
        f->saved.ino = ino;
        f->saved.off = off;
    } else if (sscanf(src, "r:%ld:%lld", &day, &off) == 2 &&
               evf_pos_after(day, off, f->saved.day, f->saved.roff)) {
        f->saved.day = day;
        f->saved.roff = off;
    }
}

/* A crash in the middle of an append can leave a partial last line: cut,
 * so the next append starts a line (its events are read again). */
static void evf_cut_partial(ps_evf *f, int fd, off_t from, char *buf, ssize_t n)
{
    ssize_t k = n;

    if (n <= 0 || buf[n - 1] == '\n')
        return;
    while (k > 0 && buf[k - 1] != '\n')
        k--;
    if (ftruncate(fd, from + k) == 0 && fsync(fd) == 0)
        ps_log_kv(f->lg, LOG_WARNING, "events", "note",
                  "partial last line of the spool cut (an interrupted "
                  "append; its events are read again)",
                  "spool", f->spool, NULL);
}

/* Events appended before a crash let the state be saved: the spool's
 * last events say how far the sources were read. */
static int evf_recover(ps_evf *f, ps_err *err)
{
    int fd = open(f->spool, O_RDWR | O_CLOEXEC);
    struct stat st;
    char *buf, *line, *save = NULL, *fields[PS_EVSPOOL_NFIELDS];
    off_t from;
    ssize_t n;
    ps_event ev;

    if (fd < 0)
        return errno == ENOENT
                   ? 0
                   : ps_err_set(err, "%s: %s", f->spool, strerror(errno));
    fstat(fd, &st);
    from = st.st_size > PS_EVF_TAIL ? st.st_size - PS_EVF_TAIL : 0;
    if ((buf = malloc(PS_EVF_TAIL + 1)) == NULL) {
        close(fd);
        return ps_err_set(err, "out of memory");
    }
    n = pread(fd, buf, PS_EVF_TAIL, from);
    evf_cut_partial(f, fd, from, buf, n);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    /* The first line may be cut by the tail: it fails to parse. */
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
        if (ps_evspool_parse(line, fields, &ev) == 0)
            evf_recover_src(f, ev.src);
    free(buf);
    return 0;
}

int ps_evf_emit(ps_evf *f, const ps_msgrec *rec, int kind, const char *id,
                time_t when, const char *rcpt, const char *dsn,
                const char *reply, const char *src, ps_err *err)
{
    ps_event ev = {.when = when,
                   .kind = (ps_event_kind)kind,
                   .qid = rec->qid,
                   .msgid = rec->msgid,
                   .sender = rec->sender,
                   .auth = rec->auth,
                   .client = rec->client,
                   .recipient = rcpt,
                   .dsn = dsn,
                   .reply = reply,
                   .src = src};

    snprintf(ev.id, sizeof(ev.id), "%s", id);
    ps_evspool_format(&ev, &f->batch);
    if (f->batch.oom)
        return ps_err_set(err, "out of memory");
    f->nbatch++;
    if (ps_evf_pending_note(f, &ev, err) != 0)
        return -1;
    if (f->on_event != NULL)
        f->on_event(f->on_event_arg, &ev);
    ps_log_kv(f->lg, LOG_INFO, "event", "id", id, "event",
              ps_event_kind_name(ev.kind), "qid", rec->qid, "recipient", rcpt,
              "status", dsn[0] ? dsn : NULL, NULL);
    return 0;
}

/* The batch into the spool (one write, fsync), then the positions. */
static int evf_flush(ps_evf *f, ps_err *err)
{
    if (ps_evf_links_flush(f, err) != 0)
        return -1;
    if (f->nbatch > 0 &&
        ps_events_append(f->spool, f->batch.p, f->batch.n, err) != 0)
        return -1;
    f->events += f->nbatch;
    f->nbatch = 0;
    ps_evf_hold_flushed(f);
    f->batch.n = 0;
    if (memcmp(&f->cur, &f->saved, sizeof(f->cur)) == 0)
        return 0;
    return evf_state_save(f, err);
}

/* Nothing of a failed batch counts: read again from the saved positions,
 * with what is pending as the spool says. */
static void evf_rewind(ps_evf *f)
{
    ps_err err = {""};

    ps_evf_hold_rewind(f);
    ps_evf_links_rewind(f);
    if (ps_evf_pending_load(f, &err) != 0)
        ps_log_kv(f->lg, LOG_ERR, "events", "result", "failed", "reason",
                  err.msg, "next",
                  "expiries fail only the deferrals read from now on", NULL);
    f->nbatch = 0;
    f->batch.n = 0;
    f->cur = f->saved;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    f->rotated = 0;
    f->skipping = 0;
    f->printlen = 0;
}

static void evf_tick(evutil_socket_t fd, short what, void *arg)
{
    ps_evf *f = arg;
    ps_err err = {""};
    struct timeval tv = {0, PS_EVF_TICK_MS * 1000};
    int more = 0;

    (void)fd;
    (void)what;
    if (ps_evf_rec_catch_up(f, &err) != 0 ||
        (more = ps_evf_log_read(f, &err)) < 0 || evf_flush(f, &err) != 0) {
        ps_log_kv(f->lg, LOG_ERR, "events", "result", "failed", "reason",
                  err.msg, "next", "read again from the saved positions", NULL);
        evf_rewind(f);
        more = 0;
    }
    if (more > 0)
        tv.tv_usec = 0;
    evtimer_add(f->timer, &tv);
}

static int evf_paths(ps_evf *f, const ps_conf *conf, ps_err *err)
{
    const char *dir = conf->events.dir.value;

    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    snprintf(f->maillog, sizeof(f->maillog), "%s", conf->events.maillog.value);
    if (ps_msgrec_dir(dir, f->recdir, sizeof(f->recdir), err) != 0 ||
        ps_evspool_path(dir, f->spool, sizeof(f->spool), err) != 0 ||
        evf_path(f->state, sizeof(f->state), dir, EVF_STATE) != 0)
        return ps_err_set(err, "%s: path too long", dir);
    return 0;
}

int ps_evf_on_event(ps_evf *f, void (*fn)(void *, const struct ps_event *),
                    void *arg)
{
    if (f != NULL) {
        f->on_event = fn;
        f->on_event_arg = arg;
    }
    return 0;
}

void ps_evf_free(ps_evf *f)
{
    if (f == NULL)
        return;
    if (f->timer != NULL)
        event_free(f->timer);
    if (f->fd >= 0)
        close(f->fd);
    ps_evf_index_free(&f->idx);
    ps_evf_pending_free(&f->pending);
    ps_evf_hold_free(f);
    ps_evf_links_free(f);
    ps_record_free(&f->batch);
    free(f->fields);
    free(f->buf);
    free(f);
}

int ps_evf_start(struct event_base *base, ps_log *lg, const ps_conf *conf,
                 ps_evf **out, ps_err *err)
{
    ps_evf *f;
    struct timeval now = {0, 0};

    *out = NULL;
    if (conf->events.maillog.value == NULL)
        return 0;
    if ((f = calloc(1, sizeof(*f))) == NULL)
        return ps_err_set(err, "out of memory");
    f->base = base;
    f->lg = lg;
    f->fd = -1;
    f->max_age = (unsigned)conf->events.max_age;
    f->fields = calloc(PS_MSGREC_FIELDS, sizeof(*f->fields));
    f->buf = malloc(PS_EVF_READ + 1);
    if (f->fields == NULL || f->buf == NULL ||
        (f->timer = evtimer_new(base, evf_tick, f)) == NULL) {
        ps_evf_free(f);
        return ps_err_set(err, "out of memory");
    }
    if (evf_paths(f, conf, err) != 0 ||
        ps_evf_filters_setup(f, conf, err) != 0 ||
        evf_state_load(f, err) != 0 || evf_recover(f, err) != 0 ||
        ps_evf_pending_load(f, err) != 0) {
        ps_evf_free(f);
        return -1;
    }
    /* The records are read from their first day again, to rebuild the
     * index; only bounce records past saved become events. */
    f->cur = f->saved;
    f->cur.day = 0;
    f->cur.roff = 0;
    evtimer_add(f->timer, &now);
    ps_log_kv(lg, LOG_INFO, "events", "maillog", f->maillog, "spool", f->spool,
              "content_filters",
              conf->events.content_filters.n > 0 ? "yes" : NULL, NULL);
    *out = f;
    return 0;
}
