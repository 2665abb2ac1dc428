/* Internals of the DKIM signer shared by its files: the per-message
 * context, header selection (dkim_select.c), the signature header text
 * (dkim_sigtext.c) and the signing step (dkim_crypto.c). */
#ifndef PS_DKIM_INT_H
#define PS_DKIM_INT_H

#include <openssl/evp.h>

#include "dkim/dkim.h"
#include "dkim/canon_int.h"

#define PS_DKIM_HASH_LEN   32 /* SHA-256, the only hash DKIM still allows */
#define PS_DKIM_SIG_MAX    (PS_KEY_RSA_MAX_BITS / 8)
#define PS_DKIM_NAME_MAX   256              /* a header field name, in bytes */
#define PS_DKIM_MAX_TIME   253402300799LL   /* 9999-12-31: t= stays in range */
#define PS_DKIM_MAX_EXPIRE (3660LL * 86400) /* ten years of x= */

/* A header field that may be signed: its name (trailing WSP removed) and
 * canonical form, both as offsets into the context's store. */
typedef struct ps_dkim_hdr {
    size_t name_off, name_len;
    size_t canon_off, canon_len;
} ps_dkim_hdr;

struct ps_dkim_sign {
    ps_dkim_params params; /* lists resolved to the defaults where NULL */
    ps_dkim_signer signers[PS_DKIM_MAX_KEYS];
    size_t nsigners;
    time_t now;
    unsigned arc_instance; /* 0: DKIM-Signature */
    size_t nfields;        /* every header field seen, signed or not */
    ps_dkim_hdr *hdrs;
    size_t nhdrs, caphdrs;
    ps_dkim_buf store;
    EVP_MD_CTX *bodymd;
    ps_dkim_body body;
    int in_body, done;
};

/* Case-insensitive match of a configured name ("List-*": a prefix). */
int ps_dkim_name_match(const char *pattern, const char *name, size_t len);
/* Whether a field name from a message can be listed in h= at all. */
int ps_dkim_name_ok(const char *name, size_t len);

/* Resolves NULL lists to the defaults into *out and checks everything. */
int ps_dkim_check_params(const ps_dkim_params *in, ps_dkim_params *out,
                         ps_err *err);
int ps_dkim_check_signers(const ps_dkim_signer *signers, size_t n, ps_err *err);

/* The h= list (names joined by ':') and, in the same order, the
 * canonical header fields it selects, bottom-up per RFC 6376 5.4.2. */
int ps_dkim_select(const ps_dkim_sign *s, ps_dkim_buf *hlist,
                   ps_dkim_buf *hdata, ps_err *err);

/* The DKIM-Signature value up to and including "b=", folded; the base64
 * signature is added by ps_dkim_sigtext_add_b. */
typedef struct ps_dkim_sigtext_in {
    const char *field; /* the header field name the value goes under */
    unsigned instance; /* ARC: i= first, no v=; 0: DKIM */
    const char *cv;    /* ARC-Seal: cv=, and no c=, x=, h=, bh= */
    const char *algorithm;
    ps_canon hcanon, bcanon;
    const char *domain, *selector;
    long long t, x; /* x < 0: no x= */
    const char *hlist;
    size_t hlist_len;
    const char *bh; /* base64 */
} ps_dkim_sigtext_in;

int ps_dkim_sigtext(const ps_dkim_sigtext_in *in, ps_dkim_buf *out);
int ps_dkim_sigtext_add_b(ps_dkim_buf *out, const char *b64);

/* The whole signature value of in (DKIM-Signature, ARC-Message-Signature
 * or ARC-Seal): its text, canonicalised under in->field with hcanon after
 * hdr (the canonical fields it covers), signed with key, b= filled in.
 * *value is malloc'd. */
int ps_dkim_sig_make(const ps_dkim_sigtext_in *in, const ps_key *key,
                     const char *hdr, size_t hlen, char **value, ps_err *err);

/* Signs hdr (the selected canonical fields) followed by sig (the
 * canonical DKIM-Signature field with empty b=, without its CRLF):
 * rsa-sha256 as PKCS#1 v1.5 over SHA-256, ed25519-sha256 as pure Ed25519
 * over the SHA-256 of the data (RFC 8463). out holds PS_DKIM_SIG_MAX. */
int ps_dkim_crypto_sign(const ps_key *key, const char *hdr, size_t hlen,
                        const char *sig, size_t slen, uint8_t *out,
                        size_t *outlen, ps_err *err);

#endif
