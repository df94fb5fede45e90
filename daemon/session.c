/*
 * Client sessions: what mcprelayd answers itself (initialize, ping,
 * logging/setLevel), bookkeeping for what a client set up, routing of
 * server->client requests and their answers, idle expiry, and the replay
 * buffer behind Last-Event-ID.  Everything else goes to the router.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/linkhash.h>

#include "access.h"
#include "bytes.h"
#include "config.h"
#include "era.h"
#include "errors.h"
#include "handler.h"
#include "jsonrpc.h"
#include "mrtr.h"
#include "log.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "session.h"
#include "stream.h"
#include "xmalloc.h"

#define SESSION_SWEEP_INTERVAL	5.0	/* most seconds between idle sweeps */
#define SESSION_SWEEP_MIN	0.05	/* least */
/*
 * A session id is the client's bearer credential: logs show its first 8
 * hex digits only, enough to tell sessions apart.
 */
#define SESSION_PENDING_MAX	1024	/* undelivered messages kept */

#define SESSION_LISTEN_TOOLS		0x1
#define SESSION_LISTEN_PROMPTS		0x2
#define SESSION_LISTEN_RESOURCES	0x4

/* The filter of subscriptions/listen and what each flag lets through. */
static const struct {
	const char	*key;
	const char	*method;
	unsigned	 flag;
} session_listen_kinds[] = {
	{ "toolsListChanged", "notifications/tools/list_changed",
	    SESSION_LISTEN_TOOLS },
	{ "promptsListChanged", "notifications/prompts/list_changed",
	    SESSION_LISTEN_PROMPTS },
	{ "resourcesListChanged", "notifications/resources/list_changed",
	    SESSION_LISTEN_RESOURCES },
};

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
	int			 legacy_sse;	/* lives with its SSE stream */
	char			*server;	/* NULL: aggregate */
	struct access_who	 who;		/* who opened it */
	char			*version;
	struct json_object	*client_caps;
	struct json_object	*client_info;
	int			 initialized;
	double			 last_active;
	char			*log_level;	/* NULL: not asked */
	struct json_object	*subscriptions;	/* uri -> true */

	/* A 2026-07-28 subscriptions/listen: the request that opened it and
	 * the list_changed notifications it asked for (SESSION_LISTEN_*). */
	struct request		*listen;
	unsigned		 listen_flags;

	struct client_stream	*standalone;
	TAILQ_HEAD(, pending_msg) pending;
	unsigned		 npending;

	struct replay_event	*replay;	/* ring */
	unsigned		 replay_size, replay_head, replay_count;
	uint64_t		 next_stream;
	uint64_t		 last_seq;	/* of any event, any stream */

	struct request_list	 requests;	/* in progress */
	unsigned		 nrequests;
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
static void	sessions_sweep_arm(struct sessions *);

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

	ss = xcalloc(1, sizeof *ss);
	ss->relay = relay;
	ss->by_id = lh_kchar_table_new(256, NULL);
	TAILQ_INIT(&ss->all);
	ss->sweep = evtimer_new(relay->base, sessions_sweep_cb, ss);
	sessions_sweep_arm(ss);
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

/*
 * A session idle for session_idle_timeout, with no open stream and nothing
 * in progress, has ended, whether or not the sweep has come by yet.
 */
static int
session_expired(const struct session *s, double now)
{
	double	limit = s->owner->relay->cfg->listen.session_idle_timeout;

	return limit > 0 && s->with_id && s->standalone == NULL &&
	    TAILQ_EMPTY(&s->requests) && now - s->last_active >= limit;
}

