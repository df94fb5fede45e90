/*
 * Unit tests for common/retry-rules.c: each matcher, first match wins over
 * several lists, the capture-group hint, the rule's own backoff, and where
 * a bad regular expression goes wrong.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry-rules.h"
#include "xmalloc.h"

static void
add_class(struct retry_rule *r, const char *c)
{
	r->classes = xreallocarray(r->classes, r->nclasses + 1,
	    sizeof *r->classes);
	r->classes[r->nclasses++] = xstrdup(c);
}

static void
add_range(struct retry_rule_range **v, size_t *n, long lo, long hi)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n].lo = lo;
	(*v)[*n].hi = hi;
	(*n)++;
}

static void
set_message(struct retry_rule *r, const char *pattern)
{
	char	err[128];
	size_t	off;

	ck_assert_int_eq(retry_rule_set_message(r, pattern, err, sizeof err,
	    &off), 0);
}

START_TEST(test_action_names_round_trip)
{
	enum retry_rule_action	a;

	ck_assert_str_eq(retry_rule_action_name(RETRY_RULE_RETRY), "retry");
	ck_assert_str_eq(retry_rule_action_name(RETRY_RULE_FAIL), "fail");
	ck_assert_str_eq(retry_rule_action_name(RETRY_RULE_FALLBACK),
	    "fallback");
	ck_assert_str_eq(retry_rule_action_name(RETRY_RULE_TRIP), "trip");
	ck_assert_str_eq(retry_rule_action_name(RETRY_RULE_NACTIONS),
	    "unknown");
	ck_assert_int_eq(retry_rule_action_parse("trip", &a), 0);
	ck_assert_int_eq(a, RETRY_RULE_TRIP);
	ck_assert_int_eq(retry_rule_action_parse("retry", &a), 0);
	ck_assert_int_eq(a, RETRY_RULE_RETRY);
	ck_assert_int_eq(retry_rule_action_parse("Retry", &a), -1);
	ck_assert_int_eq(retry_rule_action_parse(NULL, &a), -1);
	ck_assert_int_eq(a, RETRY_RULE_RETRY);
}
END_TEST

START_TEST(test_class_matches_only_listed_classes)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	struct retry_event	 ev = { .class = "timeout" };

	add_class(r, "reset");
	add_class(r, "timeout");
	ck_assert(retry_rule_matches(r, &ev, NULL));
	ev.class = "http_5xx";
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	/* An answer from the server has no class. */
	ev.class = NULL;
	ev.has_code = true;
	ev.jsonrpc_code = -32603;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	ck_assert(!retry_rule_is_catch_all(r));
	retry_rules_free(rs);
}
END_TEST

START_TEST(test_code_and_status_ranges_are_inclusive)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	struct retry_event	 ev = { .has_code = true };

	add_range(&r->jsonrpc_code, &r->njsonrpc_code, -32603, -32603);
	add_range(&r->jsonrpc_code, &r->njsonrpc_code, -32099, -32000);
	ev.jsonrpc_code = -32603;
	ck_assert(retry_rule_matches(r, &ev, NULL));
	ev.jsonrpc_code = -32099;
	ck_assert(retry_rule_matches(r, &ev, NULL));
	ev.jsonrpc_code = -32000;
	ck_assert(retry_rule_matches(r, &ev, NULL));
	ev.jsonrpc_code = -31999;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	ev.jsonrpc_code = -32602;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	ev.has_code = false;
	ev.jsonrpc_code = -32603;
	ck_assert(!retry_rule_matches(r, &ev, NULL));

	r = retry_rules_add(rs);
	add_range(&r->http_status, &r->nhttp_status, 500, 599);
	memset(&ev, 0, sizeof ev);
	ev.class = "http_5xx";
	ev.http_status = 503;
	ck_assert(retry_rule_matches(r, &ev, NULL));
	ev.http_status = 600;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	ev.http_status = 0;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	retry_rules_free(rs);
}
END_TEST

START_TEST(test_method_and_tool_are_globs)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	struct retry_event	 ev = { .class = "reset",
				    .method = "tools/call", .tool = "get_issue" };

	r->methods = xcalloc(1, sizeof *r->methods);
	r->methods[0] = xstrdup("tools/*");
	r->nmethods = 1;
	r->tool = xstrdup("get_*");
	ck_assert(retry_rule_matches(r, &ev, NULL));
	ev.tool = "create_issue";
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	ev.tool = NULL;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	ev.tool = "get_x";
	ev.method = "resources/read";
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	/* A connect attempt has no method. */
	ev.method = NULL;
	ck_assert(!retry_rule_matches(r, &ev, NULL));
	retry_rules_free(rs);
}
END_TEST

