/*
 * Multi round-trip requests (2026-07-28) in front of legacy upstreams: the
 * server->client requests raised during a modern client's call become one
 * InputRequiredResult; the client's retry answers them and takes over the
 * parked upstream call.  requestState is "mcprelay:<id>.<hmac>", the HMAC
 * keyed with random bytes made at start, so a forged or altered state is
 * refused and an id is only good for the round it was given out for.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "bytes.h"
#include "config.h"
#include "era.h"
#include "errors.h"
#include "handler.h"
#include "jsonrpc.h"
#include "log.h"
#include "mrtr.h"
#include "relay.h"
#include "request.h"
#include "sha256.h"
#include "stream.h"
#include "xmalloc.h"

#define MRTR_PREFIX		"mcprelay:"
#define MRTR_ID_LEN		32		/* hex characters */
#define MRTR_MAC_LEN		64		/* hex of SHA-256 */
#define MRTR_KEY_LEN		64		/* longest inputRequests key */
#define MRTR_META_KEY		"mcprelay/inputKey"	/* a legacy request's name */
#define MRTR_MAX_ASKS		16		/* per call, at any time */
#define MRTR_DEFAULT_WAIT	60.0		/* seconds for the retry */

/* One server->client request of the parked call. */
struct mrtr_ask {
	char			 key[MRTR_KEY_LEN + 1];
	struct json_object	*upstream_id;	/* the request to answer */
	struct json_object	*req;		/* {method, params} */
	int			 asked;		/* in the client's round */
	TAILQ_ENTRY(mrtr_ask)	 entry;
};
TAILQ_HEAD(mrtr_asks, mrtr_ask);

/*
 * GATHERING: the client's request is still open and the requests raised
 * in this turn of the event loop are collected, so that a server asking
 * several things at once is one round, not several.  WAITING: the client
 * has the InputRequiredResult; requests raised now go in the next round.
 * ENDED: the upstream call ended meanwhile, its reply waits for the retry.
 */
enum mrtr_park_state {
	MRTR_GATHERING,
	MRTR_WAITING,
	MRTR_ENDED,
};

struct mrtr_park {
	struct mrtr		*m;
	enum mrtr_park_state	 state;
	char			 id[MRTR_ID_LEN + 1];	/* this round's */
	struct handler		*h;		/* NULL once ENDED */
	struct request		*r;		/* the parked upstream call */
	struct mrtr_asks	 asks;
	int			 nasks;
	struct json_object	*final;		/* reply that came while parked */
	struct event		*flush;		/* GATHERING -> WAITING */
	struct event		*timer;		/* the retry's deadline */
	TAILQ_ENTRY(mrtr_park)	 entry;
};

struct mrtr {
	struct relay		*relay;
	unsigned char		 key[32];
	uint64_t		 seq;
	TAILQ_HEAD(, mrtr_park)	 parks;
};

static void	mrtr_flush_cb(evutil_socket_t, short, void *);
static void	mrtr_timeout_cb(evutil_socket_t, short, void *);

struct mrtr *
mrtr_new(struct relay *relay)
{
	struct mrtr	*m;

	m = xcalloc(1, sizeof *m);
	m->relay = relay;
	if (bytes_random(m->key, sizeof m->key) == -1)
		fatal("%s: random bytes for the requestState key", __func__);
	TAILQ_INIT(&m->parks);
	return m;
}

static void
mrtr_ask_free(struct mrtr_park *p, struct mrtr_ask *a)
{
	TAILQ_REMOVE(&p->asks, a, entry);
	p->nasks--;
	json_object_put(a->upstream_id);
	json_object_put(a->req);
	free(a);
}

static void
mrtr_asks_clear(struct mrtr_park *p)
{
	struct mrtr_ask	*a;

	while ((a = TAILQ_FIRST(&p->asks)) != NULL)
		mrtr_ask_free(p, a);
}

static void
mrtr_park_free(struct mrtr_park *p)
{
	TAILQ_REMOVE(&p->m->parks, p, entry);
	if (p->r != NULL)
		p->r->parked = NULL;
	mrtr_asks_clear(p);
	event_free(p->flush);
	event_free(p->timer);
	json_object_put(p->final);
	free(p);
}

