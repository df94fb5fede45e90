/*
 * Unit tests for mcprelayctl import's pure parts (ctl/import-map.c,
 * ctl/import-yaml.c, ctl/udiff.c): agents' JSON to servers, secret
 * detection, YAML quoting, insertion into existing text, the diff.
 */
#include "autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "import.h"

/* Maps JSON text for the agent and returns the emitted YAML (indent 2). */
static char *
map_yaml(const char *json, enum imp_agent agent, char *const *existing,
    struct imp_result *res)
{
	struct json_object	*root;
	struct imp_ctx		 ctx = { existing, NULL,
	    "http://127.0.0.1:8931/servers/" };
	struct imp_buf		 b = { NULL, 0, 0 };
	char			 err[256];

	root = json_tokener_parse(json);
	ck_assert_ptr_nonnull(root);
	ck_assert_int_eq(imp_map(root, agent, &ctx, res, err, sizeof err), 0);
	json_object_put(root);
	imp_emit_servers(&b, res, 2, NULL);
	return b.s;
}

static char *
scalar(const char *s)
{
	struct imp_buf	b = { NULL, 0, 0 };

	imp_yaml_scalar(&b, s);
	return b.s;
}

START_TEST(test_stdio_entry_maps_with_secret_moved)
{
	struct imp_result	 r;
	char			*y;

	y = map_yaml("{\"mcpServers\": {\"github\": {\"command\": \"npx\", "
	    "\"args\": [\"-y\", \"@modelcontextprotocol/server-github\"], "
	    "\"env\": {\"GITHUB_PERSONAL_ACCESS_TOKEN\": \"abc\", "
	    "\"LOG_LEVEL\": \"debug\"}, \"cwd\": \"/srv\", \"timeout\": 5, "
	    "\"trust\": true}}}", IMP_CURSOR, NULL, &r);
	ck_assert_str_eq(y,
	    "  github:\n"
	    "    type: stdio\n"
	    "    command: npx\n"
	    "    args: [-y, \"@modelcontextprotocol/server-github\"]\n"
	    "    env:\n"
	    "      GITHUB_PERSONAL_ACCESS_TOKEN: "
	    "\"${MCPRELAY_GITHUB_GITHUB_PERSONAL_ACCESS_TOKEN}\"\n"
	    "      LOG_LEVEL: debug\n"
	    "    cwd: /srv\n");
	ck_assert_uint_eq(r.nsecrets, 1);
	ck_assert_str_eq(r.secrets[0].var,
	    "MCPRELAY_GITHUB_GITHUB_PERSONAL_ACCESS_TOKEN");
	ck_assert_str_eq(r.secrets[0].value, "abc");
	ck_assert_str_eq(r.servers[0].ignored, "timeout, trust");
	free(y);
	imp_result_free(&r);
}
END_TEST

START_TEST(test_remote_types_per_agent)
{
	struct imp_result	 r;
	char			*y;

	/* Claude Code: type names the transport. */
	y = map_yaml("{\"mcpServers\": {"
	    "\"a\": {\"type\": \"http\", \"url\": \"https://a/mcp\"}, "
	    "\"b\": {\"type\": \"streamable-http\", \"url\": \"https://b/\"}, "
	    "\"c\": {\"type\": \"sse\", \"url\": \"https://c/events\"}}}",
	    IMP_CLAUDE_CODE, NULL, &r);
	ck_assert_str_eq(y,
	    "  a:\n    type: http\n    url: \"https://a/mcp\"\n"
	    "  b:\n    type: http\n    url: \"https://b/\"\n"
	    "  c:\n    type: sse\n    url: \"https://c/events\"\n");
	free(y);
	imp_result_free(&r);
	/* Gemini: httpUrl is Streamable HTTP, url is SSE. */
	y = map_yaml("{\"mcpServers\": {\"h\": {\"httpUrl\": \"http://h/mcp\"},"
	    " \"s\": {\"url\": \"http://s/x\"}}}", IMP_GEMINI, NULL, &r);
	ck_assert_str_eq(y, "  h:\n    type: http\n    url: \"http://h/mcp\"\n"
	    "  s:\n    type: sse\n    url: \"http://s/x\"\n");
	free(y);
	imp_result_free(&r);
	/* Windsurf: serverUrl, guessed from the path; disabled kept. */
	y = map_yaml("{\"mcpServers\": {\"w\": {\"serverUrl\": \"http://w/sse\","
	    " \"disabled\": true}, \"v\": {\"serverUrl\": \"http://v/mcp\"}}}",
	    IMP_WINDSURF, NULL, &r);
	ck_assert_str_eq(y, "  w:\n    type: sse\n    enabled: false\n"
	    "    url: \"http://w/sse\"\n"
	    "  v:\n    type: http\n    url: \"http://v/mcp\"\n");
	free(y);
	imp_result_free(&r);
}
END_TEST

