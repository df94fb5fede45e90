/*
 * mcprelay-demo-server: a small MCP server on stdio (one JSON-RPC message
 * per line) that mcprelayd proxies out of the box, and the fault-injecting
 * upstream the integration tests drive: crashes, hangs, garbage, delays.
 * With --http it serves Streamable HTTP and legacy HTTP+SSE instead
 * (demo-http.c), as an HTTP upstream for tests and benchmarks.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "compat-queue.h"
#include "demo-conformance.h"
#include "demo-faults.h"
#include "demo-http.h"
#include "demo-json.h"
#include "log.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define DEMO_MAX_LINE		(4 * 1024 * 1024)
#define DEMO_PROGRESS_MS	100
#define DEMO_STATELESS		"2026-07-28"
#define DEMO_META(k)		"io.modelcontextprotocol/" k
#define DEMO_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

#define JSTR(s)		json_object_new_string(s)
#define JINT(n)		json_object_new_int64(n)
#define JBOOL(b)	json_object_new_boolean(b)

enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
	MCP_RESOURCE_NOT_FOUND = -32002,	/* until 2025-11-25 */
	MCP_MISSING_CAPABILITY = -32021,	/* from 2026-07-28 */
	MCP_UNSUPPORTED_VERSION = -32022,
};

/* Newest first; all but the first negotiate through initialize. */
static const char *const demo_versions[] = {
	DEMO_STATELESS, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
	NULL
};

/* RFC 5424 severities, least severe first, as MCP logging names them. */
static const char *const demo_log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency", NULL
};

/* Methods that 2026-07-28 removed: -32601 for its requests. */
static const char *const demo_removed_methods[] = {
	"initialize", "ping", "logging/setLevel", "resources/subscribe",
	"resources/unsubscribe", NULL
};

static const char *const demo_resources[] = {
	"demo://counter", "demo://info", NULL
};

static const char demo_capabilities[] =
    "{\"tools\":{\"listChanged\":true},\"prompts\":{\"listChanged\":false},"
    "\"resources\":{\"subscribe\":true,\"listChanged\":false},"
    "\"logging\":{},\"completions\":{}}";

/*
 * SERVING: normal.  HUNG: --hang-after tripped; input is read and dropped,
 * nothing is written.  DRAINING: stdin hit EOF; sleeps and delayed answers
 * finish, then the process exits.  DONE: leaving the event loop.
 */
enum demo_state { DEMO_SERVING, DEMO_HUNG, DEMO_DRAINING, DEMO_DONE };

static const char *const demo_state_names[] = {
	[DEMO_SERVING] = "serving", [DEMO_HUNG] = "hung",
	[DEMO_DRAINING] = "draining", [DEMO_DONE] = "done",
};

/* What a pending entry answers later. */
enum demo_wait {
	DEMO_WAIT_SLEEP,	/* sleep_ms, with its progress timer */
	DEMO_WAIT_SAMPLING,	/* our sampling/createMessage */
	DEMO_WAIT_DELAY,	/* a response held back by --delay-ms */
};

struct demo_server;

struct demo_pending {
	TAILQ_ENTRY(demo_pending) entry;
	struct demo_server	*d;
	enum demo_wait		 kind;
	json_object		*id;		/* the client's request id */
	json_object		*token;		/* progressToken, or NULL */
	int			 stateless;	/* a 2026-07-28 request */
	struct event		*timer;
	long			 ms, elapsed, step;
	char			*sid;		/* our sampling request id */
	char			*line;		/* the delayed response */
};

struct demo_tool;

struct demo_server {
	const struct demo_opts	*opts;
	struct event_base	*base;
	struct bufferevent	*in, *out;
	struct event		*sigterm, *sigint;
	TAILQ_HEAD(, demo_pending) pending;
	struct demo_tool	*extra;		/* --tools-extra */
	size_t			 nextra;
	int			 exec_fd;
	int			 fd_flags[2];
	enum demo_state		 state;
	int			 exit_code;
	size_t			 scanned;	/* input searched for LF */
	int			 discarding;	/* inside an oversized line */
	long			 requests, answers, counter;
	long			 rpc_errors, tool_errors;	/* injected */
	unsigned		 sampling_seq;
	int			 client_sampling;
	int			 log_level;
	unsigned		 subscribed;	/* bit per demo_resources[] */
	struct demo_conf	*conf;		/* --conformance, else NULL */
	struct demo_http	*http;		/* --http, else NULL */
	json_object		*related;	/* request a message is for */
};

/* One request while it is dispatched; everything but data is borrowed. */
struct demo_req {
	const char	*method;
	json_object	*id;
	json_object	*params;	/* always an object */
	json_object	*token;
	json_object	*caps;		/* 2026-07-28 clientCapabilities */
	int		 stateless;
	int		 log_level;	/* 2026-07-28 logLevel, -1 = none */
	int		 deferred;	/* a demo_pending answers later */
	int		 code;
	char		 msg[200];
	json_object	*data;
};

typedef json_object *demo_tool_fn(struct demo_server *, struct demo_req *,
    const struct demo_tool *, json_object *);

struct demo_tool {
	const char	*name;
	const char	*description;
	const char	*schema;	/* inputSchema as JSON text */
	int		 read_only, idempotent;
	demo_tool_fn	*fn;
};

static void	demo_quit(struct demo_server *, int);
static void	demo_timer_cb(evutil_socket_t, short, void *);

