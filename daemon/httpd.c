/*
 * The MCP endpoint's HTTP/1.1 server.  evhttp turned a connection's read
 * event off and on around every request (three epoll_ctl() a call) and
 * formatted each header with printf; here the read event stays on, a
 * reply is one sendmsg(), and a connection's two buffers take turns so a
 * request is handed over without a copy or an allocation.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <json-c/json.h>

#include "errors.h"
#include "http-token.h"
#include "httpd.h"
#include "sock.h"
#include "jsonrpc.h"
#include "log.h"
#include "xmalloc.h"

#define HTTPD_IN_MIN		4096	/* first size of a read buffer */
#define HTTPD_KEEP_MAX		(64 * 1024)	/* larger is freed after use */
#define HTTPD_MAX_HEADERS	64
#define HTTPD_OUT_HEADERS	768	/* headers a reply may add */
#define HTTPD_HEAD_MAX		(HTTPD_OUT_HEADERS + 256)
#define HTTPD_CHUNK_LINE_MAX	1024	/* a chunk-size line, extensions too */
#define HTTPD_LINGER_SECONDS	2	/* reading after our last reply */
#define HTTPD_CLOSING_SECONDS	10	/* for the last reply to go out */
#define HTTPD_STALL_SECONDS	300	/* a reply unread, with no idle_timeout */
#define HTTPD_OUT_MAX		(16 * 1024 * 1024)	/* unread reply bytes */
#define HTTPD_MAX_IOV		16
#define HTTPD_NONE		UINT32_MAX

enum httpd_conn_state {
	HTTPD_READING,		/* between requests, or one arriving */
	HTTPD_ANSWERING,	/* a whole request is with the application */
	HTTPD_CLOSING,		/* the last reply is going out */
	HTTPD_LINGERING,	/* sent and shut down: draining the peer */
};

enum httpd_chunk_state {
	HTTPD_CHUNK_SIZE,	/* a chunk-size line */
	HTTPD_CHUNK_DATA,
	HTTPD_CHUNK_DATA_END,	/* the CRLF after a chunk's data */
	HTTPD_CHUNK_TRAILER,	/* trailer lines up to a blank one */
	HTTPD_CHUNK_DONE,
};

struct httpd_buf {
	char		*data;
	size_t		 len;
	size_t		 cap;
};

/* Offsets into the request's buffer: it may move while the body comes. */
struct httpd_header {
	uint32_t	 name;
	uint32_t	 value;
	uint32_t	 namelen;	/* rules out most names at once */
};

struct httpd_req {
	struct httpd_conn	*conn;
	char			*base;		/* the buffer, once whole */
	enum httpd_method	 method;
	uint32_t		 path;
	uint32_t		 query;		/* HTTPD_NONE: no '?' */
	struct httpd_header	 headers[HTTPD_MAX_HEADERS];
	size_t			 nheaders;
	size_t			 body;		/* offset of the body */
	size_t			 bodylen;
	int			 http10;
	int			 keepalive;
	int			 expect_continue;
	int			 streaming;	/* a reply has started */
	int			 chunked_out;
	size_t			 outlen;
	char			 out[HTTPD_OUT_HEADERS];
};

struct httpd_conn {
	struct httpd		*h;
	int			 fd;
	enum httpd_conn_state	 state;
	enum httpd_close	 why;		/* for a close that is coming */
	struct event		*rev;		/* persistent, for life */
	struct event		*wev;		/* while output waits */
	struct event		*timer;		/* idle, read deadline, linger */
	void			*arg;		/* the owner's; NULL: refused */
	int			 paused;	/* rev off: too much pipelined */
	int			 eof;
	int			 in_loop;	/* httpd_conn_process runs */
	int			 deadline;	/* the read deadline is armed */
	int			 stalled;	/* a reply waits for the client */

	struct httpd_buf	 in;		/* bytes read, a request's first */
	struct httpd_buf	 spare;
	struct httpd_buf	 reqbuf;	/* the request being answered */
	struct evbuffer		*out;		/* what the socket did not take */

	/* Parsing of the request at the front of in. */
	size_t			 scanned;	/* head searched up to here */
	size_t			 headlen;	/* 0: head not whole yet */
	uint64_t		 clen;
	int			 chunked;
	enum httpd_chunk_state	 chunk_state;
	size_t			 chunk_in;	/* next encoded byte */
	size_t			 chunk_out;	/* end of decoded body */
	uint64_t		 chunk_left;
	size_t			 trailers;	/* bytes of trailer lines */
	int			 continued;	/* 100 Continue sent */

	struct httpd_req	 req;
	TAILQ_ENTRY(httpd_conn)	 entry;
};

struct httpd {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct event		*resume;	/* after EMFILE */
	struct httpd_callbacks	 cb;
	void			*arg;
	struct httpd_limits	 limits;
	int			 port;
	TAILQ_HEAD(, httpd_conn) conns;
	time_t			 date_at;
	char			 date[40];
};

static void	httpd_conn_process(struct httpd_conn *);
static void	httpd_conn_later(struct httpd_conn *, enum httpd_close);

/* ---- buffers and timers ------------------------------------------------ */

