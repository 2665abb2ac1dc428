/* Postfix mail log lines (maillog.h): the stamp, the program, the queue id,
 * then the fields of a delivery line; anything unexpected makes the line
 * PS_MAILLOG_OTHER, never a guess. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/maillog.h"

#define ML_DAY 86400

/* The line, bounded and NUL-terminated, and where reading is. */
typedef struct ml_cur {
    const char *p, *end;
} ml_cur;

static int ml_lit(ml_cur *c, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* Exactly width digits (width 0: one or more). */
static int ml_num(ml_cur *c, int width, int *out)
{
    int v = 0, k = 0;

    while (c->p < c->end && isdigit((unsigned char)*c->p) &&
           (width == 0 || k < width) && k < 9) {
        v = v * 10 + (*c->p++ - '0');
        k++;
    }
    *out = v;
    return k > 0 && (width == 0 || k == width);
}

static void ml_frac(ml_cur *c)
{
    if (c->p < c->end && *c->p == '.')
        for (c->p++; c->p < c->end && isdigit((unsigned char)*c->p); c->p++)
            ;
}

static int ml_hms(ml_cur *c, struct tm *tm)
{
    return ml_num(c, 2, &tm->tm_hour) && ml_lit(c, ":") &&
           ml_num(c, 2, &tm->tm_min) && ml_lit(c, ":") &&
           ml_num(c, 2, &tm->tm_sec) && tm->tm_hour < 24 && tm->tm_min < 60 &&
           tm->tm_sec < 61;
}

/* "2026-12-06T17:07:17.123456+00:00" */
static int ml_rfc3339(ml_cur *c, time_t *when)
{
    struct tm tm = {0};
    int oh = 0, om = 0, sign = 0;

    if (!ml_num(c, 4, &tm.tm_year) || !ml_lit(c, "-") ||
        !ml_num(c, 2, &tm.tm_mon) || !ml_lit(c, "-") ||
        !ml_num(c, 2, &tm.tm_mday) || !ml_lit(c, "T") || !ml_hms(c, &tm))
        return 0;
    ml_frac(c);
    if (ml_lit(c, "Z"))
        sign = 0;
    else if (ml_lit(c, "+"))
        sign = 1;
    else if (ml_lit(c, "-"))
        sign = -1;
    else
        return 0;
    if (sign != 0 &&
        !(ml_num(c, 2, &oh) && ml_lit(c, ":") && ml_num(c, 2, &om)))
        return 0;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *when = timegm(&tm) - sign * (oh * 3600 + om * 60);
    return 1;
}

static int ml_month(ml_cur *c)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

    if (c->end - c->p < 3)
        return -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(c->p, months + 3 * i, 3) == 0) {
            c->p += 3;
            return i;
        }
    return -1;
}

/* "Dec  6 17:07:17" (syslog) or "Dec 06 17:07:17" (maillog_file): no
 * year, local time; the year that puts it at most a day after now. */
static int ml_rfc3164(ml_cur *c, time_t now, time_t *when)
{
    struct tm tm = {0}, today;
    int mon = ml_month(c);

    if (mon < 0 || !ml_lit(c, " "))
        return 0;
    ml_lit(c, " ");
    if (!ml_num(c, 0, &tm.tm_mday) || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        !ml_lit(c, " ") || !ml_hms(c, &tm))
        return 0;
    ml_frac(c);
    localtime_r(&now, &today);
    tm.tm_mon = mon;
    tm.tm_year = today.tm_year;
    tm.tm_isdst = -1;
    *when = mktime(&tm);
    if (*when > now + ML_DAY) {
        tm.tm_year--;
        tm.tm_isdst = -1;
        *when = mktime(&tm);
    }
    return *when != (time_t)-1;
}

/* Up to the next space: the host, then "name[pid]:" of the program. */
static int ml_word(ml_cur *c, const char **start, size_t *len)
{
    *start = c->p;
    while (c->p < c->end && *c->p != ' ')
        c->p++;
    *len = (size_t)(c->p - *start);
    return *len > 0 && ml_lit(c, " ");
}

