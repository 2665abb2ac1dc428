/* Amazon SNS deliveries: the canonical string of the JSON message signed
 * with RSA (SignatureVersion 1: SHA-1, 2: SHA-256), checked against a pinned
 * certificate, the one named like the SigningCertURL's file (that URL is
 * checked as AWS's validators do, and never fetched). Signing
 * too, for testing an endpoint: the message comes back with its signature. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/encode.h"

#define SNS_TYPE_HEADER "x-amz-sns-message-type"
#define SNS_TYPE_MAX    64

typedef struct sns_state {
    ps_wh_buf body;
    char type_hdr[SNS_TYPE_MAX];
    size_t type_n;
    int has_type_hdr;
} sns_state;

/* The signed fields of each Type, in canonical order; optional ones may be
 * absent. */
typedef struct sns_field {
    const char *name;
    int optional;
} sns_field;

static const sns_field notification_fields[] = {
    {"Message", 0},  {"MessageId", 0}, {"Subject", 1}, {"Timestamp", 0},
    {"TopicArn", 0}, {"Type", 0},      {NULL, 0}};
static const sns_field confirmation_fields[] = {
    {"Message", 0}, {"MessageId", 0}, {"SubscribeURL", 0}, {"Timestamp", 0},
    {"Token", 0},   {"TopicArn", 0},  {"Type", 0},         {NULL, 0}};

static ps_wh_verdict sns_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                               ps_wh_result *res)
{
    sns_state *st = req->state;
    int rc = ps_wh_hdr_copy(h, SNS_TYPE_HEADER, st->type_hdr,
                            sizeof(st->type_hdr), &st->type_n, res);

    if (rc < 0)
        return res->verdict;
    st->has_type_hdr = rc;
    return PS_WH_MORE;
}

