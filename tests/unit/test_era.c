/*
 * Unit tests for daemon/era.c: classifying requests by era, validating a
 * 2026-07-28 request's _meta and HTTP headers, and the rewrites between
 * eras.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <check.h>
#include <json-c/json.h>

#include "era.h"
#include "jsonrpc.h"

#define MODERN_META \
	"\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":" \
	"\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}"

struct headers {
	const char	*names[8];
	const char	*values[8];
};

static const char *
lookup(void *arg, const char *name)
{
	struct headers	*h = arg;
	int		 i;

	for (i = 0; i < 8 && h->names[i] != NULL; i++)
		if (strcasecmp(h->names[i], name) == 0)
			return h->values[i];
	return NULL;
}

static struct json_object *
parse(const char *text)
{
	struct json_object	*o = json_tokener_parse(text);

	ck_assert_ptr_nonnull(o);
	return o;
}

START_TEST(test_request_with_modern_meta_is_modern)
{
	struct json_object *m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"tools/list\",\"params\":{" MODERN_META "}}");
	struct json_object *l = parse("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"tools/list\",\"params\":{\"_meta\":"
	    "{\"progressToken\":1}}}");

	ck_assert_int_eq(era_is_modern(m), 1);
	ck_assert_int_eq(era_is_modern(l), 0);
	json_object_put(m);
	json_object_put(l);
}
END_TEST

START_TEST(test_unsupported_version_lists_supported_and_echoes)
{
	struct era_error	 err = { 0 };
	struct json_object	*m, *v;

	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	    "\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\""
	    ":\"v999\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
	ck_assert_int_eq(era_check_meta(m, &err), -1);
	ck_assert_int_eq(err.code, -32022);
	ck_assert_int_eq(err.http_status, 400);
	ck_assert(json_object_object_get_ex(err.data, "requested", &v));
	ck_assert_str_eq(json_object_get_string(v), "v999");
	ck_assert(json_object_object_get_ex(err.data, "supported", &v));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v,
	    0)), "2026-07-28");
	era_error_clear(&err);
	json_object_put(m);
}
END_TEST

START_TEST(test_missing_capabilities_is_invalid_params)
{
	struct era_error	 err = { 0 };
	struct json_object	*m;

	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	    "\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\""
	    ":\"2026-07-28\"}}}");
	ck_assert_int_eq(era_check_meta(m, &err), -1);
	ck_assert_int_eq(err.code, -32602);
	ck_assert_int_eq(err.http_status, 400);
	era_error_clear(&err);
	json_object_put(m);

	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	    "\"params\":{" MODERN_META "}}");
	ck_assert_int_eq(era_check_meta(m, &err), 0);
	json_object_put(m);
}
END_TEST

START_TEST(test_headers_must_mirror_the_body)
{
	struct era_error	 err = { 0 };
	struct json_object	*m;
	struct headers		 ok = { { "mcp-protocol-version", "Mcp-Method",
	    "Mcp-Name", NULL }, { "2026-07-28", "tools/call", "echo", NULL } };
	struct headers		 wrong = { { "MCP-Protocol-Version",
	    "Mcp-Method", "Mcp-Name", NULL }, { "2026-07-28", "tools/call",
	    "other", NULL } };
	struct headers		 none = { { "MCP-Protocol-Version", NULL },
	    { "2026-07-28", NULL } };
	struct headers		 ver = { { "MCP-Protocol-Version",
	    "Mcp-Method", "Mcp-Name", NULL }, { "2025-11-25", "tools/call",
	    "echo", NULL } };

	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"echo\"," MODERN_META "}}");
	ck_assert_int_eq(era_check_http_headers(m, lookup, &ok, NULL, &err),
	    0);
	ck_assert_int_eq(era_check_http_headers(m, lookup, &wrong, NULL,
	    &err), -1);
	ck_assert_int_eq(err.code, -32020);
	ck_assert_int_eq(era_check_http_headers(m, lookup, &none, NULL, &err),
	    -1);
	ck_assert_str_eq(err.message,
	    "Header mismatch: Mcp-Method header is required");
	ck_assert_int_eq(era_check_http_headers(m, lookup, &ver, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, -32020);
	json_object_put(m);
}
END_TEST

START_TEST(test_base64_sentinel_names_are_decoded)
{
	struct era_error	 err = { 0 };
	struct json_object	*m;
	/* "Hello, 世界" */
	struct headers		 h = { { "MCP-Protocol-Version", "Mcp-Method",
	    "Mcp-Name", NULL }, { "2026-07-28", "tools/call",
	    "=?base64?SGVsbG8sIOS4lueVjA==?=", NULL } };
	char			*d;

	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"Hello, \\u4e16\\u754c\"," MODERN_META "}}");
	ck_assert_int_eq(era_check_http_headers(m, lookup, &h, NULL, &err), 0);
	json_object_put(m);
	ck_assert_ptr_null(era_header_decode("=?base64?!!!?="));
	ck_assert_ptr_null(era_header_decode("line\nbreak"));
	d = era_header_decode("=?base64?IHBhZGRlZCA=?=");
	ck_assert_str_eq(d, " padded ");
	free(d);
}
END_TEST

