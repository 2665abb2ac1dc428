/* postseal-milter's internal interfaces: the configuration snapshot every
 * connection holds, the per-connection and per-message state, and the
 * sign, verify, SPF and DNS pieces the libmilter callbacks drive. */
#ifndef PS_MILTER_H
#define PS_MILTER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "arc/arc_seal.h"
#include "mail/authres.h"
#include "mail/dsn.h"
#include "base/cidr.h"
#include "conf/conf.h"
#include "dkim/dkim.h"
#include "arc/arc.h"
#include "dmarc/dmarc.h"
#include "base/err.h"
#include "crypto/hmac.h"
#include "crypto/secrets.h"
#include "base/log.h"
#include "base/privdrop.h"
#include "mail/mailbox.h"
#include "mail/record.h"
#include "mail/retpath.h"
#include "signing/signrules.h"

#define PS_MILTER_NAME "postseal-milter"
#define PS_MILTER_MAX_HEADERS                                                  \
    PS_DKIM_MAX_HEADERS                     /* fields kept per message         \
                                             */
#define PS_MILTER_MAX_HDRSIZE (1024 * 1024) /* their bytes, in all */
#define PS_MILTER_MAX_VERIFY                                                   \
    PS_CONF_MAX_VERIFY_LIMIT     /* ceiling of [milter] max_verify */
#define PS_MILTER_DRAIN_SECS  60 /* SIGTERM: how long open messages may take */
#define PS_MILTER_DNS_TIMEOUT 3  /* seconds per DNS try (two tries) */
/* All of one message's ARC key lookups share this many seconds: past it
 * a lookup is not sent and counts as unanswered (temperror). */
#define PS_MILTER_ARC_DNS_DEADLINE 10

/* ---- dnsq.c: raw DNS queries to the configured resolver ---------------- */

typedef struct ps_dnsq {
    int system; /* no resolver set: /etc/resolv.conf through res_nsend */
    struct sockaddr_storage server;
    socklen_t server_len;
    int timeout_ms; /* per try */
    int tries;
} ps_dnsq;

/* resolver: NULL, "IP", "IP:PORT", "IPv6" or "[IPv6]:PORT". */
int ps_dnsq_init(ps_dnsq *q, const char *resolver, ps_err *err);
/* One class IN query; the reply's length whatever its rcode (NXDOMAIN is
 * an answer), or -1 on timeout, network error or a reply that does not
 * answer the question. */
int ps_dnsq_query(const ps_dnsq *q, const char *name, int type,
                  unsigned char *ans, size_t anslen);

/* ---- snapshot.c: one loaded configuration, swapped on SIGHUP ----------- */

typedef struct ps_snap {
    ps_conf *conf;
    ps_signrules *rules;
    ps_cidr_list internal;
    ps_dkim_params params;
    int mode; /* PS_MODE_* */
    char authserv_id[PS_AUTHRES_ID_MAX + 1];
    int max_verify;
    ps_dnsq dns;
    void *dkimlib;   /* DKIM_LIB *, verification only */
    void *spfserver; /* SPF_server_t * */
    void *spfdns;    /* its DNS layer, which libspf2 leaves to us to free */
    ps_secrets *rp_secrets;     /* [return_path] secret_file, or NULL */
    ps_secrets *srs_secrets;    /* srs_secret_file when srs_domain is set */
    ps_dmarc_psl *psl;          /* [milter] dmarc in verify mode, or NULL */
    ps_cidr_list dmarc_trusted; /* dmarc_trusted_forwarders */
    ps_dkim_signer arc_signer;  /* arc_seal_key; key NULL: no sealing */
    int refs;                   /* guarded by the snapshot lock */
} ps_snap;

/* Loads and checks everything the file names (keys, tables, lists) into a
 * new snapshot; nothing is published. */
int ps_snap_load(const char *path, ps_snap **out, ps_err *err);
void ps_snap_free(ps_snap *s);
/* Makes s the one new connections get (the old one is freed once its last
 * connection lets go). */
void ps_snap_publish(ps_snap *s);
/* Drops the current snapshot (at exit, once no connection is left). */
void ps_snap_shutdown(void);
/* A reference to the current snapshot, or NULL before the first publish. */
ps_snap *ps_snap_acquire(void);
void ps_snap_release(ps_snap *s);

/* ---- verify.c and spf.c: inbound checks -------------------------------- */

int ps_verify_lib_init(ps_snap *s, ps_err *err);
void ps_verify_lib_free(ps_snap *s);

