/*
 * The HTTP side of mcprelay-demo-server: MCP Streamable HTTP at /mcp and
 * the legacy HTTP+SSE transport at /sse, plain or TLS, with the HTTP faults
 * the remote-upstream tests inject (docs/demo-server.md).
 */
#ifndef MCPRELAY_DEMO_HTTP_H
#define MCPRELAY_DEMO_HTTP_H

#include <event2/event.h>
#include <json-c/json.h>

#include "demo-faults.h"

struct demo_http_host {
	struct event_base	*base;
	void			*arg;
	/* One message a client POSTed (borrowed); the host answers it
	 * through demo_http_send(), now or later. */
	void	(*message)(void *arg, json_object *msg);
};

struct demo_http;

/* NULL with *status set (1 cannot listen or load TLS files, 2 usage). */
struct demo_http	*demo_http_new(const struct demo_http_host *,
			    const struct demo_opts *, int *status);
void			 demo_http_free(struct demo_http *);

/*
 * A message of the server.  A response (is_response, id its id) answers the
 * request's POST or goes on its stream; anything else goes on the stream of
 * the request it belongs to (related, a progressToken, or the request being
 * handled), else on the session's GET stream, else nowhere.
 */
void	demo_http_send(struct demo_http *, json_object *related,
	    const char *line, int is_response);

/* SIGTERM: POSTs still waiting get 503 and open streams end. */
void	demo_http_shutdown(struct demo_http *);

/* 1 when no server-to-client request can reach a client (JSON replies). */
int	demo_http_json_only(const struct demo_http *);

#endif
