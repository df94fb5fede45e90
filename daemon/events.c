/*
 * The event bus and the alerts.  Emitting is synchronous and cheap: an
 * event is built once and handed to each subscriber, which queues it
 * without blocking (the control socket drops a subscriber that does not
 * read).  Alert state is kept per server name, so it survives a reload
 * that replaces the server's handler.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "compat-queue.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "relay.h"
#include "stats.h"
#include "xmalloc.h"

struct events_sub {
	void			(*fn)(void *, struct json_object *);
	void			*arg;
	TAILQ_ENTRY(events_sub)	 entry;
};

/* Alert state of one server name. */
struct events_server {
	char			*name;
	/* Retries per second of the last EVENTS_RATE_WINDOW seconds. */
	int64_t			 second[EVENTS_RATE_WINDOW];
	uint64_t		 count[EVENTS_RATE_WINDOW];
	double			 last_fired[EVENTS_NALERTS];
	int			 has_fired[EVENTS_NALERTS];
	uint64_t		 fired[EVENTS_NALERTS];
	TAILQ_ENTRY(events_server) entry;
};

struct events {
	struct relay			*relay;
	TAILQ_HEAD(, events_sub)	 subs;
	unsigned			 nsubs;
	TAILQ_HEAD(, events_server)	 servers;
	uint64_t			 seq;
	double				(*mono)(void *);
	double				(*wall)(void *);
	void				*clock_arg;
};

static const char *const events_alert_names[EVENTS_NALERTS] = {
	[EVENTS_ALERT_RETRIES_PER_MINUTE] = "retries_per_minute",
	[EVENTS_ALERT_CONSECUTIVE_FAILURES] = "consecutive_failures",
	[EVENTS_ALERT_BREAKER_OPEN] = "breaker_open",
	[EVENTS_ALERT_NEEDS_AUTH] = "needs_auth",
};

const char *
events_alert_name(enum events_alert a)
{
	if ((unsigned)a >= EVENTS_NALERTS)
		return "unknown";
	return events_alert_names[a];
}

static double
events_mono_default(void *arg)
{
	return relay_now();
}

static double
events_wall_default(void *arg)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct events *
events_new(struct relay *relay)
{
	struct events	*ev;

	ev = xcalloc(1, sizeof *ev);
	ev->relay = relay;
	TAILQ_INIT(&ev->subs);
	TAILQ_INIT(&ev->servers);
	ev->mono = events_mono_default;
	ev->wall = events_wall_default;
	return ev;
}

void
events_free(struct events *ev)
{
	struct events_sub	*s;
	struct events_server	*es;

	if (ev == NULL)
		return;
	while ((s = TAILQ_FIRST(&ev->subs)) != NULL) {
		TAILQ_REMOVE(&ev->subs, s, entry);
		free(s);
	}
	while ((es = TAILQ_FIRST(&ev->servers)) != NULL) {
		TAILQ_REMOVE(&ev->servers, es, entry);
		free(es->name);
		free(es);
	}
	free(ev);
}

void
events_set_clock(struct events *ev, double (*mono)(void *),
    double (*wall)(void *), void *arg)
{
	ev->mono = mono != NULL ? mono : events_mono_default;
	ev->wall = wall != NULL ? wall : events_wall_default;
	ev->clock_arg = arg;
}

struct events_sub *
events_subscribe(struct events *ev, void (*fn)(void *, struct json_object *),
    void *arg)
{
	struct events_sub	*s;

	s = xcalloc(1, sizeof *s);
	s->fn = fn;
	s->arg = arg;
	TAILQ_INSERT_TAIL(&ev->subs, s, entry);
	ev->nsubs++;
	return s;
}

void
events_unsubscribe(struct events *ev, struct events_sub *s)
{
	if (s == NULL)
		return;
	TAILQ_REMOVE(&ev->subs, s, entry);
	ev->nsubs--;
	free(s);
}

unsigned
events_subscribers(const struct events *ev)
{
	return ev != NULL ? ev->nsubs : 0;
}

