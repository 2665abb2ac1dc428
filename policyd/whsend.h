/* The webhook sender ([endpoint NAME] sections): in postseal-policyd's
 * loop, it reads the event spool (mail/evspool.h) once per endpoint, and
 * POSTs each event the endpoint wants, signed (mail/evhook.h), through
 * libcurl's multi interface driven by the loop. At least once: each
 * endpoint's state (how far it read the spool, and every event not yet
 * answered with a 2xx) is fsync'd to DIR/webhooks/NAME.state
 * (mail/whstate.h), and an
 * event leaves it only after a 2xx; others retry with backoff until
 * PS_WHS_GIVE_UP has passed, then stay there, marked dead. */
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

#define PS_WHS_DIR       "webhooks"  /* in [events] dir */
#define PS_WHS_TICK_MS   1000        /* spool read, due retries started */
#define PS_WHS_PENDING   1024        /* events held per endpoint */
#define PS_WHS_LINE_MAX  (64 * 1024) /* longest spool line sent */
#define PS_WHS_MAX_DELAY (8 * 3600)  /* longest wait between tries */
#define PS_WHS_GIVE_UP   (30 * 3600) /* seconds of trying, then dead */
#define PS_WHS_BODY_MAX  (PS_WHS_LINE_MAX + 4096)

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
} ps_whs_ep;

typedef struct ps_whs {
    struct event_base *base;
    ps_log *lg;
    struct event *tick, *curl_timer;
    void *multi;            /* CURLM * */
    struct whs_xfer *xfers; /* POSTs in flight (whsend_http.c) */
    char spool[PATH_MAX], dir[PATH_MAX], events_dir[PATH_MAX];
    int spool_fd;
    ps_whs_ep *eps;
    size_t neps;
    char *line; /* PS_WHS_LINE_MAX + 1 */
    char *body; /* PS_WHS_BODY_MAX */
} ps_whs;

/* whsend.c: nothing to do (NULL *out) without endpoints. */
int ps_whs_start(struct event_base *base, ps_log *lg, const ps_conf *conf,
                 ps_whs **out, ps_err *err);
void ps_whs_free(ps_whs *s);
/* A POST of item's event ended: status is the HTTP code, 0 without an
 * answer (refused, timed out, certificate not trusted). */
void ps_whs_done(ps_whs_ep *ep, long long off, long status, const char *why);

/* whsend_state.c: the state file, and the events held. */
int ps_whs_item_add(ps_whs_ep *ep, const ps_whs_item *it, ps_err *err);
int ps_whs_state_load(ps_whs_ep *ep, ps_err *err);
int ps_whs_state_save(ps_whs_ep *ep, ps_err *err);
/* Applies what `postseal events retry|drop` asked (NAME.requests). */
int ps_whs_requests(ps_whs_ep *ep, long long now, ps_err *err);
/* The wait before the retry after `attempts` failures. */
long long ps_whs_delay(const ps_whs_ep *ep, unsigned attempts);

/* whsend_http.c: libcurl's multi interface on the loop. */
int ps_whs_http_init(ps_whs *s, ps_err *err);
void ps_whs_http_free(ps_whs *s);
/* Starts the POST of body with the signature headers hdrs. */
int ps_whs_http_post(ps_whs_ep *ep, long long off, const char *body, size_t len,
                     const char *hdrs, ps_err *err);

#endif
