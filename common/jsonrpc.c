/*
 * JSON-RPC 2.0 on json-c; see jsonrpc.h.  Messages come from clients and
 * upstreams we do not trust, so parsing is strict and every rejection
 * carries a reason that can go back in an error reply.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonrpc.h"
#include "log.h"
#include "xmalloc.h"

static const char *const jsonrpc_kind_names[] = {
	[JSONRPC_REQUEST] = "request",
	[JSONRPC_NOTIFICATION] = "notification",
	[JSONRPC_RESULT] = "result",
	[JSONRPC_ERROR] = "error",
	[JSONRPC_BATCH] = "batch",
	[JSONRPC_INVALID] = "invalid",
};

/* Running out of memory is fatal, as with xmalloc(). */
static struct json_object *
jsonrpc_alloc(struct json_object *o)
{
	if (o == NULL)
		fatalx("json-c: out of memory");
	return o;
}

/* Member names are literals: json-c need neither copy nor look them up. */
static void
jsonrpc_add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add_ex(o, key, v,
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static int
jsonrpc_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *
jsonrpc_tokener_reason(enum json_tokener_error err)
{
	switch (err) {
	case json_tokener_error_depth:
		return "JSON nested too deeply";
	case json_tokener_error_parse_eof:
		return "JSON text ends too early";
	case json_tokener_error_parse_utf8_string:
		return "invalid UTF-8 in JSON text";
	case json_tokener_error_parse_unexpected:
		return "unexpected character in JSON text";
	default:
		return json_tokener_error_desc(err);
	}
}

/*
 * A tokener kept by whoever parses many messages (a listener, a handler, a
 * transport): json_tokener_new_ex() allocates its parse stack each time,
 * which was 8-10 % of the instructions of a proxied call.
 */
struct jsonrpc_parser {
	struct json_tokener	*tok;
};

struct jsonrpc_parser *
jsonrpc_parser_new(void)
{
	struct jsonrpc_parser	*p;

	p = xcalloc(1, sizeof *p);
	if ((p->tok = json_tokener_new_ex(JSONRPC_MAX_DEPTH)) == NULL)
		fatalx("json-c: out of memory");
	json_tokener_set_flags(p->tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return p;
}

void
jsonrpc_parser_free(struct jsonrpc_parser *p)
{
	if (p == NULL)
		return;
	json_tokener_free(p->tok);
	free(p);
}

struct json_object *
jsonrpc_parse_with(struct jsonrpc_parser *p, const char *buf, size_t len,
    const char **reason)
{
	struct json_tokener		*tok;
	struct json_object		*obj = NULL;
	enum json_tokener_error		 err;
	const char			*why = NULL;
	size_t				 end;

	if (p == NULL)		/* an owner made without one (tests) */
		return jsonrpc_parse(buf, len, reason);
	tok = p->tok;
	if (len == 0)
		why = "empty message";
	else if (len >= INT_MAX)
		why = "message too large";
	else if (memchr(buf, '\0', len) != NULL)
		why = "NUL byte in message";
	if (why != NULL)
		goto fail;

	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (err == json_tokener_continue) {
		/*
		 * A number or literal running to the end of buf is only
		 * complete once json-c sees the end of input: a NUL says so.
		 */
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		end = len;
	}
	/* Nothing of this message is left for the next one. */
	json_tokener_reset(tok);

	if (err != json_tokener_success)
		why = jsonrpc_tokener_reason(err);
	else if (obj == NULL)
		why = "message is JSON null";
	else {
		for (; end < len; end++) {
			if (!jsonrpc_is_ws(buf[end])) {
				why = "trailing characters after JSON value";
				break;
			}
		}
	}
	if (why == NULL)
		return obj;
	json_object_put(obj);
fail:
	if (reason != NULL)
		*reason = why;
	return NULL;
}

struct json_object *
jsonrpc_parse(const char *buf, size_t len, const char **reason)
{
	struct jsonrpc_parser	*p = jsonrpc_parser_new();
	struct json_object	*obj;

	obj = jsonrpc_parse_with(p, buf, len, reason);
	jsonrpc_parser_free(p);
	return obj;
}

static int
jsonrpc_valid_id(struct json_object *id)
{
	enum json_type	t = json_object_get_type(id);

	return t == json_type_string || t == json_type_int;
}

static const char *
jsonrpc_check_error_object(struct json_object *error)
{
	struct json_object	*code, *message;
	int64_t			 c;

	if (!json_object_is_type(error, json_type_object))
		return "\"error\" must be an object";
	if (!json_object_object_get_ex(error, "code", &code))
		return "error has no \"code\"";
	if (!json_object_is_type(code, json_type_int))
		return "error \"code\" must be an integer";
	c = json_object_get_int64(code);
	if (c < INT_MIN || c > INT_MAX)
		return "error \"code\" is out of range";
	if (!json_object_object_get_ex(error, "message", &message))
		return "error has no \"message\"";
	if (!json_object_is_type(message, json_type_string))
		return "error \"message\" must be a string";
	return NULL;
}

/* Returns why msg is invalid, or NULL with *kind set. */
static const char *
jsonrpc_check(struct json_object *msg, enum jsonrpc_kind *kind)
{
	struct json_object	*v, *id, *method, *params, *result, *error;
	int			 has_id, has_method, has_params;
	int			 has_result, has_error;

	switch (json_object_get_type(msg)) {
	case json_type_array:
		if (json_object_array_length(msg) == 0)
			return "empty batch";
		*kind = JSONRPC_BATCH;
		return NULL;
	case json_type_object:
		break;
	default:
		return "message is not a JSON object";
	}

	if (!json_object_object_get_ex(msg, "jsonrpc", &v))
		return "missing \"jsonrpc\" member";
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) != 3 ||
	    memcmp(json_object_get_string(v), "2.0", 3) != 0)
		return "\"jsonrpc\" must be \"2.0\"";

	has_id = json_object_object_get_ex(msg, "id", &id);
	has_method = json_object_object_get_ex(msg, "method", &method);
	has_params = json_object_object_get_ex(msg, "params", &params);
	has_result = json_object_object_get_ex(msg, "result", &result);
	has_error = json_object_object_get_ex(msg, "error", &error);

	if (has_method) {
		if (!json_object_is_type(method, json_type_string))
			return "\"method\" must be a string";
		/* Routing reads it as a C string: it must say the same. */
		if (strlen(json_object_get_string(method)) !=
		    (size_t)json_object_get_string_len(method))
			return "\"method\" must not contain NUL";
		if (has_result || has_error)
			return "a request cannot carry \"result\" or \"error\"";
		if (has_params &&
		    !json_object_is_type(params, json_type_object) &&
		    !json_object_is_type(params, json_type_array))
			return "\"params\" must be an object or an array";
		if (!has_id) {
			*kind = JSONRPC_NOTIFICATION;
			return NULL;
		}
		if (id == NULL)
			return "request \"id\" must not be null";
		if (!jsonrpc_valid_id(id))
			return "request \"id\" must be a string or an integer";
		*kind = JSONRPC_REQUEST;
		return NULL;
	}

	if (has_result && has_error)
		return "response has both \"result\" and \"error\"";
	if (!has_result && !has_error)
		return "message has no \"method\", \"result\" or \"error\"";
	if (!has_id)
		return "response has no \"id\"";
	if (has_result) {
		if (id == NULL)
			return "result \"id\" must not be null";
		if (!jsonrpc_valid_id(id))
			return "result \"id\" must be a string or an integer";
		*kind = JSONRPC_RESULT;
		return NULL;
	}
	/* A null id answers a message whose id could not be read. */
	if (id != NULL && !jsonrpc_valid_id(id))
		return "error \"id\" must be a string, an integer or null";
	*kind = JSONRPC_ERROR;
	return jsonrpc_check_error_object(error);
}