struct session *
sessions_find(struct sessions *ss, const char *id)
{
	struct lh_entry	*e;
	struct session	*s;

	if ((e = lh_table_lookup_entry(ss->by_id, id)) == NULL)
		return NULL;
	s = (struct session *)lh_entry_v(e);
	if (session_expired(s, relay_now())) {
		session_close(s, "idle");
		return NULL;
	}
	return s;
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
 * ended, so clients that vanish without DELETE leak nothing (per_client
 * upstreams included).  The sweep runs at half the timeout (within bounds)
 * and re-reads it each time, so a reload changes the pace too.
 */
static void
sessions_sweep_arm(struct sessions *ss)
{
	double		limit = ss->relay->cfg->listen.session_idle_timeout;
	double		every = limit / 2;
	struct timeval	tv;

	if (limit <= 0 || every > SESSION_SWEEP_INTERVAL)
		every = SESSION_SWEEP_INTERVAL;
	if (every < SESSION_SWEEP_MIN)
		every = SESSION_SWEEP_MIN;
	tv.tv_sec = (time_t)every;
	tv.tv_usec = (suseconds_t)((every - (double)tv.tv_sec) * 1e6);
	evtimer_add(ss->sweep, &tv);
}

static void
sessions_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sessions	*ss = arg;
	struct session	*s, *next;
	double		 now = relay_now();

	TAILQ_FOREACH_SAFE(s, &ss->all, entry, next)
		if (session_expired(s, now))
			session_close(s, "idle");
	sessions_sweep_arm(ss);
}

