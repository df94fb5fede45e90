/*
 * The transport interface between a server's handler and whatever carries
 * its JSON-RPC messages (a child's stdio today, HTTP/SSE later).  Transports
 * move bytes and report events; retrying and deciding is the handler's job.
 */
#ifndef MCPRELAY_UPSTREAM_H
#define MCPRELAY_UPSTREAM_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct jsonscan_response;

/*
 * Why a transport closed; the handler's retry decision starts here.  The
 * err argument of the closed callback depends on the reason (see below).
 */
enum upstream_close_reason {
	UPSTREAM_CLOSE_REQUESTED,	/* upstream_close() finished; err 0 */
	UPSTREAM_CLOSE_EXITED,		/* the child exited on its own; err is
					   the waitpid() status (WIFEXITED,
					   WEXITSTATUS, WTERMSIG apply) */
	UPSTREAM_CLOSE_SPAWN_FAILED,	/* could not start; err is the errno:
					   ENOENT, EACCES, ENOEXEC, ENOTDIR
					   are configuration errors, EAGAIN,
					   ENOMEM, EMFILE, ENFILE transient */
	UPSTREAM_CLOSE_IO_ERROR,	/* read/write error (err = errno) or the
					   peer closed its output (err 0) */
	UPSTREAM_CLOSE_PROTOCOL,	/* a message over the size limit
					   (err EMSGSIZE), or a reply that is
					   not MCP (err EPROTO) */
	/* Remote (http, sse) transports: */
	UPSTREAM_CLOSE_CONNECT_FAILED,	/* DNS, TCP connect or TLS handshake
					   failed; err: errno (0 for TLS) */
	UPSTREAM_CLOSE_TLS,		/* the server's certificate was
					   refused; err: X509_V_ERR_* */
	UPSTREAM_CLOSE_HTTP_STATUS,	/* the server answered a status that
					   ends the connection; err: it (429,
					   5xx, 408, or a 4xx refusing
					   initialize) */
	UPSTREAM_CLOSE_SESSION_EXPIRED,	/* the server no longer knows the MCP
					   session (404); err: the status */
	UPSTREAM_CLOSE_TIMEOUT,		/* no connection within the connect
					   timeout; err ETIMEDOUT */
	UPSTREAM_CLOSE_CONFIG,		/* the transport cannot be set up
					   (URL, header, TLS files); err
					   EINVAL */
	UPSTREAM_CLOSE_UNAUTHORIZED,	/* 401 and no token can be had
					   without a login (oauth.h); err 401 */
};

/*
 * Events from a transport to its owner.  They are only ever called from the
 * event loop, never from inside an upstream_*() call, so the owner may call
 * any upstream_*() function, upstream_free() included, from any of them.
 * Any of them may be NULL.
 */
struct upstream_event_cbs {
	/* The transport can carry messages (the child has been exec'd). */
	void	(*ready)(void *arg);
	/* One framed message, NUL-terminated (len excludes the NUL), valid
	 * only during the call.  Not validated as JSON. */
	void	(*message)(void *arg, const char *json, size_t len);
	/* The same message when the transport has parsed it already (a
	 * remote one does, to find its replies): borrowed, valid only
	 * during the call, and the owner may change it.  An owner that
	 * leaves it NULL gets the message's text through message(). */
	void	(*message_obj)(void *arg, struct json_object *msg);
	/* A remote transport's success response before it is parsed, with
	 * where jsonscan_response() found its parts: the owner returns 1
	 * if it dealt with it from its text alone, else 0 and the message
	 * goes on as above.  (A stdio transport's go to message().) */
	int	(*response_text)(void *arg, const char *json, size_t len,
		    const struct jsonscan_response *sc);
	/* A request that provably never reached the server: refused before
	 * it ran (HTTP 404, 429, 503), or never written (the connection
	 * failed first).  id is its JSON-RPC id as JSON text.  It comes
	 * before the closed() of a failure that ends the transport, so the
	 * owner may send the request again on the next one. */
	void	(*undelivered)(void *arg, const char *id, size_t len);
	/* Exactly once per started transport, and last: nothing is called
	 * after it.  detail is a short human-readable explanation ("exited
	 * with status 3", "killed by signal 9 (Killed)"), valid only during
	 * the call. */
	void	(*closed)(void *arg, enum upstream_close_reason reason,
		    int err, const char *detail);
	/* A query, not an event (called from inside upstream_send()): the
	 * inputSchema of the server's tool of that name (borrowed) or NULL,
	 * for the Mcp-Param-* headers of a modern tools/call. */
	struct json_object *(*tool_schema)(void *arg, const char *tool);
};

