/*
 * The MCP conformance suite's server fixture for mcprelay-demo-server
 * --conformance (modelcontextprotocol/conformance, src/scenarios/server).
 * Input that a call needs from the client is asked for with real
 * server-to-client requests in the initialize era and with an
 * InputRequiredResult, whose requestState is HMAC-sealed, from 2026-07-28.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "compat-queue.h"
#include "demo-conformance.h"
#include "demo-json.h"
#include "log.h"
#include "xmalloc.h"

#define CONF_META(k)		"io.modelcontextprotocol/" k
#define CONF_STEP_MS		50	/* between a timed tool's messages */
#define CONF_STEPS		3
#define CONF_STATE_TTL		600	/* seconds a requestState is good */
#define CONF_MAX_ROUNDS		8	/* input rounds of one call */
#define CONF_MAC_HEX		64	/* HMAC-SHA256 in hex */

#define JSTR(s)		json_object_new_string(s)
#define JINT(n)		json_object_new_int64(n)
#define JBOOL(b)	json_object_new_boolean(b)

enum {
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
	MCP_MISSING_CAPABILITY = -32021,	/* from 2026-07-28 */
};

/* The reference fixture's 1x1 red PNG and minimal WAV. */
#define CONF_PNG \
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIA" \
    "X8jx0gAAAABJRU5ErkJggg=="
#define CONF_WAV \
    "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

/* RFC 5424 severities as MCP logging names them; info is 1. */
#define CONF_LEVEL_INFO	1

/* A call being served: what tools, flows and prompts see (owned refs). */
struct conf_call {
	struct demo_conf	*c;
	json_object		*id;
	json_object		*args;		/* arguments, an object */
	json_object		*caps;		/* the client's capabilities */
	json_object		*token;		/* progressToken, or NULL */
	int			 stateless;
	int			 log_level;
	int			 code;		/* refusal, when not 0 */
	char			 msg[200];
	json_object		*data;
};

/*
 * Input a call needs: ask() says what to request for this round (an
 * empty object: nothing), answer() makes the result from the round's
 * responses or, with NULL, sets *next to the state of one more round.
 * Both return NULL with call->code set to refuse.
 */
struct conf_flow {
	json_object	*(*ask)(struct conf_call *, json_object *state);
	json_object	*(*answer)(struct conf_call *, json_object *state,
			    json_object *responses, json_object **next);
	int		  adapts;	/* goes on without a refused input */
};

struct conf_wait;

/*
 * A tool answers at once (fn), after CONF_STEPS timed steps (step, then
 * fn), or through a flow.  progress_first sends one progress notification
 * before the flow starts.
 */
struct conf_tool {
	const char		*name;
	const char		*description;
	const char		*schema;	/* inputSchema as JSON text */
	json_object		*(*fn)(struct conf_call *);
	void			 (*step)(struct conf_wait *, int);
	const struct conf_flow	*flow;
	int			 progress_first;
};

enum conf_wait_kind {
	CONF_WAIT_STEPS,	/* a timed tool between its steps */
	CONF_WAIT_INPUT,	/* a legacy call waiting for the client */
	CONF_WAIT_LISTEN,	/* an open subscriptions/listen */
};

struct conf_wait {
	TAILQ_ENTRY(conf_wait)	 entry;
	enum conf_wait_kind	 kind;
	struct conf_call	 call;
	const struct conf_tool	*tool;		/* STEPS, INPUT of a tool */
	const struct conf_flow	*flow;		/* INPUT */
	struct event		*timer;		/* STEPS */
	int			 step;
	json_object		*state;		/* INPUT: this round's */
	json_object		*asked;		/* INPUT: our id -> key */
	json_object		*answers;	/* INPUT: key -> response */
	int			 rounds;
	int			 tools_changed;	/* LISTEN filter */
};

struct demo_conf {
	struct demo_conf_host	 host;
	TAILQ_HEAD(, conf_wait)	 waits;
	json_object		*tools, *resources, *templates, *prompts;
	json_object		*legacy_caps;	/* from the last initialize */
	int			 initialized;	/* a legacy session exists */
	int			 dynamic;	/* test_dynamic_tool listed */
	unsigned char		 key[32];	/* seals requestState */
	unsigned		 seq;		/* our request ids: c-1, c-2 */
};

static void	conf_wait_free(struct conf_wait *);
static void	conf_step_cb(evutil_socket_t, short, void *);

static const char *
jtext(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

static json_object *
conf_fail(struct conf_call *call, int code, json_object *data,
    const char *fmt, ...)
{
	va_list	 ap;

	call->code = code;
	json_object_put(call->data);
	call->data = data;
	va_start(ap, fmt);
	vsnprintf(call->msg, sizeof call->msg, fmt, ap);
	va_end(ap);
	return NULL;
}

static json_object *
conf_text(const char *text, int is_error)
{
	json_object	*r;

	r = jobj("content", jarr1(jobj("type", JSTR("text"), "text",
	    JSTR(text), NULL)), NULL);
	if (is_error)
		json_object_object_add(r, "isError", JBOOL(1));
	return r;
}

static json_object *
conf_textf(const char *fmt, ...)
{
	json_object	*r;
	va_list		 ap;
	char		*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	r = conf_text(s, 0);
	free(s);
	return r;
}

/* ---- requestState: JSON sealed with HMAC-SHA256, "<mac hex>.<json>" ---- */

static void
conf_mac(const struct demo_conf *c, const char *text,
    char hex[CONF_MAC_HEX + 1])
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 len = 0, i;

	if (HMAC(EVP_sha256(), c->key, sizeof c->key,
	    (const unsigned char *)text, strlen(text), mac, &len) == NULL ||
	    len * 2 != CONF_MAC_HEX)
		fatalx("HMAC-SHA256 failed");
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

/* Binds state to the tool or prompt it belongs to and to an expiry. */
static char *
conf_state_seal(struct demo_conf *c, const char *owner, json_object *state)
{
	unsigned char	 nonce[8];
	char		 noncehex[17], mac[CONF_MAC_HEX + 1], *s;
	json_object	*o;
	size_t		 i;

	if (RAND_bytes(nonce, sizeof nonce) != 1)
		fatalx("RAND_bytes failed");
	for (i = 0; i < sizeof nonce; i++)
		snprintf(noncehex + 2 * i, 3, "%02x", nonce[i]);
	o = jobj("owner", JSTR(owner), "expires", JINT(time(NULL) +
	    CONF_STATE_TTL), "nonce", JSTR(noncehex), "state", state != NULL ?
	    json_object_get(state) : json_object_new_object(), NULL);
	conf_mac(c, jtext(o), mac);
	xasprintf(&s, "%s.%s", mac, jtext(o));
	json_object_put(o);
	return s;
}

/* The state inside a sealed requestState, or NULL if it is not ours. */
static json_object *
conf_state_open(struct demo_conf *c, const char *owner, const char *sealed)
{
	char		 mac[CONF_MAC_HEX + 1];
	json_object	*o, *state = NULL, *exp;
	const char	*text;

	if (strlen(sealed) <= CONF_MAC_HEX || sealed[CONF_MAC_HEX] != '.')
		return NULL;
	text = sealed + CONF_MAC_HEX + 1;
	conf_mac(c, text, mac);
	if (CRYPTO_memcmp(mac, sealed, CONF_MAC_HEX) != 0 ||
	    (o = json_tokener_parse(text)) == NULL)
		return NULL;
	exp = jget(o, "expires");
	if (jstr(o, "owner") != NULL && strcmp(jstr(o, "owner"), owner) == 0 &&
	    json_object_is_type(exp, json_type_int) &&
	    json_object_get_int64(exp) >= time(NULL) &&
	    json_object_is_type(jget(o, "state"), json_type_object))
		state = json_object_get(jget(o, "state"));
	json_object_put(o);
	return state;
}

/* ---- input requests and the responses to them ---- */

static json_object *
conf_elicit(const char *message, const char *schema)
{
	return jobj("method", JSTR("elicitation/create"), "params",
	    jobj("message", JSTR(message), "requestedSchema", jparse(schema),
	    NULL), NULL);
}

static json_object *
conf_sampling(const char *prompt, int max_tokens)
{
	return jobj("method", JSTR("sampling/createMessage"), "params",
	    jobj("messages", jarr1(jobj("role", JSTR("user"), "content",
	    jobj("type", JSTR("text"), "text", JSTR(prompt), NULL), NULL)),
	    "maxTokens", JINT(max_tokens), NULL), NULL);
}

static json_object *
conf_roots(void)
{
	return jobj("method", JSTR("roots/list"), "params",
	    json_object_new_object(), NULL);
}

/* The client capability an input request needs. */
static const char *
conf_cap_for(const char *method)
{
	if (method == NULL)
		return NULL;
	if (strcmp(method, "elicitation/create") == 0)
		return "elicitation";
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strcmp(method, "roots/list") == 0)
		return "roots";
	return NULL;
}

