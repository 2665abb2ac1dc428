/* rua= for the reporter (RFC 7489 sections 6.2, 6.3 and 7.1): the mailto:
 * URIs with their "!size" limits, and the check that a domain may send
 * its reports to an address of another organizational domain. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/encode.h"
#include "dmarc/report.h"

/* "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]: bytes, 0 when malformed or too
 * large to mean anything but "no limit". */
static int dmrep_limit(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0, unit = 1;
    size_t i = 0;

    while (i < n && isdigit((unsigned char)s[i]) && v < (1ULL << 40))
        v = v * 10 + (uint64_t)(s[i++] - '0');
    if (i == 0)
        return -1;
    if (i + 1 == n) {
        const char *u = strchr("kmgt", tolower((unsigned char)s[i]));
        if (u == NULL || s[i] == '\0')
            return -1;
        unit = 1ULL << (10 * (u - "kmgt" + 1));
    } else if (i != n) {
        return -1;
    }
    *out = v * unit;
    return 0;
}

/* The address of one "mailto:" URI, percent-decoded, without headers
 * ("?subject=..."); -1 when it is not a usable address. */
static int dmrep_mailto(const char *s, size_t n, ps_dmrep_uri *u)
{
    size_t o = 0;
    const char *at;

    for (size_t i = 0; i < n && s[i] != '?'; i++) {
        int hi, lo;
        char c = s[i];
        if (c == '%' && i + 2 < n &&
            (hi = ps_hex_digit((unsigned char)s[i + 1])) >= 0 &&
            (lo = ps_hex_digit((unsigned char)s[i + 2])) >= 0) {
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if ((unsigned char)c <= ' ' || c == 0x7f ||
            strchr("<>,\"", c) != NULL || o + 1 >= sizeof(u->addr))
            return -1;
        u->addr[o++] = c;
    }
    u->addr[o] = '\0';
    at = strrchr(u->addr, '@');
    if (at == NULL || at == u->addr || at[1] == '\0' ||
        strchr(at + 1, '.') == NULL)
        return -1;
    u->domain = at + 1;
    return 0;
}

/* One dmarc-uri of n bytes, blanks trimmed. */
static int dmrep_uri(const char *s, size_t n, ps_dmrep_uri *u)
{
    const char *bang;

    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n < 7 || strncasecmp(s, "mailto:", 7) != 0)
        return -1;
    s += 7, n -= 7;
    u->limit = 0;
    if ((bang = memchr(s, '!', n)) != NULL) {
        if (dmrep_limit(bang + 1, n - (size_t)(bang + 1 - s), &u->limit) != 0)
            return -1;
        n = (size_t)(bang - s);
    }
    return dmrep_mailto(s, n, u);
}

size_t ps_dmrep_rua_parse(const char *rua, ps_dmrep_uri *out, size_t max)
{
    const char *p = rua, *end = rua + strlen(rua), *comma;
    size_t k = 0;

    for (; p < end && k < max; p = comma + 1) {
        if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
            comma = end;
        if (dmrep_uri(p, (size_t)(comma - p), &out[k]) == 0)
            k++;
    }
    return k;
}

int ps_dmrep_rua_allowed(const ps_dmarc_psl *psl, const char *domain,
                         const char *rua_domain, ps_dmarc_txt_fn lookup,
                         void *arg, ps_err *err)
{
    char a[PS_MAILBOX_DOMAIN_MAX + 1], b[PS_MAILBOX_DOMAIN_MAX + 1];
    char name[2 * PS_MAILBOX_DOMAIN_MAX + 32];
    ps_dns_answer ans;
    int ok = 0;

    if (ps_dmarc_org_domain(psl, domain, a, sizeof(a)) == 0 &&
        ps_dmarc_org_domain(psl, rua_domain, b, sizeof(b)) == 0 &&
        strcasecmp(a, b) == 0)
        return 1;
    if ((size_t)snprintf(name, sizeof(name), "%s._report._dmarc.%s", domain,
                         rua_domain) >= sizeof(name))
        return 0;
    memset(&ans, 0, sizeof(ans));
    if (lookup(arg, name, &ans) != 0) {
        ps_dns_answer_free(&ans);
        return ps_err_set(err, "DNS lookup of %s failed", name);
    }
    for (size_t i = 0; i < ans.count && !ok; i++)
        ok = ps_dmarc_is_record(ans.records[i], strlen(ans.records[i]));
    ps_dns_answer_free(&ans);
    return ok;
}
