/*
 * Multi round-trip requests (2026-07-28) in front of legacy upstreams: a
 * server->client request raised during a modern client's call becomes an
 * InputRequiredResult; the client's retry answers it and takes over the
 * parked upstream call.  requestState is "mcprelay:<id>.<hmac>", the HMAC
 * keyed with random bytes made at start, so a forged or altered state is
 * refused and an id is only good while its park lives.
 */
#include "autoconf.h"

#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "era.h"
#include "errors.h"
#include "handler.h"
#include "jsonrpc.h"
#include "log.h"
#include "mrtr.h"
#include "relay.h"
#include "request.h"
#include "stream.h"
#include "xmalloc.h"

#define MRTR_PREFIX		"mcprelay:"
#define MRTR_ID_LEN		32		/* hex characters */
#define MRTR_MAC_LEN		64		/* hex of SHA-256 */
#define MRTR_DEFAULT_WAIT	60.0		/* seconds for the retry */

struct mrtr_park {
	struct mrtr		*m;
	char			 id[MRTR_ID_LEN + 1];
	struct handler		*h;		/* NULL once the call ended */
	struct request		*r;		/* the parked upstream call */
	struct json_object	*upstream_id;	/* request to answer, or NULL */
	struct json_object	*final;		/* reply that came while parked */
	char			 key[32];	/* the inputRequests key */
	struct event		*timer;
	TAILQ_ENTRY(mrtr_park)	 entry;
};

struct mrtr {
	struct relay		*relay;
	unsigned char		 key[32];
	uint64_t		 seq;
	TAILQ_HEAD(, mrtr_park)	 parks;
};

static void	mrtr_timeout_cb(evutil_socket_t, short, void *);

struct mrtr *
mrtr_new(struct relay *relay)
{
	struct mrtr	*m;

	m = xcalloc(1, sizeof *m);
	m->relay = relay;
	if (getrandom(m->key, sizeof m->key, 0) != (ssize_t)sizeof m->key)
		fatal("getrandom");
	TAILQ_INIT(&m->parks);
	return m;
}

static void
mrtr_park_free(struct mrtr_park *p)
{
	TAILQ_REMOVE(&p->m->parks, p, entry);
	if (p->r != NULL)
		p->r->parked = NULL;
	event_free(p->timer);
	json_object_put(p->upstream_id);
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
	OPENSSL_cleanse(m->key, sizeof m->key);
	free(m);
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
	unsigned char	mac[EVP_MAX_MD_SIZE];
	unsigned int	len = 0;

	HMAC(EVP_sha256(), m->key, sizeof m->key, (const unsigned char *)id,
	    strlen(id), mac, &len);
	mrtr_hex(mac, len, out);
}

static const char *
mrtr_capability(const char *method)
{
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strcmp(method, "elicitation/create") == 0)
		return "elicitation";
	if (strcmp(method, "roots/list") == 0)
		return "roots";
	return NULL;
}

static void
mrtr_refuse(struct handler *h, struct json_object *msg, int code,
    const char *text, struct json_object *data)
{
	handler_answer_server_request(h, jsonrpc_id(msg),
	    jsonrpc_error_new(NULL, code, text, data));
}

void
mrtr_raise(struct mrtr *m, struct handler *h, struct json_object *msg,
    struct request *r)
{
	struct mrtr_park	*p;
	struct json_object	*result, *inputs, *req, *params, *data, *reply;
	struct client_stream	*stream;
	const char		*method = jsonrpc_method(msg), *cap;
	unsigned char		 raw[MRTR_ID_LEN / 2];
	char			 mac[MRTR_MAC_LEN + 1], *state, text[256];
	struct timeval		 tv;
	double			 wait;

	if (m == NULL) {
		mrtr_refuse(h, msg, RELAY_ERR_NO_CLIENT, "no client can answer "
		    "this request", NULL);
		return;
	}
	if ((cap = mrtr_capability(method)) == NULL) {
		mrtr_refuse(h, msg, JSONRPC_METHOD_NOT_FOUND,
		    "Method not found", NULL);
		return;
	}
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
	if (r->stream == NULL || r->parked != NULL) {
		mrtr_refuse(h, msg, RELAY_ERR_NO_CLIENT, "the client that made "
		    "this call can no longer be asked", NULL);
		return;
	}