/* Never ask for what the client did not declare: -32021 instead. */
static int
conf_check_caps(struct conf_call *call, json_object *asked)
{
	json_object	*missing = json_object_new_object();
	const char	*cap;
	char		 names[64] = "";
	size_t		 n;

	json_object_object_foreach(asked, key, req) {
		cap = conf_cap_for(jstr(req, "method"));
		if (cap == NULL || jget(call->caps, cap) != NULL ||
		    jget(missing, cap) != NULL)
			continue;
		json_object_object_add(missing, cap, json_object_new_object());
		n = strlen(names);
		snprintf(names + n, sizeof names - n, "%s%s", n > 0 ? ", " : "",
		    cap);
		(void)key;
	}
	if (json_object_object_length(missing) == 0) {
		json_object_put(missing);
		return 0;
	}
	conf_fail(call, MCP_MISSING_CAPABILITY, jobj("requiredCapabilities",
	    missing, NULL), "this call needs the client capabilities: %s",
	    names);
	return -1;
}

/* Whether resp has the shape of a result of the input request method. */
static int
conf_response_ok(const char *method, json_object *resp)
{
	const char	*action = jstr(resp, "action");
	json_object	*content = jget(resp, "content");

	if (!json_object_is_type(resp, json_type_object))
		return 0;
	if (strcmp(method, "elicitation/create") == 0)
		return action != NULL && (strcmp(action, "accept") == 0 ||
		    strcmp(action, "decline") == 0 ||
		    strcmp(action, "cancel") == 0) && (content == NULL ||
		    json_object_is_type(content, json_type_object));
	if (strcmp(method, "sampling/createMessage") == 0)
		return json_object_is_type(content, json_type_object) ||
		    json_object_is_type(content, json_type_array);
	if (strcmp(method, "roots/list") == 0)
		return json_object_is_type(jget(resp, "roots"),
		    json_type_array);
	return 0;
}

/*
 * The responses to every request of the round: NULL with call->code 0
 * when some are missing, NULL with call->code set when one is malformed.
 * Keys that were not asked for are ignored.
 */
static json_object *
conf_collect(struct conf_call *call, json_object *asked, json_object *in)
{
	json_object	*got = json_object_new_object(), *resp;
	int		 missing = 0;

	json_object_object_foreach(asked, key, req) {
		if (!json_object_object_get_ex(in, key, &resp)) {
			missing = 1;
			continue;
		}
		if (!conf_response_ok(jstr(req, "method"), resp)) {
			json_object_put(got);
			return conf_fail(call, RPC_INVALID_PARAMS,
			    jobj("inputResponse", JSTR(key), NULL),
			    "inputResponses.%s is not a result of %s", key,
			    jstr(req, "method"));
		}
		json_object_object_add(got, key, json_object_get(resp));
	}
	if (missing) {
		json_object_put(got);
		return NULL;
	}
	return got;
}

/* An elicitation's string field, or NULL if the user did not accept. */
static const char *
conf_elicited(json_object *resp, const char *field)
{
	const char	*action = jstr(resp, "action");

	if (action == NULL || strcmp(action, "accept") != 0)
		return NULL;
	return jstr(jget(resp, "content"), field);
}

/* The text of a CreateMessageResult: content is one block or an array. */
static const char *
conf_sampled(json_object *resp)
{
	json_object	*c = jget(resp, "content");
	size_t		 i;

	if (!json_object_is_type(c, json_type_array))
		return jstr(c, "text");
	for (i = 0; i < json_object_array_length(c); i++)
		if (jstr(json_object_array_get_idx(c, i), "text") != NULL)
			return jstr(json_object_array_get_idx(c, i), "text");
	return NULL;
}

static json_object *
conf_elicit_summary(const char *label, json_object *resp)
{
	json_object	*content = jget(resp, "content");

	return conf_textf("%s: action=%s, content=%s", label,
	    jstr(resp, "action"), content != NULL ? jtext(content) : "{}");
}

/* ---- the flows ---- */

#define S_NAME \
	"{\"type\":\"object\",\"properties\":" \
	"{\"name\":{\"type\":\"string\"}}," \
	"\"required\":[\"name\"]}"
#define S_OK \
	"{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}," \
	"\"required\":[\"ok\"]}"

static json_object *
ask_user_name(struct conf_call *call, json_object *state)
{
	return jobj("user_name", conf_elicit("What is your name?", S_NAME),
	    NULL);
}

static json_object *
answer_user_name(struct conf_call *call, json_object *state,
    json_object *got, json_object **next)
{
	const char	*name = conf_elicited(jget(got, "user_name"), "name");

	if (name == NULL)
		return conf_text("The user did not give a name.", 0);
	return conf_textf("Hello, %s!", name);
}

static json_object *
ask_capital(struct conf_call *call, json_object *state)
{
	return jobj("sample_request", conf_sampling("What is the capital of "
	    "France?", 100), NULL);
}

static json_object *
answer_capital(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	const char	*text = conf_sampled(jget(got, "sample_request"));

	return conf_textf("Sampling result: %s", text != NULL ? text :
	    "no text");
}

static json_object *
ask_roots(struct conf_call *call, json_object *state)
{
	return jobj("roots_request", conf_roots(), NULL);
}

static json_object *
answer_roots(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	return conf_textf("Found %zu root(s)", json_object_array_length(
	    jget(jget(got, "roots_request"), "roots")));
}

static json_object *
ask_confirm(struct conf_call *call, json_object *state)
{
	return jobj("confirm", conf_elicit("Please confirm", S_OK), NULL);
}

/* Answers only with a state of ours: without one, asks again with one. */
static json_object *
answer_request_state(struct conf_call *call, json_object *state,
    json_object *got, json_object **next)
{
	json_object	*ok = jget(jget(jget(got, "confirm"), "content"), "ok");

	if (state == NULL) {
		*next = json_object_new_object();
		return NULL;
	}
	return conf_textf("state-ok: requestState validated (ok=%s)",
	    json_object_get_boolean(ok) ? "true" : "false");
}

static json_object *
answer_tampered_state(struct conf_call *call, json_object *state,
    json_object *got, json_object **next)
{
	if (state == NULL) {
		*next = json_object_new_object();
		return NULL;
	}
	return conf_text("integrity-ok: state verified", 0);
}

static json_object *
ask_multiple(struct conf_call *call, json_object *state)
{
	return jobj("user_name", conf_elicit("What is your name?", S_NAME),
	    "greeting", conf_sampling("Generate a greeting", 50),
	    "client_roots", conf_roots(), NULL);
}

static json_object *
answer_multiple(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	const char	*name = conf_elicited(jget(got, "user_name"), "name");
	const char	*greeting = conf_sampled(jget(got, "greeting"));

	return conf_textf("Name: %s; Greeting: %s; Roots: %zu",
	    name != NULL ? name : "(declined)", greeting != NULL ? greeting :
	    "(no text)", json_object_array_length(jget(jget(got,
	    "client_roots"), "roots")));
}

/* Round 1 asks a name, round 2 (state {round:2, name}) a colour. */
static json_object *
ask_rounds(struct conf_call *call, json_object *state)
{
	if (json_object_get_int(jget(state, "round")) == 2)
		return jobj("step2", conf_elicit("Step 2: What is your "
		    "favorite color?", "{\"type\":\"object\",\"properties\":"
		    "{\"color\":{\"type\":\"string\"}},\"required\":"
		    "[\"color\"]}"), NULL);
	return jobj("step1", conf_elicit("Step 1: What is your name?", S_NAME),
	    NULL);
}

static json_object *
answer_rounds(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	const char	*name, *color;

	if (json_object_get_int(jget(state, "round")) != 2) {
		if ((name = conf_elicited(jget(got, "step1"), "name")) == NULL)
			return conf_text("Multi-round cancelled at step 1", 0);
		*next = jobj("round", JINT(2), "name", JSTR(name), NULL);
		return NULL;
	}
	if ((color = conf_elicited(jget(got, "step2"), "color")) == NULL)
		return conf_text("Multi-round cancelled at step 2", 0);
	return conf_textf("Multi-round complete for %s who likes %s",
	    jstr(state, "name") != NULL ? jstr(state, "name") : "friend",
	    color);
}

