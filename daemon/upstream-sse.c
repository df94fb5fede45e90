/*
 * The legacy HTTP+SSE transport (see upstream-sse.h): the event stream
 * carries the endpoint and every reply; messages are POSTed to the endpoint
 * one at a time so they reach the server in the order they were sent.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "compat-queue.h"
#include "http-client.h"
#include "jsonrpc.h"
#include "log.h"
#include "oauth.h"
#include "sse.h"
#include "upstream-http.h"
#include "upstream-sse.h"
#include "upstream.h"
#include "xmalloc.h"

enum usse_state {
	USSE_IDLE,		/* created, not started */
	USSE_CONNECTING,	/* stream requested, no endpoint yet */
	USSE_OPEN,		/* endpoint known: carrying messages */
	USSE_FAILING,		/* a failure to report (after Retry-After) */
	USSE_CLOSING,		/* closed on request; report from the loop */
	USSE_CLOSED,		/* closed reported */
};

static const char *const usse_state_names[] = {
	[USSE_IDLE] = "idle",
	[USSE_CONNECTING] = "connecting",
	[USSE_OPEN] = "open",
	[USSE_FAILING] = "failing",
	[USSE_CLOSING] = "closing",
	[USSE_CLOSED] = "closed",
};

struct usse_post {
	char			*body;
	size_t			 len;
	struct json_object	*id;	/* a request's id, else NULL */
	TAILQ_ENTRY(usse_post)	 entry;
};
TAILQ_HEAD(usse_post_list, usse_post);

struct upstream_sse {
	struct upstream		 up;	/* first: struct upstream * casts */
	struct event_base	*base;
	struct upstream_remote	 r;
	int			 setup_failed;
	char			 setup_err[256];

	enum usse_state		 state;
	struct http_request	*stream;
	struct http_url		 endpoint;
	struct usse_post_list	 queue;
	struct usse_post	*inflight;
	struct http_request	*post;

	int			 depth;
	int			 dead;
	unsigned		 auth_gen;	/* the stream's token */
	struct oauth_wait	 auth_wait;
};

static void	usse_report_cb(evutil_socket_t, short, void *);
static void	usse_stream_event_cb(struct http_request *,
		    const struct sse_event *, void *);
static void	usse_stream_done_cb(struct http_request *,
		    const struct http_result *, void *);
static void	usse_post_done_cb(struct http_request *,
		    const struct http_result *, void *);

static const struct http_request_cbs usse_stream_cbs = {
	.event = usse_stream_event_cb,
	.done = usse_stream_done_cb,
};

static const struct http_request_cbs usse_post_cbs = {
	.done = usse_post_done_cb,
};

static struct upstream_sse *
usse_of(struct upstream *up)
{
	return (struct upstream_sse *)up;
}

static void	usse_destroy(struct upstream_sse *);

static void
usse_hold(struct upstream_sse *u)
{
	u->depth++;
}

static void
usse_release(struct upstream_sse *u)
{
	if (--u->depth == 0 && u->dead)
		usse_destroy(u);
}

static void
usse_set_state(struct upstream_sse *u, enum usse_state state)
{
	if (u->state == state)
		return;
	log_debug("server %s: sse %s -> %s", u->up.name,
	    usse_state_names[u->state], usse_state_names[state]);
	u->state = state;
}

static void
usse_post_free(struct usse_post *p)
{
	if (p == NULL)
		return;
	free(p->body);
	json_object_put(p->id);
	free(p);
}

/* Cancel the stream and every POST; the queue is dropped. */
static void
usse_stop(struct upstream_sse *u)
{
	struct usse_post	*p;

	oauth_wait_cancel(u->r.oauth, &u->auth_wait);
	if (u->stream != NULL)
		http_request_cancel(u->stream);
	u->stream = NULL;
	if (u->post != NULL)
		http_request_cancel(u->post);
	u->post = NULL;
	usse_post_free(u->inflight);
	u->inflight = NULL;
	while ((p = TAILQ_FIRST(&u->queue)) != NULL) {
		TAILQ_REMOVE(&u->queue, p, entry);
		usse_post_free(p);
	}
}

/* Messages still queued, or whose POST waits for a connection: unsent. */
static void
usse_report_unsent(struct upstream_sse *u)
{
	struct usse_post	*p;

	if (u->inflight != NULL && u->post != NULL &&
	    !http_request_sent(u->post))
		upstream_remote_undelivered(&u->r, u->inflight->id);
	TAILQ_FOREACH(p, &u->queue, entry)
		upstream_remote_undelivered(&u->r, p->id);
}

