/* The syntax of DNS names postseal takes from an admin or a message: domains
 * we sign for or publish under, DKIM selectors, SPF includes. Runs on every
 * message (From domains), so it lives apart from the record builder. */
#include "dns/dnsname.h"

#include <string.h>

#define DNS_NAME_MAX  253
#define DNS_LABEL_MAX 63

/* Names we publish under are host names (LDH); names we only point at,
 * like SPF includes, may hold '_' (_spf.example.net). */
typedef struct name_rule {
    const char *what; /* for messages: "domain", "selector", ... */
    int underscore;   /* '_' allowed in labels */
} name_rule;

static int is_name_char(const name_rule *r, unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || (r->underscore && c == '_');
}

int ps_dnsname_check_printable(const char *what, const char *s, ps_err *err)
{
    for (size_t i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return ps_err_set(err,
                              "%s: byte 0x%02x at offset %zu is not "
                              "allowed (whitespace, control or non-ASCII)",
                              what, (unsigned char)s[i], i);
    return 0;
}

static int check_label(const name_rule *r, const char *s, size_t start,
                       size_t len, ps_err *err)
{
    const char *l = s + start;

    if (len == 0)
        return ps_err_set(err, "%s \"%.100s\": empty label at offset %zu",
                          r->what, s, start);
    if (len > DNS_LABEL_MAX)
        return ps_err_set(err,
                          "%s \"%.100s\": label \"%.*s\" is %zu bytes "
                          "long (at most %d)",
                          r->what, s, (int)len, l, len, DNS_LABEL_MAX);
    if (l[0] == '-' || l[len - 1] == '-')
        return ps_err_set(err,
                          "%s \"%.100s\": label \"%.*s\" starts or ends "
                          "with '-'",
                          r->what, s, (int)len, l);
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(r, (unsigned char)l[i]))
            return ps_err_set(err,
                              "%s \"%.100s\": character '%c' at offset "
                              "%zu is not allowed (letters, digits, '-'%s and "
                              "'.' only)",
                              r->what, s, l[i], start + i,
                              r->underscore ? ", '_'" : "");
    return 0;
}

/* Checks every dot-separated label of s[0..len); returns the label count
 * through *labels and the start of the last label through *last. */
static int check_labels(const name_rule *r, const char *s, size_t len,
                        size_t *labels, size_t *last, ps_err *err)
{
    size_t start = 0;

    *labels = 0;
    if (len == 0)
        return ps_err_set(err, "%s is empty", r->what);
    if (len > DNS_NAME_MAX)
        return ps_err_set(err,
                          "%s \"%.100s...\" is %zu bytes long (at most "
                          "%d)",
                          r->what, s, len, DNS_NAME_MAX);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (check_label(r, s, start, i - start, err) < 0)
            return -1;
        *last = start;
        (*labels)++;
        start = i + 1;
    }
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* A fully qualified name: two labels or more, one trailing '.' allowed,
 * and not an IPv4 address (whose last label is all digits). */
static int check_fqdn(const name_rule *r, const char *name, ps_err *err)
{
    size_t len, labels, last = 0;

    if (name == NULL)
        return ps_err_set(err, "%s is missing", r->what);
    if (ps_dnsname_check_printable(r->what, name, err) < 0)
        return -1;
    len = strlen(name);
    if (len > 1 && name[len - 1] == '.')
        len--; /* an absolute name, as zone files spell it */
    if (check_labels(r, name, len, &labels, &last, err) < 0)
        return -1;
    if (labels < 2)
        return ps_err_set(err,
                          "%s \"%s\": needs at least two labels "
                          "(like example.com)",
                          r->what, name);
    if (all_digits(name + last, len - last))
        return ps_err_set(err,
                          "%s \"%s\": looks like an IP address, "
                          "not a domain",
                          r->what, name);
    return 0;
}

int ps_dnsname_check_domain(const char *name, ps_err *err)
{
    static const name_rule rule = {"domain", 0};

    return check_fqdn(&rule, name, err);
}

int ps_dnsname_check_selector(const char *sel, ps_err *err)
{
    static const name_rule rule = {"selector", 0};
    size_t labels, last;

    if (sel == NULL)
        return ps_err_set(err, "selector is missing");
    if (ps_dnsname_check_printable(rule.what, sel, err) < 0)
        return -1;
    return check_labels(&rule, sel, strlen(sel), &labels, &last, err);
}

int ps_dnsname_check_spf_include(const char *name, ps_err *err)
{
    static const name_rule rule = {"SPF include", 1};

    return check_fqdn(&rule, name, err);
}
