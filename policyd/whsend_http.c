/* The webhook sender's HTTP client: libcurl's multi interface, its
 * sockets and timer driven by postseal-policyd's libevent loop
 * (curl_multi_socket_action), certificate verification on, one easy
 * handle per POST. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "whsend.h"

#define WHS_USER_AGENT "postseal-policyd"

/* One POST in flight: what libcurl reads from must outlive the call. */
typedef struct whs_xfer {
    struct whs_xfer *prev, *next; /* every POST in flight, for freeing */
    CURL *easy;
    ps_whs_ep *ep;
    long long off;
    struct curl_slist *hdrs;
    char *body;
    char error[CURL_ERROR_SIZE];
} whs_xfer;

/* One socket libcurl watches. */
typedef struct whs_sock {
    struct event *ev;
} whs_sock;

static void whs_xfer_free(ps_whs *s, whs_xfer *x)
{
    if (x->prev != NULL)
        x->prev->next = x->next;
    else if (s->xfers == x)
        s->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    if (x->easy != NULL) {
        curl_multi_remove_handle(s->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    free(x->body);
    free(x);
}

static void whs_finish(ps_whs *s)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        whs_xfer *x = NULL;
        long status = 0;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (msg->data.result == CURLE_OK)
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
                              &status);
        ps_whs_done(x->ep, x->off, status,
                    msg->data.result == CURLE_OK
                        ? ""
                        : (x->error[0] ? x->error
                                       : curl_easy_strerror(msg->data.result)));
        whs_xfer_free(s, x);
    }
}

static void whs_on_socket(evutil_socket_t fd, short what, void *arg)
{
    ps_whs *s = arg;
    int running, flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
                         (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

    curl_multi_socket_action(s->multi, fd, flags, &running);
    whs_finish(s);
}

static void whs_on_timer(evutil_socket_t fd, short what, void *arg)
{
    ps_whs *s = arg;
    int running;

    (void)fd, (void)what;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    whs_finish(s);
}

static int whs_socket_cb(CURL *easy, curl_socket_t fd, int what, void *user,
                         void *sockp)
{
    ps_whs *s = user;
    whs_sock *ws = sockp;
    short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
                 (what & CURL_POLL_OUT ? EV_WRITE : 0);

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ws != NULL) {
            event_free(ws->ev);
            free(ws);
        }
        curl_multi_assign(s->multi, fd, NULL);
        return 0;
    }
    if (ws == NULL) {
        if ((ws = calloc(1, sizeof(*ws))) == NULL)
            return -1;
        curl_multi_assign(s->multi, fd, ws);
    } else {
        event_free(ws->ev);
    }
    ws->ev = event_new(s->base, fd, kind, whs_on_socket, s);
    return ws->ev != NULL && event_add(ws->ev, NULL) == 0 ? 0 : -1;
}

static int whs_timer_cb(CURLM *multi, long ms, void *user)
{
    ps_whs *s = user;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    (void)multi;
    if (ms < 0)
        return evtimer_del(s->curl_timer);
    return evtimer_add(s->curl_timer, &tv);
}

int ps_whs_http_init(ps_whs *s, ps_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        (s->multi = curl_multi_init()) == NULL ||
        (s->curl_timer = evtimer_new(s->base, whs_on_timer, s)) == NULL)
        return ps_err_set(err, "webhooks: libcurl setup failed");
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, whs_socket_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, whs_timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    return 0;
}

/* Answers are read and dropped: only the status counts. */
static size_t whs_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

/* "Name: value\n" lines (the signer's output) as libcurl's list. */
static int whs_headers(whs_xfer *x, const char *hdrs)
{
    char line[PS_EVHOOK_HEADERS_MAX];
    const char *p = hdrs;
    struct curl_slist *l;

    if ((x->hdrs = curl_slist_append(NULL, "Content-Type: application/json")) ==
        NULL)
        return -1;
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        if (n >= sizeof(line))
            return -1;
        memcpy(line, p, n);
        line[n] = '\0';
        if ((l = curl_slist_append(x->hdrs, line)) == NULL)
            return -1;
        x->hdrs = l;
        p += n + (p[n] == '\n');
    }
    /* no "Expect: 100-continue" round trip before small bodies */
    return (l = curl_slist_append(x->hdrs, "Expect:")) != NULL
               ? (x->hdrs = l, 0)
               : -1;
}

static void whs_easy_opts(CURL *e, const ps_whs_ep *ep, whs_xfer *x, size_t len)
{
    curl_easy_setopt(e, CURLOPT_URL, ep->conf.url.value);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, WHS_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)ep->conf.timeout);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ep->conf.ca_file.value != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, ep->conf.ca_file.value);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, whs_discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
}

int ps_whs_http_post(ps_whs_ep *ep, long long off, const char *body, size_t len,
                     const char *hdrs, ps_err *err)
{
    ps_whs *s = ep->s;
    whs_xfer *x = calloc(1, sizeof(*x));
    CURL *e;

    if (x == NULL)
        return ps_err_set(err, "webhooks: out of memory");
    x->next = s->xfers;
    if (x->next != NULL)
        x->next->prev = x;
    s->xfers = x;
    if ((x->body = malloc(len + 1)) == NULL || whs_headers(x, hdrs) != 0 ||
        (e = curl_easy_init()) == NULL) {
        whs_xfer_free(s, x);
        return ps_err_set(err, "webhooks: cannot start a POST (out of memory)");
    }
    memcpy(x->body, body, len);
    x->body[len] = '\0';
    x->ep = ep;
    x->off = off;
    whs_easy_opts(e, ep, x, len);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        whs_xfer_free(s, x);
        return ps_err_set(err, "webhooks: cannot start a POST");
    }
    x->easy = e;
    return 0;
}

void ps_whs_http_moved(ps_whs *s, const ps_whs_ep *ep,
                       long long (*moved)(const void *arg, long long off),
                       const void *arg)
{
    for (whs_xfer *x = s->xfers; x != NULL; x = x->next)
        if (x->ep == ep)
            x->off = moved(arg, x->off);
}

void ps_whs_http_free(ps_whs *s)
{
    while (s->xfers != NULL)
        whs_xfer_free(s, s->xfers);
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);
    if (s->curl_timer != NULL)
        event_free(s->curl_timer);
    curl_global_cleanup();
}
