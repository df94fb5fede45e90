/*
 * The MCP listener on a Unix socket.  Set-up follows OpenSMTPD control.c
 * (refuse a live socket, replace a stale one, bind under a umask); each
 * connection is one session speaking NDJSON, and output limits make sure a
 * client that stops reading can neither stall nor grow the daemon.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "access.h"
#include "config.h"
#include "errors.h"
#include "jsonrpc.h"
#include "jsonscan.h"
#include "listen-unix.h"
#include "log.h"
#include "ndjson.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "sockfile.h"
#include "stream.h"
#include "xmalloc.h"

/* How long accepting pauses after accept() fails (EMFILE and the like). */
#define LISTEN_UNIX_ACCEPT_PAUSE	1
/* How long a refused client has to close after reading why. */
#define LISTEN_UNIX_REFUSED_LINGER	1

enum listen_unix_conn_state {
	LISTEN_UNIX_CONN_OPEN,		/* reading and writing */
	LISTEN_UNIX_CONN_PAUSED,	/* output over pause_output: not
					   reading until it is all sent */
	LISTEN_UNIX_CONN_FLUSHING,	/* client sent EOF: not reading;
					   closed once its requests are
					   answered and the output sent */
	LISTEN_UNIX_CONN_REFUSED,	/* access refused: the error goes
					   out, then our side is shut down;
					   input is dropped until the client
					   closes (or the linger timer), so
					   that it reads the error instead of
					   a reset for what it sent unread */
	LISTEN_UNIX_CONN_DEAD,		/* nothing in or out; ev_free will
					   free it from the event loop */
};

static const char *const listen_unix_conn_state_names[] = {
	[LISTEN_UNIX_CONN_OPEN] = "open",
	[LISTEN_UNIX_CONN_PAUSED] = "paused",
	[LISTEN_UNIX_CONN_FLUSHING] = "flushing",
	[LISTEN_UNIX_CONN_REFUSED] = "refused",
	[LISTEN_UNIX_CONN_DEAD] = "dead",
};

struct listen_unix_conn {
	struct listen_unix		*listener;
	uint64_t			 id;
	enum listen_unix_conn_state	 state;
	const char			*why;	/* why it is closing */
	pid_t				 pid;	/* peer; -1 if unknown */
	uid_t				 uid;	/* (uid_t)-1 if unknown */
	struct access_who		 who;	/* the peer, for access */
	struct bufferevent		*bev;
	struct ndjson_reader		*reader;
	uint64_t			 lines;	/* messages read so far */
	struct client_stream		 stream;
	struct session			*session; /* from the first message */
	/* Freeing is deferred: a write that overflows happens deep inside
	 * the session layer, which must not see its stream vanish. */
	struct event			*ev_free;
	struct event			*ev_linger; /* REFUSED only */
	TAILQ_ENTRY(listen_unix_conn)	 entry;
};

struct listen_unix {
	struct relay			*relay;
	char				*path;
	struct sockfile			 file;	   /* what we bound */
	struct evconnlistener		*evl;
	struct event			*ev_resume;
	struct listen_unix_limits	 limits;
	struct listen_unix_counters	 counters;
	uint64_t			 next_id;
	unsigned			 refusing; /* refused since the last
						      connection closed */
	TAILQ_HEAD(, listen_unix_conn)	 conns;
};

/* Everything the client asked for before EOF has been sent. */
static int
listen_unix_conn_flushed(struct listen_unix_conn *c)
{
	return TAILQ_EMPTY(&c->stream.requests) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

static void	listen_unix_conn_set_state(struct listen_unix_conn *,
		    enum listen_unix_conn_state, const char *);

static void
listen_unix_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	listen_unix_conn_set_state(arg, LISTEN_UNIX_CONN_DEAD,
	    "refused client did not close");
}

