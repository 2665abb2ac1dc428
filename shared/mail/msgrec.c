/* The milter's accepted-message and bounce records (msgrec.h): their line
 * format, written by the milter, read by postseal-policyd's follower. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/msgrec.h"

void ps_msgrec_format(const ps_msgrec *m, ps_record *r)
{
    char when[32];

    snprintf(when, sizeof(when), "%lld", (long long)m->when);
    ps_record_put(r, m->type == PS_MSGREC_ACCEPTED ? "A" : "B");
    ps_record_put(r, when);
    ps_record_put(r, m->qid);
    if (m->type == PS_MSGREC_BOUNCE) {
        ps_record_put(r, m->nrcpts > 0 ? m->rcpts[0] : "");
        ps_record_put(r, m->status);
        ps_record_put(r, m->diagnostic);
        ps_record_put(r, m->action);
    } else {
        ps_record_put(r, m->msgid);
        ps_record_put(r, m->sender);
        ps_record_put(r, m->auth);
        ps_record_put(r, m->client);
        for (size_t i = 0; i < m->nrcpts && i < PS_MSGREC_MAX_RCPT; i++)
            ps_record_put(r, m->rcpts[i]);
    }
    ps_record_end(r);
}

static int msgrec_time(const char *s, time_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = (time_t)v;
    return 0;
}

int ps_msgrec_parse(char *line, char **fields, ps_msgrec *m)
{
    int n = ps_record_split(line, fields, PS_MSGREC_FIELDS);

    memset(m, 0, sizeof(*m));
    if (n < 3 || msgrec_time(fields[1], &m->when) != 0 || fields[2][0] == '\0')
        return -1;
    m->qid = fields[2];
    if (strcmp(fields[0], "B") == 0 && n == 7) {
        m->type = PS_MSGREC_BOUNCE;
        m->rcpts = (const char **)&fields[3];
        m->nrcpts = 1;
        m->status = fields[4];
        m->diagnostic = fields[5];
        m->action = fields[6];
        return 0;
    }
    if (strcmp(fields[0], "A") != 0 || n < 7)
        return -1;
    m->type = PS_MSGREC_ACCEPTED;
    m->msgid = fields[3];
    m->sender = fields[4];
    m->auth = fields[5];
    m->client = fields[6];
    m->rcpts = (const char **)&fields[7];
    m->nrcpts = (size_t)n - 7;
    return 0;
}

int ps_msgrec_dir(const char *events_dir, char *out, size_t cap, ps_err *err)
{
    int n = snprintf(out, cap, "%s/accepted", events_dir);

    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "%s: path too long", events_dir);
    return 0;
}

int ps_msgrec_has_rcpt(const ps_msgrec *m, const char *addr)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if (strcasecmp(m->rcpts[i], addr) == 0)
            return 1;
    return 0;
}
