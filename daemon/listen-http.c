/*
 * MCP over HTTP (daemon/httpd.c): Streamable HTTP (POST answers as JSON or
 * as an SSE stream, GET opens the session's stream, DELETE ends it) and
 * the legacy HTTP+SSE transport.  Every reply path goes through a
 * client_stream so sessions never see HTTP.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <json-c/json.h>

#include "access.h"
#include "config.h"
#include "era.h"
#include "errors.h"
#include "httpd.h"
#include "jsonrpc.h"
#include "jsonscan.h"
#include "listen-http.h"
#include "log.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "sse.h"
#include "stream.h"
#include "xmalloc.h"

#define HTTP_KEEPALIVE_SECONDS	15
#define HTTP_OK			200
#define HTTP_STATUS_ACCEPTED	202
#define HTTP_BADREQUEST		400
#define HTTP_NOTFOUND		404
#define HTTP_BADMETHOD		405

enum http_stream_kind {
	HTTP_STREAM_POST,	/* one request's reply */
	HTTP_STREAM_GET,	/* the session's standalone stream */
	HTTP_STREAM_LEGACY,	/* 2024-11-05 SSE stream */
};

enum http_stream_mode {
	HTTP_MODE_PENDING,	/* nothing sent yet */
	HTTP_MODE_SSE,		/* chunked text/event-stream */
	HTTP_MODE_DONE,
};

struct http_conn;

/* Our state for one request we have not finished answering. */
struct http_stream {
	struct client_stream	 cs;
	struct listen_http	*lh;
	struct http_conn	*conn;
	enum http_stream_kind	 kind;
	enum http_stream_mode	 mode;
	struct httpd_req	*req;
	struct session		*session;
	struct access_who	 who;		/* the client of the request */
	uint64_t		 stream_no;	/* 0: events carry no id */
	int			 modern;	/* answers a 2026-07-28 POST */
	struct event		*keepalive;
	TAILQ_ENTRY(http_stream) entry;
};

enum http_conn_peer {
	HTTP_PEER_UNKNOWN,	/* not looked up yet: no request needed it */
	HTTP_PEER_KNOWN,	/* who holds the peer's uid */
	HTTP_PEER_FAILED,	/* the lookup failed: refused, why says why */
};

/*
 * Per TCP connection: the streams answering on it, to clean up on close,
 * and the peer's uid, looked up once, when the first request without a
 * token comes (requests with a token need none).
 */
struct http_conn {
	struct listen_http		*lh;
	struct httpd_conn		*hc;
	TAILQ_HEAD(, http_stream)	 streams;
	enum http_conn_peer		 peer;
	struct access_who		 who;
	uint64_t			 conn;	/* access_next_conn() */
	char				 why[256];
};

struct listen_http {
	struct relay		*relay;
	struct httpd		*httpd;
	struct listen_http_counters counters;
};

static int	http_stream_write(struct client_stream *, struct json_object *,
		    int);
static int	http_stream_write_text(struct client_stream *, const char *,
		    size_t, int);
static const char *http_reason(int);

static const struct client_stream_ops http_stream_ops = {
	.write = http_stream_write,
	.write_text = http_stream_write_text,
};

/* ---- connections and streams ------------------------------------------- */

static struct http_conn *
http_conn_get(struct httpd_req *req)
{
	return httpd_conn_arg(httpd_req_conn(req));
}

/* A connection: listen.max_connections applies. */
static void *
listen_http_accept_cb(struct httpd_conn *hc, void *arg)
{
	struct listen_http	*lh = arg;
	const struct config_listen *cl = &lh->relay->cfg->listen;
	struct http_conn	*c;
	char			 text[160];

	if (cl->max_connections > 0 &&
	    lh->counters.open >= (unsigned)cl->max_connections) {
		if (lh->counters.refused++ % 1000 == 0)
			log_warnx("http: refusing connections: %u open "
			    "(listen.max_connections)", lh->counters.open);
		snprintf(text, sizeof text, "too many connections: %d are "
		    "open (listen.max_connections); retry later",
		    cl->max_connections);
		httpd_conn_refuse(hc, 503, "Service Unavailable",
		    RELAY_ERR_LIMIT, text, "max_connections",
		    cl->max_connections);
		return NULL;
	}
	lh->counters.accepted++;
	lh->counters.open++;
	c = xcalloc(1, sizeof *c);
	c->lh = lh;
	c->hc = hc;
	c->conn = access_next_conn(lh->relay->access);
	TAILQ_INIT(&c->streams);
	return c;
}

static struct http_stream *
http_stream_new(struct listen_http *lh, struct httpd_req *req,
    enum http_stream_kind kind, struct session *s,
    const struct access_who *who)
{
	struct http_stream	*st;

	st = xcalloc(1, sizeof *st);
	client_stream_init(&st->cs, &http_stream_ops, st);
	st->who = *who;
	st->cs.who = &st->who;
	st->lh = lh;
	st->kind = kind;
	st->req = req;
	st->session = s;
	st->conn = http_conn_get(req);
	TAILQ_INSERT_TAIL(&st->conn->streams, st, entry);
	return st;
}