static ps_wh_verdict sns_update(ps_wh_req *req, const uint8_t *p, size_t n,
                                ps_wh_result *res)
{
    sns_state *st = req->state;

    return ps_wh_buf_add(&st->body, p, n, req->cfg->max_body, res);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const char *p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        *out = *out * 10 + (p[i] - '0');
    }
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" to unix seconds. */
static int parse_iso(const char *p, size_t n, int64_t *out)
{
    int y, mo, d, h, mi, s;
    size_t i = 19;

    if (n < 20 || p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' ||
        p[16] != ':' || num(p, 4, &y) < 0 || num(p + 5, 2, &mo) < 0 ||
        num(p + 8, 2, &d) < 0 || num(p + 11, 2, &h) < 0 ||
        num(p + 14, 2, &mi) < 0 || num(p + 17, 2, &s) < 0)
        return -1;
    if (p[i] == '.') {
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            ;
        if (i == 20 || i > 29)
            return -1;
    }
    if (i + 1 != n || p[i] != 'Z' || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || s > 60)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

/* A string member unescaped into a fresh buffer: 1, 0 if absent, -1 if
 * repeated or not a string. */
static int str_member(const ps_json_val *root, const char *key, char **out,
                      size_t *len)
{
    ps_json_val v;
    int rc = ps_json_member(root, key, &v);

    *out = NULL;
    if (rc <= 0)
        return rc;
    if (v.type != PS_JSON_STRING || (*out = malloc(v.n + 1)) == NULL ||
        ps_json_string(&v, *out, v.n, len) < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 1;
}

/* The canonical string of the message ("Name\nvalue\n" for each signed
 * field present, in order) into b; the verifier and the signer share it. */
static ps_wh_verdict sns_canonical(const ps_json_val *root,
                                   const sns_field *fields, ps_wh_buf *b,
                                   ps_wh_result *res)
{
    char *val;
    size_t len;
    ps_wh_verdict v;
    int rc;

    for (const sns_field *f = fields; f->name != NULL; f++) {
        rc = str_member(root, f->name, &val, &len);
        if (rc < 0)
            return ps_wh_fail(res, PS_WH_MALFORMED,
                              "%s is repeated or not "
                              "a string",
                              f->name);
        if (rc == 0 && f->optional)
            continue;
        if (rc == 0)
            return ps_wh_fail(res, PS_WH_MALFORMED, "no %s in the message",
                              f->name);
        if ((v = ps_wh_buf_add(b, (const uint8_t *)f->name, strlen(f->name),
                               INT64_MAX, res)) == PS_WH_MORE &&
            (v = ps_wh_buf_add(b, (const uint8_t *)"\n", 1, INT64_MAX, res)) ==
                PS_WH_MORE &&
            (v = ps_wh_buf_add(b, (const uint8_t *)val, len, INT64_MAX, res)) ==
                PS_WH_MORE)
            v = ps_wh_buf_add(b, (const uint8_t *)"\n", 1, INT64_MAX, res);
        free(val);
        if (v != PS_WH_MORE)
            return v;
    }
    return PS_WH_MORE;
}

/* The signed fields of a message Type (compared as AWS spells them, in
 * any case); NULL for an unknown one. */
static const sns_field *fields_of(const char *type, size_t n)
{
    if (ps_wh_ieq(type, n, "Notification"))
        return notification_fields;
    if (ps_wh_ieq(type, n, "SubscriptionConfirmation") ||
        ps_wh_ieq(type, n, "UnsubscribeConfirmation"))
        return confirmation_fields;
    return NULL;
}

/* Type, SignatureVersion, Signature, Timestamp and MessageId: the fields
 * that steer the check. */
typedef struct sns_meta {
    char type[32], version[4], sig[1400], ts[40], id[PS_WH_ID_MAX], url[512];
    size_t typen, versionn, sign, tsn, idn, urln;
} sns_meta;

/* SNS's signed fields are strings, never numbers. */
static int meta_field(const ps_json_val *root, const char *key, char *out,
                      size_t cap, size_t *len)
{
    return ps_json_member_text(root, key, PS_JSON_TEXT_STRING, out, cap, len);
}

/* What the verifier holds every message to before its signature: Type,
 * SignatureVersion, Timestamp and MessageId present, each a string that
 * fits, a known Type, version 1 or 2, an ISO 8601 UTC Timestamp. The
 * signer holds the message it built to the same rule, so it never signs
 * what would be refused. Sets the delivery id, the fields Type signs, the
 * digest the version names and the timestamp. */
static ps_wh_verdict sns_message_rule(const ps_json_val *root, sns_meta *m,
                                      const sns_field **fields, const char **md,
                                      int64_t *ts, ps_wh_result *res)
{
    if (meta_field(root, "Type", m->type, sizeof(m->type), &m->typen) != 1 ||
        meta_field(root, "SignatureVersion", m->version, sizeof(m->version),
                   &m->versionn) != 1 ||
        meta_field(root, "Timestamp", m->ts, sizeof(m->ts), &m->tsn) != 1 ||
        meta_field(root, "MessageId", m->id, sizeof(m->id), &m->idn) != 1)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "Type, SignatureVersion, "
                          "Timestamp or MessageId missing or malformed");
    ps_wh_set_id(res, m->id, m->idn);
    if ((*fields = fields_of(m->type, m->typen)) == NULL)
        return ps_wh_fail(res, PS_WH_MALFORMED, "unknown Type");
    if (m->versionn == 1 && m->version[0] == '1')
        *md = "SHA1";
    else if (m->versionn == 1 && m->version[0] == '2')
        *md = "SHA256";
    else
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "SignatureVersion is not 1 "
                          "or 2");
    if (parse_iso(m->ts, m->tsn, ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "Timestamp is not ISO 8601 "
                          "UTC");
    return PS_WH_MORE;
}

/* The certificate URL (SigningCertURL, or SigningCertUrl as SNS spells it
 * for Lambda, which aws-js-sns-message-validator takes too) held to AWS's
 * rule; its file name in *name. */
static ps_wh_verdict sns_cert_url(const ps_json_val *root, sns_meta *m,
                                  const char **name, size_t *namelen,
                                  ps_wh_result *res)
{
    int rc =
        meta_field(root, "SigningCertURL", m->url, sizeof(m->url), &m->urln);

    if (rc == 0)
        rc = meta_field(root, "SigningCertUrl", m->url, sizeof(m->url),
                        &m->urln);
    if (rc == 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "no SigningCertURL");
    if (rc < 0 || ps_wh_sns_cert_url(m->url, m->urln, name, namelen) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "SigningCertURL is not https://sns.REGION."
                          "amazonaws.com[.cn]/NAME.pem");
    return PS_WH_MORE;
}

/* The pinned certificate named like the URL's file verifies alone; with
 * none of that name, each pinned one is tried (a single pin under any name
 * keeps working). */
static ps_wh_verdict sns_verdict(ps_wh_req *req, const char *md,
                                 const uint8_t *dgst, size_t dlen,
                                 const uint8_t *sig, size_t siglen, int64_t ts,
                                 const char *name, size_t namelen,
                                 ps_wh_result *res)
{
    const ps_wh_config *cfg = req->cfg;
    size_t k;

    for (k = 0; k < cfg->nkeys; k++)
        if (strlen(cfg->key_names[k]) == namelen &&
            memcmp(cfg->key_names[k], name, namelen) == 0)
            break;
    if (k == cfg->nkeys)
        return ps_wh_pk_verdict(req, md, dgst, dlen, sig, siglen,
                                ps_wh_expiry(req, ts), res);
    if (ps_pubkey_verify_digest(cfg->keys[k], md, dgst, dlen, sig, siglen) != 0)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "%s signature does not verify with %s", md,
                          cfg->key_names[k]);
    ps_wh_set_replay(req, res, dgst, dlen, ps_wh_expiry(req, ts));
    res->key = (unsigned)k + 1;
    res->verdict = PS_WH_OK;
    snprintf(res->reason, sizeof(res->reason), "%s signature verified", md);
    return PS_WH_OK;
}