static void
httpd_buf_reserve(struct httpd_buf *b, size_t more)
{
	size_t	cap;

	if (b->cap - b->len >= more)
		return;
	cap = b->cap != 0 ? b->cap : HTTPD_IN_MIN;
	while (cap - b->len < more)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

static void
httpd_buf_free(struct httpd_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

static void
httpd_timer_set(struct httpd_conn *c, double secs)
{
	struct timeval	tv;

	if (secs <= 0) {
		evtimer_del(c->timer);
		return;
	}
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	evtimer_add(c->timer, &tv);
}

/* Between requests: the idle clock, or the deadline of one begun. */
static void
httpd_conn_wait(struct httpd_conn *c)
{
	if (c->in.len == 0) {
		c->deadline = 0;
		httpd_timer_set(c, c->h->limits.idle_timeout);
	} else if (!c->deadline) {
		c->deadline = 1;
		httpd_timer_set(c, c->h->limits.read_timeout);
	}
}

/* ---- writing ----------------------------------------------------------- */

/* 0, or -1 when the socket failed. */
static int
httpd_conn_flush(struct httpd_conn *c)
{
	struct evbuffer_iovec	 vec[HTTPD_MAX_IOV];
	struct iovec		 iov[HTTPD_MAX_IOV];
	ssize_t			 n;
	int			 i, nv;

	while (c->out != NULL && evbuffer_get_length(c->out) > 0) {
		nv = evbuffer_peek(c->out, -1, NULL, vec, HTTPD_MAX_IOV);
		if (nv > HTTPD_MAX_IOV)
			nv = HTTPD_MAX_IOV;
		for (i = 0; i < nv; i++) {
			iov[i].iov_base = vec[i].iov_base;
			iov[i].iov_len = vec[i].iov_len;
		}
		if ((n = sock_sendv(c->fd, iov, nv)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				event_add(c->wev, NULL);
				return 0;
			}
			return -1;
		}
		evbuffer_drain(c->out, (size_t)n);
	}
	return 0;
}

/*
 * Sends iov now when nothing waits before it, else queues it.  What the
 * socket does not take waits in out for the write event.  A failed socket
 * closes the connection from the loop, not from under the caller.
 */
static void
httpd_conn_send(struct httpd_conn *c, struct iovec *iov, int n)
{
	ssize_t		 sent = 0;
	size_t		 left;
	int		 i;

	if (c->state == HTTPD_LINGERING)
		return;
	if (c->out == NULL || evbuffer_get_length(c->out) == 0) {
		if ((sent = sock_sendv(c->fd, iov, n)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				httpd_conn_later(c, HTTPD_CLOSE_ERROR);
				return;
			}
			sent = 0;
		}
	}
	for (i = 0; i < n; i++) {
		if ((size_t)sent >= iov[i].iov_len) {
			sent -= (ssize_t)iov[i].iov_len;
			continue;
		}
		left = iov[i].iov_len - (size_t)sent;
		if (c->out == NULL)
			c->out = evbuffer_new();
		evbuffer_add(c->out, (char *)iov[i].iov_base + sent, left);
		sent = 0;
	}
	if (c->out == NULL || evbuffer_get_length(c->out) == 0)
		return;
	if (evbuffer_get_length(c->out) > HTTPD_OUT_MAX) {
		log_info("http: closing a connection: its client left over "
		    "%d MiB of replies unread", HTTPD_OUT_MAX >> 20);
		httpd_conn_later(c, HTTPD_CLOSE_ERROR);
		return;
	}
	event_add(c->wev, NULL);
	/* A client that stops reading is dropped, in time. */
	if (c->state == HTTPD_ANSWERING && !c->stalled) {
		c->stalled = 1;
		httpd_timer_set(c, c->h->limits.idle_timeout > 0 ?
		    c->h->limits.idle_timeout : HTTPD_STALL_SECONDS);
	}
}

static void
httpd_put(char *buf, size_t *at, size_t cap, const char *s, size_t n)
{
	if (*at + n > cap)
		n = cap - *at;
	memcpy(buf + *at, s, n);
	*at += n;
}

static void
httpd_put_str(char *buf, size_t *at, size_t cap, const char *s)
{
	httpd_put(buf, at, cap, s, strlen(s));
}

static void
httpd_put_uint(char *buf, size_t *at, size_t cap, uint64_t v)
{
	char	digits[24];
	size_t	i = sizeof digits;

	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	httpd_put(buf, at, cap, digits + i, sizeof digits - i);
}

static const char *
httpd_date(struct httpd *h)
{
	time_t		now = time(NULL);
	struct tm	tm;

	if (now != h->date_at && gmtime_r(&now, &tm) != NULL) {
		evutil_date_rfc1123(h->date, sizeof h->date, &tm);
		h->date_at = now;
	}
	return h->date;
}

/*
 * The status line and headers.  framing: body length, or -1 for a
 * streamed reply.  Decides whether the connection is kept.
 */
static size_t
httpd_head(struct httpd_req *r, char *buf, size_t cap, int status,
    const char *reason, int64_t framing)
{
	struct httpd_conn	*c = r->conn;
	size_t			 at = 0;

	if (c->eof || c->state != HTTPD_ANSWERING)
		r->keepalive = 0;
	if (framing < 0 && r->http10)
		r->keepalive = 0;	/* the end of a stream is the close */
	httpd_put_str(buf, &at, cap, "HTTP/1.1 ");
	httpd_put_uint(buf, &at, cap, (uint64_t)(status % 1000));
	httpd_put(buf, &at, cap, " ", 1);
	httpd_put_str(buf, &at, cap, reason);
	httpd_put(buf, &at, cap, "\r\n", 2);
	httpd_put(buf, &at, cap, r->out, r->outlen);
	httpd_put_str(buf, &at, cap, "Date: ");
	httpd_put_str(buf, &at, cap, httpd_date(c->h));
	if (framing >= 0) {
		httpd_put_str(buf, &at, cap, "\r\nContent-Length: ");
		httpd_put_uint(buf, &at, cap, (uint64_t)framing);
	} else if (!r->http10) {
		httpd_put_str(buf, &at, cap, "\r\nTransfer-Encoding: chunked");
		r->chunked_out = 1;
	}
	if (!r->keepalive)
		httpd_put_str(buf, &at, cap, "\r\nConnection: close");
	else if (r->http10)
		httpd_put_str(buf, &at, cap, "\r\nConnection: keep-alive");
	httpd_put(buf, &at, cap, "\r\n\r\n", 4);
	return at;
}

/* ---- closing ----------------------------------------------------------- */

static void
httpd_conn_free(struct httpd_conn *c, enum httpd_close why)
{
	struct httpd	*h = c->h;

	TAILQ_REMOVE(&h->conns, c, entry);
	if (h->cb.close != NULL)
		h->cb.close(c, c->arg, why);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->timer);
	if (c->out != NULL)
		evbuffer_free(c->out);
	httpd_buf_free(&c->in);
	httpd_buf_free(&c->spare);
	httpd_buf_free(&c->reqbuf);
	close(c->fd);
	free(c);
}

/*
 * Close once what is queued has gone, from the loop: callers may be deep
 * in the application, which must not see its connection vanish there.
 */
static void
httpd_conn_later(struct httpd_conn *c, enum httpd_close why)
{
	if (c->state == HTTPD_CLOSING || c->state == HTTPD_LINGERING) {
		if (why == HTTPD_CLOSE_ERROR)
			c->why = why;
	} else
		c->why = why;
	if (why == HTTPD_CLOSE_ERROR) {
		/* Nothing more can be sent. */
		if (c->out != NULL)
			evbuffer_drain(c->out, evbuffer_get_length(c->out));
		c->eof = 1;
	}
	if (c->state != HTTPD_LINGERING) {
		c->state = HTTPD_CLOSING;
		httpd_timer_set(c, HTTPD_CLOSING_SECONDS);
	}
	event_active(c->wev, EV_WRITE, 1);
}

/* The request's buffer goes back for the next read; a big one is freed. */
static void
httpd_req_release(struct httpd_conn *c)
{
	struct httpd_req	*r = &c->req;

	if (c->spare.data == NULL && c->reqbuf.cap <= HTTPD_KEEP_MAX) {
		c->spare = c->reqbuf;
		c->spare.len = 0;
		memset(&c->reqbuf, 0, sizeof c->reqbuf);
	} else
		httpd_buf_free(&c->reqbuf);
	r->base = NULL;
	r->nheaders = 0;
	r->outlen = 0;
	r->streaming = 0;
	r->chunked_out = 0;
}

/* The reply is all out (or queued): the next request, or close. */
static void
httpd_req_done(struct httpd_conn *c)
{
	int	keep = c->req.keepalive;

	httpd_req_release(c);
	if (c->state != HTTPD_ANSWERING)
		return;		/* closing already */
	if (!keep || c->eof) {
		httpd_conn_later(c, HTTPD_CLOSE_DONE);
		return;
	}
	c->state = HTTPD_READING;
	if (c->paused) {
		c->paused = 0;
		event_add(c->rev, NULL);
	}
	httpd_conn_wait(c);
	/* A pipelined request is served from the loop, not from here. */
	if (c->in.len > 0 && !c->in_loop)
		event_active(c->rev, EV_READ, 1);
}

/*
 * A refusal from the server itself: a JSON-RPC error as the body, then
 * close (the rest of what the client sends is not read as a request).
 */
static void
httpd_conn_error(struct httpd_conn *c, int status, const char *reason,
    int code, const char *message, const char *limit, int64_t value,
    enum httpd_close why)
{
	struct httpd_req	*r = &c->req;
	struct json_object	*err, *data = NULL;
	struct iovec		 iov[2];
	const char		*body;
	char			 head[HTTPD_HEAD_MAX];
	size_t			 len;

	if (limit != NULL) {
		data = json_object_new_object();
		json_object_object_add(data, "limit",
		    json_object_new_string(limit));
		json_object_object_add(data, "value",
		    json_object_new_int64(value));
	}
	err = jsonrpc_error_new(NULL, code, message, data);
	body = jsonrpc_to_string(err, &len);
	r->conn = c;
	r->keepalive = 0;
	r->outlen = 0;
	httpd_add_header(r, "Content-Type", "application/json");
	if (status == 503)
		httpd_add_header(r, "Retry-After", "1");
	c->state = HTTPD_ANSWERING;
	iov[0].iov_base = head;
	iov[0].iov_len = httpd_head(r, head, sizeof head, status, reason,
	    (int64_t)len);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	httpd_conn_send(c, iov, 2);
	json_object_put(err);
	r->outlen = 0;
	httpd_conn_later(c, why);
}

void
httpd_conn_refuse(struct httpd_conn *c, int status, const char *reason,
    int code, const char *message, const char *limit, int64_t value)
{
	httpd_conn_error(c, status, reason, code, message, limit, value,
	    HTTPD_CLOSE_REFUSED);
}

static void
httpd_bad_request(struct httpd_conn *c, const char *why)
{
	char	text[160];

	snprintf(text, sizeof text, "Bad Request: %s", why);
	httpd_conn_error(c, 400, "Bad Request", JSONRPC_INVALID_REQUEST, text,
	    NULL, 0, HTTPD_CLOSE_REFUSED);
}

/* ---- parsing ----------------------------------------------------------- */

/* The offset just past the head's blank line, or 0 while it is not in. */
static size_t
httpd_head_end(struct httpd_conn *c)
{
	const char	*p = c->in.data, *nl;
	size_t		 at = c->scanned, i;

	while (at < c->in.len &&
	    (nl = memchr(p + at, '\n', c->in.len - at)) != NULL) {
		i = (size_t)(nl - p);
		if ((i >= 1 && p[i - 1] == '\n') ||
		    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'))
			return i + 1;
		at = i + 1;
	}
	c->scanned = at;
	return 0;
}

static enum httpd_method
httpd_method_parse(const char *m, size_t n)
{
	static const struct {
		const char		*name;
		enum httpd_method	 method;
	} methods[] = {
		{ "GET", HTTPD_GET }, { "POST", HTTPD_POST },
		{ "DELETE", HTTPD_DELETE }, { "HEAD", HTTPD_HEAD },
		{ "PUT", HTTPD_PUT }, { "OPTIONS", HTTPD_OPTIONS },
		{ "PATCH", HTTPD_PATCH },
	};
	size_t	i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strlen(methods[i].name) == n &&
		    memcmp(methods[i].name, m, n) == 0)
			return methods[i].method;
	return HTTPD_OTHER;
}

/* The request line, in place; -1 after a refusal. */
static int
httpd_parse_request_line(struct httpd_conn *c, char *line, size_t len)
{
	struct httpd_req	*r = &c->req;
	char			*sp1, *sp2, *target, *q;
	const char		*version;

	if ((sp1 = memchr(line, ' ', len)) == NULL || sp1 == line ||
	    (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line))) ==
	    NULL || sp2 == sp1 + 1) {
		httpd_bad_request(c, "malformed request line");
		return -1;
	}
	*sp1 = *sp2 = '\0';
	version = sp2 + 1;
	if (strchr(version, ' ') != NULL) {
		httpd_bad_request(c, "malformed request line");
		return -1;
	}
	if (strcmp(version, "HTTP/1.1") == 0)
		r->http10 = 0;
	else if (strcmp(version, "HTTP/1.0") == 0)
		r->http10 = 1;
	else if (strncmp(version, "HTTP/", 5) == 0) {
		httpd_conn_error(c, 505, "HTTP Version Not Supported",
		    JSONRPC_INVALID_REQUEST, "HTTP Version Not Supported: "
		    "HTTP/1.1 and HTTP/1.0 are served", NULL, 0,
		    HTTPD_CLOSE_REFUSED);
		return -1;
	} else {
		httpd_bad_request(c, "malformed request line");
		return -1;
	}
	r->keepalive = !r->http10;
	r->method = httpd_method_parse(line, (size_t)(sp1 - line));
	target = sp1 + 1;
	/* absolute-form: the authority is the Host header's business. */
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		target = strchr(target, ':') + 3;
		if ((target = strchr(target, '/')) == NULL) {
			httpd_bad_request(c, "no path in the request target");
			return -1;
		}
	}
	if (target[0] != '/' && strcmp(target, "*") != 0) {
		httpd_bad_request(c, "the request target is not a path");
		return -1;
	}
	r->query = HTTPD_NONE;
	if ((q = strchr(target, '?')) != NULL) {
		*q = '\0';
		r->query = (uint32_t)(q + 1 - c->in.data);
	}
	r->path = (uint32_t)(target - c->in.data);
	return 0;
}

