/* DMARC history records (history.h): the line format the milter appends
 * for every message evaluated against a policy, and its strict reader,
 * which checks every enumeration so a report never carries a word the
 * RFC 7489 schema does not allow. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dmarc/history.h"
#include "mail/events.h"

#define DMHIST_VERSION "D1"
#define DMHIST_PATH    4096
#define DMHIST_NAME    255 /* a HELO name, a selector: what DNS allows */

static const char *const dmhist_auth_words[] = {
    [PS_DMHIST_NONE] = "none",           [PS_DMHIST_PASS] = "pass",
    [PS_DMHIST_FAIL] = "fail",           [PS_DMHIST_SOFTFAIL] = "softfail",
    [PS_DMHIST_NEUTRAL] = "neutral",     [PS_DMHIST_POLICY] = "policy",
    [PS_DMHIST_TEMPERROR] = "temperror", [PS_DMHIST_PERMERROR] = "permerror",
};

static const char *const dmhist_reason_words[] = {
    "forwarded",    "sampled_out",  "trusted_forwarder",
    "mailing_list", "local_policy", "other",
};

#define DMHIST_NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *ps_dmhist_auth_word(ps_dmhist_auth a)
{
    return (unsigned)a < DMHIST_NELEM(dmhist_auth_words) ? dmhist_auth_words[a]
                                                         : "permerror";
}

const char *ps_dmhist_reason_word(unsigned bit)
{
    for (size_t i = 0; i < DMHIST_NELEM(dmhist_reason_words); i++)
        if (bit == 1u << i)
            return dmhist_reason_words[i];
    return "other";
}

static int dmhist_auth_parse(const char *w, ps_dmhist_auth *out)
{
    for (size_t i = 0; i < DMHIST_NELEM(dmhist_auth_words); i++)
        if (strcmp(w, dmhist_auth_words[i]) == 0) {
            *out = (ps_dmhist_auth)i;
            return 0;
        }
    return -1;
}

ps_dmhist_auth ps_dmhist_auth_from_word(const char *word)
{
    ps_dmhist_auth a;

    return dmhist_auth_parse(word, &a) == 0 ? a : PS_DMHIST_PERMERROR;
}

/* The reasons as a comma-separated list of PolicyOverrideType words. */
static void dmhist_reasons_text(unsigned reasons, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < DMHIST_NELEM(dmhist_reason_words); i++)
        if (reasons & (1u << i))
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s",
                                  n ? "," : "", dmhist_reason_words[i]);
}

static int dmhist_reasons_parse(char *s, unsigned *out)
{
    char *save = NULL;

    *out = 0;
    if (*s == '\0')
        return 0;
    for (char *w = strtok_r(s, ",", &save); w != NULL;
         w = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < DMHIST_NELEM(dmhist_reason_words) &&
               strcmp(w, dmhist_reason_words[i]) != 0)
            i++;
        if (i == DMHIST_NELEM(dmhist_reason_words))
            return -1;
        *out |= 1u << i;
    }
    return 0;
}