static int
demo_lookup(const char *const *names, const char *name)
{
	int	 i;

	for (i = 0; name != NULL && names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static json_object *
demo_fail(struct demo_req *r, int code, json_object *data, const char *fmt,
    ...)
{
	va_list	 ap;

	r->code = code;
	r->data = data;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	return NULL;
}

static void
demo_set_state(struct demo_server *d, enum demo_state state)
{
	log_debug("state %s -> %s", demo_state_names[d->state],
	    demo_state_names[state]);
	d->state = state;
}

/*
 * Every message leaves here: --hang-after mutes, --exit-after counts.  Over
 * HTTP a response answers its request; anything else goes on a stream of
 * the request it belongs to, or of its session (demo-http.c).
 */
static void
demo_write(struct demo_server *d, json_object *id, const char *line,
    int is_response)
{
	if (d->state == DEMO_HUNG || d->state == DEMO_DONE)
		return;
	if (d->http == NULL) {
		bufferevent_write(d->out, line, strlen(line));
		bufferevent_write(d->out, "\n", 1);
	} else
		demo_http_send(d->http, is_response ? id : d->related, line,
		    is_response);
	if (is_response && ++d->answers == d->opts->exit_after)
		demo_quit(d, 3);
}

static struct demo_pending *
demo_pending_new(struct demo_server *d, enum demo_wait kind, json_object *id,
    long ms)
{
	struct demo_pending	*p = xcalloc(1, sizeof *p);
	struct timeval		 tv;

	p->d = d;
	p->kind = kind;
	p->id = json_object_get(id);
	p->ms = ms;
	TAILQ_INSERT_TAIL(&d->pending, p, entry);
	if (kind != DEMO_WAIT_SAMPLING) {
		p->step = ms < DEMO_PROGRESS_MS || kind == DEMO_WAIT_DELAY ?
		    ms : DEMO_PROGRESS_MS;
		p->timer = evtimer_new(d->base, demo_timer_cb, p);
		tv.tv_sec = p->step / 1000;
		tv.tv_usec = p->step % 1000 * 1000;
		evtimer_add(p->timer, &tv);
	}
	return p;
}

static void
demo_pending_free(struct demo_pending *p)
{
	if (p == NULL)
		return;
	TAILQ_REMOVE(&p->d->pending, p, entry);
	if (p->timer != NULL)
		event_free(p->timer);
	json_object_put(p->id);
	json_object_put(p->token);
	free(p->sid);
	free(p->line);
	free(p);
}

/* Finished work may be the last that EOF was waiting for. */
static void
demo_pending_done(struct demo_pending *p)
{
	struct demo_server	*d = p->d;

	demo_pending_free(p);
	if (d->state == DEMO_DRAINING && TAILQ_EMPTY(&d->pending))
		demo_quit(d, 0);
}

/* Sends and releases msg; responses wait out --delay-ms first. */
static void
demo_send(struct demo_server *d, json_object *msg, int is_response)
{
	const char	*s;

	s = json_object_to_json_string_ext(msg, DEMO_JSON_FLAGS);

	if (is_response && d->opts->delay_ms > 0)
		demo_pending_new(d, DEMO_WAIT_DELAY, jget(msg, "id"),
		    d->opts->delay_ms)->line = xstrdup(s);
	else
		demo_write(d, jget(msg, "id"), s, is_response);
	json_object_put(msg);
}

static void
demo_notify(struct demo_server *d, const char *method, json_object *params)
{
	demo_send(d, jobj("jsonrpc", JSTR("2.0"), "method", JSTR(method),
	    "params", params, NULL), 0);
}

static void
demo_respond_error(struct demo_server *d, json_object *id, int code,
    const char *msg, json_object *data)
{
	json_object	*e;

	e = jobj("code", JINT(code), "message", JSTR(msg), NULL);
	if (data != NULL)
		json_object_object_add(e, "data", data);
	demo_send(d, jobj("jsonrpc", JSTR("2.0"), "id", json_object_get(id),
	    "error", e, NULL), 1);
}

static json_object *
demo_server_info(struct demo_server *d)
{
	return jobj("name", JSTR(d->opts->name), "version",
	    JSTR(PACKAGE_VERSION), NULL);
}

/* 2026-07-28 results say what they are and who made them. */
static void
demo_respond(struct demo_server *d, json_object *id, int stateless,
    int cacheable, json_object *res)
{
	if (stateless) {
		if (jget(res, "resultType") == NULL)
			json_object_object_add(res, "resultType",
			    JSTR("complete"));
		json_object_object_add(res, "_meta", jobj(
		    DEMO_META("serverInfo"), demo_server_info(d), NULL));
		if (cacheable) {	/* the counter changes: never fresh */
			json_object_object_add(res, "ttlMs", JINT(0));
			json_object_object_add(res, "cacheScope",
			    JSTR("public"));
		}
	}
	demo_send(d, jobj("jsonrpc", JSTR("2.0"), "id", json_object_get(id),
	    "result", res, NULL), 1);
}

static json_object *
demo_text_result(const char *text, int is_error)
{
	json_object	*r;

	r = jobj("content", jarr1(jobj("type", JSTR("text"), "text",
	    JSTR(text), NULL)), NULL);
	if (is_error)
		json_object_object_add(r, "isError", JBOOL(1));
	return r;
}

static void
demo_progress(struct demo_pending *p)
{
	if (p->token != NULL)
		demo_notify(p->d, "notifications/progress", jobj(
		    "progressToken", json_object_get(p->token),
		    "progress", JINT(p->elapsed), "total", JINT(p->ms), NULL));
}

/* Delayed responses go out; sleeps report progress and, at the end, answer. */
static void
demo_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct demo_pending	*p = arg;
	struct timeval		 tv;
	char			 buf[64];

	if (p->kind == DEMO_WAIT_DELAY) {
		demo_write(p->d, p->id, p->line, 1);
		demo_pending_done(p);
		return;
	}
	p->elapsed += p->step;
	demo_progress(p);
	if (p->elapsed < p->ms) {
		if ((p->step = p->ms - p->elapsed) > DEMO_PROGRESS_MS)
			p->step = DEMO_PROGRESS_MS;
		tv.tv_sec = 0;
		tv.tv_usec = p->step * 1000;
		evtimer_add(p->timer, &tv);
		return;
	}
	snprintf(buf, sizeof buf, "slept %ld ms", p->ms);
	demo_respond(p->d, p->id, p->stateless, 0, demo_text_result(buf, 0));
	demo_pending_done(p);
}

/* The conformance fixture (demo-conformance.h) writes through these. */
static void
demo_conf_notify_cb(void *arg, json_object *related, const char *method,
    json_object *params)
{
	struct demo_server	*d = arg;

	d->related = related;	/* stdio has one stream for all */
	demo_notify(d, method, params);
	d->related = NULL;
	json_object_put(related);
}

static void
demo_conf_request_cb(void *arg, const char *id, const char *method,
    json_object *params)
{
	demo_send(arg, jobj("jsonrpc", JSTR("2.0"), "id", JSTR(id), "method",
	    JSTR(method), "params", params, NULL), 0);
}

static void
demo_conf_respond_cb(void *arg, json_object *id, int stateless, int cacheable,
    json_object *res)
{
	demo_respond(arg, id, stateless, cacheable, res);
	json_object_put(id);
}

static void
demo_conf_error_cb(void *arg, json_object *id, int code, const char *msg,
    json_object *data)
{
	demo_respond_error(arg, id, code, msg, data);
	json_object_put(id);
}

/* Offers a request to the fixture: 1 when the fixture answers it. */
static int
demo_conf_offer(struct demo_server *d, struct demo_req *r)
{
	struct demo_conf_req	 cr = {
		.method = r->method, .id = r->id, .params = r->params,
		.token = r->token, .caps = r->caps, .stateless = r->stateless,
		.log_level = r->stateless ? r->log_level : d->log_level,
	};

	return demo_conf_handle(d->conf, &cr);
}

/* Fetches a tool argument of a type (double: any number), else -32602. */
static int
demo_arg(struct demo_req *r, json_object *args, const char *key,
    json_type type, int required, json_object **out)
{
	static const char *const names[] = {
		[json_type_string] = "a string", [json_type_int] = "an integer",
		[json_type_double] = "a number",
	};

	*out = jget(args, key);
	if (*out == NULL && !required)
		return 0;
	if (json_object_is_type(*out, type) || (type == json_type_double &&
	    json_object_is_type(*out, json_type_int)))
		return 0;
	demo_fail(r, RPC_INVALID_PARAMS, NULL, "argument '%s' must be %s%s",
	    key, names[type], required ? " and is required" : "");
	return -1;
}

static json_object *
tool_echo(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	json_object	*text;

	if (demo_arg(r, args, "text", json_type_string, 1, &text) == -1)
		return NULL;
	return demo_text_result(json_object_get_string(text), 0);
}

static json_object *
tool_add(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	json_object	*a, *b;
	int64_t		 sum;
	char		 buf[64];

	if (demo_arg(r, args, "a", json_type_double, 1, &a) == -1 ||
	    demo_arg(r, args, "b", json_type_double, 1, &b) == -1)
		return NULL;
	if (json_object_is_type(a, json_type_int) &&
	    json_object_is_type(b, json_type_int) &&
	    !__builtin_add_overflow(json_object_get_int64(a),
	    json_object_get_int64(b), &sum))
		snprintf(buf, sizeof buf, "%lld", (long long)sum);
	else
		snprintf(buf, sizeof buf, "%.15g", json_object_get_double(a) +
		    json_object_get_double(b));
	return demo_text_result(buf, 0);
}

static json_object *
tool_sleep_ms(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	struct demo_pending	*p;
	json_object		*ms;

	if (demo_arg(r, args, "ms", json_type_int, 1, &ms) == -1)
		return NULL;
	if (json_object_get_int64(ms) < 0 ||
	    json_object_get_int64(ms) > 3600000)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "ms must be from 0 to 3600000");
	p = demo_pending_new(d, DEMO_WAIT_SLEEP, r->id,
	    json_object_get_int64(ms));
	p->token = json_object_get(r->token);
	p->stateless = r->stateless;
	r->deferred = 1;
	return NULL;
}