static ps_wh_verdict sns_check(ps_wh_req *req, const ps_json_val *root,
                               ps_wh_result *res)
{
    sns_state *st = req->state;
    const sns_field *fields;
    sns_meta m;
    ps_wh_digest d = {0};
    ps_wh_buf canon = {0};
    uint8_t sig[PS_WH_MAX_SIG], dgst[64];
    size_t siglen, dlen;
    const char *md, *name;
    size_t namelen;
    int64_t ts;
    ps_wh_verdict v;
    ps_err err;

    if ((v = sns_message_rule(root, &m, &fields, &md, &ts, res)) !=
            PS_WH_MORE ||
        (v = sns_cert_url(root, &m, &name, &namelen, res)) != PS_WH_MORE)
        return v;
    if (st->has_type_hdr &&
        (st->type_n != m.typen || memcmp(st->type_hdr, m.type, m.typen) != 0))
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          SNS_TYPE_HEADER " differs from the message Type");
    switch (meta_field(root, "Signature", m.sig, sizeof(m.sig), &m.sign)) {
    case 1:
        break;
    case 0:
        return ps_wh_fail(res, PS_WH_DENIED, "no Signature in the message");
    default:
        return ps_wh_fail(res, PS_WH_MALFORMED, "Signature malformed");
    }
    if (ps_b64_decode(m.sig, m.sign, sig, sizeof(sig), &siglen, NULL) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "Signature is not base64");
    if ((v = ps_wh_check_time(req, ts, res)) != PS_WH_MORE)
        return v;
    if ((v = sns_canonical(root, fields, &canon, res)) != PS_WH_MORE) {
        ps_wh_buf_free(&canon);
        return v;
    }
    if (ps_wh_digest_start(&d, md, &err) < 0 ||
        ps_wh_digest_update(&d, canon.p, canon.len, &err) < 0 ||
        ps_wh_digest_final(&d, dgst, &dlen, &err) < 0)
        v = ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    ps_wh_digest_free(&d);
    ps_wh_buf_free(&canon);
    if (v != PS_WH_MORE)
        return v;
    return sns_verdict(req, md, dgst, dlen, sig, siglen, ts, name, namelen,
                       res);
}

