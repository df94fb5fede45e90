/*
 * mcprelayctl connect: a stdio bridge for MCP clients that can only start a
 * server process.  It copies bytes between stdin/stdout and the daemon's MCP
 * Unix socket, after an optional scope preamble (docs/unix-socket.md).
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "jsonrpc.h"
#include "xmalloc.h"

/* The listener's preamble method (daemon/listen-unix.h says the same). */
#define CONNECT_SCOPE_METHOD	"mcprelay/scope"
#define CONNECT_BUFSIZE		65536

/* One direction of the bridge. */
struct connect_pipe {
	const char	*from_name, *to_name;
	int		 from, to;
	size_t		 chunk;		/* most bytes one write() may take */
	int		 eof;		/* from has no more */
	size_t		 off, len;	/* buf[off..len) is unsent */
	char		 buf[CONNECT_BUFSIZE];
};

static struct connect_pipe *
connect_pipe_new(const char *from_name, int from, const char *to_name,
    int to, size_t chunk)
{
	struct connect_pipe	*p = xcalloc(1, sizeof *p);

	p->from_name = from_name;
	p->from = from;
	p->to_name = to_name;
	p->to = to;
	p->chunk = chunk;
	return p;
}

static size_t
connect_pending(const struct connect_pipe *p)
{
	return p->len - p->off;
}

static int
connect_can_read(const struct connect_pipe *p)
{
	return !p->eof && connect_pending(p) < sizeof p->buf;
}

/* 0, or -1 with errno on an error; a short read is fine. */
static int
connect_pipe_read(struct connect_pipe *p)
{
	ssize_t	n;

	if (p->off > 0) {
		memmove(p->buf, p->buf + p->off, p->len - p->off);
		p->len -= p->off;
		p->off = 0;
	}
	n = read(p->from, p->buf + p->len, sizeof p->buf - p->len);
	if (n == -1)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		p->eof = 1;
	p->len += n;
	return 0;
}

/* 0, or -1 with errno on an error; partial writes stay queued. */
static int
connect_pipe_write(struct connect_pipe *p)
{
	size_t	n = connect_pending(p);
	ssize_t	w;

	if (n > p->chunk)
		n = p->chunk;
	w = write(p->to, p->buf + p->off, n);
	if (w == -1)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	p->off += w;
	if (p->off == p->len)
		p->off = p->len = 0;
	return 0;
}

static int
connect_fail(const char *doing, const char *what)
{
	fprintf(stderr, "mcprelayctl: %s %s: %s\n", doing, what,
	    strerror(errno));
	return CTL_EXIT_FAIL;
}

/*
 * Copies both ways until the daemon's side is finished.  At stdin's EOF
 * the socket is half-closed once everything is sent: the daemon sends what
 * it still has queued and closes, and we exit 0.  The daemon closing first
 * (shutdown, unknown server) is a failure.  stdin and stdout stay blocking:
 * they are shared with the client, so stdout gets at most PIPE_BUF bytes
 * per write after POLLOUT, which a pipe takes without blocking.
 */
