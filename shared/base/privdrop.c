/* Becoming an unprivileged user for good: the user and socket group are
 * looked up while still root, the socket handed over, then groups, gid
 * and uid are set in that order (setuid first would forbid the rest) and
 * the drop is checked to be irreversible. */
#include "base/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "FILE:LINE: [SECTION] KEY 'VALUE'" or, for a default, "FILE: [SECTION]
 * KEY 'VALUE' (the default)": which setting to change. */
static void ps_priv_where(const ps_priv_spec *s, const char *key,
                          const char *value, int line, char *buf, size_t size)
{
    if (line > 0)
        snprintf(buf, size, "%s:%d: [%s] %s '%s'", s->file, line, s->section,
                 key, value);
    else
        snprintf(buf, size, "%s: [%s] %s '%s' (the default)", s->file,
                 s->section, key, value);
}

static int ps_priv_user(const ps_priv_spec *s, ps_priv_plan *p, ps_err *err)
{
    struct passwd pw, *found = NULL;
    char buf[4096], where[300];
    int rc = getpwnam_r(s->user, &pw, buf, sizeof(buf), &found);

    if (found != NULL) {
        p->uid = pw.pw_uid;
        p->gid = pw.pw_gid;
        return 0;
    }
    ps_priv_where(s, "user", s->user, s->user_line, where, sizeof(where));
    if (rc != 0)
        return ps_err_set(err, "%s: cannot look the user up: %s", where,
                          strerror(rc));
    return ps_err_set(err,
                      "%s: no such user; create it (useradd --system %s) "
                      "or name another in [%s]",
                      where, s->user, s->section);
}

static int ps_priv_group(const ps_priv_spec *s, gid_t *gid, ps_err *err)
{
    struct group gr, *found = NULL;
    char buf[16384], where[300];
    int rc = getgrnam_r(s->socket_group, &gr, buf, sizeof(buf), &found);

    if (found != NULL) {
        *gid = gr.gr_gid;
        return 0;
    }
    ps_priv_where(s, "socket_group", s->socket_group, s->socket_group_line,
                  where, sizeof(where));
    return ps_err_set(err, "%s: %s", where,
                      rc != 0 ? strerror(rc) : "no such group");
}

int ps_priv_plan_make(const ps_priv_spec *spec, ps_priv_plan *plan, ps_err *err)
{
    memset(plan, 0, sizeof(*plan));
    plan->socket_uid = (uid_t)-1;
    plan->socket_gid = (gid_t)-1;
    plan->socket_mode = spec->socket_mode;
    snprintf(plan->user, sizeof(plan->user), "%s", spec->user);
    if (geteuid() != 0)
        plan->outcome = PS_PRIV_AS_ITSELF;
    else if (strcmp(spec->user, "root") == 0)
        plan->outcome = PS_PRIV_AS_ROOT;
    else {
        if (ps_priv_user(spec, plan, err) != 0)
            return -1;
        /* Another name for uid 0 ("toor") is root too, and said so. */
        plan->outcome = plan->uid == 0 ? PS_PRIV_AS_ROOT : PS_PRIV_DROP;
        plan->socket_uid = plan->uid;
        plan->socket_gid = plan->gid;
    }
    if (spec->socket_group != NULL &&
        ps_priv_group(spec, &plan->socket_gid, err) != 0)
        return -1;
    return 0;
}

int ps_priv_socket(const ps_priv_plan *plan, const char *path, ps_err *err)
{
    if ((plan->socket_uid != (uid_t)-1 || plan->socket_gid != (gid_t)-1) &&
        chown(path, plan->socket_uid, plan->socket_gid) != 0)
        return ps_err_set(err, "%s: cannot give the socket to group %ld: %s",
                          path, (long)plan->socket_gid, strerror(errno));
    if (chmod(path, (mode_t)plan->socket_mode) != 0)
        return ps_err_set(err, "%s: cannot set mode %04o: %s", path,
                          (unsigned)plan->socket_mode, strerror(errno));
    return 0;
}

/* Every id, real, effective and saved, must be the target and root must
 * be out of reach: a setuid(0) that succeeds means the drop failed. */
static int ps_priv_verify(const ps_priv_plan *plan, ps_err *err)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
        return ps_err_set(err, "cannot read the process ids: %s",
                          strerror(errno));
    if (ru != plan->uid || eu != plan->uid || su != plan->uid ||
        rg != plan->gid || eg != plan->gid || sg != plan->gid)
        return ps_err_set(err, "user %s: ids not all changed", plan->user);
    if (setuid(0) == 0 || seteuid(0) == 0)
        return ps_err_set(err, "user %s: root could be regained", plan->user);
    return 0;
}

int ps_priv_drop(const ps_priv_plan *plan, ps_err *err)
{
    if (plan->outcome != PS_PRIV_DROP)
        return 0;
    if (initgroups(plan->user, plan->gid) != 0)
        return ps_err_set(err, "user %s: cannot set its groups: %s", plan->user,
                          strerror(errno));
    if (setresgid(plan->gid, plan->gid, plan->gid) != 0)
        return ps_err_set(err, "user %s: cannot set group id %ld: %s",
                          plan->user, (long)plan->gid, strerror(errno));
    if (setresuid(plan->uid, plan->uid, plan->uid) != 0)
        return ps_err_set(err, "user %s: cannot set user id %ld: %s",
                          plan->user, (long)plan->uid, strerror(errno));
    return ps_priv_verify(plan, err);
}