static ps_wh_verdict sns_final(ps_wh_req *req, ps_wh_result *res)
{
    sns_state *st = req->state;
    ps_json_val root;
    ps_err err;

    if (ps_json_check((const char *)st->body.p, st->body.len, &err) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s", err.msg);
    root = ps_json_root((const char *)st->body.p, st->body.len);
    return sns_check(req, &root, res);
}

/* ---- signing -------------------------------------------------------- */

/* Text that may go between JSON quotes as it is: printable ASCII, no quote
 * or backslash (a URL, an id). */
static int json_plain(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

/* The signed message as it is built: the text so far, without the
 * closing brace of its object, and whether that object has a member yet. */
typedef struct sns_out {
    ps_wh_buf b;
    int members;
} sns_out;

static int out_add(sns_out *o, const char *p, size_t n, ps_err *err)
{
    ps_wh_result res;

    if (ps_wh_buf_add(&o->b, (const uint8_t *)p, n, INT64_MAX, &res) !=
        PS_WH_MORE)
        return ps_err_set(err, "sns: %s", res.reason);
    return 0;
}

/* Appends "name":"value" (both plain, see json_plain). */
static int add_member(sns_out *o, const char *name, const char *value,
                      ps_err *err)
{
    if ((o->members && out_add(o, ",", 1, err) < 0) ||
        out_add(o, "\"", 1, err) < 0 ||
        out_add(o, name, strlen(name), err) < 0 ||
        out_add(o, "\":\"", 3, err) < 0 ||
        out_add(o, value, strlen(value), err) < 0 ||
        out_add(o, "\"", 1, err) < 0)
        return -1;
    o->members = 1;
    return 0;
}

/* 0 if key is absent or a string once; -1 with err set otherwise. */
static int string_or_absent(const ps_json_val *root, const char *key,
                            int *present, ps_err *err)
{
    ps_json_val v;
    int rc = ps_json_member(root, key, &v);

    *present = rc == 1;
    if (rc < 0 || (rc == 1 && v.type != PS_JSON_STRING))
        return ps_err_set(err, "sns: %s is repeated or not a string", key);
    return 0;
}

/* "2026-01-05T10:00:00.000Z", as SNS writes its timestamps. */
static int iso_time(int64_t t, char *out, size_t cap, ps_err *err)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0)
        return ps_err_set(err, "sns: timestamp %lld out of range",
                          (long long)t);
    return 0;
}

/* Adds Type, MessageId, Timestamp and SignatureVersion when the message
 * lacks them; what it has is judged once the message is whole, by the
 * verifier's rule (sns_message_rule). */
static int sign_defaults(const ps_json_val *root, sns_out *o, const char *id,
                         int64_t ts, ps_err *err)
{
    char rid[64], when[40];
    int present;

    if (string_or_absent(root, "Type", &present, err) < 0 ||
        (!present && add_member(o, "Type", "Notification", err) < 0))
        return -1;
    if (string_or_absent(root, "MessageId", &present, err) < 0)
        return -1;
    if (!present) {
        if (id == NULL && ps_wh_random_id("", rid, sizeof(rid), err) < 0)
            return -1;
        if (add_member(o, "MessageId", id != NULL ? id : rid, err) < 0)
            return -1;
    }
    if (string_or_absent(root, "Timestamp", &present, err) < 0)
        return -1;
    if (!present && (iso_time(ts, when, sizeof(when), err) < 0 ||
                     add_member(o, "Timestamp", when, err) < 0))
        return -1;
    if (string_or_absent(root, "SignatureVersion", &present, err) < 0)
        return -1;
    return present ? 0 : add_member(o, "SignatureVersion", "2", err);
}

/* The message as it stands gets its closing brace back for a moment, is
 * read again as JSON, and its canonical string is signed: the defaults
 * just added are signed as the verifier will read them. */
