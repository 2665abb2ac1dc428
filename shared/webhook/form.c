/* HTML form bodies for Mailgun's legacy webhooks and routes: one field out
 * of application/x-www-form-urlencoded or multipart/form-data, decoded,
 * bounded, and refused when it is repeated (two answers to one question). */
#include "base/encode.h"
#include "webhook/webhook_int.h"

#include <string.h>

#define FIELD_NAME_MAX 64
#define BOUNDARY_MAX   70 /* RFC 2046 */

/* Percent- and plus-decoding of p into out; -1 if malformed or too long. */
static int url_decode(const char *p, size_t n, char *out, size_t cap,
                      size_t *len)
{
    size_t k = 0;
    int hi, lo;

    for (size_t i = 0; i < n; i++) {
        if (k == cap)
            return -1;
        if (p[i] == '+') {
            out[k++] = ' ';
        } else if (p[i] == '%') {
            if (n - i < 3 || (hi = ps_hex_digit((unsigned char)p[i + 1])) < 0 ||
                (lo = ps_hex_digit((unsigned char)p[i + 2])) < 0)
                return -1;
            out[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[k++] = p[i];
        }
    }
    *len = k;
    return 0;
}

int ps_form_urlencoded(const char *p, size_t n, const char *name, char *out,
                       size_t cap, size_t *len)
{
    char key[FIELD_NAME_MAX];
    const char *end, *eq;
    size_t klen, want = strlen(name), fn;
    int found = 0;

    for (size_t i = 0; i < n; i = (size_t)(end - p) + 1) {
        end = memchr(p + i, '&', n - i);
        if (end == NULL)
            end = p + n;
        fn = (size_t)(end - p) - i;
        eq = memchr(p + i, '=', fn);
        if (eq == NULL)
            eq = end;
        if (url_decode(p + i, (size_t)(eq - p) - i, key, sizeof(key), &klen) <
            0)
            continue; /* a long or odd name is not one we want */
        if (klen != want || memcmp(key, name, want) != 0)
            continue;
        if (found)
            return -1;
        found = 1;
        if (eq == end)
            *len = 0;
        else if (url_decode(eq + 1, (size_t)(end - eq) - 1, out, cap, len) < 0)
            return -1;
    }
    return found;
}

/* The boundary parameter of a multipart Content-Type, unquoted. */
static int boundary_of(const char *ct, size_t n, char *b, size_t *blen)
{
    static const char param[] = "boundary=";
    size_t k = sizeof(param) - 1, i, start;

    for (i = 0; i + k <= n; i++)
        if ((i == 0 || ct[i - 1] == ';' || ct[i - 1] == ' ') &&
            ps_wh_ieq(ct + i, k, param))
            break;
    if (i + k > n)
        return -1;
    i += k;
    if (i < n && ct[i] == '"') {
        start = ++i;
        while (i < n && ct[i] != '"')
            i++;
        if (i == n)
            return -1;
    } else {
        start = i;
        while (i < n && ct[i] != ';' && ct[i] != ' ')
            i++;
    }
    *blen = i - start;
    if (*blen == 0 || *blen > BOUNDARY_MAX)
        return -1;
    memcpy(b, ct + start, *blen);
    return 0;
}

/* The name="..." parameter of a part's Content-Disposition header, found in
 * the part's header block h (n bytes); -1 if there is none. */
static int part_name(const char *h, size_t n, const char **name, size_t *nlen)
{
    static const char cd[] = "Content-Disposition:";
    const char *line = h, *eol, *q;
    size_t k = sizeof(cd) - 1;

    for (; line < h + n; line = eol + 2) {
        eol = memmem(line, (size_t)(h + n - line), "\r\n", 2);
        if (eol == NULL)
            eol = h + n;
        if ((size_t)(eol - line) < k || !ps_wh_ieq(line, k, cd))
            continue;
        for (q = line + k; q + 6 <= eol; q++) {
            if ((q[-1] == ';' || q[-1] == ' ') && ps_wh_ieq(q, 6, "name=\"")) {
                const char *end = memchr(q + 6, '"', (size_t)(eol - q - 6));

                if (end == NULL)
                    return -1;
                *name = q + 6;
                *nlen = (size_t)(end - q - 6);
                return 0;
            }
        }
        return -1;
    }
    return -1;
}

int ps_form_multipart(const char *p, size_t n, const char *ctype, size_t ctlen,
                      const char *name, char *out, size_t cap, size_t *len)
{
    char delim[BOUNDARY_MAX + 4] = "\r\n--";
    size_t blen, dlen, want = strlen(name), nlen;
    const char *at, *hdr_end, *next, *pname, *end = p + n;
    int found = 0;

    if (boundary_of(ctype, ctlen, delim + 4, &blen) < 0)
        return -1;
    dlen = blen + 4;
    /* the first delimiter may open the body, without the CRLF before it */
    if (n >= dlen - 2 && memcmp(p, delim + 2, dlen - 2) == 0)
        at = p + dlen - 2;
    else if ((at = memmem(p, n, delim, dlen)) != NULL)
        at += dlen;
    else
        return -1;
    for (;;) {
        if (end - at >= 2 && at[0] == '-' && at[1] == '-')
            return found; /* the close delimiter */
        if (end - at < 2 || at[0] != '\r' || at[1] != '\n')
            return -1;
        at += 2;
        hdr_end = memmem(at, (size_t)(end - at), "\r\n\r\n", 4);
        if (hdr_end == NULL)
            return -1;
        next = memmem(hdr_end + 4, (size_t)(end - hdr_end - 4), delim, dlen);
        if (next == NULL)
            return -1;
        if (part_name(at, (size_t)(hdr_end - at), &pname, &nlen) == 0 &&
            nlen == want && memcmp(pname, name, want) == 0) {
            if (found)
                return -1;
            found = 1;
            if ((size_t)(next - hdr_end - 4) > cap)
                return -1;
            *len = (size_t)(next - hdr_end - 4);
            memcpy(out, hdr_end + 4, *len);
        }
        at = next + dlen;
    }
}