typedef struct ps_verify ps_verify;
ps_verify *ps_verify_new(const ps_snap *s, const char *qid, ps_err *err);
/* Header fields as the MTA has them (value after the colon). */
int ps_verify_header(ps_verify *v, const char *name, const char *value);
int ps_verify_eoh(ps_verify *v);
int ps_verify_body(ps_verify *v, const unsigned char *data, size_t n);
/* Ends the message and appends one dkim result per signature checked (or
 * dkim=none) to res; the results point into v until ps_verify_free.
 * Returns -1 only on an internal failure. */
int ps_verify_final(ps_verify *v, ps_authres_result *res, size_t max, size_t *n,
                    ps_err *err);
void ps_verify_free(ps_verify *v);

int ps_spf_init(ps_snap *s, ps_err *err);
void ps_spf_free(ps_snap *s);

typedef struct ps_spf_result {
    char result[16];   /* pass, fail, softfail, neutral, none, ... */
    char property[16]; /* "smtp.mailfrom", or "smtp.helo" for <> */
    char value[PS_MAILBOX_LOCAL_MAX + PS_MAILBOX_DOMAIN_MAX + 2];
} ps_spf_result;

/* The SPF verdict for a client address, HELO name and envelope sender
 * ("" for the null sender). DNS trouble is a result (temperror), never a
 * failure of the call. */
void ps_spf_check(const ps_snap *s, const char *addr, const char *helo,
                  const char *mailfrom, ps_spf_result *out);

/* ---- dmarc.c: DMARC evaluation and enforcement -------------------------- */

/* What end of message does about DMARC, decided with the result. */
typedef enum ps_dmarc_action {
    PS_DMARC_ACT_ACCEPT,  /* delivered as it is */
    PS_DMARC_ACT_REJECT,  /* 550 5.7.1 */
    PS_DMARC_ACT_HOLD,    /* Postfix's hold queue */
    PS_DMARC_ACT_HEADER,  /* delivered with the quarantine header */
    PS_DMARC_ACT_TEMPFAIL /* 451: ARC could not say whether to override */
} ps_dmarc_action;

typedef struct ps_dmarc_outcome {
    ps_dmarc_action action;
    char domain[PS_MAILBOX_DOMAIN_MAX + 1]; /* header.from */
    char why[160];                          /* reason= of the result */
    char text[PS_MAILBOX_DOMAIN_MAX + 96];  /* reply or header text */
} ps_dmarc_outcome;

/* ---- arc.c: ARC chain validation in verify mode ------------------------ */

typedef struct ps_arc_msg {
    ps_arc_verify *v; /* NULL: ARC not checked for this message */
    ps_arc_outcome out;
    unsigned vouch; /* the trusted instance that lets DMARC off, or 0 */
    char sealer[PS_ARC_DOMAIN_MAX + 1]; /* its d= */
    char oldest[12];                    /* header.oldest-pass, as text */
} ps_arc_msg;

/* ---- msg.c: what is kept of a connection and of its current message ---- */

typedef struct ps_hdr {
    char *name;
    char *value; /* exactly as the MTA gave it: leading space, LF folding */
    int forged;  /* an Authentication-Results claiming our authserv-id */
    int index;   /* 1-based among fields of this name (smfi_chgheader) */
} ps_hdr;

typedef enum ps_action { PS_ACT_NONE, PS_ACT_SIGN, PS_ACT_VERIFY } ps_action;

/* What a first pass of this milter said of a re-injected message. */
typedef enum ps_trace_verdict {
    PS_TRACE_NONE,      /* no trace field we believe: decide as usual */
    PS_TRACE_INBOUND,   /* judged from outside: not signed */
    PS_TRACE_SIGNED,    /* signed then: not again */
    PS_TRACE_UNVERIFIED /* a field that does not verify: not signed */
} ps_trace_verdict;

/* A recipient on our SRS domain, replaced at end of message by the address
 * it reverses to. */
typedef struct ps_rcpt_swap {
    char *given;    /* the RCPT TO argument as received */
    char *original; /* what it reverses to */
} ps_rcpt_swap;

