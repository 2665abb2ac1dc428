/* postseal-policyd internals: the daemon state one event loop owns (the
 * settings and rules now in force, the store, the open connections, the
 * counters behind the stats line) and the calls between its files. */
#ifndef PS_POLICYD_H
#define PS_POLICYD_H

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/privdrop.h"
#include "conf/conf.h"
#include "metrics/metrics.h"
#include "base/log.h"
#include "policy_proto.h"
#include "quota/quota_rules.h"
#include "store.h"

#define PS_POLICYD_NAME           "postseal-policyd"
#define PS_ADMIN_NAME             "postseal: quota" /* -Q speaks for it */
#define PS_POLICYD_DEFAULT_LISTEN "inet:127.0.0.1:10040"
#define PS_POLICYD_DEFAULT_STORE  PS_CONF_DEFAULT_STORE
/* Connections: at most PS_POLICYD_MAX_CONNS, fewer when the descriptor
 * limit is lower (PS_POLICYD_FD_SPARE kept for the store, the log and the
 * signals). At the cap, a new connection replaces the idlest one. Postfix
 * sends its request as soon as it connects and closes a connection idle
 * for smtpd_policy_service_max_idle (300s): one that has sent no request
 * yet goes after PS_POLICYD_FRESH_SECS, others after PS_POLICYD_IDLE_SECS
 * (after Postfix's own close, which then never meets a closed socket). */
#define PS_POLICYD_MAX_CONNS  4096
#define PS_POLICYD_FD_SPARE   32
#define PS_POLICYD_FRESH_SECS 10
#define PS_POLICYD_IDLE_SECS  330
#define PS_POLICYD_ACCEPT_PAUSE_MS                                             \
    250 /* out of descriptors: accept again after */
#define PS_POLICYD_WRITE_SECS   60
#define PS_POLICYD_MAX_OUTPUT   (64 * 1024) /* unread replies: stop reading */
#define PS_POLICYD_STATS_SECS   60
#define PS_POLICYD_DRAIN_SECS   10
#define PS_POLICYD_NO_EOD_AFTER 10   /* messages seen at RCPT, none at EOD */
#define PS_POLICYD_REQ_POOL     64   /* spare requests kept for reuse */
#define PS_POLICYD_REPLY_BUF    1024 /* replies staged before a write */
#define PS_POLICYD_READ_BUF     4096 /* input read but not yet parsed */

/* What a reload may change; listen and store need a restart. */
typedef struct ps_pd_cfg {
    ps_conf *conf;
    ps_quota_rules *rules;
    const char *listen, *store, *over_quota, *store_down;
    char store_shown[PS_STORE_URL_SHOWN]; /* store, password masked */
    int warn_at;
} ps_pd_cfg;

typedef struct ps_pd_stats {
    unsigned long requests, charged, over, store_down, malformed, exempt;
    /* connections closed: by their timeouts, to make room for new ones;
     * accept(2) failures (out of descriptors or memory) */
    unsigned long timed_out, evicted, accept_failed;
} ps_pd_stats;

typedef struct ps_conn ps_conn;
typedef struct ps_request ps_request;

/* metrics.c: the Prometheus families ([policyd] metrics). */
typedef enum ps_pdm_state { /* protocol_state, as requests_total labels it */
                            PS_PDM_CONNECT,
                            PS_PDM_EHLO,
                            PS_PDM_HELO,
                            PS_PDM_MAIL,
                            PS_PDM_RCPT,
                            PS_PDM_DATA,
                            PS_PDM_VRFY,
                            PS_PDM_ETRN,
                            PS_PDM_EOM,
                            PS_PDM_OTHER,
                            PS_PDM_MALFORMED,
                            PS_PDM_NSTATES
} ps_pdm_state;

typedef struct ps_pd_metrics {
    ps_metrics *reg;
    ps_metric *requests, *answers, *charged, *over, *warnings, *store_ops,
        *store_seconds, *store_down, *conns_open, *conns_refused, *reloads,
        *suppressed, *supp_added;
    int fd; /* bound before the privilege drop, served once the loop runs */
    struct ps_metrics_http *http;
} ps_pd_metrics;

/* The attributes a request is decided on, found in one pass (request.c). */
enum {
    PS_ATTR_STATE,
    PS_ATTR_INSTANCE,
    PS_ATTR_SASL,
    PS_ATTR_SENDER,
    PS_ATTR_CLIENT,
    PS_ATTR_RCPT_COUNT,
    PS_ATTR_SIZE,
    PS_ATTR_RECIPIENT, /* the suppression list's (suppress.c) */
    PS_ATTR_N
};