/* One header line, in place; -1 after a refusal. */
static int
httpd_parse_header(struct httpd_conn *c, char *line, size_t len)
{
	struct httpd_req	*r = &c->req;
	char			*colon, *v, *end;
	size_t			 i;

	if (line[0] == ' ' || line[0] == '\t') {
		httpd_bad_request(c, "folded header lines are not accepted");
		return -1;
	}
	if ((colon = memchr(line, ':', len)) == NULL || colon == line) {
		httpd_bad_request(c, "malformed header line");
		return -1;
	}
	for (i = 0; line + i < colon; i++)
		if (!http_is_tchar((unsigned char)line[i])) {
			httpd_bad_request(c, "malformed header name");
			return -1;
		}
	if (http_has_ctl(colon + 1, (size_t)(line + len - colon - 1))) {
		httpd_bad_request(c, "control character in a header");
		return -1;
	}
	if (r->nheaders == HTTPD_MAX_HEADERS) {
		httpd_conn_error(c, 431, "Request Header Fields Too Large",
		    RELAY_ERR_LIMIT, "Request Header Fields Too Large: more "
		    "than 64 header lines", NULL, 0, HTTPD_CLOSE_REFUSED);
		return -1;
	}
	*colon = '\0';
	v = colon + 1;
	end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	r->headers[r->nheaders].name = (uint32_t)(line - c->in.data);
	r->headers[r->nheaders].value = (uint32_t)(v - c->in.data);
	r->headers[r->nheaders].namelen = (uint32_t)(colon - line);
	r->nheaders++;
	return 0;
}

