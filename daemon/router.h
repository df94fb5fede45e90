/*
 * Routing: which server a request goes to.  The aggregate endpoint merges
 * every server's tools, prompts and resources (renaming clashes to
 * SERVER__NAME), routes calls to the owner, answers lists from the
 * handlers' caches and falls back to another server while a breaker is
 * open.  A per-server endpoint passes everything to its one server.
 */
#ifndef MCPRELAY_ROUTER_H
#define MCPRELAY_ROUTER_H

struct access_who;
struct config;
struct handler;
struct json_object;
struct relay;
struct request;
struct router;
struct session;

struct router	*router_new(struct relay *);
void		 router_free(struct router *);
/* Create, keep, restart or remove handlers to match cfg (start-up and
 * reload); servers whose settings did not change keep their connection. */
void		 router_apply_config(struct router *, const struct config *);
struct handler	*router_find(struct router *, const char *name);
unsigned	 router_count(const struct router *);
unsigned	 router_ready_count(const struct router *);
struct handler	*router_at(struct router *, unsigned i);
/* Graceful stop of every upstream; true once all have stopped. */
void		 router_stop_all(struct router *);
int		 router_all_stopped(const struct router *);
/* A session ended: stop the upstreams it had to itself (per_client). */
void		 router_session_closed(struct router *, struct session *);

/*
 * What the endpoint of scope (a server name or NULL) offers clients: its
 * capabilities (new object) and instructions (static or borrowed).
 */
struct json_object *router_capabilities(struct router *, const char *scope);
const char	*router_instructions(struct router *, const char *scope);
/* The cached inputSchema of a tool as the client names it, or NULL. */
struct json_object *router_tool_schema(struct router *, const char *scope,
		    const char *name);

/* A 2026-07-28 subscription to a resource: the owner subscribes upstream. */
void		 router_subscribe(struct router *, const char *scope,
		    const struct access_who *, const char *uri);

/* Takes the request; scope is a server name or NULL for the aggregate. */
void		 router_dispatch(struct router *, struct request *,
		    const char *scope);
/* r leaves the router or its handler without a reply (client gone). */
void		 router_forget(struct router *, struct request *);
/* The client cancelled r: tell its upstream and end it without a reply. */
void		 router_cancel(struct router *, struct request *,
		    struct json_object *params);
/* A client notification for every server in scope. */
void		 router_broadcast_notification(struct router *,
		    const char *scope, const struct access_who *,
		    struct json_object *msg);

#endif
