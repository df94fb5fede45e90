/*
 * The HTTP side of mcprelay-demo-server: a small HTTP/1.1 server on
 * bufferevents (TLS through bufferevent_openssl) serving MCP Streamable HTTP
 * (JSON or SSE replies, sessions, the GET stream with Last-Event-ID) and the
 * legacy HTTP+SSE transport, and failing on demand: statuses, resets,
 * stalls, streams cut short, sessions expired (docs/demo-server.md).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "compat-queue.h"
#include "demo-http.h"
#include "demo-json.h"
#include "log.h"
#include "xmalloc.h"

#define DH_MAX_BODY		(4 * 1024 * 1024)
#define DH_MAX_HEAD		(64 * 1024)
#define DH_MAX_EVENTS		4096	/* replay buffer per session */
#define DH_RESET_DELAY_MS	50	/* between a partial reply and RST */
#define DH_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define DH_REPLY_META		"demo/reply"

enum dh_reply {
	DH_REPLY_JSON,		/* every request answered application/json */
	DH_REPLY_SSE,		/* every request answered with a stream */
	DH_REPLY_TOOLS,		/* streams for tools/call and prompts/get */
};

/* Where a connection is; dh_conn_set_state() is the one way to move. */
enum dh_conn_state {
	DH_HEAD,		/* reading a request's head */
	DH_BODY,		/* reading its body */
	DH_WAITING,		/* a JSON reply is due */
	DH_STREAMING,		/* writing an SSE reply */
	DH_STALLED,		/* --stall: nothing will be answered */
	DH_CLOSING,		/* flush, then close */
	DH_RESETTING,		/* partial reply out, RST on a timer */
};

static const char *const dh_conn_state_names[] = {
	[DH_HEAD] = "head", [DH_BODY] = "body", [DH_WAITING] = "waiting",
	[DH_STREAMING] = "streaming", [DH_STALLED] = "stalled",
	[DH_CLOSING] = "closing", [DH_RESETTING] = "resetting",
};

struct dh_session;
struct dh_stream;

struct dh_conn {
	TAILQ_ENTRY(dh_conn)	 entry;
	struct demo_http	*h;
	struct bufferevent	*bev;
	enum dh_conn_state	 state;
	struct event		*reset;
	char			*method, *target;
	char			*sid, *last_event_id, *accept;
	long			 clen;
	int			 keep_alive;
	struct dh_stream	*st;	/* the reply this connection carries */
};

/*
 * One reply: a POSTed request's (JSON or SSE) or a GET stream.  SSE events
 * are numbered "STREAM-SEQ" and kept in the session for Last-Event-ID; a
 * stream outlives its connection until its response has been sent.
 */
struct dh_stream {
	TAILQ_ENTRY(dh_stream)	 entry;
	struct demo_http	*h;
	struct dh_session	*s;		/* NULL: no session */
	unsigned		 no, seq;
	int			 sse, get, legacy;
	json_object		*id;		/* the request's, else NULL */
	json_object		*token;		/* its progressToken */
	int			 initialize;
	int			 done;		/* response written */
	int			 reset_on_reply;
	long			 close_after;	/* events, -1 = never */
	long			 events;
	struct dh_conn		*conn;		/* NULL while detached */
};

struct dh_event {
	TAILQ_ENTRY(dh_event)	 entry;
	unsigned		 stream, seq;
	char			*text;		/* the whole SSE event */
};

struct dh_session {
	TAILQ_ENTRY(dh_session)	 entry;
	char			 id[64];
	int			 legacy;
	int			 expired;
	long			 requests;
	unsigned		 nstreams;
	struct dh_stream	*get;		/* GET or legacy stream */
	TAILQ_HEAD(, dh_event)	 events;
	size_t			 nevents;
};

/* A request the server sent on a stream: its answer's follow-ups go there. */
struct dh_sreq {
	TAILQ_ENTRY(dh_sreq)	 entry;
	json_object		*id;
	struct dh_stream	*st;
};

struct demo_http {
	struct demo_http_host	 host;
	const struct demo_opts	*o;
	enum dh_reply		 reply;
	struct evconnlistener	*lis;
	SSL_CTX			*ssl;
	int			 log_fd;
	TAILQ_HEAD(, dh_conn)	 conns;
	TAILQ_HEAD(, dh_session) sessions;
	TAILQ_HEAD(, dh_stream)	 streams;
	TAILQ_HEAD(, dh_sreq)	 sreqs;
	struct dh_stream	*cur;		/* the POST being handled */
	unsigned long		 nsessions;
	long			 n503, n429, nreset_before, nreset_during;
	long			 nstall, nclose;
};

static void	dh_conn_free(struct dh_conn *);
static void	dh_conn_next(struct dh_conn *);
static void	dh_stream_free(struct dh_stream *);

/* ---- log of what arrived (--http-log) ----------------------------------- */