static const char *
httpd_header_at(const struct httpd_conn *c, const char *base,
    const char *name)
{
	const struct httpd_req	*r = &c->req;
	size_t			 i, n = strlen(name);

	for (i = 0; i < r->nheaders; i++)
		if (r->headers[i].namelen == n &&
		    strcasecmp(base + r->headers[i].name, name) == 0)
			return base + r->headers[i].value;
	return NULL;
}

/* The body's framing, from the headers; -1 after a refusal. */
static int
httpd_parse_framing(struct httpd_conn *c)
{
	struct httpd_req	*r = &c->req;
	const char		*base = c->in.data, *cl, *te, *conn, *exp;
	const struct httpd_limits *lim = &c->h->limits;
	char			*endp;
	size_t			 i;
	unsigned long long	 v;
	int			 seen;

	c->clen = 0;
	c->chunked = 0;
	cl = httpd_header_at(c, base, "Content-Length");
	te = httpd_header_at(c, base, "Transfer-Encoding");
	if (cl != NULL && te != NULL) {
		httpd_bad_request(c, "both Content-Length and "
		    "Transfer-Encoding");
		return -1;
	}
	if (cl != NULL) {
		/* Every Content-Length must agree (no smuggling). */
		for (i = 0, seen = 0; i < r->nheaders; i++) {
			if (strcasecmp(base + r->headers[i].name,
			    "Content-Length") != 0)
				continue;
			cl = base + r->headers[i].value;
			errno = 0;
			v = strtoull(cl, &endp, 10);
			if (cl[0] < '0' || cl[0] > '9' || *endp != '\0' ||
			    errno != 0 || (seen && v != c->clen)) {
				httpd_bad_request(c, "bad Content-Length");
				return -1;
			}
			c->clen = v;
			seen = 1;
		}
	} else if (te != NULL) {
		if (strcasecmp(te, "chunked") != 0) {
			httpd_conn_error(c, 501, "Not Implemented",
			    JSONRPC_INVALID_REQUEST, "Not Implemented: only the "
			    "chunked transfer coding is accepted", NULL, 0,
			    HTTPD_CLOSE_REFUSED);
			return -1;
		}
		c->chunked = 1;
		c->chunk_state = HTTPD_CHUNK_SIZE;
		c->chunk_in = c->chunk_out = c->headlen;
		c->chunk_left = 0;
		c->trailers = 0;
	}
	if (c->clen > lim->max_body_size) {
		httpd_conn_error(c, 413, "Payload Too Large", RELAY_ERR_LIMIT,
		    "Payload Too Large: the body is over listen.max_body_size",
		    "max_body_size", (int64_t)lim->max_body_size,
		    HTTPD_CLOSE_REFUSED);
		return -1;
	}
	if ((conn = httpd_header_at(c, base, "Connection")) != NULL) {
		if (http_has_token(conn, "close"))
			r->keepalive = 0;
		else if (r->http10 && http_has_token(conn, "keep-alive"))
			r->keepalive = 1;
	}
	r->expect_continue = 0;
	if ((exp = httpd_header_at(c, base, "Expect")) != NULL) {
		if (strcasecmp(exp, "100-continue") != 0) {
			httpd_conn_error(c, 417, "Expectation Failed",
			    JSONRPC_INVALID_REQUEST, "Expectation Failed: "
			    "only 100-continue is understood", NULL, 0,
			    HTTPD_CLOSE_REFUSED);
			return -1;
		}
		r->expect_continue = !r->http10;
	}
	return 0;
}

