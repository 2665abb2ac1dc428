/* Re-injection: a content_filter hands mail back to Postfix through a
 * second smtpd that runs the milter again, from 127.0.0.1. The first pass
 * leaves a Postseal-Trace field saying what it did (signed, or judged the
 * message inbound), bound by an HMAC under a per-process key to the field
 * it added; the second pass, from a client we sign for, recognises it and
 * neither signs again nor strips the first pass's Authentication-Results.
 * Trace fields from any other client are removed. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmilter/mfapi.h>

#include "base/encode.h"
#include "crypto/hmac.h"
#include "milter.h"

#define PS_TRACE_KEY   32
#define PS_TRACE_MAC   16 /* bytes kept, hex in the field */
#define PS_TRACE_VALUE 96

/* Made once per process, before the first message needs it; never
 * written again. Neither logged nor kept anywhere else: the random bytes
 * are wiped once the prepared key (the padded states every MAC copies,
 * rather than fetching SHA-256 and hashing the pads per message) holds
 * them. */
static ps_hmac_key *ps_trace_key;
static pthread_once_t ps_trace_once = PTHREAD_ONCE_INIT;

static void ps_trace_key_init(void)
{
    uint8_t k[PS_TRACE_KEY];
    ps_err err;

    if (RAND_bytes(k, sizeof(k)) == 1)
        ps_trace_key = ps_hmac_key_new(PS_HMAC_SHA256, k, sizeof(k), &err);
    OPENSSL_cleanse(k, sizeof(k));
}

static const char *ps_trace_word(ps_trace_verdict v)
{
    return v == PS_TRACE_SIGNED ? "signed" : "inbound";
}

/* The MAC in hex over the verdict and the bound field's value with all
 * white space left out (an MTA or a filter may refold it). */
static int ps_trace_mac(ps_trace_verdict v, const char *bound,
                        char hex[2 * PS_TRACE_MAC + 1], ps_err *err)
{
    ps_hmac *h;
    uint8_t mac[PS_HMAC_MAX];
    const char *word = ps_trace_word(v);
    int rc = 0;

    pthread_once(&ps_trace_once, ps_trace_key_init);
    if (ps_trace_key == NULL)
        return ps_err_set(err, "no random key for the trace field");
    if ((h = ps_hmac_start(ps_trace_key, err)) == NULL)
        return -1;
    rc = ps_hmac_update(h, word, strlen(word) + 1, err);
    for (const char *p = bound; rc == 0 && *p;) {
        /* The field's value without its folding, a run of bytes per
         * update: one update per byte was most of a signed message's
         * trace cost. */
        char run[256];
        size_t n = 0;

        for (; *p && n < sizeof(run); p++)
            if (!isspace((unsigned char)*p))
                run[n++] = *p;
        rc = ps_hmac_update(h, run, n, err);
    }
    if (rc == 0)
        rc = ps_hmac_final(h, mac, err);
    ps_hmac_free(h);
    if (rc == 0)
        hex[ps_hex_encode(mac, PS_TRACE_MAC, hex)] = '\0';
    return rc;
}

int ps_trace_add(void *ctx, ps_trace_verdict v, const char *bound, ps_err *err)
{
    char hex[2 * PS_TRACE_MAC + 1], value[PS_TRACE_VALUE];

    if (ps_trace_mac(v, bound != NULL ? bound : "", hex, err) != 0)
        return -1;
    snprintf(value, sizeof(value), "%s; mac=%s", ps_trace_word(v), hex);
    if (smfi_insheader(ctx, 0, PS_TRACE_NAME, value) != MI_SUCCESS)
        return ps_err_set(err, "the MTA refused the %s field", PS_TRACE_NAME);
    return 0;
}

/* The verdict a field's value names, and its MAC in mac. */
static ps_trace_verdict ps_trace_parse(const char *value, char *mac, size_t cap)
{
    char word[16];
    int end = 0;

    if (sscanf(value, " %15[a-z]; mac=%n", word, &end) != 1 || end == 0 ||
        strspn(value + end, "0123456789abcdef") != 2 * PS_TRACE_MAC ||
        value[end + 2 * PS_TRACE_MAC] != '\0' || cap <= 2 * PS_TRACE_MAC)
        return PS_TRACE_NONE;
    snprintf(mac, cap, "%s", value + end);
    if (strcmp(word, "signed") == 0)
        return PS_TRACE_SIGNED;
    return strcmp(word, "inbound") == 0 ? PS_TRACE_INBOUND : PS_TRACE_NONE;
}

/* The field (DKIM-Signature for signed mail, our Authentication-Results
 * for inbound) the MAC binds, or -1; for inbound mail that got no field
 * (sign-only mode) the MAC binds the empty string, -2. */
static int ps_trace_bound(const ps_msg *m, ps_trace_verdict v, const char *mac)
{
    const char *name =
        v == PS_TRACE_SIGNED ? "DKIM-Signature" : "Authentication-Results";
    char want[2 * PS_TRACE_MAC + 1];
    ps_err err;

    for (size_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(m->hdrs[i].name, name) == 0 &&
            (v == PS_TRACE_SIGNED || m->hdrs[i].forged) &&
            ps_trace_mac(v, m->hdrs[i].value, want, &err) == 0 &&
            ps_ct_equal(want, mac, 2 * PS_TRACE_MAC))
            return (int)i;
    if (v == PS_TRACE_INBOUND && ps_trace_mac(v, "", want, &err) == 0 &&
        ps_ct_equal(want, mac, 2 * PS_TRACE_MAC))
        return -2;
    return -1;
}

void ps_trace_check(ps_session *c)
{
    ps_msg *m = &c->msg;
    int outbound = ps_signpolicy_outbound(c, m);
    char mac[2 * PS_TRACE_MAC + 1];

    for (size_t i = 0; i < m->nhdrs; i++) {
        ps_hdr *h = &m->hdrs[i];
        ps_trace_verdict v;
        int bound;
        if (strcasecmp(h->name, PS_TRACE_NAME) != 0)
            continue;
        if (!outbound) {
            h->forged = 1; /* from outside: never believed, removed */
            continue;
        }
        if (m->trace == PS_TRACE_INBOUND || m->trace == PS_TRACE_SIGNED)
            continue; /* the first verified field decides */
        v = ps_trace_parse(h->value, mac, sizeof(mac));
        bound = v != PS_TRACE_NONE ? ps_trace_bound(m, v, mac) : -1;
        if (bound == -1) {
            m->trace = PS_TRACE_UNVERIFIED;
            continue;
        }
        m->trace = v;
        if (bound >= 0)
            m->hdrs[bound].forged = 0; /* the first pass's own field */
    }
}

/* Only called for a marked message: PS_TRACE_NONE is never passed. */
ps_reason ps_trace_reason(ps_trace_verdict v)
{
    switch (v) {
    case PS_TRACE_SIGNED:
        return PS_WHY_REINJECTED_SIGNED;
    case PS_TRACE_INBOUND:
        return PS_WHY_REINJECTED_INBOUND;
    default:
        return PS_WHY_TRACE_UNVERIFIED;
    }
}