/* Refused: our side is shut once the error is sent; the timer bounds it. */
static void
listen_unix_conn_linger(struct listen_unix_conn *c)
{
	struct timeval	tv = { LISTEN_UNIX_REFUSED_LINGER, 0 };

	if (c->ev_linger == NULL && (c->ev_linger = evtimer_new(
	    c->listener->relay->base, listen_unix_linger_cb, c)) == NULL)
		fatalx("unix: evtimer_new failed");
	evtimer_add(c->ev_linger, &tv);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
}

static void
listen_unix_conn_set_state(struct listen_unix_conn *c,
    enum listen_unix_conn_state state, const char *why)
{
	if (c->state == state || c->state == LISTEN_UNIX_CONN_DEAD)
		return;
	log_debug("unix conn %llu: %s -> %s: %s", (unsigned long long)c->id,
	    listen_unix_conn_state_names[c->state],
	    listen_unix_conn_state_names[state], why);
	c->state = state;
	switch (state) {
	case LISTEN_UNIX_CONN_OPEN:
		bufferevent_enable(c->bev, EV_READ);
		break;
	case LISTEN_UNIX_CONN_PAUSED:
		bufferevent_disable(c->bev, EV_READ);
		break;
	case LISTEN_UNIX_CONN_FLUSHING:
		c->why = why;
		bufferevent_disable(c->bev, EV_READ);
		if (listen_unix_conn_flushed(c))
			listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_DEAD,
			    why);
		break;
	case LISTEN_UNIX_CONN_REFUSED:
		c->why = why;
		bufferevent_enable(c->bev, EV_READ);
		listen_unix_conn_linger(c);
		break;
	case LISTEN_UNIX_CONN_DEAD:
		c->why = why;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		if (c->ev_linger != NULL)
			event_del(c->ev_linger);
		event_active(c->ev_free, 0, 0);
		break;
	}
}

static int	listen_unix_conn_send_text(struct listen_unix_conn *, const char *,
	    size_t);

static int
listen_unix_conn_send(struct listen_unix_conn *c, struct json_object *msg)
{
	const char		*json;
	size_t			 len;

	if (c->state == LISTEN_UNIX_CONN_DEAD)
		return -1;
	json = jsonrpc_to_string(msg, &len);
	return listen_unix_conn_send_text(c, json, len);
}

/* Queue one message as its text, one line; the output limits are here. */
static int
listen_unix_conn_send_text(struct listen_unix_conn *c, const char *json,
    size_t len)
{
	struct listen_unix	*l = c->listener;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	size_t			 queued;

	if (c->state == LISTEN_UNIX_CONN_DEAD)
		return -1;
	if (ndjson_write(out, json, len) == -1) {
		log_warnx("unix conn %llu: cannot queue a %zu-byte message",
		    (unsigned long long)c->id, len);
		return -1;
	}
	queued = evbuffer_get_length(out);
	if (queued > l->limits.max_output) {
		log_warnx("unix conn %llu (pid %ld uid %ld): dropped: client "
		    "is not reading, %zu bytes unsent (max %zu)",
		    (unsigned long long)c->id, (long)c->pid, (long)c->uid,
		    queued, l->limits.max_output);
		l->counters.dropped++;
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_DEAD,
		    "client not reading");
		return -1;
	}
	if (queued > l->limits.pause_output &&
	    c->state == LISTEN_UNIX_CONN_OPEN)
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_PAUSED,
		    "output backlog");
	return 0;
}

/* A cancelled request ends with a NULL msg: no reply, but it is over. */
static int
listen_unix_stream_write(struct client_stream *s, struct json_object *msg,
    int final)
{
	struct listen_unix_conn	*c = s->owner;

	if (msg != NULL)
		return listen_unix_conn_send(c, msg);
	if (c->state == LISTEN_UNIX_CONN_FLUSHING &&
	    listen_unix_conn_flushed(c))
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_DEAD, c->why);
	return 0;
}

