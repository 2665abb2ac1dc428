/* The HMAC side of the webhook schemes: one streaming MAC per configured
 * secret, and a verdict that compares every received signature with every
 * MAC in constant time, so rotation costs no timing leak. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <string.h>

#include "base/encode.h"
#include "base/secfile.h"

int ps_wh_sigs_add(ps_wh_sigs *sigs, ps_wh_enc enc, const char *p, size_t n)
{
    uint8_t tmp[PS_WH_MAX_HEADER / 2 + 4];
    size_t len = 0;
    int rc;

    if (sigs->n == PS_WH_MAX_SIGS || n > PS_WH_MAX_HEADER)
        return -1;
    if (enc == PS_WH_ENC_HEX)
        rc = ps_hex_decode(p, n, tmp, sizeof(tmp), &len, NULL);
    else
        rc = ps_b64_decode(p, n, tmp, sizeof(tmp), &len, NULL);
    if (rc < 0)
        return -1;
    if (len > PS_WH_SIG_CAP)
        len = PS_WH_SIG_CAP + 1; /* never equal to a MAC size */
    else
        memcpy(sigs->sig[sigs->n], tmp, len);
    sigs->len[sigs->n++] = len;
    return 0;
}

/* An HMAC under secret s: from its prepared key when there is one for alg
 * (always, for the schemes that MAC), else keyed from scratch. */
static ps_hmac *secret_hmac(const ps_wh_secret *s, ps_hmac_alg alg, ps_err *err)
{
    if (s->mac != NULL && ps_hmac_key_alg(s->mac) == alg)
        return ps_hmac_start(s->mac, err);
    return ps_hmac_new(alg, s->data, s->len, err);
}

int ps_wh_macs_start(ps_wh_macs *m, const ps_wh_config *cfg, ps_hmac_alg alg,
                     const void *prefix, size_t plen, ps_err *err)
{
    memset(m, 0, sizeof(*m));
    m->alg = alg;
    for (size_t i = 0; i < cfg->nsecrets; i++) {
        m->n = i + 1;
        if (cfg->secrets[i].pub != NULL)
            continue; /* a public key in the list: h[i] stays NULL */
        m->h[i] = secret_hmac(&cfg->secrets[i], alg, err);
        if (m->h[i] == NULL)
            return -1;
        if (plen > 0 && ps_hmac_update(m->h[i], prefix, plen, err) < 0)
            return -1;
    }
    return 0;
}

int ps_wh_macs_update(ps_wh_macs *m, const void *p, size_t n, ps_err *err)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->h[i] != NULL && ps_hmac_update(m->h[i], p, n, err) < 0)
            return -1;
    return 0;
}

/* 1 if any signature equals mac; every one is compared, in constant time. */
static int sigs_match(const ps_wh_sigs *sigs, const uint8_t *mac, size_t size)
{
    int match = 0;

    for (size_t s = 0; s < sigs->n; s++) {
        if (sigs->len[s] != size)
            continue; /* length is public: not a secret-dependent branch */
        match |= ps_ct_equal(sigs->sig[s], mac, size);
    }
    return match;
}

int ps_wh_macs_final(ps_wh_macs *m, const ps_wh_sigs *sigs, ps_err *err)
{
    uint8_t mac[PS_HMAC_MAX];
    size_t size = ps_hmac_size(m->alg);
    int rc = 0, hit;

    m->match = 0;
    m->which = 0;
    m->has_first = 0;
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        if (m->h[i] == NULL)
            continue;
        rc = ps_hmac_final(m->h[i], mac, err);
        ps_hmac_free(m->h[i]);
        m->h[i] = NULL;
        if (rc < 0)
            break;
        hit = sigs_match(sigs, mac, size);
        m->match |= hit;
        if (hit && m->which == 0) /* after every compare: not a timing leak */
            m->which = (unsigned)i + 1;
        if (!m->has_first)
            memcpy(m->first, mac, size);
        m->has_first = 1;
    }
    ps_wipe(mac, sizeof(mac));
    return rc;
}

