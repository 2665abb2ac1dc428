/* Signed delivery webhooks, every scheme the nginx module and the CLI check
 * (Standard Webhooks, Postal, Mailgun, SendGrid, SNS, Stripe, GitHub, ...),
 * streamed: the headers first, then the body in pieces, then one verdict. */
#ifndef PS_WEBHOOK_H
#define PS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum ps_wh_scheme {
    PS_WH_STANDARD,
    PS_WH_SVIX,
    PS_WH_RESEND,
    PS_WH_POSTAL,
    PS_WH_MAILGUN,
    PS_WH_SENDGRID,
    PS_WH_SNS,
    PS_WH_STRIPE,
    PS_WH_GITHUB,
    PS_WH_SLACK,
    PS_WH_SHOPIFY,
    PS_WH_BASIC,
    PS_WH_BEARER,
    PS_WH_NSCHEMES
} ps_wh_scheme;

/* Verdicts carry the HTTP status the nginx module answers with. */
typedef enum ps_wh_verdict {
    PS_WH_OK = 0,          /* verified */
    PS_WH_MORE = 1,        /* headers fine: feed the body, then final */
    PS_WH_MALFORMED = 400, /* signature headers or signed fields garbled */
    PS_WH_DENIED = 401,    /* signature missing, wrong, or out of time */
    PS_WH_TOO_LARGE = 413, /* body over the configured maximum */
    PS_WH_INTERNAL = 500   /* out of memory, crypto library failure */
} ps_wh_verdict;

/* Limits, named once. */
#define PS_WH_MAX_SECRETS       16   /* secrets tried per request (rotation) */
#define PS_WH_MAX_KEYS          16   /* public keys/certificates per config */
#define PS_WH_MAX_SIGS          16   /* signatures considered in one header */
#define PS_WH_MAX_SIG           1024 /* bytes of one decoded signature */
#define PS_WH_MAX_HEADER        8192 /* longest signature header accepted */
#define PS_WH_ID_MAX            128  /* bytes of $webhook_id kept */
#define PS_WH_REASON_MAX        160
#define PS_WH_REPLAY_ID         32   /* bytes of the fixed-size replay id */
#define PS_WH_TOLERANCE_OFF     (-1) /* for recorded fixtures only */
#define PS_WH_DEFAULT_TOLERANCE 300
#define PS_WH_DEFAULT_MAX_BODY  (1024 * 1024)
#define PS_WH_MAX_MAX_BODY      ((int64_t)1 << 40)

/* "standard", "svix", ... into *out; -1 for an unknown name. */
int ps_wh_scheme_parse(const char *name, size_t len, ps_wh_scheme *out);
const char *ps_wh_scheme_name(ps_wh_scheme scheme);
/* What a scheme must be configured with. */
int ps_wh_scheme_uses_secret(ps_wh_scheme scheme);
int ps_wh_scheme_uses_key(ps_wh_scheme scheme);
/* 1 if ps_webhook_sign can make this scheme's signature (SNS's is made
 * by ps_webhook_sign_sns: it needs a certificate URL too). */
int ps_wh_scheme_can_sign(ps_wh_scheme scheme);

/* A verification configuration: one scheme, its secrets (every one is
 * tried against every signature) or public keys, the timestamp tolerance
 * and the body limit. Built once (at nginx configuration time), then shared
 * read-only by every request. */
typedef struct ps_wh_config ps_wh_config;

ps_wh_config *ps_wh_config_new(ps_wh_scheme scheme, ps_err *err);
/* A secret as the provider shows it: "whsec_BASE64" (or bare base64) for
 * standard/svix/resend, the signing key text for the others, "user:pass"
 * for basic, the token for bearer. Never copied into errors. */
int ps_wh_config_add_secret(ps_wh_config *cfg, const char *text, size_t len,
                            ps_err *err);
/* Every secret of a secret file (hmac.h format, mode 0600). */
int ps_wh_config_add_secret_file(ps_wh_config *cfg, const char *path,
                                 ps_err *err);
/* A public key or certificate file (pubkey.h formats), or a directory:
 * then every "*.pem" in it, in name order. Each key keeps its file name:
 * SNS picks the certificate named like the SigningCertURL's file. */
int ps_wh_config_add_key_file(ps_wh_config *cfg, const char *path, ps_err *err);
/* Seconds either side of now a signed timestamp may be, or
 * PS_WH_TOLERANCE_OFF. */
void ps_wh_config_set_tolerance(ps_wh_config *cfg, int64_t seconds);
void ps_wh_config_set_max_body(ps_wh_config *cfg, int64_t bytes);
/* Whether verdicts carry replay_id (on by default): off where no replay
 * cache reads it, sparing a digest per verified request. */
