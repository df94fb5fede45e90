/*
 * mcprelayctl's side of the control protocol (docs/control.md): find and
 * open the socket, send a JSON-RPC request, read newline-delimited
 * replies and event notifications.  Blocking calls bounded by poll().
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "ctl.h"
#include "jsonrpc.h"
#include "xmalloc.h"

/* A reply bigger than this is not one mcprelayd sends. */
#define CTL_MAX_MESSAGE		(64 * 1024 * 1024)

struct ctl_conn {
	int		 fd;
	char		*buf;
	size_t		 off, len, cap;
	int		 eof;
	int64_t		 next_id;
	double		 timeout;	/* seconds per call */
	/* Notifications read while waiting for a reply, oldest first. */
	struct json_object *pending;
	int		 in_call;	/* ctl_call: read the socket only */
};

int
ctl_socket_open(const char *path, int *rc)
{
	struct sockaddr_un	sun;
	int			fd;

	*rc = CTL_EXIT_FAIL;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "mcprelayctl: %s: socket path too long\n",
		    path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "mcprelayctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED) {
			fprintf(stderr, "mcprelayctl: mcprelayd is not "
			    "running (%s: %s)\n", path, strerror(errno));
			*rc = CTL_EXIT_NOT_RUNNING;
		} else
			fprintf(stderr, "mcprelayctl: connect %s: %s\n", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		fprintf(stderr, "mcprelayctl: fcntl: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The socket: --socket, $MCPRELAY_CONTROL_SOCKET, control.socket of
 * --config, then the daemon's default; when that is a user's runtime
 * directory with no socket in it, the system daemon's.
 */
static const char *
ctl_socket_path(const struct ctl_opts *o, char *buf, size_t len)
{
	struct config_errors	 errs;
	struct config		*cfg;
	const char		*s;
	struct stat		 st;

	if (o->socket != NULL)
		return o->socket;
	if ((s = getenv("MCPRELAY_CONTROL_SOCKET")) != NULL && *s != '\0')
		return s;
	if (o->config != NULL) {
		config_errors_init(&errs);
		if ((cfg = config_load_file(o->config, &errs)) == NULL) {
			config_errors_print(&errs, stderr);
			config_errors_free(&errs);
			return NULL;
		}
		config_control_socket(cfg, buf, len);
		config_free(cfg);
		config_errors_free(&errs);
		return buf;
	}
	config_control_socket_default(buf, len);
	if (stat(buf, &st) == -1 && errno == ENOENT)
		snprintf(buf, len, "/run/mcprelay/control.sock");
	return buf;
}

int
ctl_parse_opts(const struct ctl_cmd *self, int argc, char **argv,
    struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	memset(o, 0, sizeof *o);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:c:jh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			return -2;
		default:
			ctl_print_usage(self, stderr);
			return -1;
		}
	}
	return optind;
}

int
ctl_open(const struct ctl_opts *o, struct ctl_conn **out)
{
	struct ctl_conn	*c;
	char		 buf[PATH_MAX];
	const char	*path;
	int		 fd, rc;

	*out = NULL;
	/* The daemon going away mid-write is an error we report. */
	signal(SIGPIPE, SIG_IGN);
	if ((path = ctl_socket_path(o, buf, sizeof buf)) == NULL)
		return CTL_EXIT_FAIL;
	if ((fd = ctl_socket_open(path, &rc)) == -1)
		return rc;
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->timeout = CTL_CALL_TIMEOUT;
	c->pending = json_object_new_array();
	*out = c;
	return CTL_EXIT_OK;
}

void
ctl_close(struct ctl_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	json_object_put(c->pending);
	free(c->buf);
	free(c);
}

int
ctl_fd(const struct ctl_conn *c)
{
	return c->fd;
}

void
ctl_set_timeout(struct ctl_conn *c, double seconds)
{
	c->timeout = seconds;
}

