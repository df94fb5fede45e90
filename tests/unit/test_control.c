/*
 * Unit tests for daemon/control.c over a real socket in a temporary
 * directory: the access rule, the methods and their errors, garbage
 * closing the connection, read-only peers refused mutations (a real second
 * uid when run as root), event notifications, and a subscriber that does
 * not read being dropped instead of growing the daemon.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "child.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "handler.h"
#include "log.h"
#include "notify.h"
#include "access.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "xmalloc.h"

#define WAIT_SECONDS	5	/* for anything that should take ~1ms */
/* nobody/nogroup, for the second uid when the tests run as root. */
#define OTHER_UID	65534

/* A server whose command does not exist: it fails at once, no retry. */
static const char *const test_config =
    "log: {level: error}\n"
    "listen: {http: off}\n"
    "defaults:\n"
    "  retry: {max_retries: 0}\n"
    "  circuit_breaker: {open_duration: 60s, max_open_duration: 60s}\n"
    "servers:\n"
    "  broken: {type: stdio, command: /nonexistent/mcprelay-test}\n";

struct harness {
	struct relay		 relay;
	char			 dir[64];
	char			 path[128];
	char			 cfgpath[128];
	struct control		*ctl;
	char			 err[256];
};

struct client {
	int	 fd;
	char	 buf[1 << 16];
	size_t	 len;
	int	 eof;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * The daemon context the control socket needs: loop, config from a file
 * (for reload), child reaper, sessions, router with the broken server,
 * event bus.
 */
static struct harness *
harness_new(void)
{
	struct harness	*h = xcalloc(1, sizeof *h);

	log_init("test_control",
	    getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	strcpy(h->dir, "/tmp/test_control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->path, sizeof h->path, "%s/control.sock", h->dir);
	snprintf(h->cfgpath, sizeof h->cfgpath, "%s/mcprelay.yaml", h->dir);
	write_file(h->cfgpath, test_config);
	h->relay.base = event_base_new();
	ck_assert_ptr_nonnull(h->relay.base);
	h->relay.config_path = xstrdup(h->cfgpath);
	h->relay.cfg = config_load_file(h->cfgpath, NULL);
	ck_assert_ptr_nonnull(h->relay.cfg);
	h->relay.started = time(NULL);
	h->relay.notify = notify_new(&h->relay);
	h->relay.events = events_new(&h->relay);
	h->relay.reaper = child_reaper_new(h->relay.base);
	h->relay.sessions = sessions_new(&h->relay);
	h->relay.router = router_new(&h->relay);
	h->relay.access = access_new();
	access_apply_config(h->relay.access, h->relay.cfg);
	return h;
}

static struct harness *
harness_listening(mode_t mode, const char *group)
{
	struct harness	*h = harness_new();

	h->ctl = control_new(&h->relay, h->path, mode, group, -1, h->err,
	    sizeof h->err);
	ck_assert_msg(h->ctl != NULL, "control_new: %s", h->err);
	h->relay.control = h->ctl;
	return h;
}

/* One round of the daemon's loop: whatever is ready, or a 5ms wait. */
static void
pump(struct harness *h)
{
	struct timeval	tv = { 0, 5000 };

	event_base_loopexit(h->relay.base, &tv);
	event_base_loop(h->relay.base, EVLOOP_ONCE);
}

#define PUMP_UNTIL(h, cond) do {					\
	double	deadline_ = now() + WAIT_SECONDS;			\
	while (!(cond) && now() < deadline_)				\
		pump(h);						\
	ck_assert_msg((cond), "timed out waiting for: %s", #cond);	\
} while (0)

static void
harness_free(struct harness *h)
{
	control_free(h->ctl);
	sessions_free(h->relay.sessions);
	router_free(h->relay.router);
	events_free(h->relay.events);
	child_reaper_free(h->relay.reaper);
	notify_free(h->relay.notify);
	access_free(h->relay.access);
	config_free(h->relay.cfg);
	event_base_free(h->relay.base);
	free(h->relay.config_path);
	unlink(h->cfgpath);
	unlink(h->path);
	ck_assert_int_eq(rmdir(h->dir), 0);
	free(h);
}

static int
connect_fd(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
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
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	return c;
}

static void
client_free(struct client *c)
{
	close(c->fd);
	free(c);
}

static void
client_send(struct client *c, const char *text)
{
	size_t	len = strlen(text);

	ck_assert_int_eq(write(c->fd, text, len), (ssize_t)len);
}

/* Whatever the socket has now, without waiting. */
static void
client_poll(struct client *c)
{
	ssize_t	n;

	while (!c->eof && c->len < sizeof c->buf) {
		n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
		if (n > 0)
			c->len += (size_t)n;
		else if (n == 0)
			c->eof = 1;
		else
			break;
	}
}

static int
client_has_line(struct client *c)
{
	client_poll(c);
	return memchr(c->buf, '\n', c->len) != NULL;
}

/* The next message, parsed; the loop runs while waiting. */
static struct json_object *
client_next(struct harness *h, struct client *c)
{
	struct json_object	*o;
	char			*nl;
	size_t			 n;

	PUMP_UNTIL(h, client_has_line(c));
	nl = memchr(c->buf, '\n', c->len);
	n = (size_t)(nl - c->buf);
	*nl = '\0';
	o = json_tokener_parse(c->buf);
	ck_assert_msg(o != NULL, "not JSON: %s", c->buf);
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return o;
}

static int
client_closed(struct client *c)
{
	client_poll(c);
	return c->eof && c->len == 0;
}

/* Send a request and return its reply (not an event). */
static struct json_object *
call(struct harness *h, struct client *c, const char *method,
    const char *params)
{
	char	text[1024];

	snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":7,"
	    "\"method\":\"%s\"%s%s}\n", method, params ? ",\"params\":" : "",
	    params ? params : "");
	client_send(c, text);
	return client_next(h, c);
}

static struct json_object *
get(struct json_object *o, const char *path)
{
	char	 key[64];
	size_t	 n;

	while (o != NULL && *path != '\0') {
		n = strcspn(path, ".");
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static int
error_code(struct json_object *reply)
{
	struct json_object	*v = get(reply, "error.code");

	ck_assert_msg(v != NULL, "no error in %s",
	    json_object_to_json_string(reply));
	return json_object_get_int(v);
}

static const char *
str(struct json_object *reply, const char *path)
{
	struct json_object	*v = get(reply, path);

	ck_assert_msg(v != NULL, "no %s in %s", path,
	    json_object_to_json_string(reply));
	return json_object_get_string(v);
}

/* ---- the access rule --------------------------------------------------- */

START_TEST(test_root_and_the_daemon_user_may_change_group_members_read)
{
	ck_assert_int_eq(control_access_for(0, 0, 1000), CONTROL_ACCESS_ADMIN);
	ck_assert_int_eq(control_access_for(1000, 0, 1000),
	    CONTROL_ACCESS_ADMIN);
	ck_assert_int_eq(control_access_for(1001, 1, 1000),
	    CONTROL_ACCESS_READ);
	ck_assert_int_eq(control_access_for(1001, 0, 1000),
	    CONTROL_ACCESS_NONE);
	ck_assert_int_eq(control_access_for((uid_t)-1, 1, 1000),
	    CONTROL_ACCESS_NONE);
}
END_TEST

/* ---- the socket and the methods --------------------------------------- */

START_TEST(test_socket_is_created_0600_and_removed_on_free)
{
	struct harness	*h = harness_listening(0600, NULL);
	struct stat	 st;

	ck_assert_int_eq(lstat(h->path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	control_free(h->ctl);
	h->ctl = NULL;
	ck_assert_int_eq(lstat(h->path, &st), -1);
	harness_free(h);
}
END_TEST

START_TEST(test_a_missing_parent_is_created_0710_for_the_group)
{
	struct harness	*h = harness_new();
	struct group	*gr = getgrgid(getgid());
	struct stat	 st;
	char		 sub[160], path[200];

	ck_assert_ptr_nonnull(gr);
	snprintf(sub, sizeof sub, "%s/run", h->dir);
	snprintf(path, sizeof path, "%s/control.sock", sub);
	h->ctl = control_new(&h->relay, path, 0660, gr->gr_name, -1, h->err,
	    sizeof h->err);
	ck_assert_msg(h->ctl != NULL, "control_new: %s", h->err);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0710);
	ck_assert_uint_eq(st.st_gid, gr->gr_gid);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_uint_eq(st.st_gid, gr->gr_gid);
	control_free(h->ctl);
	h->ctl = NULL;
	ck_assert_int_eq(rmdir(sub), 0);
	harness_free(h);
}
END_TEST

START_TEST(test_status_answers_version_protocol_and_access)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r;

	r = call(h, c, "status", NULL);
	ck_assert_str_eq(str(r, "result.version"), PACKAGE_VERSION);
	ck_assert_str_eq(str(r, "result.protocol"), "1");
	ck_assert_str_eq(str(r, "result.access"), "admin");
	ck_assert_str_eq(str(r, "result.servers.total"), "0");
	ck_assert_str_eq(str(r, "id"), "7");
	json_object_put(r);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_unknown_method_and_bad_params_keep_the_connection)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r;

	r = call(h, c, "no.such", NULL);
	ck_assert_int_eq(error_code(r), -32601);
	json_object_put(r);
	r = call(h, c, "stats", "{\"server\":42}");
	ck_assert_int_eq(error_code(r), -32602);
	json_object_put(r);
	r = call(h, c, "server.disable", "{}");
	ck_assert_int_eq(error_code(r), -32602);
	json_object_put(r);
	r = call(h, c, "stats", "{\"server\":\"nosuch\"}");
	ck_assert_int_eq(error_code(r), CONTROL_ERR_UNKNOWN_SERVER);
	ck_assert_msg(strstr(str(r, "error.message"), "'nosuch'") != NULL,
	    "%s", str(r, "error.message"));
	json_object_put(r);
	/* Still open: a notification is ignored, the next call answered. */
	client_send(c, "{\"jsonrpc\":\"2.0\",\"method\":\"whatever\"}\n");
	r = call(h, c, "servers", NULL);
	ck_assert(json_object_is_type(get(r, "result"), json_type_array));
	json_object_put(r);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_garbage_gets_an_error_and_the_connection_closes)
{
	static const char *const garbage[] = {
		"this is not json\n",
		"{\"id\":1,\"method\":\"status\"}\n",
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}]\n",
	};
	static const int codes[] = { -32700, -32600, -32600 };
	struct harness		*h = harness_listening(0600, NULL);
	struct json_object	*r;
	struct client		*c;
	size_t			 i;

	for (i = 0; i < 3; i++) {
		c = client_new(h);
		client_send(c, garbage[i]);
		r = client_next(h, c);
		ck_assert_int_eq(error_code(r), codes[i]);
		json_object_put(r);
		PUMP_UNTIL(h, client_closed(c));
		client_free(c);
	}
	PUMP_UNTIL(h, control_counters(h->ctl)->open == 0);
	harness_free(h);
}
END_TEST

START_TEST(test_an_overlong_line_is_refused_and_closed)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c;
	struct json_object	*r;
	char			 big[2048];

