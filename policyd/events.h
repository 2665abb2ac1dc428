/* The event follower ([events] maillog): in postseal-policyd's loop, it
 * tails Postfix's mail log (following rotation), joins each delivery line
 * to the milter's accepted-message record (mail/msgrec.h), and appends
 * the events to the spool (mail/evspool.h) exactly once: the positions in
 * both sources are saved after each append, and on start the spool's own
 * last events move them past anything appended but not yet saved. */
#ifndef PS_POLICYD_EVENTS_H
#define PS_POLICYD_EVENTS_H

#include <limits.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "base/err.h"
#include "base/log.h"
#include "conf/conf.h"
#include "mail/msgrec.h"
#include "mail/record.h"

struct ps_event;

#define PS_EVF_TICK_MS 500               /* how often the sources are read */
#define PS_EVF_BUDGET  (1024 * 1024)     /* log bytes per turn of the loop */
#define PS_EVF_READ    (64 * 1024)       /* one read of the log */
#define PS_EVF_REC_MAX (4 * 1024 * 1024) /* longest record line read */
#define PS_EVF_TAIL    (1024 * 1024)     /* spool tail read on start */
#define PS_EVF_DAY_GRACE                                                       \
    60 /* s after midnight a writer may still be on the old day */

typedef struct ps_evf_entry {
    char qid[32];
    long day;
    off_t off;
} ps_evf_entry;

/* queue id -> where its accepted record is; the latest record wins. */
typedef struct ps_evf_index {
    ps_evf_entry *slots;
    size_t cap, n;
} ps_evf_index;

/* Messages with deferred recipients (events_pending.c): what an expiry
 * fails. */
struct ps_evf_pmsg;
typedef struct ps_evf_pending {
    struct ps_evf_pmsg **buckets;
    size_t nbuckets, n;
} ps_evf_pending;

/* A line waiting for its message's record (events_holds.c); a delivery
 * line is joined only to a hand-off logged PS_EVF_LINK_WINDOW s (at most)
 * before or after it. */
#define PS_EVF_HOLDS       256
#define PS_EVF_LINK_WINDOW 300
typedef struct ps_evf_hold {
    char qid[32];
    int kind;    /* ps_maillog_kind: a hold or a delivery line */
    time_t when; /* the line's stamp */
    char *line;  /* NULL: a free slot */
    size_t n;
    char src[96];
    long long gen, off; /* where the line ends in the log */
    int emitted;        /* its events are in the batch not yet appended */
} ps_evf_hold;

/* A content filter's hand-off (events_filter.c): qid is a message a
 * filter re-injected (root: the milter's record it is joined to), or one
 * handed to a filter (handed), or both in a chain of filters. */
typedef struct ps_evf_link {
    char qid[32], root[32], from[32]; /* root, from: "" when not re-injected */
    time_t when;
    int handed;
    int persisted, batched; /* in filter.links; in linkbatch */
} ps_evf_link;

typedef struct ps_evf_links {
    ps_evf_link *slots;
    size_t cap, n;
} ps_evf_links;

/* Positions: in the log (its generation counts the files followed, so
 * positions compare across rotations), in the records (day, offset). */
typedef struct ps_evf_pos {
    long long gen;
    unsigned long long ino;
    long long off;
    long day;
    long long roff;
} ps_evf_pos;

typedef struct ps_evf {
    struct event_base *base;
    ps_log *lg;
    struct event *timer;
    char dir[PATH_MAX], recdir[PATH_MAX], spool[PATH_MAX], state[PATH_MAX];
    char maillog[PATH_MAX];
    unsigned max_age;
    ps_evf_pos saved; /* what the spool covers, durable */
    ps_evf_pos cur;   /* read so far, in this tick's batch */
    int fd;           /* the log, or -1 */
    int rotated;  /* the path names another file: one more drain, then switch */
    int skipping; /* inside a line longer than a read: dropped */
    /* The last bytes read before cur.off: if the file no longer has them
     * there, it was truncated (and may have grown past cur.off again). */
    char print[64];
    size_t printlen;
    ps_evf_index idx;
    ps_evf_pending pending;
    ps_evf_hold holds[PS_EVF_HOLDS];
    unsigned holds_next;
    char **fields;   /* PS_MSGREC_FIELDS, for records read */
    char *buf;       /* PS_EVF_READ + 1 */
    ps_record batch; /* spool lines not yet appended */
    size_t nbatch;
    unsigned long events, skipped;
    struct ps_conf_filter *filters; /* [events] content_filters */
    size_t nfilters;
    ps_evf_links links;
    char linkfile[PATH_MAX];
    ps_record linkbatch; /* links not yet appended to linkfile */
    /* Told of each event as it is batched (the suppression list); it may
     * hear an event twice if its batch fails and is read again. */
    void (*on_event)(void *arg, const struct ps_event *ev);
    void *on_event_arg;
} ps_evf;

