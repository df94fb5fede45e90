/*
 * The per-server reconnecting handler: one upstream's whole life.  It owns
 * the state machine (one transition function), the retry cycle and its
 * timer, the circuit breaker, the queue of requests waiting for READY, the
 * in-flight table with upstream ids, the retry-safety verdict when a
 * connection is lost, and the upstream's cached lists.  Transports only move
 * bytes and report; they never decide to retry.
 */
#ifndef MCPRELAY_HANDLER_H
#define MCPRELAY_HANDLER_H

#include <stdint.h>
#include "compat-queue.h"

#include "request.h"

struct json_object;
struct config_server;
struct relay;
struct retry_event;
struct handler;
struct oauth;
struct session;

enum handler_state {
	HANDLER_STOPPED,	/* not started, or stopped for good */
	HANDLER_CONNECTING,	/* transport starting */
	HANDLER_INITIALIZING,	/* initialize sent, lists being fetched */
	HANDLER_READY,		/* serving requests */
	HANDLER_BACKOFF,	/* waiting before the next connect attempt */
	HANDLER_FAILED,		/* retries exhausted or breaker open:
				   failing fast, probing on the breaker's
				   schedule */
	HANDLER_STOPPING,	/* closing the transport */
	HANDLER_DRAINING,	/* disabled by the operator: no new requests,
				   the in-flight ones finish, then STOPPING */
	HANDLER_NEEDS_AUTH,	/* auth: oauth and no usable token: requests
				   fail with -32008 until mcprelayctl login;
				   not a failure (no retries, no breaker) */
	HANDLER_NSTATES
};

/* Which cached lists changed, for list_changed notifications. */
#define HANDLER_LIST_TOOLS	0x1
#define HANDLER_LIST_PROMPTS	0x2
#define HANDLER_LIST_RESOURCES	0x4
#define HANDLER_LIST_TEMPLATES	0x8

/* Upcalls to the layer above (the router), registered at creation. */
struct handler_cbs {
	/* A cached list changed content after a refresh. */
	void	(*lists_changed)(void *arg, struct handler *, unsigned which);
	/* The handler left a waiting state: lists are ready or it failed. */
	void	(*settled)(void *arg, struct handler *);
	/* A notification not tied to a request (logging, resources/updated). */
	void	(*notification)(void *arg, struct handler *,
		    struct json_object *msg);
	/* A server->client request; related is the client request it most
	 * likely belongs to, or NULL.  The router must answer it through
	 * handler_answer_server_request() one way or another. */
	void	(*server_request)(void *arg, struct handler *,
		    struct json_object *msg, struct request *related);
	/* A retry rule sends r to the server's fallback: 0 when the router
	 * took it (it submits r there), -1 when there is none for r. */
	int	(*fallback)(void *arg, struct handler *, struct request *r);
};

/* What stats and the control socket read; owned and written by the handler. */
struct handler_counters {
	uint64_t	starts;		/* transports started */
	uint64_t	connects;	/* reached READY */
	uint64_t	disconnects;	/* lost while READY */
	uint64_t	requests;
	uint64_t	replies;	/* answers from the upstream */
	uint64_t	replies_ok;	/* ... with a result */
	uint64_t	replies_error;	/* ... with a JSON-RPC error */
	uint64_t	errors;		/* errors the daemon answered */
	uint64_t	retried;	/* requests re-sent after a loss */
	uint64_t	retried_ok;	/* ... that then got a result */
	uint64_t	maybe_ran;	/* lost after send, not re-sent */
	uint64_t	queue_rejects;
	uint64_t	queue_timeouts;
	uint64_t	timeouts;
	uint64_t	fallbacks;
	uint64_t	transitions;
	uint64_t	health_failures;
	uint64_t	breaker_transitions;
	uint64_t	rule_retries;	/* re-sent by a retry rule */
};

struct handler	*handler_new(struct relay *, const struct config_server *,
		    const struct handler_cbs *, void *cbarg);
void		 handler_free(struct handler *);
void		 handler_start(struct handler *);
/* Stop: fail what is queued, let the transport close. */
void		 handler_stop(struct handler *);
/* Drop the connection and reconnect now (control socket, health check). */
void		 handler_reconnect(struct handler *, const char *reason);
/*
 * The operator's switch (control socket).  disable: new requests get
 * -32016, queued ones too, in-flight ones finish (DRAINING), then the
 * transport stops; the server stays stopped, across reloads that keep it,
 * until enable.  enable: -1 while the transport is still stopping.
 */
void		 handler_disable(struct handler *, const char *reason);
int		 handler_enable(struct handler *, const char *reason);
int		 handler_disabled(const struct handler *);

/* Takes the request: queues, sends, or fails it (never loses it). */
void		 handler_submit(struct handler *, struct request *);
/* Answer a server->client request (takes ownership of reply). */
void		 handler_answer_server_request(struct handler *,
		    struct json_object *upstream_id, struct json_object *reply);
/* Forward a client notification (cancelled, roots/list_changed). */
void		 handler_forward_notification(struct handler *,
		    struct json_object *msg);
/* A request left the handler's care before its reply (client gone). */
void		 handler_forget(struct handler *, struct request *);
/* The client cancelled an in-flight request: tell the upstream. */
void		 handler_cancel(struct handler *, struct request *);
/* Subscribe to a resource upstream now (if connected) and after every
 * reconnect. */
void		 handler_subscribe(struct handler *, const char *uri);
/* Remember a log level for the upstream and send it when connected. */
void		 handler_set_log_level(struct handler *, const char *level);
/* A reload kept this server: its config moved to the new copy. */
void		 handler_set_config(struct handler *,
		    const struct config_server *);
/* The router sent one of this server's calls to its fallback. */
void		 handler_note_fallback(struct handler *);
/* per_client mode: the one session this handler's upstream serves. */
void		 handler_set_owner(struct handler *, struct session *);
struct session	*handler_owner(const struct handler *);

const char	*handler_name(const struct handler *);
/* The server's OAuth client (auth: oauth), or NULL. */
struct oauth	*handler_oauth(const struct handler *);
enum handler_state handler_state(const struct handler *);
const char	*handler_state_name(enum handler_state);
/* True while a first set of lists is still to come (connect cycle). */
int		 handler_pending(const struct handler *);
const struct config_server *handler_config(const struct handler *);
const struct handler_counters *handler_counters(const struct handler *);

/* Cached lists (arrays, borrowed), NULL before the first fetch. */
struct json_object *handler_tools(const struct handler *);
struct json_object *handler_prompts(const struct handler *);
struct json_object *handler_resources(const struct handler *);
struct json_object *handler_resource_templates(const struct handler *);
/* The upstream's initialize result (borrowed) or NULL. */
struct json_object *handler_server_info(const struct handler *);
/* Stats as a json object (new), for the control socket. */
struct json_object *handler_stats_json(const struct handler *);
/* Retry rules for tool (NULL: all of the server's), with match counts
 * (`mcprelayctl rules`), and the dry run of `rules test` (new objects). */
struct json_object *handler_rules_json(const struct handler *,
		    const char *tool);
struct json_object *handler_rules_test_json(struct handler *,
		    const struct retry_event *);

#endif