/* Forget the stream; its request is already answered, or gone. */
static void
http_stream_free(struct http_stream *st)
{
	client_stream_closed(&st->cs);
	if (st->session != NULL && (st->kind == HTTP_STREAM_GET ||
	    st->kind == HTTP_STREAM_LEGACY) &&
	    session_standalone(st->session) == &st->cs)
		session_set_standalone(st->session, NULL);
	if (st->conn != NULL)
		TAILQ_REMOVE(&st->conn->streams, st, entry);
	if (st->keepalive != NULL)
		event_free(st->keepalive);
	free(st);
}

/* End an SSE stream from our side. */
static void
http_stream_end(struct http_stream *st)
{
	struct httpd_req	*req = st->req;
	enum http_stream_mode	 mode = st->mode;
	struct session		*legacy = NULL;

	if (st->kind == HTTP_STREAM_LEGACY)
		legacy = st->session;
	/*
	 * Our bookkeeping goes first: finishing the reply may free the
	 * connection (HTTP/1.0, Connection: close), and its close callback
	 * must not find this stream any more.
	 */
	st->mode = HTTP_MODE_DONE;
	http_stream_free(st);
	if (mode == HTTP_MODE_SSE)
		httpd_reply_end(req);
	else if (mode == HTTP_MODE_PENDING)
		httpd_reply(req, HTTP_STATUS_ACCEPTED, "Accepted", NULL, 0);
	/* A legacy session lives exactly as long as its SSE stream. */
	if (legacy != NULL)
		session_close(legacy, "SSE stream closed");
}

/*
 * The client's TCP connection closed: a request it had unanswered went
 * with it, and so does the legacy session of its SSE stream.
 */
static void
listen_http_close_cb(struct httpd_conn *hc, void *arg, enum httpd_close why)
{
	struct http_conn	*c = arg;
	struct listen_http	*lh;
	struct http_stream	*st;
	struct session		*legacy;

	if (c == NULL)
		return;		/* refused at accept */
	lh = c->lh;
	while ((st = TAILQ_FIRST(&c->streams)) != NULL) {
		legacy = st->kind == HTTP_STREAM_LEGACY ? st->session : NULL;
		TAILQ_REMOVE(&c->streams, st, entry);
		st->conn = NULL;
		st->mode = HTTP_MODE_DONE;
		http_stream_free(st);
		if (legacy != NULL)
			session_close(legacy, "client disconnected");
	}
	if (why == HTTPD_CLOSE_TIMEOUT) {
		lh->counters.timed_out++;
		log_info("http: closed a connection: no complete request "
		    "within %gs (listen.request_read_timeout)",
		    lh->relay->cfg->listen.request_read_timeout);
	}
	lh->counters.open--;
	free(c);
}

static void
http_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_stream	*st = arg;
	struct evbuffer		*buf;

	buf = evbuffer_new();
	sse_write_comment(buf, "keepalive");
	httpd_reply_chunk(st->req, buf);
	evbuffer_free(buf);
}

static void
http_sse_start(struct http_stream *st)
{
	struct timeval		 tv = { HTTP_KEEPALIVE_SECONDS, 0 };

	httpd_add_header(st->req, "Content-Type", "text/event-stream");
	httpd_add_header(st->req, "Cache-Control", "no-cache");
	if (st->session != NULL && st->kind != HTTP_STREAM_LEGACY &&
	    session_id(st->session)[0] != '\0')
		httpd_add_header(st->req, "Mcp-Session-Id",
		    session_id(st->session));
	httpd_reply_start(st->req, HTTP_OK, "OK");
	st->mode = HTTP_MODE_SSE;
	if (st->session != NULL && st->kind != HTTP_STREAM_LEGACY)
		st->stream_no = session_next_stream(st->session);
	if (st->kind != HTTP_STREAM_POST) {
		st->keepalive = event_new(st->lh->relay->base, -1, EV_PERSIST,
		    http_keepalive_cb, st);
		evtimer_add(st->keepalive, &tv);
	}
}

static void
http_sse_send(struct http_stream *st, const char *event, const char *data,
    size_t len)
{
	struct evbuffer	*buf;
	char		 id[48];

	buf = evbuffer_new();
	if (st->stream_no != 0) {
		snprintf(id, sizeof id, "%" PRIu64 "-%" PRIu64, st->stream_no,
		    session_replay_add(st->session, st->stream_no, data));
		sse_write_event(buf, event, id, data, len);
	} else
		sse_write_event(buf, event, NULL, data, len);
	httpd_reply_chunk(st->req, buf);
	evbuffer_free(buf);
}

static void
http_send_body(struct httpd_req *req, int code, const char *reason,
    const char *text, size_t len, struct session *s)
{
	httpd_add_header(req, "Content-Type", "application/json");
	if (s != NULL && session_id(s)[0] != '\0')
		httpd_add_header(req, "Mcp-Session-Id", session_id(s));
	httpd_reply(req, code, reason, text, text != NULL ? len : 0);
}

