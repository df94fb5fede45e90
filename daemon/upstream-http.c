/*
 * The Streamable HTTP transport (see upstream-http.h): one POST per message,
 * JSON or SSE replies forwarded as they arrive, the session id and protocol
 * version on every request, the GET stream, broken streams resumed with
 * Last-Event-ID.  It only reports failures; the handler decides what follows.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "bytes.h"
#include "compat-queue.h"
#include "era.h"
#include "http-client.h"
#include "errors.h"
#include "jsonrpc.h"
#include "log.h"
#include "oauth.h"
#include "sse.h"
#include "upstream-http.h"
#include "upstream.h"
#include "xmalloc.h"

#define UHTTP_ACCEPT		"application/json, text/event-stream"
#define UHTTP_SESSION_MAX	256
/* A server's retry: of 0 must not make a busy loop of reconnects. */
#define UHTTP_MIN_RETRY		0.1

/* ---- shared with upstream-sse.c ------------------------------------------- */

static int
upstream_remote_header_ok(const char *name, const char *value)
{
	const char	*p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return 0;
	return strpbrk(value, "\r\n") == NULL;
}

int
upstream_remote_init(struct upstream_remote *r, struct upstream *up,
    struct event_base *base, const struct upstream_remote_spec *spec,
    char *err, size_t errlen)
{
	struct http_client_config	 cfg;
	const char			*why;
	char				 name[160], cerr[256];
	char				*b64;
	size_t				 i, n;
	int				 have_auth = 0;

	memset(r, 0, sizeof *r);
	r->up = up;
	r->parser = jsonrpc_parser_new();
	r->oauth = spec->oauth;
	r->connect_timeout = spec->connect_timeout;
	r->request_timeout = spec->request_timeout;
	r->shutdown_timeout = spec->shutdown_timeout > 0 ?
	    spec->shutdown_timeout : 5.0;
	r->max_message = spec->max_message;
	if (spec->url == NULL || http_url_parse(spec->url, &r->url,
	    &why) == -1) {
		snprintf(err, errlen, "url: %s", spec->url == NULL ? "missing" :
		    why);
		return -1;
	}
	http_url_loggable(&r->url, r->where, sizeof r->where);
	r->hnames = xcalloc(spec->nheaders + 1, sizeof *r->hnames);
	r->hvalues = xcalloc(spec->nheaders + 1, sizeof *r->hvalues);
	for (i = 0; i < spec->nheaders; i++) {
		/* The value may be a secret: never in a message. */
		if (!upstream_remote_header_ok(spec->headers[i].name,
		    spec->headers[i].value)) {
			snprintf(err, errlen, "header '%.64s' cannot be sent "
			    "(a line break in its value?)",
			    spec->headers[i].name);
			return -1;
		}
		r->hnames[i] = xstrdup(spec->headers[i].name);
		r->hvalues[i] = xstrdup(spec->headers[i].value);
		r->nheaders++;
		if (strcasecmp(spec->headers[i].name, "Authorization") == 0)
			have_auth = 1;
	}
	if (r->url.userinfo != NULL && !have_auth) {
		n = strlen(r->url.userinfo);
		b64 = xmalloc(BYTES_BASE64_SIZE(n));
		bytes_base64(r->url.userinfo, n, b64, BYTES_BASE64_SIZE(n));
		xasprintf(&r->authorization, "Basic %s", b64);
		explicit_bzero(b64, strlen(b64));
		free(b64);
	}

	memset(&cfg, 0, sizeof cfg);
	snprintf(name, sizeof name, "server %s", upstream_name(up));
	cfg.name = name;
	cfg.tls = r->url.tls;
	cfg.host = r->url.host;
	cfg.port = r->url.port;
	cfg.tls_config = spec->tls;
	cfg.connect_timeout = spec->connect_timeout;
	cfg.max_body = spec->max_message;
	if ((r->client = http_client_new(base, &cfg, cerr, sizeof cerr)) ==
	    NULL) {
		snprintf(err, errlen, "tls: %s", cerr);
		return -1;
	}
	return 0;
}

static void
upstream_remote_wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
upstream_remote_fini(struct upstream_remote *r)
{
	size_t		i;
	unsigned	j;

	http_client_free(r->client);
	r->client = NULL;
	jsonrpc_parser_free(r->parser);
	r->parser = NULL;
	for (i = 0; i < r->nheaders; i++) {
		free(r->hnames[i]);
		upstream_remote_wipe(r->hvalues[i]);
	}
	free(r->hnames);
	free(r->hvalues);
	r->hnames = r->hvalues = NULL;
	r->nheaders = 0;
	upstream_remote_wipe(r->authorization);
	r->authorization = NULL;
	for (j = 0; j < UPSTREAM_HTTP_SEEN_IDS; j++) {
		free(r->seen[j]);
		r->seen[j] = NULL;
	}
	http_url_clear(&r->url);
}

struct http_request *
upstream_remote_request(struct upstream_remote *r, const char *method,
    const char *target, const struct http_request_cbs *cbs, void *arg,
    unsigned *gen)
{
	struct http_request	*req;
	const char		*bearer;
	size_t			 i;

	req = http_request_new(r->client, method, target, cbs, arg);
	for (i = 0; i < r->nheaders; i++)
		http_request_add_header(req, r->hnames[i], r->hvalues[i]);
	if (r->oauth != NULL) {
		if ((bearer = oauth_authorization(r->oauth, gen)) != NULL)
			http_request_add_header(req, "Authorization", bearer);
	} else if (r->authorization != NULL)
		http_request_add_header(req, "Authorization",
		    r->authorization);
	return req;
}

void
upstream_remote_fail_note(struct upstream_remote *r,
    enum upstream_close_reason reason, int err, const char *fmt, va_list ap)
{
	r->reason = reason;
	r->err = err;
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	log_debug("server %s: %s: %s", r->up->name,
	    upstream_close_reason_name(reason), r->detail);
}

void
upstream_remote_fail_report(struct upstream_remote *r, double wait)
{
	struct timeval	tv;

	if (wait <= 0) {
		event_active(r->ev_report, EV_TIMEOUT, 1);
		return;
	}
	log_info("server %s: waiting %.1fs (Retry-After) before reporting: "
	    "%s", r->up->name, wait, r->detail);
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(r->ev_report, &tv);
}

enum upstream_close_reason
upstream_remote_failure_reason(enum http_error e)
{
	switch (e) {
	case HTTP_ERR_DNS:
	case HTTP_ERR_CONNECT:
	case HTTP_ERR_TLS:
		return UPSTREAM_CLOSE_CONNECT_FAILED;
	case HTTP_ERR_TLS_VERIFY:
		return UPSTREAM_CLOSE_TLS;
	case HTTP_ERR_CONNECT_TIMEOUT:
	case HTTP_ERR_TIMEOUT:
		return UPSTREAM_CLOSE_TIMEOUT;
	case HTTP_ERR_PROTOCOL:
	case HTTP_ERR_TOO_LARGE:
		return UPSTREAM_CLOSE_PROTOCOL;
	case HTTP_ERR_RESET:
	default:
		return UPSTREAM_CLOSE_IO_ERROR;
	}
}

