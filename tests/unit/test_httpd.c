/*
 * Unit tests for daemon/httpd.c over real loopback sockets: request
 * parsing (Content-Length, chunked, byte by byte, pipelined), replies
 * whole and streamed, keep-alive and close, 100-continue, every refusal
 * with its status, and the idle and read timeouts.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "http-token.h"
#include "httpd.h"
#include "log.h"
#include "xmalloc.h"

#define WAIT_MS		3000	/* for what should take a millisecond */
#define MAX_REQS	8

enum mode {
	MODE_ECHO,	/* reply at once: 200, the body back */
	MODE_HOLD,	/* keep the request for the test to answer */
	MODE_REFUSE,	/* accept says no */
};

struct seen {
	enum httpd_method	 method;
	char			 path[64];
	char			 query[64];
	char			 body[256];
	size_t			 bodylen;
	char			 xa[64];	/* the X-A header, "-" if none */
};

struct fx {
	struct event_base	*base;
	struct httpd		*h;
	enum mode		 mode;
	int			 port;
	int			 conn_arg;
	struct seen		 seen[MAX_REQS];
	int			 nseen;
	struct httpd_req	*held;
	int			 closed;
	enum httpd_close	 why;
};

static struct fx	*fx;

static void *
fx_accept_cb(struct httpd_conn *c, void *arg)
{
	if (fx->mode == MODE_REFUSE) {
		httpd_conn_refuse(c, 503, "Service Unavailable", -32007,
		    "too many", "max_connections", 1);
		return NULL;
	}
	return &fx->conn_arg;
}

static void
fx_request_cb(struct httpd_req *req, void *arg)
{
	struct seen	*s = &fx->seen[fx->nseen % MAX_REQS];
	const char	*body, *v;
	size_t		 len;

	ck_assert_ptr_eq(arg, &fx->conn_arg);
	fx->nseen++;
	s->method = httpd_req_method(req);
	snprintf(s->path, sizeof s->path, "%s", httpd_req_path(req));
	v = httpd_req_query(req);
	snprintf(s->query, sizeof s->query, "%s", v != NULL ? v : "-");
	v = httpd_req_header(req, "x-a");
	snprintf(s->xa, sizeof s->xa, "%s", v != NULL ? v : "-");
	body = httpd_req_body(req, &len);
	ck_assert_uint_lt(len, sizeof s->body);
	memcpy(s->body, body, len);
	s->body[len] = '\0';
	s->bodylen = len;
	if (fx->mode == MODE_HOLD) {
		fx->held = req;
		return;
	}
	httpd_add_header(req, "X-Test", "1");
	httpd_reply(req, 200, "OK", body, len);
}

static void
fx_close_cb(struct httpd_conn *c, void *arg, enum httpd_close why)
{
	fx->closed++;
	fx->why = why;
}

static void
fx_setup_with(double idle, double readto)
{
	static const struct httpd_callbacks cb = {
		.accept = fx_accept_cb,
		.request = fx_request_cb,
		.close = fx_close_cb,
	};
	struct httpd_limits	lim = { 256, 64, 0, 0 };
	char			err[256];

	fx = xcalloc(1, sizeof *fx);
	fx->base = event_base_new();
	fx->h = httpd_new(fx->base, "127.0.0.1", 0, -1, &cb, NULL, err,
	    sizeof err);
	ck_assert_msg(fx->h != NULL, "%s", err);
	lim.idle_timeout = idle;
	lim.read_timeout = readto;
	httpd_set_limits(fx->h, &lim);
	fx->port = httpd_port(fx->h);
	ck_assert_int_gt(fx->port, 0);
}

static void
fx_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("test_httpd", getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_ERROR);
	fx_setup_with(0, 0);
}