static int ml_program(ml_cur *c)
{
    const char *w;
    size_t n;

    /* "postfix/smtp[5707]:" or "postfix-out/relay/smtp[12]:" */
    return ml_word(c, &w, &n) && n > 3 && w[n - 1] == ':' && w[n - 2] == ']' &&
           memchr(w, '[', n) != NULL;
}

static int ml_qid(ml_cur *c, char *qid)
{
    size_t k = 0;

    while (c->p < c->end && isalnum((unsigned char)*c->p) &&
           k < PS_MAILLOG_QID_MAX - 1)
        qid[k++] = *c->p++;
    qid[k] = '\0';
    return k > 0 && ml_lit(c, ": ");
}

static void ml_copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* "<addr>" followed by ", ": the address may hold ", " inside quotes, so
 * the end is the first ">, " after the start. */
static int ml_addr(ml_cur *c, const char *key, char *out)
{
    const char *start, *close;

    if (!ml_lit(c, key) || !ml_lit(c, "<"))
        return 0;
    start = c->p;
    for (close = start; close + 2 < c->end; close++)
        if (close[0] == '>' && close[1] == ',' && close[2] == ' ')
            break;
    if (close + 2 >= c->end || (size_t)(close - start) >= PS_MAILLOG_ADDR_MAX)
        return 0;
    ml_copy(out, PS_MAILLOG_ADDR_MAX, start, (size_t)(close - start));
    c->p = close + 3;
    return 1;
}

/* "key=value, " pairs up to status=; relay= and dsn= kept. */
static int ml_fields(ml_cur *c, ps_maillog_line *l)
{
    while (c->p < c->end && !ml_lit(c, "status=")) {
        const char *start = c->p, *eq, *comma;
        for (comma = start; comma + 1 < c->end; comma++)
            if (comma[0] == ',' && comma[1] == ' ')
                break;
        if (comma + 1 >= c->end ||
            (eq = memchr(start, '=', (size_t)(comma - start))) == NULL)
            return 0;
        if (eq - start == 5 && memcmp(start, "relay", 5) == 0)
            ml_copy(l->relay, sizeof(l->relay), eq + 1,
                    (size_t)(comma - eq - 1));
        else if (eq - start == 3 && memcmp(start, "dsn", 3) == 0)
            ml_copy(l->dsn, sizeof(l->dsn), eq + 1, (size_t)(comma - eq - 1));
        c->p = comma + 2;
    }
    return 1;
}

static int ml_status(ml_cur *c, ps_maillog_line *l)
{
    static const struct {
        const char *word;
        ps_maillog_status status;
    } words[] = {{"sent", PS_MAILLOG_SENT},
                 {"deferred", PS_MAILLOG_DEFERRED},
                 {"bounced", PS_MAILLOG_BOUNCED}};
    const char *end;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        ml_cur w = *c;
        if (ml_lit(&w, words[i].word) && (w.p == w.end || *w.p == ' ')) {
            l->status = words[i].status;
            *c = w;
            break;
        }
        if (i + 1 == sizeof(words) / sizeof(words[0]))
            return 0;
    }
    /* " (reply)" to the end of the line: the last ')' closes it. */
    if (c->p == c->end)
        return 1;
    if (!ml_lit(c, " ("))
        return 0;
    for (end = c->end; end > c->p && end[-1] != ')'; end--)
        ;
    if (end == c->p)
        return 0;
    ml_copy(l->reply, sizeof(l->reply), c->p, (size_t)(end - 1 - c->p));
    return 1;
}

/* The next hop's own queue id, as an SMTP server (Postfix's "250 2.0.0
 * Ok: queued as 4Bx1", amavisd-new's "... from MTA(...): 250 2.0.0 Ok:
 * queued as 4Bx1") says it: the last "queued as " followed by a word. */
static void ml_queued_as(ps_maillog_line *l)
{
    static const char key[] = "queued as ";
    const char *p = l->reply, *last = NULL;
    size_t k = 0;

    while ((p = strstr(p, key)) != NULL) {
        last = p + sizeof(key) - 1;
        p = last;
    }
    if (last == NULL)
        return;
    while (isalnum((unsigned char)last[k]) && k < PS_MAILLOG_QID_MAX - 1)
        k++;
    if (last[k] == '\0' || last[k] == ')' || last[k] == ' ' || last[k] == ',' ||
        last[k] == ';')
        ml_copy(l->queued_as, sizeof(l->queued_as), last, k);
}