/* Asks only for what the client declared; may ask nothing at all. */
static json_object *
ask_declared(struct conf_call *call, json_object *state)
{
	json_object	*asked = json_object_new_object();

	if (jget(call->caps, "elicitation") != NULL)
		json_object_object_add(asked, "elicit_input", conf_elicit(
		    "Elicitation input", "{\"type\":\"object\",\"properties\":"
		    "{\"value\":{\"type\":\"string\"}},\"required\":"
		    "[\"value\"]}"));
	if (jget(call->caps, "sampling") != NULL)
		json_object_object_add(asked, "sample_input",
		    conf_sampling("Sample request", 50));
	return asked;
}

static json_object *
answer_declared(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	char	 keys[128] = "";
	size_t	 n;

	if (json_object_object_length(got) == 0)
		return conf_text("No supported capabilities declared", 0);
	json_object_object_foreach(got, key, v) {
		n = strlen(keys);
		snprintf(keys + n, sizeof keys - n, "%s%s", n > 0 ? "," : "",
		    key);
		(void)v;
	}
	return conf_textf("capabilities-ok: received %s", keys);
}

static json_object *
ask_hello(struct conf_call *call, json_object *state)
{
	return jobj("hello", conf_sampling("Say hello", 20), NULL);
}

static json_object *
answer_hello(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	const char	*text = conf_sampled(jget(got, "hello"));

	return conf_textf("Success: %s", text != NULL ? text : "no text");
}

static json_object *
ask_continue(struct conf_call *call, json_object *state)
{
	return jobj("continue", conf_elicit("Continue the stream?", S_OK),
	    NULL);
}

static json_object *
answer_continue(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	return conf_text("Streaming complete", 0);
}

static json_object *
ask_llm(struct conf_call *call, json_object *state)
{
	const char	*prompt = jstr(call->args, "prompt");

	if (prompt == NULL)
		return conf_fail(call, RPC_INVALID_PARAMS, NULL,
		    "argument 'prompt' must be a string and is required");
	return jobj("llm", conf_sampling(prompt, 100), NULL);
}

static json_object *
answer_llm(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	const char	*text = conf_sampled(jget(got, "llm"));

	return conf_textf("LLM response: %s", text != NULL ? text :
	    "No response");
}

static json_object *
ask_response(struct conf_call *call, json_object *state)
{
	const char	*message = jstr(call->args, "message");

	if (message == NULL)
		return conf_fail(call, RPC_INVALID_PARAMS, NULL,
		    "argument 'message' must be a string and is required");
	return jobj("response", conf_elicit(message, "{\"type\":\"object\","
	    "\"properties\":{\"response\":{\"type\":\"string\","
	    "\"description\":\"User's response\"}},\"required\":"
	    "[\"response\"]}"), NULL);
}

static json_object *
answer_response(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	return conf_elicit_summary("User response", jget(got, "response"));
}

/* SEP-1034: a default for every primitive type. */
static json_object *
ask_defaults(struct conf_call *call, json_object *state)
{
	return jobj("form", conf_elicit("Please review and update the form "
	    "fields with defaults", "{\"type\":\"object\",\"properties\":{"
	    "\"name\":{\"type\":\"string\",\"description\":\"User name\","
	    "\"default\":\"John Doe\"},"
	    "\"age\":{\"type\":\"integer\",\"description\":\"User age\","
	    "\"default\":30},"
	    "\"score\":{\"type\":\"number\",\"description\":\"User score\","
	    "\"default\":95.5},"
	    "\"status\":{\"type\":\"string\",\"description\":\"User status\","
	    "\"enum\":[\"active\",\"inactive\",\"pending\"],"
	    "\"default\":\"active\"},"
	    "\"verified\":{\"type\":\"boolean\",\"description\":"
	    "\"Verification status\",\"default\":true}},\"required\":[]}"),
	    NULL);
}

/* SEP-1330: the five enum shapes. */
static json_object *
ask_enums(struct conf_call *call, json_object *state)
{
	return jobj("form", conf_elicit("Please select options from the enum "
	    "fields", "{\"type\":\"object\",\"properties\":{"
	    "\"untitledSingle\":{\"type\":\"string\",\"description\":"
	    "\"Select one option\",\"enum\":[\"option1\",\"option2\","
	    "\"option3\"]},"
	    "\"titledSingle\":{\"type\":\"string\",\"description\":"
	    "\"Select one option with titles\",\"oneOf\":["
	    "{\"const\":\"value1\",\"title\":\"First Option\"},"
	    "{\"const\":\"value2\",\"title\":\"Second Option\"},"
	    "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
	    "\"legacyEnum\":{\"type\":\"string\",\"description\":"
	    "\"Select one option (legacy)\",\"enum\":[\"opt1\",\"opt2\","
	    "\"opt3\"],\"enumNames\":[\"Option One\",\"Option Two\","
	    "\"Option Three\"]},"
	    "\"untitledMulti\":{\"type\":\"array\",\"description\":"
	    "\"Select multiple options\",\"minItems\":1,\"maxItems\":3,"
	    "\"items\":{\"type\":\"string\",\"enum\":[\"option1\","
	    "\"option2\",\"option3\"]}},"
	    "\"titledMulti\":{\"type\":\"array\",\"description\":"
	    "\"Select multiple options with titles\",\"minItems\":1,"
	    "\"maxItems\":3,\"items\":{\"anyOf\":["
	    "{\"const\":\"value1\",\"title\":\"First Choice\"},"
	    "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
	    "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
	    "\"required\":[]}"), NULL);
}

static json_object *
answer_form(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	return conf_elicit_summary("Elicitation completed", jget(got, "form"));
}

static json_object *
ask_context(struct conf_call *call, json_object *state)
{
	return jobj("user_context", conf_elicit("What context should the "
	    "prompt use?", "{\"type\":\"object\",\"properties\":{\"context\":"
	    "{\"type\":\"string\"}},\"required\":[\"context\"]}"), NULL);
}

static json_object *
answer_context(struct conf_call *call, json_object *state, json_object *got,
    json_object **next)
{
	const char	*context = conf_elicited(jget(got, "user_context"),
			    "context");
	char		*s;
	json_object	*res;

	xasprintf(&s, "Prompt with context: %s", context != NULL ? context :
	    "(none given)");
	res = jobj("description", JSTR("A prompt built from elicited "
	    "context"), "messages", jarr1(jobj("role", JSTR("user"),
	    "content", jobj("type", JSTR("text"), "text", JSTR(s), NULL),
	    NULL)), NULL);
	free(s);
	return res;
}

static const struct conf_flow
    flow_user_name = { ask_user_name, answer_user_name, 0 },
    flow_capital = { ask_capital, answer_capital, 0 },
    flow_roots = { ask_roots, answer_roots, 0 },
    flow_request_state = { ask_confirm, answer_request_state, 0 },
    flow_multiple = { ask_multiple, answer_multiple, 0 },
    flow_rounds = { ask_rounds, answer_rounds, 0 },
    flow_tampered_state = { ask_confirm, answer_tampered_state, 0 },
    flow_declared = { ask_declared, answer_declared, 1 },
    flow_hello = { ask_hello, answer_hello, 0 },
    flow_continue = { ask_continue, answer_continue, 0 },
    flow_llm = { ask_llm, answer_llm, 0 },
    flow_response = { ask_response, answer_response, 0 },
    flow_defaults = { ask_defaults, answer_form, 0 },
    flow_enums = { ask_enums, answer_form, 0 },
    flow_context = { ask_context, answer_context, 0 };

/* ---- running a flow ---- */

/*
 * A 2026-07-28 call brings its state and responses: one answer, which is
 * the result, an InputRequiredResult or an error.  Without requestState
 * the call starts from round 1; a requestState we did not seal is -32602.
 */
