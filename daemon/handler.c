/*
 * The per-server reconnecting handler (the design's ReconnectingMCPHandler).
 * Every state change goes through handler_set_state(); every timer belongs
 * to the handler and is cancelled there or in handler_free().  Requests are
 * never lost: each one ends in request_finish()/request_fail() exactly once.
 */
#include "autoconf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "breaker.h"
#include "config.h"
#include "era.h"
#include "errors.h"
#include "events.h"
#include "handler.h"
#include "jsonrpc.h"
#include "jsonscan.h"
#include "log.h"
#include "oauth.h"
#include "relay.h"
#include "retry.h"
#include "retry-rules.h"
#include "rules.h"
#include "stats.h"
#include "session.h"
#include "upstream.h"
#include "upstream-http.h"
#include "upstream-sse.h"
#include "upstream-stdio.h"
#include "xmalloc.h"

/* How long a server may take to answer the server/discover probe. */
#define HANDLER_PROBE_TIMEOUT		2.0

/*
 * The protocol era(s) an upstream speaks, found once by probing with
 * server/discover (2026-07-28's rule for clients of both eras) and kept
 * while the handler lives.
 */
enum handler_era {
	HANDLER_ERA_UNKNOWN,
	HANDLER_ERA_LEGACY,	/* initialize only */
	HANDLER_ERA_DUAL,	/* both: modern requests pass through */
	HANDLER_ERA_MODERN,	/* 2026-07-28 only: no initialize */
};

static const char *const handler_era_names[] = {
	[HANDLER_ERA_UNKNOWN] = "unknown",
	[HANDLER_ERA_LEGACY] = "legacy",
	[HANDLER_ERA_DUAL] = "dual",
	[HANDLER_ERA_MODERN] = "modern",
};

/* The newest legacy revision we speak to upstreams. */
#define HANDLER_PROTOCOL_VERSION	"2025-11-25"
#define HANDLER_PING_TIMEOUT		5.0
/* mcprelayd's own error codes, -32010 ... -32019 (errors.h). */
#define HANDLER_ERROR_CODES		10
/* An upstream listing more than this is broken or hostile. */
#define HANDLER_MAX_LIST		100000

/* Calls the handler makes on its own behalf, answered by the upstream. */
enum internal_kind {
	INTERNAL_INITIALIZE,
	INTERNAL_LIST,
	INTERNAL_PING,
	INTERNAL_REPLAY,	/* re-sent subscription or log level */
	INTERNAL_DISCOVER,	/* server/discover: which era it speaks */
	INTERNAL_LISTEN,	/* subscriptions/listen of a modern server */
};

struct internal_call {
	int64_t			 id;
	enum internal_kind	 kind;
	int			 list;		/* HANDLER_LIST_* */
	struct json_object	*acc;		/* pages collected so far */
	TAILQ_ENTRY(internal_call) entry;
};
TAILQ_HEAD(internal_list, internal_call);

struct handler {
	struct relay			*relay;
	const struct config_server	*cfg;
	char				*name;
	const struct handler_cbs	*cbs;
	void				*cbarg;
	struct session			*owner;		/* per_client */

	enum handler_state		 state;
	double				 state_since;
	char				 reason[256];

	struct upstream			*up;
	struct retry_policy		 policy;
	unsigned			 attempt;	/* in this cycle */
	double				 prev_delay;
	int				 probing;	/* half-open attempt */
	int				 fatal_errno;	/* spawn: not retried */
	enum fail_class			 last_class;
	int				 last_status;	/* HTTP, or 0 */
	struct breaker			*breaker;
	struct event			*timer;		/* the state's timer */
	enum handler_era		 era;
	struct event			*probe;		/* era probe deadline */
	int				 init_sent;	/* this connection */
	int				 discover_retried;
	int64_t				 listen_id;	/* open listen, or 0 */
	int				 legacy_sse;	/* http found to be SSE */
	struct event			*health;
	double				 last_traffic;
	int64_t				 ping_id;

	struct request_list		 queue;
	int				 nqueued;
	struct request_list		 inflight;
	struct request_list		 delayed;	/* retry rules' waits */
	struct internal_list		 internal;
	int				 lists_due;

	struct json_object		*server_info;
	struct json_object		*lists[4];	/* tools, prompts, ... */
	int				 have_lists;

	/* What clients set up, restored after a reconnect. */
	struct json_object		*subscriptions;	/* uri -> true */
	char				*log_level;

	struct retry_stats_table	 stats;
	struct handler_counters		 counters;
	struct rules_counts		 rules;

	/* For stats and the control socket. */
	int				 admin_disabled; /* handler_disable */
	double				 state_total[HANDLER_NSTATES];
	double				 connected_since; /* epoch; 0 = not */
	uint64_t			 connect_failures[FAIL_NCLASSES];
	/* Errors the daemon answered, by -code - 32010 (see errors.h),
	 * with "other" last. */
	uint64_t			 errors_by_code[HANDLER_ERROR_CODES + 1];
	struct stats_latency		 latency;
	struct oauth			*oauth;		/* auth: oauth */
};

static const char *const handler_state_names[HANDLER_NSTATES] = {
	[HANDLER_STOPPED] = "stopped",
	[HANDLER_CONNECTING] = "connecting",
	[HANDLER_INITIALIZING] = "initializing",
	[HANDLER_READY] = "ready",
	[HANDLER_BACKOFF] = "backoff",
	[HANDLER_FAILED] = "failed",
	[HANDLER_STOPPING] = "stopping",
	[HANDLER_DRAINING] = "draining",
	[HANDLER_NEEDS_AUTH] = "needs_auth",
};

static const struct {
	const char	*method;
	const char	*key;
	int		 cap_needed;
} handler_list_kinds[4] = {
	{ "tools/list", "tools", 1 },
	{ "prompts/list", "prompts", 1 },
	{ "resources/list", "resources", 1 },
	{ "resources/templates/list", "resourceTemplates", 1 },
};

/* Methods without side effects: always safe to send again. */
static const char *const handler_safe_methods[] = {
	"initialize", "ping", "tools/list", "prompts/list", "resources/list",
	"resources/read", "resources/templates/list", "prompts/get",
	"completion/complete", "logging/setLevel", "resources/subscribe",
	"resources/unsubscribe", NULL
};

static void	handler_connect(struct handler *);
static void	handler_connect_failed(struct handler *, enum fail_class,
		    const char *why);
static void	handler_send_request(struct handler *, struct request *);
static void	handler_transport_ready_cb(void *);
static void	handler_transport_message_cb(void *, const char *, size_t);
static void	handler_transport_message_obj_cb(void *, struct json_object *);
static int	handler_transport_response_text_cb(void *, const char *, size_t,
		    const struct jsonscan_response *);
static void	handler_transport_undelivered_cb(void *, const char *, size_t);
static void	handler_transport_closed_cb(void *, enum upstream_close_reason,
		    int, const char *);
static void	handler_timer_cb(evutil_socket_t, short, void *);
static void	handler_health_cb(evutil_socket_t, short, void *);
static void	handler_probe_timeout_cb(evutil_socket_t, short, void *);
static void	handler_send_initialize(struct handler *);
static void	handler_initialized(struct handler *, struct json_object *);
static void	handler_became_ready(struct handler *);
static void	handler_listen(struct handler *);
static void	handler_flush_queue(struct handler *);
static void	handler_input_fail(struct handler *, struct request *, int,
		    const char *);
static void	handler_queue(struct handler *, struct request *, int);
static void	handler_fetch_list(struct handler *, int, const char *,
		    struct json_object *);
static void	handler_request_timer_cb(evutil_socket_t, short, void *);
static void	handler_fail_queue(struct handler *, int code, const char *);
static void	handler_fail_inflight(struct handler *, int code,
		    const char *);
static void	handler_halt(struct handler *, const char *why);
static void	handler_drain_check(struct handler *);
static int	handler_spawn_error_is_fatal(int);
static int	handler_close_is_fatal(enum upstream_close_reason, int);
static enum fail_class handler_classify(enum upstream_close_reason, int);
static void	handler_dispatch(struct handler *, struct request *);
static void	handler_salvage_inflight(struct handler *);
static void	handler_drop_transport(struct handler *);
static int	handler_timeout_rules(struct handler *, struct request *,
		    const char *);

static struct json_object *handler_tool_schema_cb(void *, const char *);

static const struct upstream_event_cbs handler_transport_cbs = {
	.ready = handler_transport_ready_cb,
	.message = handler_transport_message_cb,
	.message_obj = handler_transport_message_obj_cb,
	.response_text = handler_transport_response_text_cb,
	.undelivered = handler_transport_undelivered_cb,
	.closed = handler_transport_closed_cb,
	.tool_schema = handler_tool_schema_cb,
};

static void	handler_oauth_logged_in_cb(void *);
static void	handler_drop_transport(struct handler *);
static void	handler_needs_auth(struct handler *, const char *);
static void	handler_salvage_inflight(struct handler *);
static void	handler_connect_failed(struct handler *, enum fail_class,
		    const char *);

/* An error whose data says a login would help (oauth step-up). */
static int
handler_error_wants_login(struct json_object *msg)
{
	struct json_object	*err, *data, *action;

	return json_object_object_get_ex(msg, "error", &err) &&
	    json_object_object_get_ex(err, "data", &data) &&
	    json_object_object_get_ex(data, "action", &action) &&
	    json_object_is_type(action, json_type_string) &&
	    strcmp(json_object_get_string(action), "login") == 0;
}

static const struct oauth_cbs handler_oauth_cbs = {
	.logged_in = handler_oauth_logged_in_cb,
};

const char *
handler_state_name(enum handler_state s)
{
	if ((unsigned)s >= HANDLER_NSTATES)
		return "unknown";
	return handler_state_names[s];
}

static void
handler_timer_arm(struct event *ev, double seconds)
{
	struct timeval	tv;

	if (seconds < 0)
		seconds = 0;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(ev, &tv);
}

/*
 * The one place where the state changes: logs "old -> new (reason)",
 * counts, and cancels the old state's timer.  Callers arm the new state's
 * timer afterwards.
 */