static void
http_send_json(struct httpd_req *req, int code, const char *reason,
    struct json_object *body, struct session *s)
{
	const char	*text = NULL;
	size_t		 len = 0;

	if (body != NULL)
		text = jsonrpc_to_string(body, &len);
	http_send_body(req, code, reason, text, len, s);
}

/*
 * One message, given as an object (msg) or as its text (text, one line of
 * JSON, for a legacy client only: a modern reply's HTTP status is read
 * from the object).
 */
static int
http_stream_put(struct client_stream *cs, struct json_object *msg,
    const char *text, size_t len, int final)
{
	struct http_stream	*st = cs->owner;

	if (st->mode == HTTP_MODE_DONE)
		return -1;
	if (st->kind == HTTP_STREAM_POST && final &&
	    st->mode == HTTP_MODE_PENDING) {
		struct httpd_req	*req = st->req;
		struct session		*s = st->session;
		int			 modern = st->modern;

		/* Forget the stream before the reply may free the
		 * connection (see http_stream_end). */
		st->mode = HTTP_MODE_DONE;
		http_stream_free(st);
		/* A plain result: one JSON body. */
		if (msg == NULL && text == NULL)
			httpd_reply(req, HTTP_STATUS_ACCEPTED, "Accepted",
			    NULL, 0);
		else if (msg == NULL)
			http_send_body(req, HTTP_OK, "OK", text, len, s);
		else if (modern)
			http_send_json(req, era_http_status(msg),
			    http_reason(era_http_status(msg)), msg, NULL);
		else
			http_send_json(req, HTTP_OK, "OK", msg, s);
		return 0;
	}
	if (st->mode == HTTP_MODE_PENDING)
		http_sse_start(st);
	if (msg != NULL)
		text = jsonrpc_to_string(msg, &len);
	if (text != NULL)
		http_sse_send(st, "message", text, len);
	if (st->kind == HTTP_STREAM_POST && final)
		http_stream_end(st);
	return 0;
}

static int
http_stream_write(struct client_stream *cs, struct json_object *msg,
    int final)
{
	return http_stream_put(cs, msg, NULL, 0, final);
}

static int
http_stream_write_text(struct client_stream *cs, const char *text,
    size_t len, int final)
{
	struct http_stream	*st = cs->owner;
	struct json_object	*msg;
	int			 rc;

	if (!st->modern)
		return http_stream_put(cs, NULL, text, len, final);
	if ((msg = jsonrpc_parse(text, len, NULL)) == NULL)
		return -1;
	rc = http_stream_put(cs, msg, NULL, 0, final);
	json_object_put(msg);
	return rc;
}

/* ---- checks ------------------------------------------------------------ */

static int
http_is_loopback_host(const char *host, size_t len)
{
	static const char *const names[] = { "localhost", "127.0.0.1",
	    "[::1]", NULL };
	int	i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(host, names[i], len) == 0)
			return 1;
	return 0;
}

/* "host" or "host:port" -> length of the host part. */
static size_t
http_host_part(const char *h)
{
	const char	*colon;

	if (h[0] == '[') {
		const char *end = strchr(h, ']');
		return end != NULL ? (size_t)(end - h + 1) : strlen(h);
	}
	colon = strchr(h, ':');
	return colon != NULL ? (size_t)(colon - h) : strlen(h);
}

/*
 * DNS rebinding protection (required by the MCP spec for local servers):
 * the Host must be a loopback name or the address we are bound to, and a
 * browser's Origin must be a loopback origin or one the operator allowed.
 */
static int
listen_http_allowed(struct listen_http *lh, struct httpd_req *req,
    const char **why)
{
	const struct config_listen *cl = &lh->relay->cfg->listen;
	const char		*host, *origin, *p;
	size_t			 i, n;

	host = httpd_req_header(req, "Host");
	if (host != NULL) {
		n = http_host_part(host);
		if (!http_is_loopback_host(host, n) &&
		    !(strlen(cl->http.host) == n &&
		    strncasecmp(host, cl->http.host, n) == 0)) {
			*why = "Host header is not a loopback name";
			return 0;
		}
	}
	if ((origin = httpd_req_header(req, "Origin")) == NULL)
		return 1;
	for (i = 0; i < cl->nallowed_origins; i++)
		if (strcasecmp(origin, cl->allowed_origins[i]) == 0)
			return 1;
	if (strncasecmp(origin, "http://", 7) == 0)
		p = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		p = origin + 8;
	else {
		*why = "Origin is not allowed";
		return 0;
	}
	if (http_is_loopback_host(p, http_host_part(p)))
		return 1;
	*why = "Origin is not allowed";
	return 0;
}

static const char *
http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Error";
	}
}

static void
http_error(struct httpd_req *req, int status, const char *reason,
    struct json_object *id, int code, const char *message)
{
	struct json_object	*err;

	err = jsonrpc_error_new(id, code, message, NULL);
	http_send_json(req, status, reason, err, NULL);
	json_object_put(err);
}

