/*
 * Unit tests for daemon/listen-unix.c over a real socket in a temporary
 * directory: socket set-up (stale, live, modes, parent directory, socket
 * activation), error replies for bad lines, the scope preamble, and the
 * connection and output limits.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "listen-unix.h"
#include "log.h"
#include "jsonrpc.h"
#include "access.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "session.h"
#include "xmalloc.h"

#define WAIT_SECONDS	5	/* for anything that should take ~1ms */

struct harness {
	struct relay		 relay;
	char			 dir[64];
	char			 path[128];
	struct listen_unix	*l;
	char			 err[256];
};

struct client {
	int	 fd;
	char	*buf;
	size_t	 off, len, cap;
};

/*
 * The smallest daemon context the listener needs: a loop, the default
 * configuration, sessions and a router without servers, so every scope
 * preamble names an unknown server.
 */
static struct harness *
harness_new(void)
{
	struct harness	*h = xcalloc(1, sizeof *h);

	log_init("test_listen_unix",
	    getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	h->relay.base = event_base_new();
	ck_assert_ptr_nonnull(h->relay.base);
	h->relay.cfg = config_load_string("", 0, "empty", NULL);
	ck_assert_ptr_nonnull(h->relay.cfg);
	h->relay.sessions = sessions_new(&h->relay);
	h->relay.router = router_new(&h->relay);
	h->relay.access = access_new();
	access_apply_config(h->relay.access, h->relay.cfg);
	strcpy(h->dir, "/tmp/test_listen_unix.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->path, sizeof h->path, "%s/mcp.sock", h->dir);
	return h;
}

static struct harness *
harness_listening(void)
{
	struct harness	*h = harness_new();

	h->l = listen_unix_new(&h->relay, h->path, 0600, NULL, -1, h->err,
	    sizeof h->err);
	ck_assert_msg(h->l != NULL, "listen_unix_new: %s", h->err);
	return h;
}

static void
harness_free(struct harness *h)
{
	char	 sub[160];

	listen_unix_free(h->l);
	router_free(h->relay.router);
	sessions_free(h->relay.sessions);
	access_free(h->relay.access);
	config_free(h->relay.cfg);
	event_base_free(h->relay.base);
	unlink(h->path);
	snprintf(sub, sizeof sub, "%s/sub/mcp.sock", h->dir);
	unlink(sub);
	snprintf(sub, sizeof sub, "%s/sub", h->dir);
	rmdir(sub);
	ck_assert_int_eq(rmdir(h->dir), 0);
	free(h);
}

/* One round of the daemon's loop: whatever is ready, or a 5ms wait. */
static void
pump(struct harness *h)
{
	struct timeval	tv = { 0, 5000 };

	event_base_loopexit(h->relay.base, &tv);
	event_base_loop(h->relay.base, EVLOOP_ONCE);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define PUMP_UNTIL(h, cond) do {					\
	double	deadline_ = now() + WAIT_SECONDS;			\
	while (!(cond) && now() < deadline_)				\
		pump(h);						\
	ck_assert_msg((cond), "timed out waiting for: %s", #cond);	\
} while (0)

static int
connect_fd(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct client *
client_new(struct harness *h)
{
	struct client	*c = xcalloc(1, sizeof *c);

	c->fd = connect_fd(h->path);
	ck_assert_msg(c->fd != -1, "connect %s: %s", h->path,
	    strerror(errno));
	c->cap = 65536;
	c->buf = xmalloc(c->cap);
	return c;
}

static void
client_free(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->buf);
	free(c);
}

/* Sends everything, running the daemon whenever the socket is full. */
static int
client_send(struct harness *h, struct client *c, const char *data,
    size_t len)
{
	double	deadline = now() + WAIT_SECONDS;
	ssize_t	n;

	while (len > 0) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		ck_assert_msg(now() < deadline, "timed out sending");
		pump(h);
	}
	return 0;
}

static void
client_send_str(struct harness *h, struct client *c, const char *s)
{
	ck_assert_int_eq(client_send(h, c, s, strlen(s)), 0);
}

/* Reads more; 1 if data came, 0 at EOF (or reset), -1 if none yet. */
static int
client_fill(struct client *c)
{
	ssize_t	n;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == c->cap) {
		c->cap *= 2;
		c->buf = xrealloc(c->buf, c->cap);
	}
	n = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (n > 0) {
		c->len += n;
		return 1;
	}
	if (n == 0 || errno == ECONNRESET)
		return 0;
	ck_assert_msg(errno == EAGAIN || errno == EINTR, "read: %s",
	    strerror(errno));
	return -1;
}

/* The next line from the daemon, NULL at EOF. */
static char *
client_read_line(struct harness *h, struct client *c)
{
	double	 deadline = now() + WAIT_SECONDS;
	char	*nl, *line;
	size_t	 n;

	for (;;) {
		nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		if (nl != NULL) {
			n = nl - (c->buf + c->off);
			line = xstrndup(c->buf + c->off, n);
			c->off += n + 1;
			return line;
		}
		switch (client_fill(c)) {
		case 1:
			continue;
		case 0:
			return NULL;
		}
		ck_assert_msg(now() < deadline, "timed out waiting for a line");
		pump(h);
	}
}

static void
client_expect_eof(struct harness *h, struct client *c)
{
	char	*line;

	line = client_read_line(h, c);
	ck_assert_msg(line == NULL, "expected EOF, got \"%s\"", line);
}

/* Reads one line and checks it is an error with this code, id and text. */
static void
client_expect_error(struct harness *h, struct client *c, int code,
    const char *id, const char *text)
{
	struct json_object	*msg, *error, *v;
	char			*line;

	line = client_read_line(h, c);
	ck_assert_msg(line != NULL, "EOF, expected error %d", code);
	msg = json_tokener_parse(line);
	ck_assert_msg(msg != NULL, "reply is not JSON: %s", line);
	ck_assert(json_object_object_get_ex(msg, "error", &error));
	ck_assert(json_object_object_get_ex(error, "code", &v));
	ck_assert_int_eq(json_object_get_int(v), code);
	ck_assert(json_object_object_get_ex(error, "message", &v));
	ck_assert_msg(strstr(json_object_get_string(v), text) != NULL,
	    "message \"%s\" lacks \"%s\"", json_object_get_string(v), text);
	ck_assert(json_object_object_get_ex(msg, "id", &v));
	if (id == NULL)
		ck_assert_msg(v == NULL, "id is %s, want null",
		    json_object_to_json_string(v));
	else
		ck_assert_str_eq(json_object_to_json_string(v), id);
	json_object_put(msg);
	free(line);
}

/* A Unix socket bound at path and closed: what a crashed daemon leaves. */
static void
make_stale_socket(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
}

static mode_t
file_mode(const char *path)
{
	struct stat	st;

	ck_assert_msg(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	return st.st_mode;
}

START_TEST(test_garbage_line_gets_parse_error_with_null_id)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	client_send_str(h, c, "{\"jsonrpc\":\n");
	client_expect_error(h, c, -32700, NULL, "JSON text ends too early");
	ck_assert_uint_eq(h->relay.counters.parse_errors, 1);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_request_is_answered_by_the_session)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);
	char		*line;

	client_send_str(h, c, "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"ping\"}\r\n{\"jsonrpc\":\"2.0\",\"id\":\"b\","
	    "\"method\":\"ping\"}\n");
	line = client_read_line(h, c);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	free(line);
	line = client_read_line(h, c);
	ck_assert_str_eq(line,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"result\":{}}");
	free(line);
	ck_assert_uint_eq(sessions_count(h->relay.sessions), 1);
	client_free(c);
	PUMP_UNTIL(h, sessions_count(h->relay.sessions) == 0);
	harness_free(h);
}
END_TEST