static json_object *
conf_flow_stateless(struct conf_call *call, const char *owner,
    const struct conf_flow *f, json_object *params)
{
	json_object	*state = NULL, *in = NULL, *asked, *got, *res = NULL;
	json_object	*next;
	const char	*sealed;
	char		*s;
	int		 round;

	if (jget(params, "requestState") != NULL &&
	    ((sealed = jstr(params, "requestState")) == NULL ||
	    (state = conf_state_open(call->c, owner, sealed)) == NULL))
		return conf_fail(call, RPC_INVALID_PARAMS, NULL,
		    "requestState failed its integrity check");
	if (json_object_object_get_ex(params, "inputResponses", &in) &&
	    !json_object_is_type(in, json_type_object)) {
		json_object_put(state);
		return conf_fail(call, RPC_INVALID_PARAMS, NULL,
		    "inputResponses must be an object");
	}
	for (round = 0; round < CONF_MAX_ROUNDS; round++) {
		if ((asked = f->ask(call, state)) == NULL)
			break;
		if (conf_check_caps(call, asked) == -1) {
			json_object_put(asked);
			break;
		}
		if ((got = conf_collect(call, asked, in)) == NULL) {
			if (call->code == 0) {
				s = conf_state_seal(call->c, owner, state);
				res = jobj("resultType", JSTR("input_required"),
				    "inputRequests", asked, "requestState",
				    JSTR(s), NULL);
				free(s);
			} else
				json_object_put(asked);
			break;
		}
		json_object_put(asked);
		next = NULL;
		res = f->answer(call, state, got, &next);
		json_object_put(got);
		if (res != NULL || next == NULL)
			break;
		json_object_put(state);		/* one more round */
		state = next;
		in = NULL;
	}
	json_object_put(state);
	if (res == NULL && call->code == 0)
		conf_fail(call, RPC_INTERNAL_ERROR, NULL, "too many rounds");
	return res;
}

/* ---- waits: timed tools, legacy input rounds, listen streams ---- */

static struct conf_wait *
conf_wait_new(struct demo_conf *c, enum conf_wait_kind kind,
    struct conf_call *call)
{
	struct conf_wait	*w = xcalloc(1, sizeof *w);

	w->kind = kind;
	w->call = *call;	/* takes the call's references */
	memset(call, 0, sizeof *call);
	TAILQ_INSERT_TAIL(&c->waits, w, entry);
	return w;
}

static void
conf_call_release(struct conf_call *call)
{
	json_object_put(call->id);
	json_object_put(call->args);
	json_object_put(call->caps);
	json_object_put(call->token);
	json_object_put(call->data);
	memset(call, 0, sizeof *call);
}

static void
conf_wait_free(struct conf_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->call.c->waits, w, entry);
	if (w->timer != NULL)
		event_free(w->timer);
	json_object_put(w->state);
	json_object_put(w->asked);
	json_object_put(w->answers);
	conf_call_release(&w->call);
	free(w);
}

/* Sends the call's answer: res, or the refusal in call. */
static void
conf_answer(struct conf_call *call, int cacheable, json_object *res)
{
	const struct demo_conf_host	*h = &call->c->host;

	if (res != NULL)
		h->respond(h->arg, json_object_get(call->id), call->stateless,
		    cacheable, res);
	else {
		h->respond_error(h->arg, json_object_get(call->id),
		    call->code != 0 ? call->code : RPC_INTERNAL_ERROR,
		    call->code != 0 ? call->msg : "internal error", call->data);
		call->data = NULL;
	}
}

static void
conf_notify(struct conf_call *call, const char *method, json_object *params)
{
	const struct demo_conf_host	*h = &call->c->host;

	h->notify(h->arg, json_object_get(call->id), method, params);
}

/* Whether a legacy input request of ours with this id awaits its answer. */
/*
 * A legacy input request: a new id (MCP ids are never reused within a
 * session) and the input's name, the key a 2026-07-28 flow would use, in
 * params._meta "mcprelay/inputKey", so that a proxy turning it into an
 * InputRequiredResult can keep the name (docs/protocol.md).
 */
static json_object *
conf_request_params(json_object *req, const char *key)
{
	json_object	*params, *meta;

	if ((params = jget(req, "params")) != NULL)
		params = json_object_get(params);
	else
		params = json_object_new_object();
	if ((meta = jget(params, "_meta")) == NULL) {
		meta = json_object_new_object();
		json_object_object_add(params, "_meta", meta);
	}
	json_object_object_add(meta, "mcprelay/inputKey", JSTR(key));
	return params;
}

/*
 * Legacy: the round's requests go to the client as real requests; the
 * call goes on when the last response is in.  Returns 0 while waiting,
 * else the call is over and *res is its result (or NULL: refused).
 */
static int
conf_input_round(struct conf_wait *w, json_object **res)
{
	struct conf_call	*call = &w->call;
	json_object		*asked, *next;
	char			 sid[32];

	*res = NULL;
	for (; w->rounds < CONF_MAX_ROUNDS; w->rounds++) {
		if ((asked = w->flow->ask(call, w->state)) == NULL)
			return 1;
		if (conf_check_caps(call, asked) == -1) {
			json_object_put(asked);
			return 1;
		}
		if (json_object_object_length(asked) > 0) {
			json_object_put(w->asked);
			json_object_put(w->answers);
			w->asked = json_object_new_object();
			w->answers = json_object_new_object();
			json_object_object_foreach(asked, key, req) {
				snprintf(sid, sizeof sid, "c-%u",
				    ++call->c->seq);
				json_object_object_add(w->asked, sid,
				    JSTR(key));
				call->c->host.request(call->c->host.arg, sid,
				    jstr(req, "method"),
				    conf_request_params(req, key));
			}
			json_object_put(asked);
			return 0;
		}
		json_object_put(asked);
		next = NULL;
		w->answers = json_object_new_object();	/* nothing asked */
		*res = w->flow->answer(call, w->state, w->answers, &next);
		json_object_put(w->answers);
		w->answers = NULL;
		if (*res != NULL || next == NULL)
			return 1;
		json_object_put(w->state);
		w->state = next;
	}
	conf_fail(call, RPC_INTERNAL_ERROR, NULL, "too many rounds");
	return 1;
}

/*
 * Ends a legacy input call.  -32021 does not exist before 2026-07-28:
 * a tool then reports the missing capability as a tool error.
 */
static void
conf_input_done(struct conf_wait *w, json_object *res)
{
	if (res == NULL && w->tool != NULL &&
	    w->call.code == MCP_MISSING_CAPABILITY)
		res = conf_text(w->call.msg, 1);
	conf_answer(&w->call, 0, res);
	conf_wait_free(w);
}

/*
 * A response to one of our requests (its result, or NULL for an error):
 * the round goes on with the last one.
 */
static void
conf_input_response(struct conf_wait *w, const char *key, json_object *msg)
{
	json_object	*res = NULL, *next = NULL, *asked, *result, *err;
	const char	*method, *why;
	char		*s;

	/*
	 * The client refused for want of a capability: a flow that cannot do
	 * without the input fails the call with the client's own error, as a
	 * 2026-07-28 server would answer -32021 (a proxy in front of a modern
	 * client relies on it); one that adapts goes on without it.
	 */
	err = jget(msg, "error");
	if (err != NULL && !w->flow->adapts &&
	    json_object_get_int(jget(err, "code")) == MCP_MISSING_CAPABILITY) {
		conf_fail(&w->call, MCP_MISSING_CAPABILITY,
		    json_object_get(jget(err, "data")), "%s",
		    jstr(err, "message") != NULL ? jstr(err, "message") :
		    "a client capability is missing");
		conf_answer(&w->call, 0, NULL);
		conf_wait_free(w);
		return;
	}
	result = jget(msg, "result");
	json_object_object_add(w->answers, key, json_object_get(result));
	if (json_object_object_length(w->answers) <
	    json_object_object_length(w->asked))
		return;
	/* Each answer must fit the request it answers. */
	if ((asked = w->flow->ask(&w->call, w->state)) == NULL) {
		conf_input_done(w, NULL);
		return;
	}
	json_object_object_foreach(w->answers, k, resp) {
		method = jstr(jget(asked, k), "method");
		if (resp != NULL && method != NULL &&
		    conf_response_ok(method, resp))
			continue;
		why = jstr(jget(msg, "error"), "message");
		xasprintf(&s, "the client's answer to %s was %s%s",
		    method != NULL ? method : "our request", resp == NULL ?
		    "an error: " : "malformed", resp == NULL && why != NULL ?
		    why : "");
		json_object_put(asked);
		conf_input_done(w, conf_text(s, 1));
		free(s);
		return;
	}
	json_object_put(asked);
	res = w->flow->answer(&w->call, w->state, w->answers, &next);
	json_object_put(w->answers);
	w->answers = NULL;
	if (res == NULL && next != NULL) {
		json_object_put(w->state);
		w->state = next;
		w->rounds++;
		if (!conf_input_round(w, &res))
			return;
	}
	conf_input_done(w, res);
}

