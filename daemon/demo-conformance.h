/*
 * The MCP conformance suite's server fixture, served by
 * mcprelay-demo-server --conformance: the tools, resources, prompts and
 * completions the suite's server scenarios call, for clients of both eras.
 */
#ifndef MCPRELAY_DEMO_CONFORMANCE_H
#define MCPRELAY_DEMO_CONFORMANCE_H

#include <json-c/json.h>

struct event_base;
struct demo_conf;

/*
 * How the fixture writes through the server that hosts it.  Every callback
 * takes ownership of the JSON it is given and borrows the rest.
 */
struct demo_conf_host {
	struct event_base	*base;
	void			*arg;
	/* A notification; related is the request it belongs to, or NULL. */
	void	(*notify)(void *, json_object *related, const char *method,
		    json_object *params);
	/* A server-to-client request (only clients of the initialize era). */
	void	(*request)(void *, const char *id, const char *method,
		    json_object *params);
	/* A result; stateless ones get resultType, serverInfo and caching. */
	void	(*respond)(void *, json_object *id, int stateless,
		    int cacheable, json_object *result);
	void	(*respond_error)(void *, json_object *id, int code,
		    const char *message, json_object *data);
	/* The transport cannot carry server-to-client requests. */
	int	  no_requests;
};

/* One request as the host decoded it; the fixture borrows all of it. */
struct demo_conf_req {
	const char	*method;
	json_object	*id;
	json_object	*params;	/* an object */
	json_object	*token;		/* _meta.progressToken, or NULL */
	json_object	*caps;		/* 2026-07-28 clientCapabilities */
	int		 stateless;	/* a 2026-07-28 request */
	int		 log_level;	/* least severe level sent, -1: none */
};

struct demo_conf	*demo_conf_new(const struct demo_conf_host *);
void			 demo_conf_free(struct demo_conf *);

/*
 * Offers a request to the fixture: 1 when the fixture answers it (now or
 * later, through the host), 0 when the host should answer it itself.
 */
int	demo_conf_handle(struct demo_conf *, const struct demo_conf_req *);

/* Appends the fixture's entries to the last page of a list result. */
void	demo_conf_extend(struct demo_conf *, const char *method,
	    json_object *result);

/* A client's response: 1 when it answered one of the fixture's requests. */
int	demo_conf_response(struct demo_conf *, json_object *msg);

/* notifications/cancelled: the named request is dropped unanswered. */
void	demo_conf_cancel(struct demo_conf *, json_object *id);

/*
 * Input closed: timed calls finish at once, calls waiting for the client
 * get a tool error, listen streams end with their result.
 */
void	demo_conf_input_closed(struct demo_conf *);

#endif