static int sign_canonical(sns_out *o, const void *priv, char *sig, size_t cap,
                          ps_err *err)
{
    ps_wh_result res;
    ps_wh_buf canon = {0};
    const sns_field *fields;
    const char *md;
    ps_json_val root;
    sns_meta m;
    int64_t ts;
    int rc = -1;

    if (out_add(o, "}", 1, err) < 0)
        return -1;
    root = ps_json_root((const char *)o->b.p, o->b.len);
    if (sns_message_rule(&root, &m, &fields, &md, &ts, &res) != PS_WH_MORE)
        ps_err_set(err, "sns: the verifier would refuse this message: %s",
                   res.reason);
    else if (sns_canonical(&root, fields, &canon, &res) != PS_WH_MORE)
        ps_err_set(err, "sns: %s", res.reason);
    else
        rc = ps_wh_pk_sign_b64(priv, md, canon.p, canon.len, "", 0, sig, cap,
                               err);
    ps_wh_buf_free(&canon);
    o->b.len--; /* the brace again, for the members still to come */
    return rc;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int ps_webhook_sign_sns(const void *priv, const char *cert_url, const char *id,
                        int64_t timestamp, const void *body, size_t len,
                        char *out, size_t outsize, ps_err *err)
{
    sns_out o = {{0}, 0};
    ps_json_val root, v;
    const char *p = body;
    size_t first = 0, last = len;
    char sig[PS_WH_MAX_SIG * 2];
    int rc = -1;

    if (priv == NULL || !EVP_PKEY_is_a(priv, "RSA"))
        return ps_err_set(err, "sns: an RSA private key is needed to sign");
    if (cert_url == NULL || cert_url[0] == '\0' || !json_plain(cert_url))
        return ps_err_set(err, "sns: the certificate URL must be printable "
                               "ASCII without quotes or backslashes");
    /* What the verifier refuses is not signed either. */
    if (ps_wh_sns_cert_url(cert_url, strlen(cert_url), &(const char *){NULL},
                           &(size_t){0}) < 0)
        return ps_err_set(err,
                          "sns: the certificate URL must be "
                          "https://sns.REGION.amazonaws.com[.cn]/NAME.pem");
    if (id != NULL && (id[0] == '\0' || !json_plain(id)))
        return ps_err_set(err, "sns: the id must be printable ASCII without "
                               "quotes or backslashes");
    if (ps_json_check(body, len, err) < 0)
        return -1;
    root = ps_json_root(body, len);
    if (ps_json_member(&root, "Signature", &v) != 0 ||
        ps_json_member(&root, "SigningCertURL", &v) != 0)
        return ps_err_set(err, "sns: the message is signed already "
                               "(Signature or SigningCertURL)");
    /* ps_json_check saw one object: p[first] is its '{', p[last - 1] its
     * '}'. The text is kept up to that brace; blanks after it are dropped. */
    while (first < len && blank(p[first]))
        first++;
    while (last > first && blank(p[last - 1]))
        last--;
    for (size_t i = first + 1; i + 1 < last && !o.members; i++)
        o.members = !blank(p[i]);
    if (out_add(&o, p, last - 1, err) < 0 ||
        sign_defaults(&root, &o, id, timestamp, err) < 0 ||
        sign_canonical(&o, priv, sig, sizeof(sig), err) < 0 ||
        add_member(&o, "Signature", sig, err) < 0 ||
        add_member(&o, "SigningCertURL", cert_url, err) < 0 ||
        out_add(&o, "}\n", 3, err) < 0)
        goto out;
    if (o.b.len > outsize) {
        ps_err_set(err, "sns: the signed message does not fit");
        goto out;
    }
    memcpy(out, o.b.p, o.b.len);
    rc = 0;
out:
    ps_wh_buf_free(&o.b);
    return rc;
}

static void sns_cleanup(ps_wh_req *req)
{
    sns_state *st = req->state;

    if (st != NULL)
        ps_wh_buf_free(&st->body);
}

const ps_wh_ops ps_wh_sns_ops = {
    .name = "sns",
    .uses = PS_WH_USES_KEY,
    .state_size = sizeof(sns_state),
    .begin = sns_begin,
    .update = sns_update,
    .final = sns_final,
    .cleanup = sns_cleanup,
};
