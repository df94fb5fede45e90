/*
 * Client sessions: what mcprelayd answers itself (initialize, ping,
 * logging/setLevel), bookkeeping for what a client set up, routing of
 * server->client requests and their answers, idle expiry, and the replay
 * buffer behind Last-Event-ID.  Everything else goes to the router.
 */
#include "autoconf.h"

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/linkhash.h>

#include "config.h"
#include "errors.h"
#include "handler.h"
#include "jsonrpc.h"
#include "log.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "session.h"
#include "stream.h"
#include "xmalloc.h"

#define SESSION_SWEEP_INTERVAL	5	/* seconds between idle sweeps */
#define SESSION_PENDING_MAX	1024	/* undelivered messages kept */

const char *const session_protocol_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL
};

/* A server->client request waiting for this client's answer. */
struct server_call {
	int64_t			 client_id;	/* id the client sees */
	struct handler		*handler;
	struct json_object	*upstream_id;
	TAILQ_ENTRY(server_call) entry;
};

struct replay_event {
	uint64_t	 stream;
	uint64_t	 seq;
	char		*data;
};

struct pending_msg {
	struct json_object	*msg;
	TAILQ_ENTRY(pending_msg) entry;
};

struct session {
	struct sessions		*owner;
	char			 id[SESSION_ID_LEN + 1];
	int			 with_id;
	char			*server;	/* NULL: aggregate */
	char			*version;
	struct json_object	*client_caps;
	struct json_object	*client_info;
	int			 initialized;
	double			 last_active;
	char			*log_level;	/* NULL: not asked */
	struct json_object	*subscriptions;	/* uri -> true */

	struct client_stream	*standalone;
	TAILQ_HEAD(, pending_msg) pending;
	unsigned		 npending;

	struct replay_event	*replay;	/* ring */
	unsigned		 replay_size, replay_head, replay_count;
	uint64_t		 next_stream;

	struct request_list	 requests;	/* in progress */
	TAILQ_HEAD(, server_call) calls;
	int64_t			 next_call_id;

	TAILQ_ENTRY(session)	 entry;
};

struct sessions {
	struct relay		*relay;
	struct lh_table		*by_id;
	TAILQ_HEAD(, session)	 all;
	unsigned		 count;
	struct event		*sweep;
};

static void	sessions_sweep_cb(evutil_socket_t, short, void *);

int
session_protocol_supported(const char *version)
{
	int	i;

	for (i = 0; session_protocol_versions[i] != NULL; i++)
		if (strcmp(version, session_protocol_versions[i]) == 0)
			return 1;
	return 0;
}

struct sessions *
sessions_new(struct relay *relay)
{
	struct sessions	*ss;
	struct timeval	 tv = { SESSION_SWEEP_INTERVAL, 0 };

	ss = xcalloc(1, sizeof *ss);
	ss->relay = relay;
	ss->by_id = lh_kchar_table_new(256, NULL);
	TAILQ_INIT(&ss->all);
	ss->sweep = event_new(relay->base, -1, EV_PERSIST, sessions_sweep_cb,
	    ss);
	evtimer_add(ss->sweep, &tv);
	return ss;
}

void
sessions_free(struct sessions *ss)
{
	struct session	*s;

	if (ss == NULL)
		return;
	while ((s = TAILQ_FIRST(&ss->all)) != NULL)
		session_close(s, "daemon stopping");
	lh_table_free(ss->by_id);
	event_free(ss->sweep);
	free(ss);
}

struct session *
sessions_find(struct sessions *ss, const char *id)
{
	return lh_table_lookup_entry(ss->by_id, id) ?
	    (struct session *)lh_table_lookup_entry(ss->by_id, id)->v : NULL;
}

unsigned
sessions_count(const struct sessions *ss)
{
	return ss->count;
}

void
sessions_foreach(struct sessions *ss, void (*fn)(struct session *, void *),
    void *arg)
{
	struct session	*s, *next;

	TAILQ_FOREACH_SAFE(s, &ss->all, entry, next)
		fn(s, arg);
}

/*
 * Sessions with no activity for session_idle_timeout and no open stream are
 * ended, so clients that vanish without DELETE leak nothing.
 */
