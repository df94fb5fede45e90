/*
 * Unit tests for common/jsonscan.c: the responses and tool calls it takes
 * and where it finds their id (and tool name), what it leaves to json-c,
 * and, over many mutations of real messages, that it never takes what the
 * daemon's json-c parser would refuse, and reads the same as json-c when
 * both take one.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "jsonrpc.h"
#include "jsonscan.h"

static int
scan(const char *text, struct jsonscan_response *r)
{
	return jsonscan_response(text, strlen(text), r);
}

static void
expect_id(const char *text, int64_t id, const char *idtext)
{
	struct jsonscan_response	r;

	ck_assert_msg(scan(text, &r) == 0, "refused: %s", text);
	ck_assert_int_eq(r.id, id);
	ck_assert_uint_eq(r.id_end - r.id_start, strlen(idtext));
	ck_assert_int_eq(memcmp(text + r.id_start, idtext, strlen(idtext)), 0);
	ck_assert_int_eq(text[r.start], '{');
	ck_assert_int_eq(text[r.end - 1], '}');
}

static void
expect_refused(const char *text)
{
	struct jsonscan_response	r;

	ck_assert_msg(scan(text, &r) == -1, "taken: %s", text);
}

START_TEST(test_takes_success_responses)
{
	struct jsonscan_response	r;
	const char	*t;

	expect_id("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":"
	    "[{\"type\":\"text\",\"text\":\"bench\"}]}}", 7, "7");
	expect_id("{\"result\":{},\"id\":12345,\"jsonrpc\":\"2.0\"}", 12345,
	    "12345");
	expect_id("{ \"jsonrpc\" : \"2.0\" , \"id\" : -3 , \"result\" : null }",
	    -3, "-3");
	expect_id("{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":[1,-2.5e+3,0.0,"
	    "true,false,null,\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"
	    "\",\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"],\"x\":{\"y\":{}}}",
	    0, "0");
	expect_id("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,"
	    "\"result\":1}", INT64_MAX, "9223372036854775807");
	expect_id("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,"
	    "\"result\":1}", INT64_MIN, "-9223372036854775808");

	/* Whitespace and line breaks around the object are not part of it. */
	t = "\r\n {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\t\r\n";
	ck_assert_int_eq(scan(t, &r), 0);
	ck_assert_uint_eq(r.start, 3);
	ck_assert_uint_eq(r.end, strlen(t) - 3);
}
END_TEST

START_TEST(test_leaves_the_rest_to_json_c)
{
	/* Not a plain success response. */
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,"
	    "\"message\":\"x\"}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"result\":1}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"result\":{}}");
	expect_refused("{\"id\":1,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1}");
	expect_refused("[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]");
	expect_refused("{}");
	expect_refused("");
	/* Ids it does not read. */
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1e3,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775808,"
	    "\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775809,"
	    "\"result\":{}}");
	/* Members twice, or named with escapes. */
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"result\":1}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,"
	    "\"result\":2}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"\\u0069d\":1,\"result\":1}");
	/* A line break inside: not one line, not one SSE field. */
	expect_refused("{\"jsonrpc\":\"2.0\",\n\"id\":1,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\r}}");
	/* Not JSON, or not strict JSON. */
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":01,\"result\":{}}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":tru}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":NaN}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":'x'}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} x");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"a\x01\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\\x\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\\u12\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1.}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":-}");
	/* Lone surrogates and bad UTF-8. */
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\\ud800\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\\udc00\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xc0\x80\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
	    "\"\xed\xa0\x80\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xf5\x80"
	    "\x80\x80\"}");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xe2\x82\"}");
}
END_TEST

