/*
 * Unit tests for config/config-rules.c: retry.rules in defaults, servers
 * and tools, the per-tool settings, and the exact file:line:col errors for
 * bad rules (regex position, unknown class, unreachable rule, a retry that
 * would run a call twice).
 */
#include "autoconf.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "retry-rules.h"

static struct config *
load(const char *text, struct config_errors *errs)
{
	config_errors_init(errs);
	return config_load_string(text, strlen(text), "t.yaml", errs);
}

static struct config *
load_ok(const char *text)
{
	struct config_errors	 errs;
	struct config		*cfg;
	size_t			 i;

	cfg = load(text, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "unexpected: %s\n", errs.msgs[i]);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(errs.n, 0);
	config_errors_free(&errs);
	return cfg;
}

/* The load fails with exactly this one error. */
static void
assert_error(const char *text, const char *want)
{
	struct config_errors	 errs;
	struct config		*cfg;
	size_t			 i;

	cfg = load(text, &errs);
	ck_assert_ptr_null(cfg);
	for (i = 1; i < errs.n; i++)
		fprintf(stderr, "also: %s\n", errs.msgs[i]);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], want);
	config_errors_free(&errs);
}

#define SERVER_A							\
	"servers:\n"							\
	"  a:\n"							\
	"    type: stdio\n"						\
	"    command: /bin/true\n"

static const char full_text[] =
	"defaults:\n"
	"  retry:\n"
	"    rules:\n"
	"      - class: [reset, timeout]\n"
	"        action: fail\n"
	"servers:\n"
	"  gh:\n"
	"    type: stdio\n"
	"    command: /bin/true\n"
	"    idempotent_tools: [search]\n"
	"    retry:\n"
	"      max_retries: 4\n"
	"      rules:\n"
	"        - name: rate-limit\n"
	"          result_error: true\n"
	"          message: 'retry in ([0-9]+)s'\n"
	"          action: retry\n"
	"          max_retries: 2\n"
	"          initial_delay: 5s\n"
	"        - jsonrpc_code: [-32603, \"-32099..-32000\"]\n"
	"          http_status: 503\n"
	"          method: tools/*\n"
	"          action: trip\n"
	"    tools:\n"
	"      search:\n"
	"        timeout: 2m\n"
	"        retry:\n"
	"          rules:\n"
	"            - class: reset\n"
	"              action: retry\n"
	"      create_issue:\n"
	"        idempotent: false\n"
	"        queue: false\n";

START_TEST(test_rules_load_in_every_scope)
{
	struct config			*cfg = load_ok(full_text);
	const struct config_server	*s = &cfg->servers[0];
	const struct config_tool	*t;
	const struct retry_rules	*d = cfg->defaults.retry.rules;
	const struct retry_rule		*r;

	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->n, 1);
	ck_assert_str_eq(d->v[0].name, "t.yaml:4");
	ck_assert_str_eq(d->v[0].origin, "t.yaml:4");
	ck_assert_int_eq(d->v[0].line, 4);
	ck_assert_int_eq(d->v[0].col, 9);
	ck_assert_uint_eq(d->v[0].nclasses, 2);
	ck_assert_str_eq(d->v[0].classes[1], "timeout");
	ck_assert_int_eq(d->v[0].action, RETRY_RULE_FAIL);

	/* The server's own rules; the defaults' are chained, not copied. */
	ck_assert_ptr_eq(s->default_rules, d);
	ck_assert_int_eq(s->retry.max_retries, 4);
	ck_assert_uint_eq(s->retry.rules->n, 2);
	r = &s->retry.rules->v[0];
	ck_assert_str_eq(r->name, "rate-limit");
	ck_assert(r->result_error);
	ck_assert_str_eq(r->message, "retry in ([0-9]+)s");
	ck_assert_int_eq(r->action, RETRY_RULE_RETRY);
	ck_assert_uint_eq(r->policy_set,
	    RETRY_RULE_P_MAX_RETRIES | RETRY_RULE_P_INITIAL_DELAY);
	ck_assert_int_eq(r->policy.max_retries, 2);
	ck_assert(r->policy.initial_delay == 5.0);
	r = &s->retry.rules->v[1];
	ck_assert_str_eq(r->name, "t.yaml:20");
	ck_assert_uint_eq(r->njsonrpc_code, 2);
	ck_assert_int_eq(r->jsonrpc_code[0].lo, -32603);
	ck_assert_int_eq(r->jsonrpc_code[0].hi, -32603);
	ck_assert_int_eq(r->jsonrpc_code[1].lo, -32099);
	ck_assert_int_eq(r->jsonrpc_code[1].hi, -32000);
	ck_assert_uint_eq(r->nhttp_status, 1);
	ck_assert_int_eq(r->http_status[0].lo, 503);
	ck_assert_str_eq(r->methods[0], "tools/*");
	ck_assert_int_eq(r->action, RETRY_RULE_TRIP);

	ck_assert_uint_eq(s->ntools, 2);
	t = config_tool_find(s, "search");
	ck_assert_ptr_nonnull(t);
	ck_assert(t->timeout == 120.0);
	ck_assert(t->queue);
	ck_assert(!t->idempotent_set);
	ck_assert_uint_eq(t->retry.rules->n, 1);
	ck_assert_str_eq(t->retry.rules->v[0].name, "t.yaml:29");
	t = config_tool_find(s, "create_issue");
	ck_assert(t->timeout == 0.0);
	ck_assert(!t->queue);
	ck_assert(t->idempotent_set);
	ck_assert(!t->idempotent);
	ck_assert_ptr_null(t->retry.rules);
	ck_assert_ptr_null(config_tool_find(s, "other"));
	ck_assert_int_eq(config_tool_idempotent(s, "search"), 1);
	ck_assert_int_eq(config_tool_idempotent(s, "create_issue"), 0);
	ck_assert_int_eq(config_tool_idempotent(s, "other"), -1);
	config_free(cfg);
}
END_TEST