/* Starts a flow for a legacy client, with the capabilities it declared. */
static void
conf_flow_legacy(struct demo_conf *c, struct conf_call *call,
    const struct conf_tool *t, const struct conf_flow *f)
{
	struct conf_wait	*w;
	json_object		*res;

	if (c->host.no_requests) {	/* fail at once, never hang */
		conf_fail(call, RPC_INTERNAL_ERROR, NULL, "this transport "
		    "cannot send the client the requests this call needs");
		conf_answer(call, 0, t != NULL ? conf_text(call->msg, 1) :
		    NULL);
		conf_call_release(call);
		return;
	}
	json_object_put(call->caps);
	call->caps = json_object_get(c->legacy_caps);
	w = conf_wait_new(c, CONF_WAIT_INPUT, call);
	w->tool = t;
	w->flow = f;
	w->state = json_object_new_object();	/* ours from the start */
	if (conf_input_round(w, &res))
		conf_input_done(w, res);
}

static void
conf_step_arm(struct conf_wait *w)
{
	struct timeval	 tv = { 0, CONF_STEP_MS * 1000 };

	evtimer_add(w->timer, &tv);
}

/* The next step of a timed tool; after the last one, its result. */
static void
conf_step(struct conf_wait *w)
{
	w->tool->step(w, w->step++);
	if (w->step < CONF_STEPS) {
		conf_step_arm(w);
		return;
	}
	conf_answer(&w->call, 0, w->tool->fn(&w->call));
	conf_wait_free(w);
}

static void
conf_step_cb(evutil_socket_t fd, short what, void *arg)
{
	conf_step(arg);
}

/* ---- tools ---- */

static const char *const conf_log_lines[CONF_STEPS] = {
	"Tool execution started", "Tool processing data",
	"Tool execution completed",
};

static void
step_log(struct conf_wait *w, int i)
{
	struct conf_call	*call = &w->call;

	if (call->log_level == -1 || CONF_LEVEL_INFO < call->log_level)
		return;
	conf_notify(call, "notifications/message", jobj("level",
	    JSTR("info"), "logger", JSTR("conformance"), "data",
	    JSTR(conf_log_lines[i]), NULL));
}

static void
step_progress(struct conf_wait *w, int i)
{
	struct conf_call	*call = &w->call;
	char			 msg[48];

	if (call->token == NULL)
		return;
	snprintf(msg, sizeof msg, "Completed step %d of 100", i * 50);
	conf_notify(call, "notifications/progress", jobj("progressToken",
	    json_object_get(call->token), "progress", JINT(i * 50), "total",
	    JINT(100), "message", JSTR(msg), NULL));
}

static json_object *
tool_logging_done(struct conf_call *call)
{
	return conf_text("Tool with logging executed successfully", 0);
}

static json_object *
tool_progress_done(struct conf_call *call)
{
	if (call->token == NULL)
		return conf_text("no progressToken", 0);
	if (json_object_is_type(call->token, json_type_string))
		return conf_text(json_object_get_string(call->token), 0);
	return conf_text(jtext(call->token), 0);
}

static json_object *
tool_simple_text(struct conf_call *call)
{
	return conf_text("This is a simple text response for testing.", 0);
}

static json_object *
tool_image(struct conf_call *call)
{
	return jobj("content", jarr1(jobj("type", JSTR("image"), "data",
	    JSTR(CONF_PNG), "mimeType", JSTR("image/png"), NULL)), NULL);
}

static json_object *
tool_audio(struct conf_call *call)
{
	return jobj("content", jarr1(jobj("type", JSTR("audio"), "data",
	    JSTR(CONF_WAV), "mimeType", JSTR("audio/wav"), NULL)), NULL);
}

static json_object *
tool_embedded(struct conf_call *call)
{
	return jobj("content", jarr1(jobj("type", JSTR("resource"),
	    "resource", jobj("uri", JSTR("test://embedded-resource"),
	    "mimeType", JSTR("text/plain"), "text", JSTR("This is an "
	    "embedded resource content."), NULL), NULL)), NULL);
}

static json_object *
tool_mixed(struct conf_call *call)
{
	json_object	*a = json_object_new_array();

	json_object_array_add(a, jobj("type", JSTR("text"), "text",
	    JSTR("Multiple content types test:"), NULL));
	json_object_array_add(a, jobj("type", JSTR("image"), "data",
	    JSTR(CONF_PNG), "mimeType", JSTR("image/png"), NULL));
	json_object_array_add(a, jobj("type", JSTR("resource"), "resource",
	    jobj("uri", JSTR("test://mixed-content-resource"), "mimeType",
	    JSTR("application/json"), "text",
	    JSTR("{\"test\":\"data\",\"value\":123}"), NULL), NULL));
	return jobj("content", a, NULL);
}

static json_object *
tool_error(struct conf_call *call)
{
	return conf_text("This tool intentionally returns an error for "
	    "testing", 1);
}

static json_object *
tool_json_schema(struct conf_call *call)
{
	return conf_textf("JSON Schema 2020-12 tool called with: %s",
	    jtext(call->args));
}

/* 2026-07-28: log messages only for requests that set a logLevel. */
static json_object *
tool_log_check(struct conf_call *call)
{
	if (call->log_level != -1 && CONF_LEVEL_INFO >= call->log_level)
		conf_notify(call, "notifications/message", jobj("level",
		    JSTR("info"), "logger", JSTR("conformance"), "data",
		    JSTR("Diagnostic trace logging activated"), NULL));
	return conf_text("Logging evaluated", 0);
}

#define CONF_DYNAMIC_TOOL	"test_dynamic_tool"

/*
 * The tool list really changes (test_dynamic_tool comes or goes, so that
 * a proxy comparing lists sees it): every listen stream that asked is
 * told, and so is a legacy session, if one was initialized.
 */
static json_object *
tool_tools_changed(struct conf_call *call)
{
	struct conf_wait	*w;
	int			 n = 0;

	call->c->dynamic = !call->c->dynamic;
	TAILQ_FOREACH(w, &call->c->waits, entry) {
		if (w->kind != CONF_WAIT_LISTEN || !w->tools_changed)
			continue;
		conf_notify(&w->call, "notifications/tools/list_changed",
		    jobj("_meta", jobj(CONF_META("subscriptionId"),
		    json_object_get(w->call.id), NULL), NULL));
		n++;
	}
	if (call->c->initialized)
		conf_notify(call, "notifications/tools/list_changed",
		    json_object_new_object());
	return conf_textf("Mutation triggered: %s %s; %d listen stream(s) "
	    "told", CONF_DYNAMIC_TOOL, call->c->dynamic ? "added" : "removed",
	    n);
}

/* prompts.listChanged is false: nobody is told. */
static json_object *
tool_dynamic(struct conf_call *call)
{
	return conf_text("The dynamic tool answers.", 0);
}

static json_object *
tool_prompts_changed(struct conf_call *call)
{
	return conf_text("Mutation triggered: prompts do not announce "
	    "changes (prompts.listChanged is false)", 0);
}

#define NO_ARGS		"{\"type\":\"object\",\"properties\":{}}"
#define STRING_ARG(n, d) \
	"{\"type\":\"object\",\"properties\":{\"" n "\":{\"type\":" \
	"\"string\",\"description\":\"" d "\"}},\"required\":[\"" n "\"]}"

/* SEP-1613 and SEP-2106: the JSON Schema 2020-12 keywords must survive. */
#define SCHEMA_2020_12 \
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"," \
	"\"type\":\"object\",\"$defs\":{\"address\":{\"$anchor\":" \
	"\"addressDef\",\"type\":\"object\",\"properties\":{\"street\":" \
	"{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}}," \
	"\"properties\":{\"name\":{\"type\":\"string\"},\"address\":" \
	"{\"$ref\":\"#/$defs/address\"},\"contactMethod\":{\"type\":" \
	"\"string\",\"enum\":[\"phone\",\"email\"]},\"phone\":{\"type\":" \
	"\"string\"},\"email\":{\"type\":\"string\"}},\"allOf\":[{\"anyOf\":" \
	"[{\"required\":[\"phone\"]},{\"required\":[\"email\"]}]}],\"if\":" \
	"{\"properties\":{\"contactMethod\":{\"const\":\"phone\"}}," \
	"\"required\":[\"contactMethod\"]},\"then\":{\"required\":" \
	"[\"phone\"]},\"else\":{\"required\":[\"email\"]}," \
	"\"additionalProperties\":false}"