/* events.c */
int ps_evf_start(struct event_base *base, ps_log *lg, const ps_conf *conf,
                 ps_evf **out, ps_err *err);
void ps_evf_free(ps_evf *f);
/* Sets f's on_event hook (f NULL: no follower, nothing to do); 0. */
int ps_evf_on_event(ps_evf *f, void (*fn)(void *, const struct ps_event *),
                    void *arg);
/* Adds one event line to the batch. */
int ps_evf_emit(ps_evf *f, const ps_msgrec *rec, int kind, const char *id,
                time_t when, const char *rcpt, const char *dsn,
                const char *reply, const char *src, ps_err *err);

/* events_rec.c: the records stream and the index */
/* Reads the records from cur.day/cur.roff on: accepted ones indexed,
 * bounce ones emitted when past saved. */
int ps_evf_rec_catch_up(ps_evf *f, ps_err *err);
/* The accepted record of qid into rec (its strings in f->fields): 1, or
 * 0 when there is none. */
int ps_evf_rec_find(ps_evf *f, const char *qid, ps_msgrec *rec, char **line,
                    ps_err *err);
void ps_evf_index_free(ps_evf_index *x);

/* events_pending.c: the recipients an expiry fails */
/* Follows one batched event: a deferral makes its recipient pending (with
 * its status and reply), a sent or failed one ends that. */
int ps_evf_pending_note(ps_evf *f, const struct ps_event *ev, ps_err *err);
/* rcpt of qid is no longer deferred (handed to a content filter). */
void ps_evf_pending_settle(ps_evf *f, const char *qid, const char *rcpt);
/* The message left the queue: nothing of it is pending any more. */
void ps_evf_pending_drop(ps_evf *f, const char *qid);
/* The message expired: fail() for each recipient still pending (its last
 * deferral's status and reply), then nothing of it is pending. */
int ps_evf_pending_expire(ps_evf *f, const char *qid,
                          int (*fail)(ps_evf *, void *, const char *rcpt,
                                      const char *dsn, const char *reply,
                                      ps_err *),
                          void *arg, ps_err *err);
/* Rebuilt from the spool's events (on start, and after a failed batch). */
int ps_evf_pending_load(ps_evf *f, ps_err *err);
void ps_evf_pending_free(ps_evf_pending *p);

/* events_holds.c: lines read before their message's record */
struct ps_maillog_line;
/* Keeps the line l (ending at log offset end) until its record is known. */
int ps_evf_hold_wait(ps_evf *f, const struct ps_maillog_line *l,
                     const char *line, size_t n, long long end, const char *src,
                     ps_err *err);
/* qid has a record now: its own, read (near 0: hold lines only), or a
 * filter's hand-off logged at near linked it to rec. The events of the
 * lines waiting for it. */
int ps_evf_hold_record(ps_evf *f, const char *qid, const ps_msgrec *rec,
                       time_t near, ps_err *err);
/* The message left the queue: its lines wait no more. */
void ps_evf_hold_drop(ps_evf *f, const char *qid);
/* The batch is in the spool: the lines whose events it held are done. */
void ps_evf_hold_flushed(ps_evf *f);
/* The batch failed: forgets the lines past the saved position (they are
 * read again), and those emitted wait again for their records. */
void ps_evf_hold_rewind(ps_evf *f);
void ps_evf_hold_free(ps_evf *f);

/* events_filter.c: hand-offs to local content filters */
/* The filters parsed from conf, the links of filter.links loaded. */
int ps_evf_filters_setup(ps_evf *f, const ps_conf *conf, ps_err *err);
/* l is a hand-off to a configured filter: 1 (no event; the next queue id
 * linked to the record of l's message, if it has one), 0 when it is not,
 * -1 with err. */
int ps_evf_filter_hop(ps_evf *f, const struct ps_maillog_line *l, ps_err *err);
/* The record qid is joined to when a filter re-injected it; else NULL. */
const char *ps_evf_link_root(ps_evf *f, const char *qid);
/* 1 when qid was handed to a filter (its outcomes follow elsewhere). */
int ps_evf_link_handed(ps_evf *f, const char *qid);
int ps_evf_links_load(ps_evf *f, ps_err *err);
int ps_evf_links_compact(ps_evf *f, ps_err *err);
/* The links of this batch into filter.links (before the spool append). */
int ps_evf_links_flush(ps_evf *f, ps_err *err);
void ps_evf_links_rewind(ps_evf *f);
void ps_evf_links_free(ps_evf *f);

/* events_log.c: the mail log */
/* Reads what the log has past cur (budget bytes at most): 1 when the
 * budget ran out (more to read), 0, or -1 with err. */
int ps_evf_log_read(ps_evf *f, ps_err *err);
/* The events of one parsed line l (delivery, hold, expiry) of the message
 * rec; line: the raw line (ids), src: its position. */
int ps_evf_log_emit(ps_evf *f, const struct ps_maillog_line *l,
                    const ps_msgrec *rec, const char *line, size_t n,
                    const char *src, ps_err *err);

#endif