typedef struct ps_msg {
    char qid[32];
    char *envfrom; /* MAIL FROM argument as given ("<a@b>") */
    char *auth;    /* {auth_authen}, or NULL */
    ps_hdr *hdrs;
    size_t nhdrs, cap, hdr_bytes;
    int overflow; /* more fields or bytes than kept */
    /* A step that sends no reply (header, end of headers, body)
     * failed or refused the message: it gets that answer at end of
     * message, the one step that always answers. failed: a temporary
     * failure; refuse_code, if set, the reply to give with it (a 5xx
     * code makes it a rejection). */
    int failed;
    const char *refuse_code, *refuse_xcode, *refuse_text;
    ps_action action;
    ps_trace_verdict trace; /* set at end of headers */
    ps_signrules_match match;
    ps_dkim_sign *signer;
    ps_verify *verify;
    ps_arc_sealer *sealer; /* this message gets an ARC set */
    char *authres;         /* the Authentication-Results value we added */
    int remote_rcpt;       /* a recipient whose transport is not a local one */
    ps_rcpt_swap *swaps;
    size_t nswaps;
    /* Outbound mail that may get a return path: one recipient record
     * line (mail/sent.h) per recipient, written when it does. */
    char *sent;
    size_t sent_len, sent_cap;
    /* [events] dir set: the recipients as given, for the accepted-message
     * record (accepted.c). */
    char **rcpts;
    size_t nrcpts;
    /* A bounce: the reference of the first valid return path among the
     * recipients, and the message as the DSN parser will read it. */
    char bounce_ref[PS_RETPATH_REF_MAX + 1];
    time_t bounce_issued;   /* the day its token was made */
    uint64_t started_ns;    /* MAIL FROM, for the duration histogram */
    ps_dmarc_outcome dmarc; /* set by ps_dmarc_check */
    /* [milter] dmarc_history: the message's record, written at end of
     * message unless the answer is a temporary failure (the retry is
     * evaluated again and recorded then). */
    ps_record dmhist;
    time_t dmhist_when;
    ps_arc_msg arc; /* set by ps_arc_start .. ps_arc_check */
    char *bounce;
    size_t bounce_len;
} ps_msg;

typedef struct ps_session {
    ps_snap *snap;
    char addr[INET6_ADDRSTRLEN + 8]; /* "" when the MTA gave none */
    /* Logged as session= on each line of the connection, so lines from
     * before Postfix gave a queue id (RCPT) join the message's later ones. */
    char sid[20];
    int has_sockaddr;
    struct sockaddr_storage sa;
    char host[256];
    char helo[256];
    ps_msg msg;
} ps_session;

int ps_msg_start(ps_msg *m, const char *envfrom, const char *auth,
                 const char *qid);
/* Keeps a header field; 0, or -1 when out of memory. Beyond the limits the
 * field is dropped and m->overflow set. */
int ps_msg_add_header(ps_msg *m, const char *name, const char *value);
void ps_msg_reset(ps_msg *m);

/* ---- sign_policy.c: whether and with what keys to sign ----------------- */

/* Why a message is (not) signed: decided here, acted on by value, and
 * written to the log as the word ps_signpolicy_reason_word gives. */
typedef enum ps_reason {
    PS_WHY_AUTHENTICATED,
    PS_WHY_INTERNAL,
    PS_WHY_VERIFY_ONLY,
    PS_WHY_NOT_OUTBOUND,
    PS_WHY_TOO_MANY_HEADERS,
    PS_WHY_FROM_REPEATED,
    PS_WHY_NO_FROM,
    PS_WHY_FROM_UNPARSABLE,
    PS_WHY_NO_SIGNING_RULE,
    PS_WHY_REINJECTED_SIGNED,
    PS_WHY_REINJECTED_INBOUND,
    PS_WHY_TRACE_UNVERIFIED,
    PS_WHY_NREASONS
} ps_reason;

typedef struct ps_decision {
    ps_action action;
    ps_reason reason;
    char detail[128]; /* e.g. why the From field did not parse */
    ps_mailbox from;
} ps_decision;

/* Decides at end of headers: sign (m->match filled), verify, or neither,
 * with the reason. */
void ps_signpolicy_decide(const ps_session *c, ps_msg *m, ps_decision *d);
/* The fixed word the log uses for a reason ("too-many-headers"). */
const char *ps_signpolicy_reason_word(ps_reason r);
/* 1 for a client we sign for: authenticated, or in internal_hosts. */
int ps_signpolicy_outbound(const ps_session *c, const ps_msg *m);
/* 1 when domain is one of ours: a signing rule, a rewrite pattern, the
 * return-path or the SRS domain. */
int ps_signpolicy_our_domain(const ps_snap *s, const char *domain);

/* ---- dmarc.c, continued ------------------------------------------------ */