/* One write() per line, as for the exec log. */
static void
dh_log(struct demo_http *h, struct dh_conn *c, const char *rpc,
    int status, const char *fault)
{
	struct timespec	 ts;
	json_object	*o;
	char		*line, t[48];

	if (h->log_fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(t, sizeof t, "%lld.%06ld", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000);
	o = jobj("t", json_object_new_double_s(atof(t), t), "method",
	    json_object_new_string(c->method), "path",
	    json_object_new_string(c->target), NULL);
	if (c->sid != NULL)
		json_object_object_add(o, "session",
		    json_object_new_string(c->sid));
	if (c->last_event_id != NULL)
		json_object_object_add(o, "lastEventId",
		    json_object_new_string(c->last_event_id));
	if (rpc != NULL)
		json_object_object_add(o, "rpc", json_object_new_string(rpc));
	json_object_object_add(o, "status", json_object_new_int(status));
	if (fault != NULL)
		json_object_object_add(o, "fault",
		    json_object_new_string(fault));
	xasprintf(&line, "%s\n", json_object_to_json_string_ext(o,
	    DH_JSON_FLAGS));
	if (write(h->log_fd, line, strlen(line)) == -1)
		log_warn("http log");
	free(line);
	json_object_put(o);
}

/* ---- sessions and their replay buffers ---------------------------------- */

static struct dh_session *
dh_session_new(struct demo_http *h, int legacy)
{
	struct dh_session	*s = xcalloc(1, sizeof *s);

	snprintf(s->id, sizeof s->id, "demo-%d-%lu", (int)getpid(),
	    ++h->nsessions);
	s->legacy = legacy;
	TAILQ_INIT(&s->events);
	TAILQ_INSERT_TAIL(&h->sessions, s, entry);
	return s;
}

static struct dh_session *
dh_session_find(struct demo_http *h, const char *id, int legacy)
{
	struct dh_session	*s;

	TAILQ_FOREACH(s, &h->sessions, entry)
		if (id != NULL && s->legacy == legacy &&
		    strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void
dh_session_free(struct demo_http *h, struct dh_session *s)
{
	struct dh_stream	*st, *next;
	struct dh_event		*ev;

	TAILQ_FOREACH_SAFE(st, &h->streams, entry, next)
		if (st->s == s)
			dh_stream_free(st);
	while ((ev = TAILQ_FIRST(&s->events)) != NULL) {
		TAILQ_REMOVE(&s->events, ev, entry);
		free(ev->text);
		free(ev);
	}
	TAILQ_REMOVE(&h->sessions, s, entry);
	free(s);
}

static void
dh_session_store(struct dh_session *s, unsigned stream, unsigned seq,
    const char *text)
{
	struct dh_event	*ev;

	if (s->nevents == DH_MAX_EVENTS) {
		ev = TAILQ_FIRST(&s->events);
		TAILQ_REMOVE(&s->events, ev, entry);
		free(ev->text);
		free(ev);
		s->nevents--;
	}
	ev = xcalloc(1, sizeof *ev);
	ev->stream = stream;
	ev->seq = seq;
	ev->text = xstrdup(text);
	TAILQ_INSERT_TAIL(&s->events, ev, entry);
	s->nevents++;
}

/* ---- connections -------------------------------------------------------- */

static void
dh_conn_set_state(struct dh_conn *c, enum dh_conn_state state)
{
	if (c->state != state)
		log_debug("http: connection %s -> %s",
		    dh_conn_state_names[c->state], dh_conn_state_names[state]);
	c->state = state;
}

static void
dh_conn_clear_request(struct dh_conn *c)
{
	free(c->method);
	free(c->target);
	free(c->sid);
	free(c->last_event_id);
	free(c->accept);
	c->method = c->target = c->sid = c->last_event_id = c->accept = NULL;
	c->clen = 0;
}

static void
dh_conn_free(struct dh_conn *c)
{
	if (c == NULL)
		return;
	if (c->st != NULL)
		c->st->conn = NULL;
	TAILQ_REMOVE(&c->h->conns, c, entry);
	if (c->reset != NULL)
		event_free(c->reset);
	bufferevent_free(c->bev);
	dh_conn_clear_request(c);
	free(c);
}

/* SO_LINGER 0 makes close() send RST: the client sees a reset. */
static void
dh_conn_reset(struct dh_conn *c)
{
	struct linger	 l = { 1, 0 };
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);

	if (fd != -1 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &l,
	    sizeof l) == -1)
		log_warn("SO_LINGER");
	dh_conn_free(c);
}

static void
dh_conn_reset_cb(evutil_socket_t fd, short what, void *arg)
{
	dh_conn_reset(arg);
}

/* A partial reply is out; the reset follows once it had time to arrive. */
static void
dh_conn_reset_later(struct dh_conn *c)
{
	struct timeval	 tv = { 0, DH_RESET_DELAY_MS * 1000 };

	if (c->st != NULL)
		c->st->conn = NULL;
	c->st = NULL;
	dh_conn_set_state(c, DH_RESETTING);
	bufferevent_disable(c->bev, EV_READ);
	c->reset = evtimer_new(c->h->host.base, dh_conn_reset_cb, c);
	evtimer_add(c->reset, &tv);
}

static void
dh_reply_head(struct dh_conn *c, int code, const char *reason,
    const char *type, long len, const char *extra)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", code, reason);
	if (type != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", type);
	if (len >= 0)
		evbuffer_add_printf(out, "Content-Length: %ld\r\n", len);
	else
		evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n"
		    "Cache-Control: no-cache\r\n");
	if (!c->keep_alive)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add_printf(out, "%s\r\n", extra != NULL ? extra : "");
}

/* A whole reply; the connection then reads its next request. */
static void
dh_reply(struct dh_conn *c, int code, const char *reason, const char *type,
    const char *body, const char *extra)
{
	size_t	 len = body != NULL ? strlen(body) : 0;

	dh_reply_head(c, code, reason, body != NULL ? type : NULL, (long)len,
	    extra);
	if (len > 0)
		evbuffer_add(bufferevent_get_output(c->bev), body, len);
	dh_conn_next(c);
}

static void
dh_reply_rpc_error(struct dh_conn *c, int status, const char *reason,
    int code, const char *message)
{
	char	 body[256];

	snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":null,"
	    "\"error\":{\"code\":%d,\"message\":\"%s\"}}", code, message);
	dh_reply(c, status, reason, "application/json", body, NULL);
}

