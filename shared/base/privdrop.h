/* Least privilege for the daemons: started as root, a daemon binds its
 * socket, gives it to the configured group and mode, then becomes an
 * unprivileged user for good before it loads keys or reads the network. */
#ifndef PS_PRIVDROP_H
#define PS_PRIVDROP_H

#include <sys/types.h>

#include "base/err.h"

/* What a daemon's section asks for; file and lines only shape messages. */
typedef struct ps_priv_spec {
    const char *file;    /* postseal.conf */
    const char *section; /* "milter", "policyd" */
    const char *user;    /* "root": stay root (a warning is the caller's) */
    int user_line;       /* 0: the default */
    const char *socket_group; /* NULL: the user's own group */
    int socket_group_line;
    int socket_mode; /* permission bits of a unix socket */
} ps_priv_spec;

/* What ps_priv_drop will do, decided before anything is bound. */
typedef enum ps_priv_outcome {
    PS_PRIV_DROP,     /* root now, the configured user after the drop */
    PS_PRIV_AS_ROOT,  /* root, and `user = root` (or uid 0) keeps it */
    PS_PRIV_AS_ITSELF /* not started as root: nothing to drop */
} ps_priv_outcome;

typedef struct ps_priv_plan {
    ps_priv_outcome outcome;
    uid_t uid; /* the user to become (PS_PRIV_DROP) */
    gid_t gid;
    char user[33];
    uid_t socket_uid; /* (uid_t)-1 / (gid_t)-1: left as created */
    gid_t socket_gid;
    int socket_mode;
} ps_priv_plan;

/* Looks the user and socket group up. Errors name the setting:
 * "FILE:LINE: [milter] user 'x': no such user". */
int ps_priv_plan_make(const ps_priv_spec *spec, ps_priv_plan *plan,
                      ps_err *err);
/* Gives the unix socket at path the plan's owner, group and mode. */
int ps_priv_socket(const ps_priv_plan *plan, const char *path, ps_err *err);
/* Becomes the plan's user: supplementary groups set to the user's own,
 * group, then user; verified that root cannot be regained. Call before
 * any thread starts. 0, or -1 and the daemon must exit. */
int ps_priv_drop(const ps_priv_plan *plan, ps_err *err);

#endif