START_TEST(test_x_mcp_header_params_are_checked_numerically)
{
	struct era_error	 err = { 0 };
	struct json_object	*m, *schema;
	struct headers		 good = { { "MCP-Protocol-Version",
	    "Mcp-Method", "Mcp-Name", "Mcp-Param-Region", "Mcp-Param-Count",
	    NULL }, { "2026-07-28", "tools/call", "q", "us-west1", "42.0",
	    NULL } };
	struct headers		 missing = { { "MCP-Protocol-Version",
	    "Mcp-Method", "Mcp-Name", "Mcp-Param-Count", NULL },
	    { "2026-07-28", "tools/call", "q", "42", NULL } };
	struct headers		 bad = { { "MCP-Protocol-Version",
	    "Mcp-Method", "Mcp-Name", "Mcp-Param-Region", "Mcp-Param-Count",
	    NULL }, { "2026-07-28", "tools/call", "q", "us-west1", "41",
	    NULL } };

	schema = parse("{\"type\":\"object\",\"properties\":{\"region\":"
	    "{\"type\":\"string\",\"x-mcp-header\":\"Region\"},\"opt\":"
	    "{\"properties\":{\"count\":{\"type\":\"integer\","
	    "\"x-mcp-header\":\"Count\"}}},\"absent\":{\"type\":\"string\","
	    "\"x-mcp-header\":\"Absent\"}}}");
	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"q\",\"arguments\":{\"region\":\"us-west1\","
	    "\"opt\":{\"count\":42}}," MODERN_META "}}");
	ck_assert_int_eq(era_check_http_headers(m, lookup, &good, schema,
	    &err), 0);
	ck_assert_int_eq(era_check_http_headers(m, lookup, &missing, schema,
	    &err), -1);
	ck_assert_str_eq(err.message,
	    "Header mismatch: Mcp-Param-Region header is required");
	ck_assert_int_eq(era_check_http_headers(m, lookup, &bad, schema,
	    &err), -1);
	ck_assert_int_eq(err.code, -32020);
	json_object_put(m);
	json_object_put(schema);
}
END_TEST

START_TEST(test_removed_methods)
{
	ck_assert_int_eq(era_method_removed("initialize"), 1);
	ck_assert_int_eq(era_method_removed("ping"), 1);
	ck_assert_int_eq(era_method_removed("logging/setLevel"), 1);
	ck_assert_int_eq(era_method_removed("resources/subscribe"), 1);
	ck_assert_int_eq(era_method_removed("tools/call"), 0);
	ck_assert_int_eq(era_method_removed("server/discover"), 0);
}
END_TEST

START_TEST(test_modern_request_loses_its_era_meta_for_legacy)
{
	struct json_object	*m;

	m = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"e\",\"_meta\":{\"progressToken\":7,"
	    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
	    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
	era_request_to_legacy(m);
	ck_assert_str_eq(json_object_to_json_string_ext(m,
	    JSON_C_TO_STRING_PLAIN), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\""
	    ":\"tools\\/call\",\"params\":{\"name\":\"e\",\"_meta\":"
	    "{\"progressToken\":7}}}");
	json_object_put(m);
}
END_TEST

