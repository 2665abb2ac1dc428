/* Accepted-message records ([events] dir): at end of a message it signs,
 * the milter appends and fsyncs one record (queue id, Message-ID, sender,
 * credential or client, recipients) before the MTA hears "accepted", and
 * one per bounced recipient it recognises; postseal-policyd joins
 * Postfix's delivery lines to them (shared/mail/msgrec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/msgrec.h"
#include "mail/sent.h"
#include "milter.h"

#define PS_ACC_DIR_MAX 4096

/* "<a@b>" as a@b; anything else as given. */
static char *ps_acc_bare(const char *arg)
{
    size_t n = strlen(arg);

    if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>')
        return strndup(arg + 1, n - 2);
    return strdup(arg);
}

int ps_acc_note_rcpt(ps_session *c, const char *arg, ps_err *err)
{
    ps_msg *m = &c->msg;
    char **p, *bare;

    if (c->snap->conf->events.dir.value == NULL ||
        m->nrcpts >= PS_MSGREC_MAX_RCPT)
        return 0;
    if ((bare = ps_acc_bare(arg)) == NULL ||
        (p = reallocarray(m->rcpts, m->nrcpts + 1, sizeof(*p))) == NULL) {
        free(bare);
        return ps_err_set(err, "out of memory");
    }
    m->rcpts = p;
    m->rcpts[m->nrcpts++] = bare;
    return 0;
}

static int ps_acc_append(const ps_session *c, const ps_msgrec *rec, ps_err *err)
{
    char dir[PS_ACC_DIR_MAX];
    ps_record line = {0};
    int rc;

    if (ps_msgrec_dir(c->snap->conf->events.dir.value, dir, sizeof(dir), err) !=
        0)
        return -1;
    ps_msgrec_format(rec, &line);
    if (line.oom) {
        ps_record_free(&line);
        return ps_err_set(err, "out of memory");
    }
    rc = ps_sent_record(dir, rec->when, (unsigned)c->snap->conf->events.max_age,
                        PS_MSGREC_NAME, line.p, line.n, err);
    ps_record_free(&line);
    return rc;
}

/* The Message-ID field's value without its surrounding space. */
static void ps_acc_msgid(const ps_msg *m, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < m->nhdrs; i++) {
        const char *v = m->hdrs[i].value;
        size_t n;
        if (strcasecmp(m->hdrs[i].name, "Message-ID") != 0)
            continue;
        v += strspn(v, " \t\r\n");
        for (n = strlen(v); n > 0 && strchr(" \t\r\n", v[n - 1]); n--)
            ;
        snprintf(out, cap, "%.*s", (int)n, v);
        return;
    }
}

int ps_acc_record(const ps_session *c, ps_err *err)
{
    const ps_msg *m = &c->msg;
    char msgid[1000], *sender;
    int rc;

    if (c->snap->conf->events.dir.value == NULL || m->action != PS_ACT_SIGN)
        return 0;
    if ((sender = ps_acc_bare(m->envfrom)) == NULL)
        return ps_err_set(err, "out of memory");
    ps_acc_msgid(m, msgid, sizeof(msgid));
    ps_msgrec rec = {.type = PS_MSGREC_ACCEPTED,
                     .when = time(NULL),
                     .qid = m->qid,
                     .msgid = msgid,
                     .sender = sender,
                     .auth = m->auth,
                     .client = c->addr,
                     .rcpts = (const char **)m->rcpts,
                     .nrcpts = m->nrcpts};
    rc = ps_acc_append(c, &rec, err);
    free(sender);
    return rc;
}

int ps_acc_bounce(const ps_session *c, const ps_dsn_rcpt *r, ps_err *err)
{
    const char *rcpt = r->recipient;

    if (c->snap->conf->events.dir.value == NULL)
        return 0;
    ps_msgrec rec = {.type = PS_MSGREC_BOUNCE,
                     .when = time(NULL),
                     .qid = c->msg.bounce_ref,
                     .rcpts = &rcpt,
                     .nrcpts = 1,
                     .status = r->status,
                     .diagnostic = r->diagnostic,
                     .action = r->action};
    return ps_acc_append(c, &rec, err);
}
