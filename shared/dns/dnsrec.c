/* Builds the TXT records a sending domain publishes (DKIM, SPF, DMARC) as
 * zone-file text, and validates the names they go under, so that what the
 * admin pastes is accepted by the zone loader on the first try. */
#include "dns/dnsrec.h"
#include "dns/dnsname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUA_MAX 254

/* ---- character-strings -----------------------------------------------------
 */

/* Writes one byte as zone-file text: '"' and '\' need a backslash, and
 * anything outside printable ASCII becomes \DDD so the line stays clean. */
static size_t put_escaped(char *o, unsigned char c)
{
    if (c == '"' || c == '\\') {
        o[0] = '\\';
        o[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c > 0x7e)
        return (size_t)sprintf(o, "\\%03u", c);
    o[0] = (char)c;
    return 1;
}

/* The 255-byte limit is on the wire, so chunks are cut on raw bytes and
 * escaped afterwards: an escape can never straddle two strings. */
char *ps_dnsrec_quote(const char *txt)
{
    size_t len = strlen(txt);
    size_t chunks =
        len == 0 ? 1 : (len + PS_DNS_STRING_MAX - 1) / PS_DNS_STRING_MAX;
    char *out = malloc(len * 4 + chunks * 3 + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t c = 0; c < chunks; c++) {
        size_t start = c * PS_DNS_STRING_MAX;
        size_t end =
            start + PS_DNS_STRING_MAX < len ? start + PS_DNS_STRING_MAX : len;

        if (c > 0)
            *o++ = ' ';
        *o++ = '"';
        for (size_t i = start; i < end; i++)
            o += put_escaped(o, (unsigned char)txt[i]);
        *o++ = '"';
    }
    *o = '\0';
    return out;
}

/* ---- SPF and DMARC ------------------------------------------------------ */

/* "mx" rather than "a mx": an outbound Postfix relay is usually the
 * domain's MX host, while the apex A record is often a web server that
 * must not be allowed to send. A relay elsewhere is added by the admin
 * (ip4:/include:). "~all" (softfail) rather than "-all" until DMARC
 * reports show that every legitimate source is listed. Each include costs
 * one of SPF's ten DNS lookups, as does "mx". */
char *ps_dnsrec_spf(const char *const *includes, size_t n)
{
    size_t cap = sizeof("v=spf1 mx ~all");
    char *out;

    for (size_t i = 0; i < n; i++) {
        if (ps_dnsname_check_spf_include(includes[i], NULL) < 0)
            return NULL;
        cap += strlen(" include:") + strlen(includes[i]);
    }
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    strcpy(out, "v=spf1 mx");
    for (size_t i = 0; i < n; i++) {
        strcat(out, " include:");
        strcat(out, includes[i]);
    }
    strcat(out, " ~all");
    return out;
}

static const char *strip_mailto(const char *rua)
{
    return strncmp(rua, "mailto:", 7) == 0 ? rua + 7 : rua;
}

/* A rua is one address: ',' separates URIs and '!' starts a size limit in
 * DMARC, so both are refused inside the local part. */
static int check_rua(const char *rua, ps_err *err)
{
    const char *addr = strip_mailto(rua), *at;

    if (ps_dnsname_check_printable("rua", rua, err) < 0)
        return -1;
    if (strlen(addr) > RUA_MAX)
        return ps_err_set(err, "rua: address is longer than %d bytes", RUA_MAX);
    at = strrchr(addr, '@');
    if (at == NULL || at == addr)
        return ps_err_set(err,
                          "rua \"%.100s\": expected an address like "
                          "dmarc@example.com",
                          rua);
    if (strcspn(addr, ",;!") < (size_t)(at - addr))
        return ps_err_set(err,
                          "rua \"%.100s\": one address only, without "
                          "',', ';' or '!'",
                          rua);
    if (ps_dnsname_check_domain(at + 1, err) < 0)
        return -1;
    return 0;
}

int ps_dnsrec_check_dmarc(const char *policy, const char *rua, ps_err *err)
{
    if (policy == NULL ||
        (strcmp(policy, "none") != 0 && strcmp(policy, "quarantine") != 0 &&
         strcmp(policy, "reject") != 0))
        return ps_err_set(err, "DMARC policy must be none, quarantine or "
                               "reject");
    return rua != NULL ? check_rua(rua, err) : 0;
}

char *ps_dnsrec_dmarc(const char *policy, const char *rua)
{
    char *out;
    int n;

    if (ps_dnsrec_check_dmarc(policy, rua, NULL) < 0)
        return NULL;
    if (rua != NULL)
        n = asprintf(&out, "v=DMARC1; p=%s; rua=mailto:%s", policy,
                     strip_mailto(rua));
    else
        n = asprintf(&out, "v=DMARC1; p=%s", policy);
    return n < 0 ? NULL : out;
}

/* ---- zone-file lines ---------------------------------------------------- */

/* Whitespace, ';' (a comment), quotes, parentheses and backslashes would
 * change how the zone loader reads the line. */
static int zone_name_ok(const char *name)
{
    if (name[0] == '\0')
        return 0;
    for (const char *p = name; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
            strchr(";\"()\\", *p) != NULL)
            return 0;
    return 1;
}

char *ps_dnsrec_txt_line(const char *name, unsigned ttl, const char *txt)
{
    size_t len;
    char *quoted, *out;
    int n;

    if (name == NULL || txt == NULL || !zone_name_ok(name))
        return NULL;
    quoted = ps_dnsrec_quote(txt);
    if (quoted == NULL)
        return NULL;
    len = strlen(name);
    n = asprintf(&out, "%s%s %u IN TXT %s", name,
                 name[len - 1] == '.' ? "" : ".", ttl, quoted);
    free(quoted);
    return n < 0 ? NULL : out;
}
