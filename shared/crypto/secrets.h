/* Secret sets: several secrets from one private file, the first signs and
 * all verify, so secrets rotate (return paths, SRS, webhook secrets). */
#ifndef PS_SECRETS_H
#define PS_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* A secret set. File format: one secret per line; blank lines and lines
 * starting with '#' are skipped; a line "base64:..." or "hex:..." holds
 * binary secrets, any other line is used as its bytes (postsrsd style).
 * The file must not be readable by group or others. */
typedef struct ps_secrets ps_secrets;

#define PS_SECRETS_MAX 64 /* secrets in one set; more is an error */

int ps_secrets_load(const char *path, ps_secrets **out, ps_err *err);
/* Builds a set from one buffer in the file format above (name is used in
 * error messages as "name:line: reason"). */
int ps_secrets_parse(const char *text, size_t len, const char *name,
                     ps_secrets **out, ps_err *err);
size_t ps_secrets_count(const ps_secrets *s);
/* Secret i (0 signs); its length goes to *len. The memory stays owned by
 * the set. */
const uint8_t *ps_secrets_get(const ps_secrets *s, size_t i, size_t *len);
/* Wipes every secret, then frees. NULL is fine. */
void ps_secrets_free(ps_secrets *s);

#endif