static json_object *
tool_current_time(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[32], buf[48];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, sizeof buf, "%s.%03ldZ", stamp, ts.tv_nsec / 1000000);
	return demo_text_result(buf, 0);
}

static json_object *
tool_increment(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	json_object	*by;
	char		 buf[32];

	if (demo_arg(r, args, "by", json_type_int, 0, &by) == -1)
		return NULL;
	if (by != NULL && (json_object_get_int64(by) < -1000000000 ||
	    json_object_get_int64(by) > 1000000000))
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "by must be within +-1000000000");
	d->counter += by != NULL ? json_object_get_int64(by) : 1;
	if (d->subscribed & 1)
		demo_notify(d, "notifications/resources/updated",
		    jobj("uri", JSTR(demo_resources[0]), NULL));
	snprintf(buf, sizeof buf, "%ld", d->counter);
	return demo_text_result(buf, 0);
}

static json_object *
demo_sampling_params(const char *prompt)
{
	return jobj("messages", jarr1(jobj("role", JSTR("user"), "content",
	    jobj("type", JSTR("text"), "text", JSTR(prompt), NULL), NULL)),
	    "maxTokens", JINT(256), NULL);
}

/* The text of a CreateMessageResult: content is one block or an array. */
static const char *
demo_sampling_text(json_object *res)
{
	json_object	*c = jget(res, "content");
	size_t		 i;

	if (!json_object_is_type(c, json_type_array))
		return jstr(c, "text");
	for (i = 0; i < json_object_array_length(c); i++)
		if (jstr(json_object_array_get_idx(c, i), "text") != NULL)
			return jstr(json_object_array_get_idx(c, i), "text");
	return NULL;
}

/*
 * Until 2025-11-25 the server sends sampling/createMessage and waits; from
 * 2026-07-28 it returns input_required and the client retries the call
 * with inputResponses (multi round-trip requests).
 */
static json_object *
tool_ask_model(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	struct demo_pending	*p;
	json_object		*prompt, *answer;
	const char		*text;

	if (demo_arg(r, args, "prompt", json_type_string, 1, &prompt) == -1)
		return NULL;
	if (!r->stateless && d->http != NULL && demo_http_json_only(d->http))
		return demo_text_result("sampling needs the stdio transport "
		    "(HTTP mode answers with JSON only)", 1);
	if (!r->stateless && !d->client_sampling)
		return demo_text_result("the client did not declare the "
		    "sampling capability", 1);
	if (!r->stateless) {
		p = demo_pending_new(d, DEMO_WAIT_SAMPLING, r->id, 0);
		xasprintf(&p->sid, "s-%u", ++d->sampling_seq);
		demo_send(d, jobj("jsonrpc", JSTR("2.0"), "id", JSTR(p->sid),
		    "method", JSTR("sampling/createMessage"), "params",
		    demo_sampling_params(json_object_get_string(prompt)),
		    NULL), 0);
		r->deferred = 1;
		return NULL;
	}
	if ((answer = jget(jget(r->params, "inputResponses"), "ask")) != NULL) {
		text = demo_sampling_text(answer);
		return demo_text_result(text != NULL ? text :
		    "the model answered without text", text == NULL);
	}
	if (jget(r->caps, "sampling") == NULL)
		return demo_fail(r, MCP_MISSING_CAPABILITY,
		    jparse("{\"requiredCapabilities\":{\"sampling\":{}}}"),
		    "ask_model needs the sampling capability");
	return jobj("resultType", JSTR("input_required"), "inputRequests",
	    jobj("ask", jobj("method", JSTR("sampling/createMessage"),
	    "params", demo_sampling_params(json_object_get_string(prompt)),
	    NULL), NULL), NULL);
}

static json_object *
tool_log_message(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	json_object	*level, *text;
	int		 l, min = r->stateless ? r->log_level : d->log_level;

	if (demo_arg(r, args, "level", json_type_string, 1, &level) == -1 ||
	    demo_arg(r, args, "text", json_type_string, 1, &text) == -1)
		return NULL;
	l = demo_lookup(demo_log_levels, json_object_get_string(level));
	if (l == -1)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "unknown log level '%s'", json_object_get_string(level));
	if (min == -1 || l < min)	/* -1: stateless, without logLevel */
		return demo_text_result("filtered", 0);
	demo_notify(d, "notifications/message", jobj("level", json_object_get(
	    level), "logger", JSTR("demo"), "data", json_object_get(text),
	    NULL));
	return demo_text_result("logged", 0);
}