/* Nesting: as deep as json-c goes it may go, one more it must not. */
START_TEST(test_depth)
{
	char	buf[512];
	int	n, i;
	struct jsonscan_response r;

	for (n = 1; n < JSONRPC_MAX_DEPTH + 4; n++) {
		size_t	len;

		len = (size_t)snprintf(buf, sizeof buf,
		    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
		for (i = 0; i < n; i++)
			buf[len++] = '[';
		for (i = 0; i < n; i++)
			buf[len++] = ']';
		buf[len++] = '}';
		buf[len] = '\0';
		if (jsonscan_response(buf, len, &r) == 0) {
			struct json_object *o = jsonrpc_parse(buf, len, NULL);

			ck_assert_msg(o != NULL, "json-c refused depth %d", n);
			json_object_put(o);
		}
	}
	/* Shallow enough for any reader. */
	snprintf(buf, sizeof buf, "%s",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[[[[]]]]}");
	ck_assert_int_eq(jsonscan_response(buf, strlen(buf), &r), 0);
}
END_TEST

/* s0 with one to three random edits, into buf: its length. */
static size_t
mutate(const char *s0, char *buf, size_t cap, unsigned int *seed)
{
	static const char alphabet[] = "{}[]\":,\\-+.0123456789eEtrufalsn"
	    " \t\n\r\x01\x7f\x80\xbf\xc3\xe2\xed\xf0\xf5u/bdx_m";
	size_t	len = strlen(s0), k;
	int	edits;

	memcpy(buf, s0, len);
	edits = 1 + (int)(rand_r(seed) % 3);
	while (edits-- > 0 && len > 2 && len < cap - 2) {
		k = (size_t)rand_r(seed) % len;
		switch (rand_r(seed) % 3) {
		case 0:		/* replace */
			buf[k] = alphabet[rand_r(seed) % (sizeof alphabet - 1)];
			break;
		case 1:		/* delete */
			memmove(buf + k, buf + k + 1, len - k - 1);
			len--;
			break;
		default:	/* insert */
			memmove(buf + k + 1, buf + k, len - k);
			buf[k] = alphabet[rand_r(seed) % (sizeof alphabet - 1)];
			len++;
			break;
		}
	}
	return len;
}

/*
 * Every answer the scanner takes, json-c takes too, with the same id: over
 * a few real answers and many random edits of them.
 */
START_TEST(test_never_looser_than_json_c)
{
	/* Parenthesised: clang takes adjacent literals in an array for a
	 * forgotten comma. */
	static const char *const seeds[] = {
		("{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[{"
		    "\"type\":\"text\",\"text\":\"caf\xc3\xa9 \\u00e9\\n\"}],"
		    "\"isError\":false}}"),
		("{\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":"
		    "{\"type\":\"object\",\"properties\":{\"n\":{\"minimum\":"
		    "-1.5e2}}}}]},\"jsonrpc\":\"2.0\",\"id\":-7}"),
		("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":[null,true,false,"
		    "\"\\ud83d\\ude00\",\"\xf0\x9f\x98\x80\",0,10,-0.5]}"),
	};
	struct jsonscan_response	 r;
	struct jsonrpc_parser		*p = jsonrpc_parser_new();
	struct json_object		*o;
	char				 buf[512];
	size_t				 len;
	unsigned int			 seed = 1;
	int				 i, taken = 0;

	for (i = 0; i < 60000; i++) {
		len = mutate(seeds[i % 3], buf, sizeof buf, &seed);
		if (jsonscan_response(buf, len, &r) == -1)
			continue;
		taken++;
		o = jsonrpc_parse_with(p, buf, len, NULL);
		ck_assert_msg(o != NULL, "json-c refused what the scanner "
		    "took: %.*s", (int)len, buf);
		ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_RESULT);
		ck_assert(json_object_is_type(jsonrpc_id(o), json_type_int));
		ck_assert_int_eq(json_object_get_int64(jsonrpc_id(o)), r.id);
		ck_assert(memchr(buf + r.start, '\n', r.end - r.start) == NULL);
		json_object_put(o);
	}
	/* The edits that leave an answer whole must still be taken. */
	ck_assert_int_gt(taken, 1000);
	jsonrpc_parser_free(p);
}
END_TEST


static int
scan_call(const char *text, struct jsonscan_call *c)
{
	return jsonscan_call(text, strlen(text), c);
}

static void
expect_call(const char *text, const char *idtext, const char *name)
{
	struct jsonscan_call	c;

	ck_assert_msg(scan_call(text, &c) == 0, "refused: %s", text);
	ck_assert_uint_eq(c.id_end - c.id_start, strlen(idtext));
	ck_assert_int_eq(memcmp(text + c.id_start, idtext, strlen(idtext)), 0);
	ck_assert_int_eq(c.id_is_string, idtext[0] == '"');
	ck_assert_uint_eq(c.name_end - c.name_start, strlen(name));
	ck_assert_int_eq(memcmp(text + c.name_start, name, strlen(name)), 0);
	ck_assert_int_eq(text[c.start], '{');
	ck_assert_int_eq(text[c.end - 1], '}');
}

static void
expect_call_refused(const char *text)
{
	struct jsonscan_call	c;

	ck_assert_msg(scan_call(text, &c) == -1, "taken: %s", text);
}

START_TEST(test_takes_tool_calls)
{
	struct jsonscan_call	c;
	const char		*t;

	expect_call("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}",
	    "7", "echo");
	t = "{\"params\":{\"arguments\":{\"_meta\":1,\"name\":\"x\"},"
	    "\"name\":\"caf\xc3\xa9\"},\"method\":\"tools/call\",\"id\":"
	    "\"abc-1\",\"jsonrpc\":\"2.0\"}";
	expect_call(t, "\"abc-1\"", "caf\xc3\xa9");
	expect_call("{ \"jsonrpc\" : \"2.0\" , \"id\" : -3 , \"method\" : "
	    "\"tools/call\" , \"params\" : { \"name\" : \"\" } }", "-3", "");
	expect_call("{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"a\",\"task\":{\"ttl\":1}}}", "\"\"", "a");
	ck_assert_int_eq(scan_call("{\"jsonrpc\":\"2.0\",\"id\":"
	    "9223372036854775807,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"a\"}}", &c), 0);
	ck_assert_int_eq(c.id, INT64_MAX);
	t = "\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"a\"}}\n";
	ck_assert_int_eq(scan_call(t, &c), 0);
	ck_assert_uint_eq(c.start, 2);
	ck_assert_uint_eq(c.end, strlen(t) - 1);
	ck_assert_int_eq(c.id, 1);
}
END_TEST

START_TEST(test_leaves_other_calls_to_json_c)
{
	/* Other methods, and messages that are not requests. */
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/list\",\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools\\/call\",\"params\":{\"name\":\"a\"}}");
	/* What the parsed path reads: _meta, or a name it must unescape. */
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\",\"_meta\":{}}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"\\u0061\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"n\\u0061me\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":7}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"arguments\":{}}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":[]}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\"}");
	/* Ids it does not read, members twice or unknown. */
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775808,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\",\"name\":\"b\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"},\"params\":{}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"},\"x\":1}");
	expect_call_refused("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"}}");
	/* Line breaks inside, cut short, or not JSON. */
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\n\"params\":{\"name\":\"a\"}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\",\"arguments\":"
	    "{\"x\":tru}}}");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":");
	expect_call_refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"a\"}} x");
	expect_call_refused("");
	expect_call_refused("{}");
}
END_TEST