enum jsonrpc_kind
jsonrpc_classify(struct json_object *msg, const char **reason)
{
	enum jsonrpc_kind	 kind = JSONRPC_INVALID;
	const char		*why;

	if ((why = jsonrpc_check(msg, &kind)) == NULL)
		return kind;
	if (reason != NULL)
		*reason = why;
	return JSONRPC_INVALID;
}

const char *
jsonrpc_kind_name(enum jsonrpc_kind kind)
{
	if ((unsigned)kind > JSONRPC_INVALID)
		return "unknown";
	return jsonrpc_kind_names[kind];
}

static struct json_object *
jsonrpc_member(struct json_object *msg, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(msg, key, &v))
		return NULL;
	return v;
}

const char *
jsonrpc_method(struct json_object *msg)
{
	struct json_object	*m = jsonrpc_member(msg, "method");

	if (!json_object_is_type(m, json_type_string))
		return NULL;
	return json_object_get_string(m);
}

struct json_object *
jsonrpc_id(struct json_object *msg)
{
	return jsonrpc_member(msg, "id");
}

struct json_object *
jsonrpc_params(struct json_object *msg)
{
	return jsonrpc_member(msg, "params");
}

struct json_object *
jsonrpc_result(struct json_object *msg)
{
	return jsonrpc_member(msg, "result");
}