static void
handler_set_state(struct handler *h, enum handler_state next,
    const char *reason)
{
	enum handler_state	prev = h->state;
	struct events		*ev = h->relay->events;
	struct retry_stats	*st;
	double			 now = relay_now();

	evtimer_del(h->timer);
	if (next != HANDLER_READY)
		evtimer_del(h->health);
	h->state_total[prev] += now - h->state_since;
	h->state = next;
	h->state_since = now;
	snprintf(h->reason, sizeof h->reason, "%s", reason ? reason : "");
	h->counters.transitions++;
	if (next == HANDLER_READY && prev != HANDLER_DRAINING)
		h->connected_since = stats_wallclock();
	else if (next != HANDLER_READY && next != HANDLER_DRAINING)
		h->connected_since = 0;
	if (prev != next) {
		log_info("server %s: %s -> %s%s%s%s", h->name,
		    handler_state_name(prev), handler_state_name(next),
		    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
		events_state(ev, h->name, handler_state_name(prev),
		    handler_state_name(next), reason);
		/* systemd STATUS= ("3/4 servers ready") follows at once. */
		relay_status_changed(h->relay);
	}
	/* Only a failed connect attempt leads to BACKOFF or FAILED, and
	 * handler_connect_failed() has recorded its class and stats. */
	if (next == HANDLER_BACKOFF || next == HANDLER_FAILED) {
		st = retry_stats_table_get(&h->stats, "connect");
		if ((unsigned)h->last_class < FAIL_NCLASSES)
			h->connect_failures[h->last_class]++;
		if (next == HANDLER_BACKOFF)
			events_retry(ev, h->name, "connect", h->attempt,
			    h->prev_delay);
		events_failure(ev, h->name, st->consecutive_failures,
		    st->last_error);
	}
	if (next == HANDLER_READY && h->cfg->health_check_interval > 0)
		handler_timer_arm(h->health, h->cfg->health_check_interval);
	if (h->cbs->settled != NULL &&
	    (next == HANDLER_READY || next == HANDLER_FAILED ||
	    next == HANDLER_STOPPED || next == HANDLER_NEEDS_AUTH))
		h->cbs->settled(h->cbarg, h);
}

/* The breaker changed state (it calls this itself, after the change). */
static void
handler_breaker_cb(void *arg, enum breaker_state from, enum breaker_state to)
{
	struct handler	*h = arg;

	h->counters.breaker_transitions++;
	events_breaker(h->relay->events, h->name, breaker_state_name(from),
	    breaker_state_name(to));
}

struct handler *
handler_new(struct relay *relay, const struct config_server *cfg,
    const struct handler_cbs *cbs, void *cbarg)
{
	struct handler		*h;
	struct breaker_config	 bc;

	h = xcalloc(1, sizeof *h);
	h->relay = relay;
	h->cfg = cfg;
	h->name = xstrdup(cfg->name);
	h->cbs = cbs;
	h->cbarg = cbarg;
	h->state = HANDLER_STOPPED;
	h->state_since = relay_now();
	rules_policy_from_config(&h->policy, &cfg->retry);
	/* A pinned era is never probed. */
	if (cfg->protocol == CONFIG_PROTOCOL_MODERN)
		h->era = HANDLER_ERA_MODERN;
	else if (cfg->protocol == CONFIG_PROTOCOL_LEGACY ||
	    cfg->type == CONFIG_SERVER_SSE)
		h->era = HANDLER_ERA_LEGACY;
	breaker_config_init(&bc);
	bc.failure_threshold = cfg->circuit_breaker.failure_threshold;
	bc.open_duration = cfg->circuit_breaker.open_duration;
	bc.max_open_duration = cfg->circuit_breaker.max_open_duration;
	bc.half_open_requests = cfg->circuit_breaker.half_open_requests;
	h->breaker = breaker_new(&bc);
	breaker_set_transition_hook(h->breaker, handler_breaker_cb, h);
	stats_latency_init(&h->latency);
	h->timer = evtimer_new(relay->base, handler_timer_cb, h);
	h->health = evtimer_new(relay->base, handler_health_cb, h);
	h->probe = evtimer_new(relay->base, handler_probe_timeout_cb, h);
	TAILQ_INIT(&h->queue);
	TAILQ_INIT(&h->inflight);
	TAILQ_INIT(&h->delayed);
	TAILQ_INIT(&h->internal);
	h->subscriptions = json_object_new_object();
	retry_stats_table_init(&h->stats);
	if (cfg->type != CONFIG_SERVER_STDIO &&
	    cfg->auth.type == CONFIG_AUTH_OAUTH)
		h->oauth = oauth_new(relay, cfg, &handler_oauth_cbs, h);
	return h;
}

static void
handler_internal_clear(struct handler *h)
{
	struct internal_call	*ic;

	while ((ic = TAILQ_FIRST(&h->internal)) != NULL) {
		TAILQ_REMOVE(&h->internal, ic, entry);
		json_object_put(ic->acc);
		free(ic);
	}
	h->lists_due = 0;
	h->ping_id = 0;
	h->listen_id = 0;
}

void
handler_free(struct handler *h)
{
	struct request	*r;
	int		 i;

	if (h == NULL)
		return;
	while ((r = TAILQ_FIRST(&h->inflight)) != NULL) {
		TAILQ_REMOVE(&h->inflight, r, entry);
		r->handler = NULL;
		request_fail(r, RELAY_ERR_SHUTDOWN, "mcprelayd is stopping",
		    NULL);
	}
	handler_fail_queue(h, RELAY_ERR_SHUTDOWN, "mcprelayd is stopping");
	handler_internal_clear(h);
	upstream_free(h->up);
	oauth_free(h->oauth);
	event_free(h->timer);
	event_free(h->health);
	event_free(h->probe);
	breaker_free(h->breaker);
	for (i = 0; i < 4; i++)
		json_object_put(h->lists[i]);
	json_object_put(h->server_info);
	json_object_put(h->subscriptions);
	free(h->log_level);
	rules_counts_free(&h->rules);
	free(h->name);
	free(h);
}

struct oauth *
handler_oauth(const struct handler *h)
{
	return h->oauth;
}

const char *
handler_name(const struct handler *h)
{
	return h->name;
}

enum handler_state
handler_state(const struct handler *h)
{
	return h->state;
}

const struct config_server *
handler_config(const struct handler *h)
{
	return h->cfg;
}

const struct handler_counters *
handler_counters(const struct handler *h)
{
	return &h->counters;
}

int
handler_pending(const struct handler *h)
{
	if (h->have_lists)
		return 0;
	return h->state == HANDLER_CONNECTING ||
	    h->state == HANDLER_INITIALIZING || h->state == HANDLER_BACKOFF;
}

struct json_object *
handler_tools(const struct handler *h)
{
	return h->lists[0];
}

struct json_object *
handler_prompts(const struct handler *h)
{
	return h->lists[1];
}

struct json_object *
handler_resources(const struct handler *h)
{
	return h->lists[2];
}

struct json_object *
handler_resource_templates(const struct handler *h)
{
	return h->lists[3];
}

struct json_object *
handler_server_info(const struct handler *h)
{
	return h->server_info;
}

void
handler_start(struct handler *h)
{
	if (h->state != HANDLER_STOPPED || h->admin_disabled)
		return;
	h->attempt = 0;
	h->prev_delay = 0;
	handler_set_state(h, HANDLER_CONNECTING, "start");
	handler_connect(h);
}

/* An http or sse server's transport, from its config. */
static struct upstream *
handler_remote_transport(struct handler *h)
{
	const struct config_server	*c = h->cfg;
	struct upstream_remote_spec	 spec;
	struct upstream_remote_header	*hdrs;
	struct upstream			*up;
	size_t				 i;

	hdrs = xcalloc(c->nheaders + 1, sizeof *hdrs);
	for (i = 0; i < c->nheaders; i++) {
		hdrs[i].name = c->headers[i].name;
		hdrs[i].value = c->headers[i].value;
	}
	memset(&spec, 0, sizeof spec);
	spec.name = c->name;
	spec.url = c->url;
	spec.headers = hdrs;
	spec.nheaders = c->nheaders;
	spec.tls.verify = c->tls.verify;
	spec.tls.ca_file = c->tls.ca_file;
	spec.tls.cert_file = c->tls.cert_file;
	spec.tls.key_file = c->tls.key_file;
	spec.tls.min_version = c->tls.min_version != NULL &&
	    strcmp(c->tls.min_version, "1.3") == 0 ? 3 : 2;
	spec.connect_timeout = c->connect_timeout;
	spec.request_timeout = c->request_timeout;
	spec.shutdown_timeout = c->shutdown_timeout;
	spec.max_message = h->relay->cfg->listen.max_body_size;
	spec.oauth = h->oauth;
	if (c->type == CONFIG_SERVER_SSE || h->legacy_sse)
		up = upstream_sse_new(h->relay->base, &spec,
		    &handler_transport_cbs, h);
	else
		up = upstream_http_new(h->relay->base, &spec,
		    &handler_transport_cbs, h);
	free(hdrs);
	return up;
}

/* Build the transport's spec from the server's config and start it. */
static void
handler_connect(struct handler *h)
{
	const struct config_server	*c = h->cfg;
	struct upstream_stdio_spec	 spec;
	struct retry_stats		*st;

	st = retry_stats_table_get(&h->stats, "connect");
	retry_stats_attempt(st);
	h->counters.starts++;

	if (c->type != CONFIG_SERVER_STDIO)
		h->up = handler_remote_transport(h);
	else {
		memset(&spec, 0, sizeof spec);
		spec.name = c->name;
		spec.command = c->command;
		spec.args = c->args;
		spec.env = c->env;
		spec.cwd = c->cwd;
		spec.max_message = h->relay->cfg->listen.max_body_size;
		spec.shutdown_timeout = c->shutdown_timeout;
		h->up = upstream_stdio_new(h->relay->base, h->relay->reaper,
		    &spec, &handler_transport_cbs, h);
	}
	/* connect_timeout covers spawn or connect, initialize and the
	 * first lists. */
	if (c->connect_timeout > 0)
		handler_timer_arm(h->timer, c->connect_timeout);
	if (upstream_start(h->up) == -1) {
		int	err = errno;
		char	why[128];

		snprintf(why, sizeof why, "cannot start '%s': %s",
		    c->command != NULL ? c->command : c->name, strerror(err));
		upstream_free(h->up);
		h->up = NULL;
		if (handler_spawn_error_is_fatal(err))
			h->fatal_errno = err;
		handler_connect_failed(h, FAIL_SPAWN_FAILURE, why);
	}
}

static struct internal_call *
handler_send_internal(struct handler *h, enum internal_kind kind, int list,
    const char *method, struct json_object *params)
{
	struct internal_call	*ic;
	struct json_object	*msg;
	const char		*s;
	size_t			 len;

	ic = xcalloc(1, sizeof *ic);
	ic->id = relay_next_id(h->relay);
	ic->kind = kind;
	ic->list = list;
	TAILQ_INSERT_TAIL(&h->internal, ic, entry);
	msg = jsonrpc_request_new(json_object_new_int64(ic->id), method,
	    params);
	s = jsonrpc_to_string(msg, &len);
	if (upstream_send(h->up, s, len) == -1)
		log_debug("server %s: could not send %s", h->name, method);
	json_object_put(msg);
	return ic;
}

/* The _meta a modern request from mcprelayd itself carries. */
static struct json_object *
handler_modern_params(void)
{
	struct json_object	*params, *meta, *info;

	params = json_object_new_object();
	meta = json_object_new_object();
	json_object_object_add(meta, ERA_META_VERSION,
	    json_object_new_string("2026-07-28"));
	json_object_object_add(meta, ERA_META_CAPS, json_object_new_object());
	info = json_object_new_object();
	json_object_object_add(info, "name", json_object_new_string("mcprelay"));
	json_object_object_add(info, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(meta, ERA_META_CLIENT, info);
	json_object_object_add(params, "_meta", meta);
	return params;
}

/*
 * Does a new connection start with server/discover?  Yes for a server
 * known (or pinned) to speak 2026-07-28, and for an HTTP server not known
 * yet: the spec's rule for HTTP clients, and a legacy HTTP server only
 * answers it with an error.  A stdio server of unknown era is initialized
 * first and asked afterwards (handler_probe_era): some legacy servers exit
 * on any request before initialize, none on an unknown method after it.
 */
static int
handler_discover_first(const struct handler *h)
{
	switch (h->era) {
	case HANDLER_ERA_MODERN:
		return 1;
	case HANDLER_ERA_LEGACY:
	case HANDLER_ERA_DUAL:
		return 0;
	case HANDLER_ERA_UNKNOWN:
		break;
	}
	return h->cfg->type == CONFIG_SERVER_HTTP;
}

static void
handler_send_discover(struct handler *h)
{
	handler_send_internal(h, INTERNAL_DISCOVER, 1, "server/discover",
	    handler_modern_params());
	if (h->era == HANDLER_ERA_UNKNOWN)
		handler_timer_arm(h->probe, HANDLER_PROBE_TIMEOUT);
}

/* The transport is up: the handshake of the server's era. */
static void
handler_transport_ready_cb(void *arg)
{
	struct handler	*h = arg;

	handler_set_state(h, HANDLER_INITIALIZING, "transport up");
	if (h->cfg->connect_timeout > 0)
		handler_timer_arm(h->timer, h->cfg->connect_timeout);
	h->init_sent = 0;
	h->discover_retried = 0;
	if (handler_discover_first(h))
		handler_send_discover(h);
	else
		handler_send_initialize(h);
}

/*
 * Ask which era the server speaks.  ready: the server is initialized and
 * the answer only classifies it; otherwise initialize was refused and a
 * modern answer makes it a modern-only server.
 */
static void
handler_probe_era(struct handler *h, int initialized)
{
	handler_send_internal(h, INTERNAL_DISCOVER, initialized ? 0 : 1,
	    "server/discover", handler_modern_params());
	handler_timer_arm(h->probe, HANDLER_PROBE_TIMEOUT);
}

static void
handler_set_era(struct handler *h, enum handler_era era, const char *why)
{
	evtimer_del(h->probe);
	if (h->era != era)
		log_info("server %s: speaks %s MCP (%s)", h->name,
		    handler_era_names[era], why);
	h->era = era;
}

/* The post-initialize probe counted as one of the things READY waits for. */
static void
handler_probe_done(struct handler *h)
{
	if (h->state == HANDLER_INITIALIZING && h->lists_due > 0 &&
	    --h->lists_due == 0)
		handler_became_ready(h);
}

static void
handler_probe_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handler		*h = arg;
	struct internal_call	*ic;
	int			 before_init = 0;

	TAILQ_FOREACH(ic, &h->internal, entry) {
		if (ic->kind == INTERNAL_DISCOVER) {
			before_init = ic->list;
			TAILQ_REMOVE(&h->internal, ic, entry);
			free(ic);
			break;
		}
	}
	if (before_init && !h->init_sent) {
		handler_set_era(h, HANDLER_ERA_LEGACY,
		    "no answer to server/discover");
		handler_send_initialize(h);
	} else if (before_init)
		handler_connect_failed(h, FAIL_PROTOCOL_ERROR,
		    "initialize was refused and server/discover not answered");
	else if (h->era == HANDLER_ERA_UNKNOWN) {
		handler_set_era(h, HANDLER_ERA_LEGACY,
		    "no answer to server/discover");
		handler_probe_done(h);
	}
}

/* An UnsupportedProtocolVersion error whose supported list has ours. */
static int
handler_version_refused(struct json_object *msg)
{
	struct json_object	*err, *code, *data, *list;
	size_t			 i;
	const char		*v;

	if (!json_object_object_get_ex(msg, "error", &err) ||
	    !json_object_object_get_ex(err, "code", &code) ||
	    json_object_get_int(code) != ERA_ERR_UNSUPPORTED_VERSION ||
	    !json_object_object_get_ex(err, "data", &data) ||
	    !json_object_object_get_ex(data, "supported", &list) ||
	    !json_object_is_type(list, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(list); i++) {
		v = json_object_get_string(json_object_array_get_idx(list, i));
		if (v != NULL && era_modern_version_supported(v))
			return 1;
	}
	return 0;
}

/*
 * The answer to server/discover: after initialize it tells legacy from
 * dual; instead of initialize (before_init) it is how a modern-only server
 * connects.
 */
static void
handler_discovered(struct handler *h, struct json_object *msg, int is_error,
    int before_init)
{
	struct json_object	*result, *versions;
	int			 modern = 0, legacy = 0;
	size_t			 i;
	const char		*v;

	if (!is_error && json_object_object_get_ex(msg, "result", &result) &&
	    json_object_object_get_ex(result, "supportedVersions", &versions) &&
	    json_object_is_type(versions, json_type_array)) {
		for (i = 0; i < json_object_array_length(versions); i++) {
			v = json_object_get_string(
			    json_object_array_get_idx(versions, i));
			if (v != NULL && era_modern_version_supported(v))
				modern = 1;
			else if (v != NULL && session_protocol_supported(v))
				legacy = 1;
		}
	}
	if (!before_init) {
		handler_set_era(h, modern ? HANDLER_ERA_DUAL :
		    HANDLER_ERA_LEGACY, is_error ? "server/discover refused" :
		    "server/discover");
		handler_probe_done(h);
		return;
	}
	evtimer_del(h->probe);
	if (!modern) {
		if (is_error && handler_version_refused(msg) &&
		    !h->discover_retried) {
			/* -32022 naming a version we speak: ask again, once
			 * (versioning.mdx). */
			h->discover_retried = 1;
			handler_send_discover(h);
			return;
		}
		if (h->init_sent || h->cfg->protocol == CONFIG_PROTOCOL_MODERN) {
			handler_connect_failed(h, FAIL_PROTOCOL_ERROR,
			    h->init_sent ? "initialize was refused by the "
			    "server" : "server/discover was refused (protocol: "
			    "modern)");
			return;
		}
		/* A legacy server, or one that forgot: initialize. */
		handler_set_era(h, HANDLER_ERA_LEGACY, is_error ?
		    "server/discover refused" : "server/discover: no modern "
		    "version");
		handler_send_initialize(h);
		return;
	}
	if (legacy && h->cfg->protocol == CONFIG_PROTOCOL_AUTO &&
	    !h->init_sent && h->era == HANDLER_ERA_UNKNOWN) {
		/* Both eras: a session too, for legacy clients. */
		handler_set_era(h, HANDLER_ERA_DUAL, "server/discover");
		handler_send_initialize(h);
		return;
	}
	handler_set_era(h, HANDLER_ERA_MODERN, "server/discover");
	/* Modern only: the discover result stands in for initialize. */
	handler_initialized(h, result);
	if (h->lists_due == 0 && h->state == HANDLER_INITIALIZING)
		handler_became_ready(h);
}

static void
handler_send_initialize(struct handler *h)
{
	struct json_object	*params, *caps, *info;

	h->init_sent = 1;
	params = json_object_new_object();
	json_object_object_add(params, "protocolVersion",
	    json_object_new_string(HANDLER_PROTOCOL_VERSION));
	/*
	 * Capabilities are fixed at initialize, before any client is known:
	 * offer what mcprelayd can forward and answer a clear error when no
	 * client session can take a server request.
	 */
	caps = json_object_new_object();
	json_object_object_add(caps, "sampling", json_object_new_object());
	json_object_object_add(caps, "elicitation", json_object_new_object());
	info = json_object_new_object();
	json_object_object_add(info, "listChanged",
	    json_object_new_boolean(1));
	json_object_object_add(caps, "roots", info);
	json_object_object_add(params, "capabilities", caps);
	info = json_object_new_object();
	json_object_object_add(info, "name", json_object_new_string("mcprelay"));
	json_object_object_add(info, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(params, "clientInfo", info);
	handler_send_internal(h, INTERNAL_INITIALIZE, 0, "initialize", params);
}

/* acc: pages already collected (taken), or NULL for the first page. */
static void
handler_fetch_list(struct handler *h, int which, const char *cursor,
    struct json_object *acc)
{
	struct json_object	*params = NULL;
	struct internal_call	*ic;

	if (h->era == HANDLER_ERA_MODERN)
		params = handler_modern_params();
	if (cursor != NULL) {
		if (params == NULL)
			params = json_object_new_object();
		json_object_object_add(params, "cursor",
		    json_object_new_string(cursor));
	}
	ic = handler_send_internal(h, INTERNAL_LIST, which,
	    handler_list_kinds[which].method, params);
	ic->acc = acc;
}

static int
handler_has_cap(struct handler *h, const char *cap)
{
	struct json_object	*caps;

	if (!json_object_object_get_ex(h->server_info, "capabilities", &caps))
		return 0;
	return json_object_object_get_ex(caps, cap, NULL);
}

/* After initialize: restore what clients set up, then fetch the lists. */
static void
handler_initialized(struct handler *h, struct json_object *result)
{
	struct json_object	*n, *p;
	const char		*s;
	size_t			 len;
	int			 i;

	json_object_put(h->server_info);
	h->server_info = json_object_get(result);
	if (h->era != HANDLER_ERA_MODERN) {
		n = jsonrpc_notification_new("notifications/initialized", NULL);
		s = jsonrpc_to_string(n, &len);
		upstream_send(h->up, s, len);
		json_object_put(n);
	}

	/* A modern server keeps no session state to restore. */
	if (h->era != HANDLER_ERA_MODERN && h->log_level != NULL &&
	    handler_has_cap(h, "logging")) {
		p = json_object_new_object();
		json_object_object_add(p, "level",
		    json_object_new_string(h->log_level));
		handler_send_internal(h, INTERNAL_REPLAY, 0,
		    "logging/setLevel", p);
	}
	json_object_object_foreach(h->subscriptions, uri, unused) {
		if (h->era == HANDLER_ERA_MODERN)
			break;
		(void)unused;
		p = json_object_new_object();
		json_object_object_add(p, "uri", json_object_new_string(uri));
		handler_send_internal(h, INTERNAL_REPLAY, 0,
		    "resources/subscribe", p);
	}

	h->lists_due = 0;
	for (i = 0; i < 4; i++) {
		const char *cap = i == 0 ? "tools" : i == 1 ? "prompts" :
		    "resources";
		if (!handler_has_cap(h, cap)) {
			/* Nothing to list: an empty list, not "unknown". */
			if (h->lists[i] == NULL)
				h->lists[i] = json_object_new_array();
			continue;
		}
		h->lists_due++;
		handler_fetch_list(h, i, NULL, NULL);
	}
}

static void
handler_flush_queue(struct handler *h)
{
	struct request	*r;

	while (h->state == HANDLER_READY &&
	    (r = TAILQ_FIRST(&h->queue)) != NULL) {
		TAILQ_REMOVE(&h->queue, r, entry);
		h->nqueued--;
		request_cancel_timer(r);
		handler_send_request(h, r);
	}
}

static void
handler_became_ready(struct handler *h)
{
	struct retry_stats	*st;

	st = retry_stats_table_get(&h->stats, "connect");
	retry_stats_success(st);
	breaker_success(h->breaker, relay_now());
	h->attempt = 0;
	h->prev_delay = 0;
	h->probing = 0;
	h->fatal_errno = 0;
	h->counters.connects++;
	h->last_traffic = relay_now();
	handler_set_state(h, HANDLER_READY, h->have_lists ? "reconnected" :
	    "initialized");
	h->have_lists = 1;
	handler_listen(h);
	handler_flush_queue(h);
}

/* The capability cap's flag (e.g. tools.listChanged) is true. */
static int
handler_has_flag(struct handler *h, const char *cap, const char *flag)
{
	struct json_object	*caps, *c, *v;

	return json_object_object_get_ex(h->server_info, "capabilities",
	    &caps) && json_object_object_get_ex(caps, cap, &c) &&
	    json_object_object_get_ex(c, flag, &v) &&
	    json_object_get_boolean(v);
}

/*
 * A server that speaks only 2026-07-28 sends list changes and resource
 * updates only on a subscriptions/listen stream: mcprelayd keeps one open
 * (a new one when the subscribed URIs change), so its caches follow and
 * its clients hear of changes as they would from a legacy server.
 */
static void
handler_listen(struct handler *h)
{
	struct json_object	*params, *filter, *uris, *p;
	struct internal_call	*ic;
	int			 any = 0;

	if (h->era != HANDLER_ERA_MODERN || h->state != HANDLER_READY)
		return;
	filter = json_object_new_object();
	if (handler_has_flag(h, "tools", "listChanged") && ++any)
		json_object_object_add(filter, "toolsListChanged",
		    json_object_new_boolean(1));
	if (handler_has_flag(h, "prompts", "listChanged") && ++any)
		json_object_object_add(filter, "promptsListChanged",
		    json_object_new_boolean(1));
	if (handler_has_flag(h, "resources", "listChanged") && ++any)
		json_object_object_add(filter, "resourcesListChanged",
		    json_object_new_boolean(1));
	if (handler_has_flag(h, "resources", "subscribe") &&
	    json_object_object_length(h->subscriptions) > 0) {
		uris = json_object_new_array();
		json_object_object_foreach(h->subscriptions, uri, v) {
			(void)v;
			json_object_array_add(uris, json_object_new_string(uri));
		}
		json_object_object_add(filter, "resourceSubscriptions", uris);
		any++;
	}
	if (h->listen_id != 0) {
		/* The filter changed: the old stream goes. */
		p = json_object_new_object();
		json_object_object_add(p, "requestId",
		    json_object_new_int64(h->listen_id));
		p = jsonrpc_notification_new("notifications/cancelled", p);
		handler_forward_notification(h, p);
		json_object_put(p);
		TAILQ_FOREACH(ic, &h->internal, entry)
			if (ic->id == h->listen_id) {
				TAILQ_REMOVE(&h->internal, ic, entry);
				json_object_put(ic->acc);
				free(ic);
				break;
			}
		h->listen_id = 0;
	}
	if (!any) {
		json_object_put(filter);
		return;
	}
	params = handler_modern_params();
	json_object_object_add(params, "notifications", filter);
	h->listen_id = handler_send_internal(h, INTERNAL_LISTEN, 0,
	    "subscriptions/listen", params)->id;
}

/* For the transport's Mcp-Param-* headers. */
static struct json_object *
handler_tool_schema_cb(void *arg, const char *tool)
{
	struct handler		*h = arg;
	struct json_object	*t, *v;
	size_t			 i, n;

	if (h->lists[0] == NULL)
		return NULL;
	n = json_object_array_length(h->lists[0]);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(h->lists[0], i);
		if (json_object_object_get_ex(t, "name", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), tool) == 0)
			return json_object_object_get_ex(t, "inputSchema",
			    &v) ? v : NULL;
	}
	return NULL;
}

/*
 * A tool whose x-mcp-header annotations break the rules is left out
 * (2026-07-28, Streamable HTTP: clients must; mcprelayd serves HTTP
 * clients whatever the upstream's transport), with a warning naming it.
 */
static struct json_object *
handler_valid_tools(struct handler *h, struct json_object *items)
{
	struct json_object	*out, *t, *name;
	char			 why[160];
	size_t			 i, n = json_object_array_length(items);

	for (i = 0; i < n; i++)
		if (!era_tool_headers_valid(json_object_array_get_idx(items,
		    i), why, sizeof why))
			break;
	if (i == n)
		return items;
	out = json_object_new_array();
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(items, i);
		if (era_tool_headers_valid(t, why, sizeof why)) {
			json_object_array_add(out, json_object_get(t));
			continue;
		}
		log_warnx("server %s: leaving out tool '%.80s': %s", h->name,
		    json_object_object_get_ex(t, "name", &name) ?
		    json_object_get_string(name) : "?", why);
	}
	json_object_put(items);
	return out;
}