/* Retry-After: delta-seconds or an HTTP-date; -1 when absent or bad. */
static double
upstream_remote_retry_after(const struct http_response *resp)
{
	const char	*v = http_response_header(resp, "Retry-After");
	struct tm	 tm;
	char		*ep;
	double		 secs;
	long		 n;

	if (v == NULL)
		return -1;
	if (isdigit((unsigned char)*v)) {
		errno = 0;
		n = strtol(v, &ep, 10);
		if (*ep != '\0' || errno != 0)
			return -1;
		secs = (double)n;
	} else {
		memset(&tm, 0, sizeof tm);
		ep = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (ep == NULL || *ep != '\0')
			return -1;
		secs = difftime(timegm(&tm), time(NULL));
	}
	if (secs < 0)
		secs = 0;
	return secs > UPSTREAM_HTTP_MAX_WAIT ? UPSTREAM_HTTP_MAX_WAIT : secs;
}

void
upstream_remote_status_failure(const struct http_response *resp,
    enum upstream_close_reason *reason, double *wait)
{
	double	ra;

	*reason = UPSTREAM_CLOSE_HTTP_STATUS;
	*wait = 0;
	if ((resp->status == 429 || resp->status == 503) &&
	    (ra = upstream_remote_retry_after(resp)) > 0)
		*wait = ra;
}

int
upstream_remote_seen(struct upstream_remote *r, const char *id)
{
	unsigned	i, n = r->nseen < UPSTREAM_HTTP_SEEN_IDS ? r->nseen :
			    UPSTREAM_HTTP_SEEN_IDS;
	unsigned	slot;

	for (i = 0; i < n; i++)
		if (strcmp(r->seen[i], id) == 0)
			return 1;
	slot = r->nseen++ % UPSTREAM_HTTP_SEEN_IDS;
	free(r->seen[slot]);
	r->seen[slot] = xstrdup(id);
	return 0;
}

static int
upstream_remote_is_response_to(struct json_object *m, struct json_object *id)
{
	return id != NULL && json_object_is_type(m, json_type_object) &&
	    !json_object_object_get_ex(m, "method", NULL) &&
	    jsonrpc_id(m) != NULL && jsonrpc_id_equal(jsonrpc_id(m), id);
}

static int
upstream_remote_id_is(struct json_object *id, int64_t n)
{
	return id != NULL && json_object_is_type(id, json_type_int) &&
	    json_object_get_int64(id) == n;
}

int
upstream_remote_deliver(struct upstream_remote *r, const char *json,
    size_t len, struct json_object *id, int *id_seen)
{
	struct json_object	*msg;
	int64_t			 n;

	*id_seen = 0;
	if (upstream_emit_response_text(r->up, json, len, &n)) {
		*id_seen = upstream_remote_id_is(id, n);
		return 0;
	}
	if ((msg = jsonrpc_parse_with(r->parser, json, len, NULL)) == NULL)
		return -1;
	upstream_remote_deliver_msg(r, msg, id, id_seen);
	json_object_put(msg);
	return 0;
}

/*
 * The owner gets the parsed message itself (message_obj), so each message
 * is parsed once on its way in.  Whether it answers id is decided before
 * the owner sees it: the owner may change it.
 */
void
upstream_remote_deliver_msg(struct upstream_remote *r,
    struct json_object *msg, struct json_object *id, int *id_seen)
{
	struct json_object	*el;
	size_t			 i, n;

	*id_seen = 0;
	if (!json_object_is_type(msg, json_type_array)) {
		*id_seen = upstream_remote_is_response_to(msg, id);
		upstream_emit_message_obj(r->up, msg);
		return;
	}
	/* A batch (2025-03-26): each message on its own. */
	n = json_object_array_length(msg);
	for (i = 0; i < n && !*r->dead; i++) {
		el = json_object_array_get_idx(msg, i);
		if (upstream_remote_is_response_to(el, id))
			*id_seen = 1;
		upstream_emit_message_obj(r->up, el);
	}
}

struct json_object *
upstream_remote_refusal(struct upstream_remote *r, struct json_object *id,
    int status, const char *reason, const char *body)
{
	struct json_object	*m, *err, *code, *message, *data = NULL, *d;
	char			 text[512];

	m = jsonrpc_parse(body, strlen(body), NULL);
	if (m != NULL && json_object_is_type(m, json_type_object) &&
	    json_object_object_get_ex(m, "error", &err) &&
	    json_object_object_get_ex(err, "code", &code) &&
	    json_object_is_type(code, json_type_int) &&
	    json_object_object_get_ex(err, "message", &message) &&
	    json_object_is_type(message, json_type_string) &&
	    (jsonrpc_id(m) == NULL || jsonrpc_id_equal(jsonrpc_id(m), id))) {
		if (json_object_object_get_ex(err, "data", &d))
			data = json_object_get(d);
		d = jsonrpc_error_new(id, json_object_get_int(code),
		    json_object_get_string(message), data);
		json_object_put(m);
		return d;
	}
	json_object_put(m);
	snprintf(text, sizeof text, "server '%s' refused the request: HTTP "
	    "%d %s", upstream_name(r->up), status, reason);
	data = json_object_new_object();
	json_object_object_add(data, "server",
	    json_object_new_string(upstream_name(r->up)));
	json_object_object_add(data, "httpStatus", json_object_new_int(status));
	return jsonrpc_error_new(id, JSONRPC_INTERNAL_ERROR, text, data);
}

int
upstream_remote_never_ran(enum http_error e, int status)
{
	switch (e) {
	case HTTP_ERR_DNS:
	case HTTP_ERR_CONNECT:
	case HTTP_ERR_CONNECT_TIMEOUT:
	case HTTP_ERR_TLS:
	case HTTP_ERR_TLS_VERIFY:
		return 1;
	case HTTP_ERR_NONE:
		return status == 404 || status == 429 || status == 503;
	default:
		return 0;
	}
}

void
upstream_remote_undelivered(struct upstream_remote *r, struct json_object *id)
{
	const char	*text;
	size_t		 len;

	if (id == NULL || *r->dead)
		return;
	text = jsonrpc_to_string(id, &len);
	log_debug("server %s: request %s never reached the server",
	    upstream_name(r->up), text);
	upstream_emit_undelivered(r->up, text, len);
}