static void
dh_chunk(struct dh_conn *c, const char *text, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, text, len);
	evbuffer_add(out, "\r\n", 2);
}

/* Ends a chunked reply and detaches it: the connection is free again. */
static void
dh_conn_end_stream(struct dh_conn *c)
{
	evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
	if (c->st != NULL)
		c->st->conn = NULL;
	c->st = NULL;
	dh_conn_next(c);
}

/* ---- streams ------------------------------------------------------------ */

static struct dh_stream *
dh_stream_new(struct demo_http *h, struct dh_session *s, int sse)
{
	struct dh_stream	*st = xcalloc(1, sizeof *st);

	st->h = h;
	st->s = s;
	st->sse = sse;
	st->close_after = -1;
	st->no = s != NULL ? ++s->nstreams : 0;
	TAILQ_INSERT_TAIL(&h->streams, st, entry);
	return st;
}

static void
dh_stream_free(struct dh_stream *st)
{
	struct demo_http	*h;
	struct dh_sreq		*r, *next;

	if (st == NULL)
		return;
	h = st->h;
	TAILQ_FOREACH_SAFE(r, &h->sreqs, entry, next) {
		if (r->st == st) {
			TAILQ_REMOVE(&h->sreqs, r, entry);
			json_object_put(r->id);
			free(r);
		}
	}
	if (h->cur == st)
		h->cur = NULL;
	if (st->s != NULL && st->s->get == st)
		st->s->get = NULL;
	if (st->conn != NULL)
		st->conn->st = NULL;
	TAILQ_REMOVE(&h->streams, st, entry);
	json_object_put(st->id);
	json_object_put(st->token);
	free(st);
}

/* Status line and headers of an SSE reply, and the priming event. */
static void
dh_stream_open(struct dh_stream *st, struct dh_conn *c, const char *extra)
{
	struct demo_http	*h = st->h;
	char			*prime;

	st->conn = c;
	c->st = st;
	dh_conn_set_state(c, DH_STREAMING);
	dh_reply_head(c, 200, "OK", "text/event-stream", -1, extra);
	if (st->legacy)
		return;
	if (h->o->sse_retry_ms >= 0)
		xasprintf(&prime, "id: %u-%u\nretry: %ld\ndata: \n\n", st->no,
		    st->seq, h->o->sse_retry_ms);
	else
		xasprintf(&prime, "id: %u-%u\ndata: \n\n", st->no, st->seq);
	dh_chunk(c, prime, strlen(prime));
	free(prime);
}

/* Cuts a stream short (--sse-close-after): a clean end, no response yet. */
static void
dh_stream_cut(struct dh_stream *st)
{
	struct dh_conn	*c = st->conn;

	log_info("fault: closing an SSE stream after %ld events",
	    st->events);
	dh_conn_end_stream(c);
	if (st->legacy && st->s != NULL)	/* no resuming: it is gone */
		dh_session_free(st->h, st->s);
}

/* One message on a stream, stored for replay when it has ids. */
static void
dh_stream_event(struct dh_stream *st, const char *line)
{
	char	*text;

	if (st->legacy)
		xasprintf(&text, "event: message\ndata: %s\n\n", line);
	else {
		st->seq++;
		xasprintf(&text, "id: %u-%u\ndata: %s\n\n", st->no, st->seq,
		    line);
		if (st->s != NULL)
			dh_session_store(st->s, st->no, st->seq, text);
	}
	if (st->conn != NULL)
		dh_chunk(st->conn, text, strlen(text));
	free(text);
	st->events++;
}

/* The response of a stream's request. */
static void
dh_stream_respond(struct dh_stream *st, const char *line)
{
	struct dh_conn	*c = st->conn;
	char		 extra[128] = "", *text;
	size_t		 len = strlen(line);

	st->done = 1;
	if (st->initialize && st->s != NULL)
		snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\n",
		    st->s->id);
	if (c != NULL && st->reset_on_reply) {
		/* Half of the response, then RST.  An SSE event is stored
		 * whole first, as a server with an event store would. */
		log_info("fault: reset in the middle of a response");
		if (!st->sse) {
			dh_reply_head(c, 200, "OK", "application/json",
			    (long)len, extra);
			evbuffer_add(bufferevent_get_output(c->bev), line,
			    len / 2);
		} else {
			xasprintf(&text, "id: %u-%u\ndata: %s\n\n", st->no,
			    ++st->seq, line);
			if (st->s != NULL)
				dh_session_store(st->s, st->no, st->seq, text);
			evbuffer_add_printf(bufferevent_get_output(c->bev),
			    "%zx\r\n", strlen(text));
			evbuffer_add(bufferevent_get_output(c->bev), text,
			    strlen(text) / 2);
			free(text);
		}
		dh_conn_reset_later(c);
	} else if (!st->sse) {
		if (c != NULL) {
			c->st = NULL;
			st->conn = NULL;
			dh_reply(c, 200, "OK", "application/json", line,
			    extra);
		}
	} else {
		dh_stream_event(st, line);
		if (st->conn != NULL)
			dh_conn_end_stream(st->conn);
	}
	dh_stream_free(st);
}

/* The stream a response belongs to. */
static struct dh_stream *
dh_stream_awaiting(struct demo_http *h, json_object *id)
{
	struct dh_stream	*st;

	if (h->cur != NULL && h->cur->id != NULL &&
	    json_object_equal(h->cur->id, id))
		return h->cur;
	TAILQ_FOREACH(st, &h->streams, entry)
		if (st->id != NULL && !st->done &&
		    json_object_equal(st->id, id))
			return st;
	return NULL;
}

