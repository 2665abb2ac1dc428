/* Mailgun: HMAC-SHA256 of TIMESTAMP + TOKEN (hex) under the webhook signing
 * key, found in the body: the "signature" object of a JSON webhook, or the
 * timestamp/token/signature fields of a form. The token is the replay key. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <string.h>

#define MG_CTYPE_MAX 256
#define MG_TS_MAX    32
#define MG_SIG_MAX   160
#define MG_TOKEN_MAX 256

typedef struct mg_state {
    ps_wh_buf body;
    char ctype[MG_CTYPE_MAX];
    size_t ctlen;
} mg_state;

/* The three signed fields, as text. */
typedef struct mg_fields {
    char ts[MG_TS_MAX], token[MG_TOKEN_MAX], sig[MG_SIG_MAX];
    size_t tsn, tokenn, sign;
} mg_fields;

static ps_wh_verdict mg_begin(ps_wh_req *req, const ps_wh_hdrs *h,
                              ps_wh_result *res)
{
    mg_state *st = req->state;

    if (ps_wh_hdr_copy(h, "Content-Type", st->ctype, sizeof(st->ctype),
                       &st->ctlen, res) < 0)
        return res->verdict;
    return PS_WH_MORE;
}

static ps_wh_verdict mg_update(ps_wh_req *req, const uint8_t *p, size_t n,
                               ps_wh_result *res)
{
    mg_state *st = req->state;

    return ps_wh_buf_add(&st->body, p, n, req->cfg->max_body, res);
}

/* The answer once the three fields were looked for (1 found, 0 absent,
 * -1 malformed or repeated). */
static ps_wh_verdict mg_found(int a, int b, int c, const char *where,
                              ps_wh_result *res)
{
    if (a < 0 || b < 0 || c < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "%s: timestamp, token or "
                          "signature repeated, too long or malformed",
                          where);
    if (!a || !b || !c)
        return ps_wh_fail(res, PS_WH_DENIED,
                          "%s lacks timestamp, token or "
                          "signature",
                          where);
    return PS_WH_MORE;
}

static ps_wh_verdict mg_json(const mg_state *st, mg_fields *f,
                             ps_wh_result *res)
{
    ps_json_val root, sig, ev, idv;
    char id[PS_WH_ID_MAX];
    size_t idn;
    int a, b, c;
    ps_err err;

    if (ps_json_check((const char *)st->body.p, st->body.len, &err) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED, "%s", err.msg);
    root = ps_json_root((const char *)st->body.p, st->body.len);
    if (ps_json_member(&root, "event-data", &ev) == 1 &&
        ps_json_member(&ev, "id", &idv) == 1 &&
        ps_json_string(&idv, id, sizeof(id), &idn) == 0)
        ps_wh_set_id(res, id, idn);
    switch (ps_json_member(&root, "signature", &sig)) {
    case 0:
        return ps_wh_fail(res, PS_WH_DENIED, "no \"signature\" object");
    case -1:
        return ps_wh_fail(res, PS_WH_MALFORMED, "\"signature\" repeated");
    }
    if (sig.type != PS_JSON_OBJECT)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "\"signature\" is not an "
                          "object");
    /* a string, or a number's digits: Mailgun has sent timestamps both ways */
    a = ps_json_member_text(&sig, "timestamp", PS_JSON_TEXT_OR_NUMBER, f->ts,
                            sizeof(f->ts), &f->tsn);
    b = ps_json_member_text(&sig, "token", PS_JSON_TEXT_OR_NUMBER, f->token,
                            sizeof(f->token), &f->tokenn);
    c = ps_json_member_text(&sig, "signature", PS_JSON_TEXT_OR_NUMBER, f->sig,
                            sizeof(f->sig), &f->sign);
    return mg_found(a, b, c, "JSON signature object", res);
}

static ps_wh_verdict mg_form(const mg_state *st, int multipart, mg_fields *f,
                             ps_wh_result *res)
{
    const char *p = (const char *)st->body.p;
    size_t n = st->body.len;
    int a, b, c;

    if (multipart) {
        a = ps_form_multipart(p, n, st->ctype, st->ctlen, "timestamp", f->ts,
                              sizeof(f->ts), &f->tsn);
        b = ps_form_multipart(p, n, st->ctype, st->ctlen, "token", f->token,
                              sizeof(f->token), &f->tokenn);
        c = ps_form_multipart(p, n, st->ctype, st->ctlen, "signature", f->sig,
                              sizeof(f->sig), &f->sign);
    } else {
        a = ps_form_urlencoded(p, n, "timestamp", f->ts, sizeof(f->ts),
                               &f->tsn);
        b = ps_form_urlencoded(p, n, "token", f->token, sizeof(f->token),
                               &f->tokenn);
        c = ps_form_urlencoded(p, n, "signature", f->sig, sizeof(f->sig),
                               &f->sign);
    }
    return mg_found(a, b, c, "form", res);
}