/* ---- who is asking ----------------------------------------------------- */

static void
http_refuse(struct listen_http *lh, struct httpd_req *req,
    const struct access_who *who, const char *server, const char *reason)
{
	struct json_object	*err;

	err = access_refuse(lh->relay->access, who, "http", server, reason,
	    NULL);
	http_send_json(req, 403, "Forbidden", err, NULL);
	json_object_put(err);
}

/* The peer's uid, asked of the kernel once per connection. */
static void
http_conn_identify(struct http_conn *c)
{
	int	fd = httpd_conn_fd(c->hc);

	if (c->peer != HTTP_PEER_UNKNOWN)
		return;
	if (fd < 0) {
		memset(&c->who, 0, sizeof c->who);
		c->who.kind = ACCESS_NONE;
		snprintf(c->why, sizeof c->why, "the connection has no socket");
	} else if (access_peer_tcp(c->lh->relay->access, fd, &c->who, c->why,
	    sizeof c->why) == 0) {
		c->peer = HTTP_PEER_KNOWN;
		c->who.conn = c->conn;
		c->who.via = "http";
		return;
	}
	c->peer = HTTP_PEER_FAILED;
	c->who.conn = c->conn;
	c->who.via = "http";
}

/*
 * Who sends req: the token of its Authorization header when tokens are
 * configured, else the connection's peer.  0 when the daemon may be used
 * by them; -1 after a 403 that says why.
 */
static int
listen_http_identify(struct listen_http *lh, struct httpd_req *req,
    struct access_who *who)
{
	struct http_conn	*c = http_conn_get(req);
	const char		*auth;
	char			 why[640];

	auth = httpd_req_header(req, "Authorization");
	if (auth != NULL && access_tokens_configured(lh->relay->access)) {
		if (access_token(lh->relay->access, auth, who, why,
		    sizeof why) == -1) {
			who->conn = c->conn;
			who->via = "http";
			http_refuse(lh, req, who, NULL, why);
			return -1;
		}
	} else {
		http_conn_identify(c);
		*who = c->who;
		if (c->peer == HTTP_PEER_FAILED) {
			http_refuse(lh, req, who, NULL, c->why);
			return -1;
		}
	}
	who->conn = c->conn;
	who->via = "http";
	if (!access_allowed(lh->relay->access, who, NULL)) {
		http_refuse(lh, req, who, NULL, NULL);
		return -1;
	}
	return 0;
}

/* listen.max_sessions: 503 with the -32007 error when it is reached. */
static int
http_admit_session(struct listen_http *lh, struct httpd_req *req,
    struct json_object *id)
{
	struct json_object	*err;

	if (sessions_admit(lh->relay->sessions, id, &err) == 0)
		return 0;
	httpd_add_header(req, "Retry-After", "1");
	http_send_json(req, 503, "Service Unavailable", err, NULL);
	json_object_put(err);
	return -1;
}

/* ---- routing of paths -------------------------------------------------- */

enum http_endpoint {
	EP_NONE,
	EP_MCP,		/* Streamable HTTP */
	EP_SSE,		/* legacy: open the SSE stream */
	EP_MESSAGES,	/* legacy: POST messages */
};

/* "/mcp", "/servers/NAME/mcp", "/sse", ... -> endpoint and server. */
static enum http_endpoint
http_parse_path(const char *path, char *server, size_t len)
{
	const char	*rest, *slash;

	server[0] = '\0';
	if (strcmp(path, "/mcp") == 0 || strcmp(path, "/mcp/") == 0)
		return EP_MCP;
	if (strcmp(path, "/sse") == 0)
		return EP_SSE;
	if (strcmp(path, "/messages") == 0 || strcmp(path, "/message") == 0)
		return EP_MESSAGES;
	if (strncmp(path, "/servers/", 9) != 0)
		return EP_NONE;
	rest = path + 9;
	if ((slash = strchr(rest, '/')) == NULL || slash == rest ||
	    (size_t)(slash - rest) >= len)
		return EP_NONE;
	memcpy(server, rest, (size_t)(slash - rest));
	server[slash - rest] = '\0';
	if (strcmp(slash, "/mcp") == 0)
		return EP_MCP;
	if (strcmp(slash, "/sse") == 0)
		return EP_SSE;
	if (strcmp(slash, "/messages") == 0)
		return EP_MESSAGES;
	return EP_NONE;
}

static int
http_same_scope(struct session *s, const char *server)
{
	const char	*ss = session_server(s);

	if (ss == NULL)
		return server[0] == '\0';
	return strcmp(ss, server) == 0;
}

/* ---- Streamable HTTP --------------------------------------------------- */

static struct json_object *
http_read_body(struct listen_http *lh, struct httpd_req *req)
{
	struct json_object	*msg;
	const char		*reason, *data;
	size_t			 len;

	data = httpd_req_body(req, &len);
	if ((msg = jsonrpc_parse_with(lh->relay->parser, data, len,
	    &reason)) == NULL) {
		char	text[256];

		lh->relay->counters.parse_errors++;
		snprintf(text, sizeof text, "Parse error: %s", reason);
		http_error(req, HTTP_BADREQUEST, "Bad Request", NULL,
		    JSONRPC_PARSE_ERROR, text);
	}
	return msg;
}

