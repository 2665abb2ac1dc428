/* SPF (RFC 7208) for inbound mail through libspf2: one SPF server per
 * configuration snapshot, its lookups sent to the [milter] resolver, and
 * the verdict turned into the words Authentication-Results uses. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <spf2/spf.h>

#include "milter.h"
#include "spf_dns.h"

int ps_spf_init(ps_snap *s, ps_err *err)
{
    SPF_dns_server_t *dns = ps_spf_dns_new(&s->dns);

    if (dns == NULL)
        return ps_err_set(err, "SPF: out of memory");
    s->spfdns = dns;
    s->spfserver = SPF_server_new_dns(dns, 0);
    if (s->spfserver == NULL)
        return ps_err_set(err, "SPF: cannot create a libspf2 server");
    return 0;
}

void ps_spf_free(ps_snap *s)
{
    if (s->spfserver != NULL)
        SPF_server_free(s->spfserver);
    if (s->spfdns != NULL)
        SPF_dns_free(s->spfdns);
    s->spfserver = NULL;
    s->spfdns = NULL;
}

/* RFC 8601's names for libspf2's results. */
static const char *ps_spf_word(SPF_result_t r)
{
    switch (r) {
    case SPF_RESULT_PASS:
        return "pass";
    case SPF_RESULT_FAIL:
        return "fail";
    case SPF_RESULT_SOFTFAIL:
        return "softfail";
    case SPF_RESULT_NEUTRAL:
        return "neutral";
    case SPF_RESULT_NONE:
        return "none";
    case SPF_RESULT_TEMPERROR:
        return "temperror";
    default:
        return "permerror";
    }
}

static int ps_spf_dns_trouble(SPF_response_t *resp)
{
    int n = SPF_response_messages(resp);

    if (SPF_response_errcode(resp) == SPF_E_DNS_ERROR)
        return 1;
    for (int i = 0; i < n; i++)
        if (SPF_error_code(SPF_response_message(resp, i)) == SPF_E_DNS_ERROR)
            return 1;
    return 0;
}

static int ps_spf_set_addr(SPF_request_t *req, const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS ? 0 : -1;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return SPF_request_set_ipv6(req, a6) == SPF_E_SUCCESS ? 0 : -1;
    return -1;
}

/* What the result is about: the MAIL FROM address, or for the null
 * sender the HELO name (RFC 7208 section 2.4). */
static void ps_spf_subject(const char *helo, const char *mailfrom,
                           ps_spf_result *out)
{
    int null_sender = mailfrom == NULL || *mailfrom == '\0';

    snprintf(out->property, sizeof(out->property), "%s",
             null_sender ? "smtp.helo" : "smtp.mailfrom");
    snprintf(out->value, sizeof(out->value), "%s",
             null_sender ? (helo != NULL ? helo : "") : mailfrom);
}

void ps_spf_check(const ps_snap *s, const char *addr, const char *helo,
                  const char *mailfrom, ps_spf_result *out)
{
    SPF_request_t *req = NULL;
    SPF_response_t *resp = NULL;
    SPF_result_t r = SPF_RESULT_NONE;

    ps_spf_subject(helo, mailfrom, out);
    snprintf(out->result, sizeof(out->result), "none");
    if (s->spfserver == NULL || addr == NULL || *out->value == '\0')
        return;
    if ((req = SPF_request_new(s->spfserver)) == NULL ||
        ps_spf_set_addr(req, addr) != 0) {
        snprintf(out->result, sizeof(out->result), "%s",
                 req == NULL ? "temperror" : "none");
        goto done;
    }
    if (helo != NULL && *helo != '\0')
        SPF_request_set_helo_dom(req, helo);
    if (SPF_request_set_env_from(req, out->value) != 0) {
        snprintf(out->result, sizeof(out->result), "permerror");
        goto done;
    }
    SPF_request_query_mailfrom(req, &resp);
    if (resp != NULL)
        r = SPF_response_result(resp);
    /* libspf2 ends a failed lookup with no result ("invalid") and the
     * DNS error among its messages; RFC 7208 calls that a temperror. */
    if (resp != NULL &&
        (r == SPF_RESULT_INVALID || r == SPF_RESULT_PERMERROR) &&
        ps_spf_dns_trouble(resp))
        r = SPF_RESULT_TEMPERROR;
    snprintf(out->result, sizeof(out->result), "%s",
             resp != NULL ? ps_spf_word(r) : "temperror");
done:
    if (resp != NULL)
        SPF_response_free(resp);
    if (req != NULL)
        SPF_request_free(req);
}