static void
fx_teardown(void)
{
	httpd_free(fx->h);
	event_base_free(fx->base);
	free(fx);
	fx = NULL;
}

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
client_connect(void)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void
client_send(int fd, const char *s, size_t len)
{
	ck_assert_int_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
spin(void)
{
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
}

/*
 * Runs the loop and reads what the server sends until out holds want
 * (NULL: until the server closes).  1 when the server closed.
 */
static int
client_read(int fd, char *out, size_t cap, const char *want)
{
	size_t	len = strlen(out);
	long	end = now_ms() + WAIT_MS;
	ssize_t	n;

	while (now_ms() < end) {
		spin();
		n = recv(fd, out + len, cap - 1 - len, 0);
		if (n == 0)
			return 1;
		if (n > 0) {
			len += (size_t)n;
			out[len] = '\0';
			if (want != NULL && strstr(out, want) != NULL)
				return 0;
		} else
			usleep(1000);
	}
	ck_abort_msg("timed out waiting for %s; have: %s",
	    want != NULL ? want : "the close", out);
	return -1;
}

/* One exchange on a new connection: the whole output until the close. */
static void
exchange_to_close(const char *req, char *out, size_t cap)
{
	int	fd = client_connect();

	out[0] = '\0';
	client_send(fd, req, strlen(req));
	ck_assert_int_eq(client_read(fd, out, cap, NULL), 1);
	close(fd);
}

static void
wait_for(int *what, int value)
{
	long	end = now_ms() + WAIT_MS;

	while (*what < value && now_ms() < end) {
		spin();
		usleep(1000);
	}
	ck_assert_int_ge(*what, value);
}

/* ---- requests ---------------------------------------------------------- */

START_TEST(test_post_with_content_length)
{
	char	out[2048] = "";
	int	fd = client_connect();
	const char *req = "POST /mcp?x=1&y=%41 HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 5\r\nx-A:  v 1 \t\r\n\r\nhello";

	client_send(fd, req, strlen(req));
	ck_assert_int_eq(client_read(fd, out, sizeof out, "hello"), 0);
	ck_assert_int_eq(fx->nseen, 1);
	ck_assert_int_eq(fx->seen[0].method, HTTPD_POST);
	ck_assert_str_eq(fx->seen[0].path, "/mcp");
	ck_assert_str_eq(fx->seen[0].query, "x=1&y=%41");
	ck_assert_str_eq(fx->seen[0].xa, "v 1");
	ck_assert_str_eq(fx->seen[0].body, "hello");
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\r\nX-Test: 1\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 5\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nDate: "));
	ck_assert_ptr_null(strstr(out, "Connection:"));
	ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nhello"));
	/* Kept alive: a second request on the same connection. */
	out[0] = '\0';
	client_send(fd, "GET /b HTTP/1.1\r\n\r\n", 19);
	ck_assert_int_eq(client_read(fd, out, sizeof out,
	    "Content-Length: 0\r\n"), 0);
	ck_assert_int_eq(fx->nseen, 2);
	ck_assert_int_eq(fx->seen[1].method, HTTPD_GET);
	ck_assert_str_eq(fx->seen[1].query, "-");
	ck_assert_str_eq(fx->seen[1].xa, "-");
	ck_assert_uint_eq(fx->seen[1].bodylen, 0);
	close(fd);
	wait_for(&fx->closed, 1);
	ck_assert_int_eq(fx->why, HTTPD_CLOSE_DONE);
}
END_TEST

/* Every byte alone, with the loop run between: the parser resumes. */
START_TEST(test_byte_by_byte)
{
	const char *reqs[] = {
	    "\r\nPOST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
	    "POST /b HTTP/1.1\nTransfer-Encoding: chunked\n\n"
	    "3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nT: x\r\n\r\n",
	};
	const char *bodies[] = { "abc", "abc0123456789" };
	char	out[2048];
	size_t	i, j;
	int	fd;

	for (i = 0; i < 2; i++) {
		fd = client_connect();
		for (j = 0; reqs[i][j] != '\0'; j++) {
			client_send(fd, reqs[i] + j, 1);
			spin();
			spin();
		}
		out[0] = '\0';
		ck_assert_int_eq(client_read(fd, out, sizeof out,
		    bodies[i]), 0);
		ck_assert_int_eq(fx->nseen, (int)i + 1);
		ck_assert_str_eq(fx->seen[i].body, bodies[i]);
		ck_assert_uint_eq(fx->seen[i].bodylen, strlen(bodies[i]));
		close(fd);
	}
}
END_TEST

/* Two requests in one write: answered one after the other, in order. */
START_TEST(test_pipelined_requests_wait_their_turn)
{
	const char *req = "POST /1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nonePOST "
	    "/2 HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo";
	char	out[2048] = "";
	int	fd;

	fx->mode = MODE_HOLD;
	fd = client_connect();
	client_send(fd, req, strlen(req));
	wait_for(&fx->nseen, 1);
	spin();
	ck_assert_int_eq(fx->nseen, 1);		/* the second waits */
	ck_assert_str_eq(fx->seen[0].body, "one");
	httpd_reply(fx->held, 201, "Created", "first", 5);
	wait_for(&fx->nseen, 2);
	ck_assert_str_eq(fx->seen[1].path, "/2");
	ck_assert_str_eq(fx->seen[1].body, "two");
	httpd_reply(fx->held, 200, "OK", "second", 6);
	ck_assert_int_eq(client_read(fd, out, sizeof out, "second"), 0);
	ck_assert_msg(strncmp(out, "HTTP/1.1 201 Created\r\n", 22) == 0,
	    "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "first"));
	ck_assert(strstr(out, "first") < strstr(out, "second"));
	close(fd);
}
END_TEST

START_TEST(test_expect_continue)
{
	const char *head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 4\r\n\r\n";
	char	out[2048] = "";
	int	fd = client_connect();

	client_send(fd, head, strlen(head));
	ck_assert_int_eq(client_read(fd, out, sizeof out,
	    "HTTP/1.1 100 Continue\r\n\r\n"), 0);
	ck_assert_int_eq(fx->nseen, 0);
	client_send(fd, "body", 4);
	ck_assert_int_eq(client_read(fd, out, sizeof out, "\r\n\r\nbody"), 0);
	ck_assert_int_eq(fx->nseen, 1);
	close(fd);
}
END_TEST

START_TEST(test_head_and_absolute_form)
{
	char	out[2048] = "";
	int	fd = client_connect();
	const char *req = "HEAD http://127.0.0.1:9/p?q HTTP/1.1\r\n"
	    "Content-Length: 2\r\n\r\nhi";

	client_send(fd, req, strlen(req));
	ck_assert_int_eq(client_read(fd, out, sizeof out,
	    "Content-Length: 2\r\n"), 0);
	ck_assert_str_eq(fx->seen[0].path, "/p");
	ck_assert_str_eq(fx->seen[0].query, "q");
	ck_assert_int_eq(fx->seen[0].method, HTTPD_HEAD);
	/* No body follows the head of a reply to HEAD. */
	client_send(fd, "GET / HTTP/1.1\r\n\r\n", 18);
	ck_assert_int_eq(client_read(fd, out, sizeof out,
	    "Content-Length: 0"), 0);
	ck_assert_ptr_null(strstr(out, "hi"));
	close(fd);
}
END_TEST

/* ---- closing ----------------------------------------------------------- */

START_TEST(test_http10_and_connection_close)
{
	char	out[2048];
	int	fd;

	exchange_to_close("GET /a HTTP/1.0\r\n\r\n", out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "\r\nConnection: close\r\n"));
	exchange_to_close("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", out,
	    sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "\r\nConnection: close\r\n"));
	ck_assert_int_eq(fx->nseen, 2);
	/* HTTP/1.0 asking for keep-alive is kept. */
	fd = client_connect();
	out[0] = '\0';
	client_send(fd, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	    43);
	ck_assert_int_eq(client_read(fd, out, sizeof out,
	    "Connection: keep-alive\r\n\r\n"), 0);
	client_send(fd, "GET /k HTTP/1.0\r\n\r\n", 19);
	ck_assert_int_eq(client_read(fd, out, sizeof out, NULL), 1);
	ck_assert_int_eq(fx->nseen, 4);
	close(fd);
}
END_TEST