static json_object *
tool_extra(struct demo_server *d, struct demo_req *r,
    const struct demo_tool *t, json_object *args)
{
	json_object	*text, *res;
	char		*s;

	if (demo_arg(r, args, "text", json_type_string, 0, &text) == -1)
		return NULL;
	xasprintf(&s, "%s: %s", t->name, text != NULL ?
	    json_object_get_string(text) : "");
	res = demo_text_result(s, 0);
	free(s);
	return res;
}

#define SCHEMA(props, req) \
	"{\"type\":\"object\",\"properties\":{" props "}," \
	"\"required\":[" req "]}"
#define S_STRING	"{\"type\":\"string\"}"

static const struct demo_tool demo_tools[] = {
	{ "echo", "Returns its text argument unchanged.",
	  SCHEMA("\"text\":" S_STRING, "\"text\""), 1, 1, tool_echo },
	{ "add", "Adds two numbers.", SCHEMA("\"a\":{\"type\":\"number\"},"
	  "\"b\":{\"type\":\"number\"}", "\"a\",\"b\""), 1, 1, tool_add },
	{ "sleep_ms", "Waits ms milliseconds, reporting progress every 100 ms.",
	  SCHEMA("\"ms\":{\"type\":\"integer\",\"minimum\":0}", "\"ms\""),
	  1, 1, tool_sleep_ms },
	{ "current_time", "Returns the current UTC time in ISO-8601.",
	  SCHEMA("", ""), 1, 0, tool_current_time },
	{ "increment", "Adds by (default 1) to a counter; returns its value.",
	  SCHEMA("\"by\":{\"type\":\"integer\"}", ""), 0, 0, tool_increment },
	{ "ask_model", "Asks the client's model (sampling) a question.",
	  SCHEMA("\"prompt\":" S_STRING, "\"prompt\""), 1, 0, tool_ask_model },
	{ "log_message", "Sends a log notification at the given level.",
	  SCHEMA("\"level\":" S_STRING ",\"text\":" S_STRING,
	  "\"level\",\"text\""), 1, 0, tool_log_message },
};
#define DEMO_NTOOLS	(sizeof demo_tools / sizeof demo_tools[0])

static const struct demo_tool *
demo_tool_at(struct demo_server *d, size_t i)
{
	if (i < DEMO_NTOOLS)
		return &demo_tools[i];
	return i - DEMO_NTOOLS < d->nextra ? &d->extra[i - DEMO_NTOOLS] : NULL;
}

static json_object *
demo_tool_json(const struct demo_tool *t)
{
	json_object	*a;

	a = jobj("readOnlyHint", JBOOL(t->read_only), "idempotentHint",
	    JBOOL(t->idempotent), "openWorldHint", JBOOL(0), NULL);
	if (!t->read_only)	/* only meaningful for tools that write */
		json_object_object_add(a, "destructiveHint", JBOOL(0));
	return jobj("name", JSTR(t->name), "description",
	    JSTR(t->description), "inputSchema", jparse(t->schema),
	    "annotations", a, NULL);
}

static json_object *
method_initialize(struct demo_server *d, struct demo_req *r)
{
	const char	*v = jstr(r->params, "protocolVersion");

	if (v == NULL)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "initialize needs a protocolVersion string");
	if (demo_lookup(demo_versions + 1, v) == -1)
		v = demo_versions[1];
	d->client_sampling =
	    jget(jget(r->params, "capabilities"), "sampling") != NULL;
	return jobj("protocolVersion", JSTR(v), "capabilities",
	    jparse(demo_capabilities), "serverInfo", demo_server_info(d),
	    "instructions", JSTR("Demo tools, a greeting prompt and a counter "
	    "resource."), NULL);
}

static json_object *
method_ping(struct demo_server *d, struct demo_req *r)
{
	return json_object_new_object();
}

static json_object *
method_discover(struct demo_server *d, struct demo_req *r)
{
	json_object	*v = json_object_new_array();
	int		 i;

	/* --era modern: only the version it serves. */
	for (i = 0; demo_versions[i] != NULL; i++)
		if (d->opts->era == NULL || strcmp(d->opts->era, "modern") != 0 ||
		    strcmp(demo_versions[i], DEMO_STATELESS) == 0)
			json_object_array_add(v, JSTR(demo_versions[i]));
	r->stateless = 1;	/* the method only exists from 2026-07-28 */
	return jobj("supportedVersions", v, "capabilities",
	    jparse(demo_capabilities), NULL);
}

static json_object *
method_tools_list(struct demo_server *d, struct demo_req *r)
{
	const char	*cur = jstr(r->params, "cursor");
	json_object	*res, *tools = json_object_new_array();
	size_t		 i, start = 0, end, total = DEMO_NTOOLS + d->nextra;
	char		*ep, buf[32];

	if (jget(r->params, "cursor") != NULL && (cur == NULL ||
	    (start = strtoul(cur, &ep, 10)) > total || *ep != '\0')) {
		json_object_put(tools);
		return demo_fail(r, RPC_INVALID_PARAMS, NULL, "invalid cursor");
	}
	end = total;
	if (d->opts->page_size > 0 &&
	    total - start > (size_t)d->opts->page_size)
		end = start + d->opts->page_size;
	for (i = start; i < end; i++)
		json_object_array_add(tools,
		    demo_tool_json(demo_tool_at(d, i)));
	res = jobj("tools", tools, NULL);
	if (end < total) {
		snprintf(buf, sizeof buf, "%zu", end);
		json_object_object_add(res, "nextCursor", JSTR(buf));
	}
	return res;
}

/* One write() per line, so servers sharing the log never interleave. */
static void
demo_exec_log(struct demo_server *d, struct demo_req *r, const char *name,
    json_object *args)
{
	json_object	*o;
	char		*line;

	if (d->exec_fd == -1)
		return;
	o = jobj("tool", JSTR(name), "id", json_object_get(r->id), "pid",
	    JINT(getpid()), "args", json_object_get(args), NULL);
	xasprintf(&line, "%s\n", json_object_to_json_string_ext(o,
	    DEMO_JSON_FLAGS));
	if (write(d->exec_fd, line, strlen(line)) == -1)
		log_warn("exec log");
	free(line);
	json_object_put(o);
}