/* Loads the Public Suffix List and dmarc_trusted_forwarders into a
 * snapshot when [milter] dmarc is on in verify mode; ps_dmarc_snap_free
 * releases them. */
int ps_dmarc_snap_init(ps_snap *s, ps_err *err);
void ps_dmarc_snap_free(ps_snap *s);

/* Evaluates DMARC for the message from the dkim results res[0..n) and
 * the SPF verdict, fills *out (pointing into c->msg.dmarc) and decides
 * what ps_dmarc_enforce does. 1 when *out was filled, 0 when DMARC is
 * off. Logs the decision and its reason. */
int ps_dmarc_check(ps_session *c, const ps_authres_result *res, size_t n,
                   const ps_spf_result *spf, ps_authres_result *out);

/* At end of message, after our Authentication-Results: 1 when the
 * message is refused (reply set on ctx), 0 when it goes on (held or
 * marked as decided), 2 when it is to be tempfailed (the reply is set:
 * PS_DMARC_ACT_TEMPFAIL), -1 when the MTA refused a change. */
int ps_dmarc_enforce(void *ctx, ps_session *c);
/* The TXT lookup both DMARC and ARC make through the snapshot's resolver
 * (arg: its ps_dnsq). */
int ps_dmarc_txt(void *arg, const char *name, ps_dns_answer *ans);

/* ---- arc.c, continued --------------------------------------------------- */

/* At end of headers in verify mode ([milter] arc = yes): every field
 * kept goes to the core's verifier. -1 only when out of memory. */
int ps_arc_start(ps_session *c, ps_err *err);
void ps_arc_body(ps_session *c, const unsigned char *data, size_t n);
/* Validates the chain, decides whether a trusted sealer vouches, logs,
 * and fills *out with arc=pass|fail|none: 1 when filled, 0 when ARC was
 * not checked. Before ps_dmarc_check, which reads c->msg.arc. */
int ps_arc_check(ps_session *c, ps_authres_result *out);
/* 1 when the chain could not be checked (a key lookup got no answer)
 * and yet some instance is sealed by a trusted sealer whose AAR says
 * dmarc=pass: enforcing a DMARC failure now might refuse what a retry
 * would let through. */
int ps_arc_may_vouch(const ps_session *c);
/* After ps_arc_check: the chain's result (a ps_arc_result) when this
 * message was validated, -1 when it was not (not verify mode, arc = no).
 * For an ARC sealer's cv=: pass, none, and fail for fail and temperror. */
int ps_arc_chain_result(const ps_session *c);
void ps_arc_msg_free(ps_arc_msg *a);

/* ---- dmarc_history.c: [milter] dmarc_history --------------------------- */

/* Keeps the message's record for aggregate reports in c->msg.dmhist when
 * dmarc_history is set and a policy was found. */
void ps_dmarc_history_note(ps_session *c, const ps_authres_result *res,
                           size_t n, const ps_spf_result *spf,
                           const ps_dmarc_policy_found *found,
                           const ps_dmarc_verdict *v);
/* Writes the kept record, if any; a failure is logged, never returned:
 * the message goes on without its report line. */
void ps_dmarc_history_write(const ps_session *c);

/* ---- sign.c / arhdr.c: the libmilter side of each outcome -------------- */

int ps_sign_start(ps_session *c, ps_err *err);
int ps_sign_body(ps_session *c, const unsigned char *data, size_t n,
                 ps_err *err);
/* Makes the signatures and adds their fields through libmilter. */
int ps_sign_finish(void *ctx, ps_session *c, ps_err *err);

/* Marks the Authentication-Results fields claiming our authserv-id. */
void ps_arhdr_mark_forged(ps_session *c);
/* Removes the marked fields (those and trace fields from outside) through
 * libmilter; -1 if the MTA refused. */
int ps_arhdr_remove_forged(void *ctx, ps_session *c);
/* Ends verification, checks SPF and adds our field; -1 on failure. */
int ps_arhdr_add(void *ctx, ps_session *c, ps_err *err);

/* A header value in the form smfi_insheader wants: CRLF folding turned
 * into LF, since the MTA adds its own line ends. Malloc'd. */
char *ps_milter_lf(const char *value);

/* ---- trace.c: re-injection through a second smtpd --------------------- */

#define PS_TRACE_NAME "Postseal-Trace"

/* At end of headers, after ps_arhdr_mark_forged: from a client we sign
 * for, the first trace field that verifies sets m->trace (and its bound
 * Authentication-Results is no longer marked forged); one that does not
 * verify sets PS_TRACE_UNVERIFIED. From any other client trace fields are
 * marked forged, to be removed. */
