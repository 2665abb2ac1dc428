/* The SigningCertURL of an SNS message, held to what every AWS validator
 * requires (https, a host sns.REGION.amazonaws.com[.cn], a .pem file) even
 * though the certificate is pinned: its file name picks the pinned one. */
#include "webhook/webhook_int.h"

#include <string.h>

#define HTTPS       "https://"
#define HOST_SUFFIX ".amazonaws.com"
#define CN_SUFFIX   ".cn"
#define REGION_MIN  3 /* aws-js-sns-message-validator: [a-zA-Z0-9-]{3,} */
#define PEM_SUFFIX  ".pem"

static int region_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-';
}

/* sns.REGION.amazonaws.com or sns.REGION.amazonaws.com.cn, any case, no
 * port and no user. */
static int host_ok(const char *p, size_t n)
{
    size_t k = strlen(HOST_SUFFIX), i;

    if (n > 3 && ps_wh_ieq(p + n - 3, 3, CN_SUFFIX))
        n -= 3;
    if (n < 4 + REGION_MIN + k || !ps_wh_ieq(p, 4, "sns.") ||
        !ps_wh_ieq(p + n - k, k, HOST_SUFFIX))
        return 0;
    for (i = 4; i < n - k; i++)
        if (!region_char(p[i]))
            return 0;
    return 1;
}

/* A path segment character we let through: RFC 3986 unreserved, '%' and
 * the sub-delims AWS never uses are refused, so no query or fragment. */
static int path_char(char c)
{
    return region_char(c) || c == '.' || c == '_' || c == '~' || c == '/';
}

int ps_wh_sns_cert_url(const char *p, size_t n, const char **name,
                       size_t *namelen)
{
    size_t k = strlen(HTTPS), host, i, last;

    if (n <= k || !ps_wh_ieq(p, k, HTTPS))
        return -1;
    for (host = k; host < n && p[host] != '/'; host++)
        ;
    if (host == n || !host_ok(p + k, host - k))
        return -1;
    last = host + 1;
    for (i = host; i < n; i++) {
        if (!path_char(p[i]))
            return -1;
        if (p[i] == '/')
            last = i + 1;
    }
    k = strlen(PEM_SUFFIX);
    if (n - last <= k || !ps_wh_ieq(p + n - k, k, PEM_SUFFIX))
        return -1;
    *name = p + last;
    *namelen = n - last;
    return 0;
}
