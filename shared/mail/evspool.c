/* Event spool records (evspool.h): their line format, names and ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/encode.h"
#include "mail/evspool.h"

static const char *const ev_names[PS_EVENT_NKINDS] = {
    "sent",           "delayed",    "failed",
    "bounced",        "held",       "limit_approaching",
    "limit_exceeded", "suppressed", "suppression_rejected"};

const char *ps_event_kind_name(ps_event_kind k)
{
    return (unsigned)k < PS_EVENT_NKINDS ? ev_names[k] : "?";
}

int ps_event_make_id(const char *what, size_t n, const char *rcpt,
                     char id[PS_EVSPOOL_ID + 1], ps_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, what, n) == 1 &&
        (rcpt == NULL || (EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
                          EVP_DigestUpdate(ctx, rcpt, strlen(rcpt)) == 1)) &&
        EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;

    EVP_MD_CTX_free(ctx);
    if (!ok)
        return ps_err_openssl(err, "event id");
    id[ps_hex_encode(md, PS_EVSPOOL_ID / 2, id)] = '\0';
    return 0;
}

void ps_evspool_format(const ps_event *ev, ps_record *r)
{
    char when[32];

    snprintf(when, sizeof(when), "%lld", (long long)ev->when);
    ps_record_put(r, "E");
    ps_record_put(r, ev->id);
    ps_record_put(r, when);
    ps_record_put(r, ps_event_kind_name(ev->kind));
    ps_record_put(r, ev->qid);
    ps_record_put(r, ev->msgid);
    ps_record_put(r, ev->sender);
    ps_record_put(r, ev->auth);
    ps_record_put(r, ev->client);
    ps_record_put(r, ev->recipient);
    ps_record_put(r, ev->dsn);
    ps_record_put(r, ev->reply);
    ps_record_put(r, ev->src);
    ps_record_end(r);
}

int ps_evspool_parse(char *line, char **f, ps_event *ev)
{
    char *end;
    long long when;
    int k;

    memset(ev, 0, sizeof(*ev));
    if (ps_record_split(line, f, PS_EVSPOOL_NFIELDS) != PS_EVSPOOL_NFIELDS ||
        strcmp(f[0], "E") != 0 || strlen(f[1]) != PS_EVSPOOL_ID)
        return -1;
    when = strtoll(f[2], &end, 10);
    if (*f[2] == '\0' || *end != '\0' || when < 0)
        return -1;
    for (k = 0; k < PS_EVENT_NKINDS && strcmp(f[3], ev_names[k]) != 0; k++)
        ;
    if (k == PS_EVENT_NKINDS)
        return -1;
    memcpy(ev->id, f[1], PS_EVSPOOL_ID + 1);
    ev->when = (time_t)when;
    ev->kind = (ps_event_kind)k;
    ev->qid = f[4];
    ev->msgid = f[5];
    ev->sender = f[6];
    ev->auth = f[7];
    ev->client = f[8];
    ev->recipient = f[9];
    ev->dsn = f[10];
    ev->reply = f[11];
    ev->src = f[12];
    return 0;
}

int ps_evspool_path(const char *dir, char *out, size_t cap, ps_err *err)
{
    int n = snprintf(out, cap, "%s/" PS_EVSPOOL_NAME, dir);

    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "%s: path too long", dir);
    return 0;
}
