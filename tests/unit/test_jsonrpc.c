/*
 * Unit tests for common/jsonrpc.c: strict parsing of untrusted bytes,
 * classification with reasons, builders' exact output, id handling.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "jsonrpc.h"

static struct json_object *
parse_ok(const char *text)
{
	struct json_object	*o;
	const char		*reason = NULL;

	o = jsonrpc_parse(text, strlen(text), &reason);
	ck_assert_msg(o != NULL, "parse of %s failed: %s", text,
	    reason ? reason : "(no reason)");
	return o;
}

/* Parses text, classifies it and returns the kind; *reason is kept. */
static enum jsonrpc_kind
classify_text(const char *text, const char **reason)
{
	struct json_object	*o = parse_ok(text);
	enum jsonrpc_kind	 kind;

	*reason = NULL;
	kind = jsonrpc_classify(o, reason);
	json_object_put(o);
	return kind;
}

static void
assert_invalid(const char *text, const char *expected_reason)
{
	const char		*reason;
	enum jsonrpc_kind	 kind;

	kind = classify_text(text, &reason);
	ck_assert_msg(kind == JSONRPC_INVALID, "%s classified as %s", text,
	    jsonrpc_kind_name(kind));
	ck_assert_ptr_nonnull(reason);
	ck_assert_str_eq(reason, expected_reason);
}

static void
assert_kind(const char *text, enum jsonrpc_kind expected)
{
	const char		*reason;
	enum jsonrpc_kind	 kind;

	kind = classify_text(text, &reason);
	ck_assert_msg(kind == expected, "%s: got %s (%s), want %s", text,
	    jsonrpc_kind_name(kind), reason ? reason : "",
	    jsonrpc_kind_name(expected));
}

static void
assert_json(struct json_object *o, const char *expected)
{
	size_t		 len = 0;
	const char	*s = jsonrpc_to_string(o, &len);

	ck_assert_str_eq(s, expected);
	ck_assert_uint_eq(len, strlen(expected));
}

START_TEST(test_classify_request_with_integer_id)
{
	struct json_object	*o;

	o = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\","
	    "\"params\":{}}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_REQUEST);
	ck_assert_str_eq(jsonrpc_method(o), "tools/list");
	ck_assert_int_eq(json_object_get_int(jsonrpc_id(o)), 7);
	ck_assert(json_object_is_type(jsonrpc_params(o), json_type_object));
	json_object_put(o);
}
END_TEST

START_TEST(test_classify_request_with_string_id_and_params)
{
	assert_kind("{\"jsonrpc\":\"2.0\",\"id\":\"a-1\",\"method\":\"m\","
	    "\"params\":[1,2]}", JSONRPC_REQUEST);
	assert_kind("{\"jsonrpc\":\"2.0\",\"id\":-3,\"method\":\"m\"}",
	    JSONRPC_REQUEST);
}
END_TEST

START_TEST(test_classify_notification_has_no_id)
{
	struct json_object	*o;

	o = parse_ok("{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_NOTIFICATION);
	ck_assert_ptr_null(jsonrpc_id(o));
	ck_assert_ptr_null(jsonrpc_params(o));
	json_object_put(o);
}
END_TEST

START_TEST(test_classify_result_accepts_any_result_value)
{
	struct json_object	*o;

	o = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":"
	    "{\"tools\":[]}}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_RESULT);
	ck_assert_ptr_null(jsonrpc_method(o));
	ck_assert(json_object_is_type(jsonrpc_result(o), json_type_object));
	json_object_put(o);
	assert_kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}",
	    JSONRPC_RESULT);
	assert_kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":0}",
	    JSONRPC_RESULT);
}
END_TEST

START_TEST(test_classify_error_reads_code_and_message)
{
	struct json_object	*o;

	o = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32601,"
	    "\"message\":\"Method not found\",\"data\":{\"m\":\"x\"}}}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_ERROR);
	ck_assert_int_eq(jsonrpc_error_code(o), JSONRPC_METHOD_NOT_FOUND);
	ck_assert_str_eq(jsonrpc_error_message(o), "Method not found");
	json_object_put(o);
}
END_TEST

START_TEST(test_classify_error_may_have_null_id)
{
	assert_kind("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
	    "-32700,\"message\":\"Parse error\"}}", JSONRPC_ERROR);
}
END_TEST

START_TEST(test_classify_array_is_batch)
{
	assert_kind("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},1]",
	    JSONRPC_BATCH);
	assert_invalid("[]", "empty batch");
}
END_TEST