void ps_trace_check(ps_session *c);
/* Adds our trace field for verdict v, bound to the value of the field we
 * added (NULL or "" when none). */
int ps_trace_add(void *ctx, ps_trace_verdict v, const char *bound, ps_err *err);
/* The decision's reason word for a trace verdict, NULL for none. */
ps_reason ps_trace_reason(ps_trace_verdict v);

/* ---- retpath.c: bounces to the return-path domain --------------------- */

/* Loads the [return_path] secrets, for return paths and for SRS, each when
 * its domain is set; ps_rp_free wipes them. */
int ps_rp_load(ps_snap *s, ps_err *err);
void ps_rp_free(ps_snap *s);
/* 1 when arg (RCPT TO argument) is on the return-path domain without a
 * valid, unexpired token: the 550 reply is set on ctx; else 0. */
int ps_rp_rcpt(void *ctx, ps_session *c, const char *arg);
/* At RCPT, for outbound mail when bounces are recorded: notes the
 * recipient for the message's recipient record; -1 on failure. */
int ps_rp_note_rcpt(ps_session *c, const char *arg, ps_err *err);
/* The recipient records' directory into out: 1, or 0 when no events file
 * is set (bounces are then only logged), -1 with err. */
int ps_rp_sent_dir(const ps_snap *s, char *out, size_t cap, ps_err *err);
/* The bounce domain of the best [return_path] rewrite pattern for a sender
 * domain, or NULL when none matches. */
const char *ps_rp_bounce_domain_for(const ps_snap *s, const char *domain);
/* 1 for [return_path] domain and every bounce domain a rewrite item names. */
int ps_rp_is_bounce_domain(const ps_snap *s, const char *domain);
/* At end of message: replaces the envelope sender of outbound mail from a
 * rewrite domain with a signed return path. 1 when it did, 0 when the
 * message is not one for it, -1 with err on failure. */
int ps_rp_rewrite(void *ctx, ps_session *c, ps_err *err);

/* ---- bounce.c: bounces to a valid return path become events ------------ */

/* Keeps the header fields (at end of headers; -1 when out of memory) and
 * then the body, up to PS_DSN_SCAN_MAX bytes, of a message with a
 * bounce_ref. */
int ps_bounce_start(ps_msg *m);
void ps_bounce_body(ps_msg *m, const unsigned char *data, size_t n);
/* Parses the kept bounce and writes one event per bounced recipient;
 * *discard is set when the bounce should not be delivered. -1 with err
 * when an event could not be written (the MTA then keeps the mail). */
int ps_bounce_finish(const ps_session *c, int *discard, ps_err *err);

/* ---- accepted.c: accepted-message records for the event follower ------ */

/* At RCPT, with [events] dir set: notes the recipient; -1 on no memory. */
int ps_acc_note_rcpt(ps_session *c, const char *arg, ps_err *err);
/* At end of a message it signs: its record, durable before the MTA is
 * answered; 0 when [events] dir is not set. */
int ps_acc_record(const ps_session *c, ps_err *err);
/* A bounced recipient the milter recognised, for the same follower. */
int ps_acc_bounce(const ps_session *c, const ps_dsn_rcpt *r, ps_err *err);

/* ---- forward.c: SRS for forwarded mail and its bounces ------------------ */

/* At RCPT: notes whether the recipient is delivered here ({rcpt_mailer},
 * NULL when the MTA gave none) and checks an SRS address on our SRS
 * domain: 1 when refused (550 set on ctx), 0 when accepted, -1 out of
 * memory. */
int ps_fwd_rcpt(void *ctx, ps_session *c, const char *arg, const char *mailer);
/* At end of message: puts back the original recipients of SRS addresses,
 * and gives forwarded mail (sender not ours, a recipient not local) an SRS
 * sender unless rewritten says the return path was set already. */
int ps_fwd_finish(void *ctx, ps_session *c, int rewritten, ps_err *err);

/* 1 for mail the SRS path treats as forwarded: from outside, a sender
 * not ours, a recipient not delivered here. */
int ps_fwd_forwarded(const ps_session *c);

/* ---- arc_seal.c: ARC sets on mail this host passes on ------------------- */

/* The [milter] arc_seal_key into s->arc_signer (arc_seal not no). */
int ps_arcseal_snap_init(ps_snap *s, ps_err *err);
/* At end of headers: whether arc_seal wants this message sealed, and if
 * so the header fields (forged ones left out) go to a new sealer. A seal
 * is an addition: when one cannot be made it is logged and the message
 * goes on without it, never deferred for it. */
