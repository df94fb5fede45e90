/*
 * The one daemon context: event loop, configuration, child reaper, router,
 * sessions and listeners.  Everything mutable in the daemon hangs off it.
 */
#ifndef MCPRELAY_RELAY_H
#define MCPRELAY_RELAY_H

#include <stdint.h>
#include <time.h>

#include "retry.h"

struct access;
struct config;
struct child_reaper;
struct router;
struct mrtr;
struct jsonrpc_parser;
struct sessions;
struct listen_http;
struct listen_unix;
struct notify;
struct events;
struct control;
struct metrics_http;
struct event_base;
struct event;

struct relay_counters {
	uint64_t	sessions_total;
	uint64_t	requests;
	uint64_t	replies_ok;
	uint64_t	replies_error;
	uint64_t	parse_errors;
	uint64_t	invalid_requests;
	uint64_t	reloads;
	uint64_t	reload_failures;
	/* Refused by a listen.max_* limit (docs/security.md#limits). */
	uint64_t	limit_sessions;
	uint64_t	limit_inflight;
};

struct relay {
	struct event_base	*base;
	char			*config_path;
	struct config		*cfg;
	struct child_reaper	*reaper;
	struct router		*router;
	struct mrtr		*mrtr;
	/* One tokener for the messages of every listener and handler (the
	 * daemon is single-threaded and a parse never nests). */
	struct jsonrpc_parser	*parser;
	struct sessions		*sessions;
	struct listen_http	*http;
	struct listen_unix	*unix_listener;
	struct notify		*notify;	/* systemd: sd_notify, passed
						   sockets (notify.c) */
	struct events		*events;	/* event bus, alerts */
	struct control		*control;	/* mcprelayctl's socket */
	struct metrics_http	*metrics;	/* GET /metrics, or NULL */
	struct access		*access;	/* who may connect */

	struct event		*ev_sigterm;
	struct event		*ev_sigint;
	struct event		*ev_sighup;

	struct retry_rng_state	 rng_state;
	struct retry_rng	 rng;
	int64_t			 next_upstream_id;
	time_t			 started;
	int			 exit_code;
	int			 stopping;
	double			 stop_deadline;
	struct event		*ev_stop;
	struct relay_counters	 counters;
};

/* NULL and *exit_code set when start-up fails (78 for a bad config). */
struct relay	*relay_new(const char *config_path, int verbose,
		    int *exit_code);
int		 relay_run(struct relay *);
void		 relay_free(struct relay *);
void		 relay_shutdown(struct relay *, const char *why);
/* Re-read the config; an invalid file keeps the old one. 0 if applied. */
int		 relay_reload(struct relay *);

/*
 * Socket activation: the listening socket systemd passed for name ("http",
 * "mcp" or "control"), or -1 (then bind as configured).  The caller owns
 * it from here on; *addr gets its address for logs.  The control socket
 * calls this with "control" when it opens its listener.
 */
int		 relay_inherited_fd(struct relay *, const char *name,
		    const char **addr);
/* What systemd's STATUS= shows may have changed (server states, sessions). */
void		 relay_status_changed(struct relay *);

/* Monotonic seconds. */
double		 relay_now(void);
/* Upstream request ids are unique across the whole daemon. */
int64_t		 relay_next_id(struct relay *);

#endif