void
mrtr_free(struct mrtr *m)
{
	struct mrtr_park	*p;

	if (m == NULL)
		return;
	while ((p = TAILQ_FIRST(&m->parks)) != NULL)
		mrtr_park_free(p);
	explicit_bzero(m->key, sizeof m->key);
	free(m);
}

/* The one place a park changes state. */
static void
mrtr_park_set_state(struct mrtr_park *p, enum mrtr_park_state state)
{
	struct timeval	 now = { 0, 0 }, tv;
	double		 wait;

	switch (state) {
	case MRTR_GATHERING:
		evtimer_add(p->flush, &now);
		break;
	case MRTR_WAITING:
		if (p->state == MRTR_WAITING)
			break;		/* one deadline for the whole call */
		wait = handler_config(p->h)->request_timeout > 0 ?
		    handler_config(p->h)->request_timeout : MRTR_DEFAULT_WAIT;
		tv.tv_sec = (time_t)wait;
		tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
		evtimer_add(p->timer, &tv);
		break;
	case MRTR_ENDED:
		/* The upstream call is over: its questions are moot. */
		mrtr_asks_clear(p);
		p->r = NULL;
		p->h = NULL;
		break;
	}
	p->state = state;
}

static void
mrtr_hex(const unsigned char *in, size_t len, char *out)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static void
mrtr_mac(struct mrtr *m, const char *id, char *out)
{
	uint8_t	mac[SHA256_LEN];

	hmac_sha256(m->key, sizeof m->key, id, strlen(id), mac);
	mrtr_hex(mac, sizeof mac, out);
}

/* A fresh id for a round: the previous round's requestState stops working. */
static void
mrtr_new_id(struct mrtr_park *p)
{
	unsigned char	raw[MRTR_ID_LEN / 2];

	if (bytes_random(raw, sizeof raw) == -1)
		fatal("%s: random bytes for a round id", __func__);
	mrtr_hex(raw, sizeof raw, p->id);
}

/* The three requests an InputRequiredResult can carry (InputRequest). */
static int
mrtr_input_method(const char *method)
{
	return strcmp(method, "sampling/createMessage") == 0 ||
	    strcmp(method, "elicitation/create") == 0 ||
	    strcmp(method, "roots/list") == 0;
}

static void
mrtr_refuse(struct handler *h, struct json_object *msg, int code,
    const char *text, struct json_object *data)
{
	handler_answer_server_request(h, jsonrpc_id(msg),
	    jsonrpc_error_new(NULL, code, text, data));
}

/* Every request of the park that no client will answer. */
static void
mrtr_refuse_all(struct mrtr_park *p, const char *text)
{
	struct mrtr_ask	*a;

	TAILQ_FOREACH(a, &p->asks, entry)
		handler_answer_server_request(p->h, a->upstream_id,
		    jsonrpc_error_new(NULL, RELAY_ERR_NO_CLIENT, text, NULL));
}

static int
mrtr_key_taken(struct mrtr_park *p, const char *key)
{
	struct mrtr_ask	*a;

	TAILQ_FOREACH(a, &p->asks, entry)
		if (strcmp(a->key, key) == 0)
			return 1;
	return 0;
}

/*
 * The name a legacy server gives its request, if any: params._meta
 * "mcprelay/inputKey", else its own id when that is a string.  A legacy
 * server cannot otherwise say which input a request stands for, and its
 * ids may not be reused within a session, so the _meta name is the one
 * that lets a 2026-07-28 client answer ahead (inputResponses in its first
 * request).  Only plain names are taken.
 */
static const char *
mrtr_name(struct json_object *msg)
{
	struct json_object	*params, *meta, *v;
	const char		*s;
	size_t			 len;

	v = jsonrpc_id(msg);
	if (json_object_object_get_ex(msg, "params", &params) &&
	    json_object_object_get_ex(params, "_meta", &meta) &&
	    json_object_object_get_ex(meta, MRTR_META_KEY, &meta) &&
	    json_object_is_type(meta, json_type_string))
		v = meta;
	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	len = strlen(s);
	if (len == 0 || len > MRTR_KEY_LEN || strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "_.-") != len)
		return NULL;
	return s;
}