void ps_dmhist_format(const ps_dmhist *h, ps_record *r)
{
    const ps_dmhist_policy *p = &h->policy;
    char when[32], pct[8], reasons[128];

    snprintf(when, sizeof(when), "%lld", (long long)h->when);
    snprintf(pct, sizeof(pct), "%d", p->pct);
    dmhist_reasons_text(h->reasons, reasons, sizeof(reasons));
    ps_record_put(r, DMHIST_VERSION);
    ps_record_put(r, when);
    ps_record_put(r, h->source_ip);
    ps_record_put(r, h->header_from);
    ps_record_put(r, h->envelope_from);
    ps_record_put(r, h->spf_domain);
    ps_record_put(r, h->spf_helo ? "helo" : "mfrom");
    ps_record_put(r, ps_dmhist_auth_word(h->spf));
    ps_record_put(r, h->policy_domain);
    ps_record_put(r, ps_dmarc_policy_word(p->p));
    ps_record_put(r, ps_dmarc_policy_word(p->sp));
    ps_record_put(r, pct);
    ps_record_put(r, p->adkim == PS_DMARC_STRICT ? "s" : "r");
    ps_record_put(r, p->aspf == PS_DMARC_STRICT ? "s" : "r");
    ps_record_put(r, h->pass ? "pass" : "fail");
    ps_record_put(r, h->dkim_aligned ? "pass" : "fail");
    ps_record_put(r, h->spf_aligned ? "pass" : "fail");
    ps_record_put(r, ps_dmarc_policy_word(h->disposition));
    ps_record_put(r, reasons);
    ps_record_put(r, h->rua);
    ps_record_put(r, p->fo != NULL && p->fo[0] != '\0' ? p->fo : "0");
    for (size_t i = 0; i < h->ndkim && i < PS_DMHIST_MAX_DKIM; i++) {
        ps_record_put(r, h->dkim[i].domain);
        ps_record_put(r, h->dkim[i].selector);
        ps_record_put(r, ps_dmhist_auth_word(h->dkim[i].result));
    }
    ps_record_end(r);
}

