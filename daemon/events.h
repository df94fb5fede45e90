/*
 * The event bus: what happens to servers (state changes, retries, breaker
 * transitions, operator actions) goes to every subscriber (control socket
 * events.subscribe) as it happens, and the alert thresholds of the config's
 * "alerts" block are checked here.  An alert logs a warning, emits an
 * event and bumps a counter, at most once per window per server and kind.
 */
#ifndef MCPRELAY_EVENTS_H
#define MCPRELAY_EVENTS_H

#include <stdint.h>

struct json_object;
struct relay;
struct events;
struct events_sub;

/* One alert of a kind per server at most this often. */
#define EVENTS_ALERT_WINDOW	60.0
/* retries_per_minute counts retries in this sliding window. */
#define EVENTS_RATE_WINDOW	60

enum events_alert {
	EVENTS_ALERT_RETRIES_PER_MINUTE,
	EVENTS_ALERT_CONSECUTIVE_FAILURES,
	EVENTS_ALERT_BREAKER_OPEN,
	EVENTS_ALERT_NEEDS_AUTH,	/* always on: a login is needed */
	EVENTS_NALERTS
};

const char	*events_alert_name(enum events_alert);

/*
 * Reads the thresholds from relay->cfg->alerts at every check, so a reload
 * applies at once.  Functions below accept a NULL bus and do nothing (a
 * daemon context built by a unit test may have none).
 */
struct events	*events_new(struct relay *);
void		 events_free(struct events *);

/* Clocks, for tests: monotonic seconds for windows, epoch seconds for
 * the events' "time". */
void		 events_set_clock(struct events *, double (*mono)(void *),
		    double (*wall)(void *), void *arg);

/*
 * fn gets each event (borrowed: json_object_get() it to keep it).  fn must
 * not unsubscribe any subscriber from inside the call; defer it.
 */
struct events_sub *events_subscribe(struct events *,
		    void (*fn)(void *arg, struct json_object *event),
		    void *arg);
void		 events_unsubscribe(struct events *, struct events_sub *);
unsigned	 events_subscribers(const struct events *);

/* What the handler and the control socket report. */
void		 events_state(struct events *, const char *server,
		    const char *from, const char *to, const char *reason);
/* what: "connect" (a reconnect scheduled after delay seconds) or
 * "request" (a request re-sent after a loss). */
void		 events_retry(struct events *, const char *server,
		    const char *what, unsigned attempt, double delay);
/* A connect attempt failed; consecutive is the count in a row. */
void		 events_failure(struct events *, const char *server,
		    uint64_t consecutive, const char *error);
void		 events_breaker(struct events *, const char *server,
		    const char *from, const char *to);
/* An operator's action: "disable", "enable", "reconnect", "reload". */
void		 events_admin(struct events *, const char *server,
		    const char *action, const char *detail);

/*
 * An OAuth step of a server (oauth.c): phase "authorize" (fields: url),
 * "done", "failed", "refreshed", "needs_auth", "logout"; fields (taken, may
 * be NULL) are merged into the event.  needs_auth also raises the
 * needs_auth alert with message.
 */
void		 events_auth(struct events *, const char *server,
		    const char *phase, const char *message,
		    struct json_object *fields);

/* Alerts fired so far for server and kind (0 for an unknown server). */
uint64_t	 events_alert_count(const struct events *, const char *server,
		    enum events_alert);
/* Events emitted so far (the "seq" of the last one). */
uint64_t	 events_emitted(const struct events *);

#endif