int
jsonrpc_error_code(struct json_object *msg)
{
	struct json_object	*code;

	code = jsonrpc_member(jsonrpc_member(msg, "error"), "code");
	if (!json_object_is_type(code, json_type_int))
		return 0;
	return json_object_get_int(code);
}

const char *
jsonrpc_error_message(struct json_object *msg)
{
	struct json_object	*m;

	m = jsonrpc_member(jsonrpc_member(msg, "error"), "message");
	if (!json_object_is_type(m, json_type_string))
		return NULL;
	return json_object_get_string(m);
}

const char *
jsonrpc_error_text(int code)
{
	switch (code) {
	case JSONRPC_PARSE_ERROR:
		return "Parse error";
	case JSONRPC_INVALID_REQUEST:
		return "Invalid Request";
	case JSONRPC_METHOD_NOT_FOUND:
		return "Method not found";
	case JSONRPC_INVALID_PARAMS:
		return "Invalid params";
	case JSONRPC_INTERNAL_ERROR:
		return "Internal error";
	default:
		return "Server error";
	}
}

/* A reply's id: a new reference to a usable id, else null. */
static struct json_object *
jsonrpc_reply_id(struct json_object *id)
{
	if (!jsonrpc_valid_id(id))
		return NULL;
	return json_object_get(id);
}

static struct json_object *
jsonrpc_message_new(void)
{
	struct json_object	*o;

	o = jsonrpc_alloc(json_object_new_object());
	jsonrpc_add(o, "jsonrpc",
	    jsonrpc_alloc(json_object_new_string_len("2.0", 3)));
	return o;
}

struct json_object *
jsonrpc_error_new(struct json_object *id, int code, const char *message,
    struct json_object *data)
{
	struct json_object	*o, *error;

	if (message == NULL)
		message = jsonrpc_error_text(code);
	error = jsonrpc_alloc(json_object_new_object());
	jsonrpc_add(error, "code", jsonrpc_alloc(json_object_new_int(code)));
	jsonrpc_add(error, "message",
	    jsonrpc_alloc(json_object_new_string(message)));
	if (data != NULL)
		jsonrpc_add(error, "data", data);

	o = jsonrpc_message_new();
	jsonrpc_add(o, "id", jsonrpc_reply_id(id));
	jsonrpc_add(o, "error", error);
	return o;
}

struct json_object *
jsonrpc_result_new(struct json_object *id, struct json_object *result)
{
	struct json_object	*o;

	o = jsonrpc_message_new();
	jsonrpc_add(o, "id", jsonrpc_reply_id(id));
	jsonrpc_add(o, "result", result);
	return o;
}