START_TEST(test_invalid_jsonrpc_gets_invalid_request_with_reason)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	client_send_str(h, c,
	    "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}\n");
	client_expect_error(h, c, -32600, "7", "\"jsonrpc\" must be \"2.0\"");
	client_send_str(h, c, "42\n");
	client_expect_error(h, c, -32600, NULL, "not a JSON object");
	ck_assert_uint_eq(h->relay.counters.invalid_requests, 2);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_batch_gets_invalid_request)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	client_send_str(h, c,
	    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n");
	client_expect_error(h, c, -32600, NULL, "batches are not supported");
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_oversize_line_gets_error_and_connection_still_works)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);
	size_t		 len = LISTEN_UNIX_MAX_LINE + 1;
	char		*big = xmalloc(len + 1);

	memset(big, 'x', len);
	big[len] = '\n';
	ck_assert_int_eq(client_send(h, c, big, len + 1), 0);
	client_expect_error(h, c, -32600, NULL, "message too long");
	client_send_str(h, c, "garbage\n");
	client_expect_error(h, c, -32700, NULL, "");
	ck_assert_uint_eq(listen_unix_counters(h->l)->open, 1);
	free(big);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_line_of_exactly_max_line_is_read)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);
	size_t		 len = LISTEN_UNIX_MAX_LINE;
	char		*big = xmalloc(len + 1);

	/* A parse error, not "too long": the line reached the parser. */
	memset(big, 'x', len);
	big[len] = '\n';
	ck_assert_int_eq(client_send(h, c, big, len + 1), 0);
	client_expect_error(h, c, -32700, NULL, "");
	free(big);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_replies_queued_before_eof_are_still_sent)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	client_send_str(h, c, "one\ntwo\n");
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	client_expect_error(h, c, -32700, NULL, "");
	client_expect_error(h, c, -32700, NULL, "");
	client_expect_eof(h, c);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 0);
	client_free(c);
	harness_free(h);
}
END_TEST