static void
session_make_id(char *out)
{
	unsigned char	 raw[SESSION_ID_LEN / 2];
	size_t		 i;
	static const char hex[] = "0123456789abcdef";

	if (bytes_random(raw, sizeof raw) == -1)
		fatal("%s: random bytes for a session id", __func__);
	for (i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[SESSION_ID_LEN] = '\0';
}

/* The -32007 error for a listen.max_* limit: which one, and its value. */
static struct json_object *
sessions_limit_error(struct json_object *id, const char *key, int value,
    const char *message)
{
	struct json_object	*data;

	data = json_object_new_object();
	json_object_object_add(data, "limit", json_object_new_string(key));
	json_object_object_add(data, "value", json_object_new_int(value));
	return jsonrpc_error_new(id, RELAY_ERR_LIMIT, message, data);
}

int
sessions_admit(struct sessions *ss, struct json_object *id,
    struct json_object **error)
{
	int	max = ss->relay->cfg->listen.max_sessions;
	char	text[160];

	if (max <= 0 || ss->count < (unsigned)max)
		return 0;
	if (ss->relay->counters.limit_sessions++ % 1000 == 0)
		log_warnx("sessions: refusing a new session: %u open "
		    "(listen.max_sessions)", ss->count);
	if (error != NULL) {
		snprintf(text, sizeof text, "too many client sessions: %d are "
		    "open (listen.max_sessions); retry later", max);
		*error = sessions_limit_error(id, "max_sessions", max, text);
	}
	return -1;
}

struct session *
session_new(struct sessions *ss, const char *server, int with_id)
{
	struct session	*s;

	s = xcalloc(1, sizeof *s);
	s->owner = ss;
	s->with_id = with_id;
	s->server = server ? xstrdup(server) : NULL;
	s->who.kind = ACCESS_NONE;
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
	log_debug("session %.8s%s opened (%s)", with_id ? s->id : "-",
	    with_id ? "..." : "", server ? server : "aggregate");
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

	log_debug("session %.8s%s closed (%s)", s->with_id ? s->id : "-",
	    s->with_id ? "..." : "", why);
	if ((r = s->listen) != NULL) {
		/* The listen request ends with its session: answered when
		 * its stream is still there, silently when it went away. */
		struct json_object *result = NULL, *meta;

		s->listen = NULL;
		TAILQ_REMOVE(&s->requests, r, session_entry);
		r->session = NULL;
		if (r->stream != NULL) {
			/* We end it (shutdown): the graceful completion. */
			result = json_object_new_object();
			meta = json_object_new_object();
			json_object_object_add(meta, ERA_META_SUBSCRIPTION,
			    json_object_get(r->client_id));
			json_object_object_add(result, "_meta", meta);
			result = jsonrpc_result_new(r->client_id, result);
		}
		request_finish(r, result);
	}
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

void
session_set_who(struct session *s, const struct access_who *who)
{
	if (who != NULL)
		s->who = *who;
}

const struct access_who *
session_who(const struct session *s)
{
	return &s->who;
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
session_set_legacy_sse(struct session *s)
{
	s->legacy_sse = 1;
}

int
session_legacy_sse(const struct session *s)
{
	return s->legacy_sse;
}

struct json_object *
session_client_capabilities(const struct session *s)
{
	return s->client_caps;
}

struct json_object *
session_client_info(const struct session *s)
{
	return s->client_info;
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
	/* The idle clock starts when the stream goes, not at the last
	 * request before it opened. */
	s->last_active = relay_now();
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

/*
 * A subscription passes only what its filter asked for, each message
 * tagged with the subscription's id (the listen request's id).
 */
static void
session_deliver_listen(struct session *s, struct json_object *msg)
{
	struct json_object	*copy = NULL, *params, *meta;
	const char		*method = jsonrpc_method(msg);
	size_t			 i;
	int			 wanted = 0;

	if (method == NULL || s->standalone == NULL)
		return;
	for (i = 0; i < sizeof session_listen_kinds /
	    sizeof session_listen_kinds[0]; i++)
		if (strcmp(method, session_listen_kinds[i].method) == 0)
			wanted = (s->listen_flags &
			    session_listen_kinds[i].flag) != 0;
	/* resources/updated was filtered by URI already (router). */
	if (strcmp(method, "notifications/resources/updated") == 0 ||
	    strcmp(method, "notifications/subscriptions/acknowledged") == 0)
		wanted = 1;
	if (!wanted)
		return;
	json_object_deep_copy(msg, &copy, NULL);
	if (!json_object_object_get_ex(copy, "params", &params)) {
		params = json_object_new_object();
		json_object_object_add(copy, "params", params);
	}
	if (!json_object_object_get_ex(params, "_meta", &meta)) {
		meta = json_object_new_object();
		json_object_object_add(params, "_meta", meta);
	}
	json_object_object_add(meta, ERA_META_SUBSCRIPTION,
	    json_object_get(s->listen->client_id));
	client_stream_write(s->standalone, copy, 0);
	json_object_put(copy);
}

void
session_deliver(struct session *s, struct json_object *msg)
{
	struct pending_msg	*p;

	if (s->listen != NULL) {
		session_deliver_listen(s, msg);
		return;
	}
	if (s->standalone != NULL) {
		client_stream_write(s->standalone, msg, 0);
		return;
	}
	if (s->npending >= SESSION_PENDING_MAX) {
		log_debug("session %.8s...: dropping a message, no stream open "
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

/*
 * Event sequence numbers count across all of the session's streams, so an
 * event id ("stream-seq") is never issued twice, not even by a stream that
 * was resumed with Last-Event-ID from an older event.
 */
uint64_t
session_replay_add(struct session *s, uint64_t stream, const char *data)
{
	struct replay_event	*e;

	s->last_seq++;
	if (s->replay_size == 0)
		return s->last_seq;
	e = &s->replay[s->replay_head];
	free(e->data);
	e->stream = stream;
	e->seq = s->last_seq;
	e->data = xstrdup(data);
	s->replay_head = (s->replay_head + 1) % s->replay_size;
	if (s->replay_count < s->replay_size)
		s->replay_count++;
	return s->last_seq;
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
	s->nrequests++;
}

void
session_request_done(struct session *s, struct request *r,
    struct json_object *reply)
{
	session_request_answered(s, r, reply == NULL ? -1 :
	    json_object_object_get_ex(reply, "error", NULL));
}

/* is_error: 1 an error, 0 a result, -1 no reply at all. */
void
session_request_answered(struct session *s, struct request *r, int is_error)
{
	TAILQ_REMOVE(&s->requests, r, session_entry);
	s->nrequests--;
	s->last_active = relay_now();
	if (is_error == 1)
		s->owner->relay->counters.replies_error++;
	else if (is_error == 0)
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
	    router_capabilities(s->owner->relay->router, s->server));
	info = json_object_new_object();
	json_object_object_add(info, "name", json_object_new_string(
	    s->server != NULL ? s->server : "mcprelay"));
	json_object_object_add(info, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(result, "serverInfo", info);
	json_object_object_add(result, "instructions", json_object_new_string(
	    router_instructions(s->owner->relay->router, s->server)));
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

const char *
session_log_level(const struct session *s)
{
	return s->log_level;
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
	log_debug("session %.8s...: answer to an unknown request", s->id);
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
		    s->server, &s->who, msg);
	/* Other client notifications have no meaning through a proxy. */
}

/* A string parameter, or NULL (absent, null or another type). */
static const char *
session_param_string(struct json_object *params, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(params, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void
session_note_setup(struct session *s, struct json_object *msg,
    const char *method)
{
	struct json_object	*params;
	const char		*v;

	if (!json_object_object_get_ex(msg, "params", &params))
		return;
	/* Malformed values are the upstream's to refuse; only note
	 * well-formed ones. */
	if (strcmp(method, "logging/setLevel") == 0 &&
	    (v = session_param_string(params, "level")) != NULL) {
		free(s->log_level);
		s->log_level = xstrdup(v);
	} else if (strcmp(method, "resources/subscribe") == 0 &&
	    (v = session_param_string(params, "uri")) != NULL)
		json_object_object_add(s->subscriptions, v,
		    json_object_new_boolean(1));
	else if (strcmp(method, "resources/unsubscribe") == 0 &&
	    (v = session_param_string(params, "uri")) != NULL)
		json_object_object_del(s->subscriptions, v);
}

/* listen.max_inflight: is a request beyond it?  Counted when it is. */
static int
session_over_inflight(struct session *s)
{
	struct relay	*relay = s->owner->relay;
	int		 max = relay->cfg->listen.max_inflight;

	if (max <= 0 || s->nrequests < (unsigned)max)
		return 0;
	if (relay->counters.limit_inflight++ % 1000 == 0)
		log_warnx("session %.8s...: refusing a request: %u in flight "
		    "(listen.max_inflight)", s->with_id ? s->id : "-",
		    s->nrequests);
	relay->counters.replies_error++;
	return 1;
}

/* ...and refused with -32007. */
static void
session_refuse_inflight(struct session *s, struct json_object *id,
    struct client_stream *stream)
{
	int	max = s->owner->relay->cfg->listen.max_inflight;
	char	text[160];

	snprintf(text, sizeof text, "too many requests in flight on this "
	    "session: %d (listen.max_inflight); wait for answers first", max);
	session_reply(stream, s, sessions_limit_error(id, "max_inflight", max,
	    text));
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
	if (era_is_modern(msg)) {
		/* A 2026-07-28 request on a connection: served statelessly,
		 * the connection's session only carries the replies. */
		sessions_handle_modern(s->owner, s->server, msg, stream);
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
	if (session_over_inflight(s)) {
		session_refuse_inflight(s, jsonrpc_id(msg), stream);
		return;
	}
	session_note_setup(s, msg, method);
	r = request_new(s, stream, msg);
	router_dispatch(s->owner->relay->router, r, s->server);
}

void
session_handle_call(struct session *s, const char *text,
    const struct jsonscan_call *c, struct client_stream *stream)
{
	struct json_object	*id;
	struct request		*r;

	s->last_active = relay_now();
	s->owner->relay->counters.requests++;
	if (session_over_inflight(s)) {
		id = request_call_id(text, c);
		session_refuse_inflight(s, id, stream);
		json_object_put(id);
		return;
	}
	r = request_new_call(s, stream, text, c);
	router_dispatch(s->owner->relay->router, r, s->server);
}

/* ---- modern (2026-07-28) requests -------------------------------------- */

static void
sessions_reply_modern(struct client_stream *stream, struct json_object *reply,
    const char *method)
{
	era_reply_to_modern(reply, method, "mcprelay", PACKAGE_VERSION);
	client_stream_write(stream, reply, 1);
	json_object_put(reply);
}

/*
 * subscriptions/listen: a session of its own, without an id, whose
 * standalone stream is the listen request's response stream.  The router's
 * fan-out reaches it like any session; session_deliver() filters and tags.
 * Resource subscriptions go to the upstreams as resources/subscribe.
 */
static void
sessions_listen(struct sessions *ss, const char *server,
    struct json_object *msg, struct client_stream *stream)
{
	struct json_object	*params, *filter, *v, *ack, *honored, *ap;
	struct json_object	*uris, *meta, *reply;
	struct session		*s;
	size_t			 i;

	if (sessions_admit(ss, jsonrpc_id(msg), &reply) == -1) {
		sessions_reply_modern(stream, reply, jsonrpc_method(msg));
		ss->relay->counters.replies_error++;
		return;
	}
	s = session_new(ss, server, 0);
	session_set_who(s, stream->who);
	s->version = xstrdup("2026-07-28");
	s->initialized = 1;
	honored = json_object_new_object();
	if (json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "notifications", &filter) &&
	    json_object_is_type(filter, json_type_object)) {
		for (i = 0; i < sizeof session_listen_kinds /
		    sizeof session_listen_kinds[0]; i++) {
			if (json_object_object_get_ex(filter,
			    session_listen_kinds[i].key, &v) &&
			    json_object_get_boolean(v)) {
				s->listen_flags |= session_listen_kinds[i].flag;
				json_object_object_add(honored,
				    session_listen_kinds[i].key,
				    json_object_new_boolean(1));
			}
		}
		if (json_object_object_get_ex(filter, "resourceSubscriptions",
		    &uris) && json_object_is_type(uris, json_type_array)) {
			ap = json_object_new_array();
			for (i = 0; i < json_object_array_length(uris); i++) {
				v = json_object_array_get_idx(uris, i);
				if (!json_object_is_type(v, json_type_string))
					continue;
				json_object_object_add(s->subscriptions,
				    json_object_get_string(v),
				    json_object_new_boolean(1));
				router_subscribe(ss->relay->router, server,
				    &s->who, json_object_get_string(v));
				json_object_array_add(ap, json_object_get(v));
			}
			json_object_object_add(honored,
			    "resourceSubscriptions", ap);
		}
	}
	s->listen = request_new(s, stream, msg);
	s->listen->era = ERA_MODERN;
	session_set_standalone(s, stream);

	params = json_object_new_object();
	meta = json_object_new_object();
	json_object_object_add(params, "_meta", meta);
	json_object_object_add(params, "notifications", honored);
	ack = jsonrpc_notification_new(
	    "notifications/subscriptions/acknowledged", params);
	session_deliver(s, ack);
	json_object_put(ack);
}

/*
 * A modern request has no session: its version and capabilities travel in
 * its own _meta.  What mcprelayd answers itself (server/discover, the
 * errors for removed methods) is answered here; everything else becomes a
 * request like any other, marked modern so its reply is shaped for it.
 */
void
sessions_handle_modern(struct sessions *ss, const char *server,
    struct json_object *msg, struct client_stream *stream)
{
	struct era_error	 err;
	struct json_object	*result;
	struct request		*r;
	const char		*method = jsonrpc_method(msg);
	char			 text[256];

	memset(&err, 0, sizeof err);
	ss->relay->counters.requests++;
	if (era_check_meta(msg, &err) == -1) {
		sessions_reply_modern(stream, jsonrpc_error_new(jsonrpc_id(msg),
		    err.code, err.message, err.data), method);
		err.data = NULL;
		ss->relay->counters.replies_error++;
		return;
	}
	if (strcmp(method, "subscriptions/listen") == 0) {
		sessions_listen(ss, server, msg, stream);
		return;
	}
	if (era_method_removed(method)) {
		snprintf(text, sizeof text, "Method not found: %s (removed in "
		    "MCP 2026-07-28)", method);
		sessions_reply_modern(stream, jsonrpc_error_new(jsonrpc_id(msg),
		    JSONRPC_METHOD_NOT_FOUND, text, NULL), method);
		ss->relay->counters.replies_error++;
		return;
	}
	if (strcmp(method, "server/discover") == 0) {
		result = era_discover_result(
		    router_capabilities(ss->relay->router, server),
		    router_instructions(ss->relay->router, server));
		sessions_reply_modern(stream, jsonrpc_result_new(
		    jsonrpc_id(msg), result), method);
		ss->relay->counters.replies_ok++;
		return;
	}
	/* The retry of a call mcprelayd answered with input requests. */
	if (mrtr_resume(ss->relay->mrtr, msg, stream))
		return;
	r = request_new(NULL, stream, msg);
	/* The handler translates if its server does not speak it. */
	r->era = ERA_MODERN;
	r->client_caps = era_client_capabilities(msg);
	r->log_level = era_log_level(msg);
	router_dispatch(ss->relay->router, r, server);
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