struct json_object *
jsonrpc_request_new(struct json_object *id, const char *method,
    struct json_object *params)
{
	struct json_object	*o;

	o = jsonrpc_message_new();
	jsonrpc_add(o, "id", id);
	jsonrpc_add(o, "method", jsonrpc_alloc(json_object_new_string(method)));
	if (params != NULL)
		jsonrpc_add(o, "params", params);
	return o;
}

struct json_object *
jsonrpc_notification_new(const char *method, struct json_object *params)
{
	struct json_object	*o;

	o = jsonrpc_message_new();
	jsonrpc_add(o, "method", jsonrpc_alloc(json_object_new_string(method)));
	if (params != NULL)
		jsonrpc_add(o, "params", params);
	return o;
}

const char *
jsonrpc_to_string(struct json_object *o, size_t *len)
{
	const char	*s;
	size_t		 l;

	s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
	if (s == NULL)
		fatalx("json-c: out of memory");
	if (len != NULL)
		*len = l;
	return s;
}

/* A uint64 id above INT64_MAX reads as INT64_MAX through get_int64. */
static int
jsonrpc_id_is_big(struct json_object *id)
{
	return json_object_get_int64(id) == INT64_MAX &&
	    json_object_get_uint64(id) > (uint64_t)INT64_MAX;
}

size_t
jsonrpc_int_text(int64_t v, char *buf)
{
	char		 digits[JSONRPC_INT_TEXT], *p = digits + sizeof digits;
	uint64_t	 u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t		 n;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	n = (size_t)(digits + sizeof digits - p);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return n;
}

const char *
jsonrpc_id_text(struct json_object *id, char *buf, size_t *len)
{
	if (json_object_is_type(id, json_type_int) && !jsonrpc_id_is_big(id)) {
		*len = jsonrpc_int_text(json_object_get_int64(id), buf);
		return buf;
	}
	return json_object_to_json_string_length(id, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

char *
jsonrpc_splice(const char *text, size_t len, size_t at, size_t end,
    const char *id, size_t idlen, char *buf, size_t size, size_t *outlen,
    int *allocated)
{
	size_t	n = at + idlen + (len - end);

	*allocated = n + 1 > size;
	if (*allocated)
		buf = xmalloc(n + 1);
	memcpy(buf, text, at);
	memcpy(buf + at, id, idlen);
	memcpy(buf + at + idlen, text + end, len - end);
	buf[n] = '\0';
	*outlen = n;
	return buf;
}

int
jsonrpc_id_equal(struct json_object *a, struct json_object *b)
{
	enum json_type	ta = json_object_get_type(a);

	if (ta != json_object_get_type(b))
		return 0;
	switch (ta) {
	case json_type_null:
		return 1;
	case json_type_string:
		return json_object_get_string_len(a) ==
		    json_object_get_string_len(b) &&
		    memcmp(json_object_get_string(a), json_object_get_string(b),
		    json_object_get_string_len(a)) == 0;
	case json_type_int:
		if (jsonrpc_id_is_big(a) || jsonrpc_id_is_big(b))
			return json_object_get_uint64(a) ==
			    json_object_get_uint64(b) &&
			    jsonrpc_id_is_big(a) == jsonrpc_id_is_big(b);
		return json_object_get_int64(a) == json_object_get_int64(b);
	default:
		return 0;
	}
}

struct json_object *
jsonrpc_id_copy(struct json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_string:
		return jsonrpc_alloc(json_object_new_string_len(
		    json_object_get_string(id),
		    json_object_get_string_len(id)));
	case json_type_int:
		if (jsonrpc_id_is_big(id))
			return jsonrpc_alloc(json_object_new_uint64(
			    json_object_get_uint64(id)));
		return jsonrpc_alloc(json_object_new_int64(
		    json_object_get_int64(id)));
	default:
		return NULL;
	}
}
