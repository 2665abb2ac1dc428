/* The Redis server named by [policyd] store = redis://HOST[:PORT][/DB],
 * and the Redis name of a counter's window. */
#include "redis_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ps_redis_number(const char *s, size_t n, int max, int *out)
{
    int v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int ps_redis_parse_url(const char *url, ps_redis_addr *a, ps_err *err)
{
    const char *h = url + 8, *end, *p;
    size_t hl;

    a->port = 6379;
    a->db = 0;
    if (strncmp(url, "redis://", 8) != 0)
        return ps_err_set(err, "expected redis://HOST[:PORT][/DB]");
    if (*h == '[') {
        end = strchr(h, ']');
        if (end == NULL)
            return ps_err_set(err, "bad [IPv6] host in '%.80s'", url);
        hl = (size_t)(end - h - 1);
        h++;
        p = end + 1;
    } else {
        hl = strcspn(h, ":/");
        p = h + hl;
    }
    if (hl == 0 || hl >= sizeof(a->host))
        return ps_err_set(err, "bad host in '%.80s'", url);
    snprintf(a->host, sizeof(a->host), "%.*s", (int)hl, h);
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/");
        if (ps_redis_number(p + 1, n, 65535, &a->port) != 0 || a->port == 0)
            return ps_err_set(err, "bad port in '%.80s'", url);
        p += 1 + n;
    }
    if (*p == '/' && p[1] != '\0' &&
        ps_redis_number(p + 1, strlen(p + 1), 65535, &a->db) != 0)
        return ps_err_set(err, "bad database number in '%.80s'", url);
    if (*p != '\0' && *p != '/')
        return ps_err_set(err, "bad address '%.80s'", url);
    return 0;
}

void ps_redis_key(char out[PS_REDIS_KEY_MAX], const char *store_key)
{
    const char *hash = strrchr(store_key, '#');
    int owner = hash != NULL ? (int)(hash - store_key) : (int)strlen(store_key);

    snprintf(out, PS_REDIS_KEY_MAX, "ps:{%.*s}%s", owner, store_key,
             hash != NULL ? hash : "");
}