static int
listen_unix_stream_write_text(struct client_stream *s, const char *text,
    size_t len, int final)
{
	(void)final;
	return listen_unix_conn_send_text(s->owner, text, len);
}

static const struct client_stream_ops listen_unix_stream_ops = {
	.write = listen_unix_stream_write,
	.write_text = listen_unix_stream_write_text,
};

/* An error about a message the session layer never saw. */
static void
listen_unix_conn_error(struct listen_unix_conn *c, struct json_object *id,
    int code, const char *message)
{
	struct json_object	*reply;

	reply = jsonrpc_error_new(id, code, message, NULL);
	listen_unix_conn_send(c, reply);
	json_object_put(reply);
}

/* -1 when listen.max_sessions refuses: the client is told, then closed. */
static int
listen_unix_conn_open_session(struct listen_unix_conn *c, const char *server,
    struct json_object *id)
{
	struct json_object	*reply;

	if (sessions_admit(c->listener->relay->sessions, id, &reply) == -1) {
		listen_unix_conn_send(c, reply);
		json_object_put(reply);
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_FLUSHING,
		    "too many sessions");
		return -1;
	}
	c->session = session_new(c->listener->relay->sessions, server, 0);
	session_set_who(c->session, &c->who);
	session_set_standalone(c->session, &c->stream);
	return 0;
}

/* Tell the client why, then close: nothing it sends is looked at. */
static void
listen_unix_conn_refuse(struct listen_unix_conn *c, const char *server,
    const char *reason)
{
	struct json_object	*reply;

	reply = access_refuse(c->listener->relay->access, &c->who, NULL,
	    server, reason, NULL);
	listen_unix_conn_send(c, reply);
	json_object_put(reply);
	listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_REFUSED,
	    "access refused");
}

static int
listen_unix_server_exists(struct listen_unix *l, const char *name)
{
	return router_find(l->relay->router, name) != NULL;
}

/*
 * The scope preamble: the session serves one server.  A bad or unknown
 * name ends the connection, since the client asked for something specific
 * and would otherwise get the aggregate without noticing.
 */
static void
listen_unix_conn_scope(struct listen_unix_conn *c, struct json_object *msg)
{
	struct json_object	*params, *server;
	const char		*name;
	char			 text[256];

	params = jsonrpc_params(msg);
	if (params == NULL ||
	    !json_object_object_get_ex(params, "server", &server) ||
	    !json_object_is_type(server, json_type_string)) {
		listen_unix_conn_error(c, NULL, JSONRPC_INVALID_PARAMS,
		    LISTEN_UNIX_SCOPE_METHOD " needs a string params.server");
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_FLUSHING,
		    "bad scope preamble");
		return;
	}
	name = json_object_get_string(server);
	if (!listen_unix_server_exists(c->listener, name)) {
		snprintf(text, sizeof text, "unknown server '%s'", name);
		listen_unix_conn_error(c, NULL, RELAY_ERR_DISABLED, text);
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_FLUSHING,
		    "unknown server in scope preamble");
		return;
	}
	if (!access_allowed(c->listener->relay->access, &c->who, name)) {
		listen_unix_conn_refuse(c, name, NULL);
		return;
	}
	if (listen_unix_conn_open_session(c, name, NULL) == -1)
		return;
	log_debug("unix conn %llu: scoped to server %s",
	    (unsigned long long)c->id, name);
}

static int
listen_unix_is_scope(struct json_object *msg, enum jsonrpc_kind kind)
{
	const char	*method = jsonrpc_method(msg);

	return kind == JSONRPC_NOTIFICATION &&
	    strcmp(method, LISTEN_UNIX_SCOPE_METHOD) == 0;
}

