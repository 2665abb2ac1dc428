/* Writing a whole buffer to a descriptor: write(2) may take less than it
 * is given, or be interrupted, and every caller needs all of it or an
 * error. */
#ifndef PS_FDIO_H
#define PS_FDIO_H

#include <stddef.h>

/* 0 once all n bytes are written; -1 with errno set otherwise (EIO when
 * write(2) takes nothing). EINTR is retried. */
int ps_fd_write_all(int fd, const void *buf, size_t n);

#endif