uint64_t
events_emitted(const struct events *ev)
{
	return ev != NULL ? ev->seq : 0;
}

/* A new event of this type, stamped; the caller adds fields, then emits. */
static struct json_object *
events_begin(struct events *ev, const char *type, const char *server)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "seq", json_object_new_int64(
	    (int64_t)++ev->seq));
	json_object_object_add(o, "time", stats_double(
	    ev->wall(ev->clock_arg)));
	if (server != NULL)
		json_object_object_add(o, "server",
		    json_object_new_string(server));
	return o;
}

/* Takes o. */
static void
events_emit(struct events *ev, struct json_object *o)
{
	struct events_sub	*s, *next;

	TAILQ_FOREACH_SAFE(s, &ev->subs, entry, next)
		s->fn(s->arg, o);
	json_object_put(o);
}

static struct events_server *
events_server_get(struct events *ev, const char *name)
{
	struct events_server	*es;
	int			 i;

	TAILQ_FOREACH(es, &ev->servers, entry)
		if (strcmp(es->name, name) == 0)
			return es;
	es = xcalloc(1, sizeof *es);
	es->name = xstrdup(name);
	for (i = 0; i < EVENTS_RATE_WINDOW; i++)
		es->second[i] = -1;
	TAILQ_INSERT_TAIL(&ev->servers, es, entry);
	return es;
}

static const struct config_alerts *
events_thresholds(struct events *ev)
{
	static const struct config_alerts	 off;

	if (ev->relay == NULL || ev->relay->cfg == NULL)
		return &off;
	return &ev->relay->cfg->alerts;
}

/*
 * A threshold was crossed: warn, emit and count, unless this alert fired
 * for this server within the window.
 */
static void
events_alert(struct events *ev, const char *server, enum events_alert kind,
    double value, double threshold, const char *message)
{
	struct events_server	*es = events_server_get(ev, server);
	struct json_object	*o;
	double			 now = ev->mono(ev->clock_arg);

	if (es->has_fired[kind] &&
	    now - es->last_fired[kind] < EVENTS_ALERT_WINDOW)
		return;
	es->has_fired[kind] = 1;
	es->last_fired[kind] = now;
	es->fired[kind]++;
	log_warnx("alert: server %s: %s", server, message);
	o = events_begin(ev, "alert", server);
	json_object_object_add(o, "alert",
	    json_object_new_string(events_alert_name(kind)));
	json_object_object_add(o, "value", stats_double(value));
	json_object_object_add(o, "threshold",
	    stats_double(threshold));
	json_object_object_add(o, "message", json_object_new_string(message));
	events_emit(ev, o);
}

/* Retries in the last EVENTS_RATE_WINDOW seconds, this one included. */
static uint64_t
events_rate_add(struct events *ev, struct events_server *es)
{
	double		now = ev->mono(ev->clock_arg);
	/* floor(), without linking libm for it */
	int64_t		sec = (int64_t)now - ((double)(int64_t)now > now);
	int		slot = (int)(((sec % EVENTS_RATE_WINDOW) +
			    EVENTS_RATE_WINDOW) % EVENTS_RATE_WINDOW);
	uint64_t	total = 0;
	int		i;

	if (es->second[slot] != sec) {
		es->second[slot] = sec;
		es->count[slot] = 0;
	}
	es->count[slot]++;
	for (i = 0; i < EVENTS_RATE_WINDOW; i++)
		if (es->second[i] > sec - EVENTS_RATE_WINDOW)
			total += es->count[i];
	return total;
}

void
events_state(struct events *ev, const char *server, const char *from,
    const char *to, const char *reason)
{
	struct json_object	*o;

	if (ev == NULL)
		return;
	o = events_begin(ev, "state", server);
	json_object_object_add(o, "from", json_object_new_string(from));
	json_object_object_add(o, "to", json_object_new_string(to));
	json_object_object_add(o, "reason",
	    json_object_new_string(reason != NULL ? reason : ""));
	events_emit(ev, o);
}