static void
sessions_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sessions	*ss = arg;
	struct session	*s, *next;
	double		 now = relay_now(), limit;

	limit = ss->relay->cfg->listen.session_idle_timeout;
	if (limit <= 0)
		return;
	TAILQ_FOREACH_SAFE(s, &ss->all, entry, next) {
		if (!s->with_id || s->standalone != NULL ||
		    !TAILQ_EMPTY(&s->requests))
			continue;
		if (now - s->last_active >= limit)
			session_close(s, "idle");
	}
}

static void
session_make_id(char *out)
{
	unsigned char	 raw[SESSION_ID_LEN / 2];
	size_t		 i;
	static const char hex[] = "0123456789abcdef";

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		fatal("getrandom");
	for (i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[SESSION_ID_LEN] = '\0';
}

struct session *
session_new(struct sessions *ss, const char *server, int with_id)
{
	struct session	*s;

	s = xcalloc(1, sizeof *s);
	s->owner = ss;
	s->with_id = with_id;
	s->server = server ? xstrdup(server) : NULL;
	s->subscriptions = json_object_new_object();
	s->last_active = relay_now();
	s->replay_size = ss->relay->cfg->listen.replay_buffer;
	if (s->replay_size > 0)
		s->replay = xcalloc(s->replay_size, sizeof *s->replay);
	TAILQ_INIT(&s->pending);
	TAILQ_INIT(&s->requests);
	TAILQ_INIT(&s->calls);
	if (with_id) {
		do
			session_make_id(s->id);
		while (sessions_find(ss, s->id) != NULL);
		lh_table_insert(ss->by_id, s->id, s);
	}
	TAILQ_INSERT_TAIL(&ss->all, s, entry);
	ss->count++;
	ss->relay->counters.sessions_total++;
	log_debug("session %s opened (%s)", with_id ? s->id : "-",
	    server ? server : "aggregate");
	return s;
}

void
session_close(struct session *s, const char *why)
{
	struct sessions		*ss = s->owner;
	struct request		*r;
	struct server_call	*c;
	struct pending_msg	*p;
	unsigned		 i;

	log_debug("session %s closed (%s)", s->with_id ? s->id : "-", why);
	/* Requests in flight finish upstream; their replies have nowhere to
	 * go, which is what the client asked for by leaving. */
	while ((r = TAILQ_FIRST(&s->requests)) != NULL) {
		TAILQ_REMOVE(&s->requests, r, session_entry);
		r->session = NULL;
	}
	while ((c = TAILQ_FIRST(&s->calls)) != NULL) {
		TAILQ_REMOVE(&s->calls, c, entry);
		handler_answer_server_request(c->handler, c->upstream_id,
		    jsonrpc_error_new(NULL, RELAY_ERR_NO_CLIENT,
		    "the client session ended", NULL));
		json_object_put(c->upstream_id);
		free(c);
	}
	while ((p = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, p, entry);
		json_object_put(p->msg);
		free(p);
	}
	if (ss->relay->router != NULL)
		router_session_closed(ss->relay->router, s);
	if (s->with_id)
		lh_table_delete(ss->by_id, s->id);
	TAILQ_REMOVE(&ss->all, s, entry);
	ss->count--;
	for (i = 0; i < s->replay_size; i++)
		free(s->replay[i].data);
	free(s->replay);
	json_object_put(s->client_caps);
	json_object_put(s->client_info);
	json_object_put(s->subscriptions);
	free(s->server);
	free(s->version);
	free(s->log_level);
	free(s);
}

const char *
session_id(const struct session *s)
{
	return s->id;
}

const char *
session_server(const struct session *s)
{
	return s->server;
}

const char *
session_protocol_version(const struct session *s)
{
	return s->version;
}

int
session_initialized(const struct session *s)
{
	return s->version != NULL;
}

int
session_has_capability(const struct session *s, const char *cap)
{
	return s->client_caps != NULL &&
	    json_object_object_get_ex(s->client_caps, cap, NULL);
}

void
session_touch(struct session *s)
{
	s->last_active = relay_now();
}

/* ---- delivery ---------------------------------------------------------- */

void
session_set_standalone(struct session *s, struct client_stream *stream)
{
	struct pending_msg	*p;

	s->standalone = stream;
	if (stream == NULL)
		return;
	/* What arrived while no stream was open goes out first. */
	while (s->standalone != NULL && (p = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, p, entry);
		s->npending--;
		client_stream_write(s->standalone, p->msg, 0);
		json_object_put(p->msg);
		free(p);
	}
}

struct client_stream *
session_standalone(struct session *s)
{
	return s->standalone;
}

void
session_deliver(struct session *s, struct json_object *msg)
{
	struct pending_msg	*p;

	if (s->standalone != NULL) {
		client_stream_write(s->standalone, msg, 0);
		return;
	}
	if (s->npending >= SESSION_PENDING_MAX) {
		log_debug("session %s: dropping a message, no stream open "
		    "and %u waiting", s->id, s->npending);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->msg = json_object_get(msg);
	TAILQ_INSERT_TAIL(&s->pending, p, entry);
	s->npending++;
}

uint64_t
session_next_stream(struct session *s)
{
	return ++s->next_stream;
}

void
session_replay_add(struct session *s, uint64_t stream, uint64_t seq,
    const char *data)
{
	struct replay_event	*e;

	if (s->replay_size == 0)
		return;
	e = &s->replay[s->replay_head];
	free(e->data);
	e->stream = stream;
	e->seq = seq;
	e->data = xstrdup(data);
	s->replay_head = (s->replay_head + 1) % s->replay_size;
	if (s->replay_count < s->replay_size)
		s->replay_count++;
}

int
session_replay(struct session *s, uint64_t stream, uint64_t seq,
    void (*fn)(void *, uint64_t, const char *), void *arg)
{
	unsigned	 i, start, found_older = 0;
	struct replay_event *e;

	if (s->replay_count == 0)
		return seq == 0 ? 0 : -1;
	start = (s->replay_head + s->replay_size - s->replay_count) %
	    s->replay_size;
	for (i = 0; i < s->replay_count; i++) {
		e = &s->replay[(start + i) % s->replay_size];
		if (e->stream != stream)
			continue;
		if (e->seq <= seq) {
			found_older = 1;
			continue;
		}
		fn(arg, e->seq, e->data);
	}
	/* Events after seq that fell out of the ring cannot be replayed. */
	return found_older || seq == 0 ? 0 : -1;
}

/* ---- requests ---------------------------------------------------------- */

void
session_request_started(struct session *s, struct request *r)
{
	TAILQ_INSERT_TAIL(&s->requests, r, session_entry);
}

void
session_request_done(struct session *s, struct request *r,
    struct json_object *reply)
{
	TAILQ_REMOVE(&s->requests, r, session_entry);
	s->last_active = relay_now();
	if (reply == NULL)
		return;
	if (json_object_object_get_ex(reply, "error", NULL))
		s->owner->relay->counters.replies_error++;
	else
		s->owner->relay->counters.replies_ok++;
}

static void
session_reply(struct client_stream *stream, struct session *s,
    struct json_object *reply)
{
	if (stream != NULL)
		client_stream_write(stream, reply, 1);
	else
		session_deliver(s, reply);
	json_object_put(reply);
}

static void
session_error(struct session *s, struct client_stream *stream,
    struct json_object *id, int code, const char *message)
{
	session_reply(stream, s, jsonrpc_error_new(id, code, message, NULL));
	s->owner->relay->counters.replies_error++;
}

/* The daemon's own capabilities towards clients. */
static struct json_object *
session_server_capabilities(struct session *s)
{
	struct json_object	*caps, *o, *info;
	struct handler		*h;

	if (s->server != NULL &&
	    (h = router_find(s->owner->relay->router, s->server)) != NULL &&
	    (info = handler_server_info(h)) != NULL &&
	    json_object_object_get_ex(info, "capabilities", &caps)) {
		/* One server: its own capabilities, with list changes
		 * announced since mcprelayd refreshes lists on reconnect. */
		caps = json_object_get(caps);
		return caps;
	}
	caps = json_object_new_object();
	o = json_object_new_object();
	json_object_object_add(o, "listChanged", json_object_new_boolean(1));
	json_object_object_add(caps, "tools", o);
	o = json_object_new_object();
	json_object_object_add(o, "listChanged", json_object_new_boolean(1));
	json_object_object_add(caps, "prompts", o);
	o = json_object_new_object();
	json_object_object_add(o, "subscribe", json_object_new_boolean(1));
	json_object_object_add(o, "listChanged", json_object_new_boolean(1));
	json_object_object_add(caps, "resources", o);
	json_object_object_add(caps, "logging", json_object_new_object());
	json_object_object_add(caps, "completions", json_object_new_object());
	return caps;
}

static void
session_initialize(struct session *s, struct json_object *msg,
    struct client_stream *stream)
{
	struct json_object	*params, *v, *result, *info;
	const char		*asked = NULL, *version;

	if (json_object_object_get_ex(msg, "params", &params)) {
		if (json_object_object_get_ex(params, "protocolVersion", &v) &&
		    json_object_is_type(v, json_type_string))
			asked = json_object_get_string(v);
		if (json_object_object_get_ex(params, "capabilities", &v) &&
		    json_object_is_type(v, json_type_object)) {
			json_object_put(s->client_caps);
			s->client_caps = json_object_get(v);
		}
		if (json_object_object_get_ex(params, "clientInfo", &v)) {
			json_object_put(s->client_info);
			s->client_info = json_object_get(v);
		}
	}
	/* The client's version when we speak it, else our newest. */
	version = asked != NULL && session_protocol_supported(asked) ? asked :
	    session_protocol_versions[0];
	free(s->version);
	s->version = xstrdup(version);

	result = json_object_new_object();
	json_object_object_add(result, "protocolVersion",
	    json_object_new_string(version));
	json_object_object_add(result, "capabilities",
	    session_server_capabilities(s));
	info = json_object_new_object();
	json_object_object_add(info, "name", json_object_new_string(
	    s->server != NULL ? s->server : "mcprelay"));
	json_object_object_add(info, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(result, "serverInfo", info);
	json_object_object_add(result, "instructions", json_object_new_string(
	    s->server != NULL ? "Served through mcprelay." :
	    "mcprelay: the tools, prompts and resources of every configured "
	    "MCP server; clashing names carry a SERVER__ prefix."));
	session_reply(stream, s, jsonrpc_result_new(jsonrpc_id(msg), result));
}

static int
session_log_rank(const char *level)
{
	static const char *const levels[] = { "debug", "info", "notice",
	    "warning", "error", "critical", "alert", "emergency", NULL };
	int	i;

	for (i = 0; levels[i] != NULL; i++)
		if (strcmp(levels[i], level) == 0)
			return i;
	return -1;
}

int
session_wants_log(const struct session *s, const char *level)
{
	int	want, have;

	if (s->log_level == NULL || level == NULL)
		return 0;
	want = session_log_rank(s->log_level);
	have = session_log_rank(level);
	return have >= 0 && have >= want;
}

int
session_subscribed(const struct session *s, const char *uri)
{
	return json_object_object_get_ex(s->subscriptions, uri, NULL);
}

/* A client's answer to a server->client request. */
static void
session_on_response(struct session *s, struct json_object *msg)
{
	struct json_object	*id = jsonrpc_id(msg);
	struct server_call	*c;

	if (id == NULL || !json_object_is_type(id, json_type_int))
		return;
	TAILQ_FOREACH(c, &s->calls, entry) {
		if (c->client_id == json_object_get_int64(id)) {
			TAILQ_REMOVE(&s->calls, c, entry);
			handler_answer_server_request(c->handler,
			    c->upstream_id, json_object_get(msg));
			json_object_put(c->upstream_id);
			free(c);
			return;
		}
	}
	log_debug("session %s: answer to an unknown request", s->id);
}

static void
session_on_cancelled(struct session *s, struct json_object *msg)
{
	struct json_object	*params, *rid;
	struct request		*r;

	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, "requestId", &rid))
		return;
	TAILQ_FOREACH(r, &s->requests, session_entry) {
		if (r->client_id != NULL && jsonrpc_id_equal(r->client_id, rid)) {
			router_cancel(s->owner->relay->router, r, params);
			return;
		}
	}
}

static void
session_on_notification(struct session *s, struct json_object *msg)
{
	const char	*method = jsonrpc_method(msg);

	if (strcmp(method, "notifications/initialized") == 0)
		s->initialized = 1;
	else if (strcmp(method, "notifications/cancelled") == 0)
		session_on_cancelled(s, msg);
	else if (strcmp(method, "notifications/roots/list_changed") == 0)
		router_broadcast_notification(s->owner->relay->router,
		    s->server, msg);
	/* Other client notifications have no meaning through a proxy. */
}

static void
session_note_setup(struct session *s, struct json_object *msg,
    const char *method)
{
	struct json_object	*params, *v;

	if (!json_object_object_get_ex(msg, "params", &params))
		return;
	if (strcmp(method, "logging/setLevel") == 0 &&
	    json_object_object_get_ex(params, "level", &v)) {
		free(s->log_level);
		s->log_level = xstrdup(json_object_get_string(v));
	} else if (strcmp(method, "resources/subscribe") == 0 &&
	    json_object_object_get_ex(params, "uri", &v))
		json_object_object_add(s->subscriptions,
		    json_object_get_string(v), json_object_new_boolean(1));
	else if (strcmp(method, "resources/unsubscribe") == 0 &&
	    json_object_object_get_ex(params, "uri", &v))
		json_object_object_del(s->subscriptions,
		    json_object_get_string(v));
}

void
session_handle(struct session *s, struct json_object *msg,
    struct client_stream *stream)
{
	const char		*reason, *method;
	struct request		*r;

	s->last_active = relay_now();
	switch (jsonrpc_classify(msg, &reason)) {
	case JSONRPC_NOTIFICATION:
		session_on_notification(s, msg);
		return;
	case JSONRPC_RESULT:
	case JSONRPC_ERROR:
		session_on_response(s, msg);
		return;
	case JSONRPC_REQUEST:
		break;
	default:
		s->owner->relay->counters.invalid_requests++;
		session_error(s, stream, NULL, JSONRPC_INVALID_REQUEST, reason);
		return;
	}
	s->owner->relay->counters.requests++;
	method = jsonrpc_method(msg);
	if (strcmp(method, "initialize") == 0) {
		session_initialize(s, msg, stream);
		return;
	}
	if (strcmp(method, "ping") == 0) {
		session_reply(stream, s, jsonrpc_result_new(jsonrpc_id(msg),
		    json_object_new_object()));
		return;
	}
	session_note_setup(s, msg, method);
	r = request_new(s, stream, msg);
	router_dispatch(s->owner->relay->router, r, s->server);
}

/* ---- server -> client requests ----------------------------------------- */

void
session_forward_server_request(struct session *s, struct handler *h,
    struct json_object *msg, struct request *related)
{
	struct server_call	*c;
	struct json_object	*copy = NULL;

	c = xcalloc(1, sizeof *c);
	c->client_id = ++s->next_call_id;
	c->handler = h;
	c->upstream_id = jsonrpc_id_copy(jsonrpc_id(msg));
	TAILQ_INSERT_TAIL(&s->calls, c, entry);
	json_object_deep_copy(msg, &copy, NULL);
	json_object_object_add(copy, "id", json_object_new_int64(c->client_id));
	/* On the related request's stream when it is still open, so a
	 * client waiting on that POST sees it. */
	if (related != NULL && related->session == s && related->stream != NULL)
		client_stream_write(related->stream, copy, 0);
	else
		session_deliver(s, copy);
	json_object_put(copy);
}

void
session_forget_handler(struct session *s, struct handler *h)
{
	struct server_call	*c, *next;

	TAILQ_FOREACH_SAFE(c, &s->calls, entry, next) {
		if (c->handler != h)
			continue;
		TAILQ_REMOVE(&s->calls, c, entry);
		json_object_put(c->upstream_id);
		free(c);
	}
}
