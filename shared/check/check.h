/* The whole-file verdict on a postseal.conf beyond its syntax: everything
 * it names loads, every place the daemons create or bind is usable, and
 * what it asks for can happen. `postseal check`, both daemons' -n, their
 * start and their reload all call ps_confcheck_run, so they cannot
 * disagree about a file. */
#ifndef PS_CONFCHECK_H
#define PS_CONFCHECK_H

#include "conf/conf.h"
#include "base/err.h"

/* In this order: [limits] built as the policy daemon builds them; mode
 * sign with nothing to sign with; every key of [keys] and of the KeyTable
 * loaded and freed (through the signing rules, so names used in [signing]
 * and the SigningTable are checked too), the [return_path] secret_file
 * and srs_secret_file, the [policyd] store's password_file; the events file and
 * an LMDB store creatable; unix socket directories usable and inet socket hosts
 * resolvable. The first failure is returned as "FILE:LINE: reason", FILE:LINE
 * being the line of conf (or of the table) that names what failed ("FILE:
 * reason" for the policy daemon's default store). */
int ps_confcheck_run(const ps_conf *conf, ps_err *err);
/* For a daemon that cannot start as its section's user (err says why):
 * the whole-file check names an earlier fault of the file if it has one,
 * replacing err, so start says what -n and postseal check say. Only on
 * that failure path does it load keys as whoever started the daemon. */
void ps_confcheck_explain(const ps_conf *conf, ps_err *err);

#endif