START_TEST(test_vscode_servers_shape_and_variables)
{
	struct imp_result	 r;
	char			*y;

	y = map_yaml("{\"inputs\": [], \"servers\": {"
	    "\"e\": {\"type\": \"stdio\", \"command\": \"srv\", "
	    "\"env\": {\"HOME_DIR\": \"${env:HOME}/x\", \"P\": \"a${b\"}}, "
	    "\"i\": {\"type\": \"stdio\", \"command\": \"srv\", "
	    "\"env\": {\"K\": \"${input:api-key}\"}}, "
	    "\"f\": {\"type\": \"stdio\", \"command\": \"srv\", "
	    "\"envFile\": \"${workspaceFolder}/.env\"}}}",
	    IMP_VSCODE, NULL, &r);
	ck_assert_str_eq(y, "  e:\n    type: stdio\n    command: srv\n"
	    "    env:\n      HOME_DIR: \"${HOME}/x\"\n      P: \"a$${b\"\n");
	ck_assert_uint_eq(r.nskipped, 2);
	ck_assert_str_eq(r.skipped[0].name, "i");
	ck_assert_str_eq(r.skipped[0].reason, "env K uses ${input:api-key}, "
	    "which only the agent can resolve");
	ck_assert_str_eq(r.skipped[1].name, "f");
	ck_assert_str_eq(r.skipped[1].reason, "envFile is not supported: put "
	    "its variables in env");
	free(y);
	imp_result_free(&r);
}
END_TEST

START_TEST(test_unsupported_and_clashing_entries_are_listed)
{
	struct imp_result	 r;
	char			*existing[] = { "taken", NULL };
	char			*y;

	y = map_yaml("{\"mcpServers\": {"
	    "\"taken\": {\"command\": \"x\"}, "
	    "\"ws\": {\"type\": \"websocket\", \"url\": \"ws://h/\"}, "
	    "\"none\": {\"description\": \"?\"}, "
	    "\"bad name\": {\"command\": \"x\"}, "
	    "\"numargs\": {\"command\": \"x\", \"args\": [1]}, "
	    "\"mine\": {\"url\": \"http://127.0.0.1:8931/servers/mine/mcp\"}, "
	    "\"bridge\": {\"command\": \"mcprelayctl\", \"args\": "
	    "[\"connect\", \"bridge\"]}, "
	    "\"secretleft\": {\"command\": \"x\", \"env\": {\"API_KEY\": "
	    "\"k\"}, \"cwd\": 5}}}", IMP_CURSOR, existing, &r);
	ck_assert_str_eq(y, "");
	ck_assert_uint_eq(r.nservers, 0);
	ck_assert_uint_eq(r.nskipped, 8);
	ck_assert_str_eq(r.skipped[0].reason, "a server of this name is "
	    "already in the configuration (not overwritten)");
	ck_assert_str_eq(r.skipped[1].reason,
	    "type 'websocket' is not one mcprelay speaks");
	ck_assert_str_eq(r.skipped[2].reason, "neither a command nor a URL");
	ck_assert_str_eq(r.skipped[3].reason, "the name is not valid in "
	    "mcprelay (letters, digits, '_', '.', '-')");
	ck_assert_str_eq(r.skipped[4].reason, "args[0] is not a string");
	ck_assert_str_eq(r.skipped[5].reason, "already points at mcprelayd");
	ck_assert_str_eq(r.skipped[6].reason, "already points at mcprelayd");
	ck_assert_str_eq(r.skipped[7].reason, "cwd is not a string");
	/* The skipped entry's secret is not written anywhere. */
	ck_assert_uint_eq(r.nsecrets, 0);
	free(y);
	imp_result_free(&r);
}
END_TEST