static void
handler_list_done(struct handler *h, int which, struct json_object *items)
{
	int	changed;

	if (which == 0)
		items = handler_valid_tools(h, items);

	changed = h->lists[which] == NULL ||
	    !json_object_equal(h->lists[which], items);
	json_object_put(h->lists[which]);
	h->lists[which] = items;
	/* Calls held for a fresh tool list (handler_header_mismatch). */
	if (which == 0 && h->state == HANDLER_READY && h->nqueued > 0)
		handler_flush_queue(h);
	if (h->state == HANDLER_INITIALIZING) {
		/* The first fetch is no change a client could have seen;
		 * decide before becoming ready sets have_lists. */
		if (!h->have_lists)
			changed = 0;
		if (--h->lists_due == 0)
			handler_became_ready(h);
	}
	if (changed && h->cbs->lists_changed != NULL)
		h->cbs->lists_changed(h->cbarg, h, 1u << which);
}

static void
handler_internal_reply(struct handler *h, struct internal_call *ic,
    struct json_object *msg, int is_error)
{
	struct json_object	*result, *items, *next;
	char			 why[256];
	int			 i;

	if (ic->kind == INTERNAL_PING) {
		h->ping_id = 0;
		return;
	}
	/* The server wants more scope than the token has before it can be
	 * used at all (403 insufficient_scope while connecting). */
	if (is_error && jsonrpc_error_code(msg) == RELAY_ERR_NEEDS_AUTH &&
	    (h->state == HANDLER_CONNECTING ||
	    h->state == HANDLER_INITIALIZING)) {
		snprintf(why, sizeof why, "%s", jsonrpc_error_message(msg) !=
		    NULL ? jsonrpc_error_message(msg) : "needs authorization");
		if (handler_error_wants_login(msg))
			handler_needs_auth(h, why);
		else {
			/* The step-up limit: a login would not help. */
			h->fatal_errno = EACCES;
			handler_connect_failed(h, FAIL_PROTOCOL_ERROR, why);
		}
		return;
	}
	if (ic->kind == INTERNAL_REPLAY) {
		if (is_error)
			log_warnx("server %s: could not restore client "
			    "setup after reconnect", h->name);
		return;
	}
	if (ic->kind == INTERNAL_DISCOVER) {
		handler_discovered(h, msg, is_error, ic->list);
		return;
	}
	if (ic->kind == INTERNAL_LISTEN) {
		/* Ended by the server; the next connection opens another. */
		log_debug("server %s: its subscriptions/listen ended%s",
		    h->name, is_error ? " with an error" : "");
		if (h->listen_id == ic->id)
			h->listen_id = 0;
		return;
	}
	if (ic->kind == INTERNAL_INITIALIZE) {
		if (is_error || !json_object_object_get_ex(msg, "result",
		    &result) || !json_object_is_type(result, json_type_object)) {
			/* Perhaps a server that speaks only 2026-07-28, or
			 * one whose discover claimed more than it serves. */
			if (h->era == HANDLER_ERA_UNKNOWN ||
			    h->era == HANDLER_ERA_DUAL) {
				h->era = HANDLER_ERA_UNKNOWN;
				handler_probe_era(h, 0);
				return;
			}
			handler_connect_failed(h, FAIL_PROTOCOL_ERROR,
			    "initialize was refused by the server");
			return;
		}
		handler_initialized(h, result);
		/* Ready waits for the era too: a modern request must not
		 * be translated for a server that would have taken it. */
		if (h->era == HANDLER_ERA_UNKNOWN) {
			h->lists_due++;
			handler_probe_era(h, 1);
		}
		if (h->lists_due == 0 && h->state == HANDLER_INITIALIZING)
			handler_became_ready(h);
		return;
	}

	/* A list page: collect, follow nextCursor, finish. */
	if (ic->acc == NULL)
		ic->acc = json_object_new_array();
	if (is_error || !json_object_object_get_ex(msg, "result", &result) ||
	    !json_object_object_get_ex(result,
	    handler_list_kinds[ic->list].key, &items) ||
	    !json_object_is_type(items, json_type_array)) {
		log_warnx("server %s: %s failed; keeping the last list",
		    h->name, handler_list_kinds[ic->list].method);
		items = h->lists[ic->list] ? json_object_get(h->lists[ic->list]) :
		    json_object_new_array();
		handler_list_done(h, ic->list, items);
		return;
	}
	for (i = 0; i < (int)json_object_array_length(items); i++)
		json_object_array_add(ic->acc,
		    json_object_get(json_object_array_get_idx(items, i)));
	if (json_object_object_get_ex(result, "nextCursor", &next) &&
	    json_object_is_type(next, json_type_string) &&
	    json_object_get_string_len(next) > 0 &&
	    json_object_array_length(ic->acc) < HANDLER_MAX_LIST) {
		/* The next page's call carries the pages collected so far. */
		handler_fetch_list(h, ic->list, json_object_get_string(next),
		    ic->acc);
		ic->acc = NULL;
		return;
	}
	items = ic->acc;
	ic->acc = NULL;
	handler_list_done(h, ic->list, items);
}

/* ---- requests ---------------------------------------------------------- */

static int
handler_tool_annotated_safe(struct handler *h, const char *tool)
{
	struct json_object	*tools = h->lists[0], *t, *name, *ann, *v;
	size_t			 i;

	if (tools == NULL)
		return 0;
	for (i = 0; i < json_object_array_length(tools); i++) {
		t = json_object_array_get_idx(tools, i);
		if (!json_object_object_get_ex(t, "name", &name) ||
		    strcmp(json_object_get_string(name), tool) != 0)
			continue;
		if (!json_object_object_get_ex(t, "annotations", &ann))
			return 0;
		if (json_object_object_get_ex(ann, "readOnlyHint", &v) &&
		    json_object_get_boolean(v))
			return 1;
		if (json_object_object_get_ex(ann, "idempotentHint", &v) &&
		    json_object_get_boolean(v))
			return 1;
		return 0;
	}
	return 0;
}

/*
 * May this request be sent again after the connection dropped under it?
 * Side-effect-free methods yes; tools only when trusted annotations or the
 * operator say so.  Everything else: never twice.
 */
static int
handler_retry_safe(struct handler *h, struct request *r)
{
	int	i;

	/* tools/call first: the call that matters, and not in the list. */
	if (strcmp(r->method, "tools/call") != 0) {
		for (i = 0; handler_safe_methods[i] != NULL; i++)
			if (strcmp(r->method, handler_safe_methods[i]) == 0)
				return 1;
		return 0;
	}
	if (r->tool == NULL)
		return 0;
	/* tools.TOOL.idempotent, else idempotent_tools; then annotations. */
	if ((i = config_tool_idempotent(h->cfg, r->tool)) != -1)
		return i;
	if (h->cfg->trust_annotations)
		return handler_tool_annotated_safe(h, r->tool);
	return 0;
}

/* tools.TOOL.timeout, else request_timeout. */
static double
handler_request_timeout(struct handler *h, struct request *r)
{
	const struct config_tool	*t = config_tool_find(h->cfg, r->tool);

	return t != NULL && t->timeout > 0 ? t->timeout :
	    h->cfg->request_timeout;
}

static void
handler_request_timer_arm(struct handler *h, struct request *r,
    double seconds)
{
	if (seconds <= 0)
		return;
	handler_timer_arm(request_timer(r, h->relay->base,
	    handler_request_timer_cb), seconds);
}

/*
 * 2026-07-28 removed ping, logging/setLevel and resources/(un)subscribe: a
 * legacy client's are answered here for a server that speaks only that
 * revision.  The session keeps the level (it goes with each request as
 * _meta logLevel); the handler keeps the subscriptions.  1 when answered.
 */
