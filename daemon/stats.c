/*
 * Statistics as the control socket shows them: the latency histogram and
 * the status, servers and stats answers, assembled from the counters the
 * relay, listeners, sessions and handlers keep.  Read-only: nothing here
 * changes a counter.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "access.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "handler.h"
#include "listen-http.h"
#include "listen-unix.h"
#include "metrics.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "stats.h"

/* Request durations: 1 ms .. 60 s, as Prometheus' defaults stretched to
 * the minute a slow tool may take. */
const double stats_latency_bounds[STATS_LATENCY_NBOUNDS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 30, 60,
};

void
stats_latency_init(struct stats_latency *l)
{
	memset(l, 0, sizeof *l);
}

void
stats_latency_add(struct stats_latency *l, double seconds)
{
	int	i;

	if (!(seconds > 0))
		seconds = 0;
	for (i = 0; i < STATS_LATENCY_NBOUNDS; i++)
		if (seconds <= stats_latency_bounds[i])
			break;
	l->buckets[i]++;
	l->count++;
	l->sum += seconds;
}

double
stats_latency_quantile(const struct stats_latency *l, double q)
{
	double		rank, lower, upper, below = 0;
	int		i;

	if (l->count == 0)
		return -1;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = q * (double)l->count;
	for (i = 0; i <= STATS_LATENCY_NBOUNDS; i++) {
		if (l->buckets[i] > 0 && below + (double)l->buckets[i] >= rank)
			break;
		below += (double)l->buckets[i];
	}
	if (i >= STATS_LATENCY_NBOUNDS)
		return stats_latency_bounds[STATS_LATENCY_NBOUNDS - 1];
	lower = i == 0 ? 0 : stats_latency_bounds[i - 1];
	upper = stats_latency_bounds[i];
	return lower + (upper - lower) * (rank - below) /
	    (double)l->buckets[i];
}

/* Quantiles rounded to microseconds; null when there is no data. */
static struct json_object *
stats_quantile_json(const struct stats_latency *l, double q)
{
	double	v = stats_latency_quantile(l, q), us, whole;

	if (v < 0)
		return NULL;
	/* round(), half up, without libm: a latency is far below 2^63 µs. */
	us = v * 1e6;
	whole = (double)(int64_t)us;
	if (us - whole >= 0.5)
		whole += 1;
	return stats_double(whole / 1e6);
}

struct json_object *
stats_latency_json(const struct stats_latency *l)
{
	struct json_object	*o, *b, *e;
	uint64_t		 cum = 0;
	int			 i;

	o = json_object_new_object();
	json_object_object_add(o, "count",
	    json_object_new_int64((int64_t)l->count));
	json_object_object_add(o, "sum", stats_double(l->sum));
	json_object_object_add(o, "p50", stats_quantile_json(l, 0.5));
	json_object_object_add(o, "p90", stats_quantile_json(l, 0.9));
	json_object_object_add(o, "p99", stats_quantile_json(l, 0.99));
	b = json_object_new_array();
	for (i = 0; i <= STATS_LATENCY_NBOUNDS; i++) {
		cum += l->buckets[i];
		e = json_object_new_object();
		/* The last bucket's bound is +Inf: a string, as JSON has
		 * no infinity. */
		json_object_object_add(e, "le", i < STATS_LATENCY_NBOUNDS ?
		    stats_double(stats_latency_bounds[i]) :
		    json_object_new_string("+Inf"));
		json_object_object_add(e, "count",
		    json_object_new_int64((int64_t)cum));
		json_object_array_add(b, e);
	}
	json_object_object_add(o, "buckets", b);
	return o;
}

struct json_object *
stats_double(double v)
{
	char	buf[64];

	snprintf(buf, sizeof buf, "%.16g", v);
	return json_object_new_double_s(v, buf);
}