/* Checks that need the message's kind; 0 when it may go on. */
static int
http_check_message(struct listen_http *lh, struct httpd_req *req,
    struct json_object *msg, enum jsonrpc_kind *kind)
{
	const char	*reason;

	*kind = jsonrpc_classify(msg, &reason);
	if (*kind == JSONRPC_BATCH) {
		http_error(req, HTTP_BADREQUEST, "Bad Request", NULL,
		    JSONRPC_INVALID_REQUEST, "Invalid Request: JSON-RPC "
		    "batches are not supported (removed in MCP 2025-06-18)");
		return -1;
	}
	if (*kind == JSONRPC_INVALID) {
		char	text[256];

		lh->relay->counters.invalid_requests++;
		snprintf(text, sizeof text, "Invalid Request: %s", reason);
		http_error(req, HTTP_BADREQUEST, "Bad Request",
		    json_object_get_type(msg) == json_type_object ?
		    jsonrpc_id(msg) : NULL, JSONRPC_INVALID_REQUEST, text);
		return -1;
	}
	return 0;
}

enum http_session_check {
	HTTP_SESSION_OK,
	HTTP_SESSION_NO_HEADER,
	HTTP_SESSION_NOT_FOUND,
	HTTP_SESSION_BAD_VERSION,
};

/* The request's session, or NULL and why not in *why. */
static struct session *
http_lookup_session(struct listen_http *lh, struct httpd_req *req,
    const char *server, const struct access_who *who,
    enum http_session_check *why)
{
	const char		*sid, *version;
	struct session		*s;

	if ((sid = httpd_req_header(req, "Mcp-Session-Id")) == NULL) {
		*why = HTTP_SESSION_NO_HEADER;
		return NULL;
	}
	/* A legacy SSE session is no Streamable HTTP session: its life is
	 * its SSE stream's, not GET's or DELETE's. */
	/* Another client's session is no session of this one's. */
	if ((s = sessions_find(lh->relay->sessions, sid)) == NULL ||
	    !http_same_scope(s, server) || session_legacy_sse(s) ||
	    !access_same(session_who(s), who)) {
		*why = HTTP_SESSION_NOT_FOUND;
		return NULL;
	}
	version = httpd_req_header(req, "MCP-Protocol-Version");
	if (version != NULL && !session_protocol_supported(version)) {
		*why = HTTP_SESSION_BAD_VERSION;
		return NULL;
	}
	*why = HTTP_SESSION_OK;
	session_touch(s);
	return s;
}

static struct session *
http_find_session(struct listen_http *lh, struct httpd_req *req,
    const char *server, struct json_object *id,
    const struct access_who *who)
{
	enum http_session_check	 why;
	struct session		*s;
	char			 text[160];

	if ((s = http_lookup_session(lh, req, server, who, &why)) != NULL)
		return s;
	switch (why) {
	case HTTP_SESSION_NO_HEADER:
		http_error(req, HTTP_BADREQUEST, "Bad Request", id,
		    JSONRPC_INVALID_REQUEST, "Bad Request: Mcp-Session-Id "
		    "header is required (send initialize first)");
		break;
	case HTTP_SESSION_NOT_FOUND:
		http_error(req, HTTP_NOTFOUND, "Not Found", id, -32001,
		    "Session not found: it ended or never existed; "
		    "initialize a new one");
		break;
	default:
		snprintf(text, sizeof text, "Bad Request: unsupported "
		    "MCP-Protocol-Version '%.40s'",
		    httpd_req_header(req, "MCP-Protocol-Version"));
		http_error(req, HTTP_BADREQUEST, "Bad Request", id,
		    JSONRPC_INVALID_REQUEST, text);
		break;
	}
	return NULL;
}

/*
 * A legacy tools/call in a session, the bulk of the traffic, goes on as
 * the client's bytes with only its id replaced (docs/architecture.md,
 * "Pass-through"): 1 when taken that way, 0 to take the parsed way, which
 * also answers anything wrong with it.
 */
static int
http_post_call(struct listen_http *lh, struct httpd_req *req,
    const char *server, const struct access_who *who)
{
	enum http_session_check	 why;
	struct jsonscan_call	 c;
	struct session		*s;
	struct http_stream	*st;
	const char		*data;
	size_t			 len;

	data = httpd_req_body(req, &len);
	if (jsonscan_call(data, len, &c) == -1 ||
	    (s = http_lookup_session(lh, req, server, who, &why)) == NULL)
		return 0;
	st = http_stream_new(lh, req, HTTP_STREAM_POST, s, who);
	session_handle_call(s, data, &c, &st->cs);
	return 1;
}

static const char *
http_header_cb(void *arg, const char *name)
{
	return httpd_req_header(arg, name);
}