void ps_wh_macs_free(ps_wh_macs *m)
{
    for (size_t i = 0; i < m->n; i++)
        ps_hmac_free(m->h[i]);
    ps_wipe(m, sizeof(*m));
}

ps_wh_verdict ps_wh_macs_verdict(ps_wh_req *req, ps_wh_macs *m,
                                 const ps_wh_sigs *sigs, int64_t expires,
                                 ps_wh_result *res)
{
    ps_err err;

    if (ps_wh_macs_final(m, sigs, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    if (!m->match)
        return ps_wh_fail(res, PS_WH_DENIED, "signature does not match");
    ps_wh_set_replay(req, res, m->first, ps_hmac_size(m->alg), expires);
    res->key = m->which;
    res->verdict = PS_WH_OK;
    snprintf(res->reason, sizeof(res->reason), "signature verified");
    return PS_WH_OK;
}

int ps_wh_mac_text(const ps_wh_config *cfg, ps_hmac_alg alg, ps_wh_enc enc,
                   const void *a, size_t alen, const void *b, size_t blen,
                   char *out, size_t outsize, ps_err *err)
{
    uint8_t mac[PS_HMAC_MAX];
    ps_hmac *h;
    size_t n = ps_hmac_size(alg), i = 0;

    while (i < cfg->nsecrets && cfg->secrets[i].pub != NULL)
        i++; /* a public key cannot sign */
    if (i == cfg->nsecrets)
        return ps_err_set(err, "no secret to sign with");
    h = secret_hmac(&cfg->secrets[i], alg, err);
    if (h == NULL)
        return -1;
    if (ps_hmac_update(h, a, alen, err) < 0 ||
        ps_hmac_update(h, b, blen, err) < 0 || ps_hmac_final(h, mac, err) < 0) {
        ps_hmac_free(h);
        return -1;
    }
    ps_hmac_free(h);
    if ((enc == PS_WH_ENC_HEX ? ps_hex_encoded_size(n)
                              : ps_b64_encoded_size(n)) > outsize)
        return ps_err_set(err, "signature does not fit");
    if (enc == PS_WH_ENC_HEX)
        ps_hex_encode(mac, n, out);
    else
        ps_b64_encode(mac, n, out);
    return 0;
}

/* The pieces of a signed prefix ("id" "." "ts" ".") are joined first when
 * they fit in PREFIX_JOIN bytes: one update per secret, not one per piece. */
#define PREFIX_JOIN 512

ps_wh_verdict ps_wh_hmac_start(ps_wh_req *req, ps_hmac_alg alg,
                               const ps_wh_piece *pieces, size_t npieces,
                               ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;
    char joined[PREFIX_JOIN];
    ps_wh_piece one = {joined, 0};
    size_t i;
    ps_err err;

    for (i = 0; i < npieces && pieces[i].n <= sizeof(joined) - one.n; i++) {
        if (pieces[i].n > 0)
            memcpy(joined + one.n, pieces[i].p, pieces[i].n);
        one.n += pieces[i].n;
    }
    if (i == npieces) {
        pieces = &one;
        npieces = 1;
    }
    if (ps_wh_macs_start(&st->macs, req->cfg, alg, NULL, 0, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    for (i = 0; i < npieces; i++)
        if (ps_wh_macs_update(&st->macs, pieces[i].p, pieces[i].n, &err) < 0)
            return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return PS_WH_MORE;
}

ps_wh_verdict ps_wh_hmac_update(ps_wh_req *req, const uint8_t *p, size_t n,
                                ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;
    ps_err err;

    if (ps_wh_macs_update(&st->macs, p, n, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    return PS_WH_MORE;
}

ps_wh_verdict ps_wh_hmac_final(ps_wh_req *req, ps_wh_result *res)
{
    ps_wh_hmac_state *st = req->state;

    return ps_wh_macs_verdict(req, &st->macs, &st->sigs,
                              ps_wh_expiry(req, st->ts), res);
}

void ps_wh_hmac_cleanup(ps_wh_req *req)
{
    ps_wh_hmac_state *st = req->state;

    if (st != NULL)
        ps_wh_macs_free(&st->macs);
}
