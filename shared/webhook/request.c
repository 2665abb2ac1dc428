/* Saved webhook requests for "postseal webhook verify": an HTTP/1.1
 * request as captured (request line optional), split into headers and the
 * exact body bytes, with every line bounded and the body length checked. */
#include "webhook/webhook.h"

#include <string.h>

#include "webhook/webhook_int.h"

/* The next line of p from *at: its start and length without the CR/LF;
 * -1 at the end of the text. */
static int next_line(const char *p, size_t n, size_t *at, const char **line,
                     size_t *len)
{
    const char *nl;

    if (*at >= n)
        return -1;
    *line = p + *at;
    nl = memchr(*line, '\n', n - *at);
    if (nl == NULL)
        return -1; /* a header block must end with an empty line */
    *len = (size_t)(nl - *line);
    *at += *len + 1;
    if (*len > 0 && (*line)[*len - 1] == '\r')
        (*len)--;
    return 0;
}

static int is_request_line(const char *l, size_t n)
{
    const char *sp = memchr(l, ' ', n);

    return sp != NULL && memchr(l, ':', (size_t)(sp - l)) == NULL && n > 9 &&
           memcmp(l + n - 9, " HTTP/1.", 8) == 0;
}

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The body's length from Content-Length, if there is one. */
static int check_length(const ps_wh_header *h, size_t nh, size_t blen,
                        ps_err *err)
{
    ps_wh_hdrs hd = {h, nh};
    const char *v;
    size_t vn;
    int64_t cl;
    int rc;

    if ((rc = ps_wh_hdr_get(&hd, "Transfer-Encoding", &v, &vn)) != 0)
        return ps_err_set(err, "Transfer-Encoding: save the decoded body, "
                               "without the header");
    if ((rc = ps_wh_hdr_get(&hd, "Content-Length", &v, &vn)) == 0)
        return 0;
    if (rc < 0 || ps_wh_parse_ts(v, vn, &cl) < 0)
        return ps_err_set(err, "Content-Length repeated or not a number");
    if ((uint64_t)cl != blen)
        return ps_err_set(err,
                          "Content-Length is %lld but the body has "
                          "%zu bytes",
                          (long long)cl, blen);
    return 0;
}

int ps_wh_request_parse(const char *p, size_t n, ps_wh_header *headers,
                        size_t max, size_t *nheaders, const char **body,
                        size_t *blen, ps_err *err)
{
    size_t at = 0, len, lineno = 0, k;
    const char *line;

    *nheaders = 0;
    for (;;) {
        lineno++;
        if (next_line(p, n, &at, &line, &len) < 0)
            return ps_err_set(err,
                              "line %zu: no empty line after the "
                              "headers",
                              lineno);
        if (len == 0)
            break;
        if (len > PS_WH_MAX_HEADER + 256)
            return ps_err_set(err, "line %zu: longer than %d bytes", lineno,
                              PS_WH_MAX_HEADER + 256);
        if (lineno == 1 && is_request_line(line, len))
            continue;
        for (k = 0; k < len && line[k] != ':'; k++)
            if (!is_token_char(line[k]))
                return ps_err_set(err, "line %zu: not a header line", lineno);
        if (k == 0 || k == len)
            return ps_err_set(err, "line %zu: not a header line", lineno);
        if (*nheaders == max)
            return ps_err_set(err, "line %zu: more than %zu headers", lineno,
                              max);
        headers[*nheaders].name = line;
        headers[*nheaders].name_len = k;
        for (k++; k < len && (line[k] == ' ' || line[k] == '\t'); k++)
            ;
        headers[*nheaders].value = line + k;
        headers[*nheaders].value_len = len - k;
        while (headers[*nheaders].value_len > 0 &&
               (line[len - 1] == ' ' || line[len - 1] == '\t')) {
            headers[*nheaders].value_len--;
            len--;
        }
        (*nheaders)++;
    }
    *body = p + at;
    *blen = n - at;
    return check_length(headers, *nheaders, *blen, err);
}