static struct dh_stream *
dh_stream_of_token(struct demo_http *h, json_object *token)
{
	struct dh_stream	*st;

	TAILQ_FOREACH(st, &h->streams, entry)
		if (st->token != NULL && !st->done &&
		    json_object_equal(st->token, token))
			return st;
	return NULL;
}

/* Where a message that is not a response goes; NULL: nowhere. */
static struct dh_stream *
dh_route(struct demo_http *h, json_object *related, json_object *msg)
{
	struct dh_stream	*st = NULL;
	struct dh_session	*s;
	json_object		*token;

	token = jget(jget(msg, "params"), "progressToken");
	if (related != NULL)
		st = dh_stream_awaiting(h, related);
	else if (token != NULL && jget(msg, "method") != NULL &&
	    strcmp(jstr(msg, "method"), "notifications/progress") == 0)
		st = dh_stream_of_token(h, token);
	if (st == NULL)
		st = h->cur;
	if (st == NULL)
		return NULL;
	if (st->legacy && st->s != NULL)
		return st->s->get;
	if (st->sse && !st->done && !st->get)
		return st;
	s = st->s;
	return s != NULL ? s->get : NULL;
}

void
demo_http_send(struct demo_http *h, json_object *related, const char *line,
    int is_response)
{
	struct dh_stream	*st;
	struct dh_sreq		*r;
	json_object		*msg, *id;

	if (is_response) {
		if ((st = related == NULL ? h->cur :
		    dh_stream_awaiting(h, related)) == NULL) {
			log_debug("http: no request waits for %s", line);
			return;
		}
		if (st->legacy && st->reset_on_reply && st->s != NULL) {
			/* The legacy stream drops with the response in it. */
			log_info("fault: reset the stream instead of a "
			    "response");
			if (st->s->get != NULL && st->s->get->conn != NULL)
				dh_conn_reset(st->s->get->conn);
			dh_session_free(h, st->s);
		} else if (st->legacy) {
			if (st->s != NULL && st->s->get != NULL)
				dh_stream_event(st->s->get, line);
			dh_stream_free(st);
		} else
			dh_stream_respond(st, line);
		return;
	}
	if ((msg = json_tokener_parse(line)) == NULL)
		return;
	if ((st = dh_route(h, related, msg)) == NULL)
		log_debug("http: no stream for %s", line);
	else {
		if (jget(msg, "method") != NULL &&
		    (id = jget(msg, "id")) != NULL) {
			r = xcalloc(1, sizeof *r);
			r->id = json_object_get(id);
			r->st = st;
			TAILQ_INSERT_TAIL(&h->sreqs, r, entry);
		}
		dh_stream_event(st, line);
		if (st->close_after >= 0 && st->events >= st->close_after &&
		    st->conn != NULL)
			dh_stream_cut(st);
	}
	json_object_put(msg);
}

/* ---- faults ------------------------------------------------------------- */

/* The name a fault is aimed at: the method, or the tool of a tools/call. */
static int
dh_fault_applies(struct demo_http *h, json_object *msg)
{
	const char	*m = jstr(msg, "method"), *tool;

	if (m == NULL || jget(msg, "id") == NULL)
		return 0;
	if (h->o->fault_method == NULL)
		return 1;
	tool = strcmp(m, "tools/call") == 0 ?
	    jstr(jget(msg, "params"), "name") : NULL;
	return strcmp(h->o->fault_method, m) == 0 ||
	    (tool != NULL && strcmp(h->o->fault_method, tool) == 0);
}

/*
 * Faults that refuse a request before it runs: 1 when one was applied (the
 * connection is answered, reset or stalled), else 0.
 */
static int
dh_fault_refuse(struct demo_http *h, struct dh_conn *c, json_object *msg)
{
	const char	*rpc = jstr(msg, "method");
	char		 extra[64];

	if (!dh_fault_applies(h, msg))
		return 0;
	if (h->nstall < h->o->stall) {
		h->nstall++;
		log_info("fault: stalling %s", rpc);
		dh_log(h, c, rpc, 0, "stall");
		dh_conn_set_state(c, DH_STALLED);
		return 1;
	}
	if (h->nreset_before < h->o->reset_before) {
		h->nreset_before++;
		log_info("fault: reset before %s", rpc);
		dh_log(h, c, rpc, 0, "reset-before");
		dh_conn_reset(c);
		return 1;
	}
	if (h->n503 < h->o->http_503) {
		h->n503++;
		dh_log(h, c, rpc, 503, "503");
		if (h->o->retry_after >= 0)
			snprintf(extra, sizeof extra, "Retry-After: %ld\r\n",
			    h->o->retry_after);
		dh_reply(c, 503, "Service Unavailable", NULL, NULL,
		    h->o->retry_after >= 0 ? extra : NULL);
		return 1;
	}
	if (h->n429 < h->o->http_429) {
		h->n429++;
		dh_log(h, c, rpc, 429, "429");
		snprintf(extra, sizeof extra, "Retry-After: %ld\r\n",
		    h->o->retry_after >= 0 ? h->o->retry_after : 1);
		dh_reply(c, 429, "Too Many Requests", NULL, NULL, extra);
		return 1;
	}
	return 0;
}

/* Faults on the reply of a request that runs. */
static void
dh_fault_reply(struct demo_http *h, struct dh_stream *st, json_object *msg)
{
	if (!dh_fault_applies(h, msg))
		return;
	if (h->nreset_during < h->o->reset_during) {
		h->nreset_during++;
		st->reset_on_reply = 1;
	}
	if (st->sse && h->nclose < h->o->sse_close_times &&
	    h->o->sse_close_after >= 0) {
		h->nclose++;
		st->close_after = h->o->sse_close_after;
	}
}

