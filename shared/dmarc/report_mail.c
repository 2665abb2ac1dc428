/* The report message (RFC 7489 section 7.2.1.1): the XML gzip'd (zlib)
 * as an application/gzip attachment named receiver!domain!begin!end.xml.gz
 * in a multipart/mixed message whose Subject names the domain, the
 * submitter and the report id, written for `sendmail -t`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "base/encode.h"
#include "dmarc/report.h"

#define DMREP_B64_LINE 76 /* characters per base64 line (RFC 2045) */

static const char *dmrep_receiver(const ps_dmrep_meta *m)
{
    const char *at = strrchr(m->email, '@');

    return at != NULL ? at + 1 : m->email;
}

int ps_dmrep_filename(const ps_dmrep_meta *m, const char *domain, char *out,
                      size_t cap, ps_err *err)
{
    int n = snprintf(out, cap, "%s!%s!%lld!%lld.xml.gz", dmrep_receiver(m),
                     domain, (long long)m->begin, (long long)m->end);

    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "report file name too long");
    return 0;
}

/* xml gzip'd (a gzip member, RFC 1952, through deflate's wrapper). */
static int dmrep_gzip(const char *xml, size_t n, unsigned char **out,
                      size_t *outn, ps_err *err)
{
    z_stream z;
    size_t cap = deflateBound(NULL, (uLong)n) + 64;
    int rc;

    memset(&z, 0, sizeof(z));
    if ((*out = malloc(cap)) == NULL)
        return ps_err_set(err, "out of memory");
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(*out);
        return ps_err_set(err, "zlib: deflateInit2 failed");
    }
    z.next_in = (Bytef *)(uintptr_t)xml;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    *outn = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(*out);
        return ps_err_set(err, "zlib: deflate failed (%d)", rc);
    }
    return 0;
}

static void dmrep_b64_lines(FILE *f, const unsigned char *p, size_t n)
{
    char line[DMREP_B64_LINE + 1];
    const size_t chunk = DMREP_B64_LINE / 4 * 3;

    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        ps_b64_encode(p + i, k, line);
        fprintf(f, "%s\n", line);
    }
}

/* "Org Name" as a quoted-string: the config allows printable ASCII. */
static void dmrep_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void dmrep_headers(FILE *f, const ps_dmrep_meta *m, const char *domain,
                          const char *to, const char *id, const char *bnd)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    fprintf(f, "From: ");
    dmrep_quoted(f, m->org_name);
    fprintf(f, " <%s>\nTo: <%s>\n", m->email, to);
    fprintf(f, "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\n",
            domain, dmrep_receiver(m), id);
    fprintf(f, "Date: %s\nMessage-ID: <%lld.%s>\n", date, (long long)now, id);
    fprintf(f,
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; "
            "boundary=\"%s\"\n\n",
            bnd);
}

static int dmrep_write(FILE *f, const ps_dmrep_meta *m, const char *domain,
                       const char *to, const unsigned char *gz, size_t gzn,
                       ps_err *err)
{
    char id[PS_MAILBOX_DOMAIN_MAX * 2 + 32],
        file[PS_MAILBOX_DOMAIN_MAX * 2 + 64];
    const char *bnd = "=_postseal-dmarc-report";

    if (ps_dmrep_report_id(m, domain, id, sizeof(id), err) != 0 ||
        ps_dmrep_filename(m, domain, file, sizeof(file), err) != 0)
        return -1;
    dmrep_headers(f, m, domain, to, id, bnd);
    fprintf(f,
            "This is a MIME message.\n\n--%s\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            "DMARC aggregate report (RFC 7489) for %s from %s.\n\n--%s\n",
            bnd, domain, dmrep_receiver(m), bnd);
    fprintf(f,
            "Content-Type: application/gzip; name=\"%s\"\n"
            "Content-Disposition: attachment; filename=\"%s\"\n"
            "Content-Transfer-Encoding: base64\n\n",
            file, file);
    dmrep_b64_lines(f, gz, gzn);
    fprintf(f, "\n--%s--\n", bnd);
    return 0;
}

int ps_dmrep_mail(const ps_dmrep_meta *m, const char *domain, const char *xml,
                  size_t xn, const char *to, char **msg, size_t *n, ps_err *err)
{
    unsigned char *gz;
    size_t gzn = 0;
    FILE *f;
    int rc;

    *msg = NULL;
    if (dmrep_gzip(xml, xn, &gz, &gzn, err) != 0)
        return -1;
    if ((f = open_memstream(msg, n)) == NULL) {
        free(gz);
        return ps_err_set(err, "out of memory");
    }
    rc = dmrep_write(f, m, domain, to, gz, gzn, err);
    if ((ferror(f) | fclose(f)) && rc == 0)
        rc = ps_err_set(err, "out of memory");
    free(gz);
    if (rc != 0) {
        free(*msg);
        *msg = NULL;
    }
    return rc;
}
