/*
 * systemd integration: the sd_notify protocol (READY, STATUS, WATCHDOG,
 * RELOADING, STOPPING) and socket activation (listening sockets passed as
 * LISTEN_FDS, told apart by FileDescriptorName=).  Without NOTIFY_SOCKET
 * and LISTEN_FDS every call here does nothing.
 */
#ifndef MCPRELAY_NOTIFY_H
#define MCPRELAY_NOTIFY_H

struct relay;
struct notify;

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID and LISTEN_PID/LISTEN_FDS/
 * LISTEN_FDNAMES (unsetting the LISTEN_ variables), and arms the watchdog
 * timer on relay->base.  Call once, after the configuration is loaded and
 * the event base exists.  Never NULL.
 */
struct notify	*notify_new(struct relay *);
/* Closes inherited sockets nobody took; sends nothing. */
void		 notify_free(struct notify *);

/*
 * The inherited listening socket for name ("http", "mcp" or "control"), or
 * -1 when systemd passed none.  The caller owns the fd from here on; it is
 * non-blocking and close-on-exec.  *addr (when addr is not NULL) is set to
 * a printable address ("127.0.0.1", "/run/mcprelay/mcp.sock") that stays
 * valid as long as the notify object.
 */
int		 notify_take_fd(struct notify *, const char *name,
		    const char **addr);

/* Every listener is bound: READY=1 with the first STATUS=. */
void		 notify_ready(struct notify *);
/* Around a reload: RELOADING=1 + MONOTONIC_USEC=, then READY=1. */
void		 notify_reloading(struct notify *);
void		 notify_reloaded(struct notify *, int ok);
void		 notify_stopping(struct notify *);
/*
 * Something STATUS= shows may have changed (a server's state, the number
 * of sessions): recompute it and send it if it differs.  Cheap.
 */
void		 notify_status_changed(struct notify *);

#endif