	p = xcalloc(1, sizeof *p);
	p->m = m;
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		fatal("getrandom");
	mrtr_hex(raw, sizeof raw, p->id);
	p->h = h;
	p->r = r;
	p->upstream_id = jsonrpc_id_copy(jsonrpc_id(msg));
	snprintf(p->key, sizeof p->key, "mcprelay-%llu",
	    (unsigned long long)++m->seq);
	p->timer = evtimer_new(m->relay->base, mrtr_timeout_cb, p);
	wait = handler_config(h)->request_timeout > 0 ?
	    handler_config(h)->request_timeout : MRTR_DEFAULT_WAIT;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(p->timer, &tv);
	TAILQ_INSERT_TAIL(&m->parks, p, entry);
	r->parked = p;

	req = json_object_new_object();
	json_object_object_add(req, "method", json_object_new_string(method));
	if (json_object_object_get_ex(msg, "params", &params))
		json_object_object_add(req, "params", json_object_get(params));
	inputs = json_object_new_object();
	json_object_object_add(inputs, p->key, req);
	mrtr_mac(m, p->id, mac);
	xasprintf(&state, "%s%s.%s", MRTR_PREFIX, p->id, mac);
	result = json_object_new_object();
	json_object_object_add(result, "resultType",
	    json_object_new_string("input_required"));
	json_object_object_add(result, "inputRequests", inputs);
	json_object_object_add(result, "requestState",
	    json_object_new_string(state));
	free(state);
	reply = jsonrpc_result_new(r->client_id, result);
	era_reply_to_modern(reply, r->method, "mcprelay", PACKAGE_VERSION);

	/* The client's request ends here; the upstream call goes on. */
	stream = r->stream;
	request_detach_stream(r);
	client_stream_write(stream, reply, 1);
	json_object_put(reply);
	log_debug("server %s: %s asked of a 2026-07-28 client as input "
	    "request %s", handler_name(h), method, p->key);
}

void
mrtr_request_done(struct mrtr_park *p, struct json_object *reply)
{
	/* The upstream finished the call: its question is moot, its answer
	 * waits for the retry. */
	p->r = NULL;
	p->h = NULL;
	json_object_put(p->upstream_id);
	p->upstream_id = NULL;
	json_object_put(p->final);
	p->final = reply != NULL ? json_object_get(reply) : NULL;
}

static void
mrtr_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrtr_park	*p = arg;

	if (p->h != NULL && p->upstream_id != NULL)
		handler_answer_server_request(p->h, p->upstream_id,
		    jsonrpc_error_new(NULL, RELAY_ERR_NO_CLIENT, "the client "
		    "did not retry with the requested input in time", NULL));
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
	if (CRYPTO_memcmp(mac, dot + 1, MRTR_MAC_LEN) != 0)
		return NULL;
	TAILQ_FOREACH(p, &m->parks, entry)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

int
mrtr_resume(struct mrtr *m, struct json_object *msg,
    struct client_stream *stream)
{
	struct json_object	*params, *v, *responses, *answer, *reply, *meta;
	struct json_object	*tok;
	struct mrtr_park	*p;
	struct request		*r;
	const char		*method = jsonrpc_method(msg);
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
	if (p->r == NULL) {
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
	if (!json_object_object_get_ex(params, "inputResponses", &responses) ||
	    !json_object_object_get_ex(responses, p->key, &answer) ||
	    !json_object_is_type(answer, json_type_object)) {
		snprintf(text, sizeof text, "Invalid params: inputResponses "
		    "must answer '%s'", p->key);
		mrtr_reply(stream, jsonrpc_error_new(jsonrpc_id(msg),
		    JSONRPC_INVALID_PARAMS, text, NULL), method);
		return 1;
	}
	handler_answer_server_request(p->h, p->upstream_id,
	    jsonrpc_result_new(NULL, json_object_get(answer)));

	/* The retry takes over the parked call: its id, its stream. */
	r = p->r;
	json_object_put(r->client_id);
	r->client_id = jsonrpc_id_copy(jsonrpc_id(msg));
	if (json_object_object_get_ex(params, "_meta", &meta) &&
	    json_object_object_get_ex(meta, "progressToken", &tok)) {
		json_object_put(r->client_progress);
		r->client_progress = json_object_get(tok);
	}
	r->stream = stream;
	TAILQ_INSERT_TAIL(&stream->requests, r, stream_entry);
	mrtr_park_free(p);
	return 1;
}
