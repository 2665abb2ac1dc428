/* base64, base64url, base32 (RFC 4648) and hex for DKIM, SRS, return paths
 * and webhooks. Decoders are strict so that one value has one spelling, and
 * their errors name the offset without echoing input (it may be a secret). */
#include "base/encode.h"

#include <string.h>

/* One radix-2^bits alphabet; base64 and base32 differ only in these. */
typedef struct radix {
    const char *name;          /* for error messages */
    const char *alphabet;      /* 2^bits characters */
    unsigned bits;             /* bits per character: 6 or 5 */
    size_t block;              /* characters per padded block: 4 or 8 */
    int pad_required;          /* decode refuses unpadded input */
    const signed char *values; /* by byte: its value, or -1 (decode) */
} radix;

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b32_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char hex_chars[] = "0123456789abcdef";

/* Decoding tables, made by the compiler from the alphabets' ranges: a
 * lookup per character instead of a chain of range tests (a webhook
 * signature is decoded on every request). base32 accepts lower case. */
#define V64(c, c62, c63)                                                       \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                    \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                               \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                               \
     : (c) == (c62)             ? 62                                           \
     : (c) == (c63)             ? 63                                           \
                                : -1)
#define V32(c)                                                                 \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                    \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a'                                    \
     : (c) >= '2' && (c) <= '7' ? (c) - '2' + 26                               \
                                : -1)
/* Explicit casts: clang checks the arms not taken for range too. */
#define VB64(c)    ((signed char)V64(c, '+', '/'))
#define VB64URL(c) ((signed char)V64(c, '-', '_'))
#define VB32(c)    ((signed char)V32(c))
#define T4(F, c)   F(c), F((c) + 1), F((c) + 2), F((c) + 3)
#define T16(F, c)  T4(F, c), T4(F, (c) + 4), T4(F, (c) + 8), T4(F, (c) + 12)
#define T64(F, c)                                                              \
    T16(F, c), T16(F, (c) + 16), T16(F, (c) + 32), T16(F, (c) + 48)
#define T256(F) T64(F, 0), T64(F, 64), T64(F, 128), T64(F, 192)

static const signed char b64_values[256] = {T256(VB64)};
static const signed char b64url_values[256] = {T256(VB64URL)};
static const signed char b32_values[256] = {T256(VB32)};

static const radix b64 = {"base64", b64_chars, 6, 4, 1, b64_values};
static const radix b64url = {"base64url", b64url_chars, 6, 4, 0, b64url_values};
static const radix b32 = {"base32", b32_chars, 5, 8, 0, b32_values};

size_t ps_b64_encoded_size(size_t n)
{
    return (n + 2) / 3 * 4 + 1;
}
size_t ps_b32_encoded_size(size_t n)
{
    return (n + 4) / 5 * 8 + 1;
}
size_t ps_hex_encoded_size(size_t n)
{
    return n * 2 + 1;
}
size_t ps_b64_decoded_max(size_t n)
{
    return (n + 3) / 4 * 3;
}
size_t ps_b32_decoded_max(size_t n)
{
    return (n + 7) / 8 * 5;
}

/* Bits are shifted through a small accumulator: at most bits + 7 of them
 * are ever pending, so 32 bits are plenty. */
static size_t radix_encode(const radix *r, const uint8_t *in, size_t n,
                           char *out, int pad)
{
    uint32_t acc = 0;
    unsigned nbits = 0, mask = (1u << r->bits) - 1;
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        nbits += 8;
        while (nbits >= r->bits) {
            nbits -= r->bits;
            out[len++] = r->alphabet[(acc >> nbits) & mask];
        }
    }
    if (nbits > 0)
        out[len++] = r->alphabet[(acc << (r->bits - nbits)) & mask];
    while (pad && len % r->block != 0)
        out[len++] = '=';
    out[len] = '\0';
    return len;
}

size_t ps_b64_encode(const uint8_t *in, size_t n, char *out)
{
    return radix_encode(&b64, in, n, out, 1);
}

size_t ps_b64url_encode(const uint8_t *in, size_t n, char *out, int pad)
{
    return radix_encode(&b64url, in, n, out, pad);
}

size_t ps_b32_encode(const uint8_t *in, size_t n, char *out)
{
    return radix_encode(&b32, in, n, out, 1);
}