static int
handler_answer_removed(struct handler *h, struct request *r)
{
	if (h->era != HANDLER_ERA_MODERN || r->era == ERA_MODERN ||
	    (strcmp(r->method, "ping") != 0 &&
	    strcmp(r->method, "logging/setLevel") != 0 &&
	    strcmp(r->method, "resources/subscribe") != 0 &&
	    strcmp(r->method, "resources/unsubscribe") != 0))
		return 0;
	h->counters.replies++;
	h->counters.replies_ok++;
	r->handler = NULL;
	r->where = REQUEST_NEW;
	request_finish(r, jsonrpc_result_new(r->client_id,
	    json_object_new_object()));
	/* The subscriptions changed: the listen stream follows. */
	handler_listen(h);
	handler_drain_check(h);
	return 1;
}

/*
 * Tasks are not translated: the 2025-11-25 tasks API (a request's "task"
 * parameter, tasks/get, tasks/result, tasks/list, tasks/cancel) and the
 * 2026-07-28 tasks extension (tasks/get, tasks/update, tasks/cancel,
 * task handles the server returns on its own) differ in shape and
 * meaning.  Where client and server eras differ, such a request is refused
 * with a clear error; where they match (a dual server included), it passes.
 * 1 when refused.
 */
static int
handler_refuse_tasks(struct handler *h, struct request *r)
{
	struct json_object	*params;
	int			 legacy_server, task;
	char			 text[320];

	legacy_server = h->era == HANDLER_ERA_LEGACY;
	if (!(r->era == ERA_MODERN ? legacy_server :
	    h->era == HANDLER_ERA_MODERN))
		return 0;
	task = strncmp(r->method, "tasks/", 6) == 0;
	if (!task && r->era != ERA_MODERN &&
	    json_object_object_get_ex(request_msg(r), "params", &params) &&
	    json_object_object_get_ex(params, "task", NULL))
		task = 1;
	if (!task)
		return 0;
	snprintf(text, sizeof text, "server '%s' speaks %s, whose tasks differ "
	    "from the %s tasks of this request; mcprelayd does not translate "
	    "tasks between the eras", h->name, legacy_server ?
	    "only the legacy protocol" : "only 2026-07-28", r->era ==
	    ERA_MODERN ? "2026-07-28 extension's" : "2025-11-25 API's");
	log_info("server %s: refused %s: tasks across eras", h->name,
	    r->method);
	r->handler = NULL;
	r->where = REQUEST_NEW;
	request_fail(r, strncmp(r->method, "tasks/", 6) == 0 ?
	    JSONRPC_METHOD_NOT_FOUND : JSONRPC_INVALID_PARAMS, text, NULL);
	handler_drain_check(h);
	return 1;
}

/*
 * A tools/call still kept as the client's bytes, to a server of its own
 * era: those bytes with our id.
 */
static int
handler_send_text(struct handler *h, struct request *r)
{
	char	 buf[2048], num[JSONRPC_INT_TEXT], *text;
	size_t	 nlen, len;
	int	 allocated, rc;

	nlen = jsonrpc_int_text(r->upstream_id, num);
	text = jsonrpc_splice(r->text, r->text_len, r->id_start, r->id_end,
	    num, nlen, buf, sizeof buf, &len, &allocated);
	rc = upstream_send_request(h->up, text, len, r->method,
	    r->upstream_id);
	if (allocated)
		free(text);
	return rc;
}

/* The request as objects, rewritten: our id, our progress token. */
static int
handler_send_built(struct handler *h, struct request *r)
{
	struct json_object	*msg = request_msg(r), *params, *meta;
	char			 token[64];

	/* Each client's request goes in its own era when the server
	 * speaks it, translated only where it does not. */
	if (r->era == ERA_MODERN && h->era != HANDLER_ERA_DUAL &&
	    h->era != HANDLER_ERA_MODERN)
		era_request_to_legacy(msg);
	else if (r->era != ERA_MODERN && h->era == HANDLER_ERA_MODERN)
		era_request_to_modern(msg, r->session != NULL ?
		    session_client_capabilities(r->session) : NULL,
		    r->session != NULL ? session_client_info(r->session) :
		    NULL, r->session != NULL ?
		    session_log_level(r->session) : NULL);
	json_object_object_add(msg, "id",
	    json_object_new_int64(r->upstream_id));
	if (r->client_progress != NULL &&
	    json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "_meta", &meta)) {
		snprintf(token, sizeof token, "mcprelay-%lld",
		    (long long)r->upstream_id);
		json_object_object_add(meta, "progressToken",
		    json_object_new_string(token));
	}
	return upstream_send_msg(h->up, msg);
}

static void
handler_send_request(struct handler *h, struct request *r)
{
	int	rc;

	if (handler_answer_removed(h, r) || handler_refuse_tasks(h, r))
		return;

	r->upstream_id = relay_next_id(h->relay);
	r->attempts++;
	r->where = REQUEST_INFLIGHT;
	r->sent = 1;
	r->undelivered = 0;
	TAILQ_INSERT_TAIL(&h->inflight, r, entry);
	h->last_traffic = relay_now();
	handler_request_timer_arm(h, r, handler_request_timeout(h, r));
	/* A modern server needs the call translated, so built. */
	if (r->text != NULL && h->era != HANDLER_ERA_MODERN)
		rc = handler_send_text(h, r);
	else
		rc = handler_send_built(h, r);
	/* Not taken (the transport is failing): it never left. */
	if (rc == -1) {
		r->undelivered = 1;
		log_debug("server %s: send failed; the loss is handled when "
		    "the transport reports it", h->name);
	}
}

static void
handler_queue(struct handler *h, struct request *r, int front)
{
	r->where = REQUEST_QUEUED;
	if (front)
		TAILQ_INSERT_HEAD(&h->queue, r, entry);
	else
		TAILQ_INSERT_TAIL(&h->queue, r, entry);
	h->nqueued++;
	handler_request_timer_arm(h, r, h->cfg->queue_timeout);
}

static struct json_object *
handler_error_data(struct handler *h, struct request *r)
{
	struct json_object	*d;
	double			 after;

	d = json_object_new_object();
	json_object_object_add(d, "server", json_object_new_string(h->name));
	json_object_object_add(d, "state",
	    json_object_new_string(handler_state_name(h->state)));
	json_object_object_add(d, "attempts",
	    json_object_new_int(r != NULL ? r->attempts : 0));
	if (h->reason[0] != '\0')
		json_object_object_add(d, "lastError",
		    json_object_new_string(h->reason));
	after = breaker_retry_after(h->breaker, relay_now());
	if (h->state == HANDLER_FAILED || after > 0) {
		if (after <= 0 && evtimer_pending(h->timer, NULL)) {
			struct timeval	tv, now;

			evtimer_pending(h->timer, &tv);
			event_base_gettimeofday_cached(h->relay->base, &now);
			after = (double)(tv.tv_sec - now.tv_sec) +
			    (double)(tv.tv_usec - now.tv_usec) / 1e6;
		}
		/* Whole seconds, rounded up (ceil(), without libm). */
		if ((double)(int64_t)after < after)
			after = (double)(int64_t)after + 1;
		json_object_object_add(d, "retryAfter",
		    json_object_new_double(after > 0 ? after : 1));
	}
	return d;
}

static void
handler_fail_request(struct handler *h, struct request *r, int code,
    const char *message)
{
	int	i = -code - 32010;

	h->counters.errors++;
	h->errors_by_code[i >= 0 && i < HANDLER_ERROR_CODES ? i :
	    HANDLER_ERROR_CODES]++;
	r->handler = NULL;
	request_fail(r, code, message, handler_error_data(h, r));
}

static void
handler_fail_queue(struct handler *h, int code, const char *message)
{
	struct request	*r;

	while ((r = TAILQ_FIRST(&h->queue)) != NULL) {
		TAILQ_REMOVE(&h->queue, r, entry);
		h->nqueued--;
		request_cancel_timer(r);
		handler_fail_request(h, r, code, message);
	}
	/* Waiting for a rule's retry is waiting too. */
	while ((r = TAILQ_FIRST(&h->delayed)) != NULL) {
		TAILQ_REMOVE(&h->delayed, r, entry);
		request_cancel_timer(r);
		handler_fail_request(h, r, code, message);
	}
}

static void
handler_note_client_setup(struct handler *h, struct request *r)
{
	struct json_object	*params, *v;
	const char		*s = NULL;
	int			 level;

	level = strcmp(r->method, "logging/setLevel") == 0;
	if (!level && strcmp(r->method, "resources/subscribe") != 0 &&
	    strcmp(r->method, "resources/unsubscribe") != 0)
		return;
	if (!json_object_object_get_ex(request_msg(r), "params", &params))
		return;
	/* Only well-formed values are remembered (null is no string). */
	if (json_object_object_get_ex(params, level ? "level" : "uri", &v) &&
	    json_object_is_type(v, json_type_string))
		s = json_object_get_string(v);
	if (s == NULL)
		return;
	if (strcmp(r->method, "resources/subscribe") == 0)
		json_object_object_add(h->subscriptions, s,
		    json_object_new_boolean(1));
	else if (strcmp(r->method, "resources/unsubscribe") == 0)
		json_object_object_del(h->subscriptions, s);
	else {
		free(h->log_level);
		h->log_level = xstrdup(s);
	}
}

/* -32008 naming the command that helps. */
static void
handler_fail_needs_auth(struct handler *h, struct request *r)
{
	struct json_object	*d;
	char			 msg[512], cmd[300];

	snprintf(cmd, sizeof cmd, "mcprelayctl login %s", h->name);
	snprintf(msg, sizeof msg, "server '%s' needs authorization: run "
	    "'%s'", h->name, cmd);
	d = handler_error_data(h, r);
	json_object_object_add(d, "action", json_object_new_string("login"));
	json_object_object_add(d, "command", json_object_new_string(cmd));
	h->counters.errors++;
	h->errors_by_code[HANDLER_ERROR_CODES]++;
	r->handler = NULL;
	request_fail(r, RELAY_ERR_NEEDS_AUTH, msg, d);
}

/*
 * The server wants a login: not a failure of the server, so no retry and
 * no breaker; what waits fails with -32008.  The transport answered the
 * requests it saw refused with -32008 already; the others in flight are
 * handled as for any lost connection (those safe to repeat wait in the
 * queue and fail with -32008, the rest may have run: -32015).
 */
static void
handler_needs_auth(struct handler *h, const char *why)
{
	struct request	*r;

	if (h->state == HANDLER_READY)
		h->counters.disconnects++;
	handler_drop_transport(h);
	h->attempt = 0;
	h->prev_delay = 0;
	h->probing = 0;
	handler_set_state(h, HANDLER_NEEDS_AUTH, why);
	handler_salvage_inflight(h);
	while ((r = TAILQ_FIRST(&h->queue)) != NULL) {
		TAILQ_REMOVE(&h->queue, r, entry);
		h->nqueued--;
		request_cancel_timer(r);
		handler_fail_needs_auth(h, r);
	}
}

/* A login gave a token: connect now if waiting for one. */
static void
handler_oauth_logged_in_cb(void *arg)
{
	struct handler	*h = arg;

	switch (h->state) {
	case HANDLER_NEEDS_AUTH:
	case HANDLER_BACKOFF:
	case HANDLER_FAILED:
		handler_reconnect(h, "logged in");
		break;
	default:
		break;
	}
}

void
handler_submit(struct handler *h, struct request *r)
{
	r->handler = h;
	r->started = relay_now();
	h->counters.requests++;
	r->retry_safe = handler_retry_safe(h, r);
	handler_note_client_setup(h, r);
	handler_dispatch(h, r);
}

/* Send, queue or refuse r by the state (first time or a rule's retry). */
static void
handler_dispatch(struct handler *h, struct request *r)
{
	const struct config_tool	*t;
	char				 msg[768];

	r->where = REQUEST_NEW;
	switch (h->state) {
	case HANDLER_READY:
		handler_send_request(h, r);
		return;
	case HANDLER_CONNECTING:
	case HANDLER_INITIALIZING:
	case HANDLER_BACKOFF:
		if ((t = config_tool_find(h->cfg, r->tool)) != NULL &&
		    !t->queue) {
			snprintf(msg, sizeof msg, "server '%s' is "
			    "reconnecting and tool '%s' does not wait for it "
			    "(queue: false): %s", h->name, r->tool, h->reason);
			handler_fail_request(h, r, RELAY_ERR_UNAVAILABLE, msg);
			return;
		}
		if (h->nqueued >= h->cfg->queue_limit) {
			h->counters.queue_rejects++;
			snprintf(msg, sizeof msg, "server '%s' is reconnecting "
			    "and its queue is full (%d requests)", h->name,
			    h->cfg->queue_limit);
			handler_fail_request(h, r, RELAY_ERR_QUEUE_FULL, msg);
			return;
		}
		handler_queue(h, r, 0);
		return;
	case HANDLER_FAILED:
		if (h->fatal_errno != 0) {
			snprintf(msg, sizeof msg, "server '%s' cannot be "
			    "started: %s", h->name, h->reason);
			handler_fail_request(h, r, RELAY_ERR_SPAWN, msg);
		} else if (breaker_state(h->breaker, relay_now()) ==
		    BREAKER_OPEN) {
			snprintf(msg, sizeof msg, "server '%s' is unavailable "
			    "(circuit open after repeated failures: %s)",
			    h->name, h->reason);
			handler_fail_request(h, r, RELAY_ERR_CIRCUIT_OPEN, msg);
		} else {
			snprintf(msg, sizeof msg, "server '%s' is unavailable "
			    "(retries exhausted: %s)", h->name, h->reason);
			handler_fail_request(h, r, RELAY_ERR_UNAVAILABLE, msg);
		}
		return;
	case HANDLER_NEEDS_AUTH:
		handler_fail_needs_auth(h, r);
		return;
	case HANDLER_DRAINING:
	case HANDLER_STOPPED:
	case HANDLER_STOPPING:
	case HANDLER_NSTATES:
		if (h->admin_disabled)
			snprintf(msg, sizeof msg, "server '%s' is disabled by "
			    "the operator (mcprelayctl enable %s)", h->name,
			    h->name);
		else
			snprintf(msg, sizeof msg, "server '%s' is disabled",
			    h->name);
		handler_fail_request(h, r, RELAY_ERR_DISABLED, msg);
		return;
	}
}

/* DRAINING ends once nothing is in flight: stop from the loop, not from
 * inside whatever removed the last request. */
static void
handler_drain_check(struct handler *h)
{
	if (h->state == HANDLER_DRAINING && TAILQ_EMPTY(&h->inflight))
		handler_timer_arm(h->timer, 0);
}

void
handler_forget(struct handler *h, struct request *r)
{
	if (r->where == REQUEST_QUEUED) {
		TAILQ_REMOVE(&h->queue, r, entry);
		h->nqueued--;
	} else if (r->where == REQUEST_INFLIGHT)
		TAILQ_REMOVE(&h->inflight, r, entry);
	else if (r->where == REQUEST_DELAYED)
		TAILQ_REMOVE(&h->delayed, r, entry);
	r->where = REQUEST_NEW;
	r->handler = NULL;
	handler_drain_check(h);
}

static void
handler_send_cancel(struct handler *h, struct request *r, const char *why)
{
	struct json_object	*n, *p;
	const char		*s;
	size_t			 len;

	if (h->up == NULL || (h->state != HANDLER_READY &&
	    h->state != HANDLER_DRAINING))
		return;
	p = json_object_new_object();
	json_object_object_add(p, "requestId",
	    json_object_new_int64(r->upstream_id));
	json_object_object_add(p, "reason", json_object_new_string(why));
	n = jsonrpc_notification_new("notifications/cancelled", p);
	s = jsonrpc_to_string(n, &len);
	upstream_send(h->up, s, len);
	json_object_put(n);
}