static const struct conf_tool conf_tools[] = {
	{ "test_simple_text", "Returns one text block.", NO_ARGS,
	  tool_simple_text, NULL, NULL, 0 },
	{ "test_image_content", "Returns a PNG image.", NO_ARGS,
	  tool_image, NULL, NULL, 0 },
	{ "test_audio_content", "Returns a WAV clip.", NO_ARGS,
	  tool_audio, NULL, NULL, 0 },
	{ "test_embedded_resource", "Returns an embedded text resource.",
	  NO_ARGS, tool_embedded, NULL, NULL, 0 },
	{ "test_multiple_content_types",
	  "Returns text, an image and an embedded resource.", NO_ARGS,
	  tool_mixed, NULL, NULL, 0 },
	{ "test_tool_with_logging",
	  "Sends three info log messages 50 ms apart, then answers.",
	  NO_ARGS, tool_logging_done, step_log, NULL, 0 },
	{ "test_tool_with_progress",
	  "Reports progress 0, 50 and 100 of 100, 50 ms apart, then "
	  "answers with the progress token.", NO_ARGS, tool_progress_done,
	  step_progress, NULL, 0 },
	{ "test_error_handling", "Always fails with a tool error.", NO_ARGS,
	  tool_error, NULL, NULL, 0 },
	{ "test_sampling", "Asks the client's model (sampling) the prompt.",
	  STRING_ARG("prompt", "The prompt to send to the LLM"), NULL, NULL,
	  &flow_llm, 0 },
	{ "test_elicitation", "Asks the user (elicitation) the message.",
	  STRING_ARG("message", "The message to show the user"), NULL, NULL,
	  &flow_response, 0 },
	{ "test_elicitation_sep1034_defaults",
	  "Elicits a form with a default for every primitive type.", NO_ARGS,
	  NULL, NULL, &flow_defaults, 0 },
	{ "test_elicitation_sep1330_enums",
	  "Elicits a form with every enum schema variant.", NO_ARGS, NULL,
	  NULL, &flow_enums, 0 },
	{ "json_schema_2020_12_tool",
	  "Tool with JSON Schema 2020-12 features (SEP-1613, SEP-2106).",
	  SCHEMA_2020_12, tool_json_schema, NULL, NULL, 0 },
	{ "test_missing_capability",
	  "Needs the sampling capability: -32021 without it.", NO_ARGS, NULL,
	  NULL, &flow_hello, 0 },
	{ "test_input_required_result_elicitation",
	  "Asks the user's name (elicitation).", NO_ARGS, NULL, NULL,
	  &flow_user_name, 0 },
	{ "test_input_required_result_sampling",
	  "Asks the model a question (sampling).", NO_ARGS, NULL, NULL,
	  &flow_capital, 0 },
	{ "test_input_required_result_list_roots",
	  "Asks the client's roots.", NO_ARGS, NULL, NULL, &flow_roots, 0 },
	{ "test_input_required_result_request_state",
	  "Asks a confirmation and checks its requestState.", NO_ARGS, NULL,
	  NULL, &flow_request_state, 0 },
	{ "test_input_required_result_multiple_inputs",
	  "Asks elicitation, sampling and roots at once.", NO_ARGS, NULL,
	  NULL, &flow_multiple, 0 },
	{ "test_input_required_result_multi_round",
	  "Asks a name, then a colour, in two rounds.", NO_ARGS, NULL, NULL,
	  &flow_rounds, 0 },
	{ "test_input_required_result_tampered_state",
	  "Asks a confirmation; a tampered requestState is -32602.", NO_ARGS,
	  NULL, NULL, &flow_tampered_state, 0 },
	{ "test_input_required_result_capabilities",
	  "Asks only for input the client declared it can give.", NO_ARGS,
	  NULL, NULL, &flow_declared, 0 },
	{ "test_streaming_elicitation",
	  "Reports progress, then asks a confirmation.", NO_ARGS, NULL, NULL,
	  &flow_continue, 1 },
	{ "test_logging_tool",
	  "Logs one info message when the request set a logLevel.", NO_ARGS,
	  tool_log_check, NULL, NULL, 0 },
	{ "test_trigger_tool_change",
	  "Announces a tool list change to the listen streams that asked.",
	  NO_ARGS, tool_tools_changed, NULL, NULL, 0 },
	{ "test_trigger_prompt_change", "Would announce a prompt list change.",
	  NO_ARGS, tool_prompts_changed, NULL, NULL, 0 },
	/* Last: listed only while test_trigger_tool_change added it. */
	{ CONF_DYNAMIC_TOOL, "Comes and goes with test_trigger_tool_change.",
	  NO_ARGS, tool_dynamic, NULL, NULL, 0 },
};
#define CONF_NTOOLS	(sizeof conf_tools / sizeof conf_tools[0])

/* A call for req, with its own references. */
static void
conf_call_init(struct conf_call *call, struct demo_conf *c,
    const struct demo_conf_req *r, json_object *args)
{
	memset(call, 0, sizeof *call);
	call->c = c;
	call->id = json_object_get(r->id);
	call->args = args != NULL ? json_object_get(args) :
	    json_object_new_object();
	call->caps = json_object_get(r->caps);
	call->token = json_object_get(r->token);
	call->stateless = r->stateless;
	call->log_level = r->log_level;
}

static int
conf_tools_call(struct demo_conf *c, const struct demo_conf_req *r)
{
	const struct conf_tool	*t = NULL;
	const char		*name = jstr(r->params, "name");
	json_object		*args = jget(r->params, "arguments");
	struct conf_call	 call;
	struct conf_wait	*w;
	char			*owner;
	size_t			 i;

	for (i = 0; name != NULL && i < CONF_NTOOLS - !c->dynamic; i++)
		if (strcmp(conf_tools[i].name, name) == 0)
			t = &conf_tools[i];
	if (t == NULL)
		return 0;	/* the host's tool, or unknown */
	conf_call_init(&call, c, r, json_object_is_type(args,
	    json_type_object) ? args : NULL);
	if (args != NULL && !json_object_is_type(args, json_type_object)) {
		conf_fail(&call, RPC_INVALID_PARAMS, NULL,
		    "arguments must be an object");
		conf_answer(&call, 0, NULL);
		conf_call_release(&call);
		return 1;
	}
	if (t->progress_first && call.token != NULL)
		conf_notify(&call, "notifications/progress", jobj(
		    "progressToken", json_object_get(call.token), "progress",
		    JINT(50), "total", JINT(100), NULL));
	if (t->flow != NULL && r->stateless) {
		xasprintf(&owner, "tools/call:%s", t->name);
		conf_answer(&call, 0, conf_flow_stateless(&call, owner,
		    t->flow, r->params));
		free(owner);
	} else if (t->flow != NULL) {
		conf_flow_legacy(c, &call, t, t->flow);
		return 1;
	} else if (t->step != NULL) {
		w = conf_wait_new(c, CONF_WAIT_STEPS, &call);
		w->tool = t;
		w->timer = evtimer_new(c->host.base, conf_step_cb, w);
		conf_step(w);
		return 1;
	} else
		conf_answer(&call, 0, t->fn(&call));
	conf_call_release(&call);
	return 1;
}

/* Every tool; the last one is test_dynamic_tool. */
static json_object *
conf_tools_json(void)
{
	json_object	*a = json_object_new_array();
	size_t		 i;

	for (i = 0; i < CONF_NTOOLS; i++)
		json_object_array_add(a, jobj("name", JSTR(conf_tools[i].name),
		    "description", JSTR(conf_tools[i].description),
		    "inputSchema", jparse(conf_tools[i].schema), NULL));
	return a;
}

/* ---- resources ---- */

static const struct conf_resource {
	const char	*uri, *name, *title, *description, *mime;
	const char	*text, *blob;
} conf_resources[] = {
	{ "test://static-text", "static-text", "Static Text Resource",
	  "A static text resource for testing", "text/plain",
	  "This is the content of the static text resource.", NULL },
	{ "test://static-binary", "static-binary", "Static Binary Resource",
	  "A static binary resource (image) for testing", "image/png",
	  NULL, CONF_PNG },
	{ "test://watched-resource", "watched-resource", "Watched Resource",
	  "A resource clients can subscribe to", "text/plain",
	  "Watched resource content", NULL },
};
#define CONF_NRESOURCES	(sizeof conf_resources / sizeof conf_resources[0])

#define CONF_TEMPLATE		"test://template/{id}/data"
#define CONF_TEMPLATE_HEAD	"test://template/"
#define CONF_TEMPLATE_TAIL	"/data"

static int
conf_resource_find(const char *uri)
{
	size_t	 i;

	for (i = 0; uri != NULL && i < CONF_NRESOURCES; i++)
		if (strcmp(conf_resources[i].uri, uri) == 0)
			return (int)i;
	return -1;
}