/* The inputRequests key: the server's name for it, if free, else ours. */
static void
mrtr_key(struct mrtr_park *p, const char *name, char *key)
{
	if (name != NULL && !mrtr_key_taken(p, name)) {
		memcpy(key, name, strlen(name) + 1);
		return;
	}
	do {
		snprintf(key, MRTR_KEY_LEN + 1, "mcprelay-%llu",
		    (unsigned long long)++p->m->seq);
	} while (mrtr_key_taken(p, key));
}

/*
 * A first request may bring answers (inputResponses without a requestState
 * of ours), as a 2026-07-28 client may: the one under the server's name
 * for its request answers it, once; asked again later, it goes to the
 * client.  Answers under other names are ignored, as the spec asks.
 */
static struct json_object *
mrtr_preanswer(struct request *r, const char *name)
{
	struct json_object	*params, *responses, *answer;

	if (name == NULL || request_msg(r) == NULL ||
	    !json_object_object_get_ex(request_msg(r), "params", &params) ||
	    !json_object_object_get_ex(params, "inputResponses", &responses) ||
	    !json_object_is_type(responses, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(responses, name, &answer) ||
	    !json_object_is_type(answer, json_type_object))
		return NULL;
	answer = json_object_get(answer);
	json_object_object_del(responses, name);
	return answer;
}

static struct mrtr_park *
mrtr_park_new(struct mrtr *m, struct handler *h, struct request *r)
{
	struct mrtr_park	*p;

	p = xcalloc(1, sizeof *p);
	p->m = m;
	p->h = h;
	p->r = r;
	TAILQ_INIT(&p->asks);
	p->flush = evtimer_new(m->relay->base, mrtr_flush_cb, p);
	p->timer = evtimer_new(m->relay->base, mrtr_timeout_cb, p);
	TAILQ_INSERT_TAIL(&m->parks, p, entry);
	r->parked = p;
	mrtr_park_set_state(p, MRTR_GATHERING);
	return p;
}

void
mrtr_raise(struct mrtr *m, struct handler *h, struct json_object *msg,
    struct request *r)
{
	struct mrtr_park	*p;
	struct mrtr_ask		*a;
	struct json_object	*params, *data, *answer;
	const char		*method = jsonrpc_method(msg), *cap, *name;
	char			 text[256];

	if (m == NULL) {
		mrtr_refuse(h, msg, RELAY_ERR_NO_CLIENT, "no client can answer "
		    "this request", NULL);
		return;
	}
	if (!mrtr_input_method(method)) {
		mrtr_refuse(h, msg, JSONRPC_METHOD_NOT_FOUND,
		    "Method not found", NULL);
		return;
	}
	cap = era_server_request_capability(method);
	if (r->client_caps == NULL ||
	    !json_object_object_get_ex(r->client_caps, cap, NULL)) {
		snprintf(text, sizeof text, "the client did not declare the "
		    "'%s' capability", cap);
		data = json_object_new_object();
		json_object_object_add(data, "requiredCapabilities",
		    json_object_new_object());
		json_object_object_add(json_object_object_get(data,
		    "requiredCapabilities"), cap, json_object_new_object());
		mrtr_refuse(h, msg, ERA_ERR_MISSING_CAPABILITY, text, data);
		return;
	}
	name = mrtr_name(msg);
	if ((answer = mrtr_preanswer(r, name)) != NULL) {
		log_debug("server %s: %s answered from the client's "
		    "inputResponses", handler_name(h), method);
		handler_answer_server_request(h, jsonrpc_id(msg),
		    jsonrpc_result_new(NULL, answer));
		return;
	}
	if ((p = r->parked) == NULL && r->stream == NULL) {
		mrtr_refuse(h, msg, RELAY_ERR_NO_CLIENT, "the client that made "
		    "this call can no longer be asked", NULL);
		return;
	}
	if (p != NULL && p->nasks >= MRTR_MAX_ASKS) {
		mrtr_refuse(h, msg, RELAY_ERR_NO_CLIENT, "too many requests "
		    "to the client are already waiting for this call", NULL);
		return;
	}
	if (p == NULL)
		p = mrtr_park_new(m, h, r);

	a = xcalloc(1, sizeof *a);
	a->upstream_id = jsonrpc_id_copy(jsonrpc_id(msg));
	mrtr_key(p, name, a->key);
	a->req = json_object_new_object();
	json_object_object_add(a->req, "method",
	    json_object_new_string(method));
	if (json_object_object_get_ex(msg, "params", &params))
		json_object_object_add(a->req, "params",
		    json_object_get(params));
	TAILQ_INSERT_TAIL(&p->asks, a, entry);
	p->nasks++;
	log_debug("server %s: %s to ask of a 2026-07-28 client as input "
	    "request %s", handler_name(h), method, a->key);
}

/*
 * Answers the client's request (id, on stream) with the requests not yet
 * asked, under a new requestState.
 */
static void
mrtr_ask_client(struct mrtr_park *p, struct client_stream *stream,
    struct json_object *id, const char *method)
{
	struct json_object	*result, *inputs, *reply;
	struct mrtr_ask		*a;
	char			 mac[MRTR_MAC_LEN + 1], *state;

	mrtr_new_id(p);
	inputs = json_object_new_object();
	TAILQ_FOREACH(a, &p->asks, entry) {
		if (a->asked)
			continue;
		a->asked = 1;
		json_object_object_add(inputs, a->key, json_object_get(a->req));
	}
	mrtr_mac(p->m, p->id, mac);
	xasprintf(&state, "%s%s.%s", MRTR_PREFIX, p->id, mac);
	result = json_object_new_object();
	json_object_object_add(result, "resultType",
	    json_object_new_string("input_required"));
	json_object_object_add(result, "inputRequests", inputs);
	json_object_object_add(result, "requestState",
	    json_object_new_string(state));
	free(state);
	reply = jsonrpc_result_new(id, result);
	era_reply_to_modern(reply, method, "mcprelay", PACKAGE_VERSION);
	mrtr_park_set_state(p, MRTR_WAITING);
	client_stream_write(stream, reply, 1);
	json_object_put(reply);
}

static void
mrtr_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrtr_park	*p = arg;
	struct request		*r = p->r;
	struct client_stream	*stream = r->stream;

	if (stream == NULL) {
		/* The client went away while we gathered. */
		mrtr_refuse_all(p, "the client that made this call can no "
		    "longer be asked");
		mrtr_park_free(p);
		return;
	}
	log_debug("server %s: asking a 2026-07-28 client for %d input(s)",
	    handler_name(p->h), p->nasks);
	/* The client's request ends here; the upstream call goes on. */
	request_detach_stream(r);
	mrtr_ask_client(p, stream, r->client_id, r->method);
}