/*
 * --rpc-error and --tool-error: the first N calls of the tool fail (after
 * the exec log line, so the test sees every execution).  A tool error is
 * returned; a JSON-RPC error is set in r and NULL returned.  NULL and no
 * error: the call runs.
 */
static json_object *
demo_injected_tool_fault(struct demo_server *d, struct demo_req *r,
    const char *name)
{
	const char	*rest;
	char		 tool[128], *end;
	long		 n, code;

	if (d->opts->rpc_error != NULL && demo_fault_spec(d->opts->rpc_error,
	    tool, sizeof tool, &n, &rest) == 0 && strcmp(tool, name) == 0 &&
	    (n == 0 || d->rpc_errors < n)) {
		d->rpc_errors++;
		code = strtol(rest, &end, 10);
		demo_fail(r, (int)code, NULL, "%s", *end == ':' ? end + 1 :
		    "injected failure");
		return NULL;
	}
	if (d->opts->tool_error != NULL && demo_fault_spec(d->opts->tool_error,
	    tool, sizeof tool, &n, &rest) == 0 && strcmp(tool, name) == 0 &&
	    (n == 0 || d->tool_errors < n)) {
		d->tool_errors++;
		return demo_text_result(rest, 1);
	}
	return NULL;
}

static json_object *
method_tools_call(struct demo_server *d, struct demo_req *r)
{
	const struct demo_tool	*t = NULL;
	const char		*name = jstr(r->params, "name");
	json_object		*args = jget(r->params, "arguments"), *res;
	size_t			 i;

	for (i = 0; name != NULL && (t = demo_tool_at(d, i)) != NULL; i++)
		if (strcmp(t->name, name) == 0)
			break;
	if (t == NULL)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "unknown tool '%s'", name != NULL ? name : "");
	if (args != NULL && !json_object_is_type(args, json_type_object))
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "arguments must be an object");
	args = args != NULL ? json_object_get(args) : json_object_new_object();
	demo_exec_log(d, r, name, args);
	if ((res = demo_injected_tool_fault(d, r, name)) != NULL ||
	    r->code != 0) {
		json_object_put(args);
		return res;
	}
	if (d->opts->exit_during != NULL &&
	    strcmp(d->opts->exit_during, name) == 0) {
		r->deferred = 1;
		demo_quit(d, 4);
		res = NULL;
	} else
		res = t->fn(d, r, t, args);
	json_object_put(args);
	return res;
}

static json_object *
method_prompts_get(struct demo_server *d, struct demo_req *r)
{
	const char	*name = jstr(r->params, "name"), *who;
	json_object	*res;
	char		*s;

	if (name == NULL || strcmp(name, "greeting") != 0)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "unknown prompt '%s'", name != NULL ? name : "");
	if ((who = jstr(jget(r->params, "arguments"), "name")) == NULL)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL,
		    "prompt 'greeting' needs the argument 'name'");
	xasprintf(&s, "Hello, %s!", who);
	res = jobj("description", JSTR("Greets someone by name."), "messages",
	    jarr1(jobj("role", JSTR("user"), "content", jobj("type",
	    JSTR("text"), "text", JSTR(s), NULL), NULL)), NULL);
	free(s);
	return res;
}

static json_object *
method_resources_list(struct demo_server *d, struct demo_req *r)
{
	json_object	*list = json_object_new_array();
	char		*s;
	int		 i;

	for (i = 0; demo_resources[i] != NULL; i++) {
		xasprintf(&s, "%s-%s", d->opts->name, demo_resources[i] +
		    sizeof "demo://" - 1);
		json_object_array_add(list, jobj("uri",
		    JSTR(demo_resources[i]), "name", JSTR(s), "description",
		    JSTR(i == 0 ? "The increment tool's counter" :
		    "Which demo server this is"), "mimeType", JSTR(i == 0 ?
		    "text/plain" : "application/json"), NULL));
		free(s);
	}
	return jobj("resources", list, NULL);
}

/* resources/read, subscribe and unsubscribe: which resource, or why not. */
static int
demo_resource_arg(struct demo_req *r)
{
	const char	*uri = jstr(r->params, "uri");
	int		 i;

	if ((i = demo_lookup(demo_resources, uri)) == -1)
		demo_fail(r, r->stateless ? RPC_INVALID_PARAMS :
		    MCP_RESOURCE_NOT_FOUND, jobj("uri", uri != NULL ?
		    JSTR(uri) : NULL, NULL), "resource not found");
	return i;
}

static json_object *
method_resources_read(struct demo_server *d, struct demo_req *r)
{
	json_object	*res;
	char		*s;
	int		 i;

	if ((i = demo_resource_arg(r)) == -1)
		return NULL;
	if (i == 0)
		xasprintf(&s, "%ld", d->counter);
	else
		xasprintf(&s, "{\"name\":\"%s\",\"version\":\"%s\",\"pid\":%d,"
		    "\"counter\":%ld}", d->opts->name, PACKAGE_VERSION,
		    (int)getpid(), d->counter);
	res = jobj("contents", jarr1(jobj("uri", JSTR(demo_resources[i]),
	    "mimeType", JSTR(i == 0 ? "text/plain" : "application/json"),
	    "text", JSTR(s), NULL)), NULL);
	free(s);
	return res;
}

static json_object *
method_subscribe(struct demo_server *d, struct demo_req *r)
{
	int	 i;

	if ((i = demo_resource_arg(r)) == -1)
		return NULL;
	if (strcmp(r->method, "resources/subscribe") == 0)
		d->subscribed |= 1u << i;
	else
		d->subscribed &= ~(1u << i);
	return json_object_new_object();
}

static json_object *
method_set_level(struct demo_server *d, struct demo_req *r)
{
	int	 l = demo_lookup(demo_log_levels, jstr(r->params, "level"));

	if (l == -1)
		return demo_fail(r, RPC_INVALID_PARAMS, NULL, "level must be "
		    "one of debug, info, notice, warning, error, critical, "
		    "alert, emergency");
	d->log_level = l;
	return json_object_new_object();
}

