/* Internal to the webhook schemes: the configuration and request structs,
 * the table each scheme file fills in, and the helpers they share (header
 * lookup, timestamps, the multi-secret MAC set, digests, JSON and forms). */
#ifndef PS_WEBHOOK_INT_H
#define PS_WEBHOOK_INT_H

#include <stdint.h>

#include "crypto/hmac.h"
#include "crypto/pubkey.h"
#include "webhook/webhook.h"

/* mac: the secret prepared as an HMAC-SHA256 key for the schemes that MAC
 * with it (PS_WH_USES_HMAC), NULL for the others; made when the secret is
 * added, so a request copies a keyed context instead of fetching HMAC.
 * pub: instead of data, an Ed25519 public key given in the secret list
 * (Standard Webhooks' whpk_), so one list rotates across both kinds. */
typedef struct ps_wh_secret {
    uint8_t *data;
    size_t len;
    ps_hmac_key *mac;
    EVP_PKEY *pub;
} ps_wh_secret;

/* sha256: fetched once here for the replay ids, for the same reason. */
struct ps_wh_config {
    ps_wh_scheme scheme;
    const struct ps_wh_ops *ops;
    ps_wh_secret secrets[PS_WH_MAX_SECRETS];
    size_t nsecrets;
    ps_pubkey *keys[PS_WH_MAX_KEYS];
    char *key_names[PS_WH_MAX_KEYS]; /* each key file's name, no directory */
    size_t nkeys;
    int64_t tolerance;
    int64_t max_body;
    int no_replay_ids; /* ps_wh_config_set_replay_ids(cfg, 0) */
    EVP_MD *sha256;
};

typedef struct ps_wh_hdrs {
    const ps_wh_header *h;
    size_t n;
} ps_wh_hdrs;

struct ps_wh_req {
    const ps_wh_config *cfg;
    const struct ps_wh_ops *ops;
    int64_t now;
    int64_t received;              /* body bytes fed so far */
    int done;                      /* a final verdict was given */
    void *state;                   /* ops->state_size bytes, zeroed */
    struct ps_json_idscan *idscan; /* when ops->body_id: after the state */
};

#define PS_WH_USES_SECRET 1
#define PS_WH_USES_KEY    2
#define PS_WH_USES_HMAC   4 /* the secrets are HMAC-SHA256 keys */

typedef struct ps_wh_ops {
    const char *name;
    int uses;
    /* Turns a configured secret into MAC key bytes (malloc'd into *out);
     * NULL: the text is the key. */
    int (*secret)(const char *text, size_t len, uint8_t **out, size_t *outlen,
                  ps_err *err);
    /* Takes an entry of the secret list that is a public key: 1 and *out
     * set, 0 if the text is a secret, -1 if a malformed key; NULL: the
     * scheme has only secrets. */
    int (*pubkey)(const char *text, size_t len, EVP_PKEY **out, ps_err *err);
    size_t state_size;
    ps_wh_verdict (*begin)(ps_wh_req *req, const ps_wh_hdrs *h,
                           ps_wh_result *res);
    ps_wh_verdict (*update)(ps_wh_req *req, const uint8_t *p, size_t n,
                            ps_wh_result *res);
    ps_wh_verdict (*final)(ps_wh_req *req, ps_wh_result *res);
    void (*cleanup)(ps_wh_req *req);
    /* The JSON member holding the delivery id ($webhook_id) in the body: a
     * member of the top-level object, or of the first element when the
     * body is an array (a batch of events); NULL: none. */
    const char *body_id;
    /* ps_webhook_sign for this scheme (args as there); NULL: refused. */
    int (*sign)(const ps_wh_config *cfg, const void *priv, const char *id,
                int64_t ts, const uint8_t *body, size_t len, char *out,
                size_t outsize, ps_err *err);
} ps_wh_ops;

extern const ps_wh_ops ps_wh_standard_ops, ps_wh_svix_ops, ps_wh_resend_ops,
    ps_wh_postal_ops, ps_wh_mailgun_ops, ps_wh_sendgrid_ops, ps_wh_sns_ops,
    ps_wh_stripe_ops, ps_wh_github_ops, ps_wh_slack_ops, ps_wh_shopify_ops,
    ps_wh_basic_ops, ps_wh_bearer_ops;

/* Standard Webhooks' secret and key texts (wh_standard_keys.c), as the
 * ops' secret and pubkey. */
int ps_wh_std_secret(const char *text, size_t len, uint8_t **out,
                     size_t *outlen, ps_err *err);
int ps_wh_std_pubkey(const char *text, size_t len, EVP_PKEY **out, ps_err *err);