/*
 * Which era a POSTed request belongs to (docs/protocol.md): modern _meta
 * decides; otherwise a request that is not initialize, has no session and
 * names a non-legacy MCP-Protocol-Version is modern too (and will be told
 * its _meta is missing).
 */
static int
http_request_is_modern(struct httpd_req *req, struct json_object *msg)
{
	const char		*version;

	if (era_is_modern(msg))
		return 1;
	if (strcmp(jsonrpc_method(msg), "initialize") == 0 ||
	    httpd_req_header(req, "Mcp-Session-Id") != NULL)
		return 0;
	version = httpd_req_header(req, "MCP-Protocol-Version");
	return version != NULL && !session_protocol_supported(version);
}

/* A 2026-07-28 request: no session, headers must mirror the body. */
static void
http_post_modern(struct listen_http *lh, struct httpd_req *req,
    const char *server, struct json_object *msg,
    const struct access_who *who)
{
	struct era_error	 err;
	struct json_object	*schema = NULL, *params, *name, *reply;
	struct http_stream	*st;
	const char		*scope = server[0] != '\0' ? server : NULL;

	memset(&err, 0, sizeof err);
	if (strcmp(jsonrpc_method(msg), "tools/call") == 0 &&
	    json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "name", &name) &&
	    json_object_is_type(name, json_type_string))
		schema = router_tool_schema(lh->relay->router, scope,
		    json_object_get_string(name));
	if (era_check_http_headers(msg, http_header_cb, req, schema,
	    &err) == -1 || era_check_meta(msg, &err) == -1) {
		reply = jsonrpc_error_new(jsonrpc_id(msg), err.code,
		    err.message, err.data);
		err.data = NULL;
		http_send_json(req, err.http_status,
		    http_reason(err.http_status), reply, NULL);
		json_object_put(reply);
		return;
	}
	st = http_stream_new(lh, req, HTTP_STREAM_POST, NULL, who);
	st->modern = 1;
	sessions_handle_modern(lh->relay->sessions, scope, msg, &st->cs);
}

static void
http_post(struct listen_http *lh, struct httpd_req *req,
    const char *server,
    const struct access_who *who)
{
	struct json_object	*msg;
	struct session		*s;
	struct http_stream	*st;
	enum jsonrpc_kind	 kind;
	const char		*method;

	if (server[0] != '\0' && router_find(lh->relay->router, server) ==
	    NULL) {
		http_error(req, HTTP_NOTFOUND, "Not Found", NULL, -32016,
		    "unknown server");
		return;
	}
	if (http_post_call(lh, req, server, who))
		return;
	if ((msg = http_read_body(lh, req)) == NULL)
		return;
	if (http_check_message(lh, req, msg, &kind) == -1) {
		json_object_put(msg);
		return;
	}
	method = jsonrpc_method(msg);
	if (kind == JSONRPC_REQUEST && http_request_is_modern(req, msg)) {
		http_post_modern(lh, req, server, msg, who);
		json_object_put(msg);
		return;
	}
	if (kind == JSONRPC_NOTIFICATION && era_is_modern(msg) &&
	    httpd_req_header(req, "Mcp-Session-Id") == NULL) {
		/*
		 * A 2026-07-28 notification (the official SDK sends
		 * notifications/cancelled when it closes a listen): accepted
		 * and ignored.  On HTTP closing the stream is what cancels,
		 * and without a session its requestId names no one request.
		 */
		httpd_reply(req, HTTP_STATUS_ACCEPTED, "Accepted", NULL, 0);
		json_object_put(msg);
		return;
	}
	if (kind == JSONRPC_REQUEST && strcmp(method, "initialize") == 0) {
		if (http_admit_session(lh, req, jsonrpc_id(msg)) == -1) {
			json_object_put(msg);
			return;
		}
		s = session_new(lh->relay->sessions,
		    server[0] != '\0' ? server : NULL, 1);
		session_set_who(s, who);
	} else if ((s = http_find_session(lh, req, server,
	    kind == JSONRPC_REQUEST ? jsonrpc_id(msg) : NULL, who)) == NULL) {
		json_object_put(msg);
		return;
	}
	if (kind != JSONRPC_REQUEST) {
		/* Notifications and responses: accepted, nothing to say. */
		session_handle(s, msg, NULL);
		httpd_reply(req, HTTP_STATUS_ACCEPTED, "Accepted", NULL, 0);
		json_object_put(msg);
		return;
	}
	st = http_stream_new(lh, req, HTTP_STREAM_POST, s, who);
	session_handle(s, msg, &st->cs);
	json_object_put(msg);
}

struct http_replay {
	struct http_stream	*st;
};

static void
http_replay_cb(void *arg, uint64_t seq, const char *data)
{
	struct http_replay	*hr = arg;
	struct evbuffer		*buf;
	char			 id[48];

	buf = evbuffer_new();
	snprintf(id, sizeof id, "%" PRIu64 "-%" PRIu64, hr->st->stream_no,
	    seq);
	sse_write_event(buf, "message", id, data, strlen(data));
	httpd_reply_chunk(hr->st->req, buf);
	evbuffer_free(buf);
}