/* A method answers with fn's result or, without fn, with canned JSON. */
static const struct demo_method {
	const char	*name;
	json_object	*(*fn)(struct demo_server *, struct demo_req *);
	const char	*canned;
	int		 cacheable;	/* 2026-07-28 CacheableResult */
} demo_methods[] = {
	{ "initialize", method_initialize, NULL, 0 },
	{ "ping", method_ping, NULL, 0 },
	{ "server/discover", method_discover, NULL, 1 },
	{ "tools/list", method_tools_list, NULL, 1 },
	{ "tools/call", method_tools_call, NULL, 0 },
	{ "prompts/list", NULL, "{\"prompts\":[{\"name\":\"greeting\","
	  "\"title\":\"Greeting\",\"description\":\"Greets someone by name.\","
	  "\"arguments\":[{\"name\":\"name\",\"description\":\"Who to greet\","
	  "\"required\":true}]}]}", 1 },
	{ "prompts/get", method_prompts_get, NULL, 0 },
	{ "resources/list", method_resources_list, NULL, 1 },
	{ "resources/read", method_resources_read, NULL, 1 },
	{ "resources/templates/list", NULL, "{\"resourceTemplates\":[]}", 1 },
	{ "resources/subscribe", method_subscribe, NULL, 0 },
	{ "resources/unsubscribe", method_subscribe, NULL, 0 },
	{ "logging/setLevel", method_set_level, NULL, 0 },
	{ "completion/complete", NULL, "{\"completion\":{\"values\":[],"
	  "\"total\":0,\"hasMore\":false}}", 0 },
};

/*
 * A 2026-07-28 request brings its version, capabilities and log level in
 * _meta; other declared versions are lenient, unknown ones are refused.
 */
static int
demo_req_meta(struct demo_req *r)
{
	json_object	*meta = jget(r->params, "_meta"), *v;
	const char	*version = jstr(meta, DEMO_META("protocolVersion"));
	int		 i;

	r->token = jget(meta, "progressToken");
	r->log_level = -1;
	if (version == NULL || demo_lookup(demo_versions + 1, version) != -1)
		return 0;
	if (strcmp(version, DEMO_STATELESS) != 0) {
		v = json_object_new_array();
		for (i = 0; demo_versions[i] != NULL; i++)
			json_object_array_add(v, JSTR(demo_versions[i]));
		demo_fail(r, MCP_UNSUPPORTED_VERSION, jobj("supported", v,
		    "requested", JSTR(version), NULL),
		    "Unsupported protocol version");
		return -1;
	}
	r->stateless = 1;
	r->caps = jget(meta, DEMO_META("clientCapabilities"));
	if (!json_object_is_type(r->caps, json_type_object)) {
		demo_fail(r, RPC_INVALID_PARAMS, NULL, "_meta needs the object "
		    DEMO_META("clientCapabilities"));
		return -1;
	}
	r->log_level = demo_lookup(demo_log_levels,
	    jstr(meta, DEMO_META("logLevel")));
	return 0;
}

/*
 * --era: a legacy-only server knows no server/discover and reads no modern
 * _meta; a modern-only one answers nothing that lacks it (initialize
 * included).  1 when the request was refused.
 */
static int
demo_era_refuses(struct demo_server *d, struct demo_req *r)
{
	const char	*era = d->opts->era;

	if (era == NULL || strcmp(era, "dual") == 0)
		return 0;
	if (strcmp(era, "legacy") == 0) {
		if (strcmp(r->method, "server/discover") == 0) {
			demo_fail(r, RPC_METHOD_NOT_FOUND, NULL,
			    "method not found: %s", r->method);
			return 1;
		}
		r->stateless = 0;
		r->caps = NULL;
		r->log_level = -1;
		return 0;
	}
	if (!r->stateless) {
		demo_fail(r, RPC_INVALID_PARAMS, NULL, "this server speaks only "
		    "%s: requests need its _meta", DEMO_STATELESS);
		return 1;
	}
	return 0;
}

static const struct demo_method *
demo_method_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof demo_methods / sizeof demo_methods[0]; i++)
		if (strcmp(demo_methods[i].name, name) == 0)
			return &demo_methods[i];
	return NULL;
}

static void
demo_handle_request(struct demo_server *d, json_object *id,
    const char *method, json_object *params)
{
	const struct demo_method	*m = demo_method_find(method);
	struct demo_req			 r;
	json_object			*res = NULL;

	d->requests++;
	if (d->opts->stderr_noise)
		log_info("noise: request %ld: %s", d->requests, method);
	if (d->opts->hang_after >= 0 && d->requests > d->opts->hang_after) {
		demo_set_state(d, DEMO_HUNG);
		return;
	}
	memset(&r, 0, sizeof r);
	r.method = method;
	r.id = id;
	r.params = params;
	if (params == NULL)
		r.params = params = json_object_new_object();
	else
		json_object_get(params);
	if (!json_object_is_type(params, json_type_object))
		demo_fail(&r, RPC_INVALID_PARAMS, NULL,
		    "params must be an object");
	else if (demo_req_meta(&r) == -1)
		;	/* refused version or _meta */
	else if (demo_era_refuses(d, &r))
		;
	else if (d->opts->error_method != NULL &&
	    strcmp(d->opts->error_method, method) == 0)
		demo_fail(&r, RPC_INTERNAL_ERROR, NULL, "injected failure");
	else if (r.stateless && demo_lookup(demo_removed_methods, method) != -1)
		demo_fail(&r, RPC_METHOD_NOT_FOUND, NULL,
		    "method not found: %s was removed in %s", method,
		    DEMO_STATELESS);
	else if (d->conf != NULL && demo_conf_offer(d, &r))
		r.deferred = 1;		/* the fixture answered */
	else if (m == NULL)
		demo_fail(&r, RPC_METHOD_NOT_FOUND, NULL,
		    "method not found: %s", method);
	else {
		res = m->fn != NULL ? m->fn(d, &r) : jparse(m->canned);
		if (res != NULL && d->conf != NULL)
			demo_conf_extend(d->conf, method, res);
	}
	if (res != NULL)
		demo_respond(d, id, r.stateless, m->cacheable, res);
	else if (!r.deferred)
		demo_respond_error(d, id, r.code, r.msg, r.data);
	else
		json_object_put(r.data);
	json_object_put(params);
	if (d->requests == d->opts->garbage_after)
		demo_write(d, NULL, "this is not JSON {{{", 0);
}

/* Only cancellation matters; a cancelled request gets no answer at all. */
static void
demo_handle_notification(struct demo_server *d, const char *method,
    json_object *params)
{
	struct demo_pending	*p;
	json_object		*id = jget(params, "requestId");

	if (strcmp(method, "notifications/cancelled") != 0 || id == NULL)
		return;
	if (d->conf != NULL)
		demo_conf_cancel(d->conf, id);
	TAILQ_FOREACH(p, &d->pending, entry) {
		if (p->kind != DEMO_WAIT_DELAY &&
		    json_object_equal(p->id, id)) {
			demo_pending_done(p);
			return;
		}
	}
}