/* The first failure wins; closed() follows from the loop. */
static void
usse_fail(struct upstream_sse *u, enum upstream_close_reason reason, int err,
    double wait, const char *fmt, ...)
{
	va_list		ap;

	if (u->state == USSE_FAILING || u->state == USSE_CLOSING ||
	    u->state == USSE_CLOSED || u->dead)
		return;
	va_start(ap, fmt);
	upstream_remote_fail_note(&u->r, reason, err, fmt, ap);
	va_end(ap);
	usse_set_state(u, USSE_FAILING);
	usse_report_unsent(u);
	usse_stop(u);
	upstream_remote_fail_report(&u->r, wait);
}

static void
usse_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_sse	*u = arg;

	usse_hold(u);
	if (u->state == USSE_FAILING || u->state == USSE_CLOSING) {
		usse_set_state(u, USSE_CLOSED);
		upstream_emit_closed(&u->up, u->r.reason, u->r.err, u->r.detail);
	}
	usse_release(u);
}

/* POST the next message when none is under way. */
static void
usse_pump(struct upstream_sse *u)
{
	struct usse_post	*p;
	struct http_request	*req;

	if (u->state != USSE_OPEN || u->post != NULL ||
	    (p = TAILQ_FIRST(&u->queue)) == NULL)
		return;
	TAILQ_REMOVE(&u->queue, p, entry);
	u->inflight = p;
	req = upstream_remote_request(&u->r, "POST", u->endpoint.target,
	    &usse_post_cbs, u, NULL);
	http_request_set_body(req, "application/json", p->body, p->len);
	if (u->r.request_timeout > 0)
		http_request_set_timeout(req, u->r.request_timeout);
	u->post = req;
	http_request_start(req);
}

/* The refresh a 401 waited for ended: reconnect with the new token. */
static void
usse_auth_ready_cb(void *arg, int ok)
{
	struct upstream_sse	*u = arg;

	usse_hold(u);
	if (ok)
		usse_fail(u, UPSTREAM_CLOSE_IO_ERROR, 0, 0, "the access token "
		    "was refreshed: connecting again");
	else if (oauth_state(u->r.oauth) == OAUTH_NEEDS_LOGIN)
		usse_fail(u, UPSTREAM_CLOSE_UNAUTHORIZED, 401, 0, "server "
		    "'%s' needs authorization: run 'mcprelayctl login %s'",
		    u->up.name, u->up.name);
	else
		usse_fail(u, UPSTREAM_CLOSE_CONNECT_FAILED, 0, 0, "the access "
		    "token could not be refreshed");
	usse_release(u);
}

/* A 401 with an oauth client: the session is over either way; with a
 * refresh under way the report waits for it. */
static void
usse_unauthorized(struct upstream_sse *u, const struct http_response *r)
{
	u->auth_wait.fn = usse_auth_ready_cb;
	u->auth_wait.arg = u;
	if (oauth_refused(u->r.oauth, 401, http_response_header(r,
	    "WWW-Authenticate"), u->auth_gen, &u->auth_wait))
		return;
	usse_fail(u, UPSTREAM_CLOSE_UNAUTHORIZED, 401, 0, "server '%s' needs "
	    "authorization: run 'mcprelayctl login %s'", u->up.name,
	    u->up.name);
}

static void
usse_post_done(struct upstream_sse *u, const struct http_result *res)
{
	const struct http_response	*r = res->response;
	struct usse_post		*p = u->inflight;
	struct json_object		*answer;
	enum upstream_close_reason	 reason;
	const char			*text;
	size_t				 len;
	double				 wait;

	u->inflight = NULL;
	/* Refused unrun, or never written: it may go again elsewhere. */
	if (p->id != NULL && (upstream_remote_never_ran(res->error,
	    r != NULL ? r->status : 0) || (r != NULL &&
	    upstream_remote_says_session(r->status, res->body))))
		upstream_remote_undelivered(&u->r, p->id);
	if (res->error != HTTP_ERR_NONE) {
		usse_post_free(p);
		usse_fail(u, upstream_remote_failure_reason(res->error),
		    res->err, 0, "POST to the message endpoint: %s",
		    res->detail);
		return;
	}
	if (r->status >= 200 && r->status < 300) {
		usse_post_free(p);
		usse_pump(u);
		return;
	}
	if (r->status == 401 && u->r.oauth != NULL) {
		usse_post_free(p);
		usse_unauthorized(u, r);
		return;
	}
	if (upstream_remote_says_session(r->status, res->body)) {
		usse_post_free(p);
		usse_fail(u, UPSTREAM_CLOSE_SESSION_EXPIRED, r->status, 0,
		    "the server no longer knows the session (HTTP %d %s)",
		    r->status, r->reason);
		return;
	}
	if (r->status == 429 || r->status == 408 || r->status >= 500) {
		usse_post_free(p);
		upstream_remote_status_failure(r, &reason, &wait);
		usse_fail(u, reason, r->status, wait, "HTTP %d %s from the "
		    "message endpoint", r->status, r->reason);
		return;
	}
	log_warnx("server %s: a message was refused: HTTP %d %s", u->up.name,
	    r->status, r->reason);
	if (p->id != NULL) {
		answer = upstream_remote_refusal(&u->r, p->id, r->status,
		    r->reason, res->body);
		text = jsonrpc_to_string(answer, &len);
		upstream_emit_message(&u->up, text, len);
		json_object_put(answer);
	}
	usse_post_free(p);
	if (!u->dead)
		usse_pump(u);
}