/*
 * GET opens the session's stream for server-initiated messages.  With
 * Last-Event-ID the client resumes a stream it lost: what it missed is
 * replayed from the session's buffer and the stream goes on under the same
 * stream number, so that a later resume from any of its ids finds what
 * followed.  Sequence numbers are the session's (session_replay_add), so
 * going on under an old stream number never repeats an id.
 */
static void
http_get(struct listen_http *lh, struct httpd_req *req,
    const char *server,
    const struct access_who *who)
{
	const char		*accept, *last;
	struct session		*s;
	struct http_stream	*st, *old;
	struct http_replay	 hr;
	uint64_t		 stream_no = 0, seq = 0, fresh;

	accept = httpd_req_header(req, "Accept");
	if (accept != NULL && strstr(accept, "text/event-stream") == NULL &&
	    strstr(accept, "*/*") == NULL) {
		http_error(req, HTTP_BADMETHOD, "Method Not Allowed", NULL,
		    JSONRPC_INVALID_REQUEST, "GET needs Accept: "
		    "text/event-stream");
		return;
	}
	if (httpd_req_header(req, "Mcp-Session-Id") == NULL) {
		/* No legacy session: the GET stream does not exist in
		 * 2026-07-28, so the method is not allowed here. */
		http_error(req, HTTP_BADMETHOD, "Method Not Allowed", NULL,
		    JSONRPC_INVALID_REQUEST, "GET needs an Mcp-Session-Id "
		    "(legacy sessions only; 2026-07-28 has no GET stream)");
		return;
	}
	if ((s = http_find_session(lh, req, server, NULL, who)) == NULL)
		return;
	if ((last = httpd_req_header(req, "Last-Event-ID")) != NULL &&
	    sscanf(last, "%" SCNu64 "-%" SCNu64, &stream_no, &seq) != 2)
		stream_no = 0;
	/* One standalone stream per session: a new GET replaces the old. */
	if (session_standalone(s) != NULL) {
		old = session_standalone(s)->owner;
		session_set_standalone(s, NULL);
		http_stream_end(old);
	}
	st = http_stream_new(lh, req, HTTP_STREAM_GET, s, who);
	http_sse_start(st);
	fresh = st->stream_no;
	if (stream_no != 0 && stream_no < fresh) {
		st->stream_no = stream_no;
		hr.st = st;
		if (session_replay(s, stream_no, seq, http_replay_cb, &hr) ==
		    -1)
			log_debug("session %.8s...: events before %s are no "
			    "longer buffered", session_id(s), last);
	} else if (stream_no != 0)
		log_debug("session %.8s...: Last-Event-ID %s names no "
		    "stream of this session; starting a new one",
		    session_id(s), last);
	session_set_standalone(s, &st->cs);
}

static void
http_delete(struct listen_http *lh, struct httpd_req *req,
    const char *server,
    const struct access_who *who)
{
	struct session		*s;
	struct client_stream	*cs;

	if (httpd_req_header(req, "Mcp-Session-Id") == NULL) {
		http_error(req, HTTP_BADMETHOD, "Method Not Allowed", NULL,
		    JSONRPC_INVALID_REQUEST, "DELETE needs an Mcp-Session-Id "
		    "(2026-07-28 has no sessions)");
		return;
	}
	if ((s = http_find_session(lh, req, server, NULL, who)) == NULL)
		return;
	if ((cs = session_standalone(s)) != NULL) {
		session_set_standalone(s, NULL);
		http_stream_end(cs->owner);
	}
	session_close(s, "DELETE");
	httpd_reply(req, HTTP_OK, "OK", NULL, 0);
}

/* ---- legacy HTTP+SSE (2024-11-05) -------------------------------------- */

static void
http_legacy_open(struct listen_http *lh, struct httpd_req *req,
    const char *server,
    const struct access_who *who)
{
	struct session		*s;
	struct http_stream	*st;
	char			 endpoint[256];

	if (http_admit_session(lh, req, NULL) == -1)
		return;
	s = session_new(lh->relay->sessions, server[0] != '\0' ? server :
	    NULL, 1);
	session_set_who(s, who);
	session_set_legacy_sse(s);
	st = http_stream_new(lh, req, HTTP_STREAM_LEGACY, s, who);
	http_sse_start(st);
	if (server[0] != '\0')
		snprintf(endpoint, sizeof endpoint,
		    "/servers/%s/messages?sessionId=%s", server, session_id(s));
	else
		snprintf(endpoint, sizeof endpoint, "/messages?sessionId=%s",
		    session_id(s));
	http_sse_send(st, "endpoint", endpoint, strlen(endpoint));
	session_set_standalone(s, &st->cs);
}