static double
ctl_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write all of buf, waiting at most until deadline. */
static int
ctl_write_all(struct ctl_conn *c, const char *buf, size_t len,
    double deadline)
{
	struct pollfd	pfd;
	ssize_t		n;
	int		ms;

	while (len > 0) {
		n = write(c->fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		ms = (int)((deadline - ctl_now()) * 1000);
		if (ms <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, ms) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * The next message.  timeout_ms < 0 waits for ever.  NULL with *rc: 0 on
 * a timeout, CTL_EXIT_FAIL when the daemon closed or sent garbage, or -1
 * when poll() was interrupted by a signal (watch stops on SIGINT).
 */
struct json_object *
ctl_read(struct ctl_conn *c, int timeout_ms, int *rc)
{
	struct json_object	*msg;
	struct pollfd		 pfd;
	const char		*reason;
	char			*nl;
	ssize_t			 n;
	int			 r;

	*rc = 0;
	if (!c->in_call && json_object_array_length(c->pending) > 0) {
		msg = json_object_get(json_object_array_get_idx(c->pending,
		    0));
		json_object_array_del_idx(c->pending, 0, 1);
		return msg;
	}
	for (;;) {
		if (c->len > c->off && (nl = memchr(c->buf + c->off, '\n',
		    c->len - c->off)) != NULL) {
			msg = jsonrpc_parse(c->buf + c->off,
			    (size_t)(nl - (c->buf + c->off)), &reason);
			c->off = (size_t)(nl - c->buf) + 1;
			if (msg == NULL) {
				fprintf(stderr, "mcprelayctl: mcprelayd sent "
				    "something that is not JSON (%s)\n",
				    reason);
				*rc = CTL_EXIT_FAIL;
			}
			return msg;
		}
		if (c->eof) {
			fprintf(stderr, "mcprelayctl: mcprelayd closed the "
			    "connection\n");
			*rc = CTL_EXIT_FAIL;
			return NULL;
		}
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->cap - c->len < 65536) {
			if (c->cap >= CTL_MAX_MESSAGE) {
				fprintf(stderr, "mcprelayctl: a message from "
				    "mcprelayd is too long\n");
				*rc = CTL_EXIT_FAIL;
				return NULL;
			}
			c->cap = c->cap == 0 ? 131072 : c->cap * 2;
			c->buf = xrealloc(c->buf, c->cap);
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "mcprelayctl: reading from mcprelayd: "
			    "%s\n", strerror(errno));
			*rc = CTL_EXIT_FAIL;
			return NULL;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, timeout_ms);
		if (r == 0)
			return NULL;
		if (r == -1) {
			if (errno == EINTR) {
				*rc = -1;
				return NULL;
			}
			fprintf(stderr, "mcprelayctl: poll: %s\n",
			    strerror(errno));
			*rc = CTL_EXIT_FAIL;
			return NULL;
		}
	}
}

static int	ctl_call_wait(struct ctl_conn *, const char *,
		    struct json_object *, struct json_object **);

/* The events met while waiting stay pending: the wait must not read them
 * back from there. */
int
ctl_call(struct ctl_conn *c, const char *method, struct json_object *params,
    struct json_object **result)
{
	int	rc;

	c->in_call = 1;
	rc = ctl_call_wait(c, method, params, result);
	c->in_call = 0;
	return rc;
}

static int
ctl_call_wait(struct ctl_conn *c, const char *method, struct json_object *params,
    struct json_object **result)
{
	struct json_object	*req, *msg, *id, *err, *data, *v;
	const char		*json;
	size_t			 len;
	double			 deadline = ctl_now() + c->timeout;
	int64_t			 want = ++c->next_id;
	int			 rc, ms, werr = 0;

	*result = NULL;
	req = jsonrpc_request_new(json_object_new_int64(want), method, params);
	json = jsonrpc_to_string(req, &len);
	/* A refused peer is sent an error and closed on, maybe before our
	 * request is written: read what it said before blaming the pipe. */
	if (ctl_write_all(c, json, len, deadline) == -1 ||
	    ctl_write_all(c, "\n", 1, deadline) == -1)
		werr = errno;
	json_object_put(req);
	for (;;) {
		ms = (int)((deadline - ctl_now()) * 1000);
		if (ms <= 0) {
			fprintf(stderr, "mcprelayctl: no answer to %s within "
			    "%g s\n", method, c->timeout);
			return CTL_EXIT_FAIL;
		}
		if ((msg = ctl_read(c, werr != 0 ? 0 : ms, &rc)) == NULL) {
			if (werr != 0 && rc != -1) {
				fprintf(stderr, "mcprelayctl: writing to "
				    "mcprelayd: %s\n", strerror(werr));
				return CTL_EXIT_FAIL;
			}
			if (rc == -1 || rc == 0)
				continue;
			return rc;
		}
		id = jsonrpc_id(msg);
		if (id == NULL && jsonrpc_method(msg) != NULL) {
			/* An event: keep it for whoever reads next. */
			json_object_array_add(c->pending, msg);
			continue;
		}
		if (id != NULL && json_object_is_type(id, json_type_int) &&
		    json_object_get_int64(id) != want) {
			json_object_put(msg);
			continue;
		}
		if (json_object_object_get_ex(msg, "error", &err)) {
			fprintf(stderr, "mcprelayctl: %s: %s\n", method,
			    jsonrpc_error_message(msg) ?
			    jsonrpc_error_message(msg) : "error");
			if (json_object_object_get_ex(err, "data", &data) &&
			    json_object_object_get_ex(data, "errors", &v) &&
			    json_object_is_type(v, json_type_array)) {
				size_t	i;

				for (i = 0; i < json_object_array_length(v);
				    i++)
					fprintf(stderr, "  %s\n",
					    json_object_get_string(
					    json_object_array_get_idx(v, i)));
			}
			/* Refused at connect: no id, then the socket closes. */
			json_object_put(msg);
			return CTL_EXIT_FAIL;
		}
		*result = json_object_get(jsonrpc_result(msg));
		json_object_put(msg);
		if (*result == NULL)
			*result = json_object_new_object();
		return CTL_EXIT_OK;
	}
}

int
ctl_call_once(const struct ctl_opts *o, const char *method,
    struct json_object *params, struct json_object **result)
{
	struct ctl_conn	*c;
	int		 rc;

	*result = NULL;
	if ((rc = ctl_open(o, &c)) != CTL_EXIT_OK) {
		json_object_put(params);
		return rc;
	}
	rc = ctl_call(c, method, params, result);
	ctl_close(c);
	return rc;
}

int
ctl_query(const struct ctl_cmd *self, int argc, char **argv, int nmin,
    int nmax, const char *method, struct ctl_opts *o,
    struct json_object **result)
{
	struct json_object	*params = NULL;
	int			 i;

	*result = NULL;
	if ((i = ctl_parse_opts(self, argc, argv, o)) < 0)
		return i == -2 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - i < nmin || argc - i > nmax)
		return ctl_usage_error(self);
	if (i < argc && *argv[i] == '\0') {
		fprintf(stderr, "mcprelayctl: empty server name\n");
		return CTL_EXIT_USAGE;
	}
	if (i < argc) {
		params = json_object_new_object();
		json_object_object_add(params, "server",
		    json_object_new_string(argv[i]));
	}
	return ctl_call_once(o, method, params, result);
}

void
ctl_print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}