static json_object *
conf_resources_json(void)
{
	json_object	*a = json_object_new_array();
	size_t		 i;

	for (i = 0; i < CONF_NRESOURCES; i++)
		json_object_array_add(a, jobj("uri",
		    JSTR(conf_resources[i].uri), "name",
		    JSTR(conf_resources[i].name), "title",
		    JSTR(conf_resources[i].title), "description",
		    JSTR(conf_resources[i].description), "mimeType",
		    JSTR(conf_resources[i].mime), NULL));
	return a;
}

/* The {id} of test://template/{id}/data, or NULL. */
static char *
conf_template_id(const char *uri)
{
	size_t	 head = strlen(CONF_TEMPLATE_HEAD);
	size_t	 tail = strlen(CONF_TEMPLATE_TAIL), len;

	if (uri == NULL || strncmp(uri, CONF_TEMPLATE_HEAD, head) != 0)
		return NULL;
	len = strlen(uri);
	if (len <= head + tail ||
	    strcmp(uri + len - tail, CONF_TEMPLATE_TAIL) != 0 ||
	    memchr(uri + head, '/', len - head - tail) != NULL)
		return NULL;
	return xstrndup(uri + head, len - head - tail);
}

static int
conf_resources_read(struct demo_conf *c, const struct demo_conf_req *r)
{
	const char			*uri = jstr(r->params, "uri");
	const struct conf_resource	*res;
	struct conf_call		 call;
	json_object			*item, *data;
	char				*id, *text;
	int				 i;

	if ((i = conf_resource_find(uri)) != -1) {
		res = &conf_resources[i];
		item = jobj("uri", JSTR(res->uri), "mimeType", JSTR(res->mime),
		    NULL);
		json_object_object_add(item, res->text != NULL ? "text" :
		    "blob", JSTR(res->text != NULL ? res->text : res->blob));
	} else if ((id = conf_template_id(uri)) != NULL) {
		xasprintf(&text, "Data for ID: %s", id);
		data = jobj("id", JSTR(id), "templateTest", JBOOL(1), "data",
		    JSTR(text), NULL);
		free(text);
		free(id);
		item = jobj("uri", JSTR(uri), "mimeType",
		    JSTR("application/json"), "text", JSTR(jtext(data)), NULL);
		json_object_put(data);
	} else
		return 0;	/* the host's, or not found */
	conf_call_init(&call, c, r, NULL);
	conf_answer(&call, 1, jobj("contents", jarr1(item), NULL));
	conf_call_release(&call);
	return 1;
}

/*
 * Legacy subscriptions to the fixture's resources: accepted, and never
 * notified, as the resources never change.
 */
static int
conf_subscribe(struct demo_conf *c, const struct demo_conf_req *r)
{
	struct conf_call	 call;

	if (r->stateless || conf_resource_find(jstr(r->params, "uri")) == -1)
		return 0;
	conf_call_init(&call, c, r, NULL);
	conf_answer(&call, 0, json_object_new_object());
	conf_call_release(&call);
	return 1;
}

/* ---- prompts ---- */

static json_object *
conf_message(json_object *content)
{
	return jobj("role", JSTR("user"), "content", content, NULL);
}

static json_object *
conf_text_block(const char *text)
{
	return jobj("type", JSTR("text"), "text", JSTR(text), NULL);
}

static json_object *
prompt_simple(struct conf_call *call)
{
	return jobj("messages", jarr1(conf_message(conf_text_block("This is "
	    "a simple prompt for testing."))), NULL);
}

static json_object *
prompt_arguments(struct conf_call *call)
{
	const char	*a1 = jstr(call->args, "arg1");
	const char	*a2 = jstr(call->args, "arg2");
	json_object	*res;
	char		*s;

	if (a1 == NULL || a2 == NULL)
		return conf_fail(call, RPC_INVALID_PARAMS, NULL, "prompt "
		    "'test_prompt_with_arguments' needs the string arguments "
		    "'arg1' and 'arg2'");
	xasprintf(&s, "Prompt with arguments: arg1='%s', arg2='%s'", a1, a2);
	res = jobj("messages", jarr1(conf_message(conf_text_block(s))), NULL);
	free(s);
	return res;
}

static json_object *
prompt_embedded(struct conf_call *call)
{
	const char	*uri = jstr(call->args, "resourceUri");
	json_object	*msgs;

	if (uri == NULL)
		return conf_fail(call, RPC_INVALID_PARAMS, NULL, "prompt "
		    "'test_prompt_with_embedded_resource' needs the string "
		    "argument 'resourceUri'");
	msgs = jarr1(conf_message(jobj("type", JSTR("resource"), "resource",
	    jobj("uri", JSTR(uri), "mimeType", JSTR("text/plain"), "text",
	    JSTR("Embedded resource content for testing."), NULL), NULL)));
	json_object_array_add(msgs, conf_message(conf_text_block("Please "
	    "process the embedded resource above.")));
	return jobj("messages", msgs, NULL);
}

static json_object *
prompt_image(struct conf_call *call)
{
	json_object	*msgs;

	msgs = jarr1(conf_message(jobj("type", JSTR("image"), "data",
	    JSTR(CONF_PNG), "mimeType", JSTR("image/png"), NULL)));
	json_object_array_add(msgs, conf_message(conf_text_block("Please "
	    "analyze the image above.")));
	return jobj("messages", msgs, NULL);
}

static const struct conf_prompt {
	const char		*name, *title, *description;
	const char		*arguments;	/* JSON text, or NULL */
	json_object		*(*fn)(struct conf_call *);
	const struct conf_flow	*flow;
} conf_prompts[] = {
	{ "test_simple_prompt", "Simple Test Prompt",
	  "A simple prompt without arguments", NULL, prompt_simple, NULL },
	{ "test_prompt_with_arguments", "Prompt With Arguments",
	  "A prompt with required arguments",
	  "[{\"name\":\"arg1\",\"description\":\"First test argument\","
	  "\"required\":true},{\"name\":\"arg2\",\"description\":"
	  "\"Second test argument\",\"required\":true}]", prompt_arguments,
	  NULL },
	{ "test_prompt_with_embedded_resource",
	  "Prompt With Embedded Resource",
	  "A prompt that includes an embedded resource",
	  "[{\"name\":\"resourceUri\",\"description\":"
	  "\"URI of the resource to embed\",\"required\":true}]",
	  prompt_embedded, NULL },
	{ "test_prompt_with_image", "Prompt With Image",
	  "A prompt that includes image content", NULL, prompt_image, NULL },
	{ "test_input_required_result_prompt", "Prompt Needing Input",
	  "A prompt that asks the user for context first", NULL, NULL,
	  &flow_context },
};
#define CONF_NPROMPTS	(sizeof conf_prompts / sizeof conf_prompts[0])

static json_object *
conf_prompts_json(void)
{
	json_object	*a = json_object_new_array(), *p;
	size_t		 i;

	for (i = 0; i < CONF_NPROMPTS; i++) {
		p = jobj("name", JSTR(conf_prompts[i].name), "title",
		    JSTR(conf_prompts[i].title), "description",
		    JSTR(conf_prompts[i].description), NULL);
		if (conf_prompts[i].arguments != NULL)
			json_object_object_add(p, "arguments",
			    jparse(conf_prompts[i].arguments));
		json_object_array_add(a, p);
	}
	return a;
}

static int
conf_prompts_get(struct demo_conf *c, const struct demo_conf_req *r)
{
	const struct conf_prompt	*p = NULL;
	const char			*name = jstr(r->params, "name");
	json_object			*args = jget(r->params, "arguments");
	struct conf_call		 call;
	char				*owner;
	size_t				 i;

	for (i = 0; name != NULL && i < CONF_NPROMPTS; i++)
		if (strcmp(conf_prompts[i].name, name) == 0)
			p = &conf_prompts[i];
	if (p == NULL)
		return 0;
	conf_call_init(&call, c, r, json_object_is_type(args,
	    json_type_object) ? args : NULL);
	if (p->flow != NULL && r->stateless) {
		xasprintf(&owner, "prompts/get:%s", p->name);
		conf_answer(&call, 0, conf_flow_stateless(&call, owner,
		    p->flow, r->params));
		free(owner);
	} else if (p->flow != NULL) {
		conf_flow_legacy(c, &call, NULL, p->flow);
		return 1;
	} else
		conf_answer(&call, 0, p->fn(&call));
	conf_call_release(&call);
	return 1;
}

/* ---- completion ---- */

static const char *const conf_arg_values[] = {
	"paris", "park", "party", "test", "testing", "tested", NULL
};
static const char *const conf_id_values[] = {
	"1", "2", "3", "12", "123", NULL
};