START_TEST(test_rules_match_tool_then_server_then_defaults)
{
	struct config			*cfg = load_ok(full_text);
	const struct config_server	*s = &cfg->servers[0];
	const struct retry_rules	*lists[3];
	const struct retry_rule		*r;
	struct retry_event		 ev = { .class = "reset",
					    .method = "tools/call",
					    .tool = "search" };
	double				 hint;

	lists[0] = config_tool_find(s, "search")->retry.rules;
	lists[1] = s->retry.rules;
	lists[2] = s->default_rules;
	r = retry_rules_match(lists, 3, &ev, &hint, NULL);
	ck_assert_str_eq(r->name, "t.yaml:29");
	ev.tool = "other";
	lists[0] = NULL;
	r = retry_rules_match(lists, 3, &ev, &hint, NULL);
	ck_assert_str_eq(r->name, "t.yaml:4");
	memset(&ev, 0, sizeof ev);
	ev.method = "tools/call";
	ev.tool = "other";
	ev.result_error = true;
	ev.message = "rate limit, retry in 2s";
	r = retry_rules_match(lists, 3, &ev, &hint, NULL);
	ck_assert_str_eq(r->name, "rate-limit");
	ck_assert(hint == 2.0);
	config_free(cfg);
}
END_TEST

START_TEST(test_rules_reload_without_a_restart_and_are_dumped)
{
	struct config		*a = load_ok(full_text), *b;
	struct json_object	*dump, *o;
	char			*text = strdup(full_text), *p;

	/* Other rules and tool settings keep the server running... */
	p = strstr(text, "action: trip");
	memcpy(p, "action: fail", 12);
	p = strstr(text, "timeout: 2m");
	memcpy(p, "timeout: 3m", 11);
	b = load_ok(text);
	ck_assert(config_server_equal(&a->servers[0], &b->servers[0]));
	ck_assert_int_eq(b->servers[0].retry.rules->v[1].action,
	    RETRY_RULE_FAIL);
	config_free(b);
	/* ... other retry settings do not. */
	p = strstr(text, "max_retries: 4");
	memcpy(p, "max_retries: 5", 14);
	b = load_ok(text);
	ck_assert(!config_server_equal(&a->servers[0], &b->servers[0]));
	config_free(b);
	free(text);

	dump = config_dump_redacted(a);
	ck_assert(json_object_object_get_ex(dump, "servers", &o));
	ck_assert(json_object_object_get_ex(o, "gh", &o));
	ck_assert(json_object_object_get_ex(o, "retry", &o));
	ck_assert(json_object_object_get_ex(o, "rules", &o));
	ck_assert_str_eq(json_object_to_json_string_ext(
	    json_object_array_get_idx(o, 1), JSON_C_TO_STRING_PLAIN),
	    "{\"name\":\"t.yaml:20\",\"origin\":\"t.yaml:20\","
	    "\"http_status\":[503],\"jsonrpc_code\":[-32603,\"-32099..-32000\"],"
	    "\"method\":[\"tools\\/*\"],\"action\":\"trip\"}");
	json_object_put(dump);
	config_free(a);
}
END_TEST

