/* ARC sealing: the header fields are kept until the header ends, when
 * the existing sets (sets.c) fix the instance; the ARC-Message-Signature
 * is the core DKIM signer with that instance, the ARC-Seal the core's
 * seal step over the sets, oldest first, and the new AAR and AMS. */
#include "arc/arc_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc/arc.h"

struct ps_arc_sealer {
    ps_dkim_params params;
    ps_dkim_signer signer;
    time_t now;
    ps_dkim_field *hdrs; /* copies, message order */
    size_t nhdrs, caphdrs, bytes;
    ps_arc_sets *sets; /* parsed at the end of the header */
    ps_arc_sets_status status;
    unsigned instance; /* 0: no seal may be added */
    ps_arc_seal_outcome skip;
    ps_dkim_sign *ams; /* made at the end of the header */
    int ended, done;
};

static const char *const cv_names[] = {"none", "pass", "fail"};

const char *ps_arc_seal_cv_name(ps_arc_seal_cv cv)
{
    return (unsigned)cv < 3 ? cv_names[cv] : "fail";
}

int ps_arc_seal_cv_parse(const char *word, ps_arc_seal_cv *cv)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(word, cv_names[i]) == 0) {
            *cv = (ps_arc_seal_cv)i;
            return 0;
        }
    return -1;
}

ps_arc_sealer *ps_arc_seal_new(const ps_dkim_params *params,
                               const ps_dkim_signer *signer, time_t now,
                               ps_err *err)
{
    ps_arc_sealer *s;

    if (signer == NULL || signer->key == NULL) {
        ps_err_set(err, "ARC sealing needs a key");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->sets = ps_arc_sets_new()) == NULL) {
        free(s);
        ps_err_set(err, "ARC sealing: out of memory");
        return NULL;
    }
    if (params != NULL)
        s->params = *params;
    s->signer = *signer;
    s->now = now;
    return s;
}

int ps_arc_seal_header(ps_arc_sealer *s, const char *name, const char *value,
                       ps_err *err)
{
    ps_dkim_field *f;
    size_t len;

    if (s->ended)
        return ps_err_set(err, "ARC sealing: header field after the body");
    if (name == NULL || value == NULL)
        return ps_err_set(err, "ARC sealing: header field without name or "
                               "value");
    len = strlen(name) + strlen(value);
    if (s->nhdrs >= PS_DKIM_MAX_HEADERS ||
        len > PS_DKIM_MAX_HEADER_BYTES - s->bytes)
        return ps_err_set(err,
                          "ARC sealing: more than %d header fields or "
                          "%d bytes of them",
                          PS_DKIM_MAX_HEADERS, PS_DKIM_MAX_HEADER_BYTES);
    if (s->nhdrs == s->caphdrs) {
        size_t cap = s->caphdrs ? 2 * s->caphdrs : 32;
        f = realloc(s->hdrs, cap * sizeof(*f));
        if (f == NULL)
            return ps_err_set(err, "ARC sealing: out of memory");
        s->hdrs = f;
        s->caphdrs = cap;
    }
    f = &s->hdrs[s->nhdrs];
    f->name = strdup(name);
    f->value = strdup(value);
    if (f->name == NULL || f->value == NULL) {
        free((char *)f->name);
        free((char *)f->value);
        return ps_err_set(err, "ARC sealing: out of memory");
    }
    s->nhdrs++;
    s->bytes += len;
    return 0;
}

/* The cv= of the latest seal, as written ("" when there is none). */
static int latest_failed(const ps_arc_sets *sets)
{
    const ps_tag *cv;

    if (sets->count == 0 || !sets->set[sets->count - 1].part[PS_ARC_AS].present)
        return 0;
    cv = ps_tagval_find(&sets->set[sets->count - 1].part[PS_ARC_AS].tags, "cv");
    return cv != NULL && cv->value_len == 4 &&
           strncasecmp(cv->value, "fail", 4) == 0;
}

/* The instance from the sets found: past the limit, or after a failed
 * seal, none (RFC 8617 4.2.1, 5.1.2). */
static void choose_instance(ps_arc_sealer *s)
{
    if (s->status == PS_ARC_SETS_RANGE ||
        s->sets->count >= PS_ARC_MAX_INSTANCES)
        s->skip = PS_ARC_SEAL_AT_LIMIT;
    else if (latest_failed(s->sets))
        s->skip = PS_ARC_SEAL_FAILED;
    else
        s->instance = s->sets->count + 1;
}

static int end_header(ps_arc_sealer *s, ps_err *err)
{
    ps_arc_header *h;
    ps_err why = {""};

    if (s->ended)
        return 0;
    s->ended = 1;
    h = calloc(s->nhdrs ? s->nhdrs : 1, sizeof(*h));
    if (h == NULL)
        return ps_err_set(err, "ARC sealing: out of memory");
    for (size_t i = 0; i < s->nhdrs; i++)
        h[i] = (ps_arc_header){s->hdrs[i].name, strlen(s->hdrs[i].name),
                               s->hdrs[i].value, strlen(s->hdrs[i].value)};
    s->status = ps_arc_sets_parse(h, s->nhdrs, s->sets, &why);
    free(h);
    choose_instance(s);
    if (s->instance == 0)
        return 0;
    s->ams = ps_dkim_sign_new(&s->params, &s->signer, 1, s->now, err);
    if (s->ams == NULL ||
        ps_dkim_sign_arc_instance(s->ams, s->instance, err) < 0)
        return -1;
    for (size_t i = 0; i < s->nhdrs; i++)
        if (ps_dkim_sign_header(s->ams, s->hdrs[i].name, s->hdrs[i].value,
                                err) < 0)
            return -1;
    return 0;
}

