/* The parts of the whole-file check (check.h), one file each: what the
 * config names must load (files.c), the places the daemons create or bind
 * must be usable (paths.c), what it asks for must have an effect (use.c).
 * Each returns 0, or -1 with "FILE:LINE: reason". */
#ifndef PS_CHECK_INT_H
#define PS_CHECK_INT_H

#include "base/err.h"
#include "check/check.h"

int ps_confcheck_loads(const ps_conf *conf, ps_err *err);
int ps_confcheck_paths(const ps_conf *conf, ps_err *err);
/* The users the daemons become, when run as root (last: the other
 * checks say more about the file). */
int ps_confcheck_users(const ps_conf *conf, ps_err *err);
int ps_confcheck_use(const ps_conf *conf, ps_err *err);

#endif
