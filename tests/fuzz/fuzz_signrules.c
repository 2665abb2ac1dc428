/* libFuzzer target for the signing rules: the input, cut in three at
 * "\n%%\n", is a postseal.conf, a KeyTable and a refile SigningTable.
 * Whatever builds (keys not read) answers lookups for the patterns and
 * domains it holds with at most PS_DKIM_MAX_KEYS well-formed signers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dns/dnsname.h"
#include "signing/signrules.h"

static void check_match(const ps_signrules_match *m, size_t n)
{
    ps_err err;

    if (n != m->count || n > PS_DKIM_MAX_KEYS)
        abort();
    for (size_t i = 0; i < n; i++)
        if (m->signers[i].domain == NULL || m->signers[i].selector == NULL ||
            m->keynames[i] == NULL ||
            ps_dnsname_check_domain(m->signers[i].domain, &err) != 0)
            abort();
}

static void lookups(const ps_signrules *r, const ps_conf *conf,
                    const ps_odkim_signtable *st)
{
    ps_signrules_match m;

    for (size_t i = 0; i < conf->nsigning && i < 8; i++) {
        const char *p = conf->signing[i].pattern;
        check_match(&m, ps_signrules_lookup(r, "u", p + (p[0] == '*' ? 2 : 0),
                                            NULL, &m));
        check_match(&m, ps_signrules_lookup(r, NULL, "nope.invalid", p, &m));
    }
    for (size_t i = 0; st != NULL && i < st->count && i < 8; i++)
        check_match(&m, ps_signrules_lookup(r, "u", st->entries[i].pattern,
                                            "example.com", &m));
}

static const char *cut(char **p)
{
    char *start = *p, *sep = start != NULL ? strstr(start, "\n%%\n") : NULL;

    if (sep != NULL) {
        *sep = '\0';
        *p = sep + 4;
    } else {
        *p = NULL;
    }
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *p = buf;
    const char *parts[3];
    ps_conf *conf = NULL;
    ps_odkim_keytable *kt = NULL;
    ps_odkim_signtable *st = NULL;
    ps_signrules *r = NULL;
    ps_err err;

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (int i = 0; i < 3; i++)
        parts[i] = cut(&p);
    if (ps_conf_parse(parts[0], strlen(parts[0]), "f", &conf, &err) == 0) {
        if (parts[1] != NULL)
            ps_odkim_keytable_parse(parts[1], strlen(parts[1]), "kt", &kt,
                                    &err);
        if (parts[2] != NULL)
            ps_odkim_signtable_parse(parts[2], strlen(parts[2]), "st", 1, &st,
                                     &err);
        if (ps_signrules_build(conf, kt, st, PS_SIGNRULES_NO_KEYS, &r, &err) ==
            0) {
            lookups(r, conf, st);
            ps_signrules_free(r);
        }
        ps_conf_free(conf);
    }
    free(buf);
    return 0;
}