START_TEST(test_streamed_reply)
{
	struct evbuffer	*buf = evbuffer_new();
	char		 out[2048] = "";
	int		 fd;

	fx->mode = MODE_HOLD;
	fd = client_connect();
	client_send(fd, "GET /s HTTP/1.1\r\n\r\n", 19);
	wait_for(&fx->nseen, 1);
	httpd_add_header(fx->held, "Content-Type", "text/event-stream");
	httpd_reply_start(fx->held, 200, "OK");
	evbuffer_add(buf, "abc", 3);
	httpd_reply_chunk(fx->held, buf);
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);
	evbuffer_add(buf, "0123456789abcdefX", 17);
	httpd_reply_chunk(fx->held, buf);
	httpd_reply_end(fx->held);
	ck_assert_int_eq(client_read(fd, out, sizeof out, "0\r\n\r\n"), 0);
	ck_assert_ptr_nonnull(strstr(out, "Transfer-Encoding: chunked\r\n"));
	ck_assert_ptr_null(strstr(out, "Content-Length"));
	ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n3\r\nabc\r\n11\r\n"
	    "0123456789abcdefX\r\n0\r\n\r\n"));
	close(fd);

	/* HTTP/1.0: the body is the bytes, and the close ends it. */
	fd = client_connect();
	out[0] = '\0';
	client_send(fd, "GET /s HTTP/1.0\r\n\r\n", 19);
	wait_for(&fx->nseen, 2);
	httpd_reply_start(fx->held, 200, "OK");
	evbuffer_add(buf, "abc", 3);
	httpd_reply_chunk(fx->held, buf);
	httpd_reply_end(fx->held);
	ck_assert_int_eq(client_read(fd, out, sizeof out, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n\r\nabc"));
	ck_assert_ptr_null(strstr(out, "chunked"));
	close(fd);
	evbuffer_free(buf);
}
END_TEST

START_TEST(test_client_gone_while_answered)
{
	int	fd;

	fx->mode = MODE_HOLD;
	fd = client_connect();
	client_send(fd, "GET /s HTTP/1.1\r\n\r\n", 19);
	wait_for(&fx->nseen, 1);
	close(fd);
	wait_for(&fx->closed, 1);
	ck_assert_int_eq(fx->why, HTTPD_CLOSE_DONE);
}
END_TEST

/* ---- refusals ---------------------------------------------------------- */

struct refusal {
	const char	*req;
	const char	*status;
	const char	*has;
};

static const struct refusal refusals[] = {
	{ "GARBAGE\r\n\r\n", "400 Bad Request", "malformed request line" },
	{ "GET /x HTTP/2.0\r\n\r\n", "505 ", "HTTP/1.1 and HTTP/1.0" },
	{ "GET /x HTTP/1.1 extra\r\n\r\n", "400 ", "malformed request line" },
	{ "GET x HTTP/1.1\r\n\r\n", "400 ", "not a path" },
	{ "GET /x HTTP/1.1\r\nHost : a\r\n\r\n", "400 ", "header name" },
	{ "GET /x HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "400 ", "folded" },
	{ "GET /x HTTP/1.1\r\nNoColon\r\n\r\n", "400 ", "malformed header" },
	{ "GET /x HTTP/1.1\r\nA: b\x01\r\n\r\n", "400 ", "control" },
	{ "GET /x HTTP/1.1\rA: b\r\n\r\n", "400 ", "stray CR" },
	{ "POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n", "400 ", "both" },
	{ "POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    "400 ", "bad Content-Length" },
	{ "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400 ",
	    "bad Content-Length" },
	{ "POST /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "400 ",
	    "bad Content-Length" },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501 ",
	    "chunked" },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "400 ", "bad chunk size" },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1\r\nab\r\n", "400 ", "no CRLF after a chunk" },
	{ "GET /x HTTP/1.1\r\nExpect: magic\r\n\r\n", "417 ", "100-continue" },
	/* The limits: max_header_size 256 and max_body_size 64 here. */
	{ "POST /x HTTP/1.1\r\nContent-Length: 65\r\n\r\n", "413 ",
	    "\"limit\":\"max_body_size\",\"value\":64" },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "40\r\n", "400 ", "no CRLF after a chunk" },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "41\r\n", "413 ", "max_body_size" },
	{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: "
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "\r\n", "431 ", "trailers over" },
	{ "GET /x HTTP/1.1\r\nA: "
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "\r\n\r\n", "431 ", "\"limit\":\"max_header_size\",\"value\":256" },
};