static void
usse_post_done_cb(struct http_request *req, const struct http_result *res,
    void *arg)
{
	struct upstream_sse	*u = arg;

	u->post = NULL;
	if (u->state != USSE_OPEN)
		return;
	usse_hold(u);
	usse_post_done(u, res);
	usse_release(u);
}

static void
usse_endpoint(struct upstream_sse *u, const char *data)
{
	struct http_url	 ep;
	const char	*why;
	char		 where[256];

	if (http_url_resolve(&u->r.url, data, &ep, &why) == -1) {
		usse_fail(u, UPSTREAM_CLOSE_PROTOCOL, EPROTO, 0, "bad endpoint "
		    "event: %s", why);
		return;
	}
	/* Our headers (secrets) go to the configured origin only. */
	if (!http_url_same_origin(&ep, &u->r.url)) {
		usse_fail(u, UPSTREAM_CLOSE_PROTOCOL, EPROTO, 0, "the endpoint "
		    "event names another origin (%s); refused",
		    http_url_loggable(&ep, where, sizeof where));
		http_url_clear(&ep);
		return;
	}
	u->endpoint = ep;
	log_debug("server %s: message endpoint %s", u->up.name,
	    http_url_loggable(&ep, where, sizeof where));
	usse_set_state(u, USSE_OPEN);
	upstream_emit_ready(&u->up);
	if (!u->dead)
		usse_pump(u);
}

static void
usse_stream_event_cb(struct http_request *req, const struct sse_event *ev,
    void *arg)
{
	struct upstream_sse	*u = arg;
	int			 seen;

	if (u->state != USSE_CONNECTING && u->state != USSE_OPEN)
		return;
	usse_hold(u);
	if (strcmp(ev->event, "endpoint") == 0) {
		if (u->state == USSE_CONNECTING)
			usse_endpoint(u, ev->data);
		else
			log_debug("server %s: ignoring a second endpoint "
			    "event", u->up.name);
	} else if (strcmp(ev->event, "message") == 0 && ev->data_len > 0) {
		if (u->state != USSE_OPEN)
			log_debug("server %s: ignoring a message before the "
			    "endpoint event", u->up.name);
		else if (upstream_remote_deliver(&u->r, ev->data,
		    ev->data_len, NULL, &seen) == -1)
			log_warnx("server %s: ignoring an event that is not "
			    "JSON", u->up.name);
	}
	usse_release(u);
}

static void
usse_stream_done(struct upstream_sse *u, const struct http_result *res)
{
	const struct http_response	*r = res->response;
	enum upstream_close_reason	 reason;
	double				 wait;

	if (res->error == HTTP_ERR_NONE && r->sse) {
		usse_fail(u, UPSTREAM_CLOSE_IO_ERROR, 0, 0, "the server ended "
		    "the SSE stream");
		return;
	}
	if (res->error != HTTP_ERR_NONE) {
		if (r != NULL && r->sse)
			usse_fail(u, UPSTREAM_CLOSE_IO_ERROR, res->err, 0,
			    "the SSE stream broke: %s", res->detail);
		else
			usse_fail(u, upstream_remote_failure_reason(
			    res->error), res->err, 0, "%s", res->detail);
		return;
	}
	if (r->status == 401 && u->r.oauth != NULL) {
		usse_unauthorized(u, r);
		return;
	}
	if (r->status >= 200 && r->status < 300) {
		usse_fail(u, UPSTREAM_CLOSE_PROTOCOL, EPROTO, 0, "%s answered "
		    "GET with HTTP %d but no event stream", u->r.where,
		    r->status);
		return;
	}
	if (r->status == 429 || r->status == 408 || r->status >= 500) {
		upstream_remote_status_failure(r, &reason, &wait);
		usse_fail(u, reason, r->status, wait, "HTTP %d %s from %s",
		    r->status, r->reason, u->r.where);
		return;
	}
	usse_fail(u, UPSTREAM_CLOSE_HTTP_STATUS, r->status, 0, "%s refused the "
	    "SSE stream: HTTP %d %s", u->r.where, r->status, r->reason);
}

static void
usse_stream_done_cb(struct http_request *req, const struct http_result *res,
    void *arg)
{
	struct upstream_sse	*u = arg;

	u->stream = NULL;
	if (u->state != USSE_CONNECTING && u->state != USSE_OPEN)
		return;
	usse_hold(u);
	usse_stream_done(u, res);
	usse_release(u);
}