static void
http_legacy_post(struct listen_http *lh, struct httpd_req *req,
    const char *server,
    const struct access_who *who)
{
	char			 sid[128];
	struct session		*s = NULL;
	struct json_object	*msg;
	enum jsonrpc_kind	 kind;

	if (httpd_query_param(httpd_req_query(req), "sessionId", sid,
	    sizeof sid) == 0)
		s = sessions_find(lh->relay->sessions, sid);
	if (s == NULL || !http_same_scope(s, server) ||
	    !session_legacy_sse(s) || session_standalone(s) == NULL ||
	    !access_same(session_who(s), who)) {
		http_error(req, HTTP_NOTFOUND, "Not Found", NULL, -32001,
		    "Session not found: open the SSE stream first");
		return;
	}
	if (http_post_call(lh, req, server, who))
		return;
	if ((msg = http_read_body(lh, req)) == NULL)
		return;
	if (http_check_message(lh, req, msg, &kind) == -1) {
		json_object_put(msg);
		return;
	}
	/* Replies travel on the SSE stream; the POST only says "got it". */
	httpd_reply(req, HTTP_STATUS_ACCEPTED, "Accepted", NULL, 0);
	session_handle(s, msg, NULL);
	json_object_put(msg);
}

/* ---- entry ------------------------------------------------------------- */

static void
listen_http_request_cb(struct httpd_req *req, void *arg)
{
	struct http_conn	*c = arg;
	struct listen_http	*lh = c->lh;
	const char		*why;
	char			 server[128];
	enum http_endpoint	 ep;
	enum httpd_method	 cmd = httpd_req_method(req);
	struct access_who	 who;

	if (!listen_http_allowed(lh, req, &why)) {
		log_info("http: refused a request: %s", why);
		http_error(req, 403, "Forbidden", NULL, JSONRPC_INVALID_REQUEST,
		    why);
		return;
	}
	/* Before anything of the request is looked at. */
	if (listen_http_identify(lh, req, &who) == -1)
		return;
	ep = http_parse_path(httpd_req_path(req), server, sizeof server);
	if (server[0] != '\0' && router_find(lh->relay->router, server) !=
	    NULL && !access_allowed(lh->relay->access, &who, server)) {
		http_refuse(lh, req, &who, server, NULL);
		return;
	}
	switch (ep) {
	case EP_MCP:
		if (cmd == HTTPD_POST)
			http_post(lh, req, server, &who);
		else if (cmd == HTTPD_GET)
			http_get(lh, req, server, &who);
		else if (cmd == HTTPD_DELETE)
			http_delete(lh, req, server, &who);
		else
			http_error(req, HTTP_BADMETHOD, "Method Not Allowed",
			    NULL, JSONRPC_INVALID_REQUEST,
			    "use POST, GET or DELETE");
		return;
	case EP_SSE:
		if (cmd != HTTPD_GET)
			break;
		if (server[0] != '\0' &&
		    router_find(lh->relay->router, server) == NULL)
			break;
		http_legacy_open(lh, req, server, &who);
		return;
	case EP_MESSAGES:
		if (cmd != HTTPD_POST)
			break;
		http_legacy_post(lh, req, server, &who);
		return;
	case EP_NONE:
		break;
	}
	http_error(req, HTTP_NOTFOUND, "Not Found", NULL,
	    JSONRPC_INVALID_REQUEST, "Not Found: MCP is served at /mcp and "
	    "/servers/NAME/mcp (legacy SSE: /sse)");
}

struct listen_http *
listen_http_new(struct relay *relay, const char *host, int port, int fd,
    char *err, size_t errlen)
{
	static const struct httpd_callbacks cb = {
		.accept = listen_http_accept_cb,
		.request = listen_http_request_cb,
		.close = listen_http_close_cb,
	};
	struct listen_http	*lh;

	lh = xcalloc(1, sizeof *lh);
	lh->relay = relay;
	if ((lh->httpd = httpd_new(relay->base, host, port, fd, &cb, lh, err,
	    errlen)) == NULL) {
		free(lh);
		return NULL;
	}
	listen_http_apply_config(lh);
	log_info("listening for MCP on http://%s%s%s:%d/mcp",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    httpd_port(lh->httpd));
	return lh;
}

/* The config's limits, at start and after a reload, for every request
 * read from then on. */
void
listen_http_apply_config(struct listen_http *lh)
{
	const struct config_listen *cl = &lh->relay->cfg->listen;
	struct httpd_limits	 lim;

	lim.max_header_size = (size_t)cl->max_header_size;
	lim.max_body_size = (size_t)cl->max_body_size;
	lim.idle_timeout = cl->idle_timeout;
	lim.read_timeout = cl->request_read_timeout;
	httpd_set_limits(lh->httpd, &lim);
}

int
listen_http_port(const struct listen_http *lh)
{
	return httpd_port(lh->httpd);
}

const struct listen_http_counters *
listen_http_counters(const struct listen_http *lh)
{
	return &lh->counters;
}

void
listen_http_free(struct listen_http *lh)
{
	if (lh == NULL)
		return;
	/* Closes every connection, running our close callback. */
	httpd_free(lh->httpd);
	free(lh);
}