static int dmhist_policy_parse(const char *w, ps_dmarc_policy *out)
{
    static const ps_dmarc_policy all[] = {PS_DMARC_POLICY_NONE,
                                          PS_DMARC_POLICY_QUARANTINE,
                                          PS_DMARC_POLICY_REJECT};

    for (size_t i = 0; i < DMHIST_NELEM(all); i++)
        if (strcmp(w, ps_dmarc_policy_word(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

/* "pass" 1, "fail" 0, -1 otherwise; likewise "s"/"r", "helo"/"mfrom". */
static int dmhist_pick(const char *w, const char *one, const char *zero)
{
    return strcmp(w, one) == 0 ? 1 : strcmp(w, zero) == 0 ? 0 : -1;
}

static int dmhist_number(const char *s, long long max, long long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return *end != '\0' || errno != 0 || *out > max ? -1 : 0;
}

static int dmhist_fixed(char **f, ps_dmhist *h)
{
    long long when, pct;
    int helo, strict_d, strict_s;

    if (strcmp(f[0], DMHIST_VERSION) != 0 ||
        dmhist_number(f[1], (long long)1 << 40, &when) != 0 ||
        (helo = dmhist_pick(f[6], "helo", "mfrom")) < 0 ||
        dmhist_auth_parse(f[7], &h->spf) != 0 ||
        dmhist_policy_parse(f[9], &h->policy.p) != 0 ||
        dmhist_policy_parse(f[10], &h->policy.sp) != 0 ||
        dmhist_number(f[11], 100, &pct) != 0 ||
        (strict_d = dmhist_pick(f[12], "s", "r")) < 0 ||
        (strict_s = dmhist_pick(f[13], "s", "r")) < 0 ||
        (h->pass = dmhist_pick(f[14], "pass", "fail")) < 0 ||
        (h->dkim_aligned = dmhist_pick(f[15], "pass", "fail")) < 0 ||
        (h->spf_aligned = dmhist_pick(f[16], "pass", "fail")) < 0 ||
        dmhist_policy_parse(f[17], &h->disposition) != 0 ||
        dmhist_reasons_parse(f[18], &h->reasons) != 0)
        return -1;
    h->when = (time_t)when;
    h->spf_helo = helo;
    h->policy.pct = (int)pct;
    h->policy.adkim = strict_d ? PS_DMARC_STRICT : PS_DMARC_RELAXED;
    h->policy.aspf = strict_s ? PS_DMARC_STRICT : PS_DMARC_RELAXED;
    return 0;
}

/* An address as inet_ntop writes it. */
static int dmhist_ip(const char *s)
{
    unsigned char a[16];

    return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, a) == 1;
}

/* fo= as the record parser keeps it: 0, 1, d, s separated by ':'. */
static int dmhist_fo(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= PS_DMARC_FO_MAX || n % 2 == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (i % 2 ? s[i] != ':' : strchr("01ds", s[i]) == NULL)
            return -1;
    return 0;
}

/* Names no longer than DNS allows, so a report can quote any of them. */
static int dmhist_lengths(char **f, int n)
{
    for (int i = 3; i < n; i++) {
        size_t max = i == 19 ? PS_DMARC_RUA_MAX - 1 : DMHIST_NAME;
        if ((i == 3 || i == 4 || i == 8) && max > PS_MAILBOX_DOMAIN_MAX)
            max = PS_MAILBOX_DOMAIN_MAX;
        if (strlen(f[i]) > max)
            return -1;
    }
    return 0;
}

int ps_dmhist_parse(char *line, char **f, ps_dmhist *h, ps_err *err)
{
    int n = ps_record_split(line, f, PS_DMHIST_FIELDS);

    memset(h, 0, sizeof(*h));
    if (n < 0)
        return ps_err_set(err, "not a record line (bad field or encoding)");
    if (n < PS_DMHIST_FIXED || (n - PS_DMHIST_FIXED) % 3 != 0)
        return ps_err_set(err, "%d fields: not a DMARC history record", n);
    if (dmhist_fixed(f, h) != 0)
        return ps_err_set(err, "a field holds a value no record has");
    if (f[3][0] == '\0' || f[8][0] == '\0')
        return ps_err_set(err, "no From or policy domain");
    if (!dmhist_ip(f[2]))
        return ps_err_set(err, "source '%.64s' is not an IP address", f[2]);
    if (dmhist_lengths(f, n) != 0)
        return ps_err_set(err, "a name longer than DNS allows");
    if (dmhist_fo(f[20]) != 0)
        return ps_err_set(err, "fo '%.32s' is not a list of 0, 1, d, s", f[20]);
    h->source_ip = f[2];
    h->header_from = f[3];
    h->envelope_from = f[4];
    h->spf_domain = f[5];
    h->policy_domain = f[8];
    h->rua = f[19];
    h->policy.fo = f[20];
    h->ndkim = (size_t)(n - PS_DMHIST_FIXED) / 3;
    for (size_t i = 0; i < h->ndkim; i++) {
        char **d = &f[PS_DMHIST_FIXED + 3 * i];
        h->dkim[i].domain = d[0];
        h->dkim[i].selector = d[1];
        if (dmhist_auth_parse(d[2], &h->dkim[i].result) != 0 ||
            h->dkim[i].result == PS_DMHIST_SOFTFAIL)
            return ps_err_set(err, "DKIM result '%s' unknown", d[2]);
    }
    return 0;
}

void ps_dmhist_day(time_t when, char out[PS_DMHIST_DAY_MAX])
{
    struct tm tm;

    if (gmtime_r(&when, &tm) == NULL ||
        strftime(out, PS_DMHIST_DAY_MAX, "%Y-%m-%d", &tm) == 0)
        snprintf(out, PS_DMHIST_DAY_MAX, "0000-00-00");
}

int ps_dmhist_path(const char *dir, time_t when, char *out, size_t cap,
                   ps_err *err)
{
    char day[PS_DMHIST_DAY_MAX];
    int n;

    ps_dmhist_day(when, day);
    n = snprintf(out, cap, "%s/%s", dir, day);
    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "%s: path too long", dir);
    return 0;
}

int ps_dmhist_write(const char *dir, time_t when, const ps_record *line,
                    ps_err *err)
{
    char path[DMHIST_PATH];

    if (line->oom)
        return ps_err_set(err, "out of memory");
    if (ps_dmhist_path(dir, when, path, sizeof(path), err) != 0)
        return -1;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return ps_err_set(err, "%s: %s", dir, strerror(errno));
    return ps_events_append(path, line->p, line->n, err);
}

int ps_dmhist_append(const char *dir, const ps_dmhist *h, ps_err *err)
{
    ps_record line = {0};
    int rc;

    ps_dmhist_format(h, &line);
    rc = ps_dmhist_write(dir, h->when, &line, err);
    ps_record_free(&line);
    return rc;
}