/* ---- the transport operations ------------------------------------------------ */

static int
usse_start(struct upstream *up)
{
	struct upstream_sse	*u = usse_of(up);
	struct http_request	*req;

	if (u->state != USSE_IDLE) {
		errno = EALREADY;
		return -1;
	}
	if (u->setup_failed) {
		usse_fail(u, UPSTREAM_CLOSE_CONFIG, EINVAL, 0, "%s",
		    u->setup_err);
		return 0;
	}
	log_debug("server %s: HTTP+SSE at %s", up->name, u->r.where);
	req = upstream_remote_request(&u->r, "GET", u->r.url.target,
	    &usse_stream_cbs, u, &u->auth_gen);
	http_request_add_header(req, "Accept", "text/event-stream");
	/* For the headers; the stream then stays open. */
	if (u->r.connect_timeout > 0)
		http_request_set_timeout(req, u->r.connect_timeout);
	u->stream = req;
	usse_set_state(u, USSE_CONNECTING);
	http_request_start(req);
	return 0;
}

/* Queue msg, whose text is body (taken over), for the message endpoint. */
static void
usse_queue(void *arg, struct json_object *msg, char *body, size_t len)
{
	struct upstream_sse	*u = arg;
	struct usse_post	*p;

	p = xcalloc(1, sizeof *p);
	if (jsonrpc_method(msg) != NULL && jsonrpc_id(msg) != NULL)
		p->id = jsonrpc_id_copy(jsonrpc_id(msg));
	p->body = body;
	p->len = len;
	TAILQ_INSERT_TAIL(&u->queue, p, entry);
	usse_pump(u);
}

static int
usse_send(struct upstream *up, const char *json, size_t len)
{
	struct upstream_sse	*u = usse_of(up);

	return upstream_remote_send(&u->r, u->state == USSE_OPEN, NULL, json,
	    len, usse_queue, u);
}

static int
usse_send_msg(struct upstream *up, struct json_object *msg)
{
	struct upstream_sse	*u = usse_of(up);

	return upstream_remote_send(&u->r, u->state == USSE_OPEN, msg, NULL,
	    0, usse_queue, u);
}

static void
usse_close(struct upstream *up)
{
	struct upstream_sse	*u = usse_of(up);

	switch (u->state) {
	case USSE_IDLE:
	case USSE_CLOSING:
	case USSE_CLOSED:
		return;
	case USSE_FAILING:
		evtimer_del(u->r.ev_report);
		event_active(u->r.ev_report, EV_TIMEOUT, 1);
		return;
	case USSE_CONNECTING:
	case USSE_OPEN:
		break;
	}
	usse_stop(u);
	u->r.reason = UPSTREAM_CLOSE_REQUESTED;
	u->r.err = 0;
	snprintf(u->r.detail, sizeof u->r.detail, "closed on request");
	usse_set_state(u, USSE_CLOSING);
	event_active(u->r.ev_report, EV_TIMEOUT, 1);
}

static void
usse_destroy(struct upstream_sse *u)
{
	upstream_fini(&u->up);
	free(u);
}

static void
usse_free(struct upstream *up)
{
	struct upstream_sse	*u = usse_of(up);

	if (u->dead)
		return;
	usse_stop(u);
	upstream_remote_fini(&u->r);
	http_url_clear(&u->endpoint);
	if (u->r.ev_report != NULL)
		event_free(u->r.ev_report);
	u->r.ev_report = NULL;
	u->dead = 1;
	if (u->depth == 0)
		usse_destroy(u);
}

static const struct upstream_ops upstream_sse_ops = {
	.kind = "sse",
	.start = usse_start,
	.send = usse_send,
	.send_msg = usse_send_msg,
	.close = usse_close,
	.free = usse_free,
	.pid = NULL,
};

struct upstream *
upstream_sse_new(struct event_base *base,
    const struct upstream_remote_spec *spec,
    const struct upstream_event_cbs *cbs, void *cbarg)
{
	struct upstream_sse	*u;

	u = xcalloc(1, sizeof *u);
	upstream_init(&u->up, &upstream_sse_ops, spec->name, cbs, cbarg);
	u->base = base;
	u->state = USSE_IDLE;
	TAILQ_INIT(&u->queue);
	if (upstream_remote_init(&u->r, &u->up, base, spec, u->setup_err,
	    sizeof u->setup_err) == -1)
		u->setup_failed = 1;
	u->r.dead = &u->dead;
	if ((u->r.ev_report = event_new(base, -1, 0, usse_report_cb, u)) ==
	    NULL)
		fatalx("%s: event_new", __func__);
	return &u->up;
}
