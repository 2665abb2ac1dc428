/* Suppression entries (quota/supp.h): the subject of a suppression, its
 * hashed store key, and the value stored under it. */
#include "quota/supp.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

static const char *const ps_supp_scopes[] = {
    [PS_SUPP_SCOPE_DOMAIN] = "domain",
    [PS_SUPP_SCOPE_CREDENTIAL] = "credential",
};

const char *ps_supp_scope_name(int scope)
{
    return scope == PS_SUPP_SCOPE_CREDENTIAL ? ps_supp_scopes[scope]
                                             : ps_supp_scopes[0];
}

int ps_supp_scope_parse(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(name, ps_supp_scopes[i]) == 0)
            return i;
    return -1;
}

/* Lower-cased into out; -1 if empty, too long, or with a space or a
 * control byte (the stored value is space-separated). */
static int ps_supp_lower(char *out, size_t size, const char *in)
{
    size_t n = strlen(in);

    if (n == 0 || n >= size)
        return -1;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (i < n && (c <= 0x20 || c == 0x7f))
            return -1;
        out[i] = (char)tolower(c);
    }
    return 0;
}

int ps_supp_subject(ps_supp_entry *e, int scope, const char *sasl,
                    const char *sender, const char *rcpt)
{
    const char *who = sasl;

    if (scope == PS_SUPP_SCOPE_DOMAIN) {
        const char *at = sender != NULL ? strrchr(sender, '@') : NULL;
        who = at != NULL ? at + 1 : "";
    }
    return ps_supp_set(e, scope, who, rcpt);
}

int ps_supp_set(ps_supp_entry *e, int scope, const char *who, const char *rcpt)
{
    e->scope = scope;
    if (who == NULL || rcpt == NULL)
        return -1;
    if (ps_supp_lower(e->who, sizeof(e->who), who) != 0 ||
        ps_supp_lower(e->rcpt, sizeof(e->rcpt), rcpt) != 0)
        return -1;
    return 0;
}

void ps_supp_key(const ps_supp_entry *e, char out[PS_SUPP_KEY_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char in[16 + PS_SUPP_WHO_MAX + PS_SUPP_ADDR_MAX];
    int n = snprintf(in, sizeof(in), "%s\n%s\n%s", ps_supp_scope_name(e->scope),
                     e->who, e->rcpt);

    EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
    memcpy(out, PS_SUPP_PREFIX, 4);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 4 + 2 * i, 3, "%02x", i < mdlen ? md[i] : 0);
}

size_t ps_supp_format(const ps_supp_entry *e, char out[PS_SUPP_VALUE_MAX])
{
    int n = snprintf(out, PS_SUPP_VALUE_MAX,
                     "1 %" PRId64 " %" PRId64 " %s %s %s", e->since, e->until,
                     ps_supp_scope_name(e->scope), e->who, e->rcpt);

    return n < 0 ? 0 : (size_t)n;
}

/* One space-separated field of v[*pos..len) into out. */
static int ps_supp_field(const char *v, size_t len, size_t *pos, char *out,
                         size_t size)
{
    size_t start = *pos, n;

    for (; *pos < len && v[*pos] != ' '; (*pos)++)
        if ((unsigned char)v[*pos] < 0x20 || v[*pos] == 0x7f)
            return -1; /* never written: a NUL would cut the field */
    n = *pos - start;
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, v + start, n);
    out[n] = '\0';
    if (*pos < len)
        (*pos)++;
    return 0;
}

static int ps_supp_number(const char *s, int64_t *out)
{
    char *end;
    long long n;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0; /* out of range is refused, not read as LLONG_MAX */
    n = strtoll(s, &end, 10);
    if (*end != '\0' || n < 0 || errno == ERANGE)
        return -1;
    *out = n;
    return 0;
}

int ps_supp_parse(const char *v, size_t len, ps_supp_entry *e)
{
    char ver[4], since[24], until[24], scope[16];
    size_t pos = 0;

    if (len == 0 || v[len - 1] == ' ')
        return -1;
    if (ps_supp_field(v, len, &pos, ver, sizeof(ver)) != 0 ||
        strcmp(ver, "1") != 0 ||
        ps_supp_field(v, len, &pos, since, sizeof(since)) != 0 ||
        ps_supp_field(v, len, &pos, until, sizeof(until)) != 0 ||
        ps_supp_field(v, len, &pos, scope, sizeof(scope)) != 0 ||
        ps_supp_field(v, len, &pos, e->who, sizeof(e->who)) != 0 ||
        ps_supp_field(v, len, &pos, e->rcpt, sizeof(e->rcpt)) != 0 ||
        pos != len)
        return -1;
    if (ps_supp_number(since, &e->since) != 0 ||
        ps_supp_number(until, &e->until) != 0 ||
        (e->scope = ps_supp_scope_parse(scope)) < 0)
        return -1;
    return 0;
}