/* The media type of the Content-Type, parameters left out. */
static int ctype_is(const mg_state *st, const char *type)
{
    size_t n = 0;

    while (n < st->ctlen && st->ctype[n] != ';' && st->ctype[n] != ' ')
        n++;
    return ps_wh_ieq(st->ctype, n, type);
}

static ps_wh_verdict mg_fields_of(const mg_state *st, mg_fields *f,
                                  ps_wh_result *res)
{
    if (ctype_is(st, "application/json"))
        return mg_json(st, f, res);
    if (ctype_is(st, "application/x-www-form-urlencoded"))
        return mg_form(st, 0, f, res);
    if (ctype_is(st, "multipart/form-data"))
        return mg_form(st, 1, f, res);
    if (st->ctlen == 0)
        return st->body.len > 0 && st->body.p[0] == '{'
                   ? mg_json(st, f, res)
                   : mg_form(st, 0, f, res);
    return ps_wh_fail(res, PS_WH_MALFORMED,
                      "Content-Type is not JSON or a "
                      "form");
}

static ps_wh_verdict mg_final(ps_wh_req *req, ps_wh_result *res)
{
    mg_state *st = req->state;
    mg_fields f;
    ps_wh_sigs sigs = {0};
    ps_wh_macs m;
    int64_t ts;
    ps_wh_verdict v;
    ps_err err;
    unsigned which;
    int ok;

    if ((v = mg_fields_of(st, &f, res)) != PS_WH_MORE)
        return v;
    if (ps_wh_parse_ts(f.ts, f.tsn, &ts) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "timestamp is not a unix "
                          "time");
    if ((v = ps_wh_check_time(req, ts, res)) != PS_WH_MORE)
        return v;
    if (f.tokenn == 0 ||
        ps_wh_sigs_add(&sigs, PS_WH_ENC_HEX, f.sig, f.sign) < 0)
        return ps_wh_fail(res, PS_WH_MALFORMED,
                          "empty token, or signature "
                          "not hex");
    if (ps_wh_macs_start(&m, req->cfg, PS_HMAC_SHA256, f.ts, f.tsn, &err) < 0 ||
        ps_wh_macs_update(&m, f.token, f.tokenn, &err) < 0 ||
        ps_wh_macs_final(&m, &sigs, &err) < 0) {
        ps_wh_macs_free(&m);
        return ps_wh_fail(res, PS_WH_INTERNAL, "%s", err.msg);
    }
    ok = m.match;
    which = m.which;
    ps_wh_macs_free(&m);
    if (!ok)
        return ps_wh_fail(res, PS_WH_DENIED, "signature does not match");
    res->key = which;
    ps_wh_set_replay(req, res, (const uint8_t *)f.token, f.tokenn,
                     ps_wh_expiry(req, ts));
    snprintf(res->reason, sizeof(res->reason), "signature verified");
    return PS_WH_OK;
}

static void mg_cleanup(ps_wh_req *req)
{
    mg_state *st = req->state;

    if (st != NULL)
        ps_wh_buf_free(&st->body);
}

/* Prints the JSON signature object a Mailgun webhook carries; id is the
 * token (random when NULL). The body is not signed by Mailgun. */
static int mg_sign(const ps_wh_config *cfg, const void *priv, const char *id,
                   int64_t ts, const uint8_t *body, size_t len, char *out,
                   size_t outsize, ps_err *err)
{
    char tstext[32], sig[80], rid[64];
    int n = snprintf(tstext, sizeof(tstext), "%lld", (long long)ts);

    (void)priv, (void)body, (void)len;
    if (id == NULL) {
        if (ps_wh_random_id("", rid, sizeof(rid), err) < 0)
            return -1;
        id = rid;
    }
    if (strpbrk(id, "\"\\") != NULL)
        return ps_err_set(err, "token must not hold quotes or backslashes");
    if (ps_wh_mac_text(cfg, PS_HMAC_SHA256, PS_WH_ENC_HEX, tstext, (size_t)n,
                       id, strlen(id), sig, sizeof(sig), err) < 0)
        return -1;
    return ps_wh_out(out, outsize, err,
                     "{\"signature\": {\"timestamp\": \"%s\", \"token\": "
                     "\"%s\", \"signature\": \"%s\"}}\n",
                     tstext, id, sig);
}

const ps_wh_ops ps_wh_mailgun_ops = {
    .name = "mailgun",
    .uses = PS_WH_USES_SECRET | PS_WH_USES_HMAC,
    .state_size = sizeof(mg_state),
    .begin = mg_begin,
    .update = mg_update,
    .final = mg_final,
    .cleanup = mg_cleanup,
    .sign = mg_sign,
};
