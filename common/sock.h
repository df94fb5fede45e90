/*
 * Small socket helpers shared by the HTTP server, the HTTP client and the
 * metrics listener.
 */
#ifndef MCPRELAY_SOCK_H
#define MCPRELAY_SOCK_H

#include <sys/types.h>
#include <sys/uio.h>

/*
 * One gathered write that never blocks and never raises SIGPIPE (a peer
 * gone is an error like any other): what sendmsg() returns, EINTR retried.
 */
ssize_t	sock_sendv(int fd, struct iovec *iov, int n);
/* The local TCP port fd is bound to, or 0. */
int	sock_port(int fd);

#endif
