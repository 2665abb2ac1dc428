/* libFuzzer target for ARC chain validation (shared/arc/verify.c,
 * chain.c, sig.c, key.c, trust.c): any message, in any body chunking,
 * gives one of the defined results with the reason filled on failure;
 * the key record lookups answer with the input's first line (so the key
 * parser sees arbitrary records) or a fixed RSA key. The cap on checks
 * (arc_max_verify) comes from the input's length, and the lookups made
 * never exceed it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_arc.h"

static const char fixed_key[] =
    "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQClP2LPnBPkBZ+aNDNRE2byQkHcDQI4lGd+"
    "uGdTLdqKilZloXjSonaUIc/"
    "qrBB8QIiyNOKXs+p1KDGgqZ5Ykchc3KRsH8zHUD4D6ZNWhx+qQyj3N7IaSJSC/"
    "o6Zaqn9idSk9on6iU86qckxwTQwt5GBnEddyxyl64Vzg69TFv/QLQIDAQAB";

typedef struct lookup_arg {
    const char *rec;
    size_t len;
    unsigned calls;
} lookup_arg;

static int lookup(void *arg, const char *name, ps_dns_answer *ans)
{
    lookup_arg *a = arg;

    (void)name;
    memset(ans, 0, sizeof(*ans));
    if (a->calls++ % 3 == 2)
        return -1; /* no answer: temperror */
    ans->records[0] =
        a->calls % 2 ? strndup(a->rec, a->len) : strdup(fixed_key);
    ans->count = ans->records[0] != NULL;
    return 0;
}

#define MAX_FIELDS 256

static size_t feed_headers(ps_arc_verify *v, const char *buf, size_t size)
{
    static ps_arc_header h[MAX_FIELDS];
    size_t body, n = fuzz_arc_fields(buf, size, h, MAX_FIELDS, &body);

    for (size_t k = 0; k < n; k++)
        ps_arc_verify_header(v, h[k].name, h[k].name_len, h[k].value,
                             h[k].value_len);
    return body;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data, *nl = memchr(buf, '\n', size);
    lookup_arg arg = {buf, nl ? (size_t)(nl - buf) : size, 0};
    ps_arc_verify *v = ps_arc_verify_new();
    const char *trusted[1] = {"example.org"};
    ps_arc_outcome o;
    size_t body;
    unsigned cap = 2 + (unsigned)(size % (PS_ARC_MAX_VERIFY_LIMIT - 1));

    if (v == NULL)
        abort();
    ps_arc_verify_limit(v, cap);
    body = feed_headers(v, buf, size);
    ps_arc_verify_eoh(v);
    /* two chunks: the split must not matter to the canonicaliser */
    ps_arc_verify_body(v, buf + body, (size - body) / 2);
    ps_arc_verify_body(v, buf + body + (size - body) / 2,
                       size - body - (size - body) / 2);
    ps_arc_verify_final(v, lookup, &arg, &o);
    if (o.result > PS_ARC_RESULT_TEMPERROR || o.count > PS_ARC_MAX_INSTANCES ||
        (o.result != PS_ARC_RESULT_PASS && o.result != PS_ARC_RESULT_NONE &&
         o.reason[0] == '\0') ||
        (o.result == PS_ARC_RESULT_PASS && o.oldest_pass > o.count) ||
        arg.calls > cap || (o.result == PS_ARC_RESULT_PASS && o.count >= cap))
        abort();
    for (unsigned i = 1; i <= o.count; i++)
        (void)ps_arc_aar_passed(ps_arc_verify_sets(v), i, "dmarc");
    (void)ps_arc_trusted_instance(ps_arc_verify_sets(v), &o, trusted, 1);
    ps_arc_verify_free(v);
    return 0;
}