START_TEST(test_classify_rejects_missing_jsonrpc)
{
	assert_invalid("{\"id\":1,\"method\":\"m\"}",
	    "missing \"jsonrpc\" member");
}
END_TEST

START_TEST(test_classify_rejects_wrong_version)
{
	assert_invalid("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}",
	    "\"jsonrpc\" must be \"2.0\"");
	assert_invalid("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"m\"}",
	    "\"jsonrpc\" must be \"2.0\"");
	assert_invalid("{\"jsonrpc\":\"2.00\",\"id\":1,\"method\":\"m\"}",
	    "\"jsonrpc\" must be \"2.0\"");
}
END_TEST

START_TEST(test_classify_rejects_null_request_id)
{
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}",
	    "request \"id\" must not be null");
}
END_TEST

START_TEST(test_classify_rejects_float_bool_object_ids)
{
	static const char	*ids[] = { "1.5", "1.0", "true", "{}", "[1]" };
	char			 text[128];
	size_t			 i;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		snprintf(text, sizeof text,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"m\"}", ids[i]);
		assert_invalid(text,
		    "request \"id\" must be a string or an integer");
		snprintf(text, sizeof text,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}", ids[i]);
		assert_invalid(text,
		    "result \"id\" must be a string or an integer");
	}
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}",
	    "result \"id\" must not be null");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":false,\"error\":"
	    "{\"code\":1,\"message\":\"x\"}}",
	    "error \"id\" must be a string, an integer or null");
}
END_TEST

START_TEST(test_classify_rejects_both_result_and_error)
{
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},"
	    "\"error\":{\"code\":1,\"message\":\"x\"}}",
	    "response has both \"result\" and \"error\"");
}
END_TEST

START_TEST(test_classify_rejects_bad_error_objects)
{
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"message\":\"x\"}}", "error has no \"code\"");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":\"-1\",\"message\":\"x\"}}",
	    "error \"code\" must be an integer");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":1.5,\"message\":\"x\"}}",
	    "error \"code\" must be an integer");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":4294967296,\"message\":\"x\"}}",
	    "error \"code\" is out of range");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}",
	    "error has no \"message\"");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":1,\"message\":7}}",
	    "error \"message\" must be a string");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}",
	    "\"error\" must be an object");
}
END_TEST

START_TEST(test_classify_rejects_scalar_params)
{
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\","
	    "\"params\":\"x\"}", "\"params\" must be an object or an array");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\","
	    "\"params\":null}", "\"params\" must be an object or an array");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\","
	    "\"params\":3}", "\"params\" must be an object or an array");
}
END_TEST

START_TEST(test_classify_rejects_other_shapes)
{
	assert_invalid("\"hello\"", "message is not a JSON object");
	assert_invalid("42", "message is not a JSON object");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1}",
	    "message has no \"method\", \"result\" or \"error\"");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"result\":{}}",
	    "response has no \"id\"");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}",
	    "\"method\" must be a string");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\","
	    "\"result\":{}}", "a request cannot carry \"result\" or \"error\"");
	assert_invalid("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"tools/call\\u0000x\"}",
	    "\"method\" must not contain NUL");
}
END_TEST

START_TEST(test_classify_null_message_is_invalid)
{
	const char	*reason = NULL;

	ck_assert_int_eq(jsonrpc_classify(NULL, &reason), JSONRPC_INVALID);
	ck_assert_str_eq(reason, "message is not a JSON object");
}
END_TEST

START_TEST(test_kind_names)
{
	ck_assert_str_eq(jsonrpc_kind_name(JSONRPC_REQUEST), "request");
	ck_assert_str_eq(jsonrpc_kind_name(JSONRPC_NOTIFICATION),
	    "notification");
	ck_assert_str_eq(jsonrpc_kind_name(JSONRPC_RESULT), "result");
	ck_assert_str_eq(jsonrpc_kind_name(JSONRPC_ERROR), "error");
	ck_assert_str_eq(jsonrpc_kind_name(JSONRPC_BATCH), "batch");
	ck_assert_str_eq(jsonrpc_kind_name(JSONRPC_INVALID), "invalid");
	ck_assert_str_eq(jsonrpc_kind_name((enum jsonrpc_kind)42), "unknown");
}
END_TEST

static void
assert_parse_fails(const char *buf, size_t len, const char *expected)
{
	const char	*reason = NULL;

	ck_assert_ptr_null(jsonrpc_parse(buf, len, &reason));
	ck_assert_ptr_nonnull(reason);
	ck_assert_str_eq(reason, expected);
}

