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
#include "jsonscan.h"
#include "mrtr.h"
#include "request.h"
#include "session.h"
#include "stream.h"
#include "xmalloc.h"

static void	request_free(struct request *);

static struct request *
request_alloc(struct session *s, struct client_stream *stream)
{
	struct request	*r;

	r = xcalloc(1, sizeof *r);
	r->session = s;
	if (s != NULL)
		r->who = *session_who(s);
	else if (stream != NULL && stream->who != NULL)
		r->who = *stream->who;
	else
		r->who.kind = ACCESS_NONE;
	r->where = REQUEST_NEW;
	return r;
}

static struct request *
request_start(struct request *r, struct client_stream *stream)
{
	r->stream = stream;
	if (stream != NULL)
		TAILQ_INSERT_TAIL(&stream->requests, r, stream_entry);
	if (r->session != NULL)
		session_request_started(r->session, r);
	return r;
}

struct request *
request_new(struct session *s, struct client_stream *stream,
    struct json_object *msg)
{
	struct request		*r;
	struct json_object	*params, *meta, *tok;

	r = request_alloc(s, stream);
	r->msg = json_object_get(msg);
	r->client_id = json_object_get(jsonrpc_id(msg));
	r->method = xstrdup(jsonrpc_method(msg));
	if (json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "_meta", &meta) &&
	    json_object_object_get_ex(meta, "progressToken", &tok))
		r->client_progress = json_object_get(tok);
	return request_start(r, stream);
}

struct json_object *
request_call_id(const char *text, const struct jsonscan_call *c)
{
	if (c->id_is_string)
		return json_object_new_string_len(text + c->id_start + 1,
		    (int)(c->id_end - c->id_start - 2));
	return json_object_new_int64(c->id);
}

struct request *
request_new_call(struct session *s, struct client_stream *stream,
    const char *text, const struct jsonscan_call *c)
{
	struct request	*r;
	size_t		 len = c->end - c->start;
	size_t		 nlen = c->name_end - c->name_start;
	char		*name;

	r = request_alloc(s, stream);
	/* One allocation: the text, then the tool's name after it. */
	r->text = xmalloc(len + 1 + nlen + 1);
	memcpy(r->text, text + c->start, len);
	r->text[len] = '\0';
	r->text_len = len;
	r->id_start = c->id_start - c->start;
	r->id_end = c->id_end - c->start;
	name = r->text + len + 1;
	memcpy(name, text + c->name_start, nlen);
	name[nlen] = '\0';
	r->call_name = name;
	r->client_id = request_call_id(text, c);
	r->method = xstrdup("tools/call");
	return request_start(r, stream);
}

struct json_object *
request_msg(struct request *r)
{
	if (r->msg != NULL || r->text == NULL)
		return r->msg;
	/* jsonscan_call() takes nothing json-c refuses (the unit test and
	 * the jsonrpc fuzz target hold it to that); the fallback only keeps
	 * a scanner bug from becoming a crash. */
	if ((r->msg = jsonrpc_parse(r->text, r->text_len, NULL)) == NULL)
		r->msg = jsonrpc_request_new(json_object_get(r->client_id),
		    r->method, json_object_new_object());
	free(r->text);
	r->text = NULL;
	r->call_name = NULL;
	return r->msg;
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
		event_del(r->timer);
		r->timer = NULL;
	}
}

/* The request's timer, set to call cb unless it is set already. */
struct event *
request_timer(struct request *r, struct event_base *base,
    event_callback_fn cb)
{
	if (r->timer == NULL) {
		evtimer_assign(&r->timer_ev, base, cb, r);
		r->timer = &r->timer_ev;
	}
	return r->timer;
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
	/* Its event is part of it. */
	request_cancel_timer(r);
	free(r->scope);
	json_object_put(r->msg);
	free(r->text);
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