static void
listen_unix_conn_line(struct listen_unix_conn *c, const char *line,
    size_t len)
{
	struct relay_counters	*counters = &c->listener->relay->counters;
	struct json_object	*msg;
	struct jsonscan_call	 call;
	enum jsonrpc_kind	 kind;
	const char		*reason = NULL;

	/* A legacy tools/call in the session goes on as its bytes
	 * (docs/architecture.md, "Pass-through"). */
	if (c->session != NULL && jsonscan_call(line, len, &call) == 0) {
		session_handle_call(c->session, line, &call, &c->stream);
		return;
	}
	if ((msg = jsonrpc_parse_with(c->listener->relay->parser, line, len,
	    &reason)) == NULL) {
		counters->parse_errors++;
		listen_unix_conn_error(c, NULL, JSONRPC_PARSE_ERROR, reason);
		return;
	}
	kind = jsonrpc_classify(msg, &reason);
	if (kind == JSONRPC_BATCH || kind == JSONRPC_INVALID) {
		counters->invalid_requests++;
		listen_unix_conn_error(c, jsonrpc_id(msg),
		    JSONRPC_INVALID_REQUEST, kind == JSONRPC_BATCH ?
		    "batches are not supported" : reason);
	} else if (c->lines == 1 && listen_unix_is_scope(msg, kind))
		listen_unix_conn_scope(c, msg);
	else {
		if (c->session != NULL || listen_unix_conn_open_session(c,
		    NULL, kind == JSONRPC_REQUEST ? jsonrpc_id(msg) :
		    NULL) == 0)
			session_handle(c->session, msg, &c->stream);
	}
	json_object_put(msg);
}

/* Handle buffered lines until none is left or the connection pauses. */
static void
listen_unix_conn_read(struct listen_unix_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	char		*line;
	size_t		 len;

	if (c->state == LISTEN_UNIX_CONN_REFUSED) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (c->state == LISTEN_UNIX_CONN_OPEN) {
		switch (ndjson_reader_next(c->reader, in, &line, &len)) {
		case NDJSON_LINE:
			c->lines++;
			listen_unix_conn_line(c, line, len);
			free(line);
			break;
		case NDJSON_TOO_LONG:
			c->lines++;
			c->listener->relay->counters.invalid_requests++;
			listen_unix_conn_error(c, NULL,
			    JSONRPC_INVALID_REQUEST, "message too long");
			break;
		case NDJSON_NEED_MORE:
			return;
		}
	}
}

/* The output is all sent (the write low-watermark is 0). */
static void
listen_unix_conn_drained(struct listen_unix_conn *c)
{
	switch (c->state) {
	case LISTEN_UNIX_CONN_PAUSED:
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_OPEN,
		    "output sent");
		listen_unix_conn_read(c);
		break;
	case LISTEN_UNIX_CONN_FLUSHING:
		if (listen_unix_conn_flushed(c))
			listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_DEAD,
			    c->why);
		break;
	case LISTEN_UNIX_CONN_REFUSED:
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
		break;
	default:
		break;
	}
}

static void
listen_unix_read_cb(struct bufferevent *bev, void *arg)
{
	listen_unix_conn_read(arg);
}

static void
listen_unix_write_cb(struct bufferevent *bev, void *arg)
{
	listen_unix_conn_drained(arg);
}

/*
 * EOF: the client may only have closed its sending side, so the replies to
 * what it sent still go out ("printf request | nc -U" works); then the
 * session ends.  Requests end within their deadline, so this is bounded.
 */
static void
listen_unix_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct listen_unix_conn	*c = arg;

	if (c->state == LISTEN_UNIX_CONN_REFUSED &&
	    (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_DEAD, c->why);
	else if (what & BEV_EVENT_EOF)
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_FLUSHING,
		    "client disconnected");
	else if (what & BEV_EVENT_ERROR) {
		log_debug("unix conn %llu: %s", (unsigned long long)c->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		listen_unix_conn_set_state(c, LISTEN_UNIX_CONN_DEAD,
		    "client connection lost");
	}
}