/* Completions for the fixture's prompt arguments and template id. */
static int
conf_complete(struct demo_conf *c, const struct demo_conf_req *r)
{
	json_object		*ref = jget(r->params, "ref"), *values;
	json_object		*arg = jget(r->params, "argument");
	const char		*type = jstr(ref, "type"), *prefix;
	const char		*argname = jstr(arg, "name");
	const char *const	*list = NULL;
	struct conf_call	 call;
	size_t			 i;

	if (type == NULL || argname == NULL)
		return 0;
	if (strcmp(type, "ref/prompt") == 0 && jstr(ref, "name") != NULL &&
	    strcmp(jstr(ref, "name"), "test_prompt_with_arguments") == 0 &&
	    (strcmp(argname, "arg1") == 0 || strcmp(argname, "arg2") == 0))
		list = conf_arg_values;
	else if (strcmp(type, "ref/resource") == 0 && jstr(ref, "uri") !=
	    NULL && strcmp(jstr(ref, "uri"), CONF_TEMPLATE) == 0 &&
	    strcmp(argname, "id") == 0)
		list = conf_id_values;
	else
		return 0;
	prefix = jstr(arg, "value") != NULL ? jstr(arg, "value") : "";
	values = json_object_new_array();
	for (i = 0; list[i] != NULL; i++)
		if (strncmp(list[i], prefix, strlen(prefix)) == 0)
			json_object_array_add(values, JSTR(list[i]));
	conf_call_init(&call, c, r, NULL);
	conf_answer(&call, 0, jobj("completion", jobj("values", values,
	    "total", JINT(json_object_array_length(values)), "hasMore",
	    JBOOL(0), NULL), NULL));
	conf_call_release(&call);
	return 1;
}

/* ---- subscriptions/listen (2026-07-28) ---- */

/*
 * Acknowledges the part of the filter that is honoured (tool list
 * changes; the fixture's resources never change) and stays open until
 * the client cancels it or the input closes.
 */
static int
conf_listen(struct demo_conf *c, const struct demo_conf_req *r)
{
	json_object		*filter = NULL, *honoured;
	struct conf_call	 call;
	struct conf_wait	*w;
	int			 tools;

	if (!r->stateless)
		return 0;
	conf_call_init(&call, c, r, NULL);
	if (json_object_object_get_ex(r->params, "notifications", &filter) &&
	    !json_object_is_type(filter, json_type_object)) {
		conf_fail(&call, RPC_INVALID_PARAMS, NULL,
		    "notifications must be an object");
		conf_answer(&call, 0, NULL);
		conf_call_release(&call);
		return 1;
	}
	tools = json_object_get_boolean(jget(filter, "toolsListChanged"));
	honoured = json_object_new_object();
	if (tools)
		json_object_object_add(honoured, "toolsListChanged", JBOOL(1));
	conf_notify(&call, "notifications/subscriptions/acknowledged", jobj(
	    "_meta", jobj(CONF_META("subscriptionId"), json_object_get(
	    call.id), NULL), "notifications", honoured, NULL));
	w = conf_wait_new(c, CONF_WAIT_LISTEN, &call);
	w->tools_changed = tools;
	return 1;
}

/* A graceful end: the listen request's own result, tagged with its id. */
static void
conf_listen_close(struct conf_wait *w)
{
	const struct demo_conf_host	*h = &w->call.c->host;

	h->respond(h->arg, json_object_get(w->call.id), 0, 0, jobj(
	    "resultType", JSTR("complete"), "_meta", jobj(
	    CONF_META("subscriptionId"), json_object_get(w->call.id), NULL),
	    NULL));
}

/* ---- the host's entry points ---- */

struct demo_conf *
demo_conf_new(const struct demo_conf_host *host)
{
	struct demo_conf	*c = xcalloc(1, sizeof *c);

	c->host = *host;
	TAILQ_INIT(&c->waits);
	if (RAND_bytes(c->key, sizeof c->key) != 1)
		fatalx("RAND_bytes failed");
	c->tools = conf_tools_json();
	c->resources = conf_resources_json();
	c->templates = jarr1(jobj("uriTemplate", JSTR(CONF_TEMPLATE), "name",
	    JSTR("template"), "title", JSTR("Resource Template"),
	    "description", JSTR("A resource template with parameter "
	    "substitution"), "mimeType", JSTR("application/json"), NULL));
	c->prompts = conf_prompts_json();
	c->legacy_caps = json_object_new_object();
	return c;
}

void
demo_conf_free(struct demo_conf *c)
{
	if (c == NULL)
		return;
	while (!TAILQ_EMPTY(&c->waits))
		conf_wait_free(TAILQ_FIRST(&c->waits));
	json_object_put(c->tools);
	json_object_put(c->resources);
	json_object_put(c->templates);
	json_object_put(c->prompts);
	json_object_put(c->legacy_caps);
	OPENSSL_cleanse(c->key, sizeof c->key);
	free(c);
}

int
demo_conf_handle(struct demo_conf *c, const struct demo_conf_req *r)
{
	json_object	*caps;

	if (strcmp(r->method, "initialize") == 0) {
		/* Legacy input requests follow what the client declared. */
		caps = jget(r->params, "capabilities");
		json_object_put(c->legacy_caps);
		c->legacy_caps = json_object_is_type(caps, json_type_object) ?
		    json_object_get(caps) : json_object_new_object();
		c->initialized = 1;
		return 0;
	}
	if (strcmp(r->method, "tools/call") == 0)
		return conf_tools_call(c, r);
	if (strcmp(r->method, "resources/read") == 0)
		return conf_resources_read(c, r);
	if (strcmp(r->method, "resources/subscribe") == 0 ||
	    strcmp(r->method, "resources/unsubscribe") == 0)
		return conf_subscribe(c, r);
	if (strcmp(r->method, "prompts/get") == 0)
		return conf_prompts_get(c, r);
	if (strcmp(r->method, "completion/complete") == 0)
		return conf_complete(c, r);
	if (strcmp(r->method, "subscriptions/listen") == 0)
		return conf_listen(c, r);
	return 0;
}

void
demo_conf_extend(struct demo_conf *c, const char *method, json_object *result)
{
	json_object	*mine, *list;
	const char	*key;
	size_t		 i, n;

	if (strcmp(method, "tools/list") == 0)
		key = "tools", mine = c->tools;
	else if (strcmp(method, "resources/list") == 0)
		key = "resources", mine = c->resources;
	else if (strcmp(method, "resources/templates/list") == 0)
		key = "resourceTemplates", mine = c->templates;
	else if (strcmp(method, "prompts/list") == 0)
		key = "prompts", mine = c->prompts;
	else
		return;
	list = jget(result, key);
	if (jget(result, "nextCursor") != NULL ||
	    !json_object_is_type(list, json_type_array))
		return;		/* the fixture's entries end the last page */
	n = json_object_array_length(mine);
	if (mine == c->tools && !c->dynamic)
		n--;		/* test_dynamic_tool is away */
	for (i = 0; i < n; i++)
		json_object_array_add(list, json_object_get(
		    json_object_array_get_idx(mine, i)));
}

int
demo_conf_response(struct demo_conf *c, json_object *msg)
{
	struct conf_wait	*w;
	const char		*sid = jstr(msg, "id");
	json_object		*key;

	if (sid == NULL)
		return 0;
	TAILQ_FOREACH(w, &c->waits, entry) {
		if (w->kind != CONF_WAIT_INPUT ||
		    !json_object_object_get_ex(w->asked, sid, &key))
			continue;
		if (!json_object_object_get_ex(w->answers,
		    json_object_get_string(key), NULL))
			conf_input_response(w, json_object_get_string(key),
			    msg);
		return 1;
	}
	return 0;
}

void
demo_conf_cancel(struct demo_conf *c, json_object *id)
{
	struct conf_wait	*w;

	TAILQ_FOREACH(w, &c->waits, entry) {
		if (json_object_equal(w->call.id, id)) {
			conf_wait_free(w);
			return;
		}
	}
}

void
demo_conf_input_closed(struct demo_conf *c)
{
	struct conf_wait	*w;

	while ((w = TAILQ_FIRST(&c->waits)) != NULL) {
		switch (w->kind) {
		case CONF_WAIT_STEPS:
			evtimer_del(w->timer);
			while (w->step < CONF_STEPS - 1)
				w->tool->step(w, w->step++);
			conf_step(w);		/* the last step frees w */
			break;
		case CONF_WAIT_INPUT:
			conf_input_done(w, conf_text("the input closed before "
			    "the client answered", 1));
			break;
		case CONF_WAIT_LISTEN:
			conf_listen_close(w);
			conf_wait_free(w);
			break;
		}
	}
}