int
upstream_remote_send(struct upstream_remote *r, int open,
    struct json_object *msg, const char *json, size_t len,
    upstream_remote_post_fn *post, void *arg)
{
	struct json_object	*parsed = NULL;

	if (!open) {
		errno = ENOTCONN;
		return -1;
	}
	/* Remote transports look inside what they send: parse it once. */
	if (msg == NULL && (msg = parsed = jsonrpc_parse_with(r->parser, json,
	    len, NULL)) == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (json == NULL)
		json = jsonrpc_to_string(msg, &len);
	post(arg, msg, xmemdup0(json, len), len);
	json_object_put(parsed);
	return 0;
}

/*
 * Servers built on the SDK's examples answer an unknown session with 400
 * "No valid session ID provided" rather than the 404 of the spec.
 */
int
upstream_remote_says_session(int status, const char *body)
{
	return status == 404 || (status == 400 &&
	    strcasestr(body, "session") != NULL);
}

/* ---- the Streamable HTTP transport ------------------------------------------ */

enum uhttp_state {
	UHTTP_IDLE,		/* created, not started */
	UHTTP_STARTING,		/* ready to be reported from the loop */
	UHTTP_OPEN,		/* carrying messages */
	UHTTP_FAILING,		/* a failure to report (after Retry-After) */
	UHTTP_CLOSING,		/* closing on request (DELETE under way) */
	UHTTP_CLOSED,		/* closed reported */
};

static const char *const uhttp_state_names[] = {
	[UHTTP_IDLE] = "idle",
	[UHTTP_STARTING] = "starting",
	[UHTTP_OPEN] = "open",
	[UHTTP_FAILING] = "failing",
	[UHTTP_CLOSING] = "closing",
	[UHTTP_CLOSED] = "closed",
};

enum uhttp_stream_kind {
	UHTTP_POST,		/* a message's POST, maybe resumed by GETs */
	UHTTP_GET,		/* the stream for server-initiated messages */
};

/* One POST and its reply stream, or the GET stream. */
struct uhttp_stream {
	struct upstream_http	*u;
	enum uhttp_stream_kind	 kind;
	struct http_request	*req;		/* NULL while waiting */
	int			 resuming;	/* req is a resuming GET */
	struct event		*ev_retry;
	struct json_object	*id;		/* a request's id */
	int			 awaiting;	/* its response is due */
	int			 is_initialize;
	int			 is_initialized;
	int			 legacy;	/* known not 2026-07-28 */
	struct json_object	*cancels;	/* notifications/cancelled */
	int			 with_session;
	int			 sse;		/* the reply is a stream */
	char			*last_id;
	char			*prev_id;	/* of the event before */
	double			 retry;		/* server's, s; < 0: none */
	int			 attempts;	/* resumes in a row */
	int			 opens;		/* GETs made */
	int			 dead;
	char			*body;		/* a POST's message, to send
						   again after a refresh */
	size_t			 body_len;
	unsigned		 auth_gen;	/* of the token it carried */
	int			 auth_retries;
	struct oauth_wait	 auth_wait;
	TAILQ_ENTRY(uhttp_stream) entry;
};
TAILQ_HEAD(uhttp_stream_list, uhttp_stream);

struct upstream_http {
	struct upstream		 up;	/* first: struct upstream * casts */
	struct event_base	*base;
	struct upstream_remote	 r;
	int			 setup_failed;
	char			 setup_err[256];

	enum uhttp_state	 state;
	char			*session_id;
	char			*protocol_version;
	struct uhttp_stream_list streams;
	struct uhttp_stream	*get;
	int			 get_refused;	/* 405: none offered */
	int			 get_ok;	/* a GET stream worked once */
	struct http_request	*del;

	int			 depth;
	int			 dead;
	struct uhttp_stream_list graveyard;
};

static void	uhttp_report_cb(evutil_socket_t, short, void *);
static void	uhttp_retry_cb(evutil_socket_t, short, void *);
static void	uhttp_response_cb(struct http_request *,
		    const struct http_response *, void *);
static void	uhttp_event_cb(struct http_request *, const struct sse_event *,
		    void *);
static void	uhttp_done_cb(struct http_request *, const struct http_result *,
		    void *);
static void	uhttp_delete_done_cb(struct http_request *,
		    const struct http_result *, void *);
static void	uhttp_get_open(struct upstream_http *);
static void	uhttp_report_unsent(struct upstream_http *);

static const struct http_request_cbs uhttp_cbs = {
	.response = uhttp_response_cb,
	.event = uhttp_event_cb,
	.done = uhttp_done_cb,
};

static const struct http_request_cbs uhttp_delete_cbs = {
	.done = uhttp_delete_done_cb,
};

static struct upstream_http *
uhttp_of(struct upstream *up)
{
	return (struct upstream_http *)up;
}

static void
uhttp_hold(struct upstream_http *u)
{
	u->depth++;
}

static void	uhttp_destroy(struct upstream_http *);
static void	uhttp_stream_destroy(struct uhttp_stream *);

static void
uhttp_release(struct upstream_http *u)
{
	struct uhttp_stream	*s;

	if (--u->depth > 0)
		return;
	while ((s = TAILQ_FIRST(&u->graveyard)) != NULL) {
		TAILQ_REMOVE(&u->graveyard, s, entry);
		uhttp_stream_destroy(s);
	}
	if (u->dead)
		uhttp_destroy(u);
}

static void
uhttp_set_state(struct upstream_http *u, enum uhttp_state state)
{
	if (u->state == state)
		return;
	log_debug("server %s: http %s -> %s", u->up.name,
	    uhttp_state_names[u->state], uhttp_state_names[state]);
	u->state = state;
}

static struct uhttp_stream *
uhttp_stream_new(struct upstream_http *u, enum uhttp_stream_kind kind)
{
	struct uhttp_stream	*s;

	s = xcalloc(1, sizeof *s);
	s->u = u;
	s->kind = kind;
	s->retry = -1;
	TAILQ_INSERT_TAIL(&u->streams, s, entry);
	return s;
}

static void
uhttp_stream_destroy(struct uhttp_stream *s)
{
	json_object_put(s->id);
	json_object_put(s->cancels);
	free(s->body);
	free(s->last_id);
	free(s->prev_id);
	free(s);
}

/* Stop it (its request cancelled) and free it once no callback runs. */
static void
uhttp_stream_free(struct uhttp_stream *s)
{
	struct upstream_http	*u = s->u;

	if (s->dead)
		return;
	s->dead = 1;
	oauth_wait_cancel(u->r.oauth, &s->auth_wait);
	if (s->req != NULL)
		http_request_cancel(s->req);
	s->req = NULL;
	if (s->ev_retry != NULL)
		event_free(s->ev_retry);
	s->ev_retry = NULL;
	if (u->get == s)
		u->get = NULL;
	TAILQ_REMOVE(&u->streams, s, entry);
	if (u->depth > 0)
		TAILQ_INSERT_TAIL(&u->graveyard, s, entry);
	else
		uhttp_stream_destroy(s);
}

static void
uhttp_free_streams(struct upstream_http *u)
{
	struct uhttp_stream	*s;

	while ((s = TAILQ_FIRST(&u->streams)) != NULL)
		uhttp_stream_free(s);
	if (u->del != NULL)
		http_request_cancel(u->del);
	u->del = NULL;
}

/*
 * Record the failure and stop everything; closed() follows from the loop,
 * after wait seconds (a server's Retry-After) when wait > 0.  The first
 * failure wins.
 */
static void
uhttp_fail(struct upstream_http *u, enum upstream_close_reason reason,
    int err, double wait, const char *fmt, ...)
{
	va_list		ap;

	if (u->state == UHTTP_FAILING || u->state == UHTTP_CLOSED ||
	    u->state == UHTTP_CLOSING || u->dead)
		return;
	va_start(ap, fmt);
	upstream_remote_fail_note(&u->r, reason, err, fmt, ap);
	va_end(ap);
	uhttp_set_state(u, UHTTP_FAILING);
	uhttp_report_unsent(u);
	uhttp_free_streams(u);
	upstream_remote_fail_report(&u->r, wait);
}

/* POSTs that never got onto a connection: the server never saw them. */
static void
uhttp_report_unsent(struct upstream_http *u)
{
	struct uhttp_stream	*s;

	TAILQ_FOREACH(s, &u->streams, entry)
		if (s->kind == UHTTP_POST && !s->resuming && s->awaiting &&
		    s->req != NULL && !http_request_sent(s->req))
			upstream_remote_undelivered(&u->r, s->id);
}

static void
uhttp_finish(struct upstream_http *u)
{
	uhttp_set_state(u, UHTTP_CLOSED);
	upstream_emit_closed(&u->up, u->r.reason, u->r.err, u->r.detail);
}

static void
uhttp_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_http	*u = arg;

	uhttp_hold(u);
	switch (u->state) {
	case UHTTP_STARTING:
		uhttp_set_state(u, UHTTP_OPEN);
		upstream_emit_ready(&u->up);
		break;
	case UHTTP_FAILING:
	case UHTTP_CLOSING:
		uhttp_finish(u);
		break;
	default:
		break;
	}
	uhttp_release(u);
}