struct upstream;

/*
 * Begin connecting or spawning.  0 when started; -1 with errno EALREADY if
 * it was started before.  Every start failure (pipe, fork, chdir, exec;
 * connect, TLS) is reported once through closed() from the event loop
 * (SPAWN_FAILED with the errno for stdio, CONNECT_FAILED, TLS, CONFIG...
 * for remote transports), never returned here, so the handler has one
 * failure path.
 */
int		 upstream_start(struct upstream *);
/*
 * Queue one message (without framing: the transport adds it).  0 when
 * queued; -1 with errno ENOTCONN before ready or once closing has begun,
 * EINVAL if the message holds a newline (it would break the framing).
 * Queued data is written as the peer reads, without a limit: the handler
 * bounds what it has in flight.  A write error ends the transport
 * (closed(IO_ERROR), or EXITED when the peer was exiting anyway).
 */
int		 upstream_send(struct upstream *, const char *json, size_t len);
/*
 * upstream_send() of a parsed message (borrowed; not kept): a transport
 * that looks inside what it sends (remote ones do) then need not parse the
 * text again.
 */
int		 upstream_send_msg(struct upstream *, struct json_object *msg);
/*
 * upstream_send() of a legacy request whose method and integer id the
 * caller knows (a tool call passed through as text), for a transport that
 * would otherwise parse the text to find them.
 */
int		 upstream_send_request(struct upstream *, const char *json,
		    size_t len, const char *method, int64_t id);
/*
 * Orderly shutdown; closed(REQUESTED) follows when it is done.  Messages
 * may still arrive meanwhile.  A no-op before start and after closed; while
 * a shutdown is already under way it only makes the report REQUESTED,
 * unless a firm failure (PROTOCOL, SPAWN_FAILED...) came first.
 */
void		 upstream_close(struct upstream *);
/*
 * Free at any time, even from inside a callback: no callback follows.  A
 * child still running is killed; its reaping is left to the reaper.
 * upstream_free(NULL) is a no-op.
 */
void		 upstream_free(struct upstream *);

const char	*upstream_name(const struct upstream *);
/* "stdio", "http", "sse" */
const char	*upstream_kind(const struct upstream *);
/* The child's pid while it runs (for logs and stats), else -1. */
pid_t		 upstream_pid(const struct upstream *);

const char	*upstream_close_reason_name(enum upstream_close_reason);

/*
 * For transport implementations only: a transport embeds struct upstream
 * as its first member and fills in its operations.
 */
struct upstream_ops {
	const char	*kind;
	int		 (*start)(struct upstream *);
	int		 (*send)(struct upstream *, const char *, size_t);
	/* May be NULL: send() gets the message's text. */
	int		 (*send_msg)(struct upstream *, struct json_object *);
	/* May be NULL: send() gets the request's text. */
	int		 (*send_request)(struct upstream *, const char *, size_t,
			    const char *method, int64_t id);
	void		 (*close)(struct upstream *);
	void		 (*free)(struct upstream *);
	/* May be NULL: no process behind this transport. */
	pid_t		 (*pid)(const struct upstream *);
};

struct upstream {
	const struct upstream_ops	*ops;
	char				*name;
	struct upstream_event_cbs	 cbs;
	void				*cbarg;
};

/* Copies name and the callbacks. */
void	upstream_init(struct upstream *, const struct upstream_ops *,
	    const char *name, const struct upstream_event_cbs *, void *cbarg);
/* Releases what upstream_init() allocated; the transport frees itself. */
void	upstream_fini(struct upstream *);
/* Call the owner's callbacks, skipping those it left NULL. */
void	upstream_emit_ready(struct upstream *);
void	upstream_emit_message(struct upstream *, const char *json, size_t len);
/* A parsed message (borrowed): to message_obj(), else as text. */
void	upstream_emit_message_obj(struct upstream *, struct json_object *);
/* A message to response_text() when it is a success response: 1 if the
 * owner took it (*id is then its id), else 0 and it is to be parsed. */
int	upstream_emit_response_text(struct upstream *, const char *, size_t,
	    int64_t *id);
void	upstream_emit_closed(struct upstream *, enum upstream_close_reason,
	    int err, const char *detail);
struct json_object *upstream_tool_schema(struct upstream *, const char *tool);
void	upstream_emit_undelivered(struct upstream *, const char *id,
	    size_t len);

#endif
