/*
 * Client sessions.  A legacy (2025-03-26 .. 2025-11-25) client gets a
 * session on initialize: an id, its protocol version and capabilities, what
 * it subscribed to, its log level, a standalone stream for server-initiated
 * messages and a bounded replay buffer.  Listeners hand every message from
 * a client to session_handle(); what is not answered here goes to the
 * router.
 */
#ifndef MCPRELAY_SESSION_H
#define MCPRELAY_SESSION_H

#include <stdint.h>
#include "compat-queue.h"

struct access_who;
struct json_object;
struct jsonscan_call;
struct client_stream;
struct handler;
struct relay;
struct request;
struct session;
struct sessions;

#define SESSION_ID_LEN	32	/* hex characters: 128 random bits */

/* Protocol revisions a legacy client may ask for, newest first. */
extern const char *const session_protocol_versions[];
int		 session_protocol_supported(const char *version);

struct sessions	*sessions_new(struct relay *);
void		 sessions_free(struct sessions *);
struct session	*sessions_find(struct sessions *, const char *id);
unsigned	 sessions_count(const struct sessions *);
/* Calls fn for every session; fn must not free sessions. */
void		 sessions_foreach(struct sessions *,
		    void (*fn)(struct session *, void *), void *arg);

/*
 * listen.max_sessions: 0 when one more session may open; otherwise -1,
 * counted, and error (when not NULL) gets a -32007 reply for id to send.
 */
int		 sessions_admit(struct sessions *, struct json_object *id,
		    struct json_object **error);

/*
 * A new session scoped to one server (server != NULL) or the aggregate.
 * with_id: the session gets an Mcp-Session-Id (HTTP); Unix connections and
 * legacy SSE streams are sessions too.
 */
struct session	*session_new(struct sessions *, const char *server,
		    int with_id);
/* End the session: fail nothing, detach its requests, free it. */
void		 session_close(struct session *, const char *why);
const char	*session_id(const struct session *);
/* Who opened the session (the listener sets it at once); copied. */
void		 session_set_who(struct session *, const struct access_who *);
const struct access_who *session_who(const struct session *);
const char	*session_server(const struct session *);
const char	*session_protocol_version(const struct session *);
int		 session_initialized(const struct session *);
/* Does the client declare this capability ("sampling", "roots", ...)? */
int		 session_has_capability(const struct session *, const char *);
void		 session_touch(struct session *);
/* A 2024-11-05 HTTP+SSE session: its id is good for /messages only. */
void		 session_set_legacy_sse(struct session *);
int		 session_legacy_sse(const struct session *);
/* What the client declared at initialize (borrowed, may be NULL). */
struct json_object *session_client_capabilities(const struct session *);
struct json_object *session_client_info(const struct session *);

/*
 * One message from the client.  stream is where replies for a request go
 * (the POST's stream, or NULL to use the standalone stream).  Returns 0, or
 * -1 when the message was invalid and an error was written to stream.
 */
void		 session_handle(struct session *, struct json_object *msg,
		    struct client_stream *stream);

/*
 * session_handle() of a legacy tools/call that jsonscan_call() took in
 * text, kept as its bytes (request_new_call()).
 */
void		 session_handle_call(struct session *, const char *text,
		    const struct jsonscan_call *, struct client_stream *stream);

/*
 * A 2026-07-28 request (modern _meta): served without a session; its reply
 * goes to stream.  Transport checks (HTTP headers) are the caller's.
 */
void		 sessions_handle_modern(struct sessions *, const char *server,
		    struct json_object *msg, struct client_stream *stream);

/* The standalone stream: GET (HTTP), the legacy SSE stream, a Unix conn. */
void		 session_set_standalone(struct session *, struct client_stream *);
struct client_stream *session_standalone(struct session *);
/* A message not tied to an open request stream. */
void		 session_deliver(struct session *, struct json_object *msg);

/* SSE event ids and the replay buffer for Last-Event-ID. */
uint64_t	 session_next_stream(struct session *);
/* Buffers data as the next event of stream; returns its sequence number,
 * unique within the session. */
uint64_t	 session_replay_add(struct session *, uint64_t stream,
		    const char *data);
/* Calls fn for each buffered event of stream after seq; -1 if lost. */
int		 session_replay(struct session *, uint64_t stream, uint64_t seq,
		    void (*fn)(void *, uint64_t, const char *), void *arg);

/* From the request layer. */
void		 session_request_started(struct session *, struct request *);
void		 session_request_done(struct session *, struct request *,
		    struct json_object *reply);
void		 session_request_answered(struct session *, struct request *,
		    int is_error);

/* From the router: messages from upstreams for this session. */
int		 session_wants_log(const struct session *, const char *level);
/* The level the client set with logging/setLevel, or NULL. */
const char	*session_log_level(const struct session *);
int		 session_subscribed(const struct session *, const char *uri);
void		 session_forward_server_request(struct session *,
		    struct handler *, struct json_object *msg,
		    struct request *related);
/* A handler is going away: drop its pending server requests. */
void		 session_forget_handler(struct session *, struct handler *);

#endif