/* The whole head, in place; -1 after a refusal. */
static int
httpd_parse_head(struct httpd_conn *c)
{
	char	*p = c->in.data, *end = c->in.data + c->headlen, *nl;
	size_t	 len;
	int	 first = 1;

	c->req.nheaders = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (memchr(p, '\r', len) != NULL || memchr(p, '\0', len) !=
		    NULL) {
			httpd_bad_request(c, "stray CR or NUL in the head");
			return -1;
		}
		p[len] = '\0';
		if (len == 0)
			break;
		if (first) {
			if (httpd_parse_request_line(c, p, len) == -1)
				return -1;
			first = 0;
		} else if (httpd_parse_header(c, p, len) == -1)
			return -1;
		p = nl + 1;
	}
	return httpd_parse_framing(c);
}

/*
 * Decodes what has come of a chunked body in place: data moves down over
 * the chunk-size lines, so the decoded body ends at chunk_out.  1 when the
 * body is whole, 0 for more, -1 after a refusal.
 */
static int
httpd_parse_chunks(struct httpd_conn *c)
{
	char		*p = c->in.data, *nl, *endp;
	size_t		 avail, n;
	uint64_t	 size;

	for (;;) {
		avail = c->in.len - c->chunk_in;
		switch (c->chunk_state) {
		case HTTPD_CHUNK_SIZE:
		case HTTPD_CHUNK_TRAILER:
		case HTTPD_CHUNK_DATA_END:
			if ((nl = memchr(p + c->chunk_in, '\n', avail)) ==
			    NULL) {
				if (avail > HTTPD_CHUNK_LINE_MAX) {
					httpd_bad_request(c, "chunk line too "
					    "long");
					return -1;
				}
				return 0;
			}
			n = (size_t)(nl - (p + c->chunk_in));
			/* As when the newline has not come yet, whatever the
			 * state: the verdict must not depend on the reads. */
			if (n > HTTPD_CHUNK_LINE_MAX) {
				httpd_bad_request(c, "chunk line too long");
				return -1;
			}
			if (n > 0 && p[c->chunk_in + n - 1] == '\r')
				n--;
			if (c->chunk_state == HTTPD_CHUNK_DATA_END) {
				if (n != 0) {
					httpd_bad_request(c, "no CRLF after a "
					    "chunk");
					return -1;
				}
				c->chunk_state = HTTPD_CHUNK_SIZE;
			} else if (c->chunk_state == HTTPD_CHUNK_TRAILER) {
				if (n == 0)
					c->chunk_state = HTTPD_CHUNK_DONE;
				else if ((c->trailers += n) >
				    c->h->limits.max_header_size) {
					httpd_conn_error(c, 431, "Request "
					    "Header Fields Too Large",
					    RELAY_ERR_LIMIT, "Request Header "
					    "Fields Too Large: trailers over "
					    "listen.max_header_size",
					    "max_header_size", (int64_t)
					    c->h->limits.max_header_size,
					    HTTPD_CLOSE_REFUSED);
					return -1;
				}
			} else {
				if (n == 0 || strchr("0123456789abcdefABCDEF",
				    p[c->chunk_in]) == NULL) {
					httpd_bad_request(c, "bad chunk size");
					return -1;
				}
				errno = 0;
				size = strtoull(p + c->chunk_in, &endp, 16);
				if (errno != 0 || (*endp != ';' &&
				    *endp != '\r' && *endp != '\n' &&
				    *endp != ' ' && *endp != '\t')) {
					httpd_bad_request(c, "bad chunk size");
					return -1;
				}
				if (size > c->h->limits.max_body_size -
				    (c->chunk_out - c->headlen)) {
					httpd_conn_error(c, 413, "Payload Too "
					    "Large", RELAY_ERR_LIMIT, "Payload "
					    "Too Large: the body is over "
					    "listen.max_body_size",
					    "max_body_size", (int64_t)
					    c->h->limits.max_body_size,
					    HTTPD_CLOSE_REFUSED);
					return -1;
				}
				c->chunk_left = size;
				c->chunk_state = size == 0 ?
				    HTTPD_CHUNK_TRAILER : HTTPD_CHUNK_DATA;
			}
			c->chunk_in = (size_t)(nl - p) + 1;
			break;
		case HTTPD_CHUNK_DATA:
			if (avail == 0)
				return 0;
			n = avail < c->chunk_left ? avail :
			    (size_t)c->chunk_left;
			memmove(p + c->chunk_out, p + c->chunk_in, n);
			c->chunk_out += n;
			c->chunk_in += n;
			c->chunk_left -= n;
			if (c->chunk_left == 0)
				c->chunk_state = HTTPD_CHUNK_DATA_END;
			break;
		case HTTPD_CHUNK_DONE:
			return 1;
		}
	}
}

/*
 * A whole request at the front of in?  1 and its end in *endp, 0 for
 * more, -1 after a refusal.
 */
