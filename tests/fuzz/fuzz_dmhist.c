/* libFuzzer target for the DMARC history reader (shared/dmarc/history.c,
 * report_read.c) and what a report makes of an accepted line: any line
 * is refused with a reason or gives a record that formats back to a line
 * read the same way; the report XML of it is built, and its rua= parsed
 * into addresses that have a domain. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/report.h"

static void same(const ps_dmhist *a, const ps_dmhist *b)
{
    if (a->when != b->when || strcmp(a->source_ip, b->source_ip) != 0 ||
        strcmp(a->header_from, b->header_from) != 0 ||
        strcmp(a->rua, b->rua) != 0 || a->spf != b->spf ||
        a->reasons != b->reasons || a->ndkim != b->ndkim ||
        a->disposition != b->disposition || a->policy.pct != b->policy.pct ||
        strcmp(a->policy.fo, b->policy.fo) != 0)
        abort();
    for (size_t i = 0; i < a->ndkim; i++)
        if (strcmp(a->dkim[i].selector, b->dkim[i].selector) != 0 ||
            a->dkim[i].result != b->dkim[i].result)
            abort();
}

static void report(ps_dmrep_set *set)
{
    ps_dmrep_meta m = {"org", "r@rx.example", 0, 86399};
    ps_dmrep_uri u[PS_DMREP_MAX_URIS];
    ps_dmrep_domain *d = NULL;
    size_t nd = 0, n = 0, nu;
    char *xml = NULL;
    ps_err err = {""};

    if (ps_dmrep_group(set, &d, &nd, &err) != 0 || nd != 1 ||
        ps_dmrep_xml(&m, &d[0], &xml, &n, &err) != 0 || strlen(xml) != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)xml[i] >= 0x7f ||
            ((unsigned char)xml[i] < ' ' && xml[i] != '\n'))
            abort();
    nu = ps_dmrep_rua_parse(d[0].latest->rua, u, PS_DMREP_MAX_URIS);
    for (size_t i = 0; i < nu; i++)
        if (u[i].domain == NULL || u[i].domain[0] == '\0' ||
            strchr(u[i].addr, '@') == NULL)
            abort();
    free(xml);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_dmrep_set set = {0};
    ps_record again = {0};
    char *fields[PS_DMHIST_FIELDS];
    ps_dmhist back;
    ps_err err = {""};
    int rc = ps_dmrep_add_line(&set, (const char *)data, size, &err);

    if (rc != 0) {
        if (err.msg[0] == '\0' || set.n != 0)
            abort();
        ps_dmrep_set_free(&set);
        return 0;
    }
    ps_dmhist_format(&set.v[0].h, &again);
    if (again.oom)
        abort();
    again.p[again.n - 1] = '\0';
    if (ps_dmhist_parse(again.p, fields, &back, &err) != 0)
        abort();
    same(&set.v[0].h, &back);
    ps_record_free(&again);
    report(&set);
    ps_dmrep_set_free(&set);
    return 0;
}