void
events_retry(struct events *ev, const char *server, const char *what,
    unsigned attempt, double delay)
{
	const struct config_alerts	*a;
	struct json_object		*o;
	uint64_t			 n;
	char				 msg[160];

	if (ev == NULL)
		return;
	o = events_begin(ev, "retry", server);
	json_object_object_add(o, "what", json_object_new_string(what));
	json_object_object_add(o, "attempt", json_object_new_int64(attempt));
	json_object_object_add(o, "delay", stats_double(delay));
	events_emit(ev, o);

	n = events_rate_add(ev, events_server_get(ev, server));
	a = events_thresholds(ev);
	if (a->retries_per_minute > 0 && n > (uint64_t)a->retries_per_minute) {
		snprintf(msg, sizeof msg, "%llu retries in the last minute "
		    "(alerts.retries_per_minute is %d)", (unsigned long long)n,
		    a->retries_per_minute);
		events_alert(ev, server, EVENTS_ALERT_RETRIES_PER_MINUTE,
		    (double)n, a->retries_per_minute, msg);
	}
}

void
events_failure(struct events *ev, const char *server, uint64_t consecutive,
    const char *error)
{
	const struct config_alerts	*a;
	char				 msg[512];

	if (ev == NULL)
		return;
	a = events_thresholds(ev);
	if (a->consecutive_failures <= 0 ||
	    consecutive < (uint64_t)a->consecutive_failures)
		return;
	snprintf(msg, sizeof msg, "%llu connect failures in a row "
	    "(alerts.consecutive_failures is %d); last: %s",
	    (unsigned long long)consecutive, a->consecutive_failures,
	    error != NULL ? error : "");
	events_alert(ev, server, EVENTS_ALERT_CONSECUTIVE_FAILURES,
	    (double)consecutive, a->consecutive_failures, msg);
}

void
events_breaker(struct events *ev, const char *server, const char *from,
    const char *to)
{
	struct json_object	*o;

	if (ev == NULL)
		return;
	o = events_begin(ev, "breaker", server);
	json_object_object_add(o, "from", json_object_new_string(from));
	json_object_object_add(o, "to", json_object_new_string(to));
	events_emit(ev, o);
	if (strcmp(to, "open") == 0 && events_thresholds(ev)->breaker_open)
		events_alert(ev, server, EVENTS_ALERT_BREAKER_OPEN, 1, 1,
		    "circuit breaker opened: failing fast");
}

void
events_admin(struct events *ev, const char *server, const char *action,
    const char *detail)
{
	struct json_object	*o;

	if (ev == NULL)
		return;
	o = events_begin(ev, "admin", server);
	json_object_object_add(o, "action", json_object_new_string(action));
	if (detail != NULL)
		json_object_object_add(o, "detail",
		    json_object_new_string(detail));
	events_emit(ev, o);
}

void
events_auth(struct events *ev, const char *server, const char *phase,
    const char *message, struct json_object *fields)
{
	struct json_object	*o;

	if (ev == NULL) {
		json_object_put(fields);
		return;
	}
	o = events_begin(ev, "auth", server);
	json_object_object_add(o, "phase", json_object_new_string(phase));
	if (message != NULL)
		json_object_object_add(o, "message",
		    json_object_new_string(message));
	if (fields != NULL) {
		json_object_object_foreach(fields, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(fields);
	}
	events_emit(ev, o);
	if (strcmp(phase, "needs_auth") == 0)
		events_alert(ev, server, EVENTS_ALERT_NEEDS_AUTH, 1, 1,
		    message != NULL ? message : "a login is needed");
}

uint64_t
events_alert_count(const struct events *ev, const char *server,
    enum events_alert kind)
{
	struct events_server	*es;

	if (ev == NULL || (unsigned)kind >= EVENTS_NALERTS)
		return 0;
	TAILQ_FOREACH(es, &ev->servers, entry)
		if (strcmp(es->name, server) == 0)
			return es->fired[kind];
	return 0;
}