static int
connect_bridge(int sock, struct connect_pipe *up, struct connect_pipe *down)
{
	enum { IN, SOCK, OUT };
	struct pollfd	pfd[3];
	int		shut = 0;

	for (;;) {
		if (down->eof && connect_pending(down) == 0) {
			if (up->eof)
				return CTL_EXIT_OK;
			fprintf(stderr, "mcprelayctl: mcprelayd closed the "
			    "connection\n");
			return CTL_EXIT_FAIL;
		}
		if (up->eof && connect_pending(up) == 0 && !shut) {
			shutdown(sock, SHUT_WR);
			shut = 1;
		}
		memset(pfd, 0, sizeof pfd);
		pfd[IN].fd = connect_can_read(up) ? up->from : -1;
		pfd[IN].events = POLLIN;
		pfd[SOCK].events = (connect_can_read(down) ? POLLIN : 0) |
		    (connect_pending(up) > 0 ? POLLOUT : 0);
		pfd[SOCK].fd = pfd[SOCK].events != 0 ? sock : -1;
		pfd[OUT].fd = connect_pending(down) > 0 ? down->to : -1;
		pfd[OUT].events = POLLOUT;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mcprelayctl: poll: %s\n",
			    strerror(errno));
			return CTL_EXIT_FAIL;
		}

		if (pfd[IN].revents != 0 && connect_pipe_read(up) == -1)
			return connect_fail("reading", up->from_name);
		if ((pfd[SOCK].revents & ~POLLOUT) != 0 &&
		    connect_can_read(down) && connect_pipe_read(down) == -1)
			return connect_fail("reading from", down->from_name);
		if ((pfd[SOCK].revents & ~POLLIN) != 0 &&
		    connect_pending(up) > 0 && connect_pipe_write(up) == -1)
			return connect_fail("writing to", up->to_name);
		if (pfd[OUT].revents != 0 && connect_pipe_write(down) == -1) {
			/* The client closed its end: it is done with us. */
			if (errno == EPIPE)
				return CTL_EXIT_OK;
			return connect_fail("writing to", down->to_name);
		}
	}
}

/* --socket, $MCPRELAY_SOCKET, $XDG_RUNTIME_DIR/mcprelay, /run/mcprelay. */
static const char *
connect_socket_path(const char *option, char *buf, size_t len)
{
	const char	*s;

	if (option != NULL)
		return option;
	if ((s = getenv("MCPRELAY_SOCKET")) != NULL && *s != '\0')
		return s;
	if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s != '\0') {
		snprintf(buf, len, "%s/mcprelay/mcp.sock", s);
		return buf;
	}
	return "/run/mcprelay/mcp.sock";
}

/* Queues the scope preamble as the first bytes for the socket. */
static int
connect_queue_scope(struct connect_pipe *up, const char *server)
{
	struct json_object	*params, *msg;
	const char		*json;
	size_t			 len;
	int			 rc = -1;

	params = json_object_new_object();
	json_object_object_add(params, "server",
	    json_object_new_string(server));
	msg = jsonrpc_notification_new(CONNECT_SCOPE_METHOD, params);
	json = jsonrpc_to_string(msg, &len);
	if (len + 1 <= sizeof up->buf) {
		memcpy(up->buf, json, len);
		up->buf[len] = '\n';
		up->len = len + 1;
		rc = 0;
	}
	json_object_put(msg);
	return rc;
}

int
cmd_connect(const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct connect_pipe		*up, *down;
	const char			*option = NULL, *path, *server;
	char				 buf[PATH_MAX];
	int				 ch, sock, rc;

	while ((ch = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			option = optarg;
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error(self);
		}
	}
	if (argc - optind > 1)
		return ctl_usage_error(self);
	server = optind < argc ? argv[optind] : NULL;
	if (server != NULL && *server == '\0') {
		fprintf(stderr, "mcprelayctl: empty server name\n");
		return CTL_EXIT_USAGE;
	}

	path = connect_socket_path(option, buf, sizeof buf);
	if ((sock = ctl_socket_open(path, &rc)) == -1)
		return rc;
	up = connect_pipe_new("stdin", STDIN_FILENO, "mcprelayd", sock,
	    CONNECT_BUFSIZE);
	down = connect_pipe_new("mcprelayd", sock, "stdout", STDOUT_FILENO,
	    PIPE_BUF);
	if (server != NULL && connect_queue_scope(up, server) == -1) {
		fprintf(stderr, "mcprelayctl: server name too long\n");
		rc = CTL_EXIT_USAGE;
	} else {
		/* A peer that goes away is an EPIPE we report, not our
		 * death. */
		signal(SIGPIPE, SIG_IGN);
		rc = connect_bridge(sock, up, down);
	}
	free(up);
	free(down);
	close(sock);
	return rc;
}
