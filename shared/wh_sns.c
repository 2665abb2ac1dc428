/* Amazon SNS deliveries: the canonical string of the JSON message signed
 * with RSA (SignatureVersion 1: SHA-1, 2: SHA-256), checked against a pinned
 * certificate; the certificate URL in the message is never fetched. */
#include "webhook_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

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

/* Feeds the canonical string of the message into d. */
static ps_wh_verdict sns_canonical(const ps_json_val *root,
                                   const sns_field *fields, ps_wh_digest *d,
                                   ps_wh_result *res)
{
    char *val;
    size_t len;
    ps_err err;
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
        rc = ps_wh_digest_update(d, f->name, strlen(f->name), &err) < 0 ||
             ps_wh_digest_update(d, "\n", 1, &err) < 0 ||
             ps_wh_digest_update(d, val, len, &err) < 0 ||
             ps_wh_digest_update(d, "\n", 1, &err) < 0;
        free(val);
        if (rc)
            return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    }
    return PS_WH_MORE;
}

/* Type, SignatureVersion, Signature, Timestamp and MessageId: the fields
 * that steer the check. */
typedef struct sns_meta {
    char type[32], version[4], sig[1400], ts[40], id[PS_WH_ID_MAX];
    size_t typen, versionn, sign, tsn, idn;
} sns_meta;

static int meta_field(const ps_json_val *root, const char *key, char *out,
                      size_t cap, size_t *len)
{
    ps_json_val v;
    int rc = ps_json_member(root, key, &v);

    if (rc <= 0)
        return rc;
    if (v.type != PS_JSON_STRING || ps_json_string(&v, out, cap, len) < 0)
        return -1;
    return 1;
}

static ps_wh_verdict sns_meta_of(const ps_json_val *root, sns_meta *m,
                                 ps_wh_result *res)
{
    if (meta_field(root, "Type", m->type, sizeof(m->type), &m->typen) != 1 ||
        meta_field(root, "SignatureVersion", m->version, sizeof(m->version),
                   &m->versionn) != 1 ||
        meta_field(root, "Timestamp", m->ts, sizeof(m->ts), &m->tsn) != 1 ||
        meta_field(root, "MessageId", m->id, sizeof(m->id), &m->idn) != 1)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "Type, SignatureVersion, "
                          "Timestamp or MessageId missing or malformed");
    switch (meta_field(root, "Signature", m->sig, sizeof(m->sig), &m->sign)) {
    case 1:
        return PS_WH_MORE;
    case 0:
        return ps_wh_fail(res, PS_WH_DENIED, "no Signature in the message");
    default:
        return ps_wh_fail(res, PS_WH_MALFORMED, "Signature malformed");
    }
}

static ps_wh_verdict sns_check(ps_wh_req *req, const ps_json_val *root,
                               ps_wh_result *res)
{
    sns_state *st = req->state;
    const sns_field *fields;
    sns_meta m;
    ps_wh_digest d = {0};
    uint8_t sig[PS_WH_MAX_SIG], dgst[64];
    size_t siglen, dlen;
    const char *md;
    int64_t ts;
    ps_wh_verdict v;
    ps_err err;

    if ((v = sns_meta_of(root, &m, res)) != PS_WH_MORE)
        return v;
    ps_wh_set_id(res, m.id, m.idn);
    if (ps_wh_ieq(m.type, m.typen, "Notification"))
        fields = notification_fields;
    else if (ps_wh_ieq(m.type, m.typen, "SubscriptionConfirmation") ||
             ps_wh_ieq(m.type, m.typen, "UnsubscribeConfirmation"))
        fields = confirmation_fields;
    else
        return ps_wh_fail(res, PS_WH_MALFORMED, "unknown Type");
    if (st->has_type_hdr &&
        (st->type_n != m.typen || memcmp(st->type_hdr, m.type, m.typen) != 0))
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          SNS_TYPE_HEADER " differs from the message Type");
    if (m.versionn == 1 && m.version[0] == '1')
        md = "SHA1";
    else if (m.versionn == 1 && m.version[0] == '2')
        md = "SHA256";
    else
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "SignatureVersion is not 1 "
                          "or 2");
    if (ps_b64_decode(m.sig, m.sign, sig, sizeof(sig), &siglen, NULL) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "Signature is not base64");
    if (parse_iso(m.ts, m.tsn, &ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "Timestamp is not ISO 8601 "
                          "UTC");
    if ((v = ps_wh_check_time(req, ts, res)) != PS_WH_MORE)
        return v;
    if (ps_wh_digest_start(&d, md, &err) < 0)
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    v = sns_canonical(root, fields, &d, res);
    if (v == PS_WH_MORE && ps_wh_digest_final(&d, dgst, &dlen, &err) < 0)
        v = ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    ps_wh_digest_free(&d);
    if (v != PS_WH_MORE)
        return v;
    return ps_wh_pk_verdict(req, md, dgst, dlen, sig, siglen,
                            ps_wh_expiry(req, ts), res);
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