START_TEST(test_parse_rejects_truncated_input)
{
	static const char	*texts[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1",
		"{\"jsonrpc\":\"2.",
		"[1,2",
		"tru",
		"-",
	};
	size_t			 i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
		assert_parse_fails(texts[i], strlen(texts[i]),
		    "JSON text ends too early");
	assert_parse_fails("", 0, "empty message");
	assert_parse_fails("   ", 3, "JSON text ends too early");
}
END_TEST

START_TEST(test_parse_rejects_trailing_garbage)
{
	assert_parse_fails("{} x", 4, "unexpected character in JSON text");
	assert_parse_fails("{}{}", 4, "unexpected character in JSON text");
	assert_parse_fails("[1] [2]", 7, "unexpected character in JSON text");
	assert_parse_fails("{}\f", 3, "unexpected character in JSON text");
}
END_TEST

START_TEST(test_parse_allows_surrounding_whitespace)
{
	const char		*text = " \t{\"a\":1}\r\n \t";
	struct json_object	*o;

	o = jsonrpc_parse(text, strlen(text), NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_object_length(o), 1);
	json_object_put(o);
}
END_TEST

START_TEST(test_parse_reads_value_ending_at_buffer_end)
{
	struct json_object	*o;
	/* Not NUL-terminated right after the number. */
	const char		 buf[] = { '1', '2', '3', '4' };

	o = jsonrpc_parse(buf, 3, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_get_int(o), 123);
	json_object_put(o);
	o = parse_ok("true");
	ck_assert(json_object_get_boolean(o));
	json_object_put(o);
}
END_TEST

START_TEST(test_parse_rejects_nul_byte)
{
	const char	buf[] = "{\"a\":\"b\0c\"}";

	assert_parse_fails(buf, sizeof buf - 1, "NUL byte in message");
	assert_parse_fails("{}\0", 3, "NUL byte in message");
}
END_TEST

static char *
nested_arrays(int depth, size_t *len)
{
	char	*s = malloc(2 * depth + 1);

	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	*len = 2 * depth;
	return s;
}

START_TEST(test_parse_limits_nesting_depth)
{
	struct json_object	*o;
	size_t			 len;
	char			*s;

	s = nested_arrays(JSONRPC_MAX_DEPTH, &len);
	o = jsonrpc_parse(s, len, NULL);
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
	free(s);

	s = nested_arrays(JSONRPC_MAX_DEPTH + 1, &len);
	assert_parse_fails(s, len, "JSON nested too deeply");
	free(s);

	s = nested_arrays(100000, &len);
	assert_parse_fails(s, len, "JSON nested too deeply");
	free(s);
}
END_TEST

START_TEST(test_parse_rejects_invalid_utf8)
{
	assert_parse_fails("\"\xff\"", 3, "invalid UTF-8 in JSON text");
	assert_parse_fails("\"\xc3\"", 3, "invalid UTF-8 in JSON text");
}
END_TEST

START_TEST(test_parse_rejects_bare_null)
{
	assert_parse_fails("null", 4, "message is JSON null");
}
END_TEST

START_TEST(test_parse_without_reason_pointer)
{
	ck_assert_ptr_null(jsonrpc_parse("{", 1, NULL));
}
END_TEST

START_TEST(test_error_new_with_integer_id)
{
	struct json_object	*id = json_object_new_int(1);
	struct json_object	*o;

	o = jsonrpc_error_new(id, JSONRPC_METHOD_NOT_FOUND,
	    "Method not found", NULL);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":-32601,\"message\":\"Method not found\"}}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_ERROR);
	json_object_put(o);
	/* The id was borrowed: it is still ours. */
	ck_assert_int_eq(json_object_get_int(id), 1);
	json_object_put(id);
}
END_TEST

START_TEST(test_error_new_with_null_id_data_default_text)
{
	struct json_object	*data = json_object_new_object();
	struct json_object	*o;

	json_object_object_add(data, "url", json_object_new_string("a/b"));
	o = jsonrpc_error_new(NULL, JSONRPC_PARSE_ERROR, NULL, data);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\","
	    "\"data\":{\"url\":\"a/b\"}}}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_ERROR);
	json_object_put(o);
}
END_TEST

START_TEST(test_error_new_replaces_unusable_id_with_null)
{
	struct json_object	*id = json_object_new_double(1.5);
	struct json_object	*o;

	o = jsonrpc_error_new(id, JSONRPC_INVALID_REQUEST, "bad id", NULL);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32600,\"message\":\"bad id\"}}");
	json_object_put(o);
	json_object_put(id);
}
END_TEST

