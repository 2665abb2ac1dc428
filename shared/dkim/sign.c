/* The DKIM signing context of one message: header fields kept in
 * canonical form as they arrive, the body canonicalised and hashed once
 * for every key as it streams, and one DKIM-Signature per key at the end. */
#include "dkim/dkim_int.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"

/* What a reader sees and a forwarder must not change; List-* for mailing
 * list software that signs as the list. */
const char *const ps_dkim_default_headers[] = {
    "From",       "To",           "Cc",           "Subject",
    "Date",       "Message-ID",   "Reply-To",     "In-Reply-To",
    "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "List-*"};
const size_t ps_dkim_default_nheaders =
    sizeof(ps_dkim_default_headers) / sizeof(ps_dkim_default_headers[0]);

/* The fields a replay would add a second copy of to change what is
 * displayed while the signature still verifies. */
const char *const ps_dkim_default_oversign[] = {"From", "Subject", "Date",
                                                "To",   "Cc",      "Reply-To"};
const size_t ps_dkim_default_noversign =
    sizeof(ps_dkim_default_oversign) / sizeof(ps_dkim_default_oversign[0]);

static int md_sink(void *arg, const uint8_t *p, size_t n)
{
    return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : -1;
}

ps_dkim_sign *ps_dkim_sign_new(const ps_dkim_params *params,
                               const ps_dkim_signer *signers, size_t nsigners,
                               time_t now, ps_err *err)
{
    ps_dkim_sign *s;

    if (ps_dkim_check_signers(signers, nsigners, err) < 0)
        return NULL;
    if (now < 0 || (long long)now > PS_DKIM_MAX_TIME) {
        ps_err_set(err, "DKIM signing time %lld is out of range",
                   (long long)now);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ps_err_set(err, "DKIM signing: out of memory");
        return NULL;
    }
    if (ps_dkim_check_params(params, &s->params, err) < 0) {
        free(s);
        return NULL;
    }
    memcpy(s->signers, signers, nsigners * sizeof(*signers));
    s->nsigners = nsigners;
    s->now = now;
    s->store.max = PS_DKIM_MAX_HEADER_BYTES;
    s->bodymd = EVP_MD_CTX_new();
    if (s->bodymd == NULL ||
        EVP_DigestInit_ex(s->bodymd, EVP_sha256(), NULL) != 1) {
        ps_err_openssl(err, "DKIM signing: cannot start SHA-256");
        ps_dkim_sign_free(s);
        return NULL;
    }
    ps_dkim_body_init(&s->body, s->params.body_canon, md_sink, s->bodymd);
    return s;
}

/* Whether a field of this name can end up in h=: only those are kept. */
static int wanted(const ps_dkim_params *p, const char *name, size_t len)
{
    if (!ps_dkim_name_ok(name, len))
        return 0;
    for (size_t i = 0; i < p->nsign_headers; i++)
        if (ps_dkim_name_match(p->sign_headers[i], name, len))
            return 1;
    for (size_t i = 0; i < p->noversign_headers; i++)
        if (ps_dkim_name_match(p->oversign_headers[i], name, len))
            return 1;
    return 0;
}

static int keep_header(ps_dkim_sign *s, const char *name, size_t nlen,
                       size_t trimmed, const char *value, ps_err *err)
{
    ps_dkim_hdr *h;
    size_t mark = s->store.len;

    if (s->nhdrs == s->caphdrs) {
        size_t cap = s->caphdrs ? 2 * s->caphdrs : 16;
        ps_dkim_hdr *p = realloc(s->hdrs, cap * sizeof(*p));
        if (p == NULL)
            return ps_err_set(err, "DKIM signing: out of memory");
        s->hdrs = p;
        s->caphdrs = cap;
    }
    h = &s->hdrs[s->nhdrs];
    h->name_off = s->store.len;
    h->name_len = trimmed;
    if (ps_dkim_buf_add(&s->store, name, trimmed) < 0)
        goto full;
    h->canon_off = s->store.len;
    if (ps_dkim_canon_header(s->params.header_canon, name, nlen, value,
                             strlen(value), &s->store) < 0)
        goto full;
    h->canon_len = s->store.len - h->canon_off;
    s->nhdrs++;
    return 0;
full:
    s->store.len = mark;
    return ps_err_set(err,
                      "DKIM signing: header fields to sign exceed %d "
                      "bytes (at \"%.*s\")",
                      PS_DKIM_MAX_HEADER_BYTES,
                      (int)(trimmed > 64 ? 64 : trimmed), name);
}

int ps_dkim_sign_header(ps_dkim_sign *s, const char *name, const char *value,
                        ps_err *err)
{
    size_t nlen, trimmed;

    if (s->in_body || s->done)
        return ps_err_set(err, "DKIM signing: header field after the body");
    if (name == NULL || value == NULL)
        return ps_err_set(err, "DKIM signing: header field without name or "
                               "value");
    nlen = strlen(name);
    trimmed = nlen;
    while (trimmed > 0 &&
           (name[trimmed - 1] == ' ' || name[trimmed - 1] == '\t'))
        trimmed--;
    if (trimmed == 0)
        return ps_err_set(err, "DKIM signing: header field with an empty "
                               "name");
    if (s->nfields >= PS_DKIM_MAX_HEADERS)
        return ps_err_set(err, "DKIM signing: more than %d header fields",
                          PS_DKIM_MAX_HEADERS);
    s->nfields++;
    if (!wanted(&s->params, name, trimmed))
        return 0;
    return keep_header(s, name, nlen, trimmed, value, err);
}

int ps_dkim_sign_body(ps_dkim_sign *s, const uint8_t *data, size_t n,
                      ps_err *err)
{
    if (s->done)
        return ps_err_set(err, "DKIM signing: body after the end");
    if (data == NULL && n > 0)
        return ps_err_set(err, "DKIM signing: body chunk without data");
    s->in_body = 1;
    if (ps_dkim_body_update(&s->body, data, n) < 0)
        return ps_err_openssl(err, "DKIM signing: body hash failed");
    return 0;
}

int ps_dkim_sig_make(const ps_dkim_sigtext_in *in, const ps_key *key,
                     const char *hdr, size_t hlen, char **value, ps_err *err)
{
    ps_dkim_buf text = {.max = PS_DKIM_MAX_HEADER_BYTES + 65536};
    ps_dkim_buf canon = {.max = 2 * text.max + 64};
    uint8_t sig[PS_DKIM_SIG_MAX];
    char b64[PS_DKIM_SIG_MAX * 4 / 3 + 8];
    size_t siglen = sizeof(sig);
    int rc = -1;

    if (ps_dkim_sigtext(in, &text) < 0 ||
        ps_dkim_canon_header(in->hcanon, in->field, strlen(in->field),
                             text.data, text.len, &canon) < 0) {
        ps_err_set(err, "DKIM signing: signature header too large");
        goto done;
    }
    if (ps_dkim_crypto_sign(key, hdr, hlen, canon.data, canon.len - 2, sig,
                            &siglen, err) < 0)
        goto done;
    ps_b64_encode(sig, siglen, b64);
    if (ps_dkim_sigtext_add_b(&text, b64) < 0 ||
        ps_dkim_buf_add(&text, "", 1) < 0) {
        ps_err_set(err, "DKIM signing: signature header too large");
        goto done;
    }
    *value = text.data;
    text.data = NULL;
    rc = 0;
done:
    ps_dkim_buf_free(&text);
    ps_dkim_buf_free(&canon);
    return rc;
}

/* One signature value for signer i (DKIM-Signature or, with an ARC
 * instance, ARC-Message-Signature), malloc'd into *value. */
static int sign_one(const ps_dkim_sign *s, size_t i, const ps_dkim_buf *hl,
                    const ps_dkim_buf *hd, const char *bh, char **value,
                    ps_err *err)
{
    const ps_dkim_signer *sg = &s->signers[i];
    const ps_dkim_params *p = &s->params;
    ps_dkim_sigtext_in in = {
        .field = s->arc_instance ? "ARC-Message-Signature" : "DKIM-Signature",
        .instance = s->arc_instance,
        .algorithm = ps_key_algorithm(sg->key),
        .hcanon = p->header_canon,
        .bcanon = p->body_canon,
        .domain = sg->domain,
        .selector = sg->selector,
        .t = (long long)s->now,
        .x = p->expire_after > 0
                 ? (long long)s->now + (long long)p->expire_after
                 : -1,
        .hlist = hl->data,
        .hlist_len = hl->len,
        .bh = bh};

    return ps_dkim_sig_make(&in, sg->key, hd->data, hd->len, value, err);
}

static int body_hash_b64(ps_dkim_sign *s, char *bh, ps_err *err)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (ps_dkim_body_final(&s->body) < 0 ||
        EVP_DigestFinal_ex(s->bodymd, md, &mdlen) != 1 ||
        mdlen != PS_DKIM_HASH_LEN)
        return ps_err_openssl(err, "DKIM signing: body hash failed");
    ps_b64_encode(md, mdlen, bh);
    return 0;
}