/* ---- requests ----------------------------------------------------------- */

static enum dh_reply
dh_reply_kind(struct demo_http *h, json_object *msg)
{
	const char	*want = jstr(jget(jget(msg, "params"), "_meta"),
			    DH_REPLY_META);
	const char	*m = jstr(msg, "method");

	if (want != NULL)
		return strcmp(want, "sse") == 0 ? DH_REPLY_SSE : DH_REPLY_JSON;
	if (h->reply == DH_REPLY_TOOLS)
		return m != NULL && (strcmp(m, "tools/call") == 0 ||
		    strcmp(m, "prompts/get") == 0) ? DH_REPLY_SSE :
		    DH_REPLY_JSON;
	return h->reply;
}

/* Hands a message to the server with st as the context of what it sends. */
static void
dh_dispatch(struct demo_http *h, struct dh_stream *st, json_object *msg)
{
	struct dh_stream	*saved = h->cur;

	h->cur = st;
	h->host.message(h->host.arg, msg);
	if (h->cur == st)
		h->cur = saved;
}

/* A POSTed response: what the server sends next goes where it asked. */
static void
dh_client_response(struct demo_http *h, json_object *msg)
{
	struct dh_sreq		*r;
	struct dh_stream	*st = NULL;
	json_object		*id = jget(msg, "id");

	TAILQ_FOREACH(r, &h->sreqs, entry) {
		if (id != NULL && json_object_equal(r->id, id)) {
			st = r->st;
			TAILQ_REMOVE(&h->sreqs, r, entry);
			json_object_put(r->id);
			free(r);
			break;
		}
	}
	dh_dispatch(h, st, msg);
}

static int
dh_parse(struct dh_conn *c, json_object **msg)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	json_tokener	*tok;
	const char	*text;
	int		 ok;

	text = (const char *)evbuffer_pullup(in, c->clen);
	tok = json_tokener_new();
	*msg = text == NULL ? NULL : json_tokener_parse_ex(tok, text,
	    (int)c->clen);
	ok = *msg != NULL &&
	    json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(*msg, json_type_object);
	json_tokener_free(tok);
	evbuffer_drain(in, c->clen);
	if (!ok) {
		json_object_put(*msg);
		*msg = NULL;
		return -1;
	}
	return 0;
}

static void
dh_post_mcp(struct demo_http *h, struct dh_conn *c, json_object *msg)
{
	struct dh_session	*s = NULL;
	struct dh_stream	*st;
	const char		*rpc = jstr(msg, "method");
	int			 request = rpc != NULL && jget(msg, "id") != NULL;
	int			 init = request && strcmp(rpc, "initialize") == 0;

	if (!init && c->sid != NULL &&
	    ((s = dh_session_find(h, c->sid, 0)) == NULL || s->expired)) {
		dh_log(h, c, rpc, 404, s != NULL ? "expired" : NULL);
		dh_reply_rpc_error(c, 404, "Not Found", -32001,
		    "Session not found");
		return;
	}
	if (request && s != NULL && h->o->expire_after > 0 &&
	    dh_fault_applies(h, msg) && ++s->requests > h->o->expire_after) {
		log_info("fault: session %s expired after %ld requests",
		    s->id, h->o->expire_after);
		s->expired = 1;
		dh_log(h, c, rpc, 404, "expired");
		dh_reply_rpc_error(c, 404, "Not Found", -32001,
		    "Session not found");
		return;
	}
	if (request && dh_fault_refuse(h, c, msg))
		return;
	if (!request) {
		dh_log(h, c, rpc != NULL ? rpc : "response", 202, NULL);
		dh_reply(c, 202, "Accepted", NULL, NULL, NULL);
		if (rpc != NULL)
			dh_dispatch(h, NULL, msg);
		else
			dh_client_response(h, msg);
		return;
	}
	if (init) {
		s = dh_session_new(h, 0);
		if (dh_fault_applies(h, msg))
			s->requests = 1;
	}
	st = dh_stream_new(h, s, dh_reply_kind(h, msg) == DH_REPLY_SSE);
	st->id = json_object_get(jget(msg, "id"));
	st->token = json_object_get(jget(jget(jget(msg, "params"), "_meta"),
	    "progressToken"));
	st->initialize = init;
	dh_fault_reply(h, st, msg);
	dh_log(h, c, rpc, 200, st->reset_on_reply ? "reset-during" :
	    st->close_after >= 0 ? "sse-close" : NULL);
	if (st->sse) {
		char	 extra[128] = "";

		if (init)
			snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\n",
			    s->id);
		st->initialize = 0;	/* the header went with the stream */
		dh_stream_open(st, c, extra);
		if (st->close_after == 0)
			dh_stream_cut(st);
	} else {
		st->conn = c;
		c->st = st;
		dh_conn_set_state(c, DH_WAITING);
	}
	dh_dispatch(h, st, msg);
}