START_TEST(test_error_text_for_standard_codes)
{
	ck_assert_str_eq(jsonrpc_error_text(JSONRPC_INVALID_REQUEST),
	    "Invalid Request");
	ck_assert_str_eq(jsonrpc_error_text(JSONRPC_INVALID_PARAMS),
	    "Invalid params");
	ck_assert_str_eq(jsonrpc_error_text(JSONRPC_INTERNAL_ERROR),
	    "Internal error");
	ck_assert_str_eq(jsonrpc_error_text(-32010), "Server error");
}
END_TEST

START_TEST(test_result_new_with_string_id)
{
	struct json_object	*id = json_object_new_string("req/1");
	struct json_object	*result = json_object_new_object();
	struct json_object	*o;

	json_object_object_add(result, "ok", json_object_new_boolean(1));
	o = jsonrpc_result_new(id, result);
	/* No "\/" escaping. */
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":\"req/1\","
	    "\"result\":{\"ok\":true}}");
	json_object_put(id);
	json_object_put(o);

	o = jsonrpc_result_new(NULL, NULL);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":null}");
	json_object_put(o);
}
END_TEST

START_TEST(test_request_and_notification_new)
{
	struct json_object	*params = json_object_new_object();
	struct json_object	*o;

	json_object_object_add(params, "name", json_object_new_string("x"));
	o = jsonrpc_request_new(json_object_new_int(42), "tools/call",
	    params);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"x\"}}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_REQUEST);
	json_object_put(o);

	o = jsonrpc_request_new(json_object_new_string("p"), "ping", NULL);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":"
	    "\"ping\"}");
	json_object_put(o);

	o = jsonrpc_notification_new("notifications/cancelled",
	    json_object_new_array());
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":[]}");
	ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_NOTIFICATION);
	json_object_put(o);

	o = jsonrpc_notification_new("n", NULL);
	assert_json(o, "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}");
	json_object_put(o);
}
END_TEST

START_TEST(test_to_string_is_compact_and_escapes_newlines)
{
	struct json_object	*o;

	o = parse_ok("{ \"a\" : [ 1 , 2 ] ,\n \"b\" : \"x\\ny\\/z\" }");
	assert_json(o, "{\"a\":[1,2],\"b\":\"x\\ny/z\"}");
	json_object_put(o);
	assert_json(NULL, "null");
}
END_TEST

START_TEST(test_id_equal_compares_type_and_value)
{
	struct json_object	*i1 = json_object_new_int(1);
	struct json_object	*i1b = json_object_new_int64(1);
	struct json_object	*i2 = json_object_new_int(2);
	struct json_object	*s1 = json_object_new_string("1");
	struct json_object	*s1b = json_object_new_string_len("1", 1);
	struct json_object	*s1z = json_object_new_string_len("1\0x", 3);
	struct json_object	*big = json_object_new_uint64(UINT64_MAX);
	struct json_object	*max = json_object_new_int64(INT64_MAX);
	struct json_object	*d1 = json_object_new_double(1.0);

	ck_assert(jsonrpc_id_equal(i1, i1b));
	ck_assert(!jsonrpc_id_equal(i1, i2));
	ck_assert(!jsonrpc_id_equal(i1, s1));
	ck_assert(jsonrpc_id_equal(s1, s1b));
	ck_assert(!jsonrpc_id_equal(s1, s1z));
	ck_assert(!jsonrpc_id_equal(big, max));
	ck_assert(jsonrpc_id_equal(big, big));
	ck_assert(!jsonrpc_id_equal(d1, d1));
	ck_assert(!jsonrpc_id_equal(i1, NULL));
	ck_assert(jsonrpc_id_equal(NULL, NULL));

	json_object_put(i1);
	json_object_put(i1b);
	json_object_put(i2);
	json_object_put(s1);
	json_object_put(s1b);
	json_object_put(s1z);
	json_object_put(big);
	json_object_put(max);
	json_object_put(d1);
}
END_TEST

