/* The aggregate report document (RFC 7489 appendix C): report_metadata,
 * policy_published from the domain's newest record, and one record
 * element per run of equal rows, counted. Text is escaped for XML; bytes
 * outside printable ASCII become '?', so the document is always valid
 * UTF-8 XML whatever a signature's selector held. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/report.h"

static void dmrep_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            fputs("&amp;", f);
        else if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else if (c < 0x20 || c >= 0x7f)
            fputc('?', f);
        else
            fputc(c, f);
    }
}

static void dmrep_el(FILE *f, int depth, const char *name, const char *value)
{
    fprintf(f, "%*s<%s>", 2 * depth, "", name);
    dmrep_text(f, value);
    fprintf(f, "</%s>\n", name);
}

/* The appendix's IPAddress pattern knows only dotted quads and the full
 * eight-group IPv6 form: "::1" is written 0:0:0:0:0:0:0:1. */
static void dmrep_ip(FILE *f, const char *ip)
{
    unsigned char a[16];

    if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, a) != 1) {
        dmrep_el(f, 3, "source_ip", ip);
        return;
    }
    fprintf(f, "      <source_ip>");
    for (int i = 0; i < 16; i += 2)
        fprintf(f, "%s%x", i ? ":" : "", (unsigned)(a[i] << 8 | a[i + 1]));
    fprintf(f, "</source_ip>\n");
}

int ps_dmrep_report_id(const ps_dmrep_meta *m, const char *domain, char *out,
                       size_t cap, ps_err *err)
{
    char day[PS_DMHIST_DAY_MAX];
    const char *at = strrchr(m->email, '@');
    int n;

    ps_dmhist_day(m->begin, day);
    n = snprintf(out, cap, "%s.%s@%s", day, domain, at ? at + 1 : m->email);
    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "report id too long");
    return 0;
}

static void dmrep_metadata(FILE *f, const ps_dmrep_meta *m, const char *id)
{
    fprintf(f, "  <report_metadata>\n");
    dmrep_el(f, 2, "org_name", m->org_name);
    dmrep_el(f, 2, "email", m->email);
    dmrep_el(f, 2, "report_id", id);
    fprintf(f,
            "    <date_range>\n      <begin>%lld</begin>\n"
            "      <end>%lld</end>\n    </date_range>\n",
            (long long)m->begin, (long long)m->end);
    fprintf(f, "  </report_metadata>\n");
}

static void dmrep_policy(FILE *f, const ps_dmrep_domain *d)
{
    const ps_dmhist_policy *p = &d->latest->policy;

    fprintf(f, "  <policy_published>\n");
    dmrep_el(f, 2, "domain", d->latest->policy_domain);
    fprintf(f,
            "    <adkim>%s</adkim>\n    <aspf>%s</aspf>\n    <p>%s</p>\n"
            "    <sp>%s</sp>\n    <pct>%d</pct>\n    <fo>%s</fo>\n",
            p->adkim == PS_DMARC_STRICT ? "s" : "r",
            p->aspf == PS_DMARC_STRICT ? "s" : "r", ps_dmarc_policy_word(p->p),
            ps_dmarc_policy_word(p->sp), p->pct, p->fo);
    fprintf(f, "  </policy_published>\n");
}

static void dmrep_row(FILE *f, const ps_dmhist *h, size_t count)
{
    fprintf(f, "    <row>\n");
    dmrep_ip(f, h->source_ip);
    fprintf(f, "      <count>%zu</count>\n", count);
    fprintf(f,
            "      <policy_evaluated>\n        <disposition>%s</disposition>"
            "\n        <dkim>%s</dkim>\n        <spf>%s</spf>\n",
            ps_dmarc_policy_word(h->disposition),
            h->dkim_aligned ? "pass" : "fail",
            h->spf_aligned ? "pass" : "fail");
    for (unsigned bit = 1; bit & PS_DMHIST_R_ALL; bit <<= 1)
        if (h->reasons & bit)
            fprintf(f,
                    "        <reason>\n          <type>%s</type>\n"
                    "        </reason>\n",
                    ps_dmhist_reason_word(bit));
    fprintf(f, "      </policy_evaluated>\n    </row>\n");
}

static void dmrep_auth(FILE *f, const ps_dmhist *h)
{
    fprintf(f, "    <auth_results>\n");
    for (size_t i = 0; i < h->ndkim; i++) {
        fprintf(f, "      <dkim>\n");
        dmrep_el(f, 4, "domain", h->dkim[i].domain);
        if (h->dkim[i].selector[0] != '\0')
            dmrep_el(f, 4, "selector", h->dkim[i].selector);
        dmrep_el(f, 4, "result", ps_dmhist_auth_word(h->dkim[i].result));
        fprintf(f, "      </dkim>\n");
    }
    fprintf(f, "      <spf>\n");
    dmrep_el(f, 4, "domain", h->spf_domain);
    dmrep_el(f, 4, "scope", h->spf_helo ? "helo" : "mfrom");
    dmrep_el(f, 4, "result", ps_dmhist_auth_word(h->spf));
    fprintf(f, "      </spf>\n    </auth_results>\n");
}

static void dmrep_record(FILE *f, const ps_dmhist *h, size_t count)
{
    fprintf(f, "  <record>\n");
    dmrep_row(f, h, count);
    fprintf(f, "    <identifiers>\n");
    dmrep_el(f, 3, "envelope_from", h->envelope_from);
    dmrep_el(f, 3, "header_from", h->header_from);
    fprintf(f, "    </identifiers>\n");
    dmrep_auth(f, h);
    fprintf(f, "  </record>\n");
}

int ps_dmrep_xml(const ps_dmrep_meta *m, const ps_dmrep_domain *d, char **xml,
                 size_t *n, ps_err *err)
{
    char id[PS_MAILBOX_DOMAIN_MAX * 2 + 32];
    FILE *f;

    *xml = NULL;
    *n = 0;
    if (ps_dmrep_report_id(m, d->domain, id, sizeof(id), err) != 0)
        return -1;
    if ((f = open_memstream(xml, n)) == NULL)
        return ps_err_set(err, "out of memory");
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n"
               "  <version>1.0</version>\n");
    dmrep_metadata(f, m, id);
    dmrep_policy(f, d);
    for (size_t i = 0; i < d->n;) {
        size_t j = i + 1;
        while (j < d->n && strcmp(d->v[j].key, d->v[i].key) == 0)
            j++;
        dmrep_record(f, &d->v[i].h, j - i);
        i = j;
    }
    fprintf(f, "</feedback>\n");
    if (ferror(f) | fclose(f)) {
        free(*xml);
        *xml = NULL;
        return ps_err_set(err, "out of memory");
    }
    return 0;
}