static int
httpd_parse(struct httpd_conn *c, size_t *endp)
{
	const struct httpd_limits *lim = &c->h->limits;
	struct iovec	 iov;
	int		 rc;

	if (c->headlen == 0) {
		/* Blank lines before a request are allowed (RFC 9112). */
		while (c->in.len > 0 && (c->in.data[0] == '\r' ||
		    c->in.data[0] == '\n')) {
			memmove(c->in.data, c->in.data + 1, --c->in.len);
			c->scanned = 0;
		}
		if ((c->headlen = httpd_head_end(c)) == 0) {
			if (c->in.len > lim->max_header_size)
				goto too_large;
			return 0;
		}
		if (c->headlen > lim->max_header_size)
			goto too_large;
		if (httpd_parse_head(c) == -1)
			return -1;
		c->continued = 0;
	}
	if (c->chunked) {
		rc = httpd_parse_chunks(c);
		if (rc == 0 && c->chunk_in > c->chunk_out) {
			/* What is decoded and what is not yet read are all
			 * the buffer holds: chunk lines take no room. */
			memmove(c->in.data + c->chunk_out, c->in.data +
			    c->chunk_in, c->in.len - c->chunk_in);
			c->in.len -= c->chunk_in - c->chunk_out;
			c->chunk_in = c->chunk_out;
		}
		if (rc != 1) {
			if (rc == 0 && c->req.expect_continue &&
			    !c->continued)
				goto go_on;
			return rc;
		}
		c->req.body = c->headlen;
		c->req.bodylen = c->chunk_out - c->headlen;
		*endp = c->chunk_in;
		return 1;
	}
	if (c->in.len - c->headlen < c->clen) {
		/* Room for the whole body now: one copy at most. */
		httpd_buf_reserve(&c->in, (size_t)c->clen -
		    (c->in.len - c->headlen));
		if (c->req.expect_continue && !c->continued)
			goto go_on;
		return 0;
	}
	c->req.body = c->headlen;
	c->req.bodylen = (size_t)c->clen;
	*endp = c->headlen + (size_t)c->clen;
	return 1;

go_on:
	c->continued = 1;
	iov.iov_base = (void *)"HTTP/1.1 100 Continue\r\n\r\n";
	iov.iov_len = strlen(iov.iov_base);
	httpd_conn_send(c, &iov, 1);
	return 0;

too_large:
	httpd_conn_error(c, 431, "Request Header Fields Too Large",
	    RELAY_ERR_LIMIT, "Request Header Fields Too Large: the head is "
	    "over listen.max_header_size", "max_header_size",
	    (int64_t)lim->max_header_size, HTTPD_CLOSE_REFUSED);
	return -1;
}

/*
 * Hands the request at the front of in to the application.  Its buffer
 * becomes the request's and the spare one takes the bytes after it, so
 * nothing of the request moves while it is answered.
 */
static void
httpd_conn_dispatch(struct httpd_conn *c, size_t end)
{
	struct httpd_buf	 next = c->spare;
	size_t			 rest = c->in.len - end;

	memset(&c->spare, 0, sizeof c->spare);
	next.len = 0;
	if (rest > 0) {
		httpd_buf_reserve(&next, rest);
		memcpy(next.data, c->in.data + end, rest);
		next.len = rest;
	}
	c->reqbuf = c->in;
	c->in = next;
	c->req.base = c->reqbuf.data;
	c->req.conn = c;
	c->req.outlen = 0;
	c->headlen = 0;
	c->scanned = 0;
	c->chunked = 0;
	c->deadline = 0;
	c->stalled = 0;
	c->state = HTTPD_ANSWERING;
	evtimer_del(c->timer);
	c->h->cb.request(&c->req, c->arg);
}

static void
httpd_conn_process(struct httpd_conn *c)
{
	size_t	end;
	int	rc;

	c->in_loop = 1;
	while (c->state == HTTPD_READING && c->in.len > 0) {
		if ((rc = httpd_parse(c, &end)) != 1)
			break;
		httpd_conn_dispatch(c, end);
	}
	c->in_loop = 0;
	if (c->state == HTTPD_READING)
		httpd_conn_wait(c);
}

/* ---- events ------------------------------------------------------------ */

static void
httpd_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn	*c = arg;
	const struct httpd_limits *lim = &c->h->limits;
	char			 sink[4096];
	ssize_t			 n;

	if (c->state == HTTPD_CLOSING || c->state == HTTPD_LINGERING) {
		/* Read and dropped: a refused request's body, say. */
		n = recv(fd, sink, sizeof sink, 0);
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)) {
			c->eof = 1;
			event_del(c->rev);
			if (c->state == HTTPD_LINGERING ||
			    c->out == NULL || evbuffer_get_length(c->out) == 0)
				httpd_conn_free(c, c->why);
		}
		return;
	}
	if (c->state == HTTPD_ANSWERING && c->in.len >
	    lim->max_header_size + lim->max_body_size) {
		/* Pipelined far ahead: wait for the answer first. */
		c->paused = 1;
		event_del(c->rev);
		return;
	}
	if (c->in.data == NULL && c->spare.data != NULL) {
		c->in = c->spare;
		memset(&c->spare, 0, sizeof c->spare);
	}
	httpd_buf_reserve(&c->in, 1024);
	n = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
	if (n == 0) {
		if (c->state == HTTPD_READING && c->out != NULL &&
		    evbuffer_get_length(c->out) > 0) {
			/* Half closed: the last reply still goes out. */
			c->eof = 1;
			event_del(c->rev);
			httpd_conn_later(c, HTTPD_CLOSE_DONE);
			return;
		}
		/* The client is gone: what it asked is dropped with it. */
		httpd_conn_free(c, HTTPD_CLOSE_DONE);
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			httpd_conn_free(c, HTTPD_CLOSE_ERROR);
			return;
		}
		n = 0;
	}
	c->in.len += (size_t)n;
	if (c->state == HTTPD_READING)
		httpd_conn_process(c);
}

