/*
 * Prometheus text exposition, format 0.0.4, rendered from the same stats
 * object the control socket returns, so the two never disagree.  Names
 * start with mcprelay_, counters end in _total, durations are _seconds;
 * the only labels are server, outcome, class, rule, action and user
 * (refusals, capped), so cardinality is bounded by the configuration.
 * Optionally served over HTTP on a loopback address.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "log.h"
#include "metrics.h"
#include "sock.h"
#include "relay.h"
#include "stats.h"
#include "xmalloc.h"

/* A slow scraper is cut off after this long. */
#define METRICS_HTTP_TIMEOUT	10

struct metrics_http {
	struct relay		*relay;
	struct evhttp		*http;
	char			 address[128];
};

/* One label pair; a sample has up to two. */
struct metrics_label {
	const char	*name;
	const char	*value;
};

/* A counter or gauge of one server, read at a path of its stats. */
struct metrics_server_family {
	const char	*name;
	const char	*type;
	const char	*path;		/* "connection.attempts" */
	const char	*help;
};

static const struct metrics_server_family metrics_server_families[] = {
	{ "mcprelay_server_state_seconds", "gauge", "stateSeconds",
	    "Seconds the server has been in its current state." },
	{ "mcprelay_server_connect_attempts_total", "counter",
	    "connection.attempts",
	    "Connection attempts (stdio: process starts)." },
	{ "mcprelay_server_connect_retries_total", "counter",
	    "connection.retries",
	    "Reconnect attempts scheduled after a failed attempt." },
	{ "mcprelay_server_reconnects_total", "counter",
	    "connection.reconnects",
	    "Times the server became ready again after its first time." },
	{ "mcprelay_server_disconnects_total", "counter",
	    "connection.disconnects",
	    "Connections lost while the server was ready." },
	{ "mcprelay_server_consecutive_failures", "gauge",
	    "connection.consecutiveFailures",
	    "Connection attempts that failed in a row." },
	{ "mcprelay_server_downtime_seconds_total", "counter",
	    "connection.downtimeSeconds",
	    "Seconds spent connecting, backing off or failed." },
	{ "mcprelay_server_health_check_failures_total", "counter",
	    "connection.healthFailures",
	    "Pings the upstream did not answer in time." },
	{ "mcprelay_server_requests_retried_total", "counter",
	    "requests.retried",
	    "Requests sent again after the connection was lost." },
	{ "mcprelay_server_requests_retried_ok_total", "counter",
	    "requests.retriedOk",
	    "Requests sent again that then got a result." },
	{ "mcprelay_server_requests_rule_retries_total", "counter",
	    "requests.ruleRetries",
	    "Requests sent again because a retry rule said so." },
	{ "mcprelay_server_requests_refused_unsafe_total", "counter",
	    "requests.refusedUnsafe",
	    "Requests lost after sending and not repeated: unsafe to retry." },
	{ "mcprelay_server_requests_in_flight", "gauge", "requests.inFlight",
	    "Requests sent to the server and not answered yet." },
	{ "mcprelay_server_requests_queued", "gauge", "requests.queued",
	    "Requests waiting for the server to be ready." },
	{ "mcprelay_server_breaker_transitions_total", "counter",
	    "breaker.transitions", "Circuit breaker state changes." },
	{ "mcprelay_server_breaker_opened_total", "counter",
	    "breaker.timesOpened", "Times the circuit breaker opened." },
	{ "mcprelay_server_process_restarts_total", "counter",
	    "process.restarts",
	    "Transport starts after the first (stdio: process restarts)." },
};

#define METRICS_NSERVER_FAMILIES \
	(sizeof metrics_server_families / sizeof metrics_server_families[0])