	control_set_limits(h->ctl, 1024, CONTROL_MAX_OUTPUT);
	c = client_new(h);
	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	client_send(c, big);
	r = client_next(h, c);
	ck_assert_int_eq(error_code(r), -32600);
	json_object_put(r);
	PUMP_UNTIL(h, client_closed(c));
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_disable_and_enable_a_server)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c;
	struct json_object	*r;
	struct handler		*srv;

	router_apply_config(h->relay.router, h->relay.cfg);
	srv = router_find(h->relay.router, "broken");
	ck_assert_ptr_nonnull(srv);
	PUMP_UNTIL(h, handler_state(srv) == HANDLER_FAILED);
	c = client_new(h);
	r = call(h, c, "server.disable", "{\"server\":\"broken\"}");
	ck_assert_str_eq(str(r, "result.state"), "stopped");
	ck_assert_str_eq(str(r, "result.disabled"), "true");
	json_object_put(r);
	ck_assert(handler_disabled(srv));
	/* Reconnecting a disabled server is refused; it stays stopped. */
	r = call(h, c, "server.reconnect", "{\"server\":\"broken\"}");
	ck_assert_int_eq(error_code(r), CONTROL_ERR_BUSY);
	json_object_put(r);
	ck_assert_int_eq(handler_state(srv), HANDLER_STOPPED);
	/* A reload that keeps the server keeps it disabled. */
	r = call(h, c, "reload", NULL);
	ck_assert_str_eq(str(r, "result.reloaded"), "true");
	json_object_put(r);
	srv = router_find(h->relay.router, "broken");
	ck_assert_int_eq(handler_state(srv), HANDLER_STOPPED);
	ck_assert(handler_disabled(srv));
	r = call(h, c, "servers", NULL);
	ck_assert_str_eq(str(json_object_array_get_idx(get(r, "result"), 0),
	    "disabled"), "true");
	json_object_put(r);
	r = call(h, c, "server.enable", "{\"server\":\"broken\"}");
	ck_assert_str_eq(str(r, "result.disabled"), "false");
	json_object_put(r);
	ck_assert(!handler_disabled(srv));
	PUMP_UNTIL(h, handler_state(srv) == HANDLER_FAILED);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_an_invalid_reload_keeps_the_config_and_says_why)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r, *errs;
	const struct config	*before = h->relay.cfg;

	write_file(h->cfgpath, "servers:\n  x: {type: stdio}\n");
	r = call(h, c, "reload", NULL);
	ck_assert_int_eq(error_code(r), CONTROL_ERR_RELOAD);
	errs = get(r, "error.data.errors");
	ck_assert_ptr_nonnull(errs);
	ck_assert_uint_ge(json_object_array_length(errs), 1);
	ck_assert_msg(strstr(json_object_get_string(json_object_array_get_idx(
	    errs, 0)), "command") != NULL, "%s",
	    json_object_to_json_string(errs));
	json_object_put(r);
	ck_assert_ptr_eq(h->relay.cfg, before);
	ck_assert_uint_eq(h->relay.counters.reload_failures, 1);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_no_change_is_accepted_while_stopping)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r;

	router_apply_config(h->relay.router, h->relay.cfg);
	h->relay.stopping = 1;
	r = call(h, c, "reload", NULL);
	ck_assert_int_eq(error_code(r), CONTROL_ERR_BUSY);
	ck_assert_str_eq(str(r, "error.message"), "mcprelayd is stopping");
	json_object_put(r);
	r = call(h, c, "server.enable", "{\"server\":\"broken\"}");
	ck_assert_int_eq(error_code(r), CONTROL_ERR_BUSY);
	json_object_put(r);
	ck_assert_uint_eq(h->relay.counters.reloads, 0);
	/* Reading still works. */
	r = call(h, c, "status", NULL);
	ck_assert_str_eq(str(r, "result.stopping"), "true");
	json_object_put(r);
	client_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_stats_and_config_show_and_metrics)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r;

	router_apply_config(h->relay.router, h->relay.cfg);
	r = call(h, c, "stats", "{\"server\":\"broken\"}");
	ck_assert_str_eq(str(r, "result.name"), "broken");
	ck_assert_str_eq(str(r, "result.retryPolicy.max_retries"), "0");
	ck_assert_ptr_nonnull(get(r, "result.latency.buckets"));
	json_object_put(r);
	r = call(h, c, "config.show", NULL);
	ck_assert_str_eq(str(r, "result.servers.broken.command"),
	    "/nonexistent/mcprelay-test");
	json_object_put(r);
	r = call(h, c, "metrics", NULL);
	ck_assert_str_eq(str(r, "result.contentType"),
	    "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_msg(strstr(str(r, "result.text"),
	    "mcprelay_server_ready{server=\"broken\"} 0\n") != NULL, "%s",
	    str(r, "result.text"));
	json_object_put(r);
	client_free(c);
	harness_free(h);
}
END_TEST

