/*
 * Fuzz target: common/jsonrpc.c.  Any bytes go through jsonrpc_parse() and
 * jsonrpc_classify() as a client's POST body would, then the accessors and
 * builders the daemon uses on what passed; every reply we build from an
 * accepted message must serialise to one NDJSON-safe line that parses back
 * to the same kind.  And common/jsonscan.c is never looser than json-c:
 * what it takes as a response, json-c takes as one, with the same id, and
 * what it takes as a tool call, json-c reads as one, with the same id and
 * tool name.
 */
#include "autoconf.h"

#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "jsonrpc.h"
#include "jsonscan.h"
#include "log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-jsonrpc", LOG_LEVEL_ERROR);
	return 0;
}

/* text must be one line that parses back to a message of kind `kind`. */
static void
fuzz_reparse(struct json_object *o, enum jsonrpc_kind kind)
{
	struct json_object	*back;
	const char		*text, *reason = NULL;
	size_t			 len;

	text = jsonrpc_to_string(o, &len);
	FUZZ_ASSERT(text != NULL && strlen(text) == len);
	FUZZ_ASSERT(memchr(text, '\n', len) == NULL);
	FUZZ_ASSERT(memchr(text, '\r', len) == NULL);
	back = jsonrpc_parse(text, len, &reason);
	FUZZ_ASSERT(back != NULL);
	FUZZ_ASSERT(jsonrpc_classify(back, &reason) == kind);
	json_object_put(back);
}

static void
fuzz_message(struct json_object *msg, enum jsonrpc_kind kind)
{
	struct json_object	*id, *copy, *reply;
	const char		*method;

	id = jsonrpc_id(msg);
	method = jsonrpc_method(msg);
	(void)jsonrpc_params(msg);
	(void)jsonrpc_result(msg);
	(void)jsonrpc_error_code(msg);
	(void)jsonrpc_error_message(msg);
	FUZZ_ASSERT(strcmp(jsonrpc_kind_name(kind), "unknown") != 0);

	switch (kind) {
	case JSONRPC_REQUEST:
		/* What routing relies on: a C string method, a usable id. */
		FUZZ_ASSERT(method != NULL);
		FUZZ_ASSERT(id != NULL);
		copy = jsonrpc_id_copy(id);
		FUZZ_ASSERT(copy != NULL && jsonrpc_id_equal(copy, id));
		FUZZ_ASSERT(jsonrpc_id_equal(id, id));

		/* A request re-sent upstream under its copied id. */
		reply = jsonrpc_request_new(copy, method,
		    jsonrpc_params(msg) != NULL ?
		    json_object_get(jsonrpc_params(msg)) : NULL);
		fuzz_reparse(reply, JSONRPC_REQUEST);
		json_object_put(reply);

		reply = jsonrpc_error_new(id, JSONRPC_INVALID_PARAMS, NULL,
		    NULL);
		fuzz_reparse(reply, JSONRPC_ERROR);
		json_object_put(reply);
		reply = jsonrpc_result_new(id, json_object_new_object());
		fuzz_reparse(reply, JSONRPC_RESULT);
		json_object_put(reply);
		break;
	case JSONRPC_NOTIFICATION:
		FUZZ_ASSERT(method != NULL && id == NULL);
		reply = jsonrpc_notification_new(method,
		    jsonrpc_params(msg) != NULL ?
		    json_object_get(jsonrpc_params(msg)) : NULL);
		fuzz_reparse(reply, JSONRPC_NOTIFICATION);
		json_object_put(reply);
		break;
	case JSONRPC_RESULT:
	case JSONRPC_ERROR:
		FUZZ_ASSERT(method == NULL);
		if (id != NULL) {
			copy = jsonrpc_id_copy(id);
			FUZZ_ASSERT(copy != NULL &&
			    jsonrpc_id_equal(copy, id));
			json_object_put(copy);
		}
		break;
	default:
		break;
	}
	/* The accepted message itself, as it is relayed. */
	fuzz_reparse(msg, kind);
}

/* A tool call the scanner took: json-c reads the same in it. */
static void
fuzz_call(struct json_object *msg, const struct jsonscan_call *c,
    const uint8_t *data, size_t size)
{
	struct json_object	*id, *params, *name;
	size_t			 n;

	FUZZ_ASSERT(msg != NULL);
	FUZZ_ASSERT(jsonrpc_classify(msg, NULL) == JSONRPC_REQUEST);
	FUZZ_ASSERT(strcmp(jsonrpc_method(msg), "tools/call") == 0);
	FUZZ_ASSERT(c->start < c->id_start && c->id_end < c->end &&
	    c->end <= size);
	FUZZ_ASSERT(memchr(data + c->start, '\n', c->end - c->start) == NULL);
	id = jsonrpc_id(msg);
	if (c->id_is_string) {
		n = c->id_end - c->id_start - 2;
		FUZZ_ASSERT(json_object_is_type(id, json_type_string));
		FUZZ_ASSERT((size_t)json_object_get_string_len(id) == n &&
		    memcmp(json_object_get_string(id), data + c->id_start + 1,
		    n) == 0);
	} else
		FUZZ_ASSERT(json_object_is_type(id, json_type_int) &&
		    json_object_get_int64(id) == c->id);
	FUZZ_ASSERT(json_object_object_get_ex(msg, "params", &params));
	FUZZ_ASSERT(!json_object_object_get_ex(params, "_meta", NULL));
	FUZZ_ASSERT(json_object_object_get_ex(params, "name", &name) &&
	    json_object_is_type(name, json_type_string));
	n = c->name_end - c->name_start;
	FUZZ_ASSERT((size_t)json_object_get_string_len(name) == n &&
	    memcmp(json_object_get_string(name), data + c->name_start,
	    n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object		*msg, *reply;
	struct jsonscan_response	 sc;
	struct jsonscan_call		 call;
	const char			*reason = NULL;
	enum jsonrpc_kind		 kind;
	int				 scanned;

	scanned = jsonscan_response((const char *)data, size, &sc) == 0;
	msg = jsonrpc_parse((const char *)data, size, &reason);
	if (scanned) {
		FUZZ_ASSERT(msg != NULL);
		FUZZ_ASSERT(jsonrpc_classify(msg, NULL) == JSONRPC_RESULT);
		FUZZ_ASSERT(json_object_is_type(jsonrpc_id(msg),
		    json_type_int));
		FUZZ_ASSERT(json_object_get_int64(jsonrpc_id(msg)) == sc.id);
		FUZZ_ASSERT(sc.start < sc.id_start && sc.id_end < sc.end &&
		    sc.end <= size);
		FUZZ_ASSERT(memchr(data + sc.start, '\n',
		    sc.end - sc.start) == NULL);
	}
	if (jsonscan_call((const char *)data, size, &call) == 0)
		fuzz_call(msg, &call, data, size);
	if (msg == NULL) {
		FUZZ_ASSERT(reason != NULL && reason[0] != '\0');
		return 0;
	}
	reason = NULL;
	kind = jsonrpc_classify(msg, &reason);
	if (kind == JSONRPC_INVALID) {
		FUZZ_ASSERT(reason != NULL && reason[0] != '\0');
		/* The error reply the listeners send back for it. */
		reply = jsonrpc_error_new(
		    json_object_get_type(msg) == json_type_object ?
		    jsonrpc_id(msg) : NULL, JSONRPC_INVALID_REQUEST, reason,
		    NULL);
		fuzz_reparse(reply, JSONRPC_ERROR);
		json_object_put(reply);
	} else if (kind != JSONRPC_BATCH)
		fuzz_message(msg, kind);
	json_object_put(msg);
	return 0;
}
