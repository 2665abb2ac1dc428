/* The webhook sender ([endpoint NAME] sections): in postseal-policyd's
 * loop, it reads the event spool (mail/evspool.h) once per endpoint, and
 * POSTs each event the endpoint wants, signed (mail/evhook.h), through
 * libcurl's multi interface driven by the loop. At least once: each
 * endpoint's state (how far it read the spool, and every event not yet
 * answered with a 2xx) is fsync'd to DIR/webhooks/NAME.state
 * (mail/whstate.h), and an
 * event leaves it only after a 2xx; others retry with backoff until
 * PS_WHS_GIVE_UP has passed, then stay there, marked dead. The spool is
 * compacted in place of retention (whsend_compact.c), and SIGHUP adds,
 * changes and removes endpoints (whsend_reload.c). */
#ifndef PS_POLICYD_WHSEND_H
#define PS_POLICYD_WHSEND_H

#include <limits.h>
#include <stddef.h>

#include <event2/event.h>

#include "base/err.h"
#include "base/log.h"
#include "conf/conf.h"
#include "mail/evhook.h"
#include "mail/evspool.h"
#include "mail/whstate.h"

#define PS_WHS_DIR         "webhooks"  /* in [events] dir */
#define PS_WHS_TICK_MS     1000        /* spool read, due retries started */
#define PS_WHS_PENDING     1024        /* events held per endpoint */
#define PS_WHS_LINE_MAX    (64 * 1024) /* longest spool line sent */
#define PS_WHS_MAX_DELAY   (8 * 3600)  /* longest wait between tries */
#define PS_WHS_GIVE_UP     (30 * 3600) /* seconds of trying, then dead */
#define PS_WHS_BODY_MAX    (PS_WHS_LINE_MAX + 4096)
#define PS_WHS_COMPACT_MAX 3600 /* s: longest wait between compactions */
/* Compaction's files in [events] dir: the new spool, each endpoint's new
 * state beside its state (NAME.state.compact), and the commit mark whose
 * presence says that all of them are complete. */
#define PS_WHS_COMPACT_SUFFIX ".compact"
#define PS_WHS_COMPACT_MARK   "compact.commit"
/* Tests only: the compaction step after which the daemon kills itself. */
#define PS_WHS_CRASH_ENV "POSTSEAL_TEST_CRASH_COMPACT"

typedef ps_whstate_item ps_whs_item;

struct ps_whs;

typedef struct ps_whs_ep {
    struct ps_whs *s;
    ps_conf_endpoint conf; /* its strings owned here */
    ps_evhook *hook;
    ps_whs_item *items;
    size_t n, cap;
    long long scanned; /* spool bytes looked at */
    unsigned inflight;
    int dirty; /* state to be saved */
    char state[PATH_MAX], requests[PATH_MAX];
    unsigned long sent, failed;
    int retiring; /* removed by a reload: freed once its POSTs end */
} ps_whs_ep;

typedef struct ps_whs {
    struct event_base *base;
    ps_log *lg;
    struct event *tick, *curl_timer;
    void *multi;            /* CURLM * */
    struct whs_xfer *xfers; /* POSTs in flight (whsend_http.c) */
    char spool[PATH_MAX], dir[PATH_MAX], events_dir[PATH_MAX];
    int spool_fd;
    ps_whs_ep **eps; /* pointers: a POST in flight holds its endpoint */
    size_t neps;
    int retention, dead_retention; /* [events], seconds */
    long long next_compact;
    int crash_at; /* PS_WHS_CRASH_ENV, 0: never */
    char *line;   /* PS_WHS_LINE_MAX + 1 */
    char *body;   /* PS_WHS_BODY_MAX */
} ps_whs;

/* whsend.c: nothing to do (NULL *out) without [events] dir. */
int ps_whs_start(struct event_base *base, ps_log *lg, const ps_conf *conf,
                 ps_whs **out, ps_err *err);
void ps_whs_free(ps_whs *s);
/* One endpoint made from c: its state loaded, or begun where c's start
 * says (and saved at once, so a crash cannot move that start). */
int ps_whs_ep_new(ps_whs *s, const ps_conf_endpoint *c, ps_whs_ep **out,
                  ps_err *err);
void ps_whs_ep_free(ps_whs_ep *ep);
/* A POST of item's event ended: status is the HTTP code, 0 without an
 * answer (refused, timed out, certificate not trusted). */
void ps_whs_done(ps_whs_ep *ep, long long off, long status, const char *why);

/* whsend_state.c: the state file, and the events held. */
int ps_whs_item_add(ps_whs_ep *ep, const ps_whs_item *it, ps_err *err);
int ps_whs_state_load(ps_whs_ep *ep, ps_err *err);
int ps_whs_state_save(ps_whs_ep *ep, ps_err *err);
/* The state into path (created, fsync'd; not renamed anywhere). */
int ps_whs_state_write(const ps_whs_ep *ep, const char *path, ps_err *err);
void ps_whs_sync_dir(const char *dir);
/* Applies what `postseal events retry|drop` asked (NAME.requests). */
int ps_whs_requests(ps_whs_ep *ep, long long now, ps_err *err);
/* The wait before the retry after `attempts` failures. */
long long ps_whs_delay(const ps_whs_ep *ep, unsigned attempts);

/* whsend_reload.c: SIGHUP. Endpoints added start as ps_whs_ep_new says,
 * changed ones keep their state and POSTs in flight, removed ones finish
 * their POSTs in flight, then their state files are removed. */
int ps_whs_reload(ps_whs *s, const ps_conf *conf, ps_err *err);
/* A removed endpoint whose last POST ended: freed, its files removed. */
void ps_whs_retire(ps_whs_ep *ep);
/* State files of endpoints not configured are removed (logged): after a
 * compaction their offsets would name other events. */
void ps_whs_prune(ps_whs *s);

/* whsend_compact.c: retention. */
/* Removes from the spool the events every endpoint is done with and that
 * are older than retention (dead ones: dead_retention), rewriting the
 * spool and each endpoint's state with a commit mark (see
 * ps_whs_compact_recover); nothing removed, nothing written. */
int ps_whs_compact(ps_whs *s, long long now, ps_err *err);
/* At start, before anything reads the spool: a compaction the commit mark
 * says is complete is finished (its files renamed into place), another
 * one's files are removed. */
int ps_whs_compact_recover(const char *events_dir, ps_err *err);

/* whsend_http.c: libcurl's multi interface on the loop. */
int ps_whs_http_init(ps_whs *s, ps_err *err);
void ps_whs_http_free(ps_whs *s);
/* The spool was compacted: each POST in flight of ep learns where its
 * event now is. */
void ps_whs_http_moved(ps_whs *s, const ps_whs_ep *ep,
                       long long (*moved)(const void *arg, long long off),
                       const void *arg);
/* Starts the POST of body with the signature headers hdrs. */
int ps_whs_http_post(ps_whs_ep *ep, long long off, const char *body, size_t len,
                     const char *hdrs, ps_err *err);

#endif