START_TEST(test_headers_keep_the_scheme_and_url_secrets_move)
{
	struct imp_result	 r;
	char			*y;

	y = map_yaml("{\"mcpServers\": {\"l\": {\"type\": \"http\", "
	    "\"url\": \"https://h/mcp?key=abc&x=1\", \"headers\": "
	    "{\"Authorization\": \"Bearer t0k\", \"X-Api-Key\": \"k1\", "
	    "\"X-Trace\": \"on\"}}}}", IMP_CLAUDE_CODE, NULL, &r);
	ck_assert_str_eq(y, "  l:\n    type: http\n"
	    "    url: \"${MCPRELAY_L_URL}\"\n"
	    "    headers:\n"
	    "      Authorization: \"Bearer ${MCPRELAY_L_AUTHORIZATION}\"\n"
	    "      X-Api-Key: \"${MCPRELAY_L_X_API_KEY}\"\n"
	    "      X-Trace: \"on\"\n");
	ck_assert_uint_eq(r.nsecrets, 3);
	ck_assert_str_eq(r.secrets[0].value, "https://h/mcp?key=abc&x=1");
	ck_assert_str_eq(r.secrets[1].value, "t0k");
	ck_assert_str_eq(r.secrets[2].value, "k1");
	free(y);
	imp_result_free(&r);
	/* A token in the path, and user info, move the URL; a plain one
	 * stays. */
	y = map_yaml("{\"mcpServers\": {"
	    "\"z\": {\"serverUrl\": \"https://h/mcp/sk-ak-2c9f8e7d/sse\"}, "
	    "\"u\": {\"url\": \"https://me:pw@h/mcp\"}, "
	    "\"p\": {\"url\": \"https://h/v1/mcp?page=2\"}}}",
	    IMP_WINDSURF, NULL, &r);
	ck_assert_str_eq(y, "  z:\n    type: sse\n    url: \"${MCPRELAY_Z_URL}\"\n"
	    "  u:\n    type: http\n    url: \"${MCPRELAY_U_URL}\"\n"
	    "  p:\n    type: http\n    url: \"https://h/v1/mcp?page=2\"\n");
	free(y);
	imp_result_free(&r);
}
END_TEST

START_TEST(test_secret_variable_names_do_not_collide)
{
	struct json_object	*root;
	struct imp_result	 r;
	char			*vars[] = { "MCPRELAY_S_TOKEN=other",
	    "MCPRELAY_T_TOKEN=same", NULL };
	struct imp_ctx		 ctx = { NULL, vars, NULL };
	char			 err[128];

	root = json_tokener_parse("{\"mcpServers\": {"
	    "\"s\": {\"command\": \"x\", \"env\": {\"TOKEN\": \"mine\"}}, "
	    "\"t\": {\"command\": \"x\", \"env\": {\"TOKEN\": \"same\"}}}}");
	ck_assert_int_eq(imp_map(root, IMP_CURSOR, &ctx, &r, err,
	    sizeof err), 0);
	ck_assert_str_eq(r.servers[0].env[0].value, "${MCPRELAY_S_TOKEN_2}");
	/* Same value already in the file: reused, not written again. */
	ck_assert_str_eq(r.servers[1].env[0].value, "${MCPRELAY_T_TOKEN}");
	ck_assert_uint_eq(r.nsecrets, 1);
	ck_assert_str_eq(r.secrets[0].var, "MCPRELAY_S_TOKEN_2");
	imp_result_free(&r);
	json_object_put(root);
}
END_TEST