START_TEST(test_bad_regex_points_at_the_error)
{
	/* Column 20 is the quote, 21 the pattern's first character. */
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - message: 'retry in ([0-9]+s'\n"
	    "          action: retry\n",
	    "t.yaml:7:30: servers.a.retry.rules[0].message: invalid regular "
	    "expression at character 10 of 'retry in ([0-9]+s': Unmatched ( "
	    "or \\(");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - message: limit [0-9\n"
	    "          action: fail\n",
	    "t.yaml:7:26: servers.a.retry.rules[0].message: invalid regular "
	    "expression at character 7 of 'limit [0-9': Unmatched [, [^, "
	    "[:, [., or [=");
}
END_TEST

START_TEST(test_unknown_class_and_action_suggest)
{
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - class: [reset, timout]\n"
	    "          action: fail\n",
	    "t.yaml:7:26: servers.a.retry.rules[0].class[1]: unknown error "
	    "class 'timout' (did you mean 'timeout'?)");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - class: reset\n"
	    "          action: retyr\n",
	    "t.yaml:8:19: servers.a.retry.rules[0].action: unknown action "
	    "'retyr' (did you mean 'retry'?)");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - clas: reset\n"
	    "          action: fail\n",
	    "t.yaml:7:11: servers.a.retry.rules[0]: unknown rule key 'clas' "
	    "(did you mean 'class'?)");
}
END_TEST

START_TEST(test_rule_after_catch_all_is_unreachable)
{
	assert_error("defaults:\n"
	    "  retry:\n"
	    "    rules:\n"
	    "      - name: never\n"
	    "        action: fail\n"
	    "      - class: reset\n"
	    "        action: retry\n",
	    "t.yaml:6:9: defaults.retry.rules[1]: rule 't.yaml:6' can never "
	    "match: rule 'never' (line 4) before it matches every failure");
	/* A catch-all last is fine, and so are the rules of another list. */
	config_free(load_ok(
	    "defaults:\n"
	    "  retry:\n"
	    "    rules:\n"
	    "      - action: fail\n"
	    SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - class: reset\n"
	    "          action: retry\n"));
}
END_TEST

START_TEST(test_retry_of_a_call_that_may_have_run_needs_idempotent)
{
	static const char tool_rule[] = SERVER_A
	    "    tools:\n"
	    "      increment:\n"
	    "%s"
	    "        retry:\n"
	    "          rules:\n"
	    "            - class: upstream_exit\n"
	    "              action: retry\n";
	char	text[1024];

	snprintf(text, sizeof text, tool_rule, "");
	assert_error(text,
	    "t.yaml:9:15: servers.a.tools.increment.retry.rules[0]: rule "
	    "'t.yaml:9' would run tool 'increment' again after a "
	    "'upstream_exit' failure, when it may already have run; declare it "
	    "'idempotent: true' under servers.a.tools.increment if running "
	    "it twice is harmless");
	snprintf(text, sizeof text, tool_rule, "        idempotent: false\n");
	assert_error(text,
	    "t.yaml:10:15: servers.a.tools.increment.retry.rules[0]: rule "
	    "'t.yaml:10' would run tool 'increment' again after a "
	    "'upstream_exit' failure, when it may already have run; declare it "
	    "'idempotent: true' under servers.a.tools.increment if running "
	    "it twice is harmless");
	snprintf(text, sizeof text, tool_rule, "        idempotent: true\n");
	config_free(load_ok(text));

	/* Aimed at tools by a glob: no tool can be declared for it. */
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - tool: 'create_*'\n"
	    "          class: [connect_failure, reset]\n"
	    "          action: retry\n",
	    "t.yaml:7:11: servers.a.retry.rules[0]: rule 't.yaml:7' would run "
	    "tool calls again after a 'reset' failure, when they may already "
	    "have run; aim it at named tools declared 'idempotent: true' under "
	    "servers.a.tools");
	/* A defaults rule is checked for each server. */
	assert_error("defaults:\n"
	    "  retry:\n"
	    "    rules:\n"
	    "      - tool: increment\n"
	    "        action: retry\n"
	    SERVER_A,
	    "t.yaml:4:9: defaults.retry.rules[0]: rule 't.yaml:4' would run "
	    "tool 'increment' of server 'a' again after a lost connection, "
	    "when it may already have run; declare it 'idempotent: true' "
	    "under servers.a.tools.increment if running it twice is "
	    "harmless");

	/* Not a call that may have run: refused, or an answer. */
	config_free(load_ok(SERVER_A
	    "    tools:\n"
	    "      increment:\n"
	    "        retry:\n"
	    "          rules:\n"
	    "            - class: [connect_failure, http_429]\n"
	    "              action: retry\n"
	    "            - result_error: true\n"
	    "              message: 'retry in ([0-9]+)s'\n"
	    "              action: retry\n"
	    "            - jsonrpc_code: -32603\n"
	    "              action: retry\n"
	    "            - class: reset\n"
	    "              action: fail\n"));
	/* Not aimed at tools: retry safety decides per request. */
	config_free(load_ok(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - class: reset\n"
	    "          action: retry\n"));
	/* idempotent_tools declares a tool as well. */
	config_free(load_ok(SERVER_A
	    "    idempotent_tools: [get]\n"
	    "    retry:\n"
	    "      rules:\n"
	    "        - tool: get\n"
	    "          class: timeout\n"
	    "          action: retry\n"));
}
END_TEST