static void
listen_unix_conn_free(struct listen_unix_conn *c, const char *why)
{
	struct listen_unix	*l = c->listener;

	/* Whatever session_close() still writes is refused. */
	c->state = LISTEN_UNIX_CONN_DEAD;
	TAILQ_REMOVE(&l->conns, c, entry);
	l->counters.open--;
	client_stream_closed(&c->stream);
	if (c->session != NULL)
		session_close(c->session, why);
	event_free(c->ev_free);
	if (c->ev_linger != NULL)
		event_free(c->ev_linger);
	bufferevent_free(c->bev);
	ndjson_reader_free(c->reader);
	free(c);
}

static void
listen_unix_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listen_unix_conn	*c = arg;
	struct listen_unix	*l = c->listener;

	listen_unix_conn_free(c, c->why);
	if (l->refusing > 0) {
		log_info("unix: %s: accepting connections again (%u refused)",
		    l->path, l->refusing);
		l->refusing = 0;
	}
}

/* 0 when the peer may use the daemon; else why not (reason or NULL). */
static int
listen_unix_conn_peer(struct listen_unix_conn *c, int fd, char *why,
    size_t len)
{
	struct access	*acc = c->listener->relay->access;

	why[0] = '\0';
	if (access_peer_unix(acc, fd, &c->who, why, len) == 0) {
		c->pid = c->who.pid;
		c->uid = c->who.uid;
	}
	c->who.via = "unix";
	return c->who.kind != ACCESS_NONE && access_allowed(acc, &c->who,
	    NULL) ? 0 : -1;
}

static void
listen_unix_conn_new(struct listen_unix *l, int fd)
{
	struct listen_unix_conn	*c;
	struct event_base	*base = l->relay->base;
	char			 why[256];
	int			 refused;

	c = xcalloc(1, sizeof *c);
	c->listener = l;
	c->id = ++l->next_id;
	c->state = LISTEN_UNIX_CONN_OPEN;
	c->pid = -1;
	c->uid = (uid_t)-1;
	refused = listen_unix_conn_peer(c, fd, why, sizeof why);
	if ((c->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("unix: %s: cannot set up a connection", l->path);
		close(fd);
		free(c);
		return;
	}
	c->reader = ndjson_reader_new(l->limits.max_line);
	if ((c->ev_free = event_new(base, -1, 0, listen_unix_conn_free_cb,
	    c)) == NULL)
		fatalx("unix: event_new failed");
	client_stream_init(&c->stream, &listen_unix_stream_ops, c);
	c->stream.who = &c->who;
	bufferevent_setcb(c->bev, listen_unix_read_cb, listen_unix_write_cb,
	    listen_unix_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->counters.open++;
	l->counters.accepted++;
	log_debug("unix client pid=%ld uid=%ld (conn %llu)", (long)c->pid,
	    (long)c->uid, (unsigned long long)c->id);
	if (refused)
		listen_unix_conn_refuse(c, NULL, why[0] != '\0' ? why : NULL);
}

/*
 * Over listen.max_connections: one JSON-RPC error line, then close.  The
 * socket is new and its buffer empty, so the short write does not block;
 * if it fails anyway, the close alone still tells the client.
 */
static void
listen_unix_refuse(struct listen_unix *l, int fd)
{
	char	line[256];
	int	n;

	n = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":null,"
	    "\"error\":{\"code\":%d,\"message\":\"too many connections: "
	    "%u are open (listen.max_connections); retry later\",\"data\":"
	    "{\"limit\":\"max_connections\",\"value\":%u}}}\n",
	    RELAY_ERR_LIMIT, l->counters.open, l->limits.max_conns);
	if (n > 0 && (size_t)n < sizeof line)
		(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static void
listen_unix_accept(struct listen_unix *l, int fd)
{
	if (l->counters.open >= l->limits.max_conns) {
		if (l->refusing++ == 0)
			log_warnx("unix: %s: refusing connections: %u open "
			    "(max %u)", l->path, l->counters.open,
			    l->limits.max_conns);
		l->counters.refused++;
		listen_unix_refuse(l, fd);
		return;
	}
	listen_unix_conn_new(l, fd);
}

static void
listen_unix_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	listen_unix_accept(arg, fd);
}

/* Out of descriptors, say: retrying at once would spin, so pause. */
static void
listen_unix_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listen_unix	*l = arg;
	struct timeval		 tv = { LISTEN_UNIX_ACCEPT_PAUSE, 0 };

	log_warnx("unix: %s: accept: %s; pausing for %ds", l->path,
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
	    LISTEN_UNIX_ACCEPT_PAUSE);
	evconnlistener_disable(l->evl);
	evtimer_add(l->ev_resume, &tv);
}

static void
listen_unix_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listen_unix	*l = arg;

	evconnlistener_enable(l->evl);
}