static double
uhttp_stream_wait(const struct uhttp_stream *s)
{
	double	wait = s->retry >= 0 ? s->retry : UPSTREAM_HTTP_DEFAULT_RETRY;

	if (wait < UHTTP_MIN_RETRY)
		wait = UHTTP_MIN_RETRY;
	return wait;
}

static void
uhttp_stream_schedule(struct uhttp_stream *s, double wait)
{
	struct timeval	tv;

	if (wait < UHTTP_MIN_RETRY)
		wait = UHTTP_MIN_RETRY;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	/* Made when first needed: most streams never wait. */
	if (s->ev_retry == NULL &&
	    (s->ev_retry = evtimer_new(s->u->base, uhttp_retry_cb, s)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(s->ev_retry, &tv);
}

static void
uhttp_add_session_headers(struct upstream_http *u, struct http_request *req,
    struct uhttp_stream *s)
{
	if (u->session_id != NULL) {
		http_request_add_header(req, "Mcp-Session-Id", u->session_id);
		if (s != NULL)
			s->with_session = 1;
	}
	if (u->protocol_version != NULL)
		http_request_add_header(req, "MCP-Protocol-Version",
		    u->protocol_version);
}

static void
uhttp_add_header_cb(void *arg, const char *name, const char *value)
{
	http_request_add_header(arg, name, value);
}

/* A GET on the endpoint: the GET stream, or resuming a POST's stream. */
static void
uhttp_stream_get(struct uhttp_stream *s)
{
	struct upstream_http	*u = s->u;
	struct http_request	*req;

	req = upstream_remote_request(&u->r, "GET", u->r.url.target,
	    &uhttp_cbs, s, &s->auth_gen);
	http_request_add_header(req, "Accept", "text/event-stream");
	uhttp_add_session_headers(u, req, s);
	if (s->last_id != NULL)
		http_request_add_header(req, "Last-Event-ID", s->last_id);
	/* Headers within connect_timeout; the stream itself may idle. */
	http_request_set_timeout(req, u->r.connect_timeout > 0 ?
	    u->r.connect_timeout + u->r.request_timeout :
	    u->r.request_timeout);
	s->req = req;
	s->resuming = s->kind == UHTTP_POST;
	s->sse = 0;
	s->opens++;
	http_request_start(req);
}

/* Time to resume a stream, or to stop waiting for one to end. */
static void
uhttp_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uhttp_stream	*s = arg;
	struct upstream_http	*u = s->u;

	uhttp_hold(u);
	if (s->kind == UHTTP_POST && !s->awaiting)
		uhttp_stream_free(s);
	else if (u->state == UHTTP_OPEN && s->req == NULL) {
		log_debug("server %s: %s the %s stream%s", u->up.name,
		    s->last_id != NULL ? "resuming" : "reopening",
		    s->kind == UHTTP_GET ? "GET" : "POST reply",
		    s->last_id != NULL ? " with Last-Event-ID" : "");
		uhttp_stream_get(s);
	}
	uhttp_release(u);
}

/* Version and session from the initialize reply, before it is passed on. */
static void
uhttp_note_initialize(struct upstream_http *u, struct json_object *m)
{
	struct json_object	*result, *v;

	if (json_object_object_get_ex(m, "result", &result) &&
	    json_object_object_get_ex(result, "protocolVersion", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0 &&
	    json_object_get_string_len(v) < 64 &&
	    strpbrk(json_object_get_string(v), "\r\n") == NULL) {
		free(u->protocol_version);
		u->protocol_version = xstrdup(json_object_get_string(v));
	}
}

/* Pass one message body on; 0, or -1 when the transport went away. */
static int
uhttp_deliver(struct uhttp_stream *s, const char *json, size_t len)
{
	struct upstream_http	*u = s->u;
	struct json_object	*msg;
	int64_t			 n;
	int			 seen = 0;

	if (!s->is_initialize &&
	    upstream_emit_response_text(&u->up, json, len, &n))
		seen = upstream_remote_id_is(s->id, n);
	else if ((msg = jsonrpc_parse_with(u->r.parser, json, len,
	    NULL)) == NULL)
		log_warnx("server %s: ignoring a reply that is not JSON",
		    u->up.name);
	else {
		if (s->is_initialize)
			uhttp_note_initialize(u, msg);
		upstream_remote_deliver_msg(&u->r, msg, s->id, &seen);
		json_object_put(msg);
	}
	if (u->dead || s->dead)
		return -1;
	if (seen)
		s->awaiting = 0;
	return 0;
}

/* ---- replies ------------------------------------------------------------- */

static void
uhttp_response_cb(struct http_request *req, const struct http_response *r,
    void *arg)
{
	struct uhttp_stream	*s = arg;
	struct upstream_http	*u = s->u;
	const char		*sid, *p;

	s->sse = r->sse;
	if (s->kind == UHTTP_GET && r->sse) {
		u->get_ok = 1;
		s->attempts = 0;
	}
	if (!s->is_initialize || r->status < 200 || r->status >= 300)
		return;
	if ((sid = http_response_header(r, "Mcp-Session-Id")) == NULL)
		return;
	for (p = sid; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			break;
	if (*p != '\0' || p == sid || p - sid > UHTTP_SESSION_MAX) {
		uhttp_hold(u);
		uhttp_fail(u, UPSTREAM_CLOSE_PROTOCOL, EPROTO, 0,
		    "the server sent an invalid Mcp-Session-Id");
		uhttp_release(u);
		return;
	}
	free(u->session_id);
	u->session_id = xstrdup(sid);
}

static void
uhttp_event_cb(struct http_request *req, const struct sse_event *ev,
    void *arg)
{
	struct uhttp_stream	*s = arg;
	struct upstream_http	*u = s->u;

	if (s->dead || u->state != UHTTP_OPEN)
		return;
	if (ev->id != NULL && (s->prev_id == NULL ||
	    strcmp(ev->id, s->prev_id) != 0)) {
		/* An event with an id of its own. */
		free(s->prev_id);
		s->prev_id = xstrdup(ev->id);
		free(s->last_id);
		s->last_id = xstrdup(ev->id);
		/* Event ids are unique within a session; a 2026-07-28
		 * request's stream has none, so its ids stand alone. */
		if (s->with_session && upstream_remote_seen(&u->r, ev->id)) {
			log_debug("server %s: dropping replayed event %s",
			    u->up.name, ev->id);
			return;
		}
	}
	if (ev->retry >= 0)
		s->retry = ev->retry / 1000.0 > UPSTREAM_HTTP_MAX_WAIT ?
		    UPSTREAM_HTTP_MAX_WAIT : ev->retry / 1000.0;
	/* An empty event (the priming one) only sets the id. */
	if (ev->data_len == 0)
		return;
	if (strcmp(ev->event, "message") != 0) {
		log_debug("server %s: ignoring a '%.32s' event", u->up.name,
		    ev->event);
		return;
	}
	s->attempts = 0;
	uhttp_hold(u);
	if (uhttp_deliver(s, ev->data, ev->data_len) == 0 &&
	    s->kind == UHTTP_POST && s->id != NULL && !s->awaiting) {
		/* A resumed stream may stay open for more: its response
		 * came, so close it.  The POST's own stream should end by
		 * itself; it is closed if it lingers. */
		if (s->resuming)
			uhttp_stream_free(s);
		else
			uhttp_stream_schedule(s, UPSTREAM_HTTP_LINGER);
	}
	uhttp_release(u);
}

/* The POST of a notifications/cancelled went through: drop that stream. */
static void
uhttp_cancelled(struct upstream_http *u, struct json_object *request_id)
{
	struct uhttp_stream	*s, *next;

	TAILQ_FOREACH_SAFE(s, &u->streams, entry, next) {
		if (s->kind == UHTTP_POST && s->id != NULL &&
		    jsonrpc_id_equal(s->id, request_id))
			uhttp_stream_free(s);
	}
}

static void	uhttp_stream_post(struct uhttp_stream *,
		    struct json_object *);

/*
 * Only a login helps: the request the server refused is answered -32008
 * (it never ran), then the transport ends with UNAUTHORIZED.
 */
static void
uhttp_needs_login(struct uhttp_stream *s)
{
	struct upstream_http	*u = s->u;
	struct json_object	*answer, *data;
	const char		*text;
	char			 msg[256], cmd[160];
	size_t			 len;

	snprintf(cmd, sizeof cmd, "mcprelayctl login %s", u->up.name);
	snprintf(msg, sizeof msg, "server '%s' needs authorization: run '%s'",
	    u->up.name, cmd);
	if (s->id != NULL && !s->is_initialize && s->kind == UHTTP_POST) {
		data = json_object_new_object();
		json_object_object_add(data, "server",
		    json_object_new_string(u->up.name));
		json_object_object_add(data, "httpStatus",
		    json_object_new_int(401));
		json_object_object_add(data, "action",
		    json_object_new_string("login"));
		json_object_object_add(data, "command",
		    json_object_new_string(cmd));
		answer = jsonrpc_error_new(s->id, RELAY_ERR_NEEDS_AUTH, msg,
		    data);
		text = jsonrpc_to_string(answer, &len);
		upstream_emit_message(&u->up, text, len);
		json_object_put(answer);
		if (u->dead)
			return;
	}
	uhttp_fail(u, UPSTREAM_CLOSE_UNAUTHORIZED, 401, 0, "%s", msg);
}

/* A refresh this stream waited for ended. */
static void
uhttp_auth_ready_cb(void *arg, int ok)
{
	struct uhttp_stream	*s = arg;
	struct upstream_http	*u = s->u;

	if (s->dead || u->state != UHTTP_OPEN)
		return;
	uhttp_hold(u);
	if (ok) {
		log_debug("server %s: sending a request again with the new "
		    "access token", u->up.name);
		if (s->kind == UHTTP_GET || s->resuming)
			uhttp_stream_get(s);
		else
			uhttp_stream_post(s, NULL);
	} else if (oauth_state(u->r.oauth) == OAUTH_NEEDS_LOGIN)
		uhttp_needs_login(s);
	else
		uhttp_fail(u, UPSTREAM_CLOSE_CONNECT_FAILED, 0, 0, "the access "
		    "token could not be refreshed");
	uhttp_release(u);
}

/*
 * 401 or 403 with an oauth client: wait for a refresh and send again, or
 * fail the request (403 insufficient_scope), or end with UNAUTHORIZED.
 * 0 when it is none of these (a 403 that is not about scope).
 */
static int
uhttp_unauthorized(struct uhttp_stream *s, const struct http_result *res)
{
	struct upstream_http		*u = s->u;
	const struct http_response	*r = res->response;
	const char			*hdr;
	struct json_object		*answer, *data;
	const char			*text;
	char				 msg[512];
	size_t				 len;
	int				 login;

	hdr = http_response_header(r, "WWW-Authenticate");
	if (r->status == 403) {
		if (hdr == NULL || strstr(hdr, "insufficient_scope") == NULL)
			return 0;
		oauth_refused(u->r.oauth, 403, hdr, s->auth_gen,
		    &s->auth_wait);
		login = oauth_step_up_message(u->r.oauth, msg, sizeof msg);
		log_warnx("server %s: %s", u->up.name, msg);
		if (s->is_initialize || s->id == NULL) {
			if (s->is_initialize)
				uhttp_fail(u, UPSTREAM_CLOSE_UNAUTHORIZED, 403,
				    0, "%s", msg);
			else
				uhttp_stream_free(s);
			return 1;
		}
		data = json_object_new_object();
		json_object_object_add(data, "server",
		    json_object_new_string(u->up.name));
		json_object_object_add(data, "httpStatus",
		    json_object_new_int(403));
		if (login)
			json_object_object_add(data, "action",
			    json_object_new_string("login"));
		answer = jsonrpc_error_new(s->id, RELAY_ERR_NEEDS_AUTH, msg,
		    data);
		text = jsonrpc_to_string(answer, &len);
		upstream_emit_message(&u->up, text, len);
		json_object_put(answer);
		if (!u->dead)
			uhttp_stream_free(s);
		return 1;
	}
	/* A token refused twice in a row for this request is no token. */
	if (s->auth_retries++ < 2) {
		s->auth_wait.fn = uhttp_auth_ready_cb;
		s->auth_wait.arg = s;
		if (oauth_refused(u->r.oauth, 401, hdr, s->auth_gen,
		    &s->auth_wait))
			return 1;
	}
	uhttp_needs_login(s);
	return 1;
}

/* A status that refuses a request, a notification or a GET. */
static void
uhttp_refused(struct uhttp_stream *s, const struct http_result *res)
{
	struct upstream_http		*u = s->u;
	const struct http_response	*r = res->response;
	enum upstream_close_reason	 reason;
	struct json_object		*answer;
	const char			*text;
	size_t				 len;
	double				 wait;
	int				 get = s->kind == UHTTP_GET ||
					    s->resuming;

	if (u->r.oauth != NULL && (r->status == 401 || r->status == 403)) {
		if (uhttp_unauthorized(s, res))
			return;
	}
	/* A request the server refused unrun goes again on the next
	 * connection, whatever its method. */
	if (!get && s->id != NULL && (upstream_remote_never_ran(HTTP_ERR_NONE,
	    r->status) || (upstream_remote_says_session(r->status,
	    res->body) && s->with_session)))
		upstream_remote_undelivered(&u->r, s->id);
	/* A first GET refused is no GET offered; a later one, an expiry. */
	if (upstream_remote_says_session(r->status, res->body) &&
	    s->with_session &&
	    (s->kind == UHTTP_POST || u->get_ok || s->opens > 1)) {
		uhttp_fail(u, UPSTREAM_CLOSE_SESSION_EXPIRED, r->status, 0,
		    "the server no longer knows the session (HTTP %d %s)",
		    r->status, r->reason);
		return;
	}
	if (get) {
		if (r->status == 409 || r->status == 429 || r->status >= 500) {
			upstream_remote_status_failure(r, &reason, &wait);
			if (++s->attempts <= UPSTREAM_HTTP_MAX_RESUMES) {
				uhttp_stream_schedule(s, wait > 0 ? wait :
				    uhttp_stream_wait(s));
				return;
			}
		}
		if (s->kind == UHTTP_GET) {
			if (r->status == 405)
				log_debug("server %s: no GET stream offered "
				    "(HTTP 405)", u->up.name);
			else
				log_warnx("server %s: no GET stream for "
				    "server-initiated messages: HTTP %d %s",
				    u->up.name, r->status, r->reason);
			u->get_refused = 1;
			uhttp_stream_free(s);
			return;
		}
		uhttp_fail(u, UPSTREAM_CLOSE_IO_ERROR, 0, 0, "the reply stream "
		    "of a request broke and the server refused to resume it "
		    "(HTTP %d %s)", r->status, r->reason);
		return;
	}
	if (r->status == 429 || r->status == 408 || r->status >= 500) {
		upstream_remote_status_failure(r, &reason, &wait);
		uhttp_fail(u, reason, r->status, wait, "HTTP %d %s from %s",
		    r->status, r->reason, u->r.where);
		return;
	}
	if (s->is_initialize || (r->status >= 300 && r->status < 400)) {
		uhttp_fail(u, UPSTREAM_CLOSE_HTTP_STATUS, r->status, 0,
		    "%s refused initialize: HTTP %d %s%s", u->r.where,
		    r->status, r->reason, r->status < 400 ? " (redirects are "
		    "not followed: set url to the new location)" : "");
		return;
	}
	if (s->id != NULL) {
		/* This request only: the session goes on. */
		log_warnx("server %s: a request was refused: HTTP %d %s",
		    u->up.name, r->status, r->reason);
		answer = upstream_remote_refusal(&u->r, s->id, r->status,
		    r->reason, res->body);
		text = jsonrpc_to_string(answer, &len);
		upstream_emit_message(&u->up, text, len);
		json_object_put(answer);
		if (!u->dead)
			uhttp_stream_free(s);
		return;
	}
	log_warnx("server %s: a message was refused: HTTP %d %s", u->up.name,
	    r->status, r->reason);
	uhttp_stream_free(s);
}

/* A complete reply that is not a stream. */
static void
uhttp_reply(struct uhttp_stream *s, const struct http_result *res)
{
	struct upstream_http		*u = s->u;
	const struct http_response	*r = res->response;
	const char			*ct;
	struct json_object		*cancels;

	if (r->status < 200 || r->status >= 300) {
		uhttp_refused(s, res);
		return;
	}
	if (s->kind == UHTTP_GET || s->resuming) {
		/* A GET must answer with a stream. */
		if (s->kind == UHTTP_GET) {
			log_warnx("server %s: the GET stream is not a "
			    "text/event-stream; not using it", u->up.name);
			u->get_refused = 1;
			uhttp_stream_free(s);
		} else
			uhttp_fail(u, UPSTREAM_CLOSE_PROTOCOL, EPROTO, 0,
			    "resuming a reply stream did not give a stream");
		return;
	}
	if (res->body_len > 0 && s->id != NULL) {
		ct = http_response_header(r, "Content-Type");
		if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
			uhttp_fail(u, UPSTREAM_CLOSE_PROTOCOL, EPROTO, 0,
			    "reply of type '%.64s', not JSON or an event "
			    "stream", ct != NULL ? ct : "(none)");
			return;
		}
		if (uhttp_deliver(s, res->body, res->body_len) == -1)
			return;
	}
	if (s->is_initialized && !u->get_refused && u->get == NULL)
		uhttp_get_open(u);
	cancels = json_object_get(s->cancels);
	uhttp_stream_free(s);
	if (cancels != NULL)
		uhttp_cancelled(u, cancels);
	json_object_put(cancels);
}

/* A reply stream ended or broke: resume it or report. */
static void
uhttp_stream_ended(struct uhttp_stream *s, const struct http_result *res)
{
	struct upstream_http	*u = s->u;

	if (s->kind == UHTTP_POST && !s->awaiting) {
		uhttp_stream_free(s);
		return;
	}
	if (s->kind == UHTTP_GET) {
		if (res->error != HTTP_ERR_NONE &&
		    ++s->attempts > UPSTREAM_HTTP_MAX_RESUMES) {
			log_warnx("server %s: the GET stream broke %d times in "
			    "a row; not using it any more (%s)", u->up.name,
			    s->attempts - 1, res->detail);
			u->get_refused = 1;
			uhttp_stream_free(s);
			return;
		}
		/* A stream that broke (rather than ended) is tried again at
		 * once unless the server asked for a wait: a server that died
		 * is then noticed before requests are sent to it. */
		uhttp_stream_schedule(s, res->error != HTTP_ERR_NONE &&
		    s->attempts == 1 && s->retry < 0 ? 0 : uhttp_stream_wait(s));
		return;
	}
	if (s->last_id == NULL) {
		uhttp_fail(u, UPSTREAM_CLOSE_IO_ERROR, res->err, 0, "the reply "
		    "stream of a request %s before its response and cannot be "
		    "resumed (no event id)%s%s", res->error == HTTP_ERR_NONE ?
		    "ended" : "broke", res->error == HTTP_ERR_NONE ? "" : ": ",
		    res->error == HTTP_ERR_NONE ? "" : res->detail);
		return;
	}
	if (++s->attempts > UPSTREAM_HTTP_MAX_RESUMES) {
		uhttp_fail(u, UPSTREAM_CLOSE_IO_ERROR, res->err, 0, "the reply "
		    "stream of a request broke %d times before its response",
		    s->attempts - 1);
		return;
	}
	log_debug("server %s: reply stream %s before the response; resuming "
	    "in %.2fs", u->up.name, res->error == HTTP_ERR_NONE ? "ended" :
	    "broke", uhttp_stream_wait(s));
	uhttp_stream_schedule(s, uhttp_stream_wait(s));
}

static void
uhttp_done_cb(struct http_request *req, const struct http_result *res,
    void *arg)
{
	struct uhttp_stream	*s = arg;
	struct upstream_http	*u = s->u;
	const char		*id;
	long			 retry;

	s->req = NULL;
	if (s->dead || u->state != UHTTP_OPEN)
		return;
	uhttp_hold(u);
	if ((id = http_request_last_event_id(req)) != NULL &&
	    (s->last_id == NULL || strcmp(id, s->last_id) != 0)) {
		free(s->last_id);
		s->last_id = xstrdup(id);
	}
	if ((retry = http_request_retry(req)) >= 0)
		s->retry = retry / 1000.0 > UPSTREAM_HTTP_MAX_WAIT ?
		    UPSTREAM_HTTP_MAX_WAIT : retry / 1000.0;

	if (res->error == HTTP_ERR_NONE) {
		if (s->sse)
			uhttp_stream_ended(s, res);
		else
			uhttp_reply(s, res);
	} else if (s->sse) {
		/* Broke in the middle of a stream. */
		uhttp_stream_ended(s, res);
	} else if ((res->error == HTTP_ERR_RESET ||
	    res->error == HTTP_ERR_TIMEOUT) && (s->kind == UHTTP_GET ||
	    s->resuming)) {
		/* A stream that broke, or never started, before its headers
		 * came: the same as one that broke later. */
		uhttp_stream_ended(s, res);
	} else if (res->error == HTTP_ERR_TIMEOUT && s->kind == UHTTP_POST &&
	    !s->resuming) {
		/* The handler's own request_timeout came first and answered
		 * the client; the exchange is just dropped. */
		log_debug("server %s: dropping a POST without a reply: %s",
		    u->up.name, res->detail);
		uhttp_stream_free(s);
	} else {
		if (s->kind == UHTTP_POST && !s->resuming &&
		    upstream_remote_never_ran(res->error, 0))
			upstream_remote_undelivered(&u->r, s->id);
		uhttp_fail(u, upstream_remote_failure_reason(res->error),
		    res->err, 0, "%s", res->detail);
	}
	uhttp_release(u);
}

/* ---- the GET stream and the session's end ------------------------------------ */

static void
uhttp_get_open(struct upstream_http *u)
{
	u->get = uhttp_stream_new(u, UHTTP_GET);
	uhttp_stream_get(u->get);
}

static void
uhttp_delete_done_cb(struct http_request *req, const struct http_result *res,
    void *arg)
{
	struct upstream_http	*u = arg;

	u->del = NULL;
	uhttp_hold(u);
	if (res->error != HTTP_ERR_NONE)
		log_debug("server %s: DELETE of the session failed: %s",
		    u->up.name, res->detail);
	else
		log_debug("server %s: session deleted (HTTP %d)", u->up.name,
		    res->response->status);
	if (u->state == UHTTP_CLOSING)
		uhttp_finish(u);
	uhttp_release(u);
}

/* ---- the transport operations -------------------------------------------------- */

static int
uhttp_start(struct upstream *up)
{
	struct upstream_http	*u = uhttp_of(up);

	if (u->state != UHTTP_IDLE) {
		errno = EALREADY;
		return -1;
	}
	if (u->setup_failed) {
		uhttp_fail(u, UPSTREAM_CLOSE_CONFIG, EINVAL, 0, "%s",
		    u->setup_err);
		return 0;
	}
	log_debug("server %s: Streamable HTTP at %s", up->name, u->r.where);
	uhttp_set_state(u, UHTTP_STARTING);
	event_active(u->r.ev_report, EV_TIMEOUT, 1);
	return 0;
}

/*
 * POST a stream's message; msg is its body parsed (borrowed), or NULL to
 * parse it again (a POST made again after a refresh).
 */
static void
uhttp_stream_post(struct uhttp_stream *s, struct json_object *msg)
{
	struct upstream_http	*u = s->u;
	struct json_object	*parsed = NULL, *params, *name, *schema = NULL;
	struct http_request	*req;
	const char		*method;
	int			 modern = 0;

	req = upstream_remote_request(&u->r, "POST", u->r.url.target,
	    &uhttp_cbs, s, &s->auth_gen);
	http_request_add_header(req, "Accept", UHTTP_ACCEPT);
	if (msg == NULL && !s->legacy)
		msg = parsed = jsonrpc_parse_with(u->r.parser, s->body,
		    s->body_len, NULL);
	/* A 2026-07-28 request stands alone: no session, and its version
	 * and standard headers come from its own body. */
	if (msg != NULL && (modern = era_is_modern(msg))) {
		method = jsonrpc_method(msg);
		if (method != NULL && strcmp(method, "tools/call") == 0 &&
		    (params = jsonrpc_params(msg)) != NULL &&
		    json_object_object_get_ex(params, "name", &name) &&
		    json_object_is_type(name, json_type_string))
			schema = upstream_tool_schema(&u->up,
			    json_object_get_string(name));
		era_add_http_headers(msg, schema, uhttp_add_header_cb, req);
	}
	json_object_put(parsed);
	if (!s->is_initialize && !modern)
		uhttp_add_session_headers(u, req, s);
	http_request_set_body(req, "application/json", s->body, s->body_len);
	/* For the headers and a JSON body; a stream may take longer. */
	if (u->r.request_timeout > 0)
		http_request_set_timeout(req, u->r.request_timeout + 1.0);
	s->req = req;
	http_request_start(req);
}

/*
 * A stream for one POST of body (taken over); a request's, awaiting its
 * answer, when method is not NULL (id, taken over, its id).
 */
static struct uhttp_stream *
uhttp_post_stream(struct upstream_http *u, const char *method,
    struct json_object *id, char *body, size_t len)
{
	struct uhttp_stream	*s;

	s = uhttp_stream_new(u, UHTTP_POST);
	if (method != NULL) {
		s->id = id;
		s->awaiting = 1;
		s->is_initialize = strcmp(method, "initialize") == 0;
	}
	s->body = body;
	s->body_len = len;
	return s;
}

/* One POST for msg, whose text is body (taken over). */
static void
uhttp_post_msg(void *arg, struct json_object *msg, char *body, size_t len)
{
	struct upstream_http	*u = arg;
	struct uhttp_stream	*s;
	struct json_object	*params, *rid;
	const char		*method;
	int			 request;

	method = jsonrpc_method(msg);
	request = method != NULL && jsonrpc_id(msg) != NULL;
	s = uhttp_post_stream(u, request ? method : NULL, request ?
	    jsonrpc_id_copy(jsonrpc_id(msg)) : NULL, body, len);
	if (!request && method != NULL) {
		s->is_initialized = strcmp(method,
		    "notifications/initialized") == 0;
		if (strcmp(method, "notifications/cancelled") == 0 &&
		    (params = jsonrpc_params(msg)) != NULL &&
		    json_object_object_get_ex(params, "requestId", &rid))
			s->cancels = jsonrpc_id_copy(rid);
	}
	uhttp_stream_post(s, msg);
}

static int
uhttp_send(struct upstream *up, const char *json, size_t len)
{
	struct upstream_http	*u = uhttp_of(up);

	return upstream_remote_send(&u->r, u->state == UHTTP_OPEN, NULL, json,
	    len, uhttp_post_msg, u);
}

/* A legacy request whose id and method are known: nothing to parse. */
static int
uhttp_send_request(struct upstream *up, const char *json, size_t len,
    const char *method, int64_t id)
{
	struct upstream_http	*u = uhttp_of(up);
	struct uhttp_stream	*s;

	if (u->state != UHTTP_OPEN) {
		errno = ENOTCONN;
		return -1;
	}
	s = uhttp_post_stream(u, method, json_object_new_int64(id),
	    xmemdup0(json, len), len);
	s->legacy = 1;
	uhttp_stream_post(s, NULL);
	return 0;
}

static int
uhttp_send_msg(struct upstream *up, struct json_object *msg)
{
	struct upstream_http	*u = uhttp_of(up);

	return upstream_remote_send(&u->r, u->state == UHTTP_OPEN, msg, NULL,
	    0, uhttp_post_msg, u);
}

static void
uhttp_close(struct upstream *up)
{
	struct upstream_http	*u = uhttp_of(up);
	struct http_request	*req;

	switch (u->state) {
	case UHTTP_IDLE:
	case UHTTP_CLOSED:
	case UHTTP_CLOSING:
		return;
	case UHTTP_FAILING:
		/* Waiting out Retry-After helps nobody now. */
		evtimer_del(u->r.ev_report);
		event_active(u->r.ev_report, EV_TIMEOUT, 1);
		return;
	case UHTTP_STARTING:
	case UHTTP_OPEN:
		break;
	}
	uhttp_free_streams(u);
	u->r.reason = UPSTREAM_CLOSE_REQUESTED;
	u->r.err = 0;
	snprintf(u->r.detail, sizeof u->r.detail, "closed on request");
	uhttp_set_state(u, UHTTP_CLOSING);
	if (u->session_id == NULL) {
		event_active(u->r.ev_report, EV_TIMEOUT, 1);
		return;
	}
	/* The server may free the session at once (spec: SHOULD). */
	req = upstream_remote_request(&u->r, "DELETE", u->r.url.target,
	    &uhttp_delete_cbs, u, NULL);
	uhttp_add_session_headers(u, req, NULL);
	http_request_set_timeout(req, u->r.shutdown_timeout);
	u->del = req;
	http_request_start(req);
}

static void
uhttp_destroy(struct upstream_http *u)
{
	struct uhttp_stream	*s;

	while ((s = TAILQ_FIRST(&u->graveyard)) != NULL) {
		TAILQ_REMOVE(&u->graveyard, s, entry);
		uhttp_stream_destroy(s);
	}
	upstream_remote_wipe(u->session_id);
	free(u->protocol_version);
	upstream_fini(&u->up);
	free(u);
}

static void
uhttp_free(struct upstream *up)
{
	struct upstream_http	*u = uhttp_of(up);

	if (u->dead)
		return;
	uhttp_free_streams(u);
	upstream_remote_fini(&u->r);
	if (u->r.ev_report != NULL)
		event_free(u->r.ev_report);
	u->r.ev_report = NULL;
	u->dead = 1;
	if (u->depth == 0)
		uhttp_destroy(u);
}

static const struct upstream_ops upstream_http_ops = {
	.kind = "http",
	.start = uhttp_start,
	.send = uhttp_send,
	.send_msg = uhttp_send_msg,
	.send_request = uhttp_send_request,
	.close = uhttp_close,
	.free = uhttp_free,
	.pid = NULL,
};

struct upstream *
upstream_http_new(struct event_base *base,
    const struct upstream_remote_spec *spec,
    const struct upstream_event_cbs *cbs, void *cbarg)
{
	struct upstream_http	*u;

	u = xcalloc(1, sizeof *u);
	upstream_init(&u->up, &upstream_http_ops, spec->name, cbs, cbarg);
	u->base = base;
	u->state = UHTTP_IDLE;
	TAILQ_INIT(&u->streams);
	TAILQ_INIT(&u->graveyard);
	if (upstream_remote_init(&u->r, &u->up, base, spec, u->setup_err,
	    sizeof u->setup_err) == -1)
		u->setup_failed = 1;
	u->r.dead = &u->dead;
	if ((u->r.ev_report = event_new(base, -1, 0, uhttp_report_cb, u)) ==
	    NULL)
		fatalx("%s: event_new", __func__);
	return &u->up;
}