void
mrtr_request_done(struct mrtr_park *p, struct json_object *reply)
{
	if (p->state == MRTR_GATHERING) {
		/* Not asked yet: the client's request gets the reply itself. */
		mrtr_park_free(p);
		return;
	}
	mrtr_park_set_state(p, MRTR_ENDED);
	json_object_put(p->final);
	p->final = reply != NULL ? json_object_get(reply) : NULL;
}

static void
mrtr_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrtr_park	*p = arg;

	if (p->state == MRTR_WAITING)
		mrtr_refuse_all(p, "the client did not retry with the "
		    "requested input in time");
	mrtr_park_free(p);
}

static void
mrtr_reply(struct client_stream *stream, struct json_object *reply,
    const char *method)
{
	era_reply_to_modern(reply, method, "mcprelay", PACKAGE_VERSION);
	client_stream_write(stream, reply, 1);
	json_object_put(reply);
}

static struct mrtr_park *
mrtr_find(struct mrtr *m, const char *state)
{
	struct mrtr_park	*p;
	char			 mac[MRTR_MAC_LEN + 1], id[MRTR_ID_LEN + 1];
	const char		*dot;

	state += strlen(MRTR_PREFIX);
	if ((dot = strchr(state, '.')) == NULL ||
	    dot - state != MRTR_ID_LEN || strlen(dot + 1) != MRTR_MAC_LEN)
		return NULL;
	memcpy(id, state, MRTR_ID_LEN);
	id[MRTR_ID_LEN] = '\0';
	mrtr_mac(m, id, mac);
	if (!bytes_equal(mac, dot + 1, MRTR_MAC_LEN))
		return NULL;
	TAILQ_FOREACH(p, &m->parks, entry)
		if (p->state != MRTR_GATHERING && strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

/* The retry's answer to every request of the round, or NULL and *missing. */
static int
mrtr_answers_complete(struct mrtr_park *p, struct json_object *responses,
    const char **missing)
{
	struct json_object	*answer;
	struct mrtr_ask		*a;

	TAILQ_FOREACH(a, &p->asks, entry) {
		if (!a->asked)
			continue;
		if (responses == NULL ||
		    !json_object_object_get_ex(responses, a->key, &answer) ||
		    !json_object_is_type(answer, json_type_object)) {
			*missing = a->key;
			return 0;
		}
	}
	return 1;
}

int
mrtr_resume(struct mrtr *m, struct json_object *msg,
    struct client_stream *stream)
{
	struct json_object	*params, *v, *responses = NULL, *answer;
	struct json_object	*reply, *meta, *tok;
	struct mrtr_park	*p;
	struct mrtr_ask		*a, *next;
	struct request		*r;
	const char		*method = jsonrpc_method(msg), *missing = NULL;
	char			 text[160];

	if (m == NULL ||
	    !json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, "requestState", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strncmp(json_object_get_string(v), MRTR_PREFIX,
	    strlen(MRTR_PREFIX)) != 0)
		return 0;
	if ((p = mrtr_find(m, json_object_get_string(v))) == NULL) {
		mrtr_reply(stream, jsonrpc_error_new(jsonrpc_id(msg),
		    JSONRPC_INVALID_PARAMS, "Invalid params: requestState is "
		    "not valid (altered, or expired)", NULL), method);
		return 1;
	}
	if (p->state == MRTR_ENDED) {
		/* The call ended while the client was away. */
		reply = p->final != NULL ? json_object_get(p->final) :
		    jsonrpc_error_new(NULL, JSONRPC_INTERNAL_ERROR, "the "
		    "upstream call ended without a reply", NULL);
		json_object_object_add(reply, "id",
		    jsonrpc_id_copy(jsonrpc_id(msg)));
		mrtr_park_free(p);
		mrtr_reply(stream, reply, method);
		return 1;
	}
	json_object_object_get_ex(params, "inputResponses", &responses);
	if (!mrtr_answers_complete(p, responses, &missing)) {
		snprintf(text, sizeof text, "Invalid params: inputResponses "
		    "must answer '%s'", missing);
		mrtr_reply(stream, jsonrpc_error_new(jsonrpc_id(msg),
		    JSONRPC_INVALID_PARAMS, text, NULL), method);
		return 1;
	}
	TAILQ_FOREACH_SAFE(a, &p->asks, entry, next) {
		if (!a->asked)
			continue;
		json_object_object_get_ex(responses, a->key, &answer);
		handler_answer_server_request(p->h, a->upstream_id,
		    jsonrpc_result_new(NULL, json_object_get(answer)));
		mrtr_ask_free(p, a);
	}
	r = p->r;
	json_object_put(r->client_id);
	r->client_id = jsonrpc_id_copy(jsonrpc_id(msg));
	if (json_object_object_get_ex(params, "_meta", &meta) &&
	    json_object_object_get_ex(meta, "progressToken", &tok)) {
		json_object_put(r->client_progress);
		r->client_progress = json_object_get(tok);
	}
	/* The server asked more while the client was away: another round. */
	if (p->nasks > 0) {
		mrtr_ask_client(p, stream, r->client_id, method);
		return 1;
	}
	/* The retry takes over the parked call: its id, its stream. */
	r->stream = stream;
	TAILQ_INSERT_TAIL(&stream->requests, r, stream_entry);
	mrtr_park_free(p);
	return 1;
}