void ps_arcseal_start(ps_session *c);
void ps_arcseal_body(ps_session *c, const unsigned char *data, size_t n);
/* At end of message, after our Authentication-Results: the set goes on
 * top. */
void ps_arcseal_finish(void *ctx, ps_session *c);

/* ---- fdlimit.c: descriptor exhaustion ----------------------------------- */

/* Raises the soft descriptor limit to the hard one, logs what it got, and
 * keeps the reserve descriptor accept() sheds connections with. Called
 * once, before libmilter's threads start. */
void ps_fdlimit_init(void);

/* ---- callbacks.c -------------------------------------------------------- */

struct smfiDesc;
/* The callback table handed to smfi_register. */
struct smfiDesc *ps_callbacks(void);

/* ---- nodelay.c --------------------------------------------------------- */

/* After smfi_opensocket(): TCP_NODELAY on libmilter's TCP listener, which
 * its accepted connections inherit. The number of listeners set (0 on a
 * unix socket), or -1 (logged as a warning; the milter still works). */
int ps_milter_nodelay(void);

/* ---- metrics.c: [milter] metrics, Prometheus text --------------------- */

/* The steps a temporary failure comes from (tempfails_total{cause}, and
 * the log's stage=). */
typedef enum ps_stage {
    PS_STAGE_CONNECT,
    PS_STAGE_MAIL,
    PS_STAGE_RCPT,
    PS_STAGE_HEADER,
    PS_STAGE_BOUNCE,
    PS_STAGE_SIGN,
    PS_STAGE_VERIFY,
    PS_STAGE_EOM,
    PS_STAGE_AUTHRES,
    PS_STAGE_RETURN_PATH,
    PS_STAGE_SRS,
    PS_STAGE_TRACE,
    PS_STAGE_RESTARTING,
    PS_STAGE_DMARC,
    PS_STAGE_EVENTS,
    PS_STAGE_ARC, /* a DMARC failure a trusted sealer might vouch for, but
                   * the seal's key could not be looked up */
    PS_STAGE_N
} ps_stage;
const char *ps_stage_word(ps_stage s);

/* The families counted by enum; their series are the enums' values. */
typedef enum ps_mm_id {
    PS_MM_MESSAGES,        /* ps_action */
    PS_MM_UNSIGNED,        /* ps_reason */
    PS_MM_AUTHRES_REMOVED, /* 0 */
    PS_MM_RETPATH,         /* 0 */
    PS_MM_BOUNCES,         /* PS_MM_BOUNCE_* */
    PS_MM_SRS,             /* PS_MM_SRS_* */
    PS_MM_TEMPFAILS,       /* ps_stage */
    PS_MM_RELOADS,         /* ps_mm_reloaded */
    PS_MM_NIDS
} ps_mm_id;
enum { PS_MM_BOUNCE_RECORDED, PS_MM_BOUNCE_REFUSED };
enum { PS_MM_SRS_FORWARD, PS_MM_SRS_REVERSE };

/* Before any thread starts; without it every update is a no-op. */
int ps_mm_init(ps_err *err);
/* Binds [milter] metrics, if set, before the privilege drop. */
int ps_mm_listen(const ps_conf *conf, const ps_priv_plan *plan, ps_err *err);
/* Serves it on a thread of its own (after the fork to the background). */
int ps_mm_start(ps_err *err);
void ps_mm_stop(void);
void ps_mm_inc(ps_mm_id id, int series);
void ps_mm_add(ps_mm_id id, int series, uint64_t n);
void ps_mm_signed(const ps_signrules_match *m);
void ps_mm_authres(const ps_authres_result *res, size_t n);
void ps_mm_connections(int delta);
uint64_t ps_mm_now(void); /* monotonic ns */
void ps_mm_message_done(uint64_t started_ns);
void ps_mm_reloaded(int ok);

/* ---- state.c ----------------------------------------------------------- */

/* Set once by main() before any thread starts. */
void ps_milter_set_log(ps_log *lg);
ps_log *ps_milter_log(void);
/* Counts messages between MAIL FROM and their end, for the SIGTERM drain. */
void ps_milter_busy(int delta);
int ps_milter_in_flight(void);
/* After it, new connections and messages get a 4xx. */
void ps_milter_drain_begin(void);
/* 1 once SIGTERM came. */
int ps_milter_draining(void);

#endif