/* Last-Event-ID "STREAM-SEQ": what a stream sent after it, then the rest. */
static void
dh_get_resume(struct demo_http *h, struct dh_conn *c, struct dh_session *s)
{
	struct dh_stream	*st;
	struct dh_event		*ev;
	unsigned		 no, seq;

	if (sscanf(c->last_event_id, "%u-%u", &no, &seq) != 2) {
		dh_log(h, c, NULL, 400, NULL);
		dh_reply(c, 400, "Bad Request", NULL, NULL, NULL);
		return;
	}
	TAILQ_FOREACH(st, &h->streams, entry)
		if (st->s == s && st->no == no && st->sse)
			break;
	if (st != NULL && st->conn != NULL)	/* the client gave up on it */
		dh_conn_end_stream(st->conn);
	dh_log(h, c, NULL, 200, NULL);
	dh_reply_head(c, 200, "OK", "text/event-stream", -1, NULL);
	dh_conn_set_state(c, DH_STREAMING);
	TAILQ_FOREACH(ev, &s->events, entry)
		if (ev->stream == no && ev->seq > seq)
			dh_chunk(c, ev->text, strlen(ev->text));
	if (st == NULL) {		/* answered already: all replayed */
		c->st = NULL;
		dh_conn_end_stream(c);
		return;
	}
	st->conn = c;
	c->st = st;
}

static void
dh_get_mcp(struct demo_http *h, struct dh_conn *c)
{
	struct dh_session	*s;
	struct dh_stream	*st;

	if (c->sid == NULL) {
		dh_log(h, c, NULL, 400, NULL);
		dh_reply(c, 400, "Bad Request", NULL, NULL, NULL);
		return;
	}
	if ((s = dh_session_find(h, c->sid, 0)) == NULL || s->expired) {
		dh_log(h, c, NULL, 404, s != NULL ? "expired" : NULL);
		dh_reply(c, 404, "Not Found", NULL, NULL, NULL);
		return;
	}
	if (c->last_event_id != NULL) {
		dh_get_resume(h, c, s);
		return;
	}
	if (s->get != NULL && s->get->conn != NULL) {
		dh_log(h, c, NULL, 409, NULL);
		dh_reply(c, 409, "Conflict", NULL, NULL, NULL);
		return;
	}
	dh_stream_free(s->get);
	st = dh_stream_new(h, s, 1);
	st->get = 1;
	s->get = st;
	dh_log(h, c, NULL, 200, NULL);
	dh_stream_open(st, c, NULL);
}

static void
dh_delete_mcp(struct demo_http *h, struct dh_conn *c)
{
	struct dh_session	*s = dh_session_find(h, c->sid, 0);

	dh_log(h, c, NULL, s != NULL ? 200 : 404, NULL);
	if (s == NULL) {
		dh_reply(c, 404, "Not Found", NULL, NULL, NULL);
		return;
	}
	dh_session_free(h, s);
	dh_reply(c, 200, "OK", NULL, NULL, NULL);
}

/* Legacy HTTP+SSE: the stream says where to POST. */
static void
dh_get_sse(struct demo_http *h, struct dh_conn *c)
{
	struct dh_session	*s = dh_session_new(h, 1);
	struct dh_stream	*st = dh_stream_new(h, s, 1);
	char			*ev;

	st->get = st->legacy = 1;
	s->get = st;
	dh_log(h, c, NULL, 200, NULL);
	dh_stream_open(st, c, NULL);
	xasprintf(&ev, "event: endpoint\ndata: /messages?sessionId=%s\n\n",
	    s->id);
	dh_chunk(c, ev, strlen(ev));
	free(ev);
	if (h->nclose < h->o->sse_close_times && h->o->sse_close_after >= 0) {
		h->nclose++;
		st->close_after = h->o->sse_close_after;
		if (st->close_after == 0)
			dh_stream_cut(st);
	}
}

static void
dh_post_messages(struct demo_http *h, struct dh_conn *c, json_object *msg)
{
	struct dh_session	*s;
	struct dh_stream	*st = NULL;
	const char		*q = strchr(c->target, '?');
	const char		*rpc = jstr(msg, "method");

	s = q != NULL && strncmp(q, "?sessionId=", 11) == 0 ?
	    dh_session_find(h, q + 11, 1) : NULL;
	if (s == NULL || s->get == NULL) {
		dh_log(h, c, rpc, 404, NULL);
		dh_reply(c, 404, "Not Found", "text/plain",
		    "unknown session\n", NULL);
		return;
	}
	if (rpc != NULL && jget(msg, "id") != NULL &&
	    dh_fault_refuse(h, c, msg))
		return;
	dh_log(h, c, rpc != NULL ? rpc : "response", 202, NULL);
	dh_reply(c, 202, "Accepted", "text/plain", "Accepted\n", NULL);
	if (rpc != NULL && jget(msg, "id") != NULL) {
		st = dh_stream_new(h, s, 0);
		st->legacy = 1;
		st->id = json_object_get(jget(msg, "id"));
		if (dh_fault_applies(h, msg) &&
		    h->nreset_during < h->o->reset_during) {
			h->nreset_during++;
			st->reset_on_reply = 1;
		}
	}
	dh_dispatch(h, st != NULL ? st : s->get, msg);
}

static void
dh_handle(struct demo_http *h, struct dh_conn *c)
{
	char		 path[256];
	json_object	*msg;
	size_t		 n = strcspn(c->target, "?");
	int		 post = strcmp(c->method, "POST") == 0;

	snprintf(path, sizeof path, "%.*s", (int)(n < 255 ? n : 255),
	    c->target);
	if (post && dh_parse(c, &msg) == -1) {
		dh_log(h, c, NULL, 400, NULL);
		dh_reply_rpc_error(c, 400, "Bad Request", -32700,
		    "parse error");
		return;
	}
	if (!post) {
		msg = NULL;
		evbuffer_drain(bufferevent_get_input(c->bev), c->clen);
	}
	if (strcmp(path, "/mcp") == 0 && !h->o->sse) {
		if (post)
			dh_post_mcp(h, c, msg);
		else if (strcmp(c->method, "GET") == 0)
			dh_get_mcp(h, c);
		else if (strcmp(c->method, "DELETE") == 0)
			dh_delete_mcp(h, c);
		else
			dh_reply(c, 405, "Method Not Allowed", NULL, NULL,
			    "Allow: GET, POST, DELETE\r\n");
	} else if (strcmp(path, "/sse") == 0 &&
	    strcmp(c->method, "GET") == 0)
		dh_get_sse(h, c);
	else if (strcmp(path, "/messages") == 0 && post)
		dh_post_messages(h, c, msg);
	else {
		dh_log(h, c, NULL, 404, NULL);
		dh_reply(c, 404, "Not Found", NULL, NULL, NULL);
	}
	json_object_put(msg);
}