START_TEST(test_result_error_message_and_hint)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	struct retry_event	 ev = { .method = "tools/call", .tool = "t",
				    .result_error = true,
				    .message = "rate limit, retry in 20s" };
	double			 hint;

	r->result_error = true;
	set_message(r, "rate limit, retry in ([0-9]+(\\.[0-9]+)?)s");
	ck_assert(retry_rule_matches(r, &ev, &hint));
	ck_assert(hint == 20.0);
	ev.message = "rate limit, retry in 1.5s";
	ck_assert(retry_rule_matches(r, &ev, &hint));
	ck_assert(hint == 1.5);
	ev.message = "quota exhausted";
	ck_assert(!retry_rule_matches(r, &ev, &hint));
	ck_assert(hint == -1.0);
	/* The same text as a JSON-RPC error is not a result error. */
	ev.message = "rate limit, retry in 20s";
	ev.result_error = false;
	ck_assert(!retry_rule_matches(r, &ev, &hint));

	/* A group that holds no number gives no hint. */
	r = retry_rules_add(rs);
	set_message(r, "(busy|overloaded)");
	ev.message = "server overloaded";
	ck_assert(retry_rule_matches(r, &ev, &hint));
	ck_assert(hint == -1.0);
	/* Absurd hints are capped at a day. */
	r = retry_rules_add(rs);
	set_message(r, "in ([0-9]+)s");
	ev.message = "retry in 99999999s";
	ck_assert(retry_rule_matches(r, &ev, &hint));
	ck_assert(hint == 86400.0);
	retry_rules_free(rs);
}
END_TEST

START_TEST(test_first_match_wins_across_lists)
{
	struct retry_rules		*tool = retry_rules_new();
	struct retry_rules		*server = retry_rules_new();
	struct retry_rules		*defaults = retry_rules_new();
	const struct retry_rules	*lists[3] = { tool, server, defaults };
	const struct retry_rule		*m;
	struct retry_rule		*r;
	struct retry_event		 ev = { .class = "timeout",
					    .method = "tools/call",
					    .tool = "slow" };
	size_t				 idx;

	r = retry_rules_add(tool);
	r->name = xstrdup("tool-reset");
	add_class(r, "reset");
	r = retry_rules_add(server);
	r->name = xstrdup("server-timeout");
	add_class(r, "timeout");
	r->action = RETRY_RULE_FAIL;
	r = retry_rules_add(defaults);
	r->name = xstrdup("catch-all");
	r->action = RETRY_RULE_TRIP;
	ck_assert(retry_rule_is_catch_all(r));

	m = retry_rules_match(lists, 3, &ev, NULL, &idx);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->name, "server-timeout");
	ck_assert_uint_eq(idx, 1);
	ev.class = "reset";
	m = retry_rules_match(lists, 3, &ev, NULL, &idx);
	ck_assert_str_eq(m->name, "tool-reset");
	ck_assert_uint_eq(idx, 0);
	ev.class = "http_429";
	m = retry_rules_match(lists, 3, &ev, NULL, &idx);
	ck_assert_str_eq(m->name, "catch-all");
	ck_assert_uint_eq(idx, 2);
	/* Without the defaults' catch-all nothing matches. */
	lists[2] = NULL;
	ck_assert_ptr_null(retry_rules_match(lists, 3, &ev, NULL, &idx));
	retry_rules_free(tool);
	retry_rules_free(server);
	retry_rules_free(defaults);
}
END_TEST

START_TEST(test_rule_policy_overrides_only_set_fields)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	struct retry_policy	 base, p;

	retry_policy_init(&base);
	base.jitter = false;
	r->policy.max_retries = 5;
	r->policy.initial_delay = 10;
	r->policy_set = RETRY_RULE_P_MAX_RETRIES | RETRY_RULE_P_INITIAL_DELAY;
	retry_rule_policy(r, &base, &p);
	ck_assert_int_eq(p.max_retries, 5);
	ck_assert(p.initial_delay == 10.0);
	ck_assert(p.max_delay == 60.0);
	ck_assert(p.backoff_factor == 2.0);
	ck_assert(!p.jitter);
	/* Delays 10, 20, 40, 60 (capped), 60; then no more. */
	ck_assert(retry_rule_delay(r, &base, 0, 0, -1, NULL) == 10.0);
	ck_assert(retry_rule_delay(r, &base, 1, 10, -1, NULL) == 20.0);
	ck_assert(retry_rule_delay(r, &base, 2, 20, -1, NULL) == 40.0);
	ck_assert(retry_rule_delay(r, &base, 3, 40, -1, NULL) == 60.0);
	ck_assert(retry_rule_delay(r, &base, 4, 60, -1, NULL) == 60.0);
	ck_assert(retry_rule_delay(r, &base, 5, 60, -1, NULL) == -1.0);
	/* A hint replaces the backoff, capped at max_delay. */
	ck_assert(retry_rule_delay(r, &base, 0, 0, 2, NULL) == 2.0);
	ck_assert(retry_rule_delay(r, &base, 0, 0, 600, NULL) == 60.0);
	/* An initial_delay above the inherited cap raises the cap. */
	r->policy.initial_delay = 90;
	retry_rule_policy(r, &base, &p);
	ck_assert(p.max_delay == 90.0);
	retry_rules_free(rs);
}
END_TEST

