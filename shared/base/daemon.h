/* Leaving the terminal for a daemon started without -f: the part every
 * postseal daemon does the same way, after it has opened its sockets (so a
 * port in use is still reported on the terminal). */
#ifndef PS_DAEMON_H
#define PS_DAEMON_H

/* Forks: the parent exits 0; the child starts a session, moves to / and
 * gets /dev/null as standard input, output and error. 0, or -1 in the
 * child (or before the fork) on failure. An event loop created before
 * must be re-initialised in the child (event_reinit). */
int ps_daemon_detach(void);

#endif