START_TEST(test_refusals)
{
	const struct refusal	*r = &refusals[_i];
	char			 out[4096], status[64];

	/* "40\r\n" is followed by its 64 bytes and no CRLF. */
	if (strstr(r->req, "\n40\r\n") != NULL) {
		char	req[512];

		snprintf(req, sizeof req, "%s%064dX\r\n", r->req, 0);
		exchange_to_close(req, out, sizeof out);
	} else
		exchange_to_close(r->req, out, sizeof out);
	snprintf(status, sizeof status, "HTTP/1.1 %s", r->status);
	ck_assert_msg(strncmp(out, status, strlen(status)) == 0,
	    "%s: got %s", r->req, out);
	ck_assert_msg(strstr(out, r->has) != NULL, "%s: got %s", r->req, out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "{\"jsonrpc\":\"2.0\""));
	ck_assert_int_eq(fx->nseen, 0);
	wait_for(&fx->closed, 1);
	ck_assert_int_eq(fx->why, HTTPD_CLOSE_REFUSED);
}
END_TEST

/* A chunk line over 1024 bytes is refused alike, its newline in or not. */
START_TEST(test_chunk_line_too_long)
{
	char	req[2048], out[4096];
	int	n, newline;

	for (newline = 0; newline < 2; newline++) {
		n = snprintf(req, sizeof req, "POST /x HTTP/1.1\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n1;%01100d%s", 0,
		    newline ? "\r\n" : "");
		ck_assert_int_lt(n, (int)sizeof req);
		exchange_to_close(req, out, sizeof out);
		ck_assert_msg(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s", out);
		ck_assert_ptr_nonnull(strstr(out, "chunk line too long"));
	}
	ck_assert_int_eq(fx->nseen, 0);
}
END_TEST

START_TEST(test_refused_at_accept)
{
	char	out[2048];

	fx->mode = MODE_REFUSE;
	exchange_to_close("GET / HTTP/1.1\r\n\r\n", out, sizeof out);
	ck_assert_msg(strncmp(out, "HTTP/1.1 503 Service Unavailable\r\n",
	    34) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Retry-After: 1\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\"code\":-32007"));
	ck_assert_ptr_nonnull(strstr(out, "\"limit\":\"max_connections\""));
	ck_assert_int_eq(fx->nseen, 0);
}
END_TEST