static size_t
bad_offset(const char *pattern)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	char			 err[128] = "";
	size_t			 off = 99;

	ck_assert_int_eq(retry_rule_set_message(r, pattern, err, sizeof err,
	    &off), -1);
	ck_assert(err[0] != '\0');
	ck_assert(!r->re_ok);
	ck_assert_ptr_null(r->message);
	retry_rules_free(rs);
	return off;
}

START_TEST(test_bad_regex_reports_where)
{
	ck_assert_uint_eq(bad_offset("retry in ([0-9]+s"), 9);
	ck_assert_uint_eq(bad_offset("limit [0-9"), 6);
	ck_assert_uint_eq(bad_offset("*limit"), 0);
	ck_assert_uint_eq(bad_offset("a|+b"), 2);
	ck_assert_uint_eq(bad_offset("x{2,1}"), 0);
	ck_assert_uint_eq(bad_offset("ab\\"), 2);
}
END_TEST

/* Patterns regcomp() would take gigabytes for are refused before it. */
START_TEST(test_regex_too_complex)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	char			 stacked[160], err[128];
	size_t			 off;

	/* The fuzzer's find: a hundred stacked '+' double it each time. */
	snprintf(stacked, sizeof stacked, "retry in ([0-9]+)s%.100s",
	    "++++++++++++++++++++++++++++++++++++++++++++++++++"
	    "++++++++++++++++++++++++++++++++++++++++++++++++++");
	/* 11 pieces before the s; the 12th + makes it 11 + 2^12. */
	ck_assert_uint_eq(bad_offset(stacked), 18 + 11);
	ck_assert_uint_eq(bad_offset("(a{99}){99}"), 7);
	/* Literal to glibc, so repeated like any character. */
	ck_assert_uint_eq(bad_offset("x)+++++++++++++"), 13);
	ck_assert_uint_eq(bad_offset("x|{+++++++++++++"), 14);
	ck_assert_uint_eq(bad_offset("((((x{9}){9}){9}){9})"), 17);
	ck_assert_int_eq(retry_rule_set_message(r, "(a{99}){99}", err,
	    sizeof err, &off), -1);
	ck_assert_str_eq(err, "too complex: its repetitions expand to more "
	    "than 4096 pieces");
	/* Ordinary patterns, and big but bounded ones, are fine. */
	set_message(r, "rate limit, retry in ([0-9]+(\\.[0-9]+)?)s");
	set_message(r, "[0-9]{1,255}-[a-z]{3000}");
	set_message(r, "(a{64}){64}");
	set_message(r, "x{2,}y*z?[[:digit:]]+");
	retry_rules_free(rs);
}
END_TEST

START_TEST(test_describe_lists_matchers)
{
	struct retry_rules	*rs = retry_rules_new();
	struct retry_rule	*r = retry_rules_add(rs);
	char			 buf[256];

	retry_rule_describe(r, buf, sizeof buf);
	ck_assert_str_eq(buf, "(any)");
	add_class(r, "reset");
	add_class(r, "timeout");
	add_range(&r->jsonrpc_code, &r->njsonrpc_code, -32099, -32000);
	r->tool = xstrdup("get_*");
	r->result_error = true;
	set_message(r, "busy");
	retry_rule_describe(r, buf, sizeof buf);
	ck_assert_str_eq(buf, "class=reset,timeout jsonrpc_code=-32099..-32000 "
	    "tool=get_* result_error message=/busy/");
	retry_rules_free(rs);
}
END_TEST

static Suite *
retry_rules_suite(void)
{
	Suite	*s = suite_create("retry_rules");
	TCase	*tc = tcase_create("match");

	tcase_add_test(tc, test_action_names_round_trip);
	tcase_add_test(tc, test_class_matches_only_listed_classes);
	tcase_add_test(tc, test_code_and_status_ranges_are_inclusive);
	tcase_add_test(tc, test_method_and_tool_are_globs);
	tcase_add_test(tc, test_result_error_message_and_hint);
	tcase_add_test(tc, test_regex_too_complex);
	tcase_add_test(tc, test_first_match_wins_across_lists);
	tcase_add_test(tc, test_rule_policy_overrides_only_set_fields);
	tcase_add_test(tc, test_bad_regex_reports_where);
	tcase_add_test(tc, test_describe_lists_matchers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(retry_rules_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
