/* The keys of Standard Webhooks and its brands as the reference libraries
 * take them: whsec_ secrets (or bare base64, padded or not) for v1, whpk_
 * Ed25519 public keys for v1a, one parser for the module and the CLI. */
#include "webhook/webhook_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "base/secfile.h"

#define WHSEC_PREFIX "whsec_"
#define WHPK_PREFIX  "whpk_"

/* The last character of unpadded base64 without the bits that fall
 * beyond the last byte, which lenient decoders ignore and ours refuses. */
static char b64_canonical_last(char c, size_t len)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789+/";
    const char *at = c != '\0' ? strchr(abc, c) : NULL;
    int spare = len % 4 == 2 ? 0x0f : len % 4 == 3 ? 0x03 : 0;

    return at != NULL ? abc[(at - abc) & ~spare] : c;
}

/* "whsec_BASE64" or bare base64, as the reference libraries take it,
 * padded or not, spare bits set or not (they decode leniently). */
int ps_wh_std_secret(const char *text, size_t len, uint8_t **out,
                     size_t *outlen, ps_err *err)
{
    size_t skip = sizeof(WHSEC_PREFIX) - 1, pad, cap;
    char *padded;
    int rc = 0;

    if (len >= skip && memcmp(text, WHSEC_PREFIX, skip) == 0) {
        text += skip;
        len -= skip;
    }
    while (len > 0 && text[len - 1] == '=')
        len--; /* padded again below, to what the data needs */
    pad = len % 4 == 0 ? 0 : 4 - len % 4;
    cap = ps_b64_decoded_max(len + pad) + 1;
    padded = malloc(len + pad + 1);
    *out = malloc(cap);
    if (padded == NULL || *out == NULL) {
        free(padded);
        free(*out);
        *out = NULL;
        return ps_err_set(err, "out of memory");
    }
    memcpy(padded, text, len);
    if (pad > 0)
        padded[len - 1] = b64_canonical_last(padded[len - 1], len);
    memset(padded + len, '=', pad);
    if (ps_b64_decode(padded, len + pad, *out, cap, outlen, NULL) < 0 ||
        *outlen == 0) {
        ps_wipe(*out, cap);
        free(*out);
        *out = NULL;
        rc = ps_err_set(err, "not a Standard Webhooks secret (whsec_ "
                             "followed by base64) nor public key (whpk_)");
    }
    ps_wipe(padded, len + pad);
    free(padded);
    return rc;
}

/* "whpk_BASE64": an Ed25519 public key for v1a signatures, given in the
 * same list as the secrets. */
int ps_wh_std_pubkey(const char *text, size_t len, EVP_PKEY **out, ps_err *err)
{
    size_t pk = sizeof(WHPK_PREFIX) - 1;

    if (len < pk || memcmp(text, WHPK_PREFIX, pk) != 0)
        return 0;
    return ps_wh_ed25519_pub(text + pk, len - pk, out, err) < 0 ? -1 : 1;
}
