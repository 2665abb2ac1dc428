/* One day's DMARC history read for reports (report.h): each line parsed
 * with history.c's strict reader, and the row key that groups messages
 * with the same source, identifiers, results and disposition. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/report.h"

#define DMREP_LINE_MAX (64 * 1024) /* a record is far smaller */

static void dmrep_key_put(ps_record *k, const char *s)
{
    ps_record_put(k, s);
}

/* The row key: every field a report row or its identifiers and
 * auth_results show, encoded (record.h) so that fields never run into
 * each other. */
static char *dmrep_key(const ps_dmhist *h)
{
    ps_record k = {0};
    char reasons[16];

    snprintf(reasons, sizeof(reasons), "%u", h->reasons);
    dmrep_key_put(&k, h->source_ip);
    dmrep_key_put(&k, h->header_from);
    dmrep_key_put(&k, h->envelope_from);
    dmrep_key_put(&k, h->spf_domain);
    dmrep_key_put(&k, h->spf_helo ? "h" : "m");
    dmrep_key_put(&k, ps_dmhist_auth_word(h->spf));
    dmrep_key_put(&k, h->dkim_aligned ? "p" : "f");
    dmrep_key_put(&k, h->spf_aligned ? "p" : "f");
    dmrep_key_put(&k, ps_dmarc_policy_word(h->disposition));
    dmrep_key_put(&k, reasons);
    for (size_t i = 0; i < h->ndkim; i++) {
        dmrep_key_put(&k, h->dkim[i].domain);
        dmrep_key_put(&k, h->dkim[i].selector);
        dmrep_key_put(&k, ps_dmhist_auth_word(h->dkim[i].result));
    }
    if (k.oom) {
        ps_record_free(&k);
        return NULL;
    }
    return k.p != NULL ? k.p : strdup("");
}

int ps_dmrep_add_line(ps_dmrep_set *set, const char *line, size_t n,
                      ps_err *err)
{
    char *fields[PS_DMHIST_FIELDS];
    ps_dmrep_entry e = {0};

    if (memchr(line, '\0', n) != NULL)
        return ps_err_set(err, "a NUL byte");
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        ps_dmrep_entry *v = reallocarray(set->v, cap, sizeof(*v));
        if (v == NULL)
            return ps_err_set(err, "out of memory"), PS_DMREP_OOM;
        set->v = v;
        set->cap = cap;
    }
    if ((e.line = strndup(line, n)) == NULL)
        return ps_err_set(err, "out of memory"), PS_DMREP_OOM;
    if (ps_dmhist_parse(e.line, fields, &e.h, err) != 0) {
        free(e.line);
        return -1;
    }
    if ((e.key = dmrep_key(&e.h)) == NULL) {
        free(e.line);
        return ps_err_set(err, "out of memory"), PS_DMREP_OOM;
    }
    set->v[set->n++] = e;
    return 0;
}

int ps_dmrep_read(ps_dmrep_set *set, const char *path, ps_dmrep_bad_fn bad,
                  void *arg, ps_err *err)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t n;
    int rc = 0;

    if (f == NULL)
        return ps_err_set(err, "%s: %s", path, strerror(errno));
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        ps_err why = {""};
        no++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n > DMREP_LINE_MAX)
            bad(arg, path, no, "line too long");
        else if (ps_dmrep_add_line(set, line, (size_t)n, &why) == PS_DMREP_OOM)
            rc = ps_err_set(err, "out of memory");
        else if (why.msg[0] != '\0')
            bad(arg, path, no, why.msg);
    }
    if (rc == 0 && ferror(f))
        rc = ps_err_set(err, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

void ps_dmrep_set_free(ps_dmrep_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].line);
        free(set->v[i].key);
    }
    free(set->v);
    memset(set, 0, sizeof(*set));
}