START_TEST(test_server_refs_name_unset_variables)
{
	struct imp_result	 r;
	char			*known[] = { "MCPRELAY_S_TOKEN=x", NULL };
	char			*y, *refs;

	y = map_yaml("{\"mcpServers\": {\"s\": {\"command\": \"${BIN}\", "
	    "\"args\": [\"${D:-x}\", \"${A}\", \"a${b\"], \"env\": "
	    "{\"TOKEN\": \"t0\", \"H\": \"${env:HOME}\"}}}}",
	    IMP_CLAUDE_CODE, NULL, &r);
	refs = imp_server_refs(&r.servers[0], known);
	ck_assert_str_eq(refs, "BIN, A, HOME");	/* not D: ${D:-x} */
	free(refs);
	free(y);
	imp_result_free(&r);
	y = map_yaml("{\"mcpServers\": {\"p\": {\"command\": \"x\"}}}",
	    IMP_CURSOR, NULL, &r);
	ck_assert_ptr_null(imp_server_refs(&r.servers[0], NULL));
	free(y);
	imp_result_free(&r);
}
END_TEST

START_TEST(test_missing_servers_object_is_an_error)
{
	struct json_object	*root = json_tokener_parse("{\"servers\": {}}");
	struct imp_result	 r;
	struct imp_ctx		 ctx = { NULL, NULL, NULL };
	char			 err[128];

	ck_assert_int_eq(imp_map(root, IMP_CURSOR, &ctx, &r, err,
	    sizeof err), -1);
	ck_assert_str_eq(err, "no \"mcpServers\" object at the top level");
	ck_assert_int_eq(imp_map(root, IMP_FILE, &ctx, &r, err,
	    sizeof err), 0);
	imp_result_free(&r);
	json_object_put(root);
}
END_TEST

START_TEST(test_secret_names)
{
	ck_assert(imp_secret_name("GITHUB_TOKEN"));
	ck_assert(imp_secret_name("api_key"));
	ck_assert(imp_secret_name("OPENAI_API_KEY"));
	ck_assert(imp_secret_name("DB_PASSWORD"));
	ck_assert(imp_secret_name("CLIENT_SECRET"));
	ck_assert(imp_secret_name("Authorization"));
	ck_assert(imp_secret_name("X-Api-Key"));
	ck_assert(imp_secret_name("GITLAB_PAT"));
	ck_assert(!imp_secret_name("SSH_KEY_PATH"));
	ck_assert(!imp_secret_name("TOKEN_FILE"));
	ck_assert(!imp_secret_name("PATH"));
	ck_assert(!imp_secret_name("LOG_LEVEL"));
	ck_assert(!imp_secret_name("KEYBOARD_LAYOUT"));
	ck_assert(!imp_secret_name("AUTH_URL"));
}
END_TEST

START_TEST(test_secret_values)
{
	ck_assert(imp_secret_value("ghp_0123456789abcdef"));
	ck_assert(imp_secret_value("github_pat_11ABC"));
	ck_assert(imp_secret_value("sk-proj-abcdef"));
	ck_assert(imp_secret_value("xoxb-1-2-3"));
	ck_assert(imp_secret_value("AKIAIOSFODNN7EXAMPLE"));
	ck_assert(imp_secret_value("Bearer abcd"));
	ck_assert(imp_secret_value("a1b2c3d4e5f6a7b8c9d0e1f2a3b4"));
	ck_assert(!imp_secret_value("debug"));
	ck_assert(!imp_secret_value("sk-"));
	ck_assert(!imp_secret_value("/usr/local/share/some/long/path/1"));
	ck_assert(!imp_secret_value("https://example.com/a1b2c3d4e5f6a7b8"));
	ck_assert(!imp_secret_value("@modelcontextprotocol/server-github"));
	ck_assert(!imp_secret_value("this has spaces 1234567890 abcdef"));
}
END_TEST

