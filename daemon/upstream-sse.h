/*
 * The legacy HTTP+SSE transport (MCP 2024-11-05, client side): a GET opens
 * the server's event stream, whose first "endpoint" event says where to
 * POST messages; every reply arrives on the stream.
 */
#ifndef MCPRELAY_UPSTREAM_SSE_H
#define MCPRELAY_UPSTREAM_SSE_H

#include "upstream-http.h"

struct event_base;

/*
 * A transport for one upstream session (spec->url is the SSE stream);
 * start it with upstream_start().  ready is reported once the endpoint
 * event has come; an endpoint on another origin (scheme, host, port) is
 * refused (PROTOCOL).  Messages are POSTed one at a time, in order.
 *
 * closed() reasons as for upstream_http_new(); besides: the stream ending
 * or breaking is IO_ERROR (a legacy session cannot be resumed: the handler
 * starts a new one), a 404 to a POST is SESSION_EXPIRED, and a POST that
 * gets no answer within request_timeout is TIMEOUT.
 */
struct upstream	*upstream_sse_new(struct event_base *,
		    const struct upstream_remote_spec *,
		    const struct upstream_event_cbs *, void *cbarg);

#endif