void
handler_cancel(struct handler *h, struct request *r)
{
	handler_send_cancel(h, r, "cancelled by the client");
}

void
handler_subscribe(struct handler *h, const char *uri)
{
	struct json_object	*p;

	if (json_object_object_get_ex(h->subscriptions, uri, NULL))
		return;
	json_object_object_add(h->subscriptions, uri,
	    json_object_new_boolean(1));
	if (h->era == HANDLER_ERA_MODERN)
		handler_listen(h);
	if (h->state != HANDLER_READY || h->era == HANDLER_ERA_MODERN)
		return;
	p = json_object_new_object();
	json_object_object_add(p, "uri", json_object_new_string(uri));
	handler_send_internal(h, INTERNAL_REPLAY, 0, "resources/subscribe", p);
}

void
handler_set_log_level(struct handler *h, const char *level)
{
	struct json_object	*p;

	free(h->log_level);
	h->log_level = xstrdup(level);
	if (h->state != HANDLER_READY || !handler_has_cap(h, "logging"))
		return;
	p = json_object_new_object();
	json_object_object_add(p, "level", json_object_new_string(level));
	handler_send_internal(h, INTERNAL_REPLAY, 0, "logging/setLevel", p);
}

void
handler_set_config(struct handler *h, const struct config_server *cfg)
{
	h->cfg = cfg;
	if (h->oauth != NULL)
		oauth_set_config(h->oauth, cfg);
}

void
handler_note_fallback(struct handler *h)
{
	h->counters.fallbacks++;
}

void
handler_set_owner(struct handler *h, struct session *s)
{
	h->owner = s;
}

struct session *
handler_owner(const struct handler *h)
{
	return h->owner;
}

static void
handler_request_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request	*r = arg;
	struct handler	*h = r->handler;
	char		 msg[256];

	if (h == NULL)
		return;
	if (r->where == REQUEST_DELAYED) {
		TAILQ_REMOVE(&h->delayed, r, entry);
		handler_dispatch(h, r);
		return;
	}
	if (r->where == REQUEST_QUEUED) {
		h->counters.queue_timeouts++;
		handler_forget(h, r);
		snprintf(msg, sizeof msg, "server '%s' did not come back "
		    "within queue_timeout (%.1fs)", h->name,
		    h->cfg->queue_timeout);
		r->handler = h;
		handler_fail_request(h, r, RELAY_ERR_QUEUE_TIMEOUT, msg);
		return;
	}
	h->counters.timeouts++;
	handler_send_cancel(h, r, "request timed out in mcprelayd");
	handler_forget(h, r);
	snprintf(msg, sizeof msg, "server '%s' did not answer %s within "
	    "%s (%.1fs)", h->name, r->method,
	    handler_request_timeout(h, r) != h->cfg->request_timeout ?
	    "the tool's timeout" : "request_timeout",
	    handler_request_timeout(h, r));
	r->handler = h;
	if (handler_timeout_rules(h, r, msg))
		return;
	handler_fail_request(h, r, RELAY_ERR_TIMEOUT, msg);
}

/* ---- retry rules ------------------------------------------------------ */

static const char *
handler_op_name(const struct request *r)
{
	return strcmp(r->method, "tools/call") == 0 ? "execute_tool" :
	    strstr(r->method, "/list") != NULL ? "list_tools" : "request";
}

static const char *
handler_rule_tool(const struct request *r)
{
	return strcmp(r->method, "tools/call") == 0 ? r->tool : NULL;
}

static void
handler_request_what(const struct request *r, char *buf, size_t len)
{
	if (r->tool != NULL)
		snprintf(buf, len, "tool '%s'", r->tool);
	else
		snprintf(buf, len, "%s", r->method);
}

/* The rule for ev, counted; false when none matched (built-in rules). */
static bool
handler_rule_decide(struct handler *h, const struct retry_event *ev,
    struct rules_decision *d)
{
	if (!rules_decide(h->cfg, ev, d))
		return false;
	rules_counts_add(&h->rules, d->rule);
	return true;
}

/* A failure of r as the rules see it. */
static void
handler_rule_event(struct request *r, struct retry_event *ev,
    const char *class, int status, const char *message)
{
	memset(ev, 0, sizeof *ev);
	ev->class = class;
	ev->http_status = status;
	ev->method = r->method;
	ev->tool = handler_rule_tool(r);
	ev->message = message;
}

/*
 * A rule retries r: it waits on the delayed list for the rule's delay (or
 * the error's hint), then is dispatched again.  -1, with nothing done,
 * when the rule has no retries left for r.
 */
static int
handler_rule_retry(struct handler *h, struct request *r,
    const struct rules_decision *d, const char *why)
{
	struct retry_stats	*st;
	char			 what[160];
	double			 delay;

	handler_request_what(r, what, sizeof what);
	delay = retry_rule_delay(d->rule, &d->base, r->rule_retries,
	    r->rule_prev_delay, d->hint, &h->relay->rng);
	if (delay < 0) {
		log_info("server %s: %s failed (%s); rule '%s' has no retries "
		    "left (%u made)", h->name, what, why, d->rule->name,
		    r->rule_retries);
		return -1;
	}
	r->rule_retries++;
	r->rule_prev_delay = delay;
	h->counters.rule_retries++;
	st = retry_stats_table_get(&h->stats, handler_op_name(r));
	retry_stats_retry(st, delay);
	events_retry(h->relay->events, h->name, "request", r->rule_retries,
	    delay);
	log_info("server %s: %s failed (%s); retrying in %.2fs%s (rule '%s', "
	    "retry %u of %d)", h->name, what, why, delay,
	    d->hint >= 0 ? " as the error asks" : "", d->rule->name,
	    r->rule_retries, d->policy.max_retries);
	r->where = REQUEST_DELAYED;
	TAILQ_INSERT_TAIL(&h->delayed, r, entry);
	handler_timer_arm(request_timer(r, h->relay->base,
	    handler_request_timer_cb), delay);
	return 0;
}

/* A rule sends r to the fallback server: 0 when the router took it. */
static int
handler_rule_fallback(struct handler *h, struct request *r,
    const struct retry_rule *rule, const char *why)
{
	char	what[160];

	handler_request_what(r, what, sizeof what);
	if (h->cbs->fallback != NULL && r->tool != NULL) {
		r->handler = NULL;
		r->where = REQUEST_NEW;
		request_cancel_timer(r);
		log_info("server %s: %s failed (%s); trying the fallback "
		    "server (rule '%s')", h->name, what, why, rule->name);
		if (h->cbs->fallback(h->cbarg, h, r) == 0)
			return 0;
		r->handler = h;
	}
	log_info("server %s: rule '%s' asks for a fallback for %s, but no "
	    "fallback server offers it", h->name, rule->name, what);
	return -1;
}

/*
 * A rule counts a failure toward the breaker.  If that opens it while the
 * server is connected, the connection is dropped and the server fails
 * fast (and falls back) until the breaker's half-open probe succeeds.
 */
static void
handler_trip(struct handler *h, const struct retry_rule *rule)
{
	double	now = relay_now();
	char	why[256];

	breaker_failure(h->breaker, now);
	log_info("server %s: rule '%s' counts a failure toward the circuit "
	    "breaker (%s)", h->name, rule->name,
	    breaker_state_name(breaker_state(h->breaker, now)));
	if (breaker_state(h->breaker, now) != BREAKER_OPEN ||
	    h->state != HANDLER_READY || h->up == NULL)
		return;
	snprintf(why, sizeof why, "circuit breaker opened by retry rule "
	    "'%s'", rule->name);
	h->counters.disconnects++;
	h->last_class = FAIL_RESET;
	h->last_status = 0;
	handler_drop_transport(h);
	handler_set_state(h, HANDLER_FAILED, why);
	handler_salvage_inflight(h);
	handler_fail_queue(h, RELAY_ERR_CIRCUIT_OPEN, why);
	handler_timer_arm(h->timer, breaker_retry_after(h->breaker, now));
}

/* The text of a tool result's text content, joined by newlines. */
static void
handler_result_text(struct json_object *result, char *buf, size_t len)
{
	struct json_object	*content, *item, *v;
	size_t			 i, off = 0;
	int			 n;

	buf[0] = '\0';
	if (!json_object_object_get_ex(result, "content", &content) ||
	    !json_object_is_type(content, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(content) && off < len; i++) {
		item = json_object_array_get_idx(content, i);
		if (!json_object_object_get_ex(item, "text", &v) ||
		    !json_object_is_type(v, json_type_string))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? "\n" : "",
		    json_object_get_string(v));
		off += n < 0 ? 0 : (size_t)n;
	}
}

/*
 * The server answered r with a JSON-RPC error or an isError result: the
 * call did run and failed, so a rule may run it again.  0 when a rule took
 * r (a retry waits, or the fallback has it); 1 when the answer goes to
 * the client, with *trip set when a rule wants it counted by the breaker.
 */
static int
handler_answer_rules(struct handler *h, struct request *r,
    struct json_object *msg, int is_error, const struct retry_rule **trip)
{
	struct json_object	*o, *v;
	struct retry_event	 ev;
	struct rules_decision	 d;
	char			 text[1024], why[1100];