static void
grab_session(struct session *s, void *arg)
{
	*(struct session **)arg = s;
}

/*
 * A client that half-closes with a request in flight, as the router would
 * hold one waiting for an upstream; returns that request.
 */
static struct request *
half_close_with_request_in_flight(struct harness *h, struct client *c,
    struct json_object *msg)
{
	struct session	*s = NULL;
	struct request	*r;
	int		 i;

	client_send_str(h, c, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}\n");
	PUMP_UNTIL(h, sessions_count(h->relay.sessions) == 1);
	sessions_foreach(h->relay.sessions, grab_session, &s);
	r = request_new(s, session_standalone(s), msg);
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	for (i = 0; i < 10; i++)
		pump(h);
	ck_assert_uint_eq(listen_unix_counters(h->l)->open, 1);
	return r;
}

START_TEST(test_request_in_flight_at_eof_is_still_answered)
{
	struct harness		*h = harness_listening();
	struct client		*c = client_new(h);
	struct json_object	*msg;
	struct request		*r;
	char			*line;

	msg = json_tokener_parse(
	    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\"}");
	r = half_close_with_request_in_flight(h, c, msg);
	request_finish(r, jsonrpc_result_new(jsonrpc_id(msg),
	    json_object_new_object()));
	line = client_read_line(h, c);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}");
	free(line);
	client_expect_eof(h, c);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 0);
	ck_assert_uint_eq(sessions_count(h->relay.sessions), 0);
	json_object_put(msg);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_cancelled_request_at_eof_ends_without_a_reply)
{
	struct harness		*h = harness_listening();
	struct client		*c = client_new(h);
	struct json_object	*msg;
	struct request		*r;

	msg = json_tokener_parse(
	    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\"}");
	r = half_close_with_request_in_flight(h, c, msg);
	request_finish(r, NULL);
	client_expect_eof(h, c);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 0);
	json_object_put(msg);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_scope_preamble_for_unknown_server_errors_and_closes)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	client_send_str(h, c, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"mcprelay/scope\",\"params\":{\"server\":\"nosuch\"}}\n");
	client_expect_error(h, c, -32016, NULL, "unknown server 'nosuch'");
	client_expect_eof(h, c);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 0);
	ck_assert_uint_eq(sessions_count(h->relay.sessions), 0);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_scope_preamble_without_server_is_invalid_params)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	client_send_str(h, c, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"mcprelay/scope\",\"params\":{\"server\":3}}\n");
	client_expect_error(h, c, -32602, NULL, "params.server");
	client_expect_eof(h, c);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_scope_preamble_after_first_line_is_not_a_preamble)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);

	/* The second line goes to the session like any notification. */
	client_send_str(h, c, "garbage\n{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"mcprelay/scope\",\"params\":{\"server\":\"nosuch\"}}\n"
	    "garbage\n");
	client_expect_error(h, c, -32700, NULL, "");
	client_expect_error(h, c, -32700, NULL, "");
	ck_assert_uint_eq(listen_unix_counters(h->l)->open, 1);
	ck_assert_uint_eq(sessions_count(h->relay.sessions), 1);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_socket_file_mode_is_0600)
{
	struct harness	*h = harness_listening();

	ck_assert(S_ISSOCK(file_mode(h->path)));
	ck_assert_uint_eq(file_mode(h->path) & 07777, 0600);
	harness_free(h);
}
END_TEST

