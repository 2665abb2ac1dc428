/* One message's DMARC evaluation: the author domain from the From fields,
 * policy discovery at _dmarc.DOMAIN and its organizational domain (RFC
 * 7489 section 6.6.3) and, for DMARCbis's np=, whether a subdomain
 * exists; the result with the policy the domain asks for, softened by
 * pct= and t= (section 6.6.4). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dmarc/dmarc.h"

const char *ps_dmarc_result_word(ps_dmarc_result r)
{
    static const char *const words[] = {
        [PS_DMARC_PASS] = "pass",           [PS_DMARC_FAIL] = "fail",
        [PS_DMARC_NONE] = "none",           [PS_DMARC_TEMPERROR] = "temperror",
        [PS_DMARC_PERMERROR] = "permerror",
    };

    return (unsigned)r <= PS_DMARC_PERMERROR ? words[r] : "permerror";
}

ps_dmarc_author ps_dmarc_author_domain(const char *const *from, size_t nfrom,
                                       char domain[PS_MAILBOX_DOMAIN_MAX + 1],
                                       ps_err *why)
{
    ps_mailbox mb[PS_DMARC_MAX_FROM];
    size_t n = 0;

    domain[0] = '\0';
    if (nfrom == 0)
        return ps_err_set(why, "no From field"), PS_DMARC_AUTHOR_NO_FROM;
    if (nfrom > 1)
        return ps_err_set(why, "%zu From fields", nfrom),
               PS_DMARC_AUTHOR_MANY_FIELDS;
    if (ps_mailbox_parse_list(from[0], strlen(from[0]), mb, PS_DMARC_MAX_FROM,
                              &n, why) != 0)
        return PS_DMARC_AUTHOR_UNPARSABLE;
    for (size_t i = 1; i < n; i++)
        if (strcmp(mb[i].domain, mb[0].domain) != 0)
            return ps_err_set(why, "From addresses of several domains"),
                   PS_DMARC_AUTHOR_MANY_DOMAINS;
    snprintf(domain, PS_MAILBOX_DOMAIN_MAX + 1, "%s", mb[0].domain);
    return PS_DMARC_AUTHOR_OK;
}

/* The TXT records at _dmarc.DOMAIN: 1 with the one DMARC record parsed, 0
 * when there is none, -1 with found/why set otherwise. */
static int ps_dmarc_fetch(const char *domain, ps_dmarc_txt_fn lookup, void *arg,
                          ps_dmarc_policy_found *out, ps_err *why)
{
    char name[PS_MAILBOX_DOMAIN_MAX + 8];
    ps_dns_answer ans;
    const char *rec = NULL;
    size_t n = 0;
    int rc = 0;

    memset(&ans, 0, sizeof(ans));
    snprintf(name, sizeof(name), "_dmarc.%s", domain);
    if (lookup(arg, name, &ans) != 0) {
        out->found = PS_DMARC_DNS_ERROR;
        ps_err_set(why, "DNS lookup of %s failed", name);
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < ans.count; i++)
        if (ps_dmarc_is_record(ans.records[i], strlen(ans.records[i])) &&
            n++ == 0)
            rec = ans.records[i];
    if (n == 0)
        goto done;
    out->found = PS_DMARC_BAD_RECORD;
    rc = -1;
    if (n > 1)
        ps_err_set(why, "%zu DMARC records at %s", n, name);
    else if (ps_dmarc_record_parse(rec, strlen(rec), &out->rec, why) == 0)
        out->found = PS_DMARC_FOUND, rc = 1;
done:
    ps_dns_answer_free(&ans);
    return rc;
}

void ps_dmarc_discover(const ps_dmarc_psl *psl, const char *domain,
                       ps_dmarc_txt_fn lookup, void *arg,
                       ps_dmarc_policy_found *out, ps_err *why)
{
    memset(out, 0, sizeof(*out));
    out->found = PS_DMARC_NOT_FOUND;
    if (ps_dmarc_org_domain(psl, domain, out->org, sizeof(out->org)) != 0) {
        out->found = PS_DMARC_BAD_RECORD;
        ps_err_set(why, "From domain too long");
        return;
    }
    if (ps_dmarc_fetch(domain, lookup, arg, out, why) != 0 ||
        strcasecmp(out->org, domain) == 0)
        return;
    if (ps_dmarc_fetch(out->org, lookup, arg, out, why) == 1)
        out->at_org = 1;
}