/* ---- timeouts ---------------------------------------------------------- */

START_TEST(test_read_timeout)
{
	char	out[2048] = "";
	int	fd;

	fx_teardown();
	fx_setup_with(0, 0.2);
	fd = client_connect();
	client_send(fd, "GET / HTTP/1.1\r\nHost:", 21);
	ck_assert_int_eq(client_read(fd, out, sizeof out, NULL), 1);
	ck_assert_msg(strncmp(out, "HTTP/1.1 408 Request Timeout\r\n", 30) ==
	    0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "request_read_timeout"));
	close(fd);
	wait_for(&fx->closed, 1);
	ck_assert_int_eq(fx->why, HTTPD_CLOSE_TIMEOUT);
}
END_TEST

START_TEST(test_idle_timeout)
{
	char	out[2048] = "";
	int	fd;

	fx_teardown();
	fx_setup_with(0.2, 0);
	fd = client_connect();
	/* A request answered first: the idle clock starts after it. */
	client_send(fd, "GET / HTTP/1.1\r\n\r\n", 18);
	ck_assert_int_eq(client_read(fd, out, sizeof out, NULL), 1);
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK"));
	ck_assert_int_eq(fx->nseen, 1);
	close(fd);
	wait_for(&fx->closed, 1);
	ck_assert_int_eq(fx->why, HTTPD_CLOSE_IDLE);
}
END_TEST

/* ---- queries ----------------------------------------------------------- */

START_TEST(test_query_param)
{
	char	v[16];

	ck_assert_int_eq(httpd_query_param("a=1&sessionId=ab%2Fc+d&x",
	    "sessionId", v, sizeof v), 0);
	ck_assert_str_eq(v, "ab/c d");
	ck_assert_int_eq(httpd_query_param("a=1", "a", v, sizeof v), 0);
	ck_assert_str_eq(v, "1");
	ck_assert_int_eq(httpd_query_param("ab=1&b=", "b", v, sizeof v), 0);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(httpd_query_param("x=%zz%4", "x", v, sizeof v), 0);
	ck_assert_str_eq(v, "%zz%4");
	ck_assert_int_eq(httpd_query_param("ab=1", "b", v, sizeof v), -1);
	ck_assert_int_eq(httpd_query_param("b", "b", v, sizeof v), -1);
	ck_assert_int_eq(httpd_query_param(NULL, "b", v, sizeof v), -1);
	ck_assert_int_eq(httpd_query_param("b=0123456789abcdef", "b", v,
	    sizeof v), -1);
}
END_TEST