/* ---- reading requests --------------------------------------------------- */

static void
dh_header(struct dh_conn *c, char *line)
{
	char	*v = strchr(line, ':');
	char	**slot = NULL;

	if (v == NULL)
		return;
	*v++ = '\0';
	v += strspn(v, " \t");
	if (strcasecmp(line, "Content-Length") == 0)
		c->clen = strtol(v, NULL, 10);
	else if (strcasecmp(line, "Mcp-Session-Id") == 0)
		slot = &c->sid;
	else if (strcasecmp(line, "Last-Event-ID") == 0)
		slot = &c->last_event_id;
	else if (strcasecmp(line, "Accept") == 0)
		slot = &c->accept;
	else if (strcasecmp(line, "Connection") == 0)
		c->keep_alive = strcasecmp(v, "close") != 0;
	else if (strcasecmp(line, "Transfer-Encoding") == 0)
		c->clen = -2;	/* chunked requests are not taken */
	if (slot != NULL) {
		free(*slot);
		*slot = xstrdup(v);
	}
}

/* 1 when a whole head is in, 0 for more, -1 when it is refused. */
static int
dh_read_head(struct dh_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	char		*line, *sp1, *sp2;
	size_t		 n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (c->method == NULL) {
			if (n == 0) {
				free(line);
				continue;	/* a stray CRLF */
			}
			if ((sp1 = strchr(line, ' ')) == NULL ||
			    (sp2 = strchr(sp1 + 1, ' ')) == NULL) {
				free(line);
				return -1;
			}
			*sp1 = *sp2 = '\0';
			c->method = xstrdup(line);
			c->target = xstrdup(sp1 + 1);
			c->keep_alive = strcmp(sp2 + 1, "HTTP/1.0") != 0;
		} else if (n == 0) {
			free(line);
			return 1;
		} else
			dh_header(c, line);
		free(line);
	}
	return evbuffer_get_length(in) > DH_MAX_HEAD ? -1 : 0;
}

/* Serves what the connection has read, one request at a time. */
static void
dh_conn_read(struct dh_conn *c)
{
	const char	*refusal = NULL;
	int		 rc, code = 0;

	if (c->state == DH_HEAD) {
		if ((rc = dh_read_head(c)) == 0)
			return;
		if (rc == -1) {
			code = 400;
			refusal = "Bad Request";
		} else if (c->clen < 0) {	/* chunked, or a bad length */
			code = 411;
			refusal = "Length Required";
		} else if (c->clen > DH_MAX_BODY) {
			code = 413;
			refusal = "Payload Too Large";
		}
		if (refusal != NULL) {
			c->keep_alive = 0;
			dh_reply(c, code, refusal, NULL, NULL, NULL);
			return;
		}
		dh_conn_set_state(c, DH_BODY);
	}
	if (c->state == DH_BODY &&
	    (long)evbuffer_get_length(bufferevent_get_input(c->bev)) >=
	    c->clen)
		dh_handle(c->h, c);	/* may free c (a reset) */
}

/* After a whole reply: the next request, or close. */
static void
dh_conn_next(struct dh_conn *c)
{
	if (!c->keep_alive) {
		dh_conn_set_state(c, DH_CLOSING);
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			dh_conn_free(c);
		return;
	}
	dh_conn_clear_request(c);
	dh_conn_set_state(c, DH_HEAD);
	/* A pipelined request is served from the loop, not from here. */
	bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

static void
dh_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct dh_conn	*c = arg;

	if (c->state == DH_HEAD || c->state == DH_BODY)
		dh_conn_read(c);
	else if (c->state == DH_STALLED)
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
dh_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct dh_conn	*c = arg;

	if (c->state == DH_CLOSING)
		dh_conn_free(c);
}

static void
dh_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dh_conn		*c = arg;
	struct demo_http	*h = c->h;
	struct dh_session	*s;
	unsigned long		 e;
	char			 buf[256];

	if (what & BEV_EVENT_CONNECTED)
		return;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) == 0)
			continue;	/* a system error, not OpenSSL's */
		ERR_error_string_n(e, buf, sizeof buf);
		log_info("tls: %s", buf);
	}
	s = c->st != NULL && c->st->legacy ? c->st->s : NULL;
	dh_conn_free(c);
	if (s != NULL)		/* a legacy session lives as its stream */
		dh_session_free(h, s);
}