	*trip = NULL;
	if (!rules_any(h->cfg, handler_rule_tool(r)))
		return 1;
	handler_rule_event(r, &ev, NULL, 0, text);
	text[0] = '\0';
	if (is_error) {
		if (!json_object_object_get_ex(msg, "error", &o))
			return 1;
		if (json_object_object_get_ex(o, "code", &v) &&
		    json_object_is_type(v, json_type_int)) {
			ev.has_code = true;
			ev.jsonrpc_code = (long)json_object_get_int64(v);
		}
		if (json_object_object_get_ex(o, "message", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(text, sizeof text, "%s",
			    json_object_get_string(v));
		snprintf(why, sizeof why, "error %ld: %s", ev.jsonrpc_code,
		    text);
	} else {
		if (ev.tool == NULL ||
		    !json_object_object_get_ex(msg, "result", &o) ||
		    !json_object_object_get_ex(o, "isError", &v) ||
		    !json_object_get_boolean(v))
			return 1;
		ev.result_error = true;
		handler_result_text(o, text, sizeof text);
		snprintf(why, sizeof why, "tool error: %s", text);
	}
	if (!handler_rule_decide(h, &ev, &d))
		return 1;
	switch (d.rule->action) {
	case RETRY_RULE_RETRY:
		return handler_rule_retry(h, r, &d, why) == 0 ? 0 : 1;
	case RETRY_RULE_FALLBACK:
		return handler_rule_fallback(h, r, d.rule, why) == 0 ? 0 : 1;
	case RETRY_RULE_TRIP:
		*trip = d.rule;
		return 1;
	default:
		return 1;
	}
}

/*
 * r was lost with the connection (class h->last_class).  1 when a rule
 * dealt with it; 0 for the built-in rules.  Retry safety comes first: a
 * call that may have run and is not safe to repeat is never retried or
 * sent elsewhere, whatever the rule says.
 */
static int
handler_loss_rules(struct handler *h, struct request *r)
{
	struct retry_event	 ev;
	struct rules_decision	 d;
	char			 msg[768], what[160];
	/* One the server never received may go again, whatever tool. */
	int			 safe = r->retry_safe || r->undelivered;

	handler_rule_event(r, &ev, fail_class_name(h->last_class),
	    h->last_status, h->reason);
	if (!handler_rule_decide(h, &ev, &d))
		return 0;
	handler_request_what(r, what, sizeof what);
	if (!safe && d.rule->action != RETRY_RULE_TRIP &&
	    d.rule->action != RETRY_RULE_FAIL) {
		log_info("server %s: rule '%s' would %s %s, but it may have "
		    "run and is not safe to repeat", h->name, d.rule->name,
		    d.rule->action == RETRY_RULE_RETRY ? "retry" :
		    "send elsewhere", what);
		return 0;
	}
	switch (d.rule->action) {
	case RETRY_RULE_TRIP:
		handler_trip(h, d.rule);
		return 0;
	case RETRY_RULE_FALLBACK:
		return handler_rule_fallback(h, r, d.rule, h->reason) == 0;
	case RETRY_RULE_RETRY:
		if (handler_rule_retry(h, r, &d, h->reason) == 0)
			return 1;
		snprintf(msg, sizeof msg, "connection to server '%s' was lost "
		    "(%s) and rule '%s' has no retries left for %s", h->name,
		    h->reason, d.rule->name, what);
		break;
	default:
		if (!safe)
			return 0;	/* -32015, as without the rule */
		snprintf(msg, sizeof msg, "connection to server '%s' was lost "
		    "(%s); %s is not retried (rule '%s')", h->name, h->reason,
		    what, d.rule->name);
		break;
	}
	handler_fail_request(h, r, RELAY_ERR_UNAVAILABLE, msg);
	return 1;
}

/* r timed out in flight; 1 when a rule dealt with it. */
static int
handler_timeout_rules(struct handler *h, struct request *r, const char *msg)
{
	struct retry_event	 ev;
	struct rules_decision	 d;

	handler_rule_event(r, &ev, fail_class_name(FAIL_TIMEOUT), 0, msg);
	if (!handler_rule_decide(h, &ev, &d))
		return 0;
	switch (d.rule->action) {
	case RETRY_RULE_RETRY:
		return r->retry_safe && handler_rule_retry(h, r, &d, msg) == 0;
	case RETRY_RULE_FALLBACK:
		return r->retry_safe &&
		    handler_rule_fallback(h, r, d.rule, msg) == 0;
	case RETRY_RULE_TRIP:
		handler_fail_request(h, r, RELAY_ERR_TIMEOUT, msg);
		handler_trip(h, d.rule);
		return 1;
	default:
		return 0;
	}
}

/* ---- connection loss and the retry cycle ------------------------------- */

/*
 * The connection is gone.  Requests that provably never reached the
 * upstream, or are safe to repeat, go back to the front of the queue in
 * their original order; the others get the "may or may not have run" error.
 */
static void
handler_salvage_inflight(struct handler *h)
{
	struct request		*r, *prev;
	struct retry_stats	*st;
	char			 msg[768];

	while ((r = TAILQ_LAST(&h->inflight, request_list)) != NULL) {
		TAILQ_REMOVE(&h->inflight, r, entry);
		request_cancel_timer(r);
		st = retry_stats_table_get(&h->stats,
		    strcmp(r->method, "tools/call") == 0 ? "execute_tool" :
		    strstr(r->method, "/list") != NULL ? "list_tools" :
		    "request");
		retry_stats_failure(st, h->reason, (double)time(NULL));
		if (handler_loss_rules(h, r))
			continue;
		if (r->undelivered && !r->retry_safe)
			log_info("server %s: %s never reached the server (%s); "
			    "sending it again", h->name, r->tool != NULL ?
			    r->tool : r->method, h->reason);
		if ((r->retry_safe || r->undelivered) &&
		    r->attempts <= h->policy.max_retries) {
			h->counters.retried++;
			retry_stats_retry(st, 0);
			events_retry(h->relay->events, h->name, "request",
			    (unsigned)r->attempts, 0);
			prev = r;
			handler_queue(h, prev, 1);
			continue;
		}
		if (r->undelivered) {
			snprintf(msg, sizeof msg, "server '%s' refused or "
			    "could not be reached %d times (%s); the request "
			    "never ran", h->name, r->attempts, h->reason);
			handler_fail_request(h, r, RELAY_ERR_UNAVAILABLE, msg);
			continue;
		}
		h->counters.maybe_ran++;
		snprintf(msg, sizeof msg, "connection to server '%s' was lost "
		    "after the request was sent (%s); it may or may not have "
		    "run, and mcprelayd does not repeat %s%s%s", h->name,
		    h->reason, r->tool ? "tool '" : "", r->tool ? r->tool :
		    r->method, r->tool ? "'" : "");
		handler_fail_request(h, r, RELAY_ERR_MAYBE_RAN, msg);
	}
}

static void
handler_drop_transport(struct handler *h)
{
	upstream_free(h->up);
	h->up = NULL;
	handler_internal_clear(h);
	/* An unanswered era probe says nothing about a connection lost. */
	evtimer_del(h->probe);
}

/* A missing or forbidden program does not fix itself: never retried. */
static int
handler_spawn_error_is_fatal(int err)
{
	return err == ENOENT || err == EACCES || err == ENOEXEC ||
	    err == ENOTDIR;
}

/*
 * Failures that do not fix themselves are not retried: a missing program,
 * a refused certificate, a bad URL or header, a 4xx refusing initialize
 * (401, 403, 404 at the endpoint...), but not 408 and 429.
 */
static int
handler_close_is_fatal(enum upstream_close_reason reason, int err)
{
	switch (reason) {
	case UPSTREAM_CLOSE_SPAWN_FAILED:
		return handler_spawn_error_is_fatal(err);
	case UPSTREAM_CLOSE_TLS:
	case UPSTREAM_CLOSE_CONFIG:
		return 1;
	case UPSTREAM_CLOSE_HTTP_STATUS:
		return err >= 300 && err < 500 && err != 408 && err != 429;
	default:
		return 0;
	}
}

/* The error class a transport's report falls in, for retry_on/by_class. */
static enum fail_class
handler_classify(enum upstream_close_reason reason, int err)
{
	switch (reason) {
	case UPSTREAM_CLOSE_SPAWN_FAILED:
		return FAIL_SPAWN_FAILURE;
	case UPSTREAM_CLOSE_EXITED:
		return FAIL_UPSTREAM_EXIT;
	case UPSTREAM_CLOSE_PROTOCOL:
		return FAIL_PROTOCOL_ERROR;
	case UPSTREAM_CLOSE_CONNECT_FAILED:
	case UPSTREAM_CLOSE_TLS:
	case UPSTREAM_CLOSE_CONFIG:
		return FAIL_CONNECT_FAILURE;
	case UPSTREAM_CLOSE_TIMEOUT:
		return FAIL_TIMEOUT;
	case UPSTREAM_CLOSE_SESSION_EXPIRED:
		return FAIL_SESSION_EXPIRED;
	case UPSTREAM_CLOSE_HTTP_STATUS:
		if (err == 429)
			return FAIL_HTTP_429;
		if (err >= 500 && err < 600)
			return FAIL_HTTP_5XX;
		if (err == 408)
			return FAIL_TIMEOUT;
		return FAIL_PROTOCOL_ERROR;
	case UPSTREAM_CLOSE_IO_ERROR:
	case UPSTREAM_CLOSE_REQUESTED:
	default:
		return FAIL_RESET;
	}
}

/*
 * One connect attempt failed.  The error's class picks the policy
 * (retry_by_class over retry) and whether it is retried at all (retry_on).
 * Back off while retries are left and the breaker allows; otherwise fail
 * fast and probe later on the breaker's schedule so the server comes back
 * by itself.
 */
static void
handler_connect_failed(struct handler *h, enum fail_class class,
    const char *why)
{
	const struct config_server *c = h->cfg;
	struct retry_stats	*st;
	struct retry_policy	 policy;
	struct retry_event	 ev;
	struct rules_decision	 d;
	const struct retry_rule	*rule = NULL;
	double			 now = relay_now(), delay, hint = -1;
	char			 reason[768], by[160] = "";
	int			 retriable;

	handler_drop_transport(h);
	st = retry_stats_table_get(&h->stats, "connect");
	retry_stats_failure(st, why, (double)time(NULL));
	/* circuit_breaker.enabled: false means it never opens. */
	if (c->circuit_breaker.enabled)
		breaker_failure(h->breaker, now);
	h->last_class = class;
	retriable = c->retry_on[class] && h->fatal_errno == 0;
	if (c->retry_by_class_set[class])
		rules_policy_from_config(&policy, &c->retry_by_class[class]);
	else
		policy = h->policy;
	/* A rule with only class, http_status or message can match here. */
	memset(&ev, 0, sizeof ev);
	ev.class = fail_class_name(class);
	ev.http_status = h->last_status;
	ev.message = why;
	if (handler_rule_decide(h, &ev, &d)) {
		rule = d.rule;
		snprintf(by, sizeof by, " (rule '%s')", rule->name);
		if (rule->action == RETRY_RULE_RETRY) {
			retriable = h->fatal_errno == 0;
			policy = d.policy;
			hint = d.hint;
		} else
			retriable = 0;
	}

	if (retriable && !h->probing && (int)h->attempt < policy.max_retries &&
	    breaker_state(h->breaker, now) != BREAKER_OPEN) {
		if (hint >= 0)
			delay = hint < policy.max_delay ? hint :
			    policy.max_delay;
		else
			delay = retry_delay(&policy, h->attempt, h->prev_delay,
			    &h->relay->rng);
		h->prev_delay = delay;
		retry_stats_retry(st, delay);
		h->attempt++;
		snprintf(reason, sizeof reason, "%s [%s]; retry %u of %d in "
		    "%.2fs%s", why, fail_class_name(class), h->attempt,
		    policy.max_retries, delay, by);
		handler_set_state(h, HANDLER_BACKOFF, reason);
		snprintf(h->reason, sizeof h->reason, "%s", why);
		handler_timer_arm(h->timer, delay);
		return;
	}

	/*
	 * Give up for now: the breaker opens so the probe schedule grows.
	 * Without a breaker, probe at the policy's longest delay.
	 */
	if (c->circuit_breaker.enabled) {
		while (breaker_state(h->breaker, now) == BREAKER_CLOSED)
			breaker_failure(h->breaker, now);
		delay = breaker_retry_after(h->breaker, now);
	} else
		delay = policy.max_delay > 0 ? policy.max_delay : 1;
	snprintf(reason, sizeof reason, "%s [%s]; %s%s; next probe in %.1fs",
	    why, fail_class_name(class), !retriable ? "not retried" :
	    h->probing ? "probe failed" : "retries exhausted", by, delay);
	handler_set_state(h, HANDLER_FAILED, reason);
	snprintf(h->reason, sizeof h->reason, "%s", why);
	h->probing = 0;
	handler_fail_queue(h, h->fatal_errno == 0 ? RELAY_ERR_UNAVAILABLE :
	    RELAY_ERR_SPAWN, h->fatal_errno == 0 ?
	    "server is unavailable: retries exhausted" :
	    "server cannot be started");
	handler_timer_arm(h->timer, delay);
}

/* The state's timer: backoff over, probe due, or connect took too long. */
static void
handler_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handler	*h = arg;

	switch (h->state) {
	case HANDLER_BACKOFF:
		handler_set_state(h, HANDLER_CONNECTING, "backoff over");
		handler_connect(h);
		break;
	case HANDLER_FAILED:
		breaker_allow(h->breaker, relay_now());
		h->probing = 1;
		h->fatal_errno = 0;
		h->attempt = 0;
		h->prev_delay = 0;
		handler_set_state(h, HANDLER_CONNECTING, "half-open probe");
		handler_connect(h);
		break;
	case HANDLER_CONNECTING:
	case HANDLER_INITIALIZING:
		handler_connect_failed(h, FAIL_TIMEOUT,
		    "connect_timeout expired");
		break;
	case HANDLER_DRAINING:
		if (TAILQ_EMPTY(&h->inflight))
			handler_halt(h, "disabled: in-flight requests done");
		break;
	default:
		break;
	}
}

static void
handler_lost(struct handler *h, const char *why)
{
	h->counters.disconnects++;
	snprintf(h->reason, sizeof h->reason, "%s", why);
	handler_drop_transport(h);
	handler_salvage_inflight(h);
	/* A server that was fine reconnects at once; backoff starts after. */
	h->attempt = 0;
	h->prev_delay = 0;
	if (breaker_state(h->breaker, relay_now()) == BREAKER_OPEN) {
		/* Only a retry rule's trip opens it while connected. */
		handler_set_state(h, HANDLER_FAILED, "circuit breaker opened "
		    "by a retry rule");
		handler_fail_queue(h, RELAY_ERR_CIRCUIT_OPEN,
		    "circuit breaker opened by a retry rule");
		handler_timer_arm(h->timer, breaker_retry_after(h->breaker,
		    relay_now()));
		return;
	}
	handler_set_state(h, HANDLER_CONNECTING, why);
	handler_connect(h);
}

/*
 * protocol: auto on a type: http server that refused initialize with 400,
 * 404 or 405: the spec's rule for clients of both HTTP transports is to try
 * the legacy HTTP+SSE transport at the same URL next.  Once: if that fails
 * too, the failure is reported as any other.  1 when it is being tried.
 */
static int
handler_try_legacy_sse(struct handler *h, enum upstream_close_reason reason,
    int err)
{
	if (h->cfg->type != CONFIG_SERVER_HTTP || h->legacy_sse ||
	    h->cfg->protocol != CONFIG_PROTOCOL_AUTO || !h->init_sent ||
	    reason != UPSTREAM_CLOSE_HTTP_STATUS ||
	    (err != 400 && err != 404 && err != 405))
		return 0;
	log_info("server %s: initialize refused with HTTP %d: trying the "
	    "legacy HTTP+SSE transport at the same URL", h->name, err);
	h->legacy_sse = 1;
	h->era = HANDLER_ERA_LEGACY;
	handler_drop_transport(h);
	handler_set_state(h, HANDLER_CONNECTING, "trying legacy HTTP+SSE");
	handler_connect(h);
	return 1;
}

static void
handler_transport_closed_cb(void *arg, enum upstream_close_reason reason,
    int err, const char *detail)
{
	struct handler	*h = arg;
	char		 why[256];

	snprintf(why, sizeof why, "%s", detail != NULL ? detail :
	    upstream_close_reason_name(reason));
	if (reason == UPSTREAM_CLOSE_UNAUTHORIZED &&
	    (h->state == HANDLER_READY || h->state == HANDLER_CONNECTING ||
	    h->state == HANDLER_INITIALIZING)) {
		handler_needs_auth(h, why);
		return;
	}
	h->last_status = reason == UPSTREAM_CLOSE_HTTP_STATUS ||
	    reason == UPSTREAM_CLOSE_SESSION_EXPIRED ? err : 0;
	switch (h->state) {
	case HANDLER_READY:
		h->last_class = handler_classify(reason, err);
		handler_lost(h, why);
		break;
	case HANDLER_CONNECTING:
	case HANDLER_INITIALIZING:
		if (handler_try_legacy_sse(h, reason, err))
			break;
		if (handler_close_is_fatal(reason, err))
			h->fatal_errno = err != 0 ? err : EINVAL;
		handler_connect_failed(h, handler_classify(reason, err), why);
		break;
	case HANDLER_STOPPING:
		handler_drop_transport(h);
		handler_set_state(h, HANDLER_STOPPED, "stopped");
		break;
	case HANDLER_DRAINING:
		/* Being disabled: nothing is sent again. */
		handler_drop_transport(h);
		h->counters.disconnects++;
		handler_fail_inflight(h, RELAY_ERR_MAYBE_RAN, "the connection "
		    "was lost while the server was being disabled; the "
		    "request may or may not have run");
		handler_set_state(h, HANDLER_STOPPED, why);
		break;
	default:
		handler_drop_transport(h);
		break;
	}
}

void
handler_reconnect(struct handler *h, const char *reason)
{
	switch (h->state) {
	case HANDLER_READY:
		h->last_class = FAIL_RESET;
		h->last_status = 0;
		handler_lost(h, reason);
		break;
	case HANDLER_BACKOFF:
	case HANDLER_FAILED:
	case HANDLER_NEEDS_AUTH:
		h->probing = 0;
		h->attempt = 0;
		handler_set_state(h, HANDLER_CONNECTING, reason);
		handler_connect(h);
		break;
	case HANDLER_STOPPED:
		handler_start(h);
		break;
	default:
		break;
	}
}

static void
handler_fail_inflight(struct handler *h, int code, const char *message)
{
	struct request	*r;

	while ((r = TAILQ_FIRST(&h->inflight)) != NULL) {
		TAILQ_REMOVE(&h->inflight, r, entry);
		request_cancel_timer(r);
		if (code == RELAY_ERR_MAYBE_RAN)
			h->counters.maybe_ran++;
		handler_fail_request(h, r, code, message);
	}
}

/* Fail what waits or runs, close the transport, end STOPPED. */
static void
handler_halt(struct handler *h, const char *why)
{
	handler_fail_queue(h, RELAY_ERR_DISABLED, "server is being stopped");
	handler_fail_inflight(h, RELAY_ERR_DISABLED,
	    "server is being stopped");
	if (h->up != NULL) {
		handler_internal_clear(h);
		handler_set_state(h, HANDLER_STOPPING, why);
		upstream_close(h->up);
	} else
		handler_set_state(h, HANDLER_STOPPED, why);
}

void
handler_stop(struct handler *h)
{
	handler_halt(h, "stop requested");
}

void
handler_disable(struct handler *h, const char *reason)
{
	char	why[320];

	h->admin_disabled = 1;
	switch (h->state) {
	case HANDLER_READY:
		if (!TAILQ_EMPTY(&h->inflight)) {
			snprintf(why, sizeof why, "%s; draining", reason);
			handler_set_state(h, HANDLER_DRAINING, why);
			return;
		}
		handler_halt(h, reason);
		break;
	case HANDLER_CONNECTING:
	case HANDLER_INITIALIZING:
	case HANDLER_BACKOFF:
	case HANDLER_FAILED:
	case HANDLER_NEEDS_AUTH:
		handler_halt(h, reason);
		break;
	default:
		/* Draining, stopping or stopped already. */
		break;
	}
}

int
handler_enable(struct handler *h, const char *reason)
{
	switch (h->state) {
	case HANDLER_STOPPING:
		return -1;
	case HANDLER_DRAINING:
		h->admin_disabled = 0;
		handler_set_state(h, HANDLER_READY, reason);
		return 0;
	case HANDLER_STOPPED:
		h->admin_disabled = 0;
		handler_start(h);
		return 0;
	default:
		h->admin_disabled = 0;
		return 0;
	}
}

int
handler_disabled(const struct handler *h)
{
	return h->admin_disabled;
}

/* ---- health ------------------------------------------------------------ */

static void
handler_health_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handler	*h = arg;
	double		 now = relay_now();