/* The value at a dotted path, or NULL. */
static struct json_object *
metrics_get(struct json_object *o, const char *path)
{
	char	 key[64];
	size_t	 n;

	while (o != NULL && *path != '\0') {
		n = strcspn(path, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n;
		if (*path == '.')
			path++;
	}
	return o;
}

static void
metrics_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A label value with \, " and newline escaped. */
static void
metrics_label_value(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*v == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

/* Integers exactly, other numbers in Go's float syntax. */
static void
metrics_value(struct evbuffer *b, struct json_object *v)
{
	if (v == NULL)
		evbuffer_add_printf(b, "0");
	else if (json_object_is_type(v, json_type_int))
		evbuffer_add_printf(b, "%" PRId64, json_object_get_int64(v));
	else if (json_object_is_type(v, json_type_boolean))
		evbuffer_add_printf(b, "%d", json_object_get_boolean(v));
	else
		evbuffer_add_printf(b, "%.16g", json_object_get_double(v));
}

static void
metrics_sample(struct evbuffer *b, const char *name, const char *suffix,
    const struct metrics_label *labels, int nlabels, struct json_object *v)
{
	int	i;

	evbuffer_add_printf(b, "%s%s", name, suffix);
	for (i = 0; i < nlabels; i++) {
		evbuffer_add_printf(b, "%s%s=\"", i == 0 ? "{" : ",",
		    labels[i].name);
		metrics_label_value(b, labels[i].value);
		evbuffer_add(b, "\"", 1);
	}
	evbuffer_add_printf(b, "%s ", nlabels > 0 ? "}" : "");
	metrics_value(b, v);
	evbuffer_add(b, "\n", 1);
}

/* A sample with no labels. */
static void
metrics_global(struct evbuffer *b, struct json_object *stats,
    const char *name, const char *type, const char *path, const char *help)
{
	metrics_family(b, name, type, help);
	metrics_sample(b, name, "", NULL, 0, metrics_get(stats, path));
}

static const char *
metrics_server_name(struct json_object *server)
{
	struct json_object	*v = metrics_get(server, "name");

	return v != NULL ? json_object_get_string(v) : "";
}

/* Per server: a sample per key of the object at path, labelled label. */
static void
metrics_servers_by_key(struct evbuffer *b, struct json_object *servers,
    const char *name, const char *help, const char *path, const char *label)
{
	struct metrics_label	 l[2] = { { "server", NULL }, { label, NULL } };
	struct json_object	*o;
	size_t			 i;

	metrics_family(b, name, "counter", help);
	for (i = 0; i < json_object_array_length(servers); i++) {
		o = json_object_array_get_idx(servers, i);
		l[0].value = metrics_server_name(o);
		o = metrics_get(o, path);
		if (o == NULL || !json_object_is_type(o, json_type_object))
			continue;
		json_object_object_foreach(o, k, v) {
			l[1].value = k;
			metrics_sample(b, name, "", l, 2, v);
		}
	}
}

/* A 0/1 gauge per server: is the string at path equal to want? */
static void
metrics_servers_flag(struct evbuffer *b, struct json_object *servers,
    const char *name, const char *help, const char *path, const char *want)
{
	struct metrics_label	 l = { "server", NULL };
	struct json_object	*o, *v, *flag;
	size_t			 i;
	int			 on;

	metrics_family(b, name, "gauge", help);
	for (i = 0; i < json_object_array_length(servers); i++) {
		o = json_object_array_get_idx(servers, i);
		l.value = metrics_server_name(o);
		v = metrics_get(o, path);
		on = want == NULL ? (v != NULL && json_object_get_boolean(v)) :
		    (v != NULL && strcmp(json_object_get_string(v), want) == 0);
		flag = json_object_new_int(on);
		metrics_sample(b, name, "", &l, 1, flag);
		json_object_put(flag);
	}
}

static void
metrics_servers_latency(struct evbuffer *b, struct json_object *servers)
{
	static const char	*name =
	    "mcprelay_server_request_duration_seconds";
	struct metrics_label	 l[2] = { { "server", NULL }, { "le", NULL } };
	struct json_object	*o, *buckets, *e, *le;
	char			 bound[32];
	size_t			 i, j;

	metrics_family(b, name, "histogram", "Time from a request reaching "
	    "the server's queue to its answer.");
	for (i = 0; i < json_object_array_length(servers); i++) {
		o = json_object_array_get_idx(servers, i);
		l[0].value = metrics_server_name(o);
		buckets = metrics_get(o, "latency.buckets");
		for (j = 0; buckets != NULL &&
		    j < json_object_array_length(buckets); j++) {
			e = json_object_array_get_idx(buckets, j);
			le = metrics_get(e, "le");
			if (le != NULL && json_object_is_type(le,
			    json_type_string))
				snprintf(bound, sizeof bound, "%s",
				    json_object_get_string(le));
			else
				snprintf(bound, sizeof bound, "%g",
				    le != NULL ? json_object_get_double(le) :
				    0);
			l[1].value = bound;
			metrics_sample(b, name, "_bucket", l, 2,
			    metrics_get(e, "count"));
		}
		metrics_sample(b, name, "_sum", l, 1,
		    metrics_get(o, "latency.sum"));
		metrics_sample(b, name, "_count", l, 1,
		    metrics_get(o, "latency.count"));
	}
}

static void
metrics_servers(struct evbuffer *b, struct json_object *servers)
{
	const struct metrics_server_family *f;
	struct metrics_label	 l[2] = { { "server", NULL },
				    { "outcome", NULL } };
	struct json_object	*o;
	size_t			 i, k;

	metrics_servers_flag(b, servers, "mcprelay_server_ready",
	    "1 when the server is ready to serve requests.", "state",
	    "ready");
	metrics_servers_flag(b, servers, "mcprelay_server_disabled",
	    "1 when an operator disabled the server.", "disabled", NULL);
	metrics_servers_flag(b, servers, "mcprelay_server_breaker_open",
	    "1 while the server's circuit breaker is open.", "breaker.state",
	    "open");
	for (k = 0; k < METRICS_NSERVER_FAMILIES; k++) {
		f = &metrics_server_families[k];
		metrics_family(b, f->name, f->type, f->help);
		for (i = 0; i < json_object_array_length(servers); i++) {
			o = json_object_array_get_idx(servers, i);
			l[0].value = metrics_server_name(o);
			metrics_sample(b, f->name, "", l, 1,
			    metrics_get(o, f->path));
		}
	}
	metrics_servers_by_key(b, servers,
	    "mcprelay_server_connect_failures_total",
	    "Failed connection attempts by error class.",
	    "connection.failuresByClass", "class");
	metrics_servers_by_key(b, servers,
	    "mcprelay_server_rule_matches_total",
	    "Failures a retry rule matched, by rule name.",
	    "rules.matches", "rule");
	metrics_servers_by_key(b, servers,
	    "mcprelay_server_rule_actions_total",
	    "Retry rule decisions by action (retry, fail, fallback, trip).",
	    "rules.actions", "action");
	metrics_family(b, "mcprelay_server_requests_total", "counter",
	    "Requests answered, by outcome (ok: a result; error: a JSON-RPC "
	    "error from the server or from mcprelayd).");
	for (i = 0; i < json_object_array_length(servers); i++) {
		o = json_object_array_get_idx(servers, i);
		l[0].value = metrics_server_name(o);
		l[1].value = "ok";
		metrics_sample(b, "mcprelay_server_requests_total", "", l, 2,
		    metrics_get(o, "requests.ok"));
		l[1].value = "error";
		metrics_sample(b, "mcprelay_server_requests_total", "", l, 2,
		    metrics_get(o, "requests.errors"));
	}
	metrics_servers_by_key(b, servers,
	    "mcprelay_server_request_errors_total",
	    "Request errors by class: upstream (the server's own error) or "
	    "the mcprelayd error name.", "requests.errorsByClass", "class");
	metrics_servers_by_key(b, servers, "mcprelay_server_alerts_total",
	    "Alerts fired, by alert (class).", "alerts", "class");
	metrics_servers_latency(b, servers);
}

/*
 * Refusals by user (a user name, uid:N, token:NAME or unidentified); the
 * access module counts at most ACCESS_MAX_USERS names and the rest as
 * "other", so the label set stays bounded.
 */
static void
metrics_access(struct evbuffer *b, struct json_object *stats)
{
	static const char	*name = "mcprelay_access_refusals_total";
	struct metrics_label	 l = { "user", NULL };
	struct json_object	*by = metrics_get(stats, "access.refusedByUser");

	metrics_family(b, name, "counter", "Clients refused by the access "
	    "rules (a connection, or a request for a server), by user.");
	if (by == NULL || !json_object_is_type(by, json_type_object))
		return;
	json_object_object_foreach(by, k, v) {
		l.value = k;
		metrics_sample(b, name, "", &l, 1, v);
	}
}

char *
metrics_render_stats(struct json_object *stats)
{
	struct evbuffer		*b;
	struct json_object	*servers;
	struct metrics_label	 l = { "outcome", NULL };
	char			*text;
	size_t			 len;

	if ((b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	metrics_global(b, stats, "mcprelay_start_time_seconds", "gauge",
	    "startTime", "When mcprelayd started, in seconds since the epoch.");
	metrics_global(b, stats, "mcprelay_uptime_seconds", "gauge",
	    "uptimeSeconds", "Seconds since mcprelayd started.");
	metrics_global(b, stats, "mcprelay_sessions", "gauge",
	    "sessions.open", "Client sessions open now.");
	metrics_global(b, stats, "mcprelay_sessions_total", "counter",
	    "sessions.total", "Client sessions opened.");
	metrics_family(b, "mcprelay_requests_total", "counter",
	    "Client requests answered, by outcome.");
	l.value = "ok";
	metrics_sample(b, "mcprelay_requests_total", "", &l, 1,
	    metrics_get(stats, "requests.ok"));
	l.value = "error";
	metrics_sample(b, "mcprelay_requests_total", "", &l, 1,
	    metrics_get(stats, "requests.error"));
	metrics_global(b, stats, "mcprelay_parse_errors_total", "counter",
	    "requests.parseErrors", "Client messages that were not JSON.");
	metrics_global(b, stats, "mcprelay_invalid_requests_total", "counter",
	    "requests.invalid", "Client messages that were not valid "
	    "JSON-RPC.");
	metrics_family(b, "mcprelay_limit_refusals_total", "counter",
	    "Connections, sessions and requests refused by a listen limit.");
	l.name = "limit";
	l.value = "max_connections";
	metrics_sample(b, "mcprelay_limit_refusals_total", "", &l, 1,
	    metrics_get(stats, "limits.maxConnections"));
	l.value = "max_sessions";
	metrics_sample(b, "mcprelay_limit_refusals_total", "", &l, 1,
	    metrics_get(stats, "limits.maxSessions"));
	l.value = "max_inflight";
	metrics_sample(b, "mcprelay_limit_refusals_total", "", &l, 1,
	    metrics_get(stats, "limits.maxInflight"));
	l.value = "request_read_timeout";
	metrics_sample(b, "mcprelay_limit_refusals_total", "", &l, 1,
	    metrics_get(stats, "limits.requestReadTimeout"));
	l.name = "outcome";
	metrics_family(b, "mcprelay_reloads_total", "counter",
	    "Configuration reloads, by outcome.");
	l.value = "ok";
	metrics_sample(b, "mcprelay_reloads_total", "", &l, 1,
	    metrics_get(stats, "reloads.ok"));
	l.value = "error";
	metrics_sample(b, "mcprelay_reloads_total", "", &l, 1,
	    metrics_get(stats, "reloads.failed"));
	metrics_global(b, stats, "mcprelay_events_total", "counter",
	    "events.emitted", "Events emitted to control subscribers.");
	metrics_access(b, stats);
	servers = metrics_get(stats, "servers");
	if (servers != NULL && json_object_is_type(servers, json_type_array)) {
		metrics_family(b, "mcprelay_servers", "gauge",
		    "Servers configured and enabled.");
		evbuffer_add_printf(b, "mcprelay_servers %zu\n",
		    json_object_array_length(servers));
		if (json_object_array_length(servers) > 0)
			metrics_servers(b, servers);
	}
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	evbuffer_free(b);
	return text;
}

char *
metrics_render(struct relay *relay)
{
	struct json_object	*stats = stats_all(relay);
	char			*text;

	text = metrics_render_stats(stats);
	json_object_put(stats);
	return text;
}

/* ---- HTTP GET /metrics ------------------------------------------------- */

static void
metrics_http_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, code, reason, NULL);
}

/*
 * DNS rebinding: a web page must not read the metrics through a name that
 * resolves to 127.0.0.1, so the Host must be a loopback one.  (The MCP
 * listener has the same rule, for its own requests.)
 */
static int
metrics_http_host_ok(struct evhttp_request *req)
{
	const char	*h, *end;
	size_t		 n;

	h = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	if (h == NULL)
		return 1;
	if (h[0] == '[')
		n = (end = strchr(h, ']')) != NULL ? (size_t)(end - h + 1) :
		    strlen(h);
	else
		n = strcspn(h, ":");
	return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0) ||
	    (n > 4 && strncmp(h, "127.", 4) == 0 &&
	    strspn(h, "0123456789.") == n);
}

static void
metrics_http_request(struct metrics_http *mh, struct evhttp_request *req)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri ? evhttp_uri_get_path(uri) : NULL;
	char			*text;

	if (!metrics_http_host_ok(req)) {
		metrics_http_reply(req, 403, "Forbidden",
		    "text/plain; charset=utf-8", "Host is not a loopback "
		    "name\n");
		return;
	}
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		metrics_http_reply(req, HTTP_NOTFOUND, "Not Found",
		    "text/plain; charset=utf-8", "not found: try /metrics\n");
		return;
	}
	text = metrics_render(mh->relay);
	metrics_http_reply(req, HTTP_OK, "OK", METRICS_CONTENT_TYPE, text);
	free(text);
}

