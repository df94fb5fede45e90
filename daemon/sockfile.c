/*
 * Unix socket files for the daemon's listeners: claim the path (a live
 * socket is another daemon's, a stale one is replaced), bind under a umask
 * so the socket is never more open than asked, then group and mode; and
 * peer credentials from the kernel for access decisions.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sockfile.h"
#include "xmalloc.h"

/* Supplementary groups looked at; a peer in more is judged on these. */
#define SOCKFILE_MAX_GROUPS	256

/*
 * Is someone listening on path?  Returns 0 when the path is free (absent,
 * or a stale socket now unlinked), -1 when it is live or not ours to take.
 */
static int
sockfile_claim(const struct sockaddr_un *sun, char *errbuf, size_t errlen)
{
	const char	*path = sun->sun_path;
	struct stat	 st;
	int		 fd, rc, saved;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(errbuf, errlen, "%s exists and is not a socket",
		    path);
		return -1;
	}
	/* Non-blocking: a live daemon with a full backlog says EAGAIN. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	saved = errno;
	close(fd);
	if (rc == 0 || saved == EAGAIN) {
		snprintf(errbuf, errlen, "%s is in use: another mcprelayd is "
		    "listening on it", path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(errbuf, errlen, "%s: connect: %s", path,
		    strerror(saved));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(errbuf, errlen, "%s: cannot remove stale socket: %s",
		    path, strerror(errno));
		return -1;
	}
	log_info("removed stale socket %s", path);
	return 0;
}

static int
sockfile_lookup_group(const char *path, const char *group, gid_t *gid,
    char *errbuf, size_t errlen)
{
	struct group	*gr;

	if ((gr = getgrnam(group)) == NULL) {
		snprintf(errbuf, errlen, "%s: unknown group '%s'", path, group);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/*
 * Only the last component: a missing /run or $XDG_RUNTIME_DIR is wrong.
 * With a group the directory must let its members through to the socket.
 */
static int
sockfile_mkdir_parent(const char *path, const char *group, char *errbuf,
    size_t errlen)
{
	char	*dir, *slash;
	gid_t	 gid;
	int	 rc = 0;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		goto done;
	*slash = '\0';
	if (mkdir(dir, 0700) == -1) {
		if (errno != EEXIST) {
			snprintf(errbuf, errlen, "mkdir %s: %s", dir,
			    strerror(errno));
			rc = -1;
		}
		goto done;
	}
	if (group == NULL || *group == '\0')
		goto done;
	if (sockfile_lookup_group(path, group, &gid, errbuf, errlen) == -1) {
		rmdir(dir);
		rc = -1;
	} else if (chown(dir, (uid_t)-1, gid) == -1 ||
	    chmod(dir, 0710) == -1) {
		snprintf(errbuf, errlen, "%s: cannot give it to group %s: %s",
		    dir, group, strerror(errno));
		rmdir(dir);
		rc = -1;
	}
done:
	free(dir);
	return rc;
}

/*
 * Group first, then mode: the socket is never open to the wrong group.  A
 * socket born in the right group (the daemon's own, as for the system
 * service's mcprelay) needs no chown(), which its unit's system call
 * filter refuses.
 */
static int
sockfile_set_owner(const char *path, mode_t mode, const char *group,
    char *errbuf, size_t errlen)
{
	struct stat	st;
	gid_t		gid;

	if (group != NULL && *group != '\0') {
		if (sockfile_lookup_group(path, group, &gid, errbuf,
		    errlen) == -1)
			return -1;
		if ((lstat(path, &st) == -1 || st.st_gid != gid) &&
		    chown(path, (uid_t)-1, gid) == -1) {
			snprintf(errbuf, errlen, "chown %s to group %s: %s",
			    path, group, strerror(errno));
			return -1;
		}
	}
	if (chmod(path, mode) == -1) {
		snprintf(errbuf, errlen, "chmod %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
sockfile_bind(struct sockfile *sf, const char *path, mode_t mode,
    const char *group, char *errbuf, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old_umask;
	int			 fd, rc;

	memset(sf, 0, sizeof *sf);
	sf->path = xstrdup(path);
	if (errlen > 0)
		errbuf[0] = '\0';
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(errbuf, errlen, "%s: socket path too long (max %zu)",
		    path, sizeof sun.sun_path - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (sockfile_mkdir_parent(path, group, errbuf, errlen) == -1 ||
	    sockfile_claim(&sun, errbuf, errlen) == -1)
		return -1;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Born 0600, widened to mode only once the group is right. */
	old_umask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_umask);
	if (rc == -1) {
		snprintf(errbuf, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (sockfile_set_owner(path, mode, group, errbuf, errlen) == -1)
		goto fail;
	if (lstat(path, &st) == -1) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	sf->created = 1;
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	return fd;

fail:
	unlink(path);
	close(fd);
	return -1;
}

int
sockfile_adopt(const char *label, int fd, char *errbuf, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	int			 type = 0, listening = 0, fl;
	socklen_t		 len = sizeof type, llen = sizeof listening;

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &llen) == -1) {
		snprintf(errbuf, errlen, "%s: inherited fd %d: %s", label,
		    fd, strerror(errno));
		return -1;
	}
	if (ss.ss_family != AF_UNIX || type != SOCK_STREAM || !listening) {
		snprintf(errbuf, errlen, "%s: inherited fd %d is not a "
		    "listening Unix stream socket", label, fd);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(errbuf, errlen, "%s: inherited fd %d: fcntl: %s",
		    label, fd, strerror(errno));
		return -1;
	}
	return fd;
}

void
sockfile_close(struct sockfile *sf)
{
	struct stat	st;

	/* Only the file we bound: another daemon may own the path now. */
	if (sf->created && lstat(sf->path, &st) == 0 &&
	    st.st_dev == sf->dev && st.st_ino == sf->ino)
		unlink(sf->path);
	sf->created = 0;
	free(sf->path);
	sf->path = NULL;
}

#ifdef SO_PEERCRED
int
sockfile_peer(int fd, struct sockfile_peer *peer)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	peer->pid = -1;
	peer->uid = (uid_t)-1;
	peer->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	return 0;
}
#else
int
sockfile_peer(int fd, struct sockfile_peer *peer)
{
	peer->pid = -1;
	return getpeereid(fd, &peer->uid, &peer->gid);
}
#endif

int
sockfile_peer_in_group(int fd, const struct sockfile_peer *peer, gid_t gid)
{
#ifdef SO_PEERGROUPS
	gid_t		groups[SOCKFILE_MAX_GROUPS];
	socklen_t	len = sizeof groups;
	size_t		i;
#endif

	if (peer->gid == gid)
		return 1;
#ifdef SO_PEERGROUPS
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof groups[0]; i++)
		if (groups[i] == gid)
			return 1;
#endif
	return 0;
}