	if (h->state != HANDLER_READY)
		return;
	if (h->ping_id != 0) {
		h->counters.health_failures++;
		h->ping_id = 0;
		handler_lost(h, "health check: no answer to ping");
		return;
	}
	if (now - h->last_traffic >= h->cfg->health_check_interval) {
		/* 2026-07-28 removed ping; discover is as cheap. */
		h->ping_id = h->era == HANDLER_ERA_MODERN ?
		    handler_send_internal(h, INTERNAL_PING, 0,
		    "server/discover", handler_modern_params())->id :
		    handler_send_internal(h, INTERNAL_PING, 0, "ping",
		    NULL)->id;
		handler_timer_arm(h->health, HANDLER_PING_TIMEOUT);
		return;
	}
	handler_timer_arm(h->health, h->cfg->health_check_interval -
	    (now - h->last_traffic));
}

/* ---- messages from the upstream ---------------------------------------- */

static struct request *
handler_find_inflight(struct handler *h, int64_t id)
{
	struct request	*r;

	TAILQ_FOREACH(r, &h->inflight, entry)
		if (r->upstream_id == id)
			return r;
	return NULL;
}

/*
 * A 2026-07-28 HTTP server refused a tools/call's Mcp-Param-* headers
 * (-32020): its inputSchema changed.  As the spec advises, the tool list
 * is fetched again and the call re-sent once with headers from it; the
 * server refused it before running it, so this is safe for any tool.
 */
static int
handler_header_mismatch(struct handler *h, struct request *r,
    struct json_object *msg)
{
	struct json_object	*err, *code;

	if (r->header_retried || h->cfg->type != CONFIG_SERVER_HTTP ||
	    strcmp(r->method, "tools/call") != 0 ||
	    !json_object_object_get_ex(msg, "error", &err) ||
	    !json_object_object_get_ex(err, "code", &code) ||
	    json_object_get_int(code) != ERA_ERR_HEADER_MISMATCH)
		return 0;
	r->header_retried = 1;
	log_info("server %s: header mismatch on tools/call; fetching its "
	    "tools again before one more try", h->name);
	TAILQ_REMOVE(&h->inflight, r, entry);
	handler_queue(h, r, 1);
	handler_fetch_list(h, 0, NULL, NULL);
	return 1;
}

/*
 * A 2026-07-28 server may answer with a task handle unasked; a legacy
 * client cannot follow one (handler_refuse_tasks).  1 when refused.
 */
static int
handler_task_handle(struct handler *h, struct request *r,
    struct json_object *msg)
{
	struct json_object	*result, *type;
	char			 text[256];

	if (r->era == ERA_MODERN || h->era != HANDLER_ERA_MODERN ||
	    !json_object_object_get_ex(msg, "result", &result) ||
	    !json_object_object_get_ex(result, "resultType", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "task") != 0)
		return 0;
	snprintf(text, sizeof text, "server '%s' made this request a "
	    "2026-07-28 task, which a legacy client cannot follow; mcprelayd "
	    "does not translate tasks between the eras", h->name);
	handler_input_fail(h, r, JSONRPC_INTERNAL_ERROR, text);
	return 1;
}

/* ---- InputRequiredResult for legacy clients ---------------------------- */

/*
 * A legacy client cannot take an InputRequiredResult: its input requests
 * become real server->client requests on the client's session (ids
 * "mcprelay-input-N-KEY", N the upstream request's id), and once every one
 * is answered the request goes to the server again with inputResponses and
 * the requestState echoed.  The request stays in flight meanwhile, so its
 * deadline and a lost connection treat it as any other.
 */
#define HANDLER_INPUT_PREFIX	"mcprelay-input-"
#define HANDLER_INPUT_ROUNDS	8

static void
handler_input_fail(struct handler *h, struct request *r, int code,
    const char *text)
{
	TAILQ_REMOVE(&h->inflight, r, entry);
	request_cancel_timer(r);
	log_info("server %s: %s", h->name, text);
	r->handler = NULL;
	r->where = REQUEST_NEW;
	request_fail(r, code, text, NULL);
	handler_drain_check(h);
}

static int
handler_input_required(struct handler *h, struct request *r,
    struct json_object *msg)
{
	struct json_object	*result, *type, *inputs, *m, *id, *params;
	const char		*method, *cap;
	char			 text[256], sid[160];

	if (r->era == ERA_MODERN || r->session == NULL ||
	    h->era != HANDLER_ERA_MODERN ||
	    !json_object_object_get_ex(msg, "result", &result) ||
	    !json_object_object_get_ex(result, "resultType", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "input_required") != 0)
		return 0;
	if (!json_object_object_get_ex(result, "inputRequests", &inputs) ||
	    !json_object_is_type(inputs, json_type_object) ||
	    json_object_object_length(inputs) == 0) {
		handler_input_fail(h, r, JSONRPC_INTERNAL_ERROR, "the server "
		    "asked for input without naming any");
		return 1;
	}
	if (++r->input_rounds > HANDLER_INPUT_ROUNDS) {
		snprintf(text, sizeof text, "server '%s' still asked for input "
		    "after %d rounds; giving up", h->name, HANDLER_INPUT_ROUNDS);
		handler_input_fail(h, r, JSONRPC_INTERNAL_ERROR, text);
		return 1;
	}
	/* All or nothing: check every request before sending any. */
	json_object_object_foreach(inputs, key0, req0) {
		method = json_object_object_get_ex(req0, "method", &m) ?
		    json_object_get_string(m) : NULL;
		cap = method != NULL ? era_server_request_capability(method) : NULL;
		if (cap == NULL || !session_has_capability(r->session, cap)) {
			snprintf(text, sizeof text, "server '%s' needs the "
			    "client to answer %.60s (input '%.40s'), and this "
			    "client did not declare the '%s' capability",
			    h->name, method != NULL ? method : "?", key0,
			    cap != NULL ? cap : "?");
			handler_input_fail(h, r, RELAY_ERR_NO_CLIENT, text);
			return 1;
		}
	}
	json_object_put(r->inputs);
	r->inputs = json_object_new_object();
	json_object_object_add(r->inputs, "pending", json_object_new_int(
	    json_object_object_length(inputs)));
	json_object_object_add(r->inputs, "responses",
	    json_object_new_object());
	if (json_object_object_get_ex(result, "requestState", &m))
		json_object_object_add(r->inputs, "requestState",
		    json_object_get(m));
	json_object_object_foreach(inputs, key, req) {
		snprintf(sid, sizeof sid, HANDLER_INPUT_PREFIX "%lld-%s",
		    (long long)r->upstream_id, key);
		id = json_object_new_string(sid);
		params = NULL;
		json_object_object_get_ex(req, "params", &params);
		json_object_object_get_ex(req, "method", &m);
		m = jsonrpc_request_new(id, json_object_get_string(m),
		    params != NULL ? json_object_get(params) : NULL);
		session_forward_server_request(r->session, h, m, r);
		json_object_put(m);
	}
	/* The client has its own request_timeout to answer in. */
	handler_request_timer_arm(h, r, h->cfg->request_timeout);
	return 1;
}

/* A client's answer to one input request: 1 when it was one of ours. */
static int
handler_input_answered(struct handler *h, struct json_object *id,
    struct json_object *reply)
{
	struct json_object	*pending, *responses, *result, *params, *v;
	struct request		*r;
	const char		*s, *key;
	long long		 n;
	int			 off = 0;
	char			 text[256];

	if (id == NULL || !json_object_is_type(id, json_type_string) ||
	    strncmp((s = json_object_get_string(id)), HANDLER_INPUT_PREFIX,
	    strlen(HANDLER_INPUT_PREFIX)) != 0)
		return 0;
	if (sscanf(s + strlen(HANDLER_INPUT_PREFIX), "%lld-%n", &n,
	    &off) != 1 || off == 0 ||
	    (r = handler_find_inflight(h, n)) == NULL || r->inputs == NULL)
		return 1;	/* late: its request is gone */
	key = s + strlen(HANDLER_INPUT_PREFIX) + off;
	json_object_object_get_ex(r->inputs, "responses", &responses);
	if (json_object_object_get_ex(responses, key, NULL))
		return 1;
	if (!json_object_object_get_ex(reply, "result", &result)) {
		snprintf(text, sizeof text, "the client refused server '%s''s "
		    "request for input '%.40s'", h->name, key);
		handler_input_fail(h, r, JSONRPC_INTERNAL_ERROR, text);
		return 1;
	}
	json_object_object_add(responses, key, json_object_get(result));
	json_object_object_get_ex(r->inputs, "pending", &pending);
	json_object_set_int(pending, json_object_get_int(pending) - 1);
	if (json_object_get_int(pending) > 0)
		return 1;
	/* Every answer is in: the same request again, answers attached. */
	if (!json_object_object_get_ex(request_msg(r), "params", &params) ||
	    !json_object_is_type(params, json_type_object)) {
		params = json_object_new_object();
		json_object_object_add(request_msg(r), "params", params);
	}
	json_object_object_add(params, "inputResponses",
	    json_object_get(responses));
	if (json_object_object_get_ex(r->inputs, "requestState", &v))
		json_object_object_add(params, "requestState",
		    json_object_get(v));
	else
		json_object_object_del(params, "requestState");
	json_object_put(r->inputs);
	r->inputs = NULL;
	TAILQ_REMOVE(&h->inflight, r, entry);
	if (h->state == HANDLER_READY)
		handler_send_request(h, r);
	else
		handler_queue(h, r, 1);
	return 1;
}

/* The transport proved that a request never reached the server. */
static void
handler_transport_undelivered_cb(void *arg, const char *id, size_t len)
{
	struct handler	*h = arg;
	struct request	*r;
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(id, &end, 10);
	if (errno == 0 && (size_t)(end - id) == len &&
	    (r = handler_find_inflight(h, n)) != NULL)
		r->undelivered = 1;
}

/* An answer came: the request leaves the in-flight list and is counted. */
static void
handler_response_account(struct handler *h, struct request *r, int is_error)
{
	struct retry_stats	*st;

	TAILQ_REMOVE(&h->inflight, r, entry);
	request_cancel_timer(r);
	st = retry_stats_table_get(&h->stats,
	    strcmp(r->method, "tools/call") == 0 ? "execute_tool" :
	    strstr(r->method, "/list") != NULL ? "list_tools" : "request");
	retry_stats_attempt(st);
	retry_stats_success(st);
	h->counters.replies++;
	if (is_error)
		h->counters.replies_error++;
	else {
		h->counters.replies_ok++;
		if (r->attempts > 1)
			h->counters.retried_ok++;
	}
}

/*
 * The pass-through: a success answer to a legacy client's request, from a
 * server spoken to in the legacy era, with no retry rule to read it, goes
 * to the client as the bytes the server sent, only the id replaced by the
 * client's; it is neither parsed into objects nor written out again.
 * Everything else (errors, translation between the eras, rules, ids not
 * ours, parks, text the scanner leaves to json-c) takes the usual way.
 * Returns 1 if the message was dealt with, else 0 with nothing done.
 */
static int
handler_pass_through(struct handler *h, const char *json,
    const struct jsonscan_response *sc)
{
	struct internal_call		*ic;
	struct request			*r;
	const char			*id;
	char				 num[JSONRPC_INT_TEXT], buf[4096], *text;
	size_t				 idlen, n;
	int				 allocated;

	if (sc->id == h->ping_id && sc->id != 0)
		return 0;
	TAILQ_FOREACH(ic, &h->internal, entry)
		if (ic->id == sc->id)
			return 0;
	if ((r = handler_find_inflight(h, sc->id)) == NULL ||
	    r->era == ERA_MODERN || h->era == HANDLER_ERA_MODERN ||
	    r->parked != NULL || rules_any(h->cfg, handler_rule_tool(r)))
		return 0;
	id = jsonrpc_id_text(r->client_id, num, &idlen);

	text = jsonrpc_splice(json + sc->start, sc->end - sc->start,
	    sc->id_start - sc->start, sc->id_end - sc->start, id, idlen, buf,
	    sizeof buf, &n, &allocated);

	handler_response_account(h, r, 0);
	stats_latency_add(&h->latency, relay_now() - r->started);
	r->handler = NULL;
	r->where = REQUEST_NEW;
	request_finish_text(r, text, n);
	if (allocated)
		free(text);
	handler_drain_check(h);
	return 1;
}

static void
handler_on_response(struct handler *h, struct json_object *msg, int is_error)
{
	struct json_object	*id = jsonrpc_id(msg);
	struct internal_call	*ic;
	struct request		*r;
	const struct retry_rule	*trip;
	int64_t			 n;

	if (id == NULL || !json_object_is_type(id, json_type_int)) {
		log_debug("server %s: response with an id we never sent",
		    h->name);
		return;
	}
	n = json_object_get_int64(id);
	if (n == h->ping_id && n != 0) {
		h->ping_id = 0;
		if (h->state == HANDLER_READY)
			handler_timer_arm(h->health,
			    h->cfg->health_check_interval);
	}
	TAILQ_FOREACH(ic, &h->internal, entry) {
		if (ic->id == n) {
			TAILQ_REMOVE(&h->internal, ic, entry);
			handler_internal_reply(h, ic, msg, is_error);
			json_object_put(ic->acc);
			free(ic);
			return;
		}
	}
	if ((r = handler_find_inflight(h, n)) == NULL) {
		log_debug("server %s: late or unknown response %lld", h->name,
		    (long long)n);
		return;
	}
	if (!is_error && handler_input_required(h, r, msg))
		return;
	if (is_error && handler_header_mismatch(h, r, msg))
		return;
	if (!is_error && handler_task_handle(h, r, msg))
		return;
	handler_response_account(h, r, is_error);
	if (handler_answer_rules(h, r, msg, is_error, &trip) == 0) {
		handler_drain_check(h);
		return;
	}
	/* Queue waits included: what the client waited for. */
	stats_latency_add(&h->latency, relay_now() - r->started);
	json_object_object_add(msg, "id", json_object_get(r->client_id));
	r->handler = NULL;
	r->where = REQUEST_NEW;
	request_finish(r, json_object_get(msg));
	if (trip != NULL)
		handler_trip(h, trip);
	handler_drain_check(h);
}

static void
handler_on_progress(struct handler *h, struct json_object *msg)
{
	struct json_object	*params, *token;
	struct request		*r;
	long long		 n;

	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, "progressToken", &token) ||
	    !json_object_is_type(token, json_type_string) ||
	    sscanf(json_object_get_string(token), "mcprelay-%lld", &n) != 1)
		return;
	if ((r = handler_find_inflight(h, n)) == NULL ||
	    r->client_progress == NULL)
		return;
	json_object_object_add(params, "progressToken",
	    json_object_get(r->client_progress));
	/* Progress proves the server is alive: the deadline starts over. */
	handler_request_timer_arm(h, r, handler_request_timeout(h, r));
	request_notify(r, msg);
}

/*
 * A log message goes to the modern requests in flight on this server that
 * asked for its level in their _meta (2026-07-28 has no other way to get
 * logs); legacy sessions get it as before, by their logging/setLevel.  The
 * server does not say which request a log belongs to, so each request that
 * asked gets every such message raised while it runs.
 */
