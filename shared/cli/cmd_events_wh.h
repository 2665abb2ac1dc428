/* The webhook parts of `postseal events` (cmd_events_wh.c). */
#ifndef PS_CMD_EVENTS_WH_H
#define PS_CMD_EVENTS_WH_H

#include "conf/conf.h"

/* Every endpoint's events not yet delivered, one line each. */
int ps_events_wh_list(const ps_conf *conf);
/* verb "retry" or "drop", for event id (or "dead") at endpoint name. */
int ps_events_wh_request(const ps_conf *conf, const char *verb,
                         const char *name, const char *id);

#endif
