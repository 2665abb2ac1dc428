/* Reading a whole, bounded, regular text file (configuration, OpenDKIM
 * tables) into memory, with errors that name the file. Not for secrets:
 * secfile.h checks modes and wipes. */
#ifndef PS_TEXTFILE_H
#define PS_TEXTFILE_H

#include <stddef.h>

#include "base/err.h"

/* Reads path (a regular file of at most max bytes) into a fresh,
 * NUL-terminated buffer the caller frees. On failure *buf is NULL and err
 * reads "path: reason". */
int ps_textfile_read(const char *path, size_t max, char **buf, size_t *len,
                     ps_err *err);

#endif