double
stats_wallclock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
stats_add_int(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* Fields every answer starts with. */
static struct json_object *
stats_header(struct relay *relay)
{
	struct json_object	*o;
	double			 now = stats_wallclock();

	o = json_object_new_object();
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	stats_add_int(o, "protocol", CONTROL_PROTOCOL_VERSION);
	stats_add_int(o, "pid", (uint64_t)getpid());
	json_object_object_add(o, "configFile",
	    json_object_new_string(relay->config_path));
	json_object_object_add(o, "startTime",
	    stats_double((double)relay->started));
	json_object_object_add(o, "uptimeSeconds",
	    stats_double(now - (double)relay->started));
	json_object_object_add(o, "stopping",
	    json_object_new_boolean(relay->stopping));
	return o;
}

static struct json_object *
stats_listeners(struct relay *relay)
{
	struct json_object	*a, *o;
	const struct listen_unix_counters *uc;
	const struct listen_http_counters *hc;
	const struct control_counters *cc;
	const char		*host = relay->cfg->listen.http.host;
	char			 addr[160];

	a = json_object_new_array();
	if (relay->http != NULL) {
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("http"));
		if (host == NULL)
			host = "";
		if (strchr(host, ':') != NULL)
			snprintf(addr, sizeof addr, "[%s]:%d", host,
			    listen_http_port(relay->http));
		else
			snprintf(addr, sizeof addr, "%s:%d", host,
			    listen_http_port(relay->http));
		json_object_object_add(o, "address",
		    json_object_new_string(addr));
		hc = listen_http_counters(relay->http);
		stats_add_int(o, "open", hc->open);
		stats_add_int(o, "accepted", hc->accepted);
		stats_add_int(o, "refused", hc->refused);
		stats_add_int(o, "timedOut", hc->timed_out);
		json_object_array_add(a, o);
	}
	if (relay->unix_listener != NULL) {
		uc = listen_unix_counters(relay->unix_listener);
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("unix"));
		json_object_object_add(o, "path", json_object_new_string(
		    listen_unix_path(relay->unix_listener)));
		stats_add_int(o, "open", uc->open);
		stats_add_int(o, "accepted", uc->accepted);
		stats_add_int(o, "refused", uc->refused);
		stats_add_int(o, "dropped", uc->dropped);
		json_object_array_add(a, o);
	}
	if (relay->control != NULL) {
		cc = control_counters(relay->control);
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("control"));
		json_object_object_add(o, "path", json_object_new_string(
		    control_path(relay->control)));
		stats_add_int(o, "open", cc->open);
		stats_add_int(o, "accepted", cc->accepted);
		stats_add_int(o, "refused", cc->refused);
		stats_add_int(o, "dropped", cc->dropped);
		stats_add_int(o, "requests", cc->requests);
		stats_add_int(o, "denied", cc->denied);
		stats_add_int(o, "subscribed", cc->subscribed);
		json_object_array_add(a, o);
	}
	if (relay->metrics != NULL) {
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("metrics"));
		json_object_object_add(o, "address", json_object_new_string(
		    metrics_http_address(relay->metrics)));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *
stats_sessions(struct relay *relay)
{
	struct json_object	*o = json_object_new_object();

	stats_add_int(o, "open", relay->sessions != NULL ?
	    sessions_count(relay->sessions) : 0);
	stats_add_int(o, "total", relay->counters.sessions_total);
	return o;
}

/* How often each listen.max_* limit refused something (docs/security.md). */
static struct json_object *
stats_limits(struct relay *relay)
{
	struct json_object	*o = json_object_new_object();
	uint64_t		 conns = 0, timeouts = 0;

	if (relay->http != NULL) {
		conns += listen_http_counters(relay->http)->refused;
		timeouts += listen_http_counters(relay->http)->timed_out;
	}
	if (relay->unix_listener != NULL)
		conns += listen_unix_counters(relay->unix_listener)->refused;
	stats_add_int(o, "maxConnections", conns);
	stats_add_int(o, "maxSessions", relay->counters.limit_sessions);
	stats_add_int(o, "maxInflight", relay->counters.limit_inflight);
	stats_add_int(o, "requestReadTimeout", timeouts);
	return o;
}

static struct json_object *
stats_requests(struct relay *relay)
{
	const struct relay_counters *k = &relay->counters;
	struct json_object	*o = json_object_new_object();

	stats_add_int(o, "total", k->requests);
	stats_add_int(o, "ok", k->replies_ok);
	stats_add_int(o, "error", k->replies_error);
	stats_add_int(o, "parseErrors", k->parse_errors);
	stats_add_int(o, "invalid", k->invalid_requests);
	return o;
}

/* One server: the handler's own stats plus the alerts fired for it. */
static struct json_object *
stats_handler(struct relay *relay, struct handler *h)
{
	struct json_object	*o, *a;
	int			 i;

	o = handler_stats_json(h);
	a = json_object_new_object();
	for (i = 0; i < EVENTS_NALERTS; i++)
		stats_add_int(a, events_alert_name(i), events_alert_count(
		    relay->events, handler_name(h), i));
	json_object_object_add(o, "alerts", a);
	return o;
}

