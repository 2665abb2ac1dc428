/* ARC chain validation (RFC 8617 5.2) as the message streams in: header
 * fields kept, a body hash per ARC-Message-Signature, then at the end the
 * structure, the cv= chain, the newest AMS, the oldest-pass and every
 * ARC-Seal checked with keys from the caller's lookup. */
#include "arc/verify_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

ps_arc_verify *ps_arc_verify_new(void)
{
    ps_arc_verify *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    v->store.max = PS_ARC_MAX_HEADER_BYTES;
    v->max_verify = PS_ARC_MAX_VERIFY_DEFAULT;
    v->sets = ps_arc_sets_new();
    if (v->sets == NULL) {
        free(v);
        return NULL;
    }
    return v;
}

void ps_arc_verify_limit(ps_arc_verify *v, unsigned max_verify)
{
    v->max_verify = max_verify >= 2 && max_verify <= PS_ARC_MAX_VERIFY_LIMIT
                        ? max_verify
                        : PS_ARC_MAX_VERIFY_DEFAULT;
}

static int grow_fields(ps_arc_verify *v)
{
    size_t cap = v->capfields ? v->capfields * 2 : 32;
    size_t **arrs[4] = {&v->name_off, &v->value_off, &v->name_len,
                        &v->value_len};

    for (int k = 0; k < 4; k++) {
        size_t *p = realloc(*arrs[k], cap * sizeof(size_t));

        if (p == NULL)
            return -1;
        *arrs[k] = p;
    }
    v->capfields = cap;
    return 0;
}

void ps_arc_verify_header(ps_arc_verify *v, const char *name, size_t nlen,
                          const char *value, size_t vlen)
{
    size_t n = v->nfields, off = v->store.len;

    if (v->overflow || n >= PS_ARC_MAX_FIELDS ||
        (n == v->capfields && grow_fields(v) < 0) ||
        ps_dkim_buf_add(&v->store, name, nlen) < 0 ||
        ps_dkim_buf_add(&v->store, "", 1) < 0 ||
        ps_dkim_buf_add(&v->store, value, vlen) < 0 ||
        ps_dkim_buf_add(&v->store, "", 1) < 0) {
        v->overflow = 1;
        return;
    }
    v->name_off[n] = off;
    v->name_len[n] = nlen;
    v->value_off[n] = off + nlen + 1;
    v->value_len[n] = vlen;
    v->nfields++;
}

static int hash_sink(void *arg, const uint8_t *p, size_t n)
{
    body_hash *h = arg;

    if (h->limit != UINT64_MAX && n > h->limit - h->taken)
        n = (size_t)(h->limit - h->taken);
    h->taken += n;
    return n == 0 || EVP_DigestUpdate(h->md, p, n) == 1 ? 0 : -1;
}

/* l= (a decimal count of body bytes), or UINT64_MAX when absent; -1 for
 * a value that is not a number. */
static int read_limit(const ps_tag *l, uint64_t *out)
{
    uint64_t val = 0;

    *out = UINT64_MAX;
    if (l == NULL)
        return 0;
    if (l->value_len == 0 || l->value_len > 18)
        return -1;
    for (size_t k = 0; k < l->value_len; k++) {
        if (l->value[k] < '0' || l->value[k] > '9')
            return -1;
        val = val * 10 + (uint64_t)(l->value[k] - '0');
    }
    *out = val;
    return 0;
}

static int hash_for(ps_arc_verify *v, ps_canon canon, uint64_t limit)
{
    body_hash *h;

    for (size_t k = 0; k < v->nhashes; k++)
        if (v->hashes[k].canon == canon && v->hashes[k].limit == limit)
            return (int)k;
    h = &v->hashes[v->nhashes];
    h->md = EVP_MD_CTX_new();
    if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return -1;
    }
    h->canon = canon;
    h->limit = limit;
    ps_dkim_body_init(&h->body, canon, hash_sink, h);
    return (int)v->nhashes++;
}

void ps_arc_verify_eoh(ps_arc_verify *v)
{
    v->hdrs = calloc(v->nfields + 1, sizeof(*v->hdrs));
    if (v->hdrs == NULL) {
        v->overflow = 1;
        return;
    }
    for (size_t k = 0; k < v->nfields; k++)
        v->hdrs[k] =
            (ps_arc_header){v->store.data + v->name_off[k], v->name_len[k],
                            v->store.data + v->value_off[k], v->value_len[k]};
    ps_arc_sets_parse(v->hdrs, v->nfields, v->sets, NULL);
    for (unsigned i = 0; i < v->sets->count; i++)
        v->ams_hash[i] = -1;
    /* The newest AMS and, for the oldest-pass, the older ones the cap
     * leaves checks for: no more body hashes than checks. */
    for (unsigned i = v->sets->count; i-- > 0;) {
        const ps_arc_field *ams = &v->sets->set[i].part[PS_ARC_AMS];
        ps_canon hc, bc;
        uint64_t limit;

        if (v->sets->count + (v->sets->count - i) > v->max_verify)
            break;
        if (ams->present &&
            ps_arc_canon_parse(ps_tagval_find(&ams->tags, "c"), &hc, &bc) ==
                0 &&
            read_limit(ps_tagval_find(&ams->tags, "l"), &limit) == 0)
            v->ams_hash[i] = hash_for(v, bc, limit);
    }
}

void ps_arc_verify_body(ps_arc_verify *v, const void *data, size_t n)
{
    for (size_t k = 0; k < v->nhashes; k++)
        ps_dkim_body_update(&v->hashes[k].body, data, n);
}

const ps_arc_sets *ps_arc_verify_sets(const ps_arc_verify *v)
{
    return v->sets;
}

void ps_arc_verify_free(ps_arc_verify *v)
{
    if (v == NULL)
        return;
    for (size_t k = 0; k < v->nhashes; k++)
        EVP_MD_CTX_free(v->hashes[k].md);
    ps_dkim_buf_free(&v->store);
    free(v->name_off);
    free(v->value_off);
    free(v->name_len);
    free(v->value_len);
    free(v->hdrs);
    ps_arc_sets_free(v->sets);
    free(v);
}

const char *ps_arc_result_name(ps_arc_result r)
{
    static const char *const names[] = {
        [PS_ARC_RESULT_NONE] = "none",
        [PS_ARC_RESULT_PASS] = "pass",
        [PS_ARC_RESULT_FAIL] = "fail",
        [PS_ARC_RESULT_TEMPERROR] = "temperror",
    };

    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}
