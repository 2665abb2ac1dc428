/* The configuration snapshot: everything read from postseal.conf and the
 * files it names, built whole before it is published. libmilter runs
 * callbacks on many threads, so the one current pointer is guarded by a
 * mutex and each connection holds a reference: SIGHUP swaps the pointer
 * and open connections finish on the snapshot they started with. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check.h"
#include "milter.h"

static pthread_mutex_t ps_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static ps_snap *ps_snap_current;

/* RFC 8601 suggests the host name when nothing is configured. */
static void ps_snap_authserv_id(ps_snap *s)
{
    const char *id = s->conf->milter.authserv_id.value;

    if (id != NULL) {
        snprintf(s->authserv_id, sizeof(s->authserv_id), "%s", id);
        return;
    }
    if (gethostname(s->authserv_id, sizeof(s->authserv_id) - 1) != 0 ||
        s->authserv_id[0] == '\0')
        snprintf(s->authserv_id, sizeof(s->authserv_id), "localhost");
}

/* A list present in the file (even empty: "none") replaces the core's
 * default; the names stay in s->conf, which lives as long as s. */
static void ps_snap_names(const ps_conf_list *l, const char *const **names,
                          size_t *n)
{
    *names = (const char *const *)l->items; /* NULL: the default */
    *n = l->n;
}

static void ps_snap_params(ps_snap *s)
{
    const int canon = s->conf->milter.canonicalization;

    memset(&s->params, 0, sizeof(s->params));
    s->params.header_canon = (canon & PS_CONF_CANON_HEADER_SIMPLE)
                                 ? PS_CANON_SIMPLE
                                 : PS_CANON_RELAXED;
    s->params.body_canon = (canon & PS_CONF_CANON_BODY_SIMPLE)
                               ? PS_CANON_SIMPLE
                               : PS_CANON_RELAXED;
    ps_snap_names(&s->conf->milter.sign_headers, &s->params.sign_headers,
                  &s->params.nsign_headers);
    ps_snap_names(&s->conf->milter.oversign_headers,
                  &s->params.oversign_headers, &s->params.noversign_headers);
    s->params.expire_after = s->conf->milter.signature_expire;
    s->max_verify = s->conf->milter.max_verify;
}

static int ps_snap_lists(ps_snap *s, ps_err *err)
{
    const ps_conf_str *hosts = &s->conf->milter.internal_hosts;
    ps_err why = {""};

    if (ps_cidr_parse(hosts->value, &s->internal, &why) != 0)
        return ps_err_set(err, "%s:%d: internal_hosts: %s", s->conf->path,
                          hosts->line, why.msg);
    if (ps_dnsq_init(&s->dns, s->conf->milter.resolver.value, &why) != 0)
        return ps_err_set(err, "%s:%d: %s", s->conf->path,
                          s->conf->milter.resolver.line, why.msg);
    return 0;
}

int ps_snap_load(const char *path, ps_snap **out, ps_err *err)
{
    ps_snap *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return ps_err_set(err, "out of memory");
    /* The whole-file check first, so start, reload and -n refuse exactly
     * what `postseal check` refuses, with the same message. */
    if (ps_conf_load(path, &s->conf, err) != 0 ||
        ps_confcheck_run(s->conf, err) != 0 || ps_snap_lists(s, err) != 0 ||
        ps_signrules_load(s->conf, 0, &s->rules, err) != 0 ||
        ps_rp_load(s, err) != 0 || ps_arcseal_snap_init(s, err) != 0)
        goto fail;
    s->mode = s->conf->milter.mode;
    ps_snap_authserv_id(s);
    ps_snap_params(s);
    if ((s->mode & PS_MODE_VERIFY) &&
        (ps_verify_lib_init(s, err) != 0 || ps_spf_init(s, err) != 0 ||
         ps_dmarc_snap_init(s, err) != 0))
        goto fail;
    *out = s;
    return 0;
fail:
    ps_snap_free(s);
    return -1;
}

void ps_snap_free(ps_snap *s)
{
    if (s == NULL)
        return;
    ps_verify_lib_free(s);
    ps_spf_free(s);
    ps_dmarc_snap_free(s);
    ps_rp_free(s);
    ps_signrules_free(s->rules);
    ps_conf_free(s->conf);
    free(s);
}

void ps_snap_publish(ps_snap *s)
{
    ps_snap *old;

    pthread_mutex_lock(&ps_snap_lock);
    s->refs = 1; /* the "current" reference */
    old = ps_snap_current;
    ps_snap_current = s;
    pthread_mutex_unlock(&ps_snap_lock);
    if (old != NULL)
        ps_snap_release(old);
}

void ps_snap_shutdown(void)
{
    ps_snap *old;

    pthread_mutex_lock(&ps_snap_lock);
    old = ps_snap_current;
    ps_snap_current = NULL;
    pthread_mutex_unlock(&ps_snap_lock);
    ps_snap_release(old);
}

ps_snap *ps_snap_acquire(void)
{
    ps_snap *s;

    pthread_mutex_lock(&ps_snap_lock);
    s = ps_snap_current;
    if (s != NULL)
        s->refs++;
    pthread_mutex_unlock(&ps_snap_lock);
    return s;
}

void ps_snap_release(ps_snap *s)
{
    int last;

    if (s == NULL)
        return;
    pthread_mutex_lock(&ps_snap_lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&ps_snap_lock);
    if (last)
        ps_snap_free(s);
}