/* ---- events ------------------------------------------------------------- */

START_TEST(test_a_subscriber_gets_events_as_notifications)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r;

	r = call(h, c, "events.subscribe", NULL);
	ck_assert_str_eq(str(r, "result.subscribed"), "true");
	json_object_put(r);
	ck_assert_uint_eq(events_subscribers(h->relay.events), 1);
	events_state(h->relay.events, "demo", "ready", "connecting", "lost");
	r = client_next(h, c);
	ck_assert_str_eq(str(r, "method"), "event");
	ck_assert_str_eq(str(r, "params.type"), "state");
	ck_assert_str_eq(str(r, "params.to"), "connecting");
	ck_assert_ptr_null(get(r, "id"));
	json_object_put(r);
	/* Requests still work on a subscribed connection. */
	r = call(h, c, "status", NULL);
	ck_assert_ptr_nonnull(get(r, "result.version"));
	json_object_put(r);
	client_free(c);
	PUMP_UNTIL(h, events_subscribers(h->relay.events) == 0);
	harness_free(h);
}
END_TEST

START_TEST(test_a_subscriber_that_does_not_read_is_dropped)
{
	struct harness		*h = harness_listening(0600, NULL);
	struct client		*c = client_new(h);
	struct json_object	*r;
	char			 reason[512];
	double			 t0;
	int			 i, sz = 4096;

	control_set_limits(h->ctl, CONTROL_MAX_LINE, 64 * 1024);
	ck_assert_int_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz,
	    sizeof sz), 0);
	r = call(h, c, "events.subscribe", NULL);
	json_object_put(r);
	memset(reason, 'r', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	/* Emitting never blocks, however much the client leaves unread. */
	t0 = now();
	for (i = 0; i < 2000 && control_counters(h->ctl)->dropped == 0; i++) {
		events_state(h->relay.events, "demo", "ready", "backoff",
		    reason);
		pump(h);
	}
	ck_assert_uint_eq(control_counters(h->ctl)->dropped, 1);
	ck_assert_msg(now() - t0 < WAIT_SECONDS, "emitting took %.1fs",
	    now() - t0);
	PUMP_UNTIL(h, events_subscribers(h->relay.events) == 0);
	PUMP_UNTIL(h, control_counters(h->ctl)->open == 0);
	client_free(c);
	harness_free(h);
}
END_TEST