unsigned ps_arc_seal_instance(ps_arc_sealer *s, ps_err *err)
{
    return end_header(s, err) < 0 ? 0 : s->instance;
}

int ps_arc_seal_body(ps_arc_sealer *s, const uint8_t *data, size_t n,
                     ps_err *err)
{
    if (end_header(s, err) < 0)
        return -1;
    return s->ams != NULL ? ps_dkim_sign_body(s->ams, data, n, err) : 0;
}

/* Folding is allowed (a line end followed by WSP); nothing else that
 * would end the field early or cannot be in a header. */
static int authres_ok(const char *a)
{
    size_t n = strlen(a);

    if (n == 0 || n > 8192)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c == '\r' && a[i + 1] == '\n')
            continue;
        if (c == '\n' && (a[i + 1] == ' ' || a[i + 1] == '\t'))
            continue;
        if (c == '\r' || c == '\n')
            return 0;
    }
    return 1;
}

static int check_cv(const ps_arc_sealer *s, ps_arc_seal_cv cv, ps_err *err)
{
    if (s->instance == 1 && cv != PS_ARC_SEAL_CV_NONE)
        return ps_err_set(err, "ARC sealing: no ARC chain on the message, "
                               "cv= must be none");
    if (s->instance > 1 && cv == PS_ARC_SEAL_CV_NONE)
        return ps_err_set(err,
                          "ARC sealing: the message carries ARC "
                          "instance %u, cv= must be pass or fail",
                          s->instance - 1);
    if (cv == PS_ARC_SEAL_CV_PASS && s->status != PS_ARC_SETS_OK)
        return ps_err_set(err,
                          "ARC sealing: the ARC sets are broken (%s), "
                          "cv=pass refused",
                          ps_arc_sets_status_name(s->status));
    return 0;
}

static int add_field(ps_dkim_field *f, size_t *n, const char *name,
                     const char *value)
{
    f[*n] = (ps_dkim_field){name, value};
    (*n)++;
    return 0;
}

/* The seal covers every earlier set unless the chain failed, then only
 * its own (as dkimpy does: a failed chain is not vouched for). */
static int make_seal(ps_arc_sealer *s, ps_arc_seal_cv cv, ps_arc_seal_out *o,
                     ps_err *err)
{
    static const char *const names[PS_ARC_NPARTS] = {
        "ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"};
    ps_dkim_field *f = calloc(3 * PS_ARC_MAX_INSTANCES + 2, sizeof(*f));
    size_t n = 0;
    int rc;

    if (f == NULL)
        return ps_err_set(err, "ARC sealing: out of memory");
    for (unsigned k = 0; cv == PS_ARC_SEAL_CV_PASS && k < s->sets->count; k++)
        for (int p = 0; p < PS_ARC_NPARTS; p++)
            add_field(f, &n, s->hdrs[s->sets->set[k].part[p].pos].name,
                      s->hdrs[s->sets->set[k].part[p].pos].value);
    add_field(f, &n, names[PS_ARC_AAR], o->aar);
    add_field(f, &n, names[PS_ARC_AMS], o->ams);
    rc = ps_dkim_seal(&s->signer, s->now, s->instance, ps_arc_seal_cv_name(cv),
                      f, n, &o->as, err);
    free(f);
    return rc;
}

static int make_aar(ps_arc_sealer *s, const char *authres, ps_arc_seal_out *o,
                    ps_err *err)
{
    size_t len = strlen(authres) + 16;

    while (*authres == ' ' || *authres == '\t')
        authres++;
    if ((o->aar = malloc(len)) == NULL)
        return ps_err_set(err, "ARC sealing: out of memory");
    snprintf(o->aar, len, " i=%u; %s", s->instance, authres);
    return 0;
}

static int make_ams(ps_arc_sealer *s, ps_arc_seal_out *o, ps_err *err)
{
    char **values = NULL;
    size_t count = 0;

    if (ps_dkim_sign_final(s->ams, &values, &count, err) < 0)
        return -1;
    o->ams = values[0];
    free(values);
    return 0;
}

int ps_arc_seal_final(ps_arc_sealer *s, ps_arc_seal_cv cv, const char *authres,
                      ps_arc_seal_out *out, ps_err *err)
{
    memset(out, 0, sizeof(*out));
    if (s->done)
        return ps_err_set(err, "ARC sealing: message already sealed");
    s->done = 1;
    if (end_header(s, err) < 0)
        return -1;
    if (s->instance == 0) {
        out->outcome = s->skip;
        return 0;
    }
    if (authres == NULL || !authres_ok(authres))
        return ps_err_set(err, "ARC sealing: the Authentication-Results "
                               "payload is empty, too long or breaks the "
                               "header");
    if (check_cv(s, cv, err) < 0)
        return -1;
    out->instance = s->instance;
    if (make_aar(s, authres, out, err) < 0 || make_ams(s, out, err) < 0 ||
        make_seal(s, cv, out, err) < 0) {
        ps_arc_seal_out_free(out);
        return -1;
    }
    out->outcome = PS_ARC_SEAL_SEALED;
    return 0;
}

void ps_arc_seal_out_free(ps_arc_seal_out *out)
{
    free(out->aar);
    free(out->ams);
    free(out->as);
    out->aar = out->ams = out->as = NULL;
}

void ps_arc_seal_free(ps_arc_sealer *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nhdrs; i++) {
        free((char *)s->hdrs[i].name);
        free((char *)s->hdrs[i].value);
    }
    free(s->hdrs);
    ps_arc_sets_free(s->sets);
    ps_dkim_sign_free(s->ams);
    free(s);
}