/* qmgr's "from=<SENDER>, status=expired, returned to sender" (or
 * force-expired): the sender may hold anything, so the line is read from
 * both ends. */
static int ml_expired(ml_cur *c)
{
    static const char *const tails[] = {
        ">, status=expired, returned to sender",
        ">, status=force-expired, returned to sender"};

    if (!ml_lit(c, "from=<"))
        return 0;
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        size_t n = strlen(tails[i]);
        if ((size_t)(c->end - c->p) >= n &&
            memcmp(c->end - n, tails[i], n) == 0)
            return 1;
    }
    return 0;
}

/* The hold lines: cleanup's header/body checks ("hold: "), a milter's
 * HOLD or quarantine ("milter-hold: ", from cleanup or smtpd), and
 * postsuper -h ("placed on hold", nothing after it). */
static int ml_hold(ml_cur *c, ps_maillog_line *l)
{
    ml_cur w = *c;

    if (ml_lit(&w, "placed on hold") && w.p == w.end) {
        ml_copy(l->reply, sizeof(l->reply), c->p, (size_t)(w.p - c->p));
        return 1;
    }
    if (!ml_lit(c, "hold: ") && !ml_lit(c, "milter-hold: "))
        return 0;
    ml_copy(l->reply, sizeof(l->reply), c->p, (size_t)(c->end - c->p));
    return 1;
}

static ps_maillog_kind ml_message(ml_cur *c, ps_maillog_line *l)
{
    ml_cur w = *c;

    if (ml_lit(&w, "removed") && w.p == w.end)
        return PS_MAILLOG_REMOVED;
    if (ml_hold(c, l))
        return PS_MAILLOG_HOLD;
    w = *c;
    if (ml_expired(&w))
        return PS_MAILLOG_EXPIRED;
    if (!ml_addr(c, "to=", l->to))
        return PS_MAILLOG_OTHER;
    if (c->end - c->p > 9 && memcmp(c->p, "orig_to=<", 9) == 0 &&
        !ml_addr(c, "orig_to=", l->orig_to))
        return PS_MAILLOG_OTHER;
    if (!ml_fields(c, l) || !ml_status(c, l) || l->dsn[0] == '\0')
        return PS_MAILLOG_OTHER;
    if (l->status == PS_MAILLOG_SENT)
        ml_queued_as(l);
    return PS_MAILLOG_DELIVERY;
}

ps_maillog_kind ps_maillog_parse(const char *line, size_t n, time_t now,
                                 ps_maillog_line *out)
{
    ml_cur c = {line, line + n};
    const char *host;
    size_t hostlen;

    memset(out, 0, sizeof(*out));
    while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
        c.end--;
    if (n == 0 ||
        !(isdigit((unsigned char)*line) ? ml_rfc3339(&c, &out->when)
                                        : ml_rfc3164(&c, now, &out->when)) ||
        !ml_lit(&c, " ") || !ml_word(&c, &host, &hostlen) || !ml_program(&c) ||
        !ml_qid(&c, out->qid)) {
        memset(out, 0, sizeof(*out));
        return PS_MAILLOG_OTHER;
    }
    out->kind = ml_message(&c, out);
    if (out->kind == PS_MAILLOG_OTHER)
        memset(out, 0, sizeof(*out));
    return out->kind;
}

int ps_maillog_relay_endpoint(const char *relay, char *addr, size_t cap,
                              unsigned *port)
{
    const char *open = strchr(relay, '['), *close;
    char *end;
    unsigned long p;

    /* the last "]:" ends the address: the name before '[' has none */
    if (open == NULL || (close = strrchr(relay, ']')) == NULL || close < open ||
        close[1] != ':' || !isdigit((unsigned char)close[2]))
        return -1;
    p = strtoul(close + 2, &end, 10);
    if (*end != '\0' || p == 0 || p > 65535 ||
        (size_t)(close - open - 1) >= cap || close == open + 1)
        return -1;
    ml_copy(addr, cap, open + 1, (size_t)(close - open - 1));
    *port = (unsigned)p;
    return 0;
}