static void
handler_on_log(struct handler *h, struct json_object *msg)
{
	struct json_object	*params, *v;
	struct request		*r;
	const char		*level = NULL;

	if (json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "level", &v) &&
	    json_object_is_type(v, json_type_string))
		level = json_object_get_string(v);
	TAILQ_FOREACH(r, &h->inflight, entry)
		if (r->era == ERA_MODERN && era_log_wanted(r->log_level, level))
			request_notify(r, msg);
}

static void
handler_on_notification(struct handler *h, struct json_object *msg)
{
	const char		*method = jsonrpc_method(msg);
	struct json_object	*meta;

	/* Ours from the listen stream: its tag means nothing to clients. */
	if (h->listen_id != 0 && (meta = era_meta(msg)) != NULL) {
		json_object_object_del(meta, ERA_META_SUBSCRIPTION);
		if (strcmp(method, "notifications/subscriptions/acknowledged")
		    == 0)
			return;
	}

	if (strcmp(method, "notifications/message") == 0)
		handler_on_log(h, msg);
	if (strcmp(method, "notifications/progress") == 0)
		handler_on_progress(h, msg);
	else if (strcmp(method, "notifications/tools/list_changed") == 0)
		handler_fetch_list(h, 0, NULL, NULL);
	else if (strcmp(method, "notifications/prompts/list_changed") == 0)
		handler_fetch_list(h, 1, NULL, NULL);
	else if (strcmp(method, "notifications/resources/list_changed") == 0) {
		handler_fetch_list(h, 2, NULL, NULL);
		handler_fetch_list(h, 3, NULL, NULL);
	} else if (h->cbs->notification != NULL)
		h->cbs->notification(h->cbarg, h, msg);
}

static void
handler_on_server_request(struct handler *h, struct json_object *msg)
{
	struct request		*r, *related = NULL;
	struct json_object	*reply;

	if (strcmp(jsonrpc_method(msg), "ping") == 0) {
		reply = jsonrpc_result_new(jsonrpc_id(msg),
		    json_object_new_object());
		handler_answer_server_request(h, NULL, reply);
		return;
	}
	/* Over stdio nothing ties a server request to a client request:
	 * the newest one in flight from a session is the best guess. */
	TAILQ_FOREACH_REVERSE(r, &h->inflight, request_list, entry) {
		if (r->session != NULL || r->era == ERA_MODERN) {
			related = r;
			break;
		}
	}
	if (h->cbs->server_request != NULL)
		h->cbs->server_request(h->cbarg, h, msg, related);
	else {
		reply = jsonrpc_error_new(jsonrpc_id(msg), RELAY_ERR_NO_CLIENT,
		    "no client can answer this request", NULL);
		handler_answer_server_request(h, NULL, reply);
	}
}

/* One message from the server, parsed (borrowed). */
static void
handler_on_message(struct handler *h, struct json_object *msg)
{
	const char	*reason;

	switch (jsonrpc_classify(msg, &reason)) {
	case JSONRPC_RESULT:
		handler_on_response(h, msg, 0);
		break;
	case JSONRPC_ERROR:
		handler_on_response(h, msg, 1);
		break;
	case JSONRPC_NOTIFICATION:
		handler_on_notification(h, msg);
		break;
	case JSONRPC_REQUEST:
		handler_on_server_request(h, msg);
		break;
	default:
		log_warnx("server %s: ignoring an invalid message (%s)",
		    h->name, reason);
		break;
	}
}

static void
handler_transport_message_cb(void *arg, const char *json, size_t len)
{
	struct handler			*h = arg;
	struct json_object		*msg;
	struct jsonscan_response	 sc;
	const char			*reason;

	h->last_traffic = relay_now();
	if (jsonscan_response(json, len, &sc) == 0 &&
	    handler_pass_through(h, json, &sc))
		return;
	if ((msg = jsonrpc_parse_with(h->relay->parser, json, len,
	    &reason)) == NULL) {
		log_warnx("server %s: ignoring a message that is not JSON "
		    "(%s)", h->name, reason);
		return;
	}
	handler_on_message(h, msg);
	json_object_put(msg);
}

/* A remote transport's answer, not parsed yet. */
static int
handler_transport_response_text_cb(void *arg, const char *json, size_t len,
    const struct jsonscan_response *sc)
{
	struct handler	*h = arg;

	(void)len;
	h->last_traffic = relay_now();
	return handler_pass_through(h, json, sc);
}

/* A remote transport parsed the message already. */
static void
handler_transport_message_obj_cb(void *arg, struct json_object *msg)
{
	struct handler	*h = arg;

	h->last_traffic = relay_now();
	handler_on_message(h, msg);
}

void
handler_answer_server_request(struct handler *h, struct json_object *id,
    struct json_object *reply)
{
	const char	*s;
	size_t		 len;

	if (handler_input_answered(h, id, reply)) {
		json_object_put(reply);
		return;
	}
	if (id != NULL)
		json_object_object_add(reply, "id", json_object_get(id));
	if (h->up != NULL && (h->state == HANDLER_READY ||
	    h->state == HANDLER_INITIALIZING ||
	    h->state == HANDLER_DRAINING)) {
		s = jsonrpc_to_string(reply, &len);
		upstream_send(h->up, s, len);
	}
	json_object_put(reply);
}

void
handler_forward_notification(struct handler *h, struct json_object *msg)
{
	const char	*s;
	size_t		 len;

	if (h->up == NULL || h->state != HANDLER_READY)
		return;
	s = jsonrpc_to_string(msg, &len);
	upstream_send(h->up, s, len);
}

/* ---- stats ------------------------------------------------------------- */

static void
handler_add_int(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* Epoch seconds, or null for "never". */
static void
handler_add_time(struct json_object *o, const char *key, double t)
{
	json_object_object_add(o, key, t > 0 ? stats_double(t) :
	    NULL);
}

static struct json_object *
handler_policy_json(const struct retry_policy *p)
{
	struct json_object	*o = json_object_new_object();

	handler_add_int(o, "max_retries", (uint64_t)p->max_retries);
	json_object_object_add(o, "initial_delay",
	    stats_double(p->initial_delay));
	json_object_object_add(o, "max_delay",
	    stats_double(p->max_delay));
	json_object_object_add(o, "backoff_factor",
	    stats_double(p->backoff_factor));
	json_object_object_add(o, "jitter", json_object_new_boolean(p->jitter));
	json_object_object_add(o, "jitter_factor",
	    stats_double(p->jitter_factor));
	json_object_object_add(o, "jitter_mode", json_object_new_string(
	    retry_jitter_mode_name(p->jitter_mode)));
	json_object_object_add(o, "attempt_timeout",
	    stats_double(p->attempt_timeout));
	json_object_object_add(o, "deadline",
	    stats_double(p->deadline));
	return o;
}

/* The classes retried, and the classes with a policy of their own. */
static struct json_object *
handler_retry_on_json(const struct handler *h)
{
	struct json_object	*o, *on, *by;
	struct retry_policy	 p;
	int			 i;

	o = json_object_new_object();
	on = json_object_new_array();
	by = json_object_new_object();
	for (i = 0; i < FAIL_NCLASSES; i++) {
		if (h->cfg->retry_on[i])
			json_object_array_add(on,
			    json_object_new_string(fail_class_name(i)));
		if (h->cfg->retry_by_class_set[i]) {
			rules_policy_from_config(&p,
			    &h->cfg->retry_by_class[i]);
			json_object_object_add(by, fail_class_name(i),
			    handler_policy_json(&p));
		}
	}
	json_object_object_add(o, "classes", on);
	json_object_object_add(o, "policyByClass", by);
	return o;
}

static struct json_object *
handler_breaker_json(const struct handler *h, double now)
{
	const struct config_breaker	*c = &h->cfg->circuit_breaker;
	struct json_object		*o, *s;

	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(
	    breaker_state_name(breaker_state(h->breaker, now))));
	handler_add_int(o, "transitions", h->counters.breaker_transitions);
	handler_add_int(o, "timesOpened", breaker_times_opened(h->breaker));
	handler_add_int(o, "consecutiveFailures",
	    breaker_consecutive_failures(h->breaker));
	json_object_object_add(o, "retryAfter", stats_double(
	    breaker_retry_after(h->breaker, now)));
	s = json_object_new_object();
	json_object_object_add(s, "enabled", json_object_new_boolean(
	    c->enabled));
	handler_add_int(s, "failure_threshold",
	    (uint64_t)c->failure_threshold);
	json_object_object_add(s, "open_duration",
	    stats_double(c->open_duration));
	json_object_object_add(s, "max_open_duration",
	    stats_double(c->max_open_duration));
	handler_add_int(s, "half_open_requests",
	    (uint64_t)c->half_open_requests);
	json_object_object_add(o, "settings", s);
	return o;
}

static struct json_object *
handler_connection_json(const struct handler *h, double now)
{
	const struct retry_stats *cs;
	struct json_object	*o, *by;
	struct retry_stats_table *t = (struct retry_stats_table *)&h->stats;
	double			 down;
	int			 i;

	/* A table entry is created on first use; reading must not. */
	cs = retry_stats_table_find(t, "connect");
	o = json_object_new_object();
	handler_add_int(o, "attempts", cs ? cs->attempts : 0);
	handler_add_int(o, "successes", cs ? cs->successes : 0);
	handler_add_int(o, "failures", cs ? cs->failures : 0);
	by = json_object_new_object();
	for (i = 0; i < FAIL_NCLASSES; i++)
		handler_add_int(by, fail_class_name(i), h->connect_failures[i]);
	json_object_object_add(o, "failuresByClass", by);
	handler_add_int(o, "retries", cs ? cs->retries : 0);
	handler_add_int(o, "reconnects", h->counters.connects > 0 ?
	    h->counters.connects - 1 : 0);
	handler_add_int(o, "disconnects", h->counters.disconnects);
	handler_add_int(o, "consecutiveFailures",
	    cs ? cs->consecutive_failures : 0);
	json_object_object_add(o, "lastError", cs && cs->failures > 0 ?
	    json_object_new_string(cs->last_error) : NULL);
	handler_add_time(o, "lastErrorTime", cs ? cs->last_error_time : 0);
	handler_add_time(o, "connectedSince", h->connected_since);
	down = h->state_total[HANDLER_CONNECTING] +
	    h->state_total[HANDLER_INITIALIZING] +
	    h->state_total[HANDLER_BACKOFF] + h->state_total[HANDLER_FAILED];
	if (h->state == HANDLER_CONNECTING ||
	    h->state == HANDLER_INITIALIZING ||
	    h->state == HANDLER_BACKOFF || h->state == HANDLER_FAILED)
		down += now - h->state_since;
	json_object_object_add(o, "downtimeSeconds",
	    stats_double(down));
	handler_add_int(o, "healthFailures", h->counters.health_failures);
	return o;
}

static struct json_object *
handler_requests_json(const struct handler *h)
{
	const struct handler_counters *k = &h->counters;
	struct json_object	*o, *by;
	struct request		*r;
	uint64_t		 inflight = 0;
	int			 i;

	TAILQ_FOREACH(r, &h->inflight, entry)
		inflight++;
	o = json_object_new_object();
	handler_add_int(o, "total", k->requests);
	handler_add_int(o, "ok", k->replies_ok);
	handler_add_int(o, "errors", k->replies_error + k->errors);
	by = json_object_new_object();
	handler_add_int(by, "upstream", k->replies_error);
	for (i = 0; i <= HANDLER_ERROR_CODES; i++)
		handler_add_int(by, relay_error_name(-32010 - i),
		    h->errors_by_code[i]);
	json_object_object_add(o, "errorsByClass", by);
	handler_add_int(o, "retried", k->retried);
	handler_add_int(o, "retriedOk", k->retried_ok);
	handler_add_int(o, "ruleRetries", k->rule_retries);
	handler_add_int(o, "inFlight", inflight);
	handler_add_int(o, "queued", (uint64_t)h->nqueued);
	handler_add_int(o, "refusedUnsafe", k->maybe_ran);
	handler_add_int(o, "queueRejects", k->queue_rejects);
	handler_add_int(o, "queueTimeouts", k->queue_timeouts);
	handler_add_int(o, "timeouts", k->timeouts);
	handler_add_int(o, "fallbacks", k->fallbacks);
	return o;
}

static struct json_object *
handler_operations_json(const struct handler *h)
{
	struct json_object	*ops, *so;
	size_t			 i;

	ops = json_object_new_object();
	for (i = 0; i < h->stats.count; i++) {
		const struct retry_stats *s = &h->stats.entries[i].stats;

		so = json_object_new_object();
		handler_add_int(so, "attempts", s->attempts);
		handler_add_int(so, "successes", s->successes);
		handler_add_int(so, "failures", s->failures);
		handler_add_int(so, "retries", s->retries);
		json_object_object_add(so, "total_delay",
		    stats_double(s->total_delay));
		handler_add_int(so, "consecutive_failures",
		    s->consecutive_failures);
		json_object_object_add(so, "last_error",
		    json_object_new_string(s->last_error));
		json_object_object_add(ops, h->stats.entries[i].name, so);
	}
	return ops;
}

struct json_object *
handler_stats_json(const struct handler *h)
{
	struct json_object	*o, *p;
	double			 now = relay_now();
	pid_t			 pid = h->up != NULL ? upstream_pid(h->up) : -1;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(h->name));
	json_object_object_add(o, "type", json_object_new_string(
	    config_server_type_name(h->cfg->type)));
	json_object_object_add(o, "protocol",
	    json_object_new_string(handler_era_names[h->era]));
	json_object_object_add(o, "state",
	    json_object_new_string(handler_state_name(h->state)));
	json_object_object_add(o, "stateSeconds",
	    stats_double(now - h->state_since));
	json_object_object_add(o, "reason", json_object_new_string(h->reason));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(h->admin_disabled));
	json_object_object_add(o, "retryPolicy",
	    handler_policy_json(&h->policy));
	json_object_object_add(o, "retryOn", handler_retry_on_json(h));
	json_object_object_add(o, "rules", rules_counts_json(&h->rules));
	json_object_object_add(o, "breaker", handler_breaker_json(h, now));
	json_object_object_add(o, "connection",
	    handler_connection_json(h, now));
	json_object_object_add(o, "requests", handler_requests_json(h));
	json_object_object_add(o, "latency", stats_latency_json(&h->latency));
	p = json_object_new_object();
	json_object_object_add(p, "pid", pid > 0 ?
	    json_object_new_int64(pid) : NULL);
	handler_add_int(p, "starts", h->counters.starts);
	handler_add_int(p, "restarts", h->counters.starts > 0 ?
	    h->counters.starts - 1 : 0);
	json_object_object_add(o, "process", p);
	json_object_object_add(o, "operations", handler_operations_json(h));
	if (h->oauth != NULL)
		json_object_object_add(o, "auth", oauth_status_json(h->oauth));
	return o;
}

struct json_object *
handler_rules_json(const struct handler *h, const char *tool)
{
	return rules_list_json(h->cfg, tool, &h->rules);
}

struct json_object *
handler_rules_test_json(struct handler *h, const struct retry_event *ev)
{
	struct request	r;
	bool		safe = true;

	/* The same verdict a call of the tool would get now. */
	if (ev->method != NULL) {
		memset(&r, 0, sizeof r);
		r.method = (char *)ev->method;
		r.tool = (char *)ev->tool;
		safe = handler_retry_safe(h, &r) != 0;
	}
	return rules_test_json(h->cfg, ev, safe);
}