static void
httpd_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn	*c = arg;

	if (c->why == HTTPD_CLOSE_ERROR && c->state == HTTPD_CLOSING) {
		httpd_conn_free(c, HTTPD_CLOSE_ERROR);
		return;
	}
	if (httpd_conn_flush(c) == -1) {
		httpd_conn_free(c, HTTPD_CLOSE_ERROR);
		return;
	}
	if (c->out != NULL && evbuffer_get_length(c->out) > 0)
		return;
	if (c->stalled) {
		c->stalled = 0;
		if (c->state == HTTPD_ANSWERING)
			evtimer_del(c->timer);
	}
	if (c->state != HTTPD_CLOSING)
		return;
	if (c->eof) {
		httpd_conn_free(c, c->why);
		return;
	}
	/*
	 * Closing with unread bytes from the client would reset the
	 * connection and could lose the reply: shut our side, read theirs
	 * until they close, for a while.
	 */
	shutdown(c->fd, SHUT_WR);
	c->state = HTTPD_LINGERING;
	httpd_timer_set(c, HTTPD_LINGER_SECONDS);
}

static void
httpd_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn	*c = arg;
	char			 text[160];

	switch (c->state) {
	case HTTPD_READING:
		if (c->in.len == 0) {
			httpd_conn_free(c, HTTPD_CLOSE_IDLE);
			return;
		}
		snprintf(text, sizeof text, "Request Timeout: the request did "
		    "not arrive within %gs (listen.request_read_timeout)",
		    c->h->limits.read_timeout);
		httpd_conn_error(c, 408, "Request Timeout", RELAY_ERR_LIMIT,
		    text, "request_read_timeout",
		    (int64_t)c->h->limits.read_timeout, HTTPD_CLOSE_TIMEOUT);
		break;
	case HTTPD_ANSWERING:
		if (!c->stalled)
			break;
		log_info("http: closing a connection: its client has not read "
		    "a reply for %gs", c->h->limits.idle_timeout > 0 ?
		    c->h->limits.idle_timeout : HTTPD_STALL_SECONDS);
		httpd_conn_free(c, HTTPD_CLOSE_ERROR);
		break;
	case HTTPD_CLOSING:
	case HTTPD_LINGERING:
		httpd_conn_free(c, c->why);
		break;
	}
}

static void
httpd_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	httpd_adopt(arg, fd);
}

void
httpd_adopt(struct httpd *h, int fd)
{
	struct httpd_conn	*c;
	int			 one = 1;

	/* Streamed events are small writes: no waiting for an ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = xcalloc(1, sizeof *c);
	c->h = h;
	c->fd = fd;
	c->req.conn = c;
	c->rev = event_new(h->base, fd, EV_READ | EV_PERSIST,
	    httpd_conn_read_cb, c);
	c->wev = event_new(h->base, fd, EV_WRITE, httpd_conn_write_cb, c);
	c->timer = evtimer_new(h->base, httpd_conn_timer_cb, c);
	if (c->rev == NULL || c->wev == NULL || c->timer == NULL)
		fatalx("httpd: event_new failed");
	TAILQ_INSERT_TAIL(&h->conns, c, entry);
	c->arg = h->cb.accept(c, h->arg);
	event_add(c->rev, NULL);
	if (c->state == HTTPD_READING)
		httpd_conn_wait(c);
}

static void
httpd_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd	*h = arg;

	evconnlistener_enable(h->listener);
}

/* accept() failed: out of descriptors, most likely.  Pause, not spin. */
static void
httpd_accept_error_cb(struct evconnlistener *lis, void *arg)
{
	struct httpd	*h = arg;
	struct timeval	 tv = { 0, 100 * 1000 };
	int		 e = EVUTIL_SOCKET_ERROR();

	log_warnx("http: accept: %s; not accepting for 100 ms",
	    evutil_socket_error_to_string(e));
	evconnlistener_disable(h->listener);
	evtimer_add(h->resume, &tv);
}

/* ---- the server -------------------------------------------------------- */

static int
httpd_bind(struct httpd *h, const char *host, int port, char *err,
    size_t errlen)
{
	struct evutil_addrinfo	 hints, *ai = NULL;
	char			 service[16];
	int			 rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
	snprintf(service, sizeof service, "%d", port);
	if ((rc = evutil_getaddrinfo(host, service, &hints, &ai)) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
		    evutil_gai_strerror(rc));
		return -1;
	}
	h->listener = evconnlistener_new_bind(h->base, httpd_accept_cb, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE, -1, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (h->listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
		    strerror(errno));
		return -1;
	}
	return 0;
}

struct httpd *
httpd_new_unbound(struct event_base *base, const struct httpd_callbacks *cb,
    void *arg)
{
	struct httpd	*h;

	h = xcalloc(1, sizeof *h);
	h->base = base;
	h->cb = *cb;
	h->arg = arg;
	h->limits.max_header_size = 16 * 1024;
	h->limits.max_body_size = 4 * 1024 * 1024;
	TAILQ_INIT(&h->conns);
	if ((h->resume = evtimer_new(base, httpd_resume_cb, h)) == NULL)
		fatalx("httpd: evtimer_new failed");
	return h;
}

struct httpd *
httpd_new(struct event_base *base, const char *host, int port, int fd,
    const struct httpd_callbacks *cb, void *arg, char *err, size_t errlen)
{
	struct httpd		*h;

	h = httpd_new_unbound(base, cb, arg);
	if (fd >= 0) {
		evutil_make_socket_nonblocking(fd);
		if ((h->listener = evconnlistener_new(base, httpd_accept_cb, h,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
		    fd)) == NULL)
			snprintf(err, errlen, "cannot serve the inherited "
			    "socket: %s", strerror(errno));
	} else
		(void)httpd_bind(h, host, port, err, errlen);
	if (h->listener == NULL) {
		httpd_free(h);
		return NULL;
	}
	evconnlistener_set_error_cb(h->listener, httpd_accept_error_cb);
	h->port = sock_port(evconnlistener_get_fd(h->listener));
	return h;
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	if (h->listener != NULL)
		evconnlistener_free(h->listener);
	while (!TAILQ_EMPTY(&h->conns))
		httpd_conn_free(TAILQ_FIRST(&h->conns), HTTPD_CLOSE_SHUTDOWN);
	event_free(h->resume);
	free(h);
}

