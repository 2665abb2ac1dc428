/* libFuzzer target for shared/base/encode.c: every decoder gets the input as
 * text; whatever it accepts must be the one canonical spelling of its
 * value, and every encoder must round-trip the input taken as bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/encode.h"

typedef int (*decode_fn)(const char *in, size_t n, uint8_t *out, size_t outcap,
                         size_t *outlen, ps_err *err);

/* Exactly sized heap buffers, so ASan sees any overrun. */
static uint8_t *decode_or_null(decode_fn fn, const char *text, size_t n,
                               size_t cap, size_t *len)
{
    uint8_t *out = malloc(cap + 1);
    ps_err err;

    if (out == NULL)
        abort();
    if (fn(text, n, out, cap, len, &err) != 0) {
        if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL || !err.msg[0])
            abort();
        free(out);
        return NULL;
    }
    if (*len > cap)
        abort();
    return out;
}

/* Re-encodes a decoded value and compares it with the accepted text;
 * fold_case and unpadded say which freedoms the decoder allows. */
static void check_canonical(const char *text, size_t n, const char *enc,
                            size_t enclen, int fold_case)
{
    int unpadded = n == 0 || text[n - 1] != '=';

    while (unpadded && enclen > 0 && enc[enclen - 1] == '=')
        enclen--;
    if (enclen != n)
        abort();
    if (fold_case ? strncasecmp(enc, text, n) != 0 : memcmp(enc, text, n) != 0)
        abort();
}

static void fuzz_decoders(const char *text, size_t n)
{
    size_t len, maxlen = ps_b64_decoded_max(n);
    char *enc = malloc(ps_b32_encoded_size(maxlen > n ? maxlen : n) + 1);
    uint8_t *out;

    if (enc == NULL)
        abort();
    if ((out = decode_or_null(ps_b64_decode, text, n, maxlen, &len))) {
        check_canonical(text, n, enc, ps_b64_encode(out, len, enc), 0);
        free(out);
    }
    if ((out = decode_or_null(ps_b64url_decode, text, n, maxlen, &len))) {
        int pad = n > 0 && text[n - 1] == '=';
        check_canonical(text, n, enc, ps_b64url_encode(out, len, enc, pad), 0);
        free(out);
    }
    if ((out = decode_or_null(ps_b32_decode, text, n, ps_b32_decoded_max(n),
                              &len))) {
        check_canonical(text, n, enc, ps_b32_encode(out, len, enc), 1);
        free(out);
    }
    if ((out = decode_or_null(ps_hex_decode, text, n, n / 2, &len))) {
        check_canonical(text, n, enc, ps_hex_encode(out, len, enc), 1);
        free(out);
    }
    /* a buffer one byte short must be refused, never overrun */
    if (n > 1 &&
        (out = decode_or_null(ps_hex_decode, text, n, n / 2 - 1, &len)))
        abort();
    free(enc);
}

/* decode(encode(x)) == x for every encoder. */
static void roundtrip(decode_fn fn,
                      size_t (*enc_fn)(const uint8_t *, size_t, char *),
                      const uint8_t *data, size_t n, size_t encsize)
{
    char *text = malloc(encsize);
    size_t textlen, len;
    uint8_t *back;

    if (text == NULL)
        abort();
    textlen = enc_fn(data, n, text);
    if (textlen + 1 != encsize || text[textlen] != '\0')
        abort();
    back = decode_or_null(fn, text, textlen, n, &len);
    if (back == NULL || len != n || memcmp(back, data, n) != 0)
        abort();
    free(back);
    free(text);
}

static size_t b64url_pad(const uint8_t *in, size_t n, char *out)
{
    return ps_b64url_encode(in, n, out, 1);
}

static void fuzz_encoders(const uint8_t *data, size_t n)
{
    char *text = malloc(ps_b64_encoded_size(n));
    uint8_t *back;
    size_t textlen, len;

    roundtrip(ps_b64_decode, ps_b64_encode, data, n, ps_b64_encoded_size(n));
    roundtrip(ps_b64url_decode, b64url_pad, data, n, ps_b64_encoded_size(n));
    roundtrip(ps_b32_decode, ps_b32_encode, data, n, ps_b32_encoded_size(n));
    roundtrip(ps_hex_decode, ps_hex_encode, data, n, ps_hex_encoded_size(n));
    if (text == NULL)
        abort();
    textlen = ps_b64url_encode(data, n, text, 0);
    back = decode_or_null(ps_b64url_decode, text, textlen, n, &len);
    if (back == NULL || len != n || memcmp(back, data, n) != 0)
        abort();
    free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_decoders((const char *)data, size);
    fuzz_encoders(data, size);
    return 0;
}
