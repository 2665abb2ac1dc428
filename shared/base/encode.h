/* Binary-to-text encodings used by DKIM, SRS, return paths and webhooks:
 * base64, base64url, base32 (RFC 4648) and hex, with strict decoders. */
#ifndef PS_ENCODE_H
#define PS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Sizes of the encoded text for n input bytes, NUL terminator included. */
size_t ps_b64_encoded_size(size_t n);
size_t ps_b32_encoded_size(size_t n);
size_t ps_hex_encoded_size(size_t n);
/* Upper bound on decoded bytes for a text of n characters. */
size_t ps_b64_decoded_max(size_t n);
size_t ps_b32_decoded_max(size_t n);

/* Encoders write NUL-terminated text into out (which must hold the
 * ps_*_encoded_size() bytes) and return its length. */
size_t ps_b64_encode(const uint8_t *in, size_t n, char *out);
/* pad = 0 leaves out the trailing '=' (JWT, SRS style). */
size_t ps_b64url_encode(const uint8_t *in, size_t n, char *out, int pad);
size_t ps_b32_encode(const uint8_t *in, size_t n, char *out);
size_t ps_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decoders are strict: any character outside the alphabet (whitespace
 * included), bad padding, or non-zero trailing bits is an error. base64url
 * accepts padded and unpadded input; base64 requires correct padding; base32
 * and hex accept either case. On success *outlen is the decoded length.
 * Return 0, or -1 with err set (also when outcap is too small). */
int ps_b64_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                  size_t *outlen, ps_err *err);
int ps_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                     size_t *outlen, ps_err *err);
int ps_b32_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                  size_t *outlen, ps_err *err);
int ps_hex_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                  size_t *outlen, ps_err *err);

/* Value of one hex digit (either case), or -1. */
int ps_hex_digit(unsigned char c);

#endif
