/* Per-message state: the envelope sender, the SASL login, and the header
 * fields exactly as the MTA passed them (kept until end of headers, when
 * the From field decides who signs), within fixed bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"

static char *ps_msg_dup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int ps_msg_start(ps_msg *m, const char *envfrom, const char *auth,
                 const char *qid)
{
    ps_msg_reset(m);
    snprintf(m->qid, sizeof(m->qid), "%s", qid != NULL ? qid : "-");
    m->envfrom = ps_msg_dup(envfrom != NULL ? envfrom : "");
    m->auth = auth != NULL && *auth != '\0' ? ps_msg_dup(auth) : NULL;
    if (m->envfrom == NULL || (auth != NULL && *auth != '\0' && !m->auth))
        return -1;
    return 0;
}

/* The 1-based position of this field among those of its name, which is
 * how smfi_chgheader names a field. */
static int ps_msg_index(const ps_msg *m, const char *name)
{
    int n = 1;

    for (size_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(m->hdrs[i].name, name) == 0)
            n++;
    return n;
}

static int ps_msg_grow(ps_msg *m)
{
    size_t cap = m->cap != 0 ? 2 * m->cap : 32;
    ps_hdr *h;

    if (m->nhdrs < m->cap)
        return 0;
    if ((h = reallocarray(m->hdrs, cap, sizeof(*h))) == NULL)
        return -1;
    m->hdrs = h;
    m->cap = cap;
    return 0;
}

int ps_msg_add_header(ps_msg *m, const char *name, const char *value)
{
    size_t bytes = strlen(name) + strlen(value);
    ps_hdr *h;

    if (m->overflow || m->nhdrs >= PS_MILTER_MAX_HEADERS ||
        bytes > PS_MILTER_MAX_HDRSIZE - m->hdr_bytes) {
        m->overflow = 1;
        return 0;
    }
    if (ps_msg_grow(m) != 0)
        return -1;
    h = &m->hdrs[m->nhdrs];
    h->index = ps_msg_index(m, name);
    h->forged = 0;
    h->name = strdup(name);
    h->value = strdup(value);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        return -1;
    }
    m->nhdrs++;
    m->hdr_bytes += bytes;
    return 0;
}

void ps_msg_reset(ps_msg *m)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        free(m->hdrs[i].name);
        free(m->hdrs[i].value);
    }
    free(m->hdrs);
    free(m->envfrom);
    free(m->auth);
    if (m->signer != NULL)
        ps_dkim_sign_free(m->signer);
    ps_verify_free(m->verify);
    ps_arc_seal_free(m->sealer);
    free(m->authres);
    ps_arc_msg_free(&m->arc);
    for (size_t i = 0; i < m->nswaps; i++) {
        free(m->swaps[i].given);
        free(m->swaps[i].original);
    }
    free(m->swaps);
    free(m->sent);
    for (size_t i = 0; i < m->nrcpts; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    free(m->bounce);
    ps_record_free(&m->dmhist);
    memset(m, 0, sizeof(*m));
}

char *ps_milter_lf(const char *value)
{
    size_t n = strlen(value), k = 0;
    char *out = malloc(n + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(value[i] == '\r' && value[i + 1] == '\n'))
            out[k++] = value[i];
    out[k] = '\0';
    return out;
}
