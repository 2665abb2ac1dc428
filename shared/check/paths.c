/* The places a postseal.conf names that the daemons create or bind when
 * they start (the events file, the LMDB store, unix sockets, the hosts of
 * inet sockets), checked the way start would find them, so `postseal
 * check` and -n say before start what start would say. */
#include "check/check_int.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/listen.h"

/* "FILE:LINE: " or, for a default (line 0), "FILE: ". */
static void ps_check_where(const ps_conf *conf, int line, char *buf,
                           size_t size)
{
    if (line > 0)
        snprintf(buf, size, "%s:%d", conf->path, line);
    else
        snprintf(buf, size, "%s", conf->path);
}

/* A file the daemon creates (or appends to) at path: its directory must
 * exist and be writable, and what is already there must be a writable
 * regular file (or, for a socket, anything the daemon may replace). */
static int ps_check_creatable(const ps_conf *conf, const char *key,
                              const char *value, const char *path, int line,
                              int regular, ps_err *err)
{
    char where[PATH_MAX + 16], copy[PATH_MAX], *dir;
    struct stat st;

    ps_check_where(conf, line, where, sizeof(where));
    snprintf(copy, sizeof(copy), "%s", path);
    dir = dirname(copy);
    if (access(dir, W_OK | X_OK) != 0)
        return ps_err_set(err, "%s: %s %s%s: directory %s: %s", where, key,
                          value, line > 0 ? "" : " (the default)", dir,
                          strerror(errno));
    if (!regular || stat(path, &st) != 0)
        return 0;
    if (!S_ISREG(st.st_mode))
        return ps_err_set(err, "%s: %s %s: not a regular file", where, key,
                          value);
    if (access(path, W_OK) != 0)
        return ps_err_set(err, "%s: %s %s: %s", where, key, value,
                          strerror(errno));
    return 0;
}

static int ps_check_events(const ps_conf *conf, ps_err *err)
{
    const ps_conf_str *ev = &conf->return_path.events;

    if (ev->value == NULL)
        return 0;
    return ps_check_creatable(conf, "events", ev->value, ev->value, ev->line, 1,
                              err);
}

/* [events] dir takes the spool and the records' directory; the log
 * followed must be where maillog says (Postfix may not have made it yet:
 * its directory must exist). */
static int ps_check_events_dir(const ps_conf *conf, ps_err *err)
{
    const ps_conf_str *dir = &conf->events.dir, *log = &conf->events.maillog;
    char spool[PATH_MAX], where[PATH_MAX + 16];
    struct stat st;

    if (log->value != NULL && dir->value == NULL)
        return ps_err_set(err, "%s:%d: [events] maillog needs [events] dir",
                          conf->path, log->line);
    if (dir->value == NULL)
        return 0;
    ps_check_where(conf, dir->line, where, sizeof(where));
    if (stat(dir->value, &st) != 0 || !S_ISDIR(st.st_mode))
        return ps_err_set(err, "%s: dir %s: not a directory", where,
                          dir->value);
    snprintf(spool, sizeof(spool), "%s/spool", dir->value);
    if (ps_check_creatable(conf, "dir", dir->value, spool, dir->line, 1, err) !=
        0)
        return -1;
    if (log->value == NULL)
        return 0;
    ps_check_where(conf, log->line, where, sizeof(where));
    snprintf(spool, sizeof(spool), "%s", log->value);
    if (access(dirname(spool), X_OK) != 0)
        return ps_err_set(err, "%s: maillog %s: %s", where, log->value,
                          strerror(errno));
    return 0;
}

/* Only an LMDB store is a place on this host; the default counts when
 * the file configures the policy daemon at all. */
static int ps_check_store(const ps_conf *conf, ps_err *err)
{
    const ps_conf_str *s = &conf->policyd.store;
    const char *value = s->value != NULL ? s->value : PS_CONF_DEFAULT_STORE;

    if ((s->value == NULL && !conf->uses_policyd) ||
        strncmp(value, "lmdb:", 5) != 0)
        return 0;
    return ps_check_creatable(conf, "store", value, value + 5, s->line, 0, err);
}

/* A unix socket's directory must take the socket; an inet host must
 * resolve, as binding will ask the same resolver. */
static int ps_check_socket(const ps_conf *conf, const char *key,
                           const ps_conf_str *s, const ps_listen *l,
                           ps_err *err)
{
    struct addrinfo *ai;
    ps_err why = {""};

    if (l->kind == PS_LISTEN_UNIX)
        return ps_check_creatable(conf, key, s->value, l->path, s->line, 0,
                                  err);
    if (ps_listen_resolve(l, &ai, &why) != 0)
        return ps_err_set(err, "%s:%d: %s %s: %s", conf->path, s->line, key,
                          s->value, why.msg);
    freeaddrinfo(ai);
    return 0;
}

/* The syntax was checked when the file was read, so the parse fails
 * only if a caller built conf by hand. */
static int ps_check_sockets(const ps_conf *conf, ps_err *err)
{
    static const char *const key[4] = {"socket", "listen", "metrics",
                                       "metrics"};
    const ps_conf_str *spec[4] = {&conf->milter.socket, &conf->policyd.listen,
                                  &conf->milter.metrics,
                                  &conf->policyd.metrics};
    ps_listen l;
    ps_err why = {""};

    for (int i = 0; i < 4; i++) {
        if (spec[i]->value == NULL)
            continue;
        if ((i == 0 ? ps_listen_parse_milter(spec[i]->value, &l, &why)
                    : ps_listen_parse(spec[i]->value, &l, &why)) != 0)
            return ps_err_set(err, "%s:%d: bad %s '%s': %s", conf->path,
                              spec[i]->line, key[i], spec[i]->value, why.msg);
        if (ps_check_socket(conf, key[i], spec[i], &l, err) != 0)
            return -1;
    }
    return 0;
}

/* [milter] dmarc_history: a writable directory, or one the milter can
 * make at its first record. */
static int ps_check_dmarc_history(const ps_conf *conf, ps_err *err)
{
    const ps_conf_str *h = &conf->milter.dmarc_history;
    char where[PATH_MAX + 16];
    struct stat st;

    if (h->value == NULL)
        return 0;
    if (stat(h->value, &st) != 0)
        return ps_check_creatable(conf, "dmarc_history", h->value, h->value,
                                  h->line, 0, err);
    ps_check_where(conf, h->line, where, sizeof(where));
    if (!S_ISDIR(st.st_mode))
        return ps_err_set(err, "%s: dmarc_history %s: not a directory", where,
                          h->value);
    if (access(h->value, W_OK | X_OK) != 0)
        return ps_err_set(err, "%s: dmarc_history %s: %s", where, h->value,
                          strerror(errno));
    return 0;
}

int ps_confcheck_paths(const ps_conf *conf, ps_err *err)
{
    if (ps_check_events(conf, err) != 0 ||
        ps_check_dmarc_history(conf, err) != 0 ||
        ps_check_events_dir(conf, err) != 0 || ps_check_store(conf, err) != 0 ||
        ps_check_sockets(conf, err) != 0)
        return -1;
    return 0;
}
