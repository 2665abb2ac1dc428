/* Checks what a DKIM signing context is started with (parameters and
 * signers) so that a bad configuration is refused by name at the start,
 * never turned into a DKIM-Signature no verifier can parse. */
#include "dkim/dkim_int.h"

#include <string.h>
#include <strings.h>

/* Names as they may appear in h=: RFC 5322 ftext (%d33-57 / %d59-126)
 * without ';', which would end the tag. */
static int is_hname_char(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':' && c != ';';
}

int ps_dkim_name_ok(const char *name, size_t len)
{
    if (len == 0 || len >= PS_DKIM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_hname_char((unsigned char)name[i]))
            return 0;
    return 1;
}

int ps_dkim_name_match(const char *pattern, const char *name, size_t len)
{
    size_t plen = strlen(pattern);

    if (plen > 0 && pattern[plen - 1] == '*')
        return len >= plen - 1 && strncasecmp(pattern, name, plen - 1) == 0;
    return len == plen && strncasecmp(pattern, name, len) == 0;
}

static int check_names(const char *const *names, size_t n, const char *what,
                       ps_err *err)
{
    if (n > PS_DKIM_MAX_SIGNED)
        return ps_err_set(err, "DKIM %s list has %zu names (at most %d)", what,
                          n, PS_DKIM_MAX_SIGNED);
    for (size_t i = 0; i < n; i++) {
        const char *p = names[i];
        size_t len = p != NULL ? strlen(p) : 0;
        size_t body = len > 0 && p[len - 1] == '*' ? len - 1 : len;
        size_t j = 0;

        while (j < body && is_hname_char((unsigned char)p[j]))
            j++;
        if (body == 0 || j < body || len >= PS_DKIM_NAME_MAX)
            return ps_err_set(err,
                              "DKIM %s list: \"%.64s\" is not a header "
                              "field name (or NAME* prefix)",
                              what, p != NULL ? p : "(null)");
    }
    return 0;
}

static int has_from(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], "From") == 0)
            return 1;
    return 0;
}

int ps_dkim_check_params(const ps_dkim_params *in, ps_dkim_params *out,
                         ps_err *err)
{
    if (in != NULL)
        *out = *in;
    else
        memset(out, 0, sizeof(*out)); /* zero: relaxed, relaxed, no x= */
    if (out->sign_headers == NULL) {
        out->sign_headers = ps_dkim_default_headers;
        out->nsign_headers = ps_dkim_default_nheaders;
    }
    if (out->oversign_headers == NULL) {
        out->oversign_headers = ps_dkim_default_oversign;
        out->noversign_headers = ps_dkim_default_noversign;
    }
    if ((out->header_canon != PS_CANON_SIMPLE &&
         out->header_canon != PS_CANON_RELAXED) ||
        (out->body_canon != PS_CANON_SIMPLE &&
         out->body_canon != PS_CANON_RELAXED))
        return ps_err_set(err, "DKIM canonicalisation must be simple or "
                               "relaxed");
    if (out->expire_after < 0 || out->expire_after > PS_DKIM_MAX_EXPIRE)
        return ps_err_set(err,
                          "DKIM expiry must be 0 to %lld seconds, not "
                          "negative or longer",
                          PS_DKIM_MAX_EXPIRE);
    if (check_names(out->sign_headers, out->nsign_headers, "signed-header",
                    err) < 0 ||
        check_names(out->oversign_headers, out->noversign_headers,
                    "oversigned-header", err) < 0)
        return -1;
    if (!has_from(out->sign_headers, out->nsign_headers))
        return ps_err_set(err, "DKIM signed-header list must name From "
                               "(RFC 6376 5.4)");
    return 0;
}

/* d= and s=: dot-separated labels of letters, digits, '-' and '_' (the
 * last for selectors such as "s_2026"); no empty label. */
static int is_dns_name(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0, label = 0;

    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_') ||
            ++label > 63)
            return 0;
    }
    return label > 0;
}

int ps_dkim_check_signers(const ps_dkim_signer *signers, size_t n, ps_err *err)
{
    if (signers == NULL || n == 0 || n > PS_DKIM_MAX_KEYS)
        return ps_err_set(err, "DKIM signing needs 1 to %d keys, got %zu",
                          PS_DKIM_MAX_KEYS, signers == NULL ? 0 : n);
    for (size_t i = 0; i < n; i++) {
        if (signers[i].key == NULL)
            return ps_err_set(err, "DKIM signer %zu has no key", i + 1);
        if (!is_dns_name(signers[i].domain))
            return ps_err_set(err,
                              "DKIM signer %zu: domain \"%.64s\" is "
                              "not a domain name",
                              i + 1,
                              signers[i].domain ? signers[i].domain : "");
        if (!is_dns_name(signers[i].selector))
            return ps_err_set(err,
                              "DKIM signer %zu: selector \"%.64s\" is "
                              "not a valid selector",
                              i + 1,
                              signers[i].selector ? signers[i].selector : "");
    }
    return 0;
}