START_TEST(test_reply_gets_result_type_cache_hints_and_server_info)
{
	struct json_object	*r, *res, *v;

	r = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}");
	era_reply_to_modern(r, "tools/list", "mcprelay", "1.0");
	res = json_object_object_get(r, "result");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(res,
	    "resultType")), "complete");
	ck_assert(json_object_object_get_ex(res, "ttlMs", &v));
	ck_assert_int_ge(json_object_get_int(v), 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(res,
	    "cacheScope")), "private");
	ck_assert(json_object_object_get_ex(json_object_object_get(res,
	    "_meta"), "io.modelcontextprotocol/serverInfo", NULL));
	json_object_put(r);

	r = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}");
	era_reply_to_modern(r, "tools/call", "mcprelay", "1.0");
	res = json_object_object_get(r, "result");
	ck_assert(!json_object_object_get_ex(res, "ttlMs", NULL));
	json_object_put(r);

	r = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32002,"
	    "\"message\":\"nope\"}}");
	era_reply_to_modern(r, "resources/read", "mcprelay", "1.0");
	ck_assert_int_eq(jsonrpc_error_code(r), -32602);
	ck_assert_int_eq(era_http_status(r), 200);
	json_object_put(r);

	r = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,"
	    "\"message\":\"nope\"}}");
	ck_assert_int_eq(era_http_status(r), 404);
	json_object_put(r);
}
END_TEST

/* ---- mcprelayd as a modern client on Streamable HTTP ---------------- */

struct added {
	char	names[24][64];
	char	values[24][128];
	int	n;
};

static void
add(void *arg, const char *name, const char *value)
{
	struct added	*a = arg;

	ck_assert_int_lt(a->n, 24);
	snprintf(a->names[a->n], sizeof a->names[0], "%s", name);
	snprintf(a->values[a->n], sizeof a->values[0], "%s", value);
	a->n++;
}

static const char *
added(const struct added *a, const char *name)
{
	int	i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return a->values[i];
	return NULL;
}

START_TEST(test_header_values_are_encoded_as_the_spec_says)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "us-west1", "us-west1" },
		{ "us west 1", "us west 1" },
		{ "", "" },
		{ "Hello, \xe4\xb8\x96\xe7\x95\x8c",
		    "=?base64?SGVsbG8sIOS4lueVjA==?=" },
		{ " padded ", "=?base64?IHBhZGRlZCA=?=" },
		{ "line1\nline2", "=?base64?bGluZTEKbGluZTI=?=" },
		{ "\tindented", "=?base64?CWluZGVudGVk?=" },
		{ "=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=" },
	};
	char	*v, *back;
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = era_header_encode(cases[i].in);
		ck_assert_str_eq(v, cases[i].out);
		/* And the daemon's own decoder reads it back. */
		back = era_header_decode(v);
		ck_assert_ptr_nonnull(back);
		ck_assert_str_eq(back, cases[i].in);
		free(back);
		free(v);
	}
}
END_TEST

START_TEST(test_modern_tools_call_gets_standard_and_param_headers)
{
	struct json_object	*msg, *schema;
	struct added		 a = { .n = 0 };

	msg = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"execute_sql\",\"arguments\":{\"region\":"
	    "\"us-west1\",\"priority\":42,\"verbose\":false,\"note\":null,"
	    "\"where\":{\"zone\":\"b \"},\"query\":\"SELECT 1\"}," MODERN_META
	    "}}");
	schema = parse("{\"type\":\"object\",\"properties\":{"
	    "\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
	    "\"priority\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"
	    "\"verbose\":{\"type\":\"boolean\",\"x-mcp-header\":\"Verbose\"},"
	    "\"note\":{\"type\":\"string\",\"x-mcp-header\":\"Note\"},"
	    "\"where\":{\"type\":\"object\",\"properties\":{\"zone\":{"
	    "\"type\":\"string\",\"x-mcp-header\":\"Zone\"}}},"
	    "\"query\":{\"type\":\"string\"}}}");
	era_add_http_headers(msg, schema, add, &a);
	ck_assert_str_eq(added(&a, "MCP-Protocol-Version"), "2026-07-28");
	ck_assert_str_eq(added(&a, "Mcp-Method"), "tools/call");
	ck_assert_str_eq(added(&a, "Mcp-Name"), "execute_sql");
	ck_assert_str_eq(added(&a, "Mcp-Param-Region"), "us-west1");
	ck_assert_str_eq(added(&a, "Mcp-Param-Priority"), "42");
	ck_assert_str_eq(added(&a, "Mcp-Param-Verbose"), "false");
	ck_assert_str_eq(added(&a, "Mcp-Param-Zone"), "=?base64?YiA=?=");
	/* null is no value: no header; unmarked arguments never. */
	ck_assert_ptr_null(added(&a, "Mcp-Param-Note"));
	ck_assert_int_eq(a.n, 7);
	json_object_put(msg);
	json_object_put(schema);

	/* resources/read names its URI, encoded when it must be. */
	a.n = 0;
	msg = parse("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"resources/read\",\"params\":{\"uri\":\"file:///a b\xc3\xa9\","
	    MODERN_META "}}");
	era_add_http_headers(msg, NULL, add, &a);
	ck_assert_str_eq(added(&a, "Mcp-Method"), "resources/read");
	ck_assert_str_eq(added(&a, "Mcp-Name"), "=?base64?ZmlsZTovLy9hIGLDqQ==?=");
	json_object_put(msg);
}
END_TEST

