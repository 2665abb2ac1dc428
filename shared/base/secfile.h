/* Reading files that hold secrets (private keys, HMAC secrets): refused
 * when group or others may read them, bounded in size, wiped when freed. */
#ifndef PS_SECFILE_H
#define PS_SECFILE_H

#include <stddef.h>

#include "base/err.h"

#define PS_SECFILE_MAX (64 * 1024)

/* Reads the whole of path (a regular file, mode without any group/other
 * bits, at most PS_SECFILE_MAX bytes) into a fresh NUL-terminated buffer.
 * Errors name the file and say what to do ("chmod 600 FILE"). */
int ps_secfile_read(const char *path, char **buf, size_t *len, ps_err *err);

/* Overwrites n bytes at p in a way the compiler cannot drop. */
void ps_wipe(void *p, size_t n);

/* Wipes then frees a buffer returned by ps_secfile_read (NULL is fine). */
void ps_secfile_free(char *buf, size_t len);

#endif
