/*
 * systemd integration.  Built with libsystemd, messages go through
 * sd_notify() and sockets come from sd_listen_fds_with_names(); built
 * without it, the same two protocols are spoken directly (a datagram to
 * $NOTIFY_SOCKET; fds from 3 on with $LISTEN_PID/FDS/FDNAMES), so a
 * --without-systemd build still runs as Type=notify and socket-activated.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "log.h"
#include "names.h"
#include "notify.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "xmalloc.h"

#define NOTIFY_LISTEN_FDS_START	3	/* SD_LISTEN_FDS_START */
/* STATUS= is recomputed this often, and sent only when it changed. */
#define NOTIFY_STATUS_POLL_MS	1000

/*
 * What the service manager has been told.  STARTING until every listener
 * is bound; a reload goes READY -> RELOADING -> READY; STOPPING is final.
 */
enum notify_state {
	NOTIFY_STARTING,
	NOTIFY_READY,
	NOTIFY_RELOADING,
	NOTIFY_STOPPING,
};

static const char *const notify_state_names[] = {
	[NOTIFY_STARTING] = "starting",
	[NOTIFY_READY] = "ready",
	[NOTIFY_RELOADING] = "reloading",
	[NOTIFY_STOPPING] = "stopping",
};

/* The listening sockets a socket unit may pass, by FileDescriptorName=. */
enum notify_role {
	NOTIFY_FD_HTTP,
	NOTIFY_FD_MCP,
	NOTIFY_FD_CONTROL,
	NOTIFY_NROLES,
};

static const char *const notify_role_names[NOTIFY_NROLES] = {
	[NOTIFY_FD_HTTP] = "http",
	[NOTIFY_FD_MCP] = "mcp",
	[NOTIFY_FD_CONTROL] = "control",
};

struct notify_fd {
	int	fd;		/* -1: none passed, or taken */
	char	addr[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
};

struct notify {
	struct relay		*relay;
	enum notify_state	 state;
	int			 enabled;	/* $NOTIFY_SOCKET is set */
	int			 send_failed;	/* logged once */
#ifndef HAVE_SYSTEMD
	int			 sock;
	struct sockaddr_un	 su;
	socklen_t		 sulen;
#endif
	uint64_t		 watchdog_usec;	/* 0: no watchdog */
	struct event		*watchdog;
	struct event		*status_poll;
	int			 reload_failed;
	char			 status[256];	/* the last STATUS= sent */
	struct notify_fd	 fds[NOTIFY_NROLES];
};

static void	notify_watchdog_cb(evutil_socket_t, short, void *);
static void	notify_status_poll_cb(evutil_socket_t, short, void *);

/* ---- the notification socket ------------------------------------------- */

#ifndef HAVE_SYSTEMD
/* "/path" or "@abstract"; anything else (vsock:) is not supported here. */
static int
notify_socket_open(struct notify *n, const char *path)
{
	size_t	len = strlen(path);

	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof n->su.sun_path) {
		log_warnx("NOTIFY_SOCKET=%s: not a Unix socket path; systemd "
		    "will not hear from mcprelayd", path);
		return -1;
	}
	memset(&n->su, 0, sizeof n->su);
	n->su.sun_family = AF_UNIX;
	memcpy(n->su.sun_path, path, len);
	if (path[0] == '@')
		n->su.sun_path[0] = '\0';
	n->sulen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	n->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->sock == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return -1;
	}
	return 0;
}
#endif

static void
notify_send(struct notify *n, const char *msg)
{
	int	rc;

	if (!n->enabled)
		return;
#ifdef HAVE_SYSTEMD
	rc = sd_notify(0, msg);
	if (rc < 0)
		errno = -rc;
#else
	rc = (int)sendto(n->sock, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&n->su, n->sulen);
#endif
	if (rc < 0 && !n->send_failed) {
		/* Once: the manager may be gone for good (e.g. a test). */
		n->send_failed = 1;
		log_warn("sd_notify");
	} else if (rc >= 0)
		n->send_failed = 0;
}

/* ---- STATUS= and the state ------------------------------------------- */

static void
notify_status_text(struct notify *n, char *buf, size_t len)
{
	struct relay	*relay = n->relay;
	unsigned	 sessions;

	sessions = relay->sessions ? sessions_count(relay->sessions) : 0;
	snprintf(buf, len, "%u/%u servers ready, %u client session%s%s",
	    relay->router ? router_ready_count(relay->router) : 0,
	    relay->router ? router_count(relay->router) : 0,
	    sessions, sessions == 1 ? "" : "s",
	    n->reload_failed ? "; last reload failed (invalid "
	    "configuration), running the previous one" : "");
}

