/*
 * The request object: created by the session layer, freed only by
 * request_finish() once the reply has been written (or dropped because the
 * client went away).
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "era.h"
#include "jsonrpc.h"
#include "mrtr.h"
#include "request.h"
#include "session.h"
#include "stream.h"
#include "xmalloc.h"

static void	request_free(struct request *);

struct request *
request_new(struct session *s, struct client_stream *stream,
    struct json_object *msg)
{
	struct request		*r;
	struct json_object	*params, *meta, *tok;

	r = xcalloc(1, sizeof *r);
	r->session = s;
	if (s != NULL)
		r->who = *session_who(s);
	else if (stream != NULL && stream->who != NULL)
		r->who = *stream->who;
	else
		r->who.kind = ACCESS_NONE;
	r->msg = json_object_get(msg);
	r->client_id = json_object_get(jsonrpc_id(msg));
	r->method = xstrdup(jsonrpc_method(msg));
	if (json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "_meta", &meta) &&
	    json_object_object_get_ex(meta, "progressToken", &tok))
		r->client_progress = json_object_get(tok);
	r->where = REQUEST_NEW;
	r->stream = stream;
	if (stream != NULL)
		TAILQ_INSERT_TAIL(&stream->requests, r, stream_entry);
	if (s != NULL)
		session_request_started(s, r);
	return r;
}

void
request_detach_stream(struct request *r)
{
	if (r->stream == NULL)
		return;
	TAILQ_REMOVE(&r->stream->requests, r, stream_entry);
	r->stream = NULL;
}

void
request_cancel_timer(struct request *r)
{
	if (r->timer != NULL) {
		event_free(r->timer);
		r->timer = NULL;
	}
}

/* A message for the client that belongs to this request. */
static void
request_deliver(struct request *r, struct json_object *msg, int final)
{
	if (r->stream != NULL)
		client_stream_write(r->stream, msg, final);
	else if (r->session != NULL)
		session_deliver(r->session, msg);
}

void
request_notify(struct request *r, struct json_object *msg)
{
	request_deliver(r, msg, 0);
}

void
request_finish(struct request *r, struct json_object *reply)
{
	struct client_stream	*stream = r->stream;

	request_cancel_timer(r);
	if (r->parked != NULL)
		mrtr_request_done(r->parked, reply);
	if (r->era == ERA_MODERN && reply != NULL)
		era_reply_to_modern(reply, r->method, "mcprelay",
		    PACKAGE_VERSION);
	/* Detach first: writing the final reply may close the stream. */
	request_detach_stream(r);
	if (r->session != NULL)
		session_request_done(r->session, r, reply);
	if (stream != NULL)
		client_stream_write(stream, reply, 1);
	else if (r->session != NULL && reply != NULL)
		session_deliver(r->session, reply);
	json_object_put(reply);
	request_free(r);
}

/*
 * request_finish() for a legacy client's answer passed through as text
 * (one line of JSON, NUL-terminated, the client's id in it already):
 * nothing to translate, and no park, for a legacy request.
 */
void
request_finish_text(struct request *r, const char *text, size_t len)
{
	struct client_stream	*stream = r->stream;
	struct json_object	*reply;

	request_cancel_timer(r);
	request_detach_stream(r);
	if (r->session != NULL)
		session_request_answered(r->session, r, 0);
	if (stream != NULL)
		client_stream_write_text(stream, text, len, 1);
	else if (r->session != NULL &&
	    (reply = jsonrpc_parse(text, len, NULL)) != NULL) {
		session_deliver(r->session, reply);
		json_object_put(reply);
	}
	request_free(r);
}

static void
request_free(struct request *r)
{
	free(r->scope);
	json_object_put(r->msg);
	json_object_put(r->client_id);
	json_object_put(r->client_progress);
	json_object_put(r->client_caps);
	free(r->log_level);
	json_object_put(r->inputs);
	free(r->method);
	free(r->tool);
	free(r);
}

void
request_fail(struct request *r, int code, const char *message,
    struct json_object *data)
{
	request_finish(r, jsonrpc_error_new(r->client_id, code, message, data));
}