START_TEST(test_socket_file_gets_the_mode_asked_for)
{
	struct harness	*h = harness_new();

	h->l = listen_unix_new(&h->relay, h->path, 0660, "", -1, h->err,
	    sizeof h->err);
	ck_assert_msg(h->l != NULL, "%s", h->err);
	ck_assert_uint_eq(file_mode(h->path) & 07777, 0660);
	harness_free(h);
}
END_TEST

START_TEST(test_missing_parent_directory_is_created_0700)
{
	struct harness	*h = harness_new();

	snprintf(h->path, sizeof h->path, "%s/sub/mcp.sock", h->dir);
	h->l = listen_unix_new(&h->relay, h->path, 0600, NULL, -1, h->err,
	    sizeof h->err);
	ck_assert_msg(h->l != NULL, "%s", h->err);
	snprintf(h->err, sizeof h->err, "%s/sub", h->dir);
	ck_assert(S_ISDIR(file_mode(h->err)));
	ck_assert_uint_eq(file_mode(h->err) & 07777, 0700);
	harness_free(h);
}
END_TEST

START_TEST(test_stale_socket_file_is_replaced)
{
	struct harness	*h = harness_new();
	struct client	*c;

	make_stale_socket(h->path);
	h->l = listen_unix_new(&h->relay, h->path, 0600, NULL, -1, h->err,
	    sizeof h->err);
	ck_assert_msg(h->l != NULL, "%s", h->err);
	c = client_new(h);
	client_send_str(h, c, "garbage\n");
	client_expect_error(h, c, -32700, NULL, "");
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_live_socket_is_refused_and_left_working)
{
	struct harness		*h = harness_listening();
	struct listen_unix	*second;
	struct client		*c;
	char			 err[256];

	second = listen_unix_new(&h->relay, h->path, 0600, NULL, -1, err,
	    sizeof err);
	ck_assert_ptr_null(second);
	ck_assert_msg(strstr(err, "another mcprelayd") != NULL, "%s", err);
	c = client_new(h);
	client_send_str(h, c, "garbage\n");
	client_expect_error(h, c, -32700, NULL, "");
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_file_that_is_not_a_socket_is_refused_and_kept)
{
	struct harness	*h = harness_new();
	FILE		*f;

	ck_assert_ptr_nonnull(f = fopen(h->path, "w"));
	fclose(f);
	h->l = listen_unix_new(&h->relay, h->path, 0600, NULL, -1, h->err,
	    sizeof h->err);
	ck_assert_ptr_null(h->l);
	ck_assert_msg(strstr(h->err, "not a socket") != NULL, "%s", h->err);
	ck_assert(S_ISREG(file_mode(h->path)));
	harness_free(h);
}
END_TEST

START_TEST(test_unknown_group_is_an_error_and_leaves_no_socket)
{
	struct harness	*h = harness_new();
	struct stat	 st;

	h->l = listen_unix_new(&h->relay, h->path, 0660,
	    "no-such-group-mcprelay", -1, h->err, sizeof h->err);
	ck_assert_ptr_null(h->l);
	ck_assert_msg(strstr(h->err, "unknown group 'no-such-group-mcprelay'")
	    != NULL, "%s", h->err);
	ck_assert_int_eq(lstat(h->path, &st), -1);
	harness_free(h);
}
END_TEST