static int
listen_unix_bind(struct listen_unix *l, mode_t mode, const char *group,
    char *errbuf, size_t errlen)
{
	return sockfile_bind(&l->file, l->path, mode, group, errbuf, errlen);
}

struct listen_unix *
listen_unix_new(struct relay *relay, const char *path, mode_t mode,
    const char *group, int inherited_fd, char *errbuf, size_t errlen)
{
	struct listen_unix	*l;
	int			 fd;

	l = xcalloc(1, sizeof *l);
	l->relay = relay;
	l->path = xstrdup(path);
	/* listen.max_connections; 0 = none. */
	l->limits.max_conns = relay->cfg->listen.max_connections > 0 ?
	    (unsigned)relay->cfg->listen.max_connections : UINT_MAX;
	l->limits.max_line = LISTEN_UNIX_MAX_LINE;
	l->limits.pause_output = LISTEN_UNIX_PAUSE_OUTPUT;
	l->limits.max_output = LISTEN_UNIX_MAX_OUTPUT;
	TAILQ_INIT(&l->conns);
	if (errlen > 0)
		errbuf[0] = '\0';

	if (inherited_fd != -1)
		fd = sockfile_adopt(l->path, inherited_fd, errbuf, errlen);
	else
		fd = listen_unix_bind(l, mode, group, errbuf, errlen);
	if (fd == -1) {
		if (inherited_fd != -1)
			close(inherited_fd);
		listen_unix_free(l);
		return NULL;
	}
	/* Backlog 0: an inherited socket is listening already. */
	l->evl = evconnlistener_new(relay->base, listen_unix_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    inherited_fd != -1 ? 0 : -1, fd);
	if (l->evl == NULL) {
		snprintf(errbuf, errlen, "listen %s: %s", path,
		    strerror(errno));
		close(fd);
		listen_unix_free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->evl, listen_unix_accept_error_cb);
	if ((l->ev_resume = evtimer_new(relay->base, listen_unix_resume_cb,
	    l)) == NULL)
		fatalx("unix: evtimer_new failed");
	log_info("unix: listening on %s%s", path,
	    inherited_fd != -1 ? " (socket activation)" : "");
	return l;
}

void
listen_unix_free(struct listen_unix *l)
{
	struct listen_unix_conn	*c;

	if (l == NULL)
		return;
	while ((c = TAILQ_FIRST(&l->conns)) != NULL)
		listen_unix_conn_free(c, "listener closed");
	if (l->evl != NULL)
		evconnlistener_free(l->evl);
	if (l->ev_resume != NULL)
		event_free(l->ev_resume);
	sockfile_close(&l->file);
	free(l->path);
	free(l);
}

void
listen_unix_set_limits(struct listen_unix *l,
    const struct listen_unix_limits *limits)
{
	l->limits = *limits;
}

const struct listen_unix_counters *
listen_unix_counters(const struct listen_unix *l)
{
	return &l->counters;
}

const char *
listen_unix_path(const struct listen_unix *l)
{
	return l->path;
}