static void
metrics_http_request_cb(struct evhttp_request *req, void *arg)
{
	metrics_http_request(arg, req);
}

struct metrics_http *
metrics_http_new(struct relay *relay, const char *host, int port,
    char *errbuf, size_t errlen)
{
	struct metrics_http		*mh;
	struct evhttp_bound_socket	*bound;
	int				 bport;

	mh = xcalloc(1, sizeof *mh);
	mh->relay = relay;
	if ((mh->http = evhttp_new(relay->base)) == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(mh->http, METRICS_HTTP_TIMEOUT);
	evhttp_set_max_headers_size(mh->http, 16 * 1024);
	evhttp_set_max_body_size(mh->http, 0);
	evhttp_set_gencb(mh->http, metrics_http_request_cb, mh);
	if ((bound = evhttp_bind_socket_with_handle(mh->http, host,
	    (ev_uint16_t)port)) == NULL) {
		snprintf(errbuf, errlen, "metrics: cannot listen on %s:%d",
		    host, port);
		metrics_http_free(mh);
		return NULL;
	}
	if ((bport = sock_port(evhttp_bound_socket_get_fd(bound))) == 0)
		bport = port;
	if (strchr(host, ':') != NULL)
		snprintf(mh->address, sizeof mh->address, "[%s]:%d", host,
		    bport);
	else
		snprintf(mh->address, sizeof mh->address, "%s:%d", host,
		    bport);
	log_info("metrics: serving http://%s/metrics", mh->address);
	return mh;
}

void
metrics_http_free(struct metrics_http *mh)
{
	if (mh == NULL)
		return;
	if (mh->http != NULL)
		evhttp_free(mh->http);
	free(mh);
}

const char *
metrics_http_address(const struct metrics_http *mh)
{
	return mh->address;
}
