/* The metrics listener both daemons serve: GET /metrics on the socket
 * `metrics =` names, through libevent's evhttp on the daemon's own
 * event_base; every request and connection is bounded. */
#ifndef PS_METRICS_HTTP_H
#define PS_METRICS_HTTP_H

#include "base/privdrop.h"
#include "metrics/metrics.h"

#define PS_METRICS_HTTP_TIMEOUT 5    /* seconds a connection may idle */
#define PS_METRICS_HTTP_HEADERS 8192 /* bytes of request line + headers */
#define PS_METRICS_HTTP_BODY    1024 /* bytes of a request body */
#define PS_METRICS_HTTP_BACKLOG 16
/* Connections open at once; one more closes the oldest. */
#define PS_METRICS_HTTP_CONNS 64
/* Seconds a request may take from its connection's accept (or the answer
 * before it) to its answer, however steadily its bytes trickle in. */
#define PS_METRICS_HTTP_DEADLINE 10
/* Connections open at once; one more closes the oldest. */
#define PS_METRICS_HTTP_CONNS 64
/* Seconds a request may take from its connection's accept (or the reply
 * before it) to its last byte, however slowly the bytes trickle in. */
#define PS_METRICS_HTTP_DEADLINE 10

struct event_base;
typedef struct ps_metrics_http ps_metrics_http;

/* Binds spec ("inet:HOST:PORT" or "unix:PATH", the core's one listen
 * parser) as whoever started the daemon; a unix socket gets plan's group
 * and mode, as the daemon's own socket does. *fd listens. */
int ps_metrics_listen(const char *spec, const ps_priv_plan *plan, int *fd,
                      ps_err *err);

/* Called before each exposition, for values computed at scrape time. */
typedef void (*ps_metrics_refresh_fn)(void *arg);

/* Serves r on fd (taken over, closed by ps_metrics_http_free). */
ps_metrics_http *ps_metrics_http_new(struct event_base *base, int fd,
                                     const ps_metrics *r,
                                     ps_metrics_refresh_fn refresh, void *arg,
                                     ps_err *err);
void ps_metrics_http_free(ps_metrics_http *h);

#endif