/* ---- peer credentials -------------------------------------------------- */

/*
 * The group a read-only peer is in: nogroup, for the second uid when we
 * are root; else our own group (and the daemon pretends to be another
 * user).
 */
static gid_t
reader_gid(void)
{
	return geteuid() == 0 ? (gid_t)OTHER_UID : getgid();
}

/*
 * The child's verdict goes through a pipe: the daemon's child reaper may
 * well reap the child before waitpid() here could.
 */
static int	child_report_fd = -1;

static void
child_report(int code)
{
	unsigned char	c = (unsigned char)code;

	(void)write(child_report_fd, &c, 1);
	_exit(code);
}

static void
child_become_peer(gid_t gid)
{
	if (geteuid() != 0)
		return;
	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
	    setuid(OTHER_UID) == -1)
		child_report(90);
}

/* Blocking: read one line from fd into buf. */
static int
child_read_line(int fd, char *buf, size_t len)
{
	size_t	n = 0;
	ssize_t	r;

	while (n + 1 < len) {
		if ((r = read(fd, buf + n, 1)) <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return 0;
}

/*
 * In a child (as the second uid when we are root): connect, run the
 * requests, compare each reply with the substring expected; report 0 when
 * all match, else the number of the first that did not (100: connect).
 * An extra want after the NULL means "then the daemon closes".
 */
static void
child_client(const char *path, gid_t gid, const char *const *reqs,
    const char *const *want)
{
	char	line[8192];
	int	fd, i;

	child_become_peer(gid);
	if ((fd = connect_fd(path)) == -1)
		child_report(100);
	for (i = 0; reqs[i] != NULL; i++) {
		if (*reqs[i] != '\0' &&
		    write(fd, reqs[i], strlen(reqs[i])) == -1)
			child_report(101);
		if (child_read_line(fd, line, sizeof line) == -1 ||
		    strstr(line, want[i]) == NULL) {
			fprintf(stderr, "reply %d: %s (want %s)\n", i, line,
			    want[i]);
			child_report(i + 1);
		}
	}
	if (want[i + 1] != NULL &&
	    child_read_line(fd, line, sizeof line) != -1)
		child_report(102);
	child_report(0);
}

/* Fork the client; run the loop until it reports. */
static int
run_child(struct harness *h, gid_t gid, const char *const *reqs,
    const char *const *want)
{
	double		deadline = now() + WAIT_SECONDS;
	int		p[2], status;
	unsigned char	c;
	pid_t		pid;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		child_report_fd = p[1];
		child_client(h->path, gid, reqs, want);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	while (now() < deadline) {
		if (read(p[0], &c, 1) == 1) {
			close(p[0]);
			waitpid(pid, &status, WNOHANG);
			return c;
		}
		pump(h);
	}
	kill(pid, SIGKILL);
	close(p[0]);
	return 201;
}

/* The directory must let the second uid through to the socket. */
static void
harness_open_dir(struct harness *h)
{
	ck_assert_int_eq(chmod(h->dir, 0711), 0);
}

START_TEST(test_a_group_member_may_read_but_not_reload_or_disable)
{
	static const char *const reqs[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"reload\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"server.disable\","
		    "\"params\":{\"server\":\"broken\"}}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"stats\"}\n",
		NULL
	};
	static const char *const want[] = {
		"\"access\":\"read\"",
		"\"code\":-32090",
		"\"code\":-32090",
		"\"result\":{",
		NULL, NULL
	};
	struct harness	*h;
	struct group	*gr;

	gr = getgrgid(reader_gid());
	ck_assert_msg(gr != NULL, "no group %ld", (long)reader_gid());
	h = harness_listening(0660, gr->gr_name);
	harness_open_dir(h);
	if (geteuid() != 0)
		control_set_daemon_uid(h->ctl, getuid() + 1);
	router_apply_config(h->relay.router, h->relay.cfg);
	ck_assert_int_eq(run_child(h, reader_gid(), reqs, want), 0);
	ck_assert_uint_eq(control_counters(h->ctl)->denied, 2);
	ck_assert_uint_eq(h->relay.counters.reloads, 0);
	ck_assert(!handler_disabled(router_find(h->relay.router, "broken")));
	harness_free(h);
}
END_TEST

START_TEST(test_a_peer_outside_the_group_is_refused_at_connect)
{
	static const char *const reqs[] = { "", NULL };
	static const char *const want[] = {
		"\"code\":-32090", NULL, "closed"
	};
	struct harness	*h;
	struct group	*gr;

	gr = getgrgid(reader_gid());
	ck_assert_ptr_nonnull(gr);
	/* Any local user may connect (0666): access is the daemon's call. */
	h = harness_listening(0666, NULL);
	harness_open_dir(h);
	if (geteuid() != 0)
		control_set_daemon_uid(h->ctl, getuid() + 1);
	ck_assert_int_eq(run_child(h, reader_gid(), reqs, want), 0);
	ck_assert_uint_eq(control_counters(h->ctl)->refused, 1);
	ck_assert_uint_eq(control_counters(h->ctl)->accepted, 0);
	harness_free(h);
}
END_TEST

static Suite *
control_suite(void)
{
	Suite	*s = suite_create("control");
	TCase	*tc;

	tc = tcase_create("access");
	tcase_add_test(tc,
	    test_root_and_the_daemon_user_may_change_group_members_read);
	tcase_add_test(tc,
	    test_a_group_member_may_read_but_not_reload_or_disable);
	tcase_add_test(tc, test_a_peer_outside_the_group_is_refused_at_connect);
	suite_add_tcase(s, tc);

	tc = tcase_create("methods");
	tcase_add_test(tc, test_socket_is_created_0600_and_removed_on_free);
	tcase_add_test(tc, test_a_missing_parent_is_created_0710_for_the_group);
	tcase_add_test(tc, test_status_answers_version_protocol_and_access);
	tcase_add_test(tc,
	    test_unknown_method_and_bad_params_keep_the_connection);
	tcase_add_test(tc, test_garbage_gets_an_error_and_the_connection_closes);
	tcase_add_test(tc, test_an_overlong_line_is_refused_and_closed);
	tcase_add_test(tc, test_disable_and_enable_a_server);
	tcase_add_test(tc, test_an_invalid_reload_keeps_the_config_and_says_why);
	tcase_add_test(tc, test_stats_and_config_show_and_metrics);
	tcase_add_test(tc, test_no_change_is_accepted_while_stopping);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_test(tc, test_a_subscriber_gets_events_as_notifications);
	tcase_add_test(tc, test_a_subscriber_that_does_not_read_is_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(control_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