/* ---- header bytes ---------------------------------------------------- */

static int
ctl_by_byte(const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return 1;
	return 0;
}

/* Eight bytes at a time must find exactly what one at a time finds. */
START_TEST(test_has_ctl_agrees_with_a_byte_loop)
{
	unsigned char	buf[40];
	unsigned	seed = 1;
	size_t		n, at, k;
	int		b, hits = 0;

	/* Every byte value at every place, in plain text and in bytes from
	 * 0x80 up (allowed, and where a borrow could go wrong). */
	for (n = 1; n <= 24; n++)
		for (at = 0; at < n; at++)
			for (b = 0; b < 256; b++) {
				memset(buf, at % 2 ? 'a' : 0xff, n);
				buf[at] = (unsigned char)b;
				ck_assert_msg(http_has_ctl((char *)buf, n) ==
				    ctl_by_byte(buf, n), "n %zu at %zu byte "
				    "0x%02x", n, at, b);
			}
	/* Random bytes, mostly printable, sometimes anything. */
	for (k = 0; k < 200000; k++) {
		n = (seed = seed * 1103515245 + 12345) % sizeof buf;
		for (at = 0; at < n; at++) {
			seed = seed * 1103515245 + 12345;
			buf[at] = (seed >> 16) % 50 == 0 ?
			    (unsigned char)(seed >> 8) :
			    (unsigned char)(0x20 + (seed >> 8) % 0x5f);
		}
		ck_assert_int_eq(http_has_ctl((char *)buf, n),
		    ctl_by_byte(buf, n));
		hits += ctl_by_byte(buf, n);
	}
	/* Both answers came up often. */
	ck_assert_int_gt(hits, 5000);
	ck_assert_int_lt(hits, 180000);
}
END_TEST

START_TEST(test_has_token)
{
	ck_assert_int_eq(http_has_token("close", "close"), 1);
	ck_assert_int_eq(http_has_token("Keep-Alive, Upgrade", "upgrade"), 1);
	ck_assert_int_eq(http_has_token("keep-alive;x=1, CLOSE", "close"), 1);
	ck_assert_int_eq(http_has_token(" , ,\tclose", "close"), 1);
	ck_assert_int_eq(http_has_token("gzip, chunked;q=1", "chunked"), 1);
	ck_assert_int_eq(http_has_token("closed", "close"), 0);
	ck_assert_int_eq(http_has_token("xclose", "close"), 0);
	ck_assert_int_eq(http_has_token("keep-alive;close", "close"), 0);
	ck_assert_int_eq(http_has_token("", "close"), 0);
}
END_TEST

static Suite *
httpd_suite(void)
{
	Suite	*s = suite_create("httpd");
	TCase	*tc;

	tc = tcase_create("requests");
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_add_test(tc, test_post_with_content_length);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_pipelined_requests_wait_their_turn);
	tcase_add_test(tc, test_expect_continue);
	tcase_add_test(tc, test_head_and_absolute_form);
	tcase_add_test(tc, test_http10_and_connection_close);
	tcase_add_test(tc, test_streamed_reply);
	tcase_add_test(tc, test_client_gone_while_answered);
	tcase_add_loop_test(tc, test_refusals, 0,
	    sizeof refusals / sizeof refusals[0]);
	tcase_add_test(tc, test_chunk_line_too_long);
	tcase_add_test(tc, test_refused_at_accept);
	tcase_add_test(tc, test_read_timeout);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_query_param);
	suite_add_tcase(s, tc);

	tc = tcase_create("header bytes");
	tcase_add_test(tc, test_has_ctl_agrees_with_a_byte_loop);
	tcase_add_test(tc, test_has_token);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(httpd_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