size_t ps_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_chars[in[i] >> 4];
        out[2 * i + 1] = hex_chars[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

/* Value of c in r's alphabet, or -1. */
static int radix_value(const radix *r, unsigned char c)
{
    return r->values[c];
}

/* Says what is wrong with a character without echoing it. */
static int bad_char(const char *name, unsigned char c, size_t off, ps_err *err)
{
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return ps_err_set(err, "%s: whitespace at offset %zu", name, off);
    if (c == '=')
        return ps_err_set(err, "%s: padding '=' inside the data at offset %zu",
                          name, off);
    return ps_err_set(err, "%s: character outside the alphabet at offset %zu",
                      name, off);
}

static int check_outcap(const char *name, size_t need, size_t outcap,
                        ps_err *err)
{
    if (need > outcap)
        return ps_err_set(err,
                          "%s: output too small (need %zu bytes, have %zu)",
                          name, need, outcap);
    return 0;
}

/* Checks the '=' run at the end of in against the data length: absent
 * (where allowed) or exactly what completes the last block. */
static int radix_check_pad(const radix *r, size_t n, size_t datalen,
                           ps_err *err)
{
    size_t rem = datalen % r->block;
    size_t want = rem == 0 ? 0 : r->block - rem;
    size_t pad = n - datalen;

    if ((rem * r->bits) % 8 >= r->bits)
        return ps_err_set(err, "%s: truncated input (%zu characters of data)",
                          r->name, datalen);
    if (pad == 0 && want != 0 && r->pad_required)
        return ps_err_set(err, "%s: missing padding at offset %zu", r->name, n);
    if (pad != 0 && pad != want)
        return ps_err_set(err,
                          "%s: bad padding at offset %zu (%zu '=', "
                          "expected %zu)",
                          r->name, datalen, pad, want);
    return 0;
}

static int radix_decode(const radix *r, const char *in, size_t n, uint8_t *out,
                        size_t outcap, size_t *outlen, ps_err *err)
{
    uint32_t acc = 0;
    unsigned nbits = 0;
    size_t datalen = n, len = 0;

    /* Foreign characters first: "Zg==\n" is a whitespace problem. */
    for (size_t i = 0; i < n; i++)
        if (in[i] != '=' && radix_value(r, (unsigned char)in[i]) < 0)
            return bad_char(r->name, (unsigned char)in[i], i, err);
    while (datalen > 0 && in[datalen - 1] == '=')
        datalen--;
    for (size_t i = 0; i < datalen; i++)
        if (in[i] == '=')
            return bad_char(r->name, '=', i, err);
    if (radix_check_pad(r, n, datalen, err) < 0)
        return -1;
    if (check_outcap(r->name, datalen * r->bits / 8, outcap, err) < 0)
        return -1;
    for (size_t i = 0; i < datalen; i++) {
        acc = (acc << r->bits) | (uint32_t)radix_value(r, (unsigned char)in[i]);
        nbits += r->bits;
        if (nbits >= 8) {
            nbits -= 8;
            out[len++] = (uint8_t)(acc >> nbits);
        }
    }
    if ((acc & ((1u << nbits) - 1)) != 0)
        return ps_err_set(err, "%s: non-zero trailing bits at offset %zu",
                          r->name, datalen - 1);
    *outlen = len;
    return 0;
}

int ps_b64_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                  size_t *outlen, ps_err *err)
{
    return radix_decode(&b64, in, n, out, outcap, outlen, err);
}

int ps_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                     size_t *outlen, ps_err *err)
{
    return radix_decode(&b64url, in, n, out, outcap, outlen, err);
}

int ps_b32_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                  size_t *outlen, ps_err *err)
{
    return radix_decode(&b32, in, n, out, outcap, outlen, err);
}

int ps_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ps_hex_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                  size_t *outlen, ps_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (ps_hex_digit((unsigned char)in[i]) < 0)
            return bad_char("hex", (unsigned char)in[i], i, err);
    if (n % 2 != 0)
        return ps_err_set(err, "hex: odd number of digits (%zu)", n);
    if (check_outcap("hex", n / 2, outcap, err) < 0)
        return -1;
    for (size_t i = 0; i < n / 2; i++)
        out[i] = (uint8_t)(ps_hex_digit((unsigned char)in[2 * i]) << 4 |
                           ps_hex_digit((unsigned char)in[2 * i + 1]));
    *outlen = n / 2;
    return 0;
}
