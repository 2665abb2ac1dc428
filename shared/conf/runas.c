/* The values of the settings that say whom a daemon runs as and who may
 * reach its unix socket ([milter] and [policyd]: user, socket_group,
 * socket_mode), and their hand-over to the core's privilege dropping. */
#include "conf/conf_int.h"

#include <stdlib.h>
#include <string.h>

/* A user or group name as useradd(8) accepts it: no ':', ',' or blanks
 * (they separate fields in /etc/passwd and lists here), at most 32 bytes. */
int ps_conf_check_account(const char *v, ps_err *err)
{
    size_t n = strlen(v);

    if (n > 32)
        return ps_err_set(err, "longer than 32 bytes");
    if (v[0] == '-' || strspn(v, "0123456789") == n)
        return ps_err_set(err, "expected a user or group name");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c >= 0x7f || strchr(":,/\\", c) != NULL)
            return ps_err_set(err, "character '%c' not allowed", c);
    }
    return 0;
}

/* Octal permission bits, as chmod(1) spells them: 0660, 660, 0600. */
int ps_conf_parse_socket_mode(const char *v, int *mode, ps_err *err)
{
    size_t n = strspn(v, "01234567");
    long m = n > 0 && n <= 4 && v[n] == '\0' ? strtol(v, NULL, 8) : -1;

    if (m < 0 || m > 0777)
        return ps_err_set(err, "expected octal permission bits, e.g. 0660");
    if ((m & 0600) != 0600)
        return ps_err_set(err, "the owner needs read and write (0600)");
    *mode = (int)m;
    return 0;
}

int ps_conf_runas_defaults(ps_conf_runas *r, ps_err *err)
{
    r->socket_mode = PS_CONF_SOCKET_MODE;
    r->user.value = strdup(PS_CONF_USER);
    r->user.line = 0;
    return r->user.value == NULL ? ps_err_set(err, "out of memory") : 0;
}

void ps_conf_runas_spec(const ps_conf *conf, const ps_conf_runas *r,
                        const char *section, ps_priv_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->file = conf->path;
    spec->section = section;
    spec->user = r->user.value;
    spec->user_line = r->user.line;
    spec->socket_group = r->socket_group.value;
    spec->socket_group_line = r->socket_group.line;
    spec->socket_mode = r->socket_mode;
}

int ps_conf_runas_plan(const ps_conf *conf, const ps_conf_runas *r,
                       const char *section, ps_priv_plan *plan, ps_err *err)
{
    ps_priv_spec spec;

    ps_conf_runas_spec(conf, r, section, &spec);
    return ps_priv_plan_make(&spec, plan, err);
}
