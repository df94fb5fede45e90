/*
 * One client request on its way to an upstream and back.  Created by the
 * session layer, owned by whoever holds it now (router wait list, handler
 * queue or in-flight list), and freed in exactly one place: request_finish()
 * once its reply or error has been written.
 */
#ifndef MCPRELAY_REQUEST_H
#define MCPRELAY_REQUEST_H

#include <stdint.h>
#include "compat-queue.h"

#include <event2/event.h>
#include <event2/event_struct.h>

#include "access.h"

struct json_object;
struct jsonscan_call;
struct client_stream;
struct handler;
struct mrtr_park;
struct router;
struct session;

enum request_where {
	REQUEST_NEW,		/* not yet routed */
	REQUEST_WAITING,	/* router: waiting for lists */
	REQUEST_QUEUED,		/* handler: waiting for READY */
	REQUEST_INFLIGHT,	/* handler: sent upstream */
	REQUEST_DELAYED,	/* handler: a retry rule's delay runs */
};

struct request {
	struct session		*session;	/* NULL for stateless */
	struct access_who	 who;		/* the client, for access */
	TAILQ_ENTRY(request)	 session_entry;
	struct client_stream	*stream;	/* NULL once detached */
	TAILQ_ENTRY(request)	 stream_entry;

	struct json_object	*msg;		/* the client's request */
	/* A tools/call kept as the client's bytes (msg is NULL meanwhile;
	 * request_msg()): text[0, text_len) is the object, its id's value
	 * at text[id_start, id_end), call_name the tool's name. */
	char			*text;
	size_t			 text_len, id_start, id_end;
	const char		*call_name;
	struct json_object	*client_id;	/* copy of the client's id */
	char			*method;
	struct json_object	*client_progress; /* client's token or NULL */

	int			 era;		/* enum era: ERA_LEGACY... */
	struct json_object	*client_caps;	/* modern: from its _meta */
	char			*log_level;	/* modern: its _meta logLevel */
	/* A legacy client's request that a 2026-07-28-only server answered
	 * with InputRequiredResult: the round's answers so far (NULL when
	 * none is under way) and how many rounds there have been. */
	struct json_object	*inputs;
	int			 input_rounds;
	int			 header_retried; /* after a -32020 */
	struct mrtr_park	*parked;	/* waiting for a client retry */
	struct router		*router;	/* set when dispatched */
	char			*scope;		/* server name or NULL */
	enum request_where	 where;
	struct handler		*handler;	/* target, once routed */
	TAILQ_ENTRY(request)	 entry;		/* on a queue or in flight */
	int64_t			 upstream_id;
	int			 sent;		/* written to the upstream */
	int			 undelivered;	/* ...but provably not received */
	int			 attempts;
	int			 retry_safe;	/* may be sent again */
	unsigned		 rule_retries;	/* retries retry rules made */
	double			 rule_prev_delay;
	char			*tool;		/* upstream tool name */
	double			 started;	/* monotonic seconds */

	/* Deadline or queue timeout: timer_ev once set (request_timer()),
	 * part of the request as every call in flight has one. */
	struct event		*timer;
	struct event		 timer_ev;

	/* Aggregate lists: how many servers still have to answer. */
	int			 waiting_for;
	TAILQ_ENTRY(request)	 wait_entry;
};

TAILQ_HEAD(request_list, request);

struct request	*request_new(struct session *, struct client_stream *,
		    struct json_object *msg);
/*
 * A tools/call that jsonscan_call() took in text: kept as those bytes, and
 * sent on as them with only the id replaced, unless something on its way
 * needs it as objects (docs/architecture.md, "Pass-through").
 */
struct request	*request_new_call(struct session *, struct client_stream *,
		    const char *text, const struct jsonscan_call *);
/* Such a call's id as an object (the caller puts it). */
struct json_object *request_call_id(const char *text,
		    const struct jsonscan_call *);
/* The client's request as objects, built from its text first if need be. */
struct json_object *request_msg(struct request *);
/*
 * Write the final reply (takes ownership of reply; NULL for none, as for a
 * cancelled request) and free the request.
 */
void		 request_finish(struct request *, struct json_object *reply);
/* The same with the reply as its text (handler.c's pass-through). */
void		 request_finish_text(struct request *, const char *text,
		    size_t len);
/* Reply with an error built from code/message/data (data taken). */
void		 request_fail(struct request *, int code, const char *message,
		    struct json_object *data);
/* Send a message that belongs to the request but does not end it. */
void		 request_notify(struct request *, struct json_object *msg);
void		 request_detach_stream(struct request *);
struct event	*request_timer(struct request *, struct event_base *,
		    event_callback_fn);
void		 request_cancel_timer(struct request *);

#endif