START_TEST(test_yaml_scalars_are_quoted_when_needed)
{
	static const char *const cases[][2] = {
		{ "npx", "npx" },
		{ "-y", "-y" },
		{ "/srv/data", "/srv/data" },
		{ "3000", "3000" },
		{ "a=b", "a=b" },
		{ "", "\"\"" },
		{ "-", "\"-\"" },
		{ "null", "\"null\"" },
		{ "~", "\"~\"" },
		{ "yes", "\"yes\"" },
		{ "Off", "\"Off\"" },
		{ "@scope/pkg", "\"@scope/pkg\"" },
		{ "a b", "\"a b\"" },
		{ "a: b", "\"a: b\"" },
		{ "x #y", "\"x #y\"" },
		{ "[x]", "\"[x]\"" },
		{ "*alias", "\"*alias\"" },
		{ "say \"hi\"\\", "\"say \\\"hi\\\"\\\\\"" },
		{ "tab\there\nnl\x01", "\"tab\\there\\nnl\\x01\"" },
		{ "${VAR}", "\"${VAR}\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	};
	size_t	i;
	char	*s;

	for (i = 0; i < sizeof cases / sizeof *cases; i++) {
		s = scalar(cases[i][0]);
		ck_assert_str_eq(s, cases[i][1]);
		free(s);
	}
}
END_TEST

/* What the loader reads back is what went in, for awkward strings. */
START_TEST(test_emitted_yaml_loads_back_exactly)
{
	struct imp_result	 r;
	struct config_errors	 errs;
	struct config		*cfg;
	char			*y, *text;

	y = map_yaml("{\"mcpServers\": {\"odd\": {\"command\": \"my cmd\", "
	    "\"args\": [\"yes\", \"null\", \"a: b\", \"#x\", \"q\\\"\\\\\", "
	    "\"$HOME\", \"100$\", \"-\", \"\"], \"env\": {\"E\": \"1\\n2\"}}}}",
	    IMP_CURSOR, NULL, &r);
	if (asprintf(&text, "servers:\n%s", y) < 0)
		ck_abort();
	config_errors_init(&errs);
	cfg = config_load_string(text, strlen(text), "t.yaml", &errs);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->servers[0].command, "my cmd");
	ck_assert_uint_eq(cfg->servers[0].nargs, 9);
	ck_assert_str_eq(cfg->servers[0].args[0], "yes");
	ck_assert_str_eq(cfg->servers[0].args[1], "null");
	ck_assert_str_eq(cfg->servers[0].args[2], "a: b");
	ck_assert_str_eq(cfg->servers[0].args[3], "#x");
	ck_assert_str_eq(cfg->servers[0].args[4], "q\"\\");
	ck_assert_str_eq(cfg->servers[0].args[5], "$HOME");
	ck_assert_str_eq(cfg->servers[0].args[6], "100$");
	ck_assert_str_eq(cfg->servers[0].args[7], "-");
	ck_assert_str_eq(cfg->servers[0].args[8], "");
	ck_assert_str_eq(cfg->servers[0].env[0], "E=1\n2");
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	free(y);
	imp_result_free(&r);
}
END_TEST

static char *
plan_apply(const char *text, const char *servers, const char *env_line,
    char ***names)
{
	struct imp_yaml_plan	 P;
	char			 err[256], *out;

	ck_assert_int_eq(imp_yaml_plan(text, strlen(text), &P, err,
	    sizeof err), 0);
	if (names != NULL) {
		*names = P.names;
		P.names = NULL;
	}
	out = imp_yaml_apply(text, strlen(text), &P, servers, env_line);
	imp_yaml_plan_free(&P);
	return out;
}

START_TEST(test_servers_are_inserted_keeping_the_text)
{
	char	*out, **names;

	/* After the last server, before the comments that follow. */
	out = plan_apply("# top\nservers:\n  a:\n    type: stdio\n"
	    "    args: [x,\n      y]   # end of a\n# trailing\nalerts: {}\n",
	    "  b: {}\n", NULL, &names);
	ck_assert_str_eq(out, "# top\nservers:\n  a:\n    type: stdio\n"
	    "    args: [x,\n      y]   # end of a\n  b: {}\n# trailing\n"
	    "alerts: {}\n");
	ck_assert_str_eq(names[0], "a");
	ck_assert_ptr_null(names[1]);
	free(names[0]);
	free(names);
	free(out);
	/* "servers: {}" and "servers:" become a block. */
	out = plan_apply("servers: {}   # none\nlog: {}\n", "  b: {}\n", NULL,
	    NULL);
	ck_assert_str_eq(out, "servers:\n  b: {}   # none\nlog: {}\n");
	free(out);
	out = plan_apply("servers:\nlog: {}\n", "  b: {}\n", NULL, NULL);
	ck_assert_str_eq(out, "servers:\n  b: {}\nlog: {}\n");
	free(out);
	out = plan_apply("servers: ~\n", "  b: {}\n", NULL, NULL);
	ck_assert_str_eq(out, "servers:\n  b: {}\n");
	free(out);
	/* No servers key, no final newline; and the env_file line. */
	out = plan_apply("log: {level: info}", "  b: {}\n", "env_file: e\n",
	    NULL);
	ck_assert_str_eq(out, "log: {level: info}\nservers:\n  b: {}\n"
	    "env_file: e\n");
	free(out);
	/* Four-space indentation is kept. */
	out = plan_apply("servers:\n    a:\n        type: stdio\n", "    b: {}\n",
	    NULL, NULL);
	ck_assert_str_eq(out, "servers:\n    a:\n        type: stdio\n"
	    "    b: {}\n");
	free(out);
}
END_TEST

START_TEST(test_plan_reads_indent_and_env_file)
{
	struct imp_yaml_plan	 P;
	const char		*t = "env_file: s.env\nservers:\n    a: {}\n"
	    "    b:\n        c: 1\n";
	char			 err[256];

	ck_assert_int_eq(imp_yaml_plan(t, strlen(t), &P, err, sizeof err), 0);
	ck_assert_int_eq(P.indent, 4);
	ck_assert_str_eq(P.env_file, "s.env");
	ck_assert_str_eq(P.names[0], "a");
	ck_assert_str_eq(P.names[1], "b");
	ck_assert_ptr_null(P.names[2]);
	imp_yaml_plan_free(&P);
	t = "servers: {a: {type: stdio}}\n";
	ck_assert_int_eq(imp_yaml_plan(t, strlen(t), &P, err, sizeof err), -1);
	ck_assert_str_eq(err, "servers is written in flow style ({...}); add "
	    "the servers by hand");
	imp_yaml_plan_free(&P);
	t = "- a\n";
	ck_assert_int_eq(imp_yaml_plan(t, strlen(t), &P, err, sizeof err), -1);
	ck_assert_str_eq(err, "the top level is not a mapping");
	imp_yaml_plan_free(&P);
}
END_TEST

START_TEST(test_udiff)
{
	char	*d;

	d = udiff("a\nb\nc\n", "a\nb\nc\n", "x", "y");
	ck_assert_str_eq(d, "");
	free(d);
	d = udiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
	    "1\n2\n3\n4\nnew\n5\n6\n7\n8\n9\n10\n11\nTWELVE\n", "a", "b");
	ck_assert_str_eq(d, "--- a\n+++ b\n"
	    "@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n"
	    "@@ -9,4 +10,4 @@\n 9\n 10\n 11\n-12\n+TWELVE\n");
	free(d);
	/* Close changes join into one hunk; a deletion shows first. */
	d = udiff("a\nb\nc\nd\n", "a\nB\nc\nD\n", "a", "b");
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n"
	    " a\n-b\n+B\n c\n-d\n+D\n");
	free(d);
	d = udiff("", "x\n", "a", "b");
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n");
	free(d);
}
END_TEST

static Suite *
import_suite(void)
{
	Suite	*s = suite_create("import");
	TCase	*tc;

	tc = tcase_create("map");
	tcase_add_test(tc, test_stdio_entry_maps_with_secret_moved);
	tcase_add_test(tc, test_remote_types_per_agent);
	tcase_add_test(tc, test_vscode_servers_shape_and_variables);
	tcase_add_test(tc, test_unsupported_and_clashing_entries_are_listed);
	tcase_add_test(tc, test_headers_keep_the_scheme_and_url_secrets_move);
	tcase_add_test(tc, test_secret_variable_names_do_not_collide);
	tcase_add_test(tc, test_missing_servers_object_is_an_error);
	tcase_add_test(tc, test_server_refs_name_unset_variables);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_test(tc, test_secret_names);
	tcase_add_test(tc, test_secret_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("yaml");
	tcase_add_test(tc, test_yaml_scalars_are_quoted_when_needed);
	tcase_add_test(tc, test_emitted_yaml_loads_back_exactly);
	tcase_add_test(tc, test_servers_are_inserted_keeping_the_text);
	tcase_add_test(tc, test_plan_reads_indent_and_env_file);
	tcase_add_test(tc, test_udiff);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(import_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
