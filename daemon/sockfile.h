/*
 * A Unix socket file the daemon listens on, set up as OpenSMTPD's control.c
 * does (refuse a live socket, replace a stale one, bind under a umask, group
 * before mode), and the peer credentials of a connection.  Shared by the MCP
 * Unix listener and the control socket.
 */
#ifndef MCPRELAY_SOCKFILE_H
#define MCPRELAY_SOCKFILE_H

#include <sys/types.h>

#include <stddef.h>

/* What sockfile_bind() created, so that only that file is unlinked. */
struct sockfile {
	char	*path;
	int	 created;	/* we bound path */
	dev_t	 dev;		/* and this is it */
	ino_t	 ino;
};

/*
 * Bind a non-blocking, close-on-exec stream socket at path with permissions
 * mode, group-owned by group (NULL or "" for none).  A missing parent
 * directory is created: 0700, or 0710 and group-owned when a group is given
 * (members must be able to reach the socket).  A stale socket file is
 * replaced; a live one (a connect() succeeds), or a file that is not a
 * socket, is an error.  Returns the bound (not yet listening) fd, or -1
 * with the reason in errbuf.  sf->path is set either way; free it with
 * sockfile_close().
 */
int	sockfile_bind(struct sockfile *sf, const char *path, mode_t mode,
	    const char *group, char *errbuf, size_t errlen);
/*
 * Socket activation: check that fd is a listening Unix stream socket and
 * make it non-blocking and close-on-exec.  Returns fd, or -1 with errbuf
 * set (label names it in the message; fd is left open).
 */
int	sockfile_adopt(const char *label, int fd, char *errbuf,
	    size_t errlen);
/* Unlink the file if it is still the one we bound; free the path. */
void	sockfile_close(struct sockfile *sf);

/* Who is on the other end of a connected Unix socket. */
struct sockfile_peer {
	pid_t	pid;		/* -1 if unknown */
	uid_t	uid;		/* (uid_t)-1 if unknown */
	gid_t	gid;		/* (gid_t)-1 if unknown */
};

/* 0, or -1 (errno set) when the kernel would not say. */
int	sockfile_peer(int fd, struct sockfile_peer *peer);
/*
 * Is gid the peer's primary group or one of its supplementary groups, as
 * the kernel saw them when it connected (SO_PEERGROUPS)?  Never looks up
 * the user database, so it cannot block.  1 yes, 0 no or unknown.
 */
int	sockfile_peer_in_group(int fd, const struct sockfile_peer *peer,
	    gid_t gid);

#endif