typedef struct ps_pd {
    struct event_base *base;
    ps_log *lg;
    const char *conf_path;
    ps_pd_cfg *cfg;
    ps_store *store;
    struct evconnlistener *listener;
    ps_conn *conns, *conns_tail; /* doubly linked, last active first */
    ps_conn *fresh, *fresh_tail; /* those with no request yet, newest first */
    unsigned nconns, max_conns;
    int accept_paused;   /* out of descriptors: a timer resumes */
    int pressure_warned; /* connection_limit logged this minute */
    int draining;
    ps_pd_stats stats;
    int eod_seen, eod_warned;
    unsigned long rcpt_messages; /* instances seen at RCPT, for the above */
    int store_was_down;
    struct event *timer, *signals[4];
    ps_request *spare; /* finished requests, for the next ones */
    unsigned nspare;
    ps_pd_metrics m;
    struct ps_evf *events; /* [events] maillog follower, or NULL */
    struct ps_whs *whsend; /* [endpoint] webhook sender, or NULL */
} ps_pd;

/* snprintf(dst, size, "%s", src) without the format machinery: instance
 * names are copied two or three times per request. size > 0. */
static inline void ps_pd_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* cfg.c */
/* check: run the whole-file check (check/check.h) first; 0 only for the
 * -Q counter commands, which need the store and nothing else. */
int ps_pd_cfg_load(const char *path, int check, ps_pd_cfg **out, ps_err *err);
void ps_pd_cfg_free(ps_pd_cfg *cfg);
/* At start: 0 the store answers, 1 not yet (err: a warning; the daemon
 * starts and retries), -1 it refuses these settings (err: why, as
 * "FILE:LINE: store SHOWN: reason"; the daemon does not start). */
int ps_pd_cfg_probe_store(const ps_pd_cfg *cfg, ps_err *err);
/* The main.cf lines that make every configured limit enforceable. */
void ps_pd_cfg_guidance(const ps_pd_cfg *cfg, FILE *fp);

/* server.c */
/* A unix socket gets plan's owner, group and mode (conf's privdrop plan). */
int ps_server_listen(ps_pd *pd, const char *listen, const ps_priv_plan *plan,
                     ps_err *err);
void ps_server_drain(ps_pd *pd);

/* The layers, each calling only the ones below it:
 *   main.c -> server.c -> conn.c -> request.c -> reply.c, the store
 * conn.c owns the socket and a ps_session; request.c and reply.c see only
 * the session. A request is answered at once (the answer is in the
 * session when ps_request_handle returns) or later, when the store
 * answers: then the session's one callback tells the connection. */

/* request.c and reply.c: what the requests of one connection share. */
#define PS_POLICYD_ANSWER_MAX 820 /* "action=" ACTION " " TEXT "\n\n" */
typedef struct ps_session {
    ps_pd *pd;
    ps_policy_parser parser;
    char peer[64];
    char instance[64];           /* the message the RCPTs below belong to */
    uint64_t pending_rcpts;      /* recipients let through at RCPT so far */
    char charged[64];            /* the message last charged */
    const char *attr[PS_ATTR_N]; /* of the request being handled, in parser */
    ps_request *req;             /* the one at the store, if pending */
    /* The answer to the request just handled, for the connection to send. */
    size_t answer_len;
    char answer[PS_POLICYD_ANSWER_MAX];
    /* Called with ctx once the answer of a pending request is in answer;
     * only from the store's later completion, never from inside
     * ps_request_handle: the connection is not pumping when it comes. */
    void (*answered)(void *ctx);
    void *ctx;
    int over_kind; /* 1 + the ps_quota_kind of an over_quota answer */
} ps_session;

typedef enum {
    PS_REQUEST_ANSWERED, /* the answer is in the session now */
    PS_REQUEST_PENDING   /* at the store: session->answered comes later */
} ps_request_status;

/* request.c: a request on its way to the store and back. */
struct ps_request {
    ps_session *s; /* NULL once the connection is gone */
    ps_request *next_spare;
    ps_quota_target targets[PS_QUOTA_NKINDS];
    size_t ntargets;
    int stage_eod, stage_rcpt;
    char instance[64];
    uint64_t asked_ns; /* when the store was asked (metrics) */
    unsigned char kinds[PS_STORE_MAX_ITEMS]; /* each item's ps_quota_kind */
    ps_supp_entry supp; /* RCPT: the recipient's suppression (suppress.c) */
    ps_store_query q;   /* last: its big arrays are not cleared on reuse */
};
/* The parser of s holds a whole request (or its error). */
ps_request_status ps_request_handle(ps_session *s);
/* The connection of s is going: a request of it still at the store
 * finishes without it. */
void ps_request_orphan(ps_session *s);
/* At exit: frees the spare requests. */
void ps_request_spares_free(ps_pd *pd);
/* r done with (kept for reuse); pd NULL: the daemon is going. */
void ps_request_free(ps_pd *pd, ps_request *r);
/* The quota part of a request, once the suppression list let it by. */
ps_request_status ps_request_quota(ps_session *s, ps_request *r);