static void
dh_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct demo_http	*h = arg;
	struct dh_conn		*c = xcalloc(1, sizeof *c);
	SSL			*ssl;

	c->h = h;
	c->keep_alive = 1;
	if (h->ssl != NULL) {
		if ((ssl = SSL_new(h->ssl)) == NULL)
			fatalx("SSL_new");
		c->bev = bufferevent_openssl_socket_new(h->host.base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	} else
		c->bev = bufferevent_socket_new(h->host.base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatalx("bufferevent");
	TAILQ_INSERT_TAIL(&h->conns, c, entry);
	bufferevent_setcb(c->bev, dh_conn_read_cb, dh_conn_write_cb,
	    dh_conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- setting up --------------------------------------------------------- */

static int
dh_tls_setup(struct demo_http *h)
{
	const struct demo_opts	*o = h->o;
	unsigned long		 e;

	if (o->tls_cert == NULL && o->tls_key == NULL)
		return 0;
	if (o->tls_cert == NULL || o->tls_key == NULL) {
		log_warnx("--tls-cert and --tls-key go together");
		return 2;
	}
	h->ssl = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(h->ssl, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(h->ssl, o->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(h->ssl, o->tls_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(h->ssl) != 1) {
		e = ERR_get_error();
		log_warnx("tls: %s, %s: %s", o->tls_cert, o->tls_key,
		    ERR_reason_error_string(e));
		return 1;
	}
	return 0;
}

static int
dh_listen(struct demo_http *h)
{
	struct addrinfo		 hints, *ai = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	char			*host, *colon, *end, *name;
	long			 port;
	int			 rc = 0, gai;

	host = xstrdup(h->o->http);
	if ((colon = strrchr(host, ':')) == NULL || colon == host) {
		log_warnx("--http %s: expected HOST:PORT", h->o->http);
		free(host);
		return 2;
	}
	*colon = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535) {
		log_warnx("--http %s: bad port", h->o->http);
		free(host);
		return 2;
	}
	name = host;
	if (name[0] == '[' && colon[-1] == ']') {
		name++;
		colon[-1] = '\0';
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(name, colon + 1, &hints, &ai)) != 0) {
		log_warnx("--http %s: %s", h->o->http, gai_strerror(gai));
		free(host);
		return 1;
	}
	h->lis = evconnlistener_new_bind(h->host.base, dh_accept_cb, h,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    128, ai->ai_addr, (int)ai->ai_addrlen);
	if (h->lis == NULL) {
		log_warn("--http %s", h->o->http);
		rc = 1;
	} else if (getsockname(evconnlistener_get_fd(h->lis),
	    (struct sockaddr *)&ss, &sslen) == 0) {
		port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
		log_info("listening on %s://%s%s%s:%ld%s",
		    h->ssl != NULL ? "https" : "http",
		    ss.ss_family == AF_INET6 ? "[" : "", name,
		    ss.ss_family == AF_INET6 ? "]" : "", port,
		    h->o->sse ? "/sse" : "/mcp");
	}
	freeaddrinfo(ai);
	free(host);
	return rc;
}

struct demo_http *
demo_http_new(const struct demo_http_host *host, const struct demo_opts *o,
    int *status)
{
	struct demo_http	*h = xcalloc(1, sizeof *h);

	h->host = *host;
	h->o = o;
	h->log_fd = -1;
	TAILQ_INIT(&h->conns);
	TAILQ_INIT(&h->sessions);
	TAILQ_INIT(&h->streams);
	TAILQ_INIT(&h->sreqs);
	if (o->http_reply == NULL || strcmp(o->http_reply, "json") == 0)
		h->reply = DH_REPLY_JSON;
	else if (strcmp(o->http_reply, "sse") == 0)
		h->reply = DH_REPLY_SSE;
	else if (strcmp(o->http_reply, "tools") == 0)
		h->reply = DH_REPLY_TOOLS;
	else {
		log_warnx("--http-reply %s: expected json, sse or tools",
		    o->http_reply);
		*status = 2;
		demo_http_free(h);
		return NULL;
	}
	if (o->http_log != NULL && (h->log_fd = open(o->http_log,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		log_warn("%s", o->http_log);
		*status = 1;
		demo_http_free(h);
		return NULL;
	}
	if ((*status = dh_tls_setup(h)) != 0 || (*status = dh_listen(h)) != 0) {
		demo_http_free(h);
		return NULL;
	}
	return h;
}

void
demo_http_shutdown(struct demo_http *h)
{
	struct dh_conn	*c, *next;

	TAILQ_FOREACH_SAFE(c, &h->conns, entry, next) {
		if (c->state == DH_WAITING) {
			c->keep_alive = 0;
			if (c->st != NULL)
				c->st->conn = NULL;
			c->st = NULL;
			dh_reply(c, 503, "Service Unavailable", NULL, NULL,
			    NULL);
		} else if (c->state == DH_STREAMING) {
			c->keep_alive = 0;
			dh_conn_end_stream(c);
		}
	}
	if (h->lis != NULL)
		evconnlistener_disable(h->lis);
}

int
demo_http_json_only(const struct demo_http *h)
{
	return h->reply == DH_REPLY_JSON && !h->o->sse;
}

void
demo_http_free(struct demo_http *h)
{
	struct dh_sreq	*r;

	if (h == NULL)
		return;
	while (!TAILQ_EMPTY(&h->conns))
		dh_conn_free(TAILQ_FIRST(&h->conns));
	while (!TAILQ_EMPTY(&h->sessions))
		dh_session_free(h, TAILQ_FIRST(&h->sessions));
	while (!TAILQ_EMPTY(&h->streams))
		dh_stream_free(TAILQ_FIRST(&h->streams));
	while ((r = TAILQ_FIRST(&h->sreqs)) != NULL) {
		TAILQ_REMOVE(&h->sreqs, r, entry);
		json_object_put(r->id);
		free(r);
	}
	if (h->lis != NULL)
		evconnlistener_free(h->lis);
	SSL_CTX_free(h->ssl);
	if (h->log_fd != -1)
		close(h->log_fd);
	free(h);
}
