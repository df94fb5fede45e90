/*
 * JSON-RPC 2.0 messages on json-c: a strict parser for untrusted bytes, a
 * classifier that says exactly what is wrong with a message, accessors, and
 * builders for the replies and requests the relay sends.
 */
#ifndef MCPRELAY_JSONRPC_H
#define MCPRELAY_JSONRPC_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define JSONRPC_PARSE_ERROR		-32700
#define JSONRPC_INVALID_REQUEST		-32600
#define JSONRPC_METHOD_NOT_FOUND	-32601
#define JSONRPC_INVALID_PARAMS		-32602
#define JSONRPC_INTERNAL_ERROR		-32603

/* Nesting of arrays and objects jsonrpc_parse() accepts; one more fails. */
#define JSONRPC_MAX_DEPTH		64

/*
 * Parses exactly one JSON value from buf[0..len): whitespace may follow it,
 * nothing else may; a NUL byte anywhere, invalid UTF-8 or nesting deeper
 * than JSONRPC_MAX_DEPTH is an error.  Returns a new object (caller puts
 * it), or NULL with *reason (if not NULL) set to a static string; the
 * caller answers JSONRPC_PARSE_ERROR.  A bare JSON null is reported as an
 * error too, since json-c has no object for it.
 *
 * json-c 0.16 is lenient in places even in strict mode: it accepts
 * single-quoted strings and NaN/Infinity, replaces lone surrogates and
 * clamps integers to the 64-bit range.
 */
struct json_object	*jsonrpc_parse(const char *buf, size_t len,
			    const char **reason);
/* The same with a tokener kept for many messages (one per owner). */
struct jsonrpc_parser;
struct jsonrpc_parser	*jsonrpc_parser_new(void);
void			 jsonrpc_parser_free(struct jsonrpc_parser *);
struct json_object	*jsonrpc_parse_with(struct jsonrpc_parser *,
			    const char *buf, size_t len, const char **reason);

enum jsonrpc_kind {
	JSONRPC_REQUEST = 0,	/* method + string/integer id */
	JSONRPC_NOTIFICATION,	/* method, no id */
	JSONRPC_RESULT,		/* id + result */
	JSONRPC_ERROR,		/* id (or null) + error {code, message} */
	JSONRPC_BATCH,		/* non-empty array; not looked into */
	JSONRPC_INVALID,
};

/*
 * Strict JSON-RPC 2.0 with the MCP rule that ids are never null (except
 * in an error answering a message whose id could not be read).  Every
 * message is an object with "jsonrpc": "2.0"; "params", when present, is an
 * object or array; a response carries exactly one of "result" and "error".
 * An empty array is JSONRPC_INVALID (the spec answers it with one error).
 * On JSONRPC_INVALID, *reason (if not NULL) says what is wrong in a static
 * string fit for an error message.
 */
enum jsonrpc_kind	 jsonrpc_classify(struct json_object *msg,
			    const char **reason);
const char		*jsonrpc_kind_name(enum jsonrpc_kind kind);

/*
 * Accessors for classified messages; all borrowed, NULL when absent or of
 * the wrong type.  jsonrpc_id() is NULL both for no id and for a null id.
 * jsonrpc_error_code() is 0 when msg has no integer error code, and
 * jsonrpc_error_message() NULL when it has no string message.
 */
const char		*jsonrpc_method(struct json_object *msg);
struct json_object	*jsonrpc_id(struct json_object *msg);
struct json_object	*jsonrpc_params(struct json_object *msg);
struct json_object	*jsonrpc_result(struct json_object *msg);
int			 jsonrpc_error_code(struct json_object *msg);
const char		*jsonrpc_error_message(struct json_object *msg);

/*
 * Builders; the caller owns what they return.  A borrowed id gets a new
 * reference (json-c objects are reference counted, not copied); an id that
 * is not a string or integer, or NULL, becomes null.  Arguments marked
 * "taken" are owned by the result afterwards; a NULL params or data is left
 * out, a NULL result is written as null.  A NULL message in
 * jsonrpc_error_new() is replaced by the standard text for the code.
 */
struct json_object	*jsonrpc_error_new(struct json_object *id, int code,
			    const char *message, struct json_object *data);
struct json_object	*jsonrpc_result_new(struct json_object *id,
			    struct json_object *result);
struct json_object	*jsonrpc_request_new(struct json_object *id,
			    const char *method, struct json_object *params);
struct json_object	*jsonrpc_notification_new(const char *method,
			    struct json_object *params);

/* "Parse error" etc. for the standard codes, "Server error" otherwise. */
const char		*jsonrpc_error_text(int code);

/*
 * Compact JSON text without "\/" escapes and without raw newlines.  The
 * string belongs to o and lives until o is freed or serialised again; len
 * (if not NULL) gets its length.  A NULL o gives "null".
 */
const char		*jsonrpc_to_string(struct json_object *o,
			    size_t *len);

/*
 * Ids are equal when both are strings with the same bytes, or both
 * integers with the same value ("1" and 1 differ); two absent/null ids are
 * equal.  jsonrpc_id_copy() returns a new, independent string or integer
 * (NULL for anything else).
 */
int			 jsonrpc_id_equal(struct json_object *a,
			    struct json_object *b);
struct json_object	*jsonrpc_id_copy(struct json_object *id);

/*
 * An integer as JSON text in buf (JSONRPC_INT_TEXT bytes), NUL-terminated:
 * its length.  Not snprintf(), which costs ten times as much, twice a call.
 */
#define JSONRPC_INT_TEXT	24
size_t			 jsonrpc_int_text(int64_t v, char *buf);
/*
 * An id as JSON text, *len its length: in buf (JSONRPC_INT_TEXT bytes) for
 * an integer, else the object's own text (valid while the object lives).
 */
const char		*jsonrpc_id_text(struct json_object *id, char *buf,
			    size_t *len);
/*
 * A message kept as text with its id changed: text[0..len) with the bytes
 * at..end replaced by id[0..idlen), NUL-terminated, *outlen its length; in
 * buf when it fits in size, else in memory the caller frees (*allocated).
 */
char			*jsonrpc_splice(const char *text, size_t len,
			    size_t at, size_t end, const char *id, size_t idlen,
			    char *buf, size_t size, size_t *outlen,
			    int *allocated);

#endif