START_TEST(test_rule_shape_errors)
{
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - class: reset\n",
	    "t.yaml:7:11: servers.a.retry.rules[0]: missing required key "
	    "'action' (one of retry, fail, fallback, trip)");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - class: reset\n"
	    "          action: fail\n"
	    "          max_retries: 2\n",
	    "t.yaml:9:11: servers.a.retry.rules[0].max_retries: only a rule "
	    "with 'action: retry' has backoff settings (this one has "
	    "'action: fail')");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - http_status: [503, 700]\n"
	    "          action: fallback\n",
	    "t.yaml:7:30: servers.a.retry.rules[0].http_status[1]: must be "
	    "between 100 and 599 (got 700)");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - jsonrpc_code: -32000..-32099\n"
	    "          action: fail\n",
	    "t.yaml:7:25: servers.a.retry.rules[0].jsonrpc_code: range "
	    "-32000..-32099 is empty");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        - name: x\n"
	    "          class: reset\n"
	    "          action: fail\n"
	    "        - name: x\n"
	    "          class: timeout\n"
	    "          action: fail\n",
	    "t.yaml:10:11: servers.a.retry.rules[1]: duplicate rule name 'x' "
	    "(first at line 7)");
	assert_error(SERVER_A
	    "    retry:\n"
	    "      rules:\n"
	    "        class: reset\n",
	    "t.yaml:7:9: servers.a.retry.rules: expected a list, got a "
	    "mapping");
	assert_error(SERVER_A
	    "    tools:\n"
	    "      t:\n"
	    "        timeout: 0s\n",
	    "t.yaml:7:18: servers.a.tools.t.timeout: must be at least 1ms "
	    "(got 0s)");
	assert_error(SERVER_A
	    "    tools:\n"
	    "      t:\n"
	    "        retry:\n"
	    "          max_retries: 2\n",
	    "t.yaml:8:11: servers.a.tools.t.retry: unknown key 'max_retries'");
}
END_TEST

static Suite *
config_rules_suite(void)
{
	Suite	*s = suite_create("config_rules");
	TCase	*tc = tcase_create("rules");

	tcase_add_test(tc, test_rules_load_in_every_scope);
	tcase_add_test(tc, test_rules_match_tool_then_server_then_defaults);
	tcase_add_test(tc, test_rules_reload_without_a_restart_and_are_dumped);
	tcase_add_test(tc, test_bad_regex_points_at_the_error);
	tcase_add_test(tc, test_unknown_class_and_action_suggest);
	tcase_add_test(tc, test_rule_after_catch_all_is_unreachable);
	tcase_add_test(tc,
	    test_retry_of_a_call_that_may_have_run_needs_idempotent);
	tcase_add_test(tc, test_rule_shape_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_rules_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