START_TEST(test_invalid_x_mcp_header_annotations_reject_the_tool)
{
	static const struct {
		const char	*props;
		int		 valid;
		const char	*why;
	} cases[] = {
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A\"}", 1, NULL },
		{ "\"a\":{\"type\":\"object\",\"properties\":{\"b\":{\"type\":"
		    "\"integer\",\"x-mcp-header\":\"B\"}}}", 1, NULL },
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":\"\"}", 0,
		    "empty" },
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A B\"}", 0,
		    "token" },
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A:B\"}", 0,
		    "token" },
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":\"\xc3\xa9\"}",
		    0, "token" },
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":\"A\"},"
		    "\"b\":{\"type\":\"string\",\"x-mcp-header\":\"a\"}", 0,
		    "twice" },
		{ "\"a\":{\"type\":\"object\",\"x-mcp-header\":\"A\"}", 0,
		    "type" },
		{ "\"a\":{\"type\":\"number\",\"x-mcp-header\":\"A\"}", 0,
		    "type" },
		{ "\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
		    "\"x-mcp-header\":\"A\"}}", 0, "chain" },
		{ "\"a\":{\"anyOf\":[{\"type\":\"string\",\"x-mcp-header\":"
		    "\"A\"}]}", 0, "chain" },
		{ "\"a\":{\"type\":\"string\",\"x-mcp-header\":7}", 0,
		    "string" },
	};
	struct json_object	*tool;
	char			 text[512], why[160];
	size_t			 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "{\"name\":\"t\",\"inputSchema\":"
		    "{\"type\":\"object\",\"properties\":{%s}}}",
		    cases[i].props);
		tool = parse(text);
		why[0] = '\0';
		ck_assert_msg(era_tool_headers_valid(tool, why, sizeof why) ==
		    cases[i].valid, "case %zu: %s", i, why);
		if (cases[i].why != NULL)
			ck_assert_msg(strstr(why, cases[i].why) != NULL,
			    "case %zu: '%s' lacks '%s'", i, why, cases[i].why);
		json_object_put(tool);
	}
	/* The root itself cannot carry one. */
	tool = parse("{\"name\":\"t\",\"inputSchema\":{\"type\":\"string\","
	    "\"x-mcp-header\":\"A\"}}");
	ck_assert_int_eq(era_tool_headers_valid(tool, why, sizeof why), 0);
	json_object_put(tool);
}
END_TEST

static Suite *
era_suite(void)
{
	Suite	*s = suite_create("era");
	TCase	*tc = tcase_create("era");

	tcase_add_test(tc, test_request_with_modern_meta_is_modern);
	tcase_add_test(tc, test_unsupported_version_lists_supported_and_echoes);
	tcase_add_test(tc, test_missing_capabilities_is_invalid_params);
	tcase_add_test(tc, test_headers_must_mirror_the_body);
	tcase_add_test(tc, test_base64_sentinel_names_are_decoded);
	tcase_add_test(tc, test_x_mcp_header_params_are_checked_numerically);
	tcase_add_test(tc, test_removed_methods);
	tcase_add_test(tc, test_modern_request_loses_its_era_meta_for_legacy);
	tcase_add_test(tc, test_reply_gets_result_type_cache_hints_and_server_info);
	tcase_add_test(tc, test_header_values_are_encoded_as_the_spec_says);
	tcase_add_test(tc, test_modern_tools_call_gets_standard_and_param_headers);
	tcase_add_test(tc, test_invalid_x_mcp_header_annotations_reject_the_tool);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(era_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