START_TEST(test_id_copy_is_deep_and_equal)
{
	struct json_object	*ids[4], *c;
	size_t			 i;

	ids[0] = json_object_new_int64(-7);
	ids[1] = json_object_new_uint64(UINT64_MAX);
	ids[2] = json_object_new_string_len("a\0b", 3);
	ids[3] = json_object_new_int64(INT64_MAX);
	for (i = 0; i < 4; i++) {
		c = jsonrpc_id_copy(ids[i]);
		ck_assert_ptr_nonnull(c);
		ck_assert_ptr_ne(c, ids[i]);
		ck_assert(jsonrpc_id_equal(c, ids[i]));
		ck_assert_str_eq(jsonrpc_to_string(c, NULL),
		    jsonrpc_to_string(ids[i], NULL));
		json_object_put(c);
		json_object_put(ids[i]);
	}
	c = json_object_new_double(2.5);
	ck_assert_ptr_null(jsonrpc_id_copy(c));
	json_object_put(c);
	ck_assert_ptr_null(jsonrpc_id_copy(NULL));
}
END_TEST

START_TEST(test_unicode_string_ids)
{
	struct json_object	*a, *b, *copy, *reply;
	const char		*raw = "{\"jsonrpc\":\"2.0\",\"id\":"
	    "\"cl\xc3\xa9-\xf0\x9f\x98\x80\",\"method\":\"m\"}";
	const char		*escaped = "{\"jsonrpc\":\"2.0\",\"id\":"
	    "\"cl\\u00e9-\\ud83d\\ude00\",\"method\":\"m\"}";

	a = parse_ok(raw);
	b = parse_ok(escaped);
	ck_assert_int_eq(jsonrpc_classify(a, NULL), JSONRPC_REQUEST);
	ck_assert_int_eq(jsonrpc_classify(b, NULL), JSONRPC_REQUEST);
	ck_assert_str_eq(json_object_get_string(jsonrpc_id(a)),
	    "cl\xc3\xa9-\xf0\x9f\x98\x80");
	ck_assert(jsonrpc_id_equal(jsonrpc_id(a), jsonrpc_id(b)));

	copy = jsonrpc_id_copy(jsonrpc_id(b));
	json_object_put(b);
	ck_assert(jsonrpc_id_equal(copy, jsonrpc_id(a)));

	/* Written back as raw UTF-8, not as \u escapes. */
	reply = jsonrpc_result_new(copy, json_object_new_object());
	assert_json(reply, "{\"jsonrpc\":\"2.0\",\"id\":"
	    "\"cl\xc3\xa9-\xf0\x9f\x98\x80\",\"result\":{}}");
	json_object_put(reply);
	json_object_put(copy);
	json_object_put(a);
}
END_TEST

START_TEST(test_accessors_tolerate_wrong_types)
{
	struct json_object	*o = parse_ok("[1]");

	ck_assert_ptr_null(jsonrpc_method(o));
	ck_assert_ptr_null(jsonrpc_id(o));
	ck_assert_ptr_null(jsonrpc_params(o));
	ck_assert_ptr_null(jsonrpc_result(o));
	ck_assert_int_eq(jsonrpc_error_code(o), 0);
	ck_assert_ptr_null(jsonrpc_error_message(o));
	json_object_put(o);
	ck_assert_ptr_null(jsonrpc_method(NULL));
	ck_assert_int_eq(jsonrpc_error_code(NULL), 0);
}
END_TEST

/* A kept parser starts each message afresh, whatever the last one was. */
START_TEST(test_kept_parser_forgets_the_previous_message)
{
	static const char *const texts[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"x\":[1,",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"b\"}",
		"12",
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}] x",
		"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"c\"}",
	};
	struct jsonrpc_parser	*p = jsonrpc_parser_new();
	struct json_object	*a, *b;
	const char		*ra, *rb;
	size_t			 i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		ra = rb = NULL;
		a = jsonrpc_parse_with(p, texts[i], strlen(texts[i]), &ra);
		b = jsonrpc_parse(texts[i], strlen(texts[i]), &rb);
		/* The same verdict and the same value as a fresh tokener. */
		ck_assert_int_eq(a == NULL, b == NULL);
		if (a != NULL)
			ck_assert(json_object_equal(a, b));
		else
			ck_assert_str_eq(ra, rb);
		json_object_put(a);
		json_object_put(b);
	}
	a = jsonrpc_parse_with(p, texts[4], strlen(texts[4]), NULL);
	ck_assert_int_eq(json_object_get_int(jsonrpc_id(a)), 8);
	json_object_put(a);
	jsonrpc_parser_free(p);
	jsonrpc_parser_free(NULL);
	/* No parser: as jsonrpc_parse(). */
	a = jsonrpc_parse_with(NULL, texts[1], strlen(texts[1]), NULL);
	ck_assert_ptr_nonnull(a);
	json_object_put(a);
}
END_TEST