void ps_wh_config_set_replay_ids(ps_wh_config *cfg, int on);
/* 0 if cfg has what its scheme needs, -1 with the reason otherwise. */
int ps_wh_config_check(const ps_wh_config *cfg, ps_err *err);
ps_wh_scheme ps_wh_config_scheme(const ps_wh_config *cfg);
int64_t ps_wh_config_tolerance(const ps_wh_config *cfg);
int64_t ps_wh_config_max_body(const ps_wh_config *cfg);
/* Wipes the secrets, then frees. NULL is fine. */
void ps_wh_config_free(ps_wh_config *cfg);

/* One request header as received (not NUL-terminated). */
typedef struct ps_wh_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} ps_wh_header;

/* What a verification found. reason is one line for the log and never
 * holds a secret; id is the provider's delivery id ($webhook_id); key is
 * which configured secret or public key verified it ($webhook_key), 1 for
 * the first in configuration order (a secret file counts each of its
 * secrets), 0 when none did: an index, never signature or secret bytes,
 * since a signature of a scheme that signs no timestamp (GitHub, Shopify)
 * is a valid delivery again once its replay entry expires; replay_id is a
 * fixed-size digest of what the signature covers, for a replay cache,
 * valid when has_replay_id, to be kept until expires (unix seconds). Pass
 * the same result to every call for one request. */
typedef struct ps_wh_result {
    ps_wh_verdict verdict;
    char reason[PS_WH_REASON_MAX];
    char id[PS_WH_ID_MAX + 1];
    unsigned key;
    uint8_t replay_id[PS_WH_REPLAY_ID];
    int has_replay_id;
    int64_t expires;
} ps_wh_result;

typedef struct ps_wh_req ps_wh_req;

/* Checks the headers of one request received at unix time now.
 * content_length is -1 when unknown (chunked). Returns PS_WH_MORE with
 * *out set when the body is wanted; any other verdict is final (*out is
 * NULL) and res says why. */
ps_wh_verdict ps_webhook_begin(const ps_wh_config *cfg,
                               const ps_wh_header *headers, size_t nheaders,
                               int64_t content_length, int64_t now,
                               ps_wh_req **out, ps_wh_result *res);
/* Feeds the next n bytes of the body: PS_WH_MORE, or a final failure
 * (PS_WH_TOO_LARGE past the limit) after which only free is allowed. */
ps_wh_verdict ps_webhook_update(ps_wh_req *req, const void *data, size_t n,
                                ps_wh_result *res);
/* After the last byte: the verdict. */
ps_wh_verdict ps_webhook_final(ps_wh_req *req, ps_wh_result *res);
void ps_webhook_free(ps_wh_req *req);

/* All three steps over a body in memory (CLI, tests). */
ps_wh_verdict ps_webhook_verify(const ps_wh_config *cfg,
                                const ps_wh_header *headers, size_t nheaders,
                                const void *body, size_t len, int64_t now,
                                ps_wh_result *res);

/* A saved request, as the CLI reads it: an optional request line
 * ("POST /hook HTTP/1.1"), header lines, an empty line, the body (lines
 * end in CRLF or LF). Fills at most max headers pointing into p, and the
 * body; a Content-Length header must match the body, a chunked one is
 * refused. Returns 0, or -1 with the line at fault. */
#define PS_WH_REQUEST_MAX_HEADERS 100
int ps_wh_request_parse(const char *p, size_t n, ps_wh_header *headers,
                        size_t max, size_t *nheaders, const char **body,
                        size_t *blen, ps_err *err);

/* Signing, for the CLI and for tests: the headers a provider would send
 * for body, under cfg's first secret, as "Name: value\n" lines into out
 * (NUL-terminated). id and timestamp are used by the schemes that sign
 * them (NULL id: "msg_" + random; mailgun: the token). Key schemes sign
 * with priv (an EVP_PKEY *, passed as void * to keep OpenSSL out of this
 * header). Mailgun prints its JSON signature object; SNS is refused here (see
 * ps_webhook_sign_sns). */
int ps_webhook_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                    int64_t timestamp, const void *body, size_t len, char *out,
                    size_t outsize, ps_err *err);

/* SNS signs the message itself, so its signing gives the body to POST:
 * body is the JSON message without its signature (Message, TopicArn, ...;
 * Subject, SubscribeURL, Token as its Type needs), and comes back in out
 * (NUL-terminated, ending in a newline) with what it lacked added: Type
 * Notification, MessageId id (NULL: random), Timestamp (ISO 8601 of
 * timestamp), SignatureVersion 2 (a version 1 message says so itself), then
 * Signature, made with priv (an RSA EVP_PKEY *), and SigningCertURL
 * cert_url (the verifier never fetches it; it pins the certificate). */
int ps_webhook_sign_sns(const void *priv, const char *cert_url, const char *id,
                        int64_t timestamp, const void *body, size_t len,
                        char *out, size_t outsize, ps_err *err);

#endif
