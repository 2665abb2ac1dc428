/* Bounces that came back to a valid return path: the message is kept (up
 * to what the DSN parser reads), parsed at its end, and each bounced
 * recipient becomes one log line and one fsync'd JSON event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/dsn.h"
#include "mail/events.h"
#include "mail/sent.h"
#include "milter.h"

#define PS_BOUNCE_DIR_MAX 4096

/* Appends what still fits under PS_DSN_SCAN_MAX; the rest of a long
 * bounce (usually the returned message) is not needed to find the DSN. */
static void ps_bounce_append(ps_msg *m, const void *data, size_t n)
{
    size_t room = PS_DSN_SCAN_MAX - m->bounce_len;

    if (n > room)
        n = room;
    memcpy(m->bounce + m->bounce_len, data, n);
    m->bounce_len += n;
}

int ps_bounce_start(ps_msg *m)
{
    if (m->bounce_ref[0] == '\0')
        return 0;
    if ((m->bounce = malloc(PS_DSN_SCAN_MAX)) == NULL)
        return -1;
    m->bounce_len = 0;
    /* Values keep their leading space (SMFIP_HDR_LEADSPC) and LF folding;
     * the parser takes either line end. */
    for (size_t i = 0; i < m->nhdrs; i++) {
        ps_bounce_append(m, m->hdrs[i].name, strlen(m->hdrs[i].name));
        ps_bounce_append(m, ":", 1);
        ps_bounce_append(m, m->hdrs[i].value, strlen(m->hdrs[i].value));
        ps_bounce_append(m, "\r\n", 2);
    }
    ps_bounce_append(m, "\r\n", 2);
    return 0;
}

void ps_bounce_body(ps_msg *m, const unsigned char *data, size_t n)
{
    if (m->bounce != NULL)
        ps_bounce_append(m, data, n);
}

/* 1 when the bounced recipient is one the message was sent to (or no
 * events file is set, so nothing is recorded), 0 when not (logged), -1
 * with err when the records cannot be read. */
static int ps_bounce_was_sent(const ps_session *c, const ps_dsn_rcpt *r,
                              ps_err *err)
{
    char dir[PS_BOUNCE_DIR_MAX];
    int rc = ps_rp_sent_dir(c->snap, dir, sizeof(dir), err);

    if (rc <= 0)
        return rc < 0 ? -1 : 1;
    rc = ps_sent_lookup(dir, c->msg.bounce_issued, c->msg.bounce_ref,
                        c->snap->rp_secrets, r->recipient, err);
    if (rc == 0)
        ps_log_kv(ps_milter_log(), LOG_NOTICE, "bounce", "qid", c->msg.qid,
                  "ref", c->msg.bounce_ref, "recipient", r->recipient,
                  "verdict", "recipient-not-sent", "session", c->sid, NULL);
    return rc;
}

/* 1 when recorded, 0 when not (a recipient the message never had). */
static int ps_bounce_record(const ps_session *c, const ps_dsn *dsn,
                            const ps_dsn_rcpt *r, ps_err *err)
{
    const char *path = c->snap->conf->return_path.events.value;
    char line[PS_EVENT_LINE_MAX];
    ps_bounce_event ev = {time(NULL), c->msg.bounce_ref, dsn->source, r};
    int n = ps_bounce_was_sent(c, r, err);

    if (n <= 0)
        return n;
    ps_log_kv(ps_milter_log(), LOG_INFO, "bounce", "qid", c->msg.qid, "ref",
              c->msg.bounce_ref, "recipient", r->recipient, "action", r->action,
              "status", r->status[0] ? r->status : NULL, "source",
              ps_dsn_source_name(dsn->source), "diagnostic",
              r->diagnostic[0] ? r->diagnostic : NULL, "session", c->sid, NULL);
    if (ps_acc_bounce(c, r, err) != 0)
        return -1;
    if (path == NULL)
        return 1;
    if ((n = ps_events_format(&ev, line, sizeof(line), err)) < 0 ||
        ps_events_append(path, line, (size_t)n, err) != 0)
        return -1;
    return 1;
}

int ps_bounce_finish(const ps_session *c, int *discard, ps_err *err)
{
    const ps_msg *m = &c->msg;
    ps_dsn *dsn;
    ps_err why = {""};
    int recorded = 0;

    *discard = 0;
    if (m->bounce == NULL)
        return 0;
    if ((dsn = malloc(sizeof(*dsn))) == NULL)
        return ps_err_set(err, "out of memory");
    if (ps_dsn_parse(m->bounce, m->bounce_len, dsn, &why) != 0) {
        /* Not a bounce we can read (an auto-reply, say): delivered as it
         * is, so a person can still look at it. */
        ps_log_kv(ps_milter_log(), LOG_NOTICE, "bounce", "qid", m->qid, "ref",
                  m->bounce_ref, "verdict", "unrecognised", "reason", why.msg,
                  "session", c->sid, NULL);
        free(dsn);
        return 0;
    }
    for (size_t i = 0; i < dsn->n; i++) {
        int rc = ps_bounce_record(c, dsn, &dsn->rcpt[i], err);
        if (rc < 0) {
            free(dsn);
            return -1;
        }
        recorded += rc;
    }
    ps_mm_add(PS_MM_BOUNCES, PS_MM_BOUNCE_RECORDED, (uint64_t)recorded);
    free(dsn);
    /* A bounce naming only recipients never sent to is delivered, so a
     * person can look at it. */
    *discard = recorded > 0 && c->snap->conf->return_path.discard_bounces;
    return 0;
}