/* The client's answer to our sampling/createMessage. */
static void
demo_handle_client_response(struct demo_server *d, json_object *msg)
{
	struct demo_pending	*p;
	const char		*sid = jstr(msg, "id"), *text;
	const char		*err = jstr(jget(msg, "error"), "message");
	char			*s;

	if (d->conf != NULL && demo_conf_response(d->conf, msg))
		return;
	TAILQ_FOREACH(p, &d->pending, entry)
		if (p->sid != NULL && sid != NULL && strcmp(p->sid, sid) == 0)
			break;
	if (p == NULL) {
		log_warnx("response to no pending request: %s",
		    json_object_to_json_string(jget(msg, "id")));
		return;
	}
	if ((text = demo_sampling_text(jget(msg, "result"))) != NULL)
		demo_respond(d, p->id, 0, 0, demo_text_result(text, 0));
	else {
		xasprintf(&s, "sampling failed: %s", err != NULL ? err :
		    "no text in the answer");
		demo_respond(d, p->id, 0, 0, demo_text_result(s, 1));
		free(s);
	}
	demo_pending_done(p);
}

static void
demo_handle_message(struct demo_server *d, json_object *msg)
{
	json_object	*id = NULL, *v;
	const char	*method = jstr(msg, "method");
	const char	*version = jstr(msg, "jsonrpc");
	int		 has_id = json_object_object_get_ex(msg, "id", &id);

	if (!json_object_is_type(id, json_type_string) &&
	    !json_object_is_type(id, json_type_int))
		id = NULL;
	if (!json_object_is_type(msg, json_type_object))
		demo_respond_error(d, NULL, RPC_INVALID_REQUEST,
		    "a message must be an object (no batches)", NULL);
	else if (method == NULL && (json_object_object_get_ex(msg, "result",
	    &v) || json_object_object_get_ex(msg, "error", &v)))
		demo_handle_client_response(d, msg);	/* never answered */
	else if (version == NULL || strcmp(version, "2.0") != 0)
		demo_respond_error(d, id, RPC_INVALID_REQUEST,
		    "jsonrpc must be \"2.0\"", NULL);
	else if (method != NULL && !has_id)
		demo_handle_notification(d, method, jget(msg, "params"));
	else if (method != NULL && id != NULL)
		demo_handle_request(d, id, method, jget(msg, "params"));
	else
		demo_respond_error(d, id, RPC_INVALID_REQUEST,
		    "a request needs a string method and a string or integer "
		    "id", NULL);
}

/* One message: 1 and *msg, 0 for blank text, -1 when it is not JSON. */
static int
demo_parse(const char *text, size_t len, json_object **msg)
{
	json_tokener	*tok;
	int		 ok;

	*msg = NULL;
	while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL)
		len--;
	if (len == 0)
		return 0;
	tok = json_tokener_new();
	*msg = json_tokener_parse_ex(tok, text, len);
	ok = json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	if (ok)
		return 1;
	json_object_put(*msg);
	*msg = NULL;
	return -1;
}

static void
demo_handle_line(struct demo_server *d, const char *line, size_t len)
{
	json_object	*msg;

	switch (demo_parse(line, len, &msg)) {
	case 1:
		demo_handle_message(d, msg);
		json_object_put(msg);
		break;
	case -1:
		demo_respond_error(d, NULL, RPC_PARSE_ERROR, "parse error",
		    NULL);
		break;
	}
}

/*
 * Splits input into lines.  A line over DEMO_MAX_LINE gets one parse error
 * and is dropped up to its newline without being buffered whole.
 */
static void
demo_read_lines(struct demo_server *d)
{
	struct evbuffer		*in = bufferevent_get_input(d->in);
	struct evbuffer_ptr	 start, eol;
	size_t			 n;
	char			*line;

	while (d->state == DEMO_SERVING) {
		if (evbuffer_ptr_set(in, &start, d->scanned,
		    EVBUFFER_PTR_SET) == -1)
			return;
		eol = evbuffer_search_eol(in, &start, NULL, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			d->scanned = evbuffer_get_length(in);
			if (d->scanned <= DEMO_MAX_LINE)
				return;		/* wait for the newline */
			if (!d->discarding)
				demo_respond_error(d, NULL, RPC_PARSE_ERROR,
				    "message longer than 4 MiB", NULL);
			evbuffer_drain(in, d->scanned);
			d->scanned = 0;
			d->discarding = 1;
			continue;
		}
		d->scanned = 0;
		if (d->discarding || (size_t)eol.pos > DEMO_MAX_LINE) {
			if (!d->discarding)
				demo_respond_error(d, NULL, RPC_PARSE_ERROR,
				    "message longer than 4 MiB", NULL);
			evbuffer_drain(in, eol.pos + 1);
			d->discarding = 0;
			continue;
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		demo_handle_line(d, line, n);
		free(line);
	}
	evbuffer_drain(in, evbuffer_get_length(in));	/* hung or done */
}

static void
demo_read_cb(struct bufferevent *bev, void *arg)
{
	demo_read_lines(arg);
}

/*
 * EOF on stdin is the MCP stdio shutdown.  A last line without newline
 * still counts; sampling can no longer be answered; sleeps and delayed
 * answers finish before the exit.
 */
static void
demo_input_closed(struct demo_server *d)
{
	struct evbuffer		*in = bufferevent_get_input(d->in);
	struct demo_pending	*p, *tmp;
	size_t			 n = evbuffer_get_length(in);
	char			*rest;

	bufferevent_disable(d->in, EV_READ);
	if (n > 0 && !d->discarding && d->state == DEMO_SERVING) {
		rest = xmalloc(n);
		evbuffer_remove(in, rest, n);
		demo_handle_line(d, rest, n);
		free(rest);
	}
	if (d->state != DEMO_SERVING) {
		demo_quit(d, 0);
		return;
	}
	if (d->conf != NULL)
		demo_conf_input_closed(d->conf);
	TAILQ_FOREACH_SAFE(p, &d->pending, entry, tmp) {
		if (p->kind != DEMO_WAIT_SAMPLING)
			continue;
		demo_respond(d, p->id, 0, 0, demo_text_result("stdin closed "
		    "before the client answered sampling", 1));
		demo_pending_free(p);
	}
	demo_set_state(d, DEMO_DRAINING);
	if (TAILQ_EMPTY(&d->pending))
		demo_quit(d, 0);
}

static void
demo_input_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_ERROR)
		log_warn("stdin");
	demo_input_closed(arg);
}

static void
demo_output_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct demo_server	*d = arg;

	log_debug("stdout closed");
	demo_quit(d, 0);
	event_base_loopbreak(d->base);
}