static uint64_t
notify_monotonic_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The one place the state changes and the manager is told about it. */
static void
notify_set_state(struct notify *n, enum notify_state next)
{
	char	msg[512];

	switch (next) {
	case NOTIFY_STARTING:
		return;
	case NOTIFY_READY:
		notify_status_text(n, n->status, sizeof n->status);
		snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", n->status);
		break;
	case NOTIFY_RELOADING:
		snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64
		    "\nSTATUS=reloading the configuration",
		    notify_monotonic_usec());
		break;
	case NOTIFY_STOPPING:
		snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=stopping");
		break;
	}
	if (n->enabled)
		log_debug("systemd: %s -> %s", notify_state_names[n->state],
		    notify_state_names[next]);
	n->state = next;
	notify_send(n, msg);
}

/*
 * A passed socket no listener took stays open in the socket unit, where
 * its clients would hang: say so loudly.
 */
static void
notify_close_unused(struct notify *n)
{
	int	r;

	for (r = 0; r < NOTIFY_NROLES; r++) {
		if (n->fds[r].fd == -1)
			continue;
		log_warnx("socket activation: the %s socket %s is not used; "
		    "closed (is %s off in the configuration?)",
		    notify_role_names[r], n->fds[r].addr, r == NOTIFY_FD_CONTROL ?
		    "control.socket" : r == NOTIFY_FD_MCP ? "listen.unix" :
		    "listen.http");
		close(n->fds[r].fd);
		n->fds[r].fd = -1;
	}
}

void
notify_ready(struct notify *n)
{
	struct timeval	tv = { NOTIFY_STATUS_POLL_MS / 1000,
			    (NOTIFY_STATUS_POLL_MS % 1000) * 1000 };

	if (n->state != NOTIFY_STARTING)
		return;
	notify_close_unused(n);
	notify_set_state(n, NOTIFY_READY);
	if (n->enabled && n->status_poll == NULL) {
		n->status_poll = event_new(n->relay->base, -1, EV_PERSIST,
		    notify_status_poll_cb, n);
		evtimer_add(n->status_poll, &tv);
	}
}

void
notify_reloading(struct notify *n)
{
	if (n->state == NOTIFY_READY)
		notify_set_state(n, NOTIFY_RELOADING);
}

void
notify_reloaded(struct notify *n, int ok)
{
	if (n->state != NOTIFY_RELOADING)
		return;
	n->reload_failed = !ok;
	notify_set_state(n, NOTIFY_READY);
}

void
notify_stopping(struct notify *n)
{
	if (n->state == NOTIFY_STOPPING)
		return;
	if (n->status_poll != NULL)
		evtimer_del(n->status_poll);
	notify_set_state(n, NOTIFY_STOPPING);
}

void
notify_status_changed(struct notify *n)
{
	char	status[sizeof n->status], msg[sizeof n->status + 8];

	if (n == NULL || !n->enabled || n->state != NOTIFY_READY)
		return;
	notify_status_text(n, status, sizeof status);
	if (strcmp(status, n->status) == 0)
		return;
	memcpy(n->status, status, sizeof n->status);
	snprintf(msg, sizeof msg, "STATUS=%s", status);
	notify_send(n, msg);
}

static void
notify_status_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_status_changed(arg);
}

/* ---- the watchdog ------------------------------------------------------ */

/*
 * WATCHDOG_USEC for us: WATCHDOG_PID, when set, must be our pid (the
 * variables may have leaked from a parent that is being watched).
 */
static uint64_t
notify_watchdog_usec(void)
{
#ifdef HAVE_SYSTEMD
	uint64_t	usec;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
	return 0;
#else
	const char		*s, *p;
	char			*end;
	unsigned long long	 v;

	if ((s = getenv("WATCHDOG_USEC")) == NULL)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0)
		return 0;
	if ((p = getenv("WATCHDOG_PID")) != NULL &&
	    strtoll(p, NULL, 10) != (long long)getpid())
		return 0;
	return (uint64_t)v;
#endif
}