/*
 * Every call the scanner takes, json-c takes too, as a tools/call request
 * with the same id and tool name and no _meta: over a few real calls and
 * many random edits of them.
 */
START_TEST(test_calls_never_looser_than_json_c)
{
	static const char *const seeds[] = {
		("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\","
		    "\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":"
		    "\"caf\xc3\xa9 \\u00e9\\n\",\"n\":-1.5e2}}}"),
		("{\"params\":{\"arguments\":[null,true,false,\"\\ud83d\\ude00"
		    "\"],\"name\":\"a_b\"},\"method\":\"tools/call\",\"id\":"
		    "\"x-1\",\"jsonrpc\":\"2.0\"}"),
		("{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"tools/call\","
		    "\"params\":{\"name\":\"m\",\"_mets\":{},\"task\":{}}}"),
	};
	struct jsonscan_call		 c;
	struct jsonrpc_parser		*p = jsonrpc_parser_new();
	struct json_object		*o, *id, *params, *name;
	char				 buf[512];
	size_t				 len;
	unsigned int			 seed = 2;
	int				 i, taken = 0;

	for (i = 0; i < 60000; i++) {
		len = mutate(seeds[i % 3], buf, sizeof buf, &seed);
		if (jsonscan_call(buf, len, &c) == -1)
			continue;
		taken++;
		o = jsonrpc_parse_with(p, buf, len, NULL);
		ck_assert_msg(o != NULL, "json-c refused what the scanner "
		    "took: %.*s", (int)len, buf);
		ck_assert_int_eq(jsonrpc_classify(o, NULL), JSONRPC_REQUEST);
		ck_assert_str_eq(jsonrpc_method(o), "tools/call");
		id = jsonrpc_id(o);
		if (c.id_is_string) {
			ck_assert(json_object_is_type(id, json_type_string));
			ck_assert_uint_eq(json_object_get_string_len(id),
			    c.id_end - c.id_start - 2);
			ck_assert_int_eq(memcmp(json_object_get_string(id),
			    buf + c.id_start + 1, c.id_end - c.id_start - 2),
			    0);
		} else {
			ck_assert(json_object_is_type(id, json_type_int));
			ck_assert_int_eq(json_object_get_int64(id), c.id);
		}
		ck_assert(json_object_object_get_ex(o, "params", &params));
		ck_assert(!json_object_object_get_ex(params, "_meta", NULL));
		ck_assert(json_object_object_get_ex(params, "name", &name));
		ck_assert(json_object_is_type(name, json_type_string));
		ck_assert_uint_eq(json_object_get_string_len(name),
		    c.name_end - c.name_start);
		ck_assert_int_eq(memcmp(json_object_get_string(name),
		    buf + c.name_start, c.name_end - c.name_start), 0);
		ck_assert(memchr(buf + c.start, '\n', c.end - c.start) == NULL);
		json_object_put(o);
	}
	ck_assert_int_gt(taken, 1000);
	jsonrpc_parser_free(p);
}
END_TEST

static Suite *
jsonscan_suite(void)
{
	Suite	*s = suite_create("jsonscan");
	TCase	*tc = tcase_create("response");

	tcase_add_test(tc, test_takes_success_responses);
	tcase_add_test(tc, test_leaves_the_rest_to_json_c);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_never_looser_than_json_c);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("call");
	tcase_add_test(tc, test_takes_tool_calls);
	tcase_add_test(tc, test_leaves_other_calls_to_json_c);
	tcase_add_test(tc, test_calls_never_looser_than_json_c);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(jsonscan_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