int
httpd_port(const struct httpd *h)
{
	return h->port;
}

void
httpd_set_limits(struct httpd *h, const struct httpd_limits *lim)
{
	h->limits = *lim;
}

int
httpd_conn_fd(const struct httpd_conn *c)
{
	return c->fd;
}

void *
httpd_conn_arg(const struct httpd_conn *c)
{
	return c->arg;
}

/* ---- requests ---------------------------------------------------------- */

struct httpd_conn *
httpd_req_conn(const struct httpd_req *r)
{
	return r->conn;
}

enum httpd_method
httpd_req_method(const struct httpd_req *r)
{
	return r->method;
}

const char *
httpd_req_path(const struct httpd_req *r)
{
	return r->base + r->path;
}

const char *
httpd_req_query(const struct httpd_req *r)
{
	return r->query == HTTPD_NONE ? NULL : r->base + r->query;
}

const char *
httpd_req_header(const struct httpd_req *r, const char *name)
{
	return httpd_header_at(r->conn, r->base, name);
}

const char *
httpd_req_body(const struct httpd_req *r, size_t *len)
{
	*len = r->bodylen;
	return r->base + r->body;
}

void
httpd_add_header(struct httpd_req *r, const char *name, const char *value)
{
	size_t	nn = strlen(name), nv = strlen(value);

	if (r->outlen + nn + nv + 4 > sizeof r->out ||
	    strpbrk(value, "\r\n") != NULL) {
		log_warnx("http: reply header %s dropped", name);
		return;
	}
	httpd_put(r->out, &r->outlen, sizeof r->out, name, nn);
	httpd_put(r->out, &r->outlen, sizeof r->out, ": ", 2);
	httpd_put(r->out, &r->outlen, sizeof r->out, value, nv);
	httpd_put(r->out, &r->outlen, sizeof r->out, "\r\n", 2);
}

void
httpd_reply(struct httpd_req *r, int status, const char *reason,
    const char *body, size_t len)
{
	struct httpd_conn	*c = r->conn;
	struct iovec		 iov[2];
	char			 head[HTTPD_HEAD_MAX];
	int			 n = 1;

	if (r->base == NULL || r->streaming) {
		log_warnx("http: a reply to a request answered already");
		return;
	}
	iov[0].iov_base = head;
	iov[0].iov_len = httpd_head(r, head, sizeof head, status, reason,
	    (int64_t)len);
	if (len > 0 && r->method != HTTPD_HEAD) {
		iov[1].iov_base = (void *)body;
		iov[1].iov_len = len;
		n = 2;
	}
	httpd_conn_send(c, iov, n);
	httpd_req_done(c);
}

void
httpd_reply_start(struct httpd_req *r, int status, const char *reason)
{
	struct iovec	iov;
	char		head[HTTPD_HEAD_MAX];

	if (r->base == NULL || r->streaming) {
		log_warnx("http: a reply to a request answered already");
		return;
	}
	iov.iov_base = head;
	iov.iov_len = httpd_head(r, head, sizeof head, status, reason, -1);
	r->streaming = 1;
	httpd_conn_send(r->conn, &iov, 1);
}

void
httpd_reply_chunk(struct httpd_req *r, struct evbuffer *buf)
{
	struct evbuffer_iovec	 vec[HTTPD_MAX_IOV - 2];
	struct iovec		 iov[HTTPD_MAX_IOV];
	char			 size[24];
	size_t			 len = evbuffer_get_length(buf);
	int			 i, j, nv;

	if (len == 0 || !r->streaming)
		return;
	if ((nv = evbuffer_peek(buf, -1, NULL, vec, HTTPD_MAX_IOV - 2)) >
	    HTTPD_MAX_IOV - 2) {
		evbuffer_pullup(buf, -1);
		nv = evbuffer_peek(buf, -1, NULL, vec, 1);
	}
	i = 0;
	if (r->chunked_out) {
		iov[i].iov_base = size;
		iov[i++].iov_len = (size_t)snprintf(size, sizeof size,
		    "%zx\r\n", len);
	}
	for (j = 0; j < nv; j++, i++) {
		iov[i].iov_base = vec[j].iov_base;
		iov[i].iov_len = vec[j].iov_len;
	}
	if (r->chunked_out) {
		iov[i].iov_base = (void *)"\r\n";
		iov[i++].iov_len = 2;
	}
	httpd_conn_send(r->conn, iov, i);
	evbuffer_drain(buf, len);
}

void
httpd_reply_end(struct httpd_req *r)
{
	struct iovec	iov;

	if (!r->streaming)
		return;
	if (r->chunked_out) {
		iov.iov_base = (void *)"0\r\n\r\n";
		iov.iov_len = 5;
		httpd_conn_send(r->conn, &iov, 1);
	}
	httpd_req_done(r->conn);
}

/* ---- queries ----------------------------------------------------------- */

static int
httpd_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
httpd_query_param(const char *query, const char *name, char *buf,
    size_t len)
{
	size_t		 n = strlen(name), o;
	const char	*p = query, *end;
	int		 hi, lo;

	if (query == NULL || len == 0)
		return -1;
	while (*p != '\0') {
		end = p + strcspn(p, "&");
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			for (p += n + 1, o = 0; p < end; p++) {
				if (o + 1 >= len)
					return -1;
				if (*p == '+')
					buf[o++] = ' ';
				else if (*p == '%' && p + 2 < end &&
				    (hi = httpd_hex(p[1])) >= 0 &&
				    (lo = httpd_hex(p[2])) >= 0) {
					buf[o++] = (char)(hi * 16 + lo);
					p += 2;
				} else
					buf[o++] = *p;
			}
			buf[o] = '\0';
			return 0;
		}
		p = *end == '&' ? end + 1 : end;
	}
	return -1;
}