/* The id's bytes replaced, in the caller's buffer or, too long, not. */
START_TEST(test_splice_replaces_the_id)
{
	const char	*text = "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"result\":{}}";
	size_t		 at = strlen("{\"jsonrpc\":\"2.0\",\"id\":");
	size_t		 end = at + strlen("\"c1\""), len;
	char		 buf[64], small[16], *out;
	int		 allocated;

	out = jsonrpc_splice(text, strlen(text), at, end, "1234", 4, buf,
	    sizeof buf, &len, &allocated);
	ck_assert_ptr_eq(out, buf);
	ck_assert_int_eq(allocated, 0);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":1234,\"result\":{}}");
	ck_assert_uint_eq(len, strlen(out));

	out = jsonrpc_splice(text, strlen(text), at, end, "\"a-longer-id\"",
	    13, small, sizeof small, &len, &allocated);
	ck_assert_ptr_ne(out, small);
	ck_assert_int_eq(allocated, 1);
	ck_assert_str_eq(out,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a-longer-id\",\"result\":{}}");
	ck_assert_uint_eq(len, strlen(out));
	free(out);

	/* At the very start and end, and exactly filling the buffer. */
	out = jsonrpc_splice("abc", 3, 0, 1, "xy", 2, small, 5, &len,
	    &allocated);
	ck_assert_int_eq(allocated, 0);
	ck_assert_str_eq(out, "xybc");
	out = jsonrpc_splice("abc", 3, 2, 3, "xy", 2, small, 4, &len,
	    &allocated);
	ck_assert_int_eq(allocated, 1);
	ck_assert_str_eq(out, "abxy");
	free(out);
}
END_TEST

static Suite *
jsonrpc_suite(void)
{
	Suite	*s = suite_create("jsonrpc");
	TCase	*tc;

	tc = tcase_create("classify");
	tcase_add_test(tc, test_classify_request_with_integer_id);
	tcase_add_test(tc, test_classify_request_with_string_id_and_params);
	tcase_add_test(tc, test_classify_notification_has_no_id);
	tcase_add_test(tc, test_classify_result_accepts_any_result_value);
	tcase_add_test(tc, test_classify_error_reads_code_and_message);
	tcase_add_test(tc, test_classify_error_may_have_null_id);
	tcase_add_test(tc, test_classify_array_is_batch);
	tcase_add_test(tc, test_classify_rejects_missing_jsonrpc);
	tcase_add_test(tc, test_classify_rejects_wrong_version);
	tcase_add_test(tc, test_classify_rejects_null_request_id);
	tcase_add_test(tc, test_classify_rejects_float_bool_object_ids);
	tcase_add_test(tc, test_classify_rejects_both_result_and_error);
	tcase_add_test(tc, test_classify_rejects_bad_error_objects);
	tcase_add_test(tc, test_classify_rejects_scalar_params);
	tcase_add_test(tc, test_classify_rejects_other_shapes);
	tcase_add_test(tc, test_classify_null_message_is_invalid);
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_accessors_tolerate_wrong_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_rejects_truncated_input);
	tcase_add_test(tc, test_parse_rejects_trailing_garbage);
	tcase_add_test(tc, test_parse_allows_surrounding_whitespace);
	tcase_add_test(tc, test_parse_reads_value_ending_at_buffer_end);
	tcase_add_test(tc, test_parse_rejects_nul_byte);
	tcase_add_test(tc, test_parse_limits_nesting_depth);
	tcase_add_test(tc, test_parse_rejects_invalid_utf8);
	tcase_add_test(tc, test_parse_rejects_bare_null);
	tcase_add_test(tc, test_parse_without_reason_pointer);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_error_new_with_integer_id);
	tcase_add_test(tc, test_error_new_with_null_id_data_default_text);
	tcase_add_test(tc, test_error_new_replaces_unusable_id_with_null);
	tcase_add_test(tc, test_error_text_for_standard_codes);
	tcase_add_test(tc, test_result_new_with_string_id);
	tcase_add_test(tc, test_request_and_notification_new);
	tcase_add_test(tc, test_to_string_is_compact_and_escapes_newlines);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_add_test(tc, test_id_equal_compares_type_and_value);
	tcase_add_test(tc, test_id_copy_is_deep_and_equal);
	tcase_add_test(tc, test_unicode_string_ids);
	tcase_add_test(tc, test_kept_parser_forgets_the_previous_message);
	tcase_add_test(tc, test_splice_replaces_the_id);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(jsonrpc_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