START_TEST(test_path_too_long_is_an_error)
{
	struct harness	*h = harness_new();
	char		 path[200];

	memset(path, 'a', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	h->l = listen_unix_new(&h->relay, path, 0600, NULL, -1, h->err,
	    sizeof h->err);
	ck_assert_ptr_null(h->l);
	ck_assert_msg(strstr(h->err, "too long") != NULL, "%s", h->err);
	harness_free(h);
}
END_TEST

START_TEST(test_free_closes_connections_and_unlinks_socket)
{
	struct harness	*h = harness_listening();
	struct client	*c = client_new(h);
	struct stat	 st;

	client_send_str(h, c, "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n");
	PUMP_UNTIL(h, sessions_count(h->relay.sessions) == 1);
	listen_unix_free(h->l);
	h->l = NULL;
	ck_assert_uint_eq(sessions_count(h->relay.sessions), 0);
	ck_assert_int_eq(lstat(h->path, &st), -1);
	client_expect_eof(h, c);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_inherited_fd_is_used_and_not_unlinked)
{
	struct harness		*h = harness_new();
	struct sockaddr_un	 sun;
	struct client		*c;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, h->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	h->l = listen_unix_new(&h->relay, h->path, 0600, NULL, fd, h->err,
	    sizeof h->err);
	ck_assert_msg(h->l != NULL, "%s", h->err);
	c = client_new(h);
	client_send_str(h, c, "garbage\n");
	client_expect_error(h, c, -32700, NULL, "");
	client_free(c);
	listen_unix_free(h->l);
	h->l = NULL;
	ck_assert(S_ISSOCK(file_mode(h->path)));
	harness_free(h);
}
END_TEST

START_TEST(test_inherited_fd_that_is_not_listening_is_refused)
{
	struct harness	*h = harness_new();
	int		 fd = socket(AF_UNIX, SOCK_STREAM, 0);

	h->l = listen_unix_new(&h->relay, h->path, 0600, NULL, fd, h->err,
	    sizeof h->err);
	ck_assert_ptr_null(h->l);
	ck_assert_msg(strstr(h->err, "not a listening") != NULL, "%s",
	    h->err);
	/* The listener took the fd: it is closed. */
	ck_assert_int_eq(close(fd), -1);
	ck_assert_int_eq(errno, EBADF);
	harness_free(h);
}
END_TEST

START_TEST(test_connections_over_the_cap_are_refused)
{
	struct harness			*h = harness_listening();
	struct listen_unix_limits	 lim = {
		.max_conns = 2,
		.max_line = 1024,
		.pause_output = LISTEN_UNIX_PAUSE_OUTPUT,
		.max_output = LISTEN_UNIX_MAX_OUTPUT,
	};
	struct client			*a, *b, *over, *later;

	listen_unix_set_limits(h->l, &lim);
	a = client_new(h);
	b = client_new(h);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 2);
	over = client_new(h);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->refused == 1);
	/* Told why (-32007, docs/errors.md), then closed. */
	client_expect_error(h, over, -32007, NULL,
	    "too many connections: 2 are open (listen.max_connections)");
	client_expect_eof(h, over);
	client_send_str(h, b, "garbage\n");
	client_expect_error(h, b, -32700, NULL, "");

	/* A slot that frees up is usable again. */
	client_free(a);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 1);
	later = client_new(h);
	client_send_str(h, later, "garbage\n");
	client_expect_error(h, later, -32700, NULL, "");
	ck_assert_uint_eq(listen_unix_counters(h->l)->accepted, 3);
	client_free(b);
	client_free(over);
	client_free(later);
	harness_free(h);
}
END_TEST

/* n garbage lines: 2n bytes in, about 95n bytes of error replies out. */
static void
send_garbage_lines(struct harness *h, struct client *c, int n)
{
	char	*buf = xmalloc(2 * n);
	int	 i;

	for (i = 0; i < n; i++)
		memcpy(buf + 2 * i, "x\n", 2);
	client_send(h, c, buf, 2 * n);
	free(buf);
}

