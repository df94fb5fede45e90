/*
 * Peer identity for the listeners.  A loopback TCP client is found by the
 * kernel's socket diagnostics: one exact SOCK_DIAG_BY_FAMILY request for
 * the socket whose local end is our peer's address, answered by the kernel
 * while it handles the send, so the lookup is a few microseconds; a
 * deadline bounds it anyway, and any failure is the caller's refusal.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "xmalloc.h"

/* include/net/tcp_states.h, which is not exported to user space. */
#define PEER_TCP_TIME_WAIT	6

struct peer_diag {
	int		fd;
	uint32_t	seq;
};

struct peer_diag *
peer_diag_new(char *errbuf, size_t errlen)
{
	struct peer_diag	*pd;
	int			 fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_SOCK_DIAG);
	if (fd == -1) {
		snprintf(errbuf, errlen, "netlink sock_diag socket: %s",
		    strerror(errno));
		return NULL;
	}
	pd = xcalloc(1, sizeof *pd);
	pd->fd = fd;
	return pd;
}

void
peer_diag_free(struct peer_diag *pd)
{
	if (pd == NULL)
		return;
	close(pd->fd);
	free(pd);
}

static long
peer_ms_left(const struct timespec *deadline)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Read the answer to request seq.  Answers to earlier requests that timed
 * out are skipped by their sequence number.  0 with *found set, or -1
 * with errno (ETIMEDOUT, or the kernel's error: ENOENT = no such socket).
 */
static int
peer_diag_read(struct peer_diag *pd, uint32_t seq, uid_t *uid,
    uint32_t *inode)
{
	struct timespec		 deadline;
	struct pollfd		 pfd = { pd->fd, POLLIN, 0 };
	union {
		struct nlmsghdr	 h;
		char		 buf[8192];
	}			 u;
	struct nlmsghdr		*h;
	struct nlmsgerr		*e;
	struct inet_diag_msg	*m;
	ssize_t			 n;
	size_t			 off;
	long			 left;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += PEER_DIAG_DEADLINE_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	for (;;) {
		n = recv(pd->fd, u.buf, sizeof u.buf, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if ((left = peer_ms_left(&deadline)) <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (poll(&pfd, 1, (int)left) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		/* NLMSG_OK() by hand: it mixes signs (clang -Wsign-compare). */
		for (off = 0; off + sizeof *h <= (size_t)n;
		    off += NLMSG_ALIGN(h->nlmsg_len)) {
			h = (struct nlmsghdr *)(void *)(u.buf + off);
			if (h->nlmsg_len < sizeof *h ||
			    h->nlmsg_len > (size_t)n - off)
				break;
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e))
					errno = EPROTO;
				else
					errno = e->error != 0 ? -e->error :
					    ENOENT;
				return -1;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof *m))
				continue;
			m = NLMSG_DATA(h);
			/*
			 * A TIME_WAIT socket reports uid 0, an orphaned one
			 * (its process closed it) inode 0: neither says who
			 * the client is, and uid 0 would let it in as root.
			 */
			if (m->idiag_inode == 0 ||
			    m->idiag_state == PEER_TCP_TIME_WAIT) {
				errno = ESRCH;
				return -1;
			}
			*uid = (uid_t)m->idiag_uid;
			*inode = m->idiag_inode;
			return 0;
		}
	}
}

/* Ask for the TCP socket whose local end is src:sport, remote dst:dport. */
static int
peer_diag_ask(struct peer_diag *pd, int family, const void *src,
    uint16_t sport, const void *dst, uint16_t dport, uid_t *uid,
    uint32_t *inode)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	}			 msg;
	struct sockaddr_nl	 nl;
	size_t			 alen;

	alen = family == AF_INET ? 4 : 16;
	memset(&msg, 0, sizeof msg);
	msg.nlh.nlmsg_len = sizeof msg;
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.nlh.nlmsg_seq = ++pd->seq;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0U;
	msg.req.id.idiag_sport = sport;
	msg.req.id.idiag_dport = dport;
	memcpy(msg.req.id.idiag_src, src, alen);
	memcpy(msg.req.id.idiag_dst, dst, alen);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	memset(&nl, 0, sizeof nl);
	nl.nl_family = AF_NETLINK;
	if (sendto(pd->fd, &msg, sizeof msg, 0, (struct sockaddr *)&nl,
	    sizeof nl) == -1)
		return -1;
	return peer_diag_read(pd, msg.nlh.nlmsg_seq, uid, inode);
}

static void
peer_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof a);
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "(family %d)", ss->ss_family);
}

int
peer_tcp_uid(struct peer_diag *pd, int fd, uid_t *uid, uint32_t *inode,
    char *errbuf, size_t errlen)
{
	struct sockaddr_storage	 local, remote;
	socklen_t		 llen = sizeof local, rlen = sizeof remote;
	char			 where[64];
	int			 rc;

	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rlen) == -1) {
		snprintf(errbuf, errlen, "cannot read the connection's "
		    "addresses: %s", strerror(errno));
		return -1;
	}
	if (local.ss_family == AF_INET && remote.ss_family == AF_INET) {
		const struct sockaddr_in *l = (const void *)&local;
		const struct sockaddr_in *r = (const void *)&remote;

		rc = peer_diag_ask(pd, AF_INET, &r->sin_addr, r->sin_port,
		    &l->sin_addr, l->sin_port, uid, inode);
	} else if (local.ss_family == AF_INET6 &&
	    remote.ss_family == AF_INET6) {
		const struct sockaddr_in6 *l = (const void *)&local;
		const struct sockaddr_in6 *r = (const void *)&remote;

		rc = -1;
		errno = ENOENT;
		/* An IPv4 client of a dual-stack listener has an IPv4
		 * socket; an IPv6 socket may connect to a mapped address. */
		if (IN6_IS_ADDR_V4MAPPED(&r->sin6_addr) &&
		    IN6_IS_ADDR_V4MAPPED(&l->sin6_addr))
			rc = peer_diag_ask(pd, AF_INET,
			    &r->sin6_addr.s6_addr[12], r->sin6_port,
			    &l->sin6_addr.s6_addr[12], l->sin6_port, uid,
			    inode);
		if (rc == -1 && errno == ENOENT)
			rc = peer_diag_ask(pd, AF_INET6, &r->sin6_addr,
			    r->sin6_port, &l->sin6_addr, l->sin6_port, uid,
			    inode);
	} else {
		snprintf(errbuf, errlen, "not a TCP/IP connection");
		return -1;
	}
	if (rc == 0)
		return 0;
	peer_format(&remote, where, sizeof where);
	if (errno == ENOENT)
		snprintf(errbuf, errlen, "no socket of this host is %s: the "
		    "client is not a local process (or the kernel has no "
		    "inet_diag)", where);
	else if (errno == ESRCH)
		snprintf(errbuf, errlen, "the client's socket %s was closed "
		    "before it could be identified", where);
	else if (errno == ETIMEDOUT)
		snprintf(errbuf, errlen, "the kernel did not say who owns %s "
		    "within %d ms", where, PEER_DIAG_DEADLINE_MS);
	else
		snprintf(errbuf, errlen, "sock_diag lookup of %s: %s", where,
		    strerror(errno));
	return -1;
}

void
peer_comm(pid_t pid, char *buf, size_t len)
{
	char	path[64];
	ssize_t	n;
	int	fd;

	snprintf(buf, len, "?");
	if (pid <= 0 || len < 2)
		return;
	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}
