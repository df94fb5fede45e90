/*
 * The Streamable HTTP transport (MCP 2025-03-26 and later, client side):
 * each message POSTed, replies read as JSON or as an SSE stream, the
 * Mcp-Session-Id kept, the GET stream for server-initiated messages, broken
 * streams resumed with Last-Event-ID.  Also what it shares with the legacy
 * HTTP+SSE transport (upstream-sse.h): the spec and the HTTP plumbing.
 */
#ifndef MCPRELAY_UPSTREAM_HTTP_H
#define MCPRELAY_UPSTREAM_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include "http-client.h"
#include "upstream.h"

struct event_base;
struct json_object;
struct jsonrpc_parser;
struct oauth;

/* Default wait before resuming a broken SSE stream without retry:. */
#define UPSTREAM_HTTP_DEFAULT_RETRY	1.0
/* A server's retry: and Retry-After are honoured up to this. */
#define UPSTREAM_HTTP_MAX_WAIT		30.0
/* Resume attempts of one stream in a row that bring nothing. */
#define UPSTREAM_HTTP_MAX_RESUMES	5
/* How long a POST's stream may stay open after its response. */
#define UPSTREAM_HTTP_LINGER		2.0
/* Event ids remembered to drop events a server replays twice. */
#define UPSTREAM_HTTP_SEEN_IDS		256

/* A configured header; the value is a secret and never logged. */
struct upstream_remote_header {
	const char	*name;
	const char	*value;
};

/* Everything is copied by upstream_http_new() and upstream_sse_new(). */
struct upstream_remote_spec {
	const char				*name;	/* for logs */
	const char				*url;	/* the MCP endpoint; for
							   sse the SSE stream */
	const struct upstream_remote_header	*headers;
	size_t					 nheaders;
	struct http_tls_config			 tls;
	double					 connect_timeout;
	double					 request_timeout;
	double					 shutdown_timeout; /* DELETE */
	size_t					 max_message;
	struct oauth				*oauth;	/* auth: oauth; borrowed,
							   outlives the
							   transport */
};

/*
 * A transport for one upstream session; start it with upstream_start().
 * ready is reported from the loop at once: the first POST (initialize)
 * makes the connection, so a server that cannot be reached is reported
 * through closed() with the reason below.
 *
 * closed() reasons: CONNECT_FAILED (DNS, TCP, TLS handshake; err errno),
 * TLS (certificate refused; err X509_V_ERR_*), TIMEOUT (connect_timeout),
 * HTTP_STATUS (err: 429, 5xx, 408, or another status refusing initialize),
 * SESSION_EXPIRED (404 to a request carrying the session id, or a 400
 * saying so), IO_ERROR (reset, or a stream that ended before its response
 * and cannot be resumed), PROTOCOL (a reply that is not JSON or SSE, or too
 * big), CONFIG (bad URL, header or TLS files; err EINVAL).  With 429 and
 * 503 the report waits for Retry-After (at most UPSTREAM_HTTP_MAX_WAIT).
 * A 4xx to a request after initialize fails that request only: the
 * server's JSON-RPC error when its body is one, else -32603 naming the
 * status.
 *
 * With an oauth client, every request carries its access token; a 401 waits
 * for a refresh and the request is sent again (it was refused, so it never
 * ran); when only a login helps the transport closes with UNAUTHORIZED.  A
 * 403 insufficient_scope fails that request with -32008.
 *
 * upstream_close() DELETEs the session (within shutdown_timeout), then
 * reports REQUESTED.
 */
struct upstream	*upstream_http_new(struct event_base *,
		    const struct upstream_remote_spec *,
		    const struct upstream_event_cbs *, void *cbarg);

/* ---- shared with upstream-sse.c ----------------------------------------- */

struct upstream_remote {
	struct upstream		*up;		/* for the name and events */
	const int		*dead;		/* the transport was freed */
	struct http_url		 url;
	char			 where[256];	/* loggable URL */
	struct http_client	*client;
	char			**hnames;
	char			**hvalues;
	size_t			 nheaders;
	char			*authorization;	/* from the URL's user info */
	struct oauth		*oauth;		/* or NULL */
	double			 connect_timeout;
	double			 request_timeout;
	double			 shutdown_timeout;
	size_t			 max_message;
	char			*seen[UPSTREAM_HTTP_SEEN_IDS];
	unsigned		 nseen;
	struct jsonrpc_parser	*parser;	/* for every message */