static void
demo_output_drained_cb(struct bufferevent *bev, void *arg)
{
	struct demo_server	*d = arg;

	event_base_loopbreak(d->base);
}

/* ---- Streamable HTTP and HTTP+SSE (--http, demo-http.c) ----------------- */

static void
demo_http_message_cb(void *arg, json_object *msg)
{
	demo_handle_message(arg, msg);
}

static void
demo_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct demo_server	*d = arg;

	if (d->http != NULL) {
		/* Waiting POSTs learn why; demo_quit() leaves time to send. */
		demo_http_shutdown(d->http);
		demo_quit(d, 0);
		return;
	}
	demo_quit(d, 0);
	event_base_loopbreak(d->base);	/* a stuck reader must not hold us */
}

/*
 * Leaves the loop once stdout has taken what is queued (le-proxy's
 * flush-then-close), so an injected exit loses no answer.
 */
static void
demo_quit(struct demo_server *d, int code)
{
	struct timeval	 tv = { 0, 100000 };

	if (d->state == DEMO_DONE)
		return;
	demo_set_state(d, DEMO_DONE);
	d->exit_code = code;
	if (d->http != NULL) {
		/* Replies drain on later loop turns, with no one event for all. */
		event_base_loopexit(d->base, &tv);
		return;
	}
	bufferevent_disable(d->in, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(d->out)) == 0)
		event_base_loopbreak(d->base);
	else
		bufferevent_setcb(d->out, NULL, demo_output_drained_cb,
		    demo_output_event_cb, d);
}

/* epoll refuses regular files and /dev/null, as redirections give us. */
static int
demo_fd_pollable(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode));
}

static void
demo_add_extra_tools(struct demo_server *d, const char *names)
{
	char	*list = xstrdup(names), *name, *save = NULL;

	for (name = strtok_r(list, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		d->extra = xreallocarray(d->extra, d->nextra + 1,
		    sizeof *d->extra);
		d->extra[d->nextra++] = (struct demo_tool){ xstrdup(name),
		    "Echoes its optional text after its own name.",
		    SCHEMA("\"text\":" S_STRING, ""), 1, 1, tool_extra };
	}
	free(list);
}

static struct demo_server *
demo_server_new(const struct demo_opts *opts)
{
	struct demo_server	*d = xcalloc(1, sizeof *d);
	struct event_config	*cfg = event_config_new();

	d->opts = opts;
	d->log_level = 1;	/* info until logging/setLevel */
	TAILQ_INIT(&d->pending);
	d->exec_fd = opts->exec_log == NULL ? -1 : open(opts->exec_log,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (opts->exec_log != NULL && d->exec_fd == -1)
		fatal("%s", opts->exec_log);
	if (opts->tools_extra != NULL)
		demo_add_extra_tools(d, opts->tools_extra);
	if (opts->http == NULL && (!demo_fd_pollable(STDIN_FILENO) ||
	    !demo_fd_pollable(STDOUT_FILENO)))
		event_config_avoid_method(cfg, "epoll");
	if ((d->base = event_base_new_with_config(cfg)) == NULL)
		fatalx("cannot create the event loop");
	event_config_free(cfg);
	if (opts->conformance)
		d->conf = demo_conf_new(&(struct demo_conf_host){ d->base, d,
		    demo_conf_notify_cb, demo_conf_request_cb,
		    demo_conf_respond_cb, demo_conf_error_cb,
		    opts->http != NULL && !opts->sse &&
		    (opts->http_reply == NULL ||
		    strcmp(opts->http_reply, "json") == 0) });
	d->sigterm = evsignal_new(d->base, SIGTERM, demo_signal_cb, d);
	d->sigint = evsignal_new(d->base, SIGINT, demo_signal_cb, d);
	evsignal_add(d->sigterm, NULL);
	evsignal_add(d->sigint, NULL);
	if (opts->http != NULL)
		return d;	/* main() starts the listener */
	d->fd_flags[0] = fcntl(STDIN_FILENO, F_GETFL);
	d->fd_flags[1] = fcntl(STDOUT_FILENO, F_GETFL);
	evutil_make_socket_nonblocking(STDIN_FILENO);
	evutil_make_socket_nonblocking(STDOUT_FILENO);
	d->in = bufferevent_socket_new(d->base, STDIN_FILENO, 0);
	d->out = bufferevent_socket_new(d->base, STDOUT_FILENO, 0);
	bufferevent_setcb(d->in, demo_read_cb, NULL, demo_input_event_cb, d);
	bufferevent_setcb(d->out, NULL, NULL, demo_output_event_cb, d);
	bufferevent_enable(d->in, EV_READ);
	return d;
}

static void
demo_server_free(struct demo_server *d)
{
	size_t	 i;

	if (d == NULL)
		return;
	while (!TAILQ_EMPTY(&d->pending))
		demo_pending_free(TAILQ_FIRST(&d->pending));
	demo_conf_free(d->conf);
	demo_http_free(d->http);
	if (d->in != NULL) {
		bufferevent_free(d->in);
		bufferevent_free(d->out);
		fcntl(STDIN_FILENO, F_SETFL, d->fd_flags[0]);
		fcntl(STDOUT_FILENO, F_SETFL, d->fd_flags[1]);
	}
	event_free(d->sigterm);
	event_free(d->sigint);
	event_base_free(d->base);
	if (d->exec_fd != -1)
		close(d->exec_fd);
	for (i = 0; i < d->nextra; i++)
		free((char *)d->extra[i].name);
	free(d->extra);
	free(d);
}

int
main(int argc, char *argv[])
{
	struct demo_opts	 opts;
	struct demo_server	*d;
	int			 rc;

	log_init("mcprelay-demo-server", LOG_LEVEL_INFO);
	if ((rc = demo_opts_parse(&opts, argc, argv)) != -1)
		return rc;
	if (opts.era != NULL && strcmp(opts.era, "dual") != 0 &&
	    strcmp(opts.era, "legacy") != 0 && strcmp(opts.era, "modern") != 0) {
		log_warnx("--era: '%s' is none of dual, legacy, modern", opts.era);
		return 2;
	}
	if ((rc = demo_faults_start(&opts)) != -1)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	d = demo_server_new(&opts);
	if (opts.http != NULL && (d->http = demo_http_new(
	    &(struct demo_http_host){ d->base, d, demo_http_message_cb },
	    &opts, &rc)) == NULL) {
		demo_server_free(d);
		return rc;
	}
	event_base_dispatch(d->base);
	rc = d->exit_code;
	demo_server_free(d);
	return rc;
}