/* One lookup's say on existence: 1 records, 0 NODATA, -1 NXDOMAIN, -2
 * failed. */
static int ps_dmarc_rr_exists(const char *domain, int type,
                              ps_dmarc_rr_fn lookup, void *arg)
{
    ps_dns_answer ans;
    int rc;

    memset(&ans, 0, sizeof(ans));
    if (lookup(arg, domain, type, &ans) != 0)
        rc = -2;
    else
        rc = ans.nxdomain ? -1 : ans.count > 0;
    ps_dns_answer_free(&ans);
    return rc;
}

int ps_dmarc_domain_absent(const char *domain, ps_dmarc_rr_fn lookup, void *arg)
{
    static const int types[] = {PS_DNS_TYPE_A, PS_DNS_TYPE_AAAA,
                                PS_DNS_TYPE_MX};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        int rc = ps_dmarc_rr_exists(domain, types[i], lookup, arg);

        if (rc == -1)
            return 1;
        if (rc != 0)
            return 0;
    }
    return 1;
}

void ps_dmarc_check_existence(const char *domain, ps_dmarc_rr_fn lookup,
                              void *arg, ps_dmarc_policy_found *found)
{
    found->nonexistent = 0;
    if (found->found != PS_DMARC_FOUND || !found->at_org ||
        found->rec.np == found->rec.sp)
        return;
    found->nonexistent = ps_dmarc_domain_absent(domain, lookup, arg);
}

const char *ps_dmarc_policy_tag(const ps_dmarc_verdict *v)
{
    return v->by_np ? "np" : v->by_sp ? "sp" : "p";
}

/* reject softens to quarantine, quarantine to none (section 6.6.4). */
static ps_dmarc_policy ps_dmarc_softer(ps_dmarc_policy p)
{
    return p == PS_DMARC_POLICY_REJECT ? PS_DMARC_POLICY_QUARANTINE
                                       : PS_DMARC_POLICY_NONE;
}

static void ps_dmarc_align_all(const ps_dmarc_psl *psl, const char *domain,
                               const ps_dmarc_record *rec,
                               const ps_dmarc_auth *auth, ps_dmarc_verdict *v)
{
    for (size_t i = 0; i < auth->ndkim && !v->dkim_aligned; i++)
        v->dkim_aligned =
            ps_dmarc_aligned(psl, auth->dkim_pass[i], domain, rec->adkim);
    v->spf_aligned = ps_dmarc_aligned(psl, auth->spf_pass, domain, rec->aspf);
}

static ps_dmarc_result ps_dmarc_found_result(ps_dmarc_found f)
{
    switch (f) {
    case PS_DMARC_NOT_FOUND:
        return PS_DMARC_NONE;
    case PS_DMARC_DNS_ERROR:
        return PS_DMARC_TEMPERROR;
    default:
        return PS_DMARC_PERMERROR;
    }
}

void ps_dmarc_evaluate(const ps_dmarc_psl *psl, const char *domain,
                       const ps_dmarc_policy_found *found,
                       const ps_dmarc_auth *auth, int roll,
                       ps_dmarc_verdict *out)
{
    const ps_dmarc_record *rec = &found->rec;

    memset(out, 0, sizeof(*out));
    out->apply = PS_DMARC_POLICY_NONE;
    if (found->found != PS_DMARC_FOUND) {
        out->result = ps_dmarc_found_result(found->found);
        return;
    }
    out->by_np = found->at_org && found->nonexistent;
    out->by_sp = found->at_org && !out->by_np;
    out->requested = out->by_np ? rec->np : out->by_sp ? rec->sp : rec->p;
    ps_dmarc_align_all(psl, domain, rec, auth, out);
    out->result =
        out->dkim_aligned || out->spf_aligned ? PS_DMARC_PASS : PS_DMARC_FAIL;
    if (out->result != PS_DMARC_FAIL)
        return;
    out->apply = out->requested;
    if (rec->testing || roll >= rec->pct) {
        out->sampled_out = out->apply != PS_DMARC_POLICY_NONE;
        out->apply = ps_dmarc_softer(out->apply);
    }
}
