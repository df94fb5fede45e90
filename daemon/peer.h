/*
 * Who is on the other end of a client connection: SO_PEERCRED on Unix
 * sockets, and for TCP over loopback the uid that owns the peer's socket,
 * asked of the kernel's socket diagnostics (NETLINK_SOCK_DIAG, as "ss -e").
 */
#ifndef MCPRELAY_PEER_H
#define MCPRELAY_PEER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* How long one lookup may take before it counts as failed (a refusal). */
#define PEER_DIAG_DEADLINE_MS	50

struct peer_diag;

/* A NETLINK_SOCK_DIAG socket, kept for every lookup.  NULL + errbuf. */
struct peer_diag	*peer_diag_new(char *errbuf, size_t errlen);
void			 peer_diag_free(struct peer_diag *);

/*
 * The uid (and socket inode) of the process that owns the other end of the
 * connected TCP socket fd, when that end is a socket of this host (in the
 * daemon's network namespace).  IPv4, IPv6 and IPv4-mapped IPv6.  Returns
 * 0, or -1 with the reason in errbuf: the peer is not local, the kernel
 * has no sock_diag, or it did not answer within PEER_DIAG_DEADLINE_MS.
 */
int	peer_tcp_uid(struct peer_diag *, int fd, uid_t *uid, uint32_t *inode,
	    char *errbuf, size_t errlen);

/* The peer's process name from /proc/PID/comm, or "?" (never fails). */
void	peer_comm(pid_t pid, char *buf, size_t len);

#endif