	/* Why the transport failed or closed, reported from ev_report (the
	 * transport's own event). */
	struct event		*ev_report;
	enum upstream_close_reason reason;
	int			 err;
	char			 detail[512];
};

/* 0, or -1 with err set (bad URL, header or TLS files: CONFIG). */
int		 upstream_remote_init(struct upstream_remote *,
		    struct upstream *, struct event_base *,
		    const struct upstream_remote_spec *, char *err,
		    size_t errlen);
void		 upstream_remote_fini(struct upstream_remote *);
/* A request on the server's origin with the configured headers and the
 * access token (its generation into *gen when not NULL). */
struct http_request *upstream_remote_request(struct upstream_remote *,
		    const char *method, const char *target,
		    const struct http_request_cbs *, void *arg, unsigned *gen);
/*
 * A transport's failure: upstream_remote_fail_note() keeps and logs why,
 * upstream_remote_fail_report() reports it from ev_report at once or, after
 * a Retry-After, in wait seconds.  The transport stops its requests between
 * the two.
 */
void		 upstream_remote_fail_note(struct upstream_remote *,
		    enum upstream_close_reason, int err, const char *fmt,
		    va_list);
void		 upstream_remote_fail_report(struct upstream_remote *,
		    double wait);
/* The close reason for an exchange that failed below HTTP. */
enum upstream_close_reason upstream_remote_failure_reason(enum http_error);
/* The close reason and wait for a status that ends the connection. */
void		 upstream_remote_status_failure(const struct http_response *,
		    enum upstream_close_reason *, double *wait);
/* True when an event id was seen before; remembers it. */
int		 upstream_remote_seen(struct upstream_remote *, const char *id);
/*
 * Deliver one message body (an object or a batch array) through the
 * transport's message event; -1 when it is not JSON.  *id_seen is set when
 * a response with id (may be NULL) was among them.
 */
int		 upstream_remote_deliver(struct upstream_remote *,
		    const char *json, size_t len, struct json_object *id,
		    int *id_seen);
/* The same for a body parsed already (borrowed); it may be changed. */
void		 upstream_remote_deliver_msg(struct upstream_remote *,
		    struct json_object *msg, struct json_object *id,
		    int *id_seen);
/*
 * Does this failure of a request's own POST prove the server never ran it?
 * Yes for a connection that failed before the request was written (DNS,
 * connect, connect timeout, TLS) and for the statuses 404, 429 and 503
 * (status 0 when there was no response); docs/remote.md says why.
 */
int		 upstream_remote_never_ran(enum http_error, int status);
/* Reports a request id through the transport's undelivered event. */
void		 upstream_remote_undelivered(struct upstream_remote *,
		    struct json_object *id);
/*
 * Where a remote transport's send() and send_msg() hand a message on:
 * msg parsed (borrowed) and body, a NUL-terminated copy of its text that
 * the callee takes over.
 */
typedef void	 upstream_remote_post_fn(void *arg, struct json_object *msg,
		    char *body, size_t len);
/*
 * What the remote transports' send() and send_msg() share: -1 with errno
 * ENOTCONN unless open (the transport's state says so), EINVAL when json
 * is not JSON; else post(arg, ...) and 0.  Pass msg (send_msg) or json
 * and len (send).
 */
int		 upstream_remote_send(struct upstream_remote *, int open,
		    struct json_object *msg, const char *json, size_t len,
		    upstream_remote_post_fn *post, void *arg);
/* Does a refusal mean the session is gone: 404, or a 400 that says so? */
int		 upstream_remote_says_session(int status, const char *body);
/*
 * The answer to a request the server refused with a 4xx: its own JSON-RPC
 * error for id when the body is one, else -32603 naming the status.
 * Returns a new object.
 */
struct json_object *upstream_remote_refusal(struct upstream_remote *,
		    struct json_object *id, int status, const char *reason,
		    const char *body);

#endif
