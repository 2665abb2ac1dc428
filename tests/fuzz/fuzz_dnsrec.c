/* libFuzzer target for shared/dns/dnsrec.c: any text quotes into zone-file
 * strings of at most 255 bytes that read back to the same bytes, and the
 * name validators answer every input without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsname.h"
#include "dns/dnsrec.h"

/* Reads one quoted string starting at *q; returns its raw length. */
static size_t unquote_one(const char **q, char *out)
{
    const char *p = *q;
    size_t n = 0;

    if (*p++ != '"')
        abort();
    while (*p != '"') {
        if (*p == '\0')
            abort();
        if (*p == '\\' && p[1] >= '0' && p[1] <= '9') {
            out[n++] =
                (char)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
            p += 4;
        } else {
            p += *p == '\\';
            out[n++] = *p++;
        }
    }
    *q = p + 1;
    return n;
}

static void check_quote(const char *txt)
{
    char *q = ps_dnsrec_quote(txt), *back, *o;
    const char *p;
    size_t len = strlen(txt), piece;

    if (q == NULL || (back = malloc(len + 1)) == NULL)
        abort();
    o = back;
    for (p = q; *p != '\0';) {
        if (p != q && *p++ != ' ')
            abort();
        piece = unquote_one(&p, o);
        if (piece > PS_DNS_STRING_MAX)
            abort();
        o += piece;
    }
    if ((size_t)(o - back) != len || memcmp(back, txt, len) != 0)
        abort();
    free(back);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *txt = malloc(size + 1), *line;
    ps_err err = {""};

    if (txt == NULL)
        abort();
    memcpy(txt, data, size);
    txt[size] = '\0';
    check_quote(txt);
    if (ps_dnsname_check_domain(txt, &err) != 0 && err.msg[0] == '\0')
        abort();
    if (ps_dnsname_check_selector(txt, &err) == 0 &&
        strpbrk(txt, " \t\r\n\"\\;") != NULL)
        abort();
    line = ps_dnsrec_txt_line(txt, 3600, txt);
    if (line != NULL && strchr(line, '\n') != NULL)
        abort();
    free(line);
    free(ps_dnsrec_dmarc("none", txt));
    free(ps_dnsrec_spf((const char *const *)&txt, 1));
    free(txt);
    return 0;
}