/* ---- results (webhook_util.c) ---------------------------------------- */

/* Sets res->verdict and a reason; returns v. */
ps_wh_verdict ps_wh_fail(ps_wh_result *res, ps_wh_verdict v, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));
/* Copies a delivery id, keeping printable ASCII only, cut at PS_WH_ID_MAX. */
void ps_wh_set_id(ps_wh_result *res, const char *p, size_t n);
/* The replay id, derived from the scheme name and bytes; kept until
 * expires. */
void ps_wh_set_replay(const ps_wh_req *req, ps_wh_result *res,
                      const uint8_t *bytes, size_t n, int64_t expires);
/* When a replay key may be forgotten: the signed timestamp ts (-1 for a
 * scheme without one: now) plus the tolerance; now + the default tolerance
 * when the tolerance is off. */
int64_t ps_wh_expiry(const ps_wh_req *req, int64_t ts);

/* Appends formatted text to the NUL-terminated out (signing output). */
int ps_wh_out(char *out, size_t outsize, ps_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* prefix + 24 random hex digits, for ids and tokens made when signing. */
int ps_wh_random_id(const char *prefix, char *out, size_t outsize, ps_err *err);

/* ---- headers and timestamps (webhook_util.c) ------------------------- */

/* 1 and the value if name (any case) occurs once, 0 if it is absent, -1 if
 * it occurs more than once (an ambiguity we refuse). */
int ps_wh_hdr_get(const ps_wh_hdrs *h, const char *name, const char **value,
                  size_t *len);
/* Like ps_wh_hdr_get, also refusing values over PS_WH_MAX_HEADER bytes;
 * returns the verdict to give (PS_WH_MORE when found, *value set). */
ps_wh_verdict ps_wh_hdr_need(const ps_wh_hdrs *h, const char *name,
                             const char **value, size_t *len,
                             ps_wh_result *res);
/* Copies an optional header into buf (cap bytes): 1 copied, 0 absent (len
 * 0), -1 (res says MALFORMED) if repeated or longer than cap. */
int ps_wh_hdr_copy(const ps_wh_hdrs *h, const char *name, char *buf, size_t cap,
                   size_t *len, ps_wh_result *res);
/* Unix seconds from 1 to 12 ASCII digits; -1 for anything else. */
int ps_wh_parse_ts(const char *p, size_t n, int64_t *out);
/* The same, also taking a fraction ("1700000000.123456", 1 to 9 digits
 * after the point) as senders of fractional timestamps write it; *out is
 * the whole seconds. */
int ps_wh_parse_ts_frac(const char *p, size_t n, int64_t *out);
/* PS_WH_MORE if ts is within the tolerance of req->now, else DENIED. */
ps_wh_verdict ps_wh_check_time(const ps_wh_req *req, int64_t ts,
                               ps_wh_result *res);
/* 1 if the n bytes at p equal the NUL-terminated s, ignoring ASCII case. */
int ps_wh_ieq(const char *p, size_t n, const char *s);

/* ---- the MAC set: every secret against every signature (webhook_mac.c) */

/* Decoded HMAC signature bytes kept: a longer one can never match. */
#define PS_WH_SIG_CAP PS_HMAC_MAX

typedef struct ps_wh_sigs {
    size_t n;
    size_t len[PS_WH_MAX_SIGS];
    uint8_t sig[PS_WH_MAX_SIGS][PS_WH_SIG_CAP];
} ps_wh_sigs;

typedef enum ps_wh_enc { PS_WH_ENC_HEX, PS_WH_ENC_B64 } ps_wh_enc;

/* Decodes one signature into sigs (hex or base64); -1 if it is not valid
 * in that encoding, or if sigs is full. Valid but wrong-sized signatures
 * are kept and simply never match. */
int ps_wh_sigs_add(ps_wh_sigs *sigs, ps_wh_enc enc, const char *p, size_t n);

/* Only the first secret's MAC is kept (the replay key): the others are
 * compared as they are finished, so a request's state stays small. h[i]
 * is NULL where secret i is a public key (whpk_). */
typedef struct ps_wh_macs {
    ps_hmac_alg alg;
    size_t n;
    ps_hmac *h[PS_WH_MAX_SECRETS];
    uint8_t first[PS_HMAC_MAX]; /* under the first secret that MACs */
    int has_first;
    int match;      /* set by ps_wh_macs_final */
    unsigned which; /* and the 1-based index of the first secret that matched */
} ps_wh_macs;

/* One HMAC per configured secret, each fed prefix first. */
int ps_wh_macs_start(ps_wh_macs *m, const ps_wh_config *cfg, ps_hmac_alg alg,
                     const void *prefix, size_t plen, ps_err *err);
int ps_wh_macs_update(ps_wh_macs *m, const void *p, size_t n, ps_err *err);
/* Finishes every MAC and sets m->match if any signature equals any of
 * them, m->which to the first secret that did: every pair is compared, in
 * constant time, whatever matched first. */
int ps_wh_macs_final(ps_wh_macs *m, const ps_wh_sigs *sigs, ps_err *err);
void ps_wh_macs_free(ps_wh_macs *m);

/* The common tail of the HMAC schemes: finishes the MACs, compares, and on
 * success sets the replay id from the MAC under the first secret (the same
 * for any re-send of the same content, whatever signatures it carries) and
 * res->key to the secret that matched. */
ps_wh_verdict ps_wh_macs_verdict(ps_wh_req *req, ps_wh_macs *m,
                                 const ps_wh_sigs *sigs, int64_t expires,
                                 ps_wh_result *res);

/* The state of every HMAC scheme, and its body and verdict steps: ts is
 * the signed timestamp, -1 for schemes without one. */
typedef struct ps_wh_hmac_state {
    ps_wh_macs macs;
    ps_wh_sigs sigs;
    int64_t ts;
} ps_wh_hmac_state;

ps_wh_verdict ps_wh_hmac_update(ps_wh_req *req, const uint8_t *p, size_t n,
                                ps_wh_result *res);
ps_wh_verdict ps_wh_hmac_final(ps_wh_req *req, ps_wh_result *res);
void ps_wh_hmac_cleanup(ps_wh_req *req);
/* Starts the MACs of an HMAC scheme, fed the pieces of the signed prefix. */
typedef struct ps_wh_piece {
    const char *p;
    size_t n;
} ps_wh_piece;

ps_wh_verdict ps_wh_hmac_start(ps_wh_req *req, ps_hmac_alg alg,
                               const ps_wh_piece *pieces, size_t npieces,
                               ps_wh_result *res);

/* One HMAC under the first secret, for signing: hex or base64 text. */
int ps_wh_mac_text(const ps_wh_config *cfg, ps_hmac_alg alg, ps_wh_enc enc,
                   const void *a, size_t alen, const void *b, size_t blen,
                   char *out, size_t outsize, ps_err *err);

/* ---- digests and public keys (webhook_pk.c) -------------------------- */

typedef struct ps_wh_digest {
    void *ctx; /* EVP_MD_CTX */
    const char *md;
} ps_wh_digest;

int ps_wh_digest_start(ps_wh_digest *d, const char *md, ps_err *err);
int ps_wh_digest_update(ps_wh_digest *d, const void *p, size_t n, ps_err *err);
/* Writes the digest (at most 64 bytes) and its length. */
int ps_wh_digest_final(ps_wh_digest *d, uint8_t *out, size_t *len, ps_err *err);
void ps_wh_digest_free(ps_wh_digest *d);

/* Verdict of sig over digest (made with md) against every configured key:
 * PS_WH_OK on the first that verifies, DENIED otherwise. On success sets
 * the replay id from the digest and res->key to the key that verified. */
ps_wh_verdict ps_wh_pk_verdict(ps_wh_req *req, const char *md,
                               const uint8_t *digest, size_t dlen,
                               const uint8_t *sig, size_t siglen,
                               int64_t expires, ps_wh_result *res);
/* The state of the streamed key schemes (Postal, SendGrid): the digest of
 * the signed content, the one signature, the signed timestamp or -1. */
typedef struct ps_wh_pk_state {
    ps_wh_digest d;
    uint8_t sig[PS_WH_MAX_SIG];
    size_t siglen;
    int64_t ts;
} ps_wh_pk_state;

/* Decodes the base64 signature header value and starts the digest. */
ps_wh_verdict ps_wh_pk_start(ps_wh_req *req, const char *md, const char *hname,
                             const char *sig, size_t n, ps_wh_result *res);
ps_wh_verdict ps_wh_pk_update(ps_wh_req *req, const uint8_t *p, size_t n,
                              ps_wh_result *res);
ps_wh_verdict ps_wh_pk_final(ps_wh_req *req, ps_wh_result *res);
void ps_wh_pk_cleanup(ps_wh_req *req);

/* Ed25519 (Standard Webhooks v1a): a public key from the base64 of its
 * 32 raw bytes, and a verdict on one 64-byte signature over msg (0
 * verifies, -1 not). */
#define PS_WH_ED25519_SIG 64
int ps_wh_ed25519_pub(const char *b64, size_t n, EVP_PKEY **out, ps_err *err);
int ps_wh_ed25519_verify(EVP_PKEY *pub, const uint8_t *msg, size_t n,
                         const uint8_t *sig);

/* Signs a then b with priv (EVP_PKEY) and writes base64 text. */
int ps_wh_pk_sign_b64(const void *priv, const char *md, const void *a,
                      size_t alen, const void *b, size_t blen, char *out,
                      size_t outsize, ps_err *err);

/* ---- SNS certificate URLs (sns_url.c) --------------------------------- */

/* 0 if the n bytes at p are an SNS SigningCertURL as AWS's validators
 * require: https, host sns.REGION.amazonaws.com or .amazonaws.com.cn (no
 * port, no user), a path of plain characters ending in a file name
 * "*.pem" (no query, no fragment), which is set in *name; -1 otherwise. */
int ps_wh_sns_cert_url(const char *p, size_t n, const char **name,
                       size_t *namelen);

/* ---- bodies kept in memory (webhook_util.c) -------------------------- */

typedef struct ps_wh_buf {
    uint8_t *p;
    size_t len, cap;
} ps_wh_buf;

/* Appends, growing geometrically; PS_WH_TOO_LARGE past max bytes. */
ps_wh_verdict ps_wh_buf_add(ps_wh_buf *b, const uint8_t *p, size_t n,
                            int64_t max, ps_wh_result *res);
void ps_wh_buf_free(ps_wh_buf *b);

/* ---- JSON (webhook_json.c) ------------------------------------------- */

typedef enum ps_json_type {
    PS_JSON_NONE,
    PS_JSON_OBJECT,
    PS_JSON_ARRAY,
    PS_JSON_STRING,
    PS_JSON_NUMBER,
    PS_JSON_TRUE,
    PS_JSON_FALSE,
    PS_JSON_NULL
} ps_json_type;

typedef struct ps_json_val {
    ps_json_type type;
    const char *p; /* the value's text, quotes included for strings */
    size_t n;
} ps_json_val;

#define PS_JSON_MAX_DEPTH 32

/* 0 if p is one strict JSON text (RFC 8259, UTF-8 checked, nesting at most
 * PS_JSON_MAX_DEPTH) with an object at the top; -1 with a reason. */
int ps_json_check(const char *p, size_t n, ps_err *err);
/* In an object value already checked: 1 and *out for member key, 0 if
 * absent, -1 if the key occurs more than once. Keys compare after
 * unescaping. */
int ps_json_member(const ps_json_val *obj, const char *key, ps_json_val *out);
/* The document itself as an object value. */
ps_json_val ps_json_root(const char *p, size_t n);
/* A string value unescaped to UTF-8 into out (cap bytes); -1 if it does
 * not fit or is not a string. */
int ps_json_string(const ps_json_val *v, char *out, size_t cap, size_t *len);
/* Which member values ps_json_member_text takes. */
typedef enum ps_json_text {
    PS_JSON_TEXT_STRING,   /* a string only */
    PS_JSON_TEXT_OR_NUMBER /* or a number, its digits as written */
} ps_json_text;
/* Member key of an object already checked, as text into out (cap bytes):
 * 1, 0 if absent, -1 if repeated, of another type or too long. */
int ps_json_member_text(const ps_json_val *obj, const char *key,
                        ps_json_text as, char *out, size_t cap, size_t *len);

/* ---- the delivery id in a streamed JSON body (idscan.c) --------------- */

/* Bounded state: the id is at most PS_WH_ID_MAX bytes (a longer one is
 * cut), string escapes are taken as the character they escape. */
typedef struct ps_json_idscan {
    const char *key;
    size_t keylen;
    unsigned depth, elem; /* nesting; element of a top-level array */
    char top, kind[3];    /* '{' or '[' at depth 1 and 2 */
    int in_str, esc, is_key, expect_key, key_hit, want_value, capturing;
    int keypos; /* bytes of key matched so far, -1 once it differs */
    int found, over;
    size_t vlen;
    char val[PS_WH_ID_MAX];
} ps_json_idscan;

void ps_json_idscan_init(ps_json_idscan *s, const char *key);
void ps_json_idscan_feed(ps_json_idscan *s, const uint8_t *p, size_t n);

/* ---- HTML forms (webhook_form.c) ------------------------------------- */

/* Field name of an application/x-www-form-urlencoded body, decoded into
 * out: 1 found, 0 absent, -1 if malformed, too long or repeated. */
int ps_form_urlencoded(const char *p, size_t n, const char *name, char *out,
                       size_t cap, size_t *len);
/* The same for multipart/form-data, boundary from the Content-Type. */
int ps_form_multipart(const char *p, size_t n, const char *ctype, size_t ctlen,
                      const char *name, char *out, size_t cap, size_t *len);

#endif