struct json_object *
stats_server(struct relay *relay, const char *name)
{
	struct handler	*h;

	if ((h = router_find(relay->router, name)) == NULL)
		return NULL;
	return stats_handler(relay, h);
}

struct json_object *
stats_all(struct relay *relay)
{
	struct json_object	*o, *servers, *x;
	unsigned		 i;

	o = stats_header(relay);
	json_object_object_add(o, "listeners", stats_listeners(relay));
	json_object_object_add(o, "sessions", stats_sessions(relay));
	json_object_object_add(o, "requests", stats_requests(relay));
	json_object_object_add(o, "limits", stats_limits(relay));
	x = json_object_new_object();
	stats_add_int(x, "ok", relay->counters.reloads);
	stats_add_int(x, "failed", relay->counters.reload_failures);
	json_object_object_add(o, "reloads", x);
	x = json_object_new_object();
	stats_add_int(x, "emitted", events_emitted(relay->events));
	stats_add_int(x, "subscribers", events_subscribers(relay->events));
	json_object_object_add(o, "events", x);
	if (relay->access != NULL)
		json_object_object_add(o, "access",
		    access_stats_json(relay->access));
	servers = json_object_new_array();
	for (i = 0; i < router_count(relay->router); i++)
		json_object_array_add(servers, stats_handler(relay,
		    router_at(relay->router, i)));
	json_object_object_add(o, "servers", servers);
	return o;
}

/* The fields of one server's stats that "servers" and watch show. */
static struct json_object *
stats_server_brief(struct json_object *full)
{
	static const char *const top[] = {
		"name", "type", "protocol", "state", "stateSeconds", "reason",
		"disabled", "auth", NULL
	};
	struct json_object	*o, *part, *v;
	int			 i;

	o = json_object_new_object();
	for (i = 0; top[i] != NULL; i++)
		if (json_object_object_get_ex(full, top[i], &v))
			json_object_object_add(o, top[i], json_object_get(v));
	if (json_object_object_get_ex(full, "breaker", &part) &&
	    json_object_object_get_ex(part, "state", &v))
		json_object_object_add(o, "breaker", json_object_get(v));
	if (json_object_object_get_ex(full, "requests", &part)) {
		if (json_object_object_get_ex(part, "inFlight", &v))
			json_object_object_add(o, "inFlight",
			    json_object_get(v));
		if (json_object_object_get_ex(part, "queued", &v))
			json_object_object_add(o, "queued",
			    json_object_get(v));
		if (json_object_object_get_ex(part, "total", &v))
			json_object_object_add(o, "requests",
			    json_object_get(v));
	}
	if (json_object_object_get_ex(full, "connection", &part)) {
		if (json_object_object_get_ex(part, "consecutiveFailures", &v))
			json_object_object_add(o, "consecutiveFailures",
			    json_object_get(v));
		if (json_object_object_get_ex(part, "lastError", &v))
			json_object_object_add(o, "lastError",
			    json_object_get(v));
	}
	if (json_object_object_get_ex(full, "process", &part) &&
	    json_object_object_get_ex(part, "pid", &v))
		json_object_object_add(o, "pid", json_object_get(v));
	return o;
}

struct json_object *
stats_servers(struct relay *relay)
{
	struct json_object	*a, *full;
	unsigned		 i;

	a = json_object_new_array();
	for (i = 0; i < router_count(relay->router); i++) {
		full = handler_stats_json(router_at(relay->router, i));
		json_object_array_add(a, stats_server_brief(full));
		json_object_put(full);
	}
	return a;
}

struct json_object *
stats_status(struct relay *relay)
{
	struct json_object	*o, *s;
	struct handler		*h;
	unsigned		 i, n = router_count(relay->router);
	uint64_t		 ready = 0, failed = 0, disabled = 0;

	for (i = 0; i < n; i++) {
		h = router_at(relay->router, i);
		if (handler_state(h) == HANDLER_READY)
			ready++;
		else if (handler_state(h) == HANDLER_FAILED)
			failed++;
		if (handler_disabled(h))
			disabled++;
	}
	o = stats_header(relay);
	s = json_object_new_object();
	stats_add_int(s, "total", n);
	stats_add_int(s, "ready", ready);
	stats_add_int(s, "failed", failed);
	stats_add_int(s, "disabled", disabled);
	json_object_object_add(o, "servers", s);
	json_object_object_add(o, "sessions", stats_sessions(relay));
	json_object_object_add(o, "requests", stats_requests(relay));
	json_object_object_add(o, "listeners", stats_listeners(relay));
	return o;
}