int ps_dkim_sign_final(ps_dkim_sign *s, char ***values, size_t *count,
                       ps_err *err)
{
    ps_dkim_buf hl = {.max = PS_DKIM_MAX_HEADER_BYTES};
    ps_dkim_buf hd = {.max = PS_DKIM_MAX_HEADER_BYTES};
    char bh[64], **v = NULL;
    size_t i = 0;
    int rc = -1;

    *values = NULL;
    *count = 0;
    if (s->done)
        return ps_err_set(err, "DKIM signing: message already signed");
    s->done = 1;
    if (body_hash_b64(s, bh, err) < 0 || ps_dkim_select(s, &hl, &hd, err) < 0)
        goto done;
    v = calloc(s->nsigners, sizeof(*v));
    if (v == NULL) {
        ps_err_set(err, "DKIM signing: out of memory");
        goto done;
    }
    for (i = 0; i < s->nsigners; i++)
        if (sign_one(s, i, &hl, &hd, bh, &v[i], err) < 0)
            goto done;
    *values = v;
    *count = s->nsigners;
    v = NULL;
    rc = 0;
done:
    for (size_t j = 0; v != NULL && j < i; j++)
        free(v[j]);
    free(v);
    ps_dkim_buf_free(&hl);
    ps_dkim_buf_free(&hd);
    return rc;
}

int ps_dkim_sign_arc_instance(ps_dkim_sign *s, unsigned instance, ps_err *err)
{
    if (instance < 1 || instance > PS_DKIM_ARC_MAX_INSTANCE)
        return ps_err_set(err, "ARC instance %u is not 1 to %d", instance,
                          PS_DKIM_ARC_MAX_INSTANCE);
    if (s->done)
        return ps_err_set(err, "DKIM signing: message already signed");
    s->arc_instance = instance;
    return 0;
}

void ps_dkim_sign_free(ps_dkim_sign *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->bodymd);
    free(s->hdrs);
    ps_dkim_buf_free(&s->store);
    free(s);
}
