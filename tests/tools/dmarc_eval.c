/* Test driver: the core's DMARC evaluation of one message's identifiers
 * against a DNS server, for comparison with other implementations.
 * dmarc_eval RESOLVER FROM_DOMAIN SPF_DOMAIN|- [DKIM_DOMAIN...] prints
 * "result=R policy=P apply=A": P is the requested policy (or -), A the
 * policy after pct= with the sampling roll fixed at 0; np= applies when
 * the From domain does not exist (A, AAAA and MX looked up there too). */
#include <stdio.h>
#include <string.h>

#include "dmarc/dmarc.h"

/* The core's DNS hook over ps_dns_txt: a failed lookup is temporary. */
static int lookup(void *arg, const char *name, ps_dns_answer *ans)
{
    ps_err err = {""};

    return ps_dns_txt(arg, name, ans, &err) == 0 ? 0 : -1;
}

/* The existence hook (np=), the same way. */
static int lookup_rr(void *arg, const char *name, int type, ps_dns_answer *ans)
{
    ps_err err = {""};

    return ps_dns_lookup(arg, name, type, ans, &err) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    ps_dmarc_psl *psl;
    ps_dmarc_policy_found found;
    ps_dmarc_verdict v;
    ps_err err = {""};
    int has_policy;

    if (argc < 4) {
        fprintf(stderr, "usage: dmarc_eval RESOLVER FROM SPF|- [DKIM...]\n");
        return 2;
    }
    if (ps_dmarc_psl_load(NULL, &psl, &err) != 0) {
        fprintf(stderr, "dmarc_eval: %s\n", err.msg);
        return 2;
    }
    ps_dmarc_auth auth = {(const char *const *)argv + 4, (size_t)argc - 4,
                          strcmp(argv[3], "-") != 0 ? argv[3] : NULL};
    ps_dmarc_discover(psl, argv[2], lookup, argv[1], &found, &err);
    ps_dmarc_check_existence(argv[2], lookup_rr, argv[1], &found);
    ps_dmarc_evaluate(psl, argv[2], &found, &auth, 0, &v);
    has_policy = v.result == PS_DMARC_PASS || v.result == PS_DMARC_FAIL;
    printf("result=%s policy=%s apply=%s\n", ps_dmarc_result_word(v.result),
           has_policy ? ps_dmarc_policy_word(v.requested) : "-",
           ps_dmarc_policy_word(v.apply));
    ps_dmarc_psl_free(psl);
    return 0;
}