/* suppress.c: the suppression list ([suppression], quota/supp.h). */
/* RCPT: the recipient's entry asked for first: the request's status, or
 * -1 when there is nothing to ask (go on with the quotas). */
int ps_suppress_ask(ps_session *s, ps_request *r);
/* The events follower saw an event: a permanent failure adds an entry. */
struct ps_event;
void ps_suppress_on_event(void *pd, const struct ps_event *ev);
/* suppress_events.c: the suppressed event of an entry a failure (cause)
 * added, in the follower's batch; suppression_rejected for a RCPT refused
 * (text: the reply); suppressed for `postseal suppression add` (0, or -1
 * with err). Each only with [events] dir. */
void ps_suppress_event_added(ps_pd *pd, const struct ps_event *cause,
                             const ps_supp_entry *e);
void ps_suppress_event_rejected(ps_pd *pd, const char *instance,
                                const char *sasl, const char *sender,
                                const char *client, const ps_supp_entry *e,
                                const char *text);
int ps_suppress_event_admin(const ps_conf *conf, const ps_supp_entry *e,
                            ps_err *err);
/* quota_events.c: a limit_approaching or limit_exceeded event (a
 * ps_event_kind) for the counter owner's window w into the [events]
 * spool, when [events] dir is set. now_ms: the store's clock. */
void ps_qev_note(ps_pd *pd, int kind, const char *owner,
                 const ps_quota_window *w, uint64_t used, uint64_t now_ms);
/* -S list|add|remove: the exit code of `postseal suppression`. */
int ps_suppress_admin(const ps_pd_cfg *cfg, const char *verb, const char *rcpt,
                      const char *who);

/* reply.c: "action=ACTION[ TEXT]" into s->answer, and the log line of
 * the decision. */
void ps_reply_send(ps_session *s, const char *action, const char *text);
/* ok: the store's answer (0, or -1: down). */
void ps_reply_done(ps_request *r, int ok);

/* conn.c */
struct ps_conn {
    ps_pd *pd;
    evutil_socket_t fd;
    struct event *rd;       /* readable, with the idle timeout */
    struct event *wr;       /* writable, with the write timeout */
    int reading, writing;   /* rd, wr added */
    struct evbuffer *out;   /* replies the socket did not take yet */
    int fresh;              /* no request read yet (on pd->fresh) */
    int busy;               /* a request is with the store */
    int eof;                /* no more input: close once answered */
    int dead;               /* the socket failed: no more I/O at all */
    ps_conn *prev, *next;   /* on pd->conns */
    ps_conn *fprev, *fnext; /* on pd->fresh while fresh */
    ps_session s;           /* all that request.c and reply.c see of c */
    /* Replies not yet handed to the socket: written at the end of each
     * pump in one send, or queued behind output already waiting. */
    size_t reply_len;
    char reply[PS_POLICYD_REPLY_BUF];
    size_t in_off, in_len; /* in[in_off..in_len) is still to parse */
    char in[PS_POLICYD_READ_BUF];
};
_Static_assert(PS_POLICYD_REPLY_BUF >= PS_POLICYD_ANSWER_MAX,
               "an answer fits in the staging buffer");
void ps_conn_new(ps_pd *pd, evutil_socket_t fd, const char *peer);
/* Closes the idlest connection (one with no request yet first, never one
 * whose request is at the store) to make room; 0 if none could go. */
int ps_conn_evict(ps_pd *pd);
void ps_conn_close_idle(ps_conn *c);
/* At exit: frees c now; a request still at the store is orphaned. */
void ps_conn_destroy(ps_conn *c);

int ps_pdm_init(ps_pd_metrics *m, ps_err *err);
void ps_pdm_free(ps_pd_metrics *m);
/* Binds [policyd] metrics, if set, before the privilege drop. */
int ps_pdm_listen(ps_pd *pd, const ps_priv_plan *plan, ps_err *err);
/* Serves it on pd->base (after the fork to the background). */
int ps_pdm_serve(ps_pd *pd, ps_err *err);
ps_pdm_state ps_pdm_state_of(const char *state);
/* kind: a ps_quota_kind, or -1 for an answer no limit decided. */
void ps_pdm_answer(ps_pd *pd, const char *action, int kind);
uint64_t ps_pdm_now(void); /* monotonic ns */
void ps_pdm_store_op(ps_pd *pd, uint64_t asked_ns, int ok);

/* admin.c: -Q show|reset; the exit code of `postseal quota`. */
int ps_admin_run(const ps_pd_cfg *cfg, int reset, const char *key);

/* stats.c */
int ps_stats_start(ps_pd *pd);
/* Connections are being evicted or refused: logged at once the first
 * time, then with counts once a minute while it lasts. */
void ps_stats_pressure(ps_pd *pd, const char *reason);
void ps_stats_note_rcpt(ps_pd *pd);

#endif
