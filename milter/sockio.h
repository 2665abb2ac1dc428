/* Buffered reads and coalesced replies on libmilter's MTA connections
 * (sockio.c): what the rest of the milter calls. */
#ifndef PS_MILTER_SOCKIO_H
#define PS_MILTER_SOCKIO_H

/* Makes the table of descriptors up to max_fds (capped); before it, and
 * for descriptors beyond, every call goes to libc. Takes the listening
 * sockets open now (close-on-exec) as libmilter's. 0, or -1 without
 * memory. Called once, after smfi_opensocket() and before the milter
 * opens any other listener or libmilter's threads start. */
int ps_sockio_init(unsigned long max_fds);

/* fd is a listening socket whose connections are MTA connections (what
 * ps_sockio_init finds; tests name their own). */
void ps_sockio_listener(int fd);

/* fd was just accepted on listener: when that is libmilter's, fd is an
 * MTA connection: read ahead and held replies from now until close(fd). */
void ps_sockio_track(int listener, int fd);

/* System calls made so far on tracked descriptors (read, recv, poll,
 * sendmsg, close): what the tests count. */
unsigned long ps_sockio_syscalls(void);

#endif