START_TEST(test_client_that_does_not_read_is_dropped)
{
	struct harness			*h = harness_listening();
	struct listen_unix_limits	 lim = {
		.max_conns = 8,
		.max_line = 1024,
		.pause_output = 64 * 1024,	/* no pause before the drop */
		.max_output = 64 * 1024,
	};
	struct client			*c;
	char				*line;

	listen_unix_set_limits(h->l, &lim);
	c = client_new(h);
	send_garbage_lines(h, c, 5000);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->dropped == 1);
	PUMP_UNTIL(h, listen_unix_counters(h->l)->open == 0);
	ck_assert_uint_eq(listen_unix_counters(h->l)->accepted, 1);
	/* Whatever reached the socket before the drop, then EOF. */
	while ((line = client_read_line(h, c)) != NULL)
		free(line);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_client_that_reads_late_gets_every_reply)
{
	struct harness			*h = harness_listening();
	struct listen_unix_limits	 lim = {
		.max_conns = 8,
		.max_line = 1024,
		.pause_output = 4 * 1024,
		.max_output = 64 * 1024,
	};
	struct client			*c;
	char				*line;
	int				 i;

	listen_unix_set_limits(h->l, &lim);
	c = client_new(h);
	send_garbage_lines(h, c, 5000);
	for (i = 0; i < 20; i++)
		pump(h);
	for (i = 0; i < 5000; i++) {
		line = client_read_line(h, c);
		ck_assert_msg(line != NULL, "EOF after %d replies", i);
		ck_assert_ptr_nonnull(strstr(line, "-32700"));
		free(line);
	}
	ck_assert_uint_eq(listen_unix_counters(h->l)->dropped, 0);
	ck_assert_uint_eq(listen_unix_counters(h->l)->open, 1);
	ck_assert_uint_eq(h->relay.counters.parse_errors, 5000);
	client_free(c);
	harness_free(h);
}
END_TEST

static Suite *
listen_unix_suite(void)
{
	Suite	*s = suite_create("listen_unix");
	TCase	*tc;

	tc = tcase_create("messages");
	tcase_add_test(tc, test_request_is_answered_by_the_session);
	tcase_add_test(tc, test_garbage_line_gets_parse_error_with_null_id);
	tcase_add_test(tc,
	    test_invalid_jsonrpc_gets_invalid_request_with_reason);
	tcase_add_test(tc, test_batch_gets_invalid_request);
	tcase_add_test(tc,
	    test_oversize_line_gets_error_and_connection_still_works);
	tcase_add_test(tc, test_line_of_exactly_max_line_is_read);
	tcase_add_test(tc, test_replies_queued_before_eof_are_still_sent);
	tcase_add_test(tc, test_request_in_flight_at_eof_is_still_answered);
	tcase_add_test(tc, test_cancelled_request_at_eof_ends_without_a_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("scope");
	tcase_add_test(tc,
	    test_scope_preamble_for_unknown_server_errors_and_closes);
	tcase_add_test(tc, test_scope_preamble_without_server_is_invalid_params);
	tcase_add_test(tc,
	    test_scope_preamble_after_first_line_is_not_a_preamble);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_test(tc, test_socket_file_mode_is_0600);
	tcase_add_test(tc, test_socket_file_gets_the_mode_asked_for);
	tcase_add_test(tc, test_missing_parent_directory_is_created_0700);
	tcase_add_test(tc, test_stale_socket_file_is_replaced);
	tcase_add_test(tc, test_live_socket_is_refused_and_left_working);
	tcase_add_test(tc, test_file_that_is_not_a_socket_is_refused_and_kept);
	tcase_add_test(tc, test_unknown_group_is_an_error_and_leaves_no_socket);
	tcase_add_test(tc, test_path_too_long_is_an_error);
	tcase_add_test(tc, test_free_closes_connections_and_unlinks_socket);
	tcase_add_test(tc, test_inherited_fd_is_used_and_not_unlinked);
	tcase_add_test(tc, test_inherited_fd_that_is_not_listening_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_connections_over_the_cap_are_refused);
	tcase_add_test(tc, test_client_that_does_not_read_is_dropped);
	tcase_add_test(tc, test_client_that_reads_late_gets_every_reply);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(listen_unix_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