static void
notify_watchdog_start(struct notify *n)
{
	struct timeval	tv;
	uint64_t	half;

	if ((n->watchdog_usec = notify_watchdog_usec()) == 0)
		return;
	half = n->watchdog_usec / 2;
	tv.tv_sec = (time_t)(half / 1000000u);
	tv.tv_usec = (suseconds_t)(half % 1000000u);
	n->watchdog = event_new(n->relay->base, -1, EV_PERSIST,
	    notify_watchdog_cb, n);
	evtimer_add(n->watchdog, &tv);
	log_info("systemd watchdog: %.3f s, pinging every %.3f s",
	    (double)n->watchdog_usec / 1e6, (double)half / 1e6);
}

/* A timer in the loop: a loop that hangs stops pinging and is restarted. */
static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_send(arg, "WATCHDOG=1");
}

/* ---- socket activation ------------------------------------------------- */

#ifndef HAVE_SYSTEMD
/*
 * sd_listen_fds_with_names() for builds without libsystemd: the count, and
 * in *names one name per fd ("unknown" when LISTEN_FDNAMES is missing or
 * does not match).  Unsets the variables so no child inherits them.
 */
static int
notify_env_listen_fds(char ***names)
{
	const char	*s;
	char		*end, *copy, *p, *tok;
	long		 pid, nfds, i;
	char		**v;

	*names = NULL;
	if ((s = getenv("LISTEN_PID")) == NULL)
		return 0;
	pid = strtol(s, &end, 10);
	if (*end != '\0' || pid != (long)getpid()) {
		nfds = 0;
		goto out;
	}
	if ((s = getenv("LISTEN_FDS")) == NULL) {
		nfds = 0;
		goto out;
	}
	nfds = strtol(s, &end, 10);
	if (*end != '\0' || nfds < 0 || nfds > 64) {
		log_warnx("LISTEN_FDS=%s: not a socket count; ignored", s);
		nfds = 0;
		goto out;
	}
	v = xcalloc((size_t)nfds + 1, sizeof *v);
	i = 0;
	if ((s = getenv("LISTEN_FDNAMES")) != NULL) {
		copy = p = xstrdup(s);
		while ((tok = strsep(&p, ":")) != NULL && i < nfds)
			v[i++] = xstrdup(tok);
		if (i != nfds || tok != NULL)
			log_warnx("LISTEN_FDNAMES=%s does not name %ld "
			    "sockets; ignored", s, nfds);
		free(copy);
		if (i != nfds || tok != NULL)
			while (i > 0)
				free(v[--i]);
	}
	for (; i < nfds; i++)
		v[i] = xstrdup("unknown");
	for (i = 0; i < nfds; i++)
		fcntl(NOTIFY_LISTEN_FDS_START + (int)i, F_SETFD, FD_CLOEXEC);
	*names = v;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)nfds;
}
#endif

/* A printable address: the host for TCP, the path ("@..." abstract). */
static void
notify_sockaddr_text(const struct sockaddr_storage *ss, socklen_t sl,
    char *buf, size_t len)
{
	const struct sockaddr_un	*su = (const struct sockaddr_un *)ss;
	size_t				 n;

	buf[0] = '\0';
	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    buf, (socklen_t)len);
		break;
	case AF_INET6:
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
		    (socklen_t)len);
		break;
	case AF_UNIX:
		if (sl <= offsetof(struct sockaddr_un, sun_path))
			break;
		n = sl - offsetof(struct sockaddr_un, sun_path);
		if (su->sun_path[0] == '\0')
			snprintf(buf, len, "@%.*s", (int)(n - 1),
			    su->sun_path + 1);
		else
			snprintf(buf, len, "%.*s", (int)strnlen(su->sun_path,
			    n), su->sun_path);
		break;
	}
}

/*
 * Which listener a passed socket is for: its FileDescriptorName=, or, for
 * a socket unit that names none, its address (TCP is HTTP; a Unix socket
 * at the configured listen.unix or control.socket path is that one).
 */
static int
notify_fd_role(struct notify *n, const char *name, int family,
    const char *addr)
{
	const struct config	*cfg = n->relay->cfg;
	int			 r;

	if ((r = names_index(notify_role_names, NOTIFY_NROLES, name)) != -1)
		return r;
	if (family == AF_INET || family == AF_INET6)
		return NOTIFY_FD_HTTP;
	if (family != AF_UNIX || addr[0] == '\0')
		return -1;
	if (cfg->listen.unix_socket.enabled &&
	    cfg->listen.unix_socket.path != NULL &&
	    strcmp(addr, cfg->listen.unix_socket.path) == 0)
		return NOTIFY_FD_MCP;
	if (cfg->control.socket != NULL &&
	    strcmp(addr, cfg->control.socket) == 0)
		return NOTIFY_FD_CONTROL;
	return -1;
}

