/* Loading everything a postseal.conf names (DKIM keys, OpenDKIM tables,
 * secret files) once, to prove it would work: `postseal check` and the
 * daemons' -n. */
#ifndef PS_CONFCHECK_H
#define PS_CONFCHECK_H

#include "conf/conf.h"
#include "base/err.h"

/* Loads and frees every key of [keys] and of the KeyTable (through the
 * signing rules, so names used in [signing] and the SigningTable are
 * checked too), the [return_path] secret_file and srs_secret_file, and
 * the [policyd] store's password_file.
 * The first failure is returned as "FILE:LINE: reason", FILE:LINE being
 * the line of conf (or of the table) that names what failed. */
int ps_confcheck_run(const ps_conf *conf, ps_err *err);

#endif