/* Keeps fd for its listener, or closes it and says why. */
static void
notify_adopt_fd(struct notify *n, int fd, const char *name)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss, tl, ll;
	char			 addr[sizeof n->fds[0].addr];
	int			 type = 0, listening = 0, role, want_unix;

	memset(&ss, 0, sizeof ss);
	tl = sizeof type;
	ll = sizeof listening;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1 ||
	    type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) == -1 ||
	    !listening) {
		log_warnx("socket activation: fd %d (%s) is not a listening "
		    "stream socket; closed", fd, name);
		close(fd);
		return;
	}
	notify_sockaddr_text(&ss, sl, addr, sizeof addr);
	if ((role = notify_fd_role(n, name, ss.ss_family, addr)) == -1) {
		log_warnx("socket activation: cannot tell what fd %d (%s, %s) "
		    "is for; closed (set FileDescriptorName=http, mcp or "
		    "control)", fd, name, addr);
		close(fd);
		return;
	}
	want_unix = role != NOTIFY_FD_HTTP;
	if (want_unix != (ss.ss_family == AF_UNIX) ||
	    (!want_unix && ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6)) {
		log_warnx("socket activation: the %s socket (fd %d, %s) must "
		    "be %s; closed", notify_role_names[role], fd, addr,
		    want_unix ? "a Unix socket" : "a TCP socket");
		close(fd);
		return;
	}
	if (n->fds[role].fd != -1) {
		log_warnx("socket activation: a second %s socket (fd %d, %s); "
		    "only %s is served, this one is closed",
		    notify_role_names[role], fd, addr, n->fds[role].addr);
		close(fd);
		return;
	}
	/* libevent accepts in a loop until EAGAIN: it must not block. */
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	n->fds[role].fd = fd;
	snprintf(n->fds[role].addr, sizeof n->fds[role].addr, "%s", addr);
	log_info("socket activation: %s socket %s (fd %d)",
	    notify_role_names[role], addr, fd);
}

static void
notify_listen_fds(struct notify *n)
{
	char	**names = NULL;
	int	  nfds, i;

#ifdef HAVE_SYSTEMD
	nfds = sd_listen_fds_with_names(1, &names);
	if (nfds < 0) {
		errno = -nfds;
		log_warn("socket activation: sd_listen_fds_with_names");
		return;
	}
#else
	nfds = notify_env_listen_fds(&names);
#endif
	for (i = 0; i < nfds; i++)
		notify_adopt_fd(n, NOTIFY_LISTEN_FDS_START + i,
		    names != NULL && names[i] != NULL ? names[i] : "unknown");
	if (names != NULL) {
		for (i = 0; names[i] != NULL; i++)
			free(names[i]);
		free(names);
	}
}

int
notify_take_fd(struct notify *n, const char *name, const char **addr)
{
	int	r, fd;

	for (r = 0; r < NOTIFY_NROLES; r++) {
		if (strcmp(name, notify_role_names[r]) != 0)
			continue;
		fd = n->fds[r].fd;
		n->fds[r].fd = -1;
		if (addr != NULL)
			*addr = n->fds[r].addr;
		return fd;
	}
	return -1;
}

/* ---- life ------------------------------------------------------------ */

struct notify *
notify_new(struct relay *relay)
{
	struct notify	*n;
	const char	*path;
	int		 r;

	n = xcalloc(1, sizeof *n);
	n->relay = relay;
	n->state = NOTIFY_STARTING;
#ifndef HAVE_SYSTEMD
	n->sock = -1;
#endif
	for (r = 0; r < NOTIFY_NROLES; r++)
		n->fds[r].fd = -1;
	if ((path = getenv("NOTIFY_SOCKET")) != NULL && path[0] != '\0') {
#ifdef HAVE_SYSTEMD
		n->enabled = 1;
#else
		n->enabled = notify_socket_open(n, path) == 0;
#endif
	}
	notify_listen_fds(n);
	if (n->enabled)
		notify_watchdog_start(n);
	return n;
}

void
notify_free(struct notify *n)
{
	int	r;

	if (n == NULL)
		return;
	for (r = 0; r < NOTIFY_NROLES; r++)
		if (n->fds[r].fd != -1)
			close(n->fds[r].fd);
	if (n->watchdog != NULL)
		event_free(n->watchdog);
	if (n->status_poll != NULL)
		event_free(n->status_poll);
#ifndef HAVE_SYSTEMD
	if (n->sock != -1)
		close(n->sock);
#endif
	free(n);
}
