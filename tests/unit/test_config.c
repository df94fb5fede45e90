/*
 * Unit tests for config/: durations and sizes, ${VAR} expansion, the YAML
 * loader's merge of defaults into servers, and its exact error messages.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "duration.h"
#include "expand.h"
#include "xmalloc.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/unit/data"
#endif
#define SHIPPED_DIR	TEST_DATA_DIR "/../../../config"

/* Loads text as "t.yaml"; errs is initialised here and freed by the caller. */
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

/* The load fails and its first error is exactly want. */
static void
assert_error(const char *text, const char *want)
{
	struct config_errors	 errs;
	struct config		*cfg;

	cfg = load(text, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_ge(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], want);
	config_errors_free(&errs);
}

/* The load fails with exactly these errors, in this order. */
static void
assert_errors(const char *text, const char *const *want, size_t n)
{
	struct config_errors	 errs;
	struct config		*cfg;
	size_t			 i;

	cfg = load(text, &errs);
	ck_assert_ptr_null(cfg);
	for (i = 0; i < errs.n && i < n; i++)
		ck_assert_str_eq(errs.msgs[i], want[i]);
	ck_assert_uint_eq(errs.n, n);
	config_errors_free(&errs);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	ck_assert_int_ge(n, 0);
	rewind(fp);
	buf = xmalloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/*
 * Durations, sizes, numbers.
 */

/* Every class's name parses back to it; parsing is exact. */
START_TEST(test_fail_class_names_round_trip)
{
	enum fail_class	c, out;

	for (c = 0; c < FAIL_NCLASSES; c++) {
		ck_assert_int_eq(fail_class_parse(fail_class_name(c), &out), 0);
		ck_assert_int_eq(out, c);
	}
	ck_assert_str_eq(fail_class_name(FAIL_CONNECT_FAILURE),
	    "connect_failure");
	ck_assert_str_eq(fail_class_name(FAIL_PROTOCOL_ERROR),
	    "protocol_error");
	out = FAIL_RESET;
	ck_assert_int_eq(fail_class_parse("Reset", &out), -1);
	ck_assert_int_eq(fail_class_parse("http_5", &out), -1);
	ck_assert_int_eq(fail_class_parse("", &out), -1);
	ck_assert_int_eq(fail_class_parse(NULL, &out), -1);
	ck_assert_int_eq(out, FAIL_RESET);
}
END_TEST

START_TEST(test_duration_accepts_every_unit)
{
	double	d;

	ck_assert_int_eq(duration_parse("250ms", &d), 0);
	ck_assert_double_eq(d, 0.25);
	ck_assert_int_eq(duration_parse("1.5s", &d), 0);
	ck_assert_double_eq(d, 1.5);
	ck_assert_int_eq(duration_parse("2m", &d), 0);
	ck_assert_double_eq(d, 120);
	ck_assert_int_eq(duration_parse("1h", &d), 0);
	ck_assert_double_eq(d, 3600);
	ck_assert_int_eq(duration_parse("1d", &d), 0);
	ck_assert_double_eq(d, 86400);
	ck_assert_int_eq(duration_parse("30", &d), 0);
	ck_assert_double_eq(d, 30);
	ck_assert_int_eq(duration_parse("0.5", &d), 0);
	ck_assert_double_eq(d, 0.5);
	ck_assert_int_eq(duration_parse("0", &d), 0);
	ck_assert_double_eq(d, 0);
	ck_assert_int_eq(duration_parse(".5s", &d), 0);
	ck_assert_double_eq(d, 0.5);
	ck_assert_int_eq(duration_parse("1.5ms", &d), 0);
	ck_assert_double_eq_tol(d, 0.0015, 1e-15);
	ck_assert_int_eq(duration_parse("0.1", &d), 0);
	ck_assert_double_eq(d, 0.1);
}
END_TEST

START_TEST(test_duration_rejects_bad_input)
{
	static const char *const einval[] = { "", "s", "abc", "1x", "1 s",
	    " 1s", "1s ", "1e3", "0x10", "inf", "nan", "NaN", "+1s", "1.2.3",
	    "1sm", "1S", "1ms5", ".", "-", "-abc" };
	static const char *const erange[] = { "-1", "-1s", "-0.5ms",
	    "99999999999999999999", "1000000001", "20000d",
	    "1234567890123456789" };
	double	d = 42;
	size_t	i;

	for (i = 0; i < sizeof einval / sizeof *einval; i++) {
		errno = 0;
		ck_assert_msg(duration_parse(einval[i], &d) == -1 &&
		    errno == EINVAL, "'%s' not EINVAL", einval[i]);
	}
	for (i = 0; i < sizeof erange / sizeof *erange; i++) {
		errno = 0;
		ck_assert_msg(duration_parse(erange[i], &d) == -1 &&
		    errno == ERANGE, "'%s' not ERANGE", erange[i]);
	}
	ck_assert_double_eq(d, 42);
	ck_assert_int_eq(duration_parse("1000000000", &d), 0);
	ck_assert_double_eq(d, DURATION_MAX);
}
END_TEST

START_TEST(test_size_accepts_units)
{
	uint64_t	n;

	ck_assert_int_eq(size_parse("4MiB", &n), 0);
	ck_assert_uint_eq(n, 4 * 1024 * 1024);
	ck_assert_int_eq(size_parse("16KiB", &n), 0);
	ck_assert_uint_eq(n, 16384);
	ck_assert_int_eq(size_parse("1GiB", &n), 0);
	ck_assert_uint_eq(n, 1073741824ULL);
	ck_assert_int_eq(size_parse("2kB", &n), 0);
	ck_assert_uint_eq(n, 2000);
	ck_assert_int_eq(size_parse("3MB", &n), 0);
	ck_assert_uint_eq(n, 3000000);
	ck_assert_int_eq(size_parse("1GB", &n), 0);
	ck_assert_uint_eq(n, 1000000000);
	ck_assert_int_eq(size_parse("512", &n), 0);
	ck_assert_uint_eq(n, 512);
	ck_assert_int_eq(size_parse("512B", &n), 0);
	ck_assert_uint_eq(n, 512);
	ck_assert_int_eq(size_parse("1.5KiB", &n), 0);
	ck_assert_uint_eq(n, 1536);
}
END_TEST

START_TEST(test_size_rejects_bad_input)
{
	uint64_t	n = 7;

	errno = 0;
	ck_assert_int_eq(size_parse("4mib", &n), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(size_parse("", &n), -1);
	ck_assert_int_eq(size_parse("MiB", &n), -1);
	ck_assert_int_eq(size_parse("1e6", &n), -1);
	ck_assert_int_eq(size_parse("4 MiB", &n), -1);
	errno = 0;
	ck_assert_int_eq(size_parse("-1", &n), -1);
	ck_assert_int_eq(errno, ERANGE);
	errno = 0;
	ck_assert_int_eq(size_parse("999999999999999999GiB", &n), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_uint_eq(n, 7);
}
END_TEST

START_TEST(test_decimal_parse_is_strict)
{
	double	d;

	ck_assert_int_eq(decimal_parse("2", &d), 0);
	ck_assert_double_eq(d, 2);
	ck_assert_int_eq(decimal_parse("-0.5", &d), 0);
	ck_assert_double_eq(d, -0.5);
	ck_assert_int_eq(decimal_parse("1e2", &d), -1);
	ck_assert_int_eq(decimal_parse("inf", &d), -1);
	ck_assert_int_eq(decimal_parse("nan", &d), -1);
	ck_assert_int_eq(decimal_parse("", &d), -1);
	ck_assert_int_eq(decimal_parse("2x", &d), -1);
}
END_TEST

START_TEST(test_duration_format_picks_the_exact_unit)
{
	char	buf[32];

	duration_format(0.25, buf, sizeof buf);
	ck_assert_str_eq(buf, "250ms");
	duration_format(1.5, buf, sizeof buf);
	ck_assert_str_eq(buf, "1.5s");
	duration_format(90, buf, sizeof buf);
	ck_assert_str_eq(buf, "90s");
	duration_format(300, buf, sizeof buf);
	ck_assert_str_eq(buf, "5m");
	duration_format(7200, buf, sizeof buf);
	ck_assert_str_eq(buf, "2h");
	duration_format(172800, buf, sizeof buf);
	ck_assert_str_eq(buf, "2d");
	duration_format(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "0s");
}
END_TEST

/*
 * ${VAR} expansion.
 */

static const char *
fake_env(const char *name, void *arg)
{
	if (strcmp(name, "HOST") == 0)
		return "example.com";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	if (strcmp(name, "DOLLAR") == 0)
		return "$${NOT}";
	return NULL;
}

static void
assert_expands(const char *in, const char *want)
{
	char	 err[128], *out;

	out = expand_vars_lookup(in, fake_env, NULL, err, sizeof err);
	ck_assert_msg(out != NULL, "'%s' failed: %s", in, err);
	ck_assert_str_eq(out, want);
	free(out);
}

static void
assert_expand_fails(const char *in, const char *want)
{
	char	 err[128], *out;

	out = expand_vars_lookup(in, fake_env, NULL, err, sizeof err);
	ck_assert_msg(out == NULL, "'%s' expanded to '%s'", in, out);
	ck_assert_str_eq(err, want);
}

START_TEST(test_expand_replaces_variables)
{
	assert_expands("https://${HOST}/mcp", "https://example.com/mcp");
	assert_expands("${HOST}${HOST}", "example.comexample.com");
	assert_expands("no variables", "no variables");
	assert_expands("", "");
	/* The value is not expanded again. */
	assert_expands("${DOLLAR}", "$${NOT}");
}
END_TEST

START_TEST(test_expand_uses_defaults_when_unset_or_empty)
{
	assert_expands("${NOPE:-fallback}", "fallback");
	assert_expands("${EMPTY:-fallback}", "fallback");
	assert_expands("${HOST:-fallback}", "example.com");
	assert_expands("${NOPE:-}", "");
	assert_expands("${EMPTY}", "");
	assert_expands("${NOPE:-${HOST}:80}", "example.com:80");
	assert_expands("${NOPE:-${ALSO_NOPE:-deep}}", "deep");
	/* An unused default may name an unset variable. */
	assert_expands("${HOST:-${NOPE}}", "example.com");
}
END_TEST

START_TEST(test_expand_dollar_rules)
{
	assert_expands("cost $$5", "cost $5");
	assert_expands("$${HOST}", "${HOST}");
	assert_expands("$HOST", "$HOST");
	assert_expands("a$", "a$");
	assert_expands("$$$$", "$$");
	assert_expands("${NOPE:-$$}", "$");
}
END_TEST

START_TEST(test_expand_errors_name_the_problem)
{
	assert_expand_fails("Bearer ${TOKEN}",
	    "environment variable 'TOKEN' is not set");
	assert_expand_fails("${HOST", "unterminated '${' (missing '}')");
	assert_expand_fails("${", "unterminated '${' (missing '}')");
	assert_expand_fails("${NOPE:-abc", "unterminated '${' (missing '}')");
	assert_expand_fails("${}", "invalid variable name '${}'");
	assert_expand_fails("${1X}", "invalid variable name '${1X}'");
	assert_expand_fails("${A B}", "invalid variable name '${A B}'");
	assert_expand_fails("${NOPE:-${A:-${B:-${C:-${D:-${E:-${F:-${G:-"
	    "${H:-x}}}}}}}}}", "'${...:-...}' defaults nested too deeply");
}
END_TEST

START_TEST(test_expand_vars_uses_the_environment)
{
	const char	*err = NULL;
	char		*out;

	setenv("CONFIG_TEST_HOST", "h.example", 1);
	unsetenv("CONFIG_TEST_UNSET");
	out = expand_vars("${CONFIG_TEST_HOST}:1", &err);
	ck_assert_str_eq(out, "h.example:1");
	free(out);
	ck_assert_ptr_null(expand_vars("${CONFIG_TEST_UNSET}", &err));
	ck_assert_str_eq(err, "unset variable");
	ck_assert_ptr_null(expand_vars("${CONFIG_TEST_HOST", &err));
	ck_assert_str_eq(err, "unterminated '${'");
	unsetenv("CONFIG_TEST_HOST");
}
END_TEST

/*
 * Loading: defaults and merging.
 */

START_TEST(test_empty_file_gives_every_default)
{
	struct config		*cfg = load_ok("");
	const struct config_retry *r = &cfg->defaults.retry;
	int			 c;

	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_INFO);
	ck_assert(cfg->listen.http.enabled);
	ck_assert_str_eq(cfg->listen.http.host, "127.0.0.1");
	ck_assert_int_eq(cfg->listen.http.port, 8931);
	ck_assert(!cfg->listen.unix_socket.enabled);
	ck_assert_uint_eq(cfg->listen.nallowed_origins, 0);
	ck_assert_ptr_null(cfg->listen.allowed_origins[0]);
	ck_assert_uint_eq(cfg->listen.max_body_size, 4 * 1024 * 1024);
	ck_assert_uint_eq(cfg->listen.max_header_size, 16 * 1024);
	ck_assert_double_eq(cfg->listen.idle_timeout, 300);
	ck_assert_double_eq(cfg->listen.session_idle_timeout, 1800);
	ck_assert_int_eq(cfg->listen.replay_buffer, 256);
	ck_assert_int_eq(cfg->listen.max_connections, 1024);
	ck_assert_int_eq(cfg->listen.max_sessions, 4096);
	ck_assert_int_eq(cfg->listen.max_inflight, 64);
	ck_assert_double_eq(cfg->listen.request_read_timeout, 30);
	ck_assert_str_eq(cfg->control.socket, "");
	ck_assert_uint_eq(cfg->control.mode, 0600);
	ck_assert_str_eq(cfg->control.group, "");
	ck_assert_int_eq(cfg->routing.tool_prefix, CONFIG_PREFIX_ON_CONFLICT);
	ck_assert_str_eq(cfg->routing.separator, "__");
	ck_assert_int_eq(r->max_retries, 3);
	ck_assert_double_eq(r->initial_delay, 1);
	ck_assert_double_eq(r->max_delay, 60);
	ck_assert_double_eq(r->backoff_factor, 2);
	ck_assert(r->jitter);
	ck_assert_double_eq(r->jitter_factor, 0.1);
	ck_assert_str_eq(r->jitter_mode, "proportional");
	ck_assert_double_eq(r->attempt_timeout, 0);
	ck_assert_double_eq(r->deadline, 0);
	for (c = 0; c < FAIL_NCLASSES; c++) {
		ck_assert(cfg->defaults.retry_on[c] ==
		    (c != FAIL_PROTOCOL_ERROR));
		ck_assert(!cfg->defaults.retry_by_class_set[c]);
		ck_assert_int_eq(cfg->defaults.retry_by_class[c].max_retries,
		    3);
	}
	ck_assert(cfg->defaults.circuit_breaker.enabled);
	ck_assert_int_eq(cfg->defaults.circuit_breaker.failure_threshold, 5);
	ck_assert_double_eq(cfg->defaults.circuit_breaker.open_duration, 30);
	ck_assert_double_eq(cfg->defaults.circuit_breaker.max_open_duration,
	    300);
	ck_assert_int_eq(cfg->defaults.circuit_breaker.half_open_requests, 1);
	ck_assert_double_eq(cfg->defaults.request_timeout, 60);
	ck_assert_double_eq(cfg->defaults.connect_timeout, 10);
	ck_assert_int_eq(cfg->defaults.queue_limit, 64);
	ck_assert_double_eq(cfg->defaults.queue_timeout, 30);
	ck_assert_double_eq(cfg->defaults.health_check_interval, 30);
	ck_assert_double_eq(cfg->defaults.shutdown_timeout, 5);
	ck_assert_uint_eq(cfg->nservers, 0);
	ck_assert_int_eq(cfg->alerts.retries_per_minute, 30);
	ck_assert(cfg->alerts.breaker_open);
	ck_assert_int_eq(cfg->alerts.consecutive_failures, 10);
	ck_assert(!cfg->metrics.listen.enabled);
	ck_assert_ptr_null(cfg->metrics.listen.host);
	config_free(cfg);
}
END_TEST

START_TEST(test_metrics_listen_is_loopback_only)
{
	struct config	*cfg;

	cfg = load_ok("metrics: {listen: \"127.0.0.1:9464\"}\n");
	ck_assert(cfg->metrics.listen.enabled);
	ck_assert_str_eq(cfg->metrics.listen.host, "127.0.0.1");
	ck_assert_int_eq(cfg->metrics.listen.port, 9464);
	config_free(cfg);
	cfg = load_ok("metrics: {listen: \"[::1]:0\"}\n");
	ck_assert_str_eq(cfg->metrics.listen.host, "::1");
	config_free(cfg);
	cfg = load_ok("metrics:\n  listen: localhost:9464\n");
	ck_assert_str_eq(cfg->metrics.listen.host, "localhost");
	config_free(cfg);
	cfg = load_ok("metrics: {listen: \"off\"}\n");
	ck_assert(!cfg->metrics.listen.enabled);
	config_free(cfg);
	assert_error("metrics:\n  listen: \"0.0.0.0:9464\"\n", "t.yaml:2:11: "
	    "metrics.listen: metrics are served on a loopback address only "
	    "(127.0.0.1, [::1] or localhost), not '0.0.0.0'");
	assert_error("metrics: {listen: 9464}\n", "t.yaml:1:19: "
	    "metrics.listen: invalid listen address '9464' (expected "
	    "IPv4:port, localhost:port, [IPv6]:port or off)");
}
END_TEST

START_TEST(test_control_socket_default_follows_the_runtime_directory)
{
	struct config	*cfg;
	char		 buf[256];

	setenv("RUNTIME_DIRECTORY", "/run/mcprelay:/run/other", 1);
	ck_assert_str_eq(config_control_socket_default(buf, sizeof buf),
	    "/run/mcprelay/control.sock");
	unsetenv("RUNTIME_DIRECTORY");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	ck_assert_str_eq(config_control_socket_default(buf, sizeof buf),
	    geteuid() == 0 ? "/run/mcprelay/control.sock" :
	    "/run/user/1000/mcprelay/control.sock");
	unsetenv("XDG_RUNTIME_DIR");
	ck_assert_str_eq(config_control_socket_default(buf, sizeof buf),
	    "/run/mcprelay/control.sock");
	cfg = load_ok("control: {socket: /tmp/x/control.sock}\n");
	ck_assert_str_eq(config_control_socket(cfg, buf, sizeof buf),
	    "/tmp/x/control.sock");
	config_free(cfg);
}
END_TEST

START_TEST(test_server_gets_defaults_and_type_specific_defaults)
{
	struct config			*cfg;
	const struct config_server	*s, *h;

	cfg = load_ok("servers:\n"
	    "  local:\n"
	    "    type: stdio\n"
	    "    command: mcp-local\n"
	    "  remote:\n"
	    "    type: http\n"
	    "    url: https://r.example/mcp\n");
	ck_assert_uint_eq(cfg->nservers, 2);
	s = config_server_find(cfg, "local");
	h = config_server_find(cfg, "remote");
	ck_assert_ptr_eq(s, &cfg->servers[0]);
	ck_assert_ptr_eq(h, &cfg->servers[1]);
	ck_assert_ptr_null(config_server_find(cfg, "nope"));
	ck_assert_int_eq(s->type, CONFIG_SERVER_STDIO);
	ck_assert(s->enabled);
	ck_assert_str_eq(s->command, "mcp-local");
	ck_assert_uint_eq(s->nargs, 0);
	ck_assert_ptr_null(s->args[0]);
	ck_assert_uint_eq(s->nenv, 0);
	ck_assert_ptr_null(s->env[0]);
	ck_assert_ptr_null(s->cwd);
	ck_assert_ptr_null(s->fallback);
	ck_assert_int_eq(s->session_mode, CONFIG_SESSION_SHARED);
	ck_assert_int_eq(s->protocol, CONFIG_PROTOCOL_AUTO);
	ck_assert_int_eq(s->max_processes, 16);
	ck_assert(s->tls.verify);
	ck_assert_str_eq(s->tls.min_version, "1.2");
	/* trust_annotations: true for stdio, false for http, both unset. */
	ck_assert(s->trust_annotations);
	ck_assert(!s->trust_annotations_set);
	ck_assert(!h->trust_annotations);
	ck_assert(!h->trust_annotations_set);
	ck_assert_int_eq(h->retry.max_retries, 3);
	ck_assert_double_eq(h->request_timeout, 60);
	ck_assert_int_eq(h->circuit_breaker.failure_threshold, 5);
	ck_assert(h->retry_on[FAIL_HTTP_429]);
	ck_assert(!h->retry_on[FAIL_PROTOCOL_ERROR]);
	config_free(cfg);
}
END_TEST

START_TEST(test_server_override_merges_field_by_field)
{
	struct config			*cfg;
	const struct config_server	*a, *b;

	cfg = load_ok("defaults:\n"
	    "  retry: {max_delay: 30s, jitter_mode: equal}\n"
	    "  circuit_breaker: {failure_threshold: 7}\n"
	    "  request_timeout: 20s\n"
	    "servers:\n"
	    "  a:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    retry: {max_retries: 5}\n"
	    "    circuit_breaker: {open_duration: 1m}\n"
	    "    retry_on: [timeout]\n"
	    "    trust_annotations: false\n"
	    "  b:\n"
	    "    type: stdio\n"
	    "    command: y\n");
	a = config_server_find(cfg, "a");
	b = config_server_find(cfg, "b");
	ck_assert_int_eq(a->retry.max_retries, 5);
	ck_assert_double_eq(a->retry.max_delay, 30);
	ck_assert_double_eq(a->retry.initial_delay, 1);
	ck_assert_str_eq(a->retry.jitter_mode, "equal");
	ck_assert_int_eq(a->circuit_breaker.failure_threshold, 7);
	ck_assert_double_eq(a->circuit_breaker.open_duration, 60);
	ck_assert_double_eq(a->request_timeout, 20);
	/* A list replaces the inherited one whole. */
	ck_assert(a->retry_on[FAIL_TIMEOUT]);
	ck_assert(!a->retry_on[FAIL_RESET]);
	ck_assert(!a->trust_annotations);
	ck_assert(a->trust_annotations_set);
	ck_assert_int_eq(b->retry.max_retries, 3);
	ck_assert_double_eq(b->retry.max_delay, 30);
	ck_assert_double_eq(b->circuit_breaker.open_duration, 30);
	ck_assert(b->retry_on[FAIL_RESET]);
	ck_assert_int_eq(cfg->defaults.retry.max_retries, 3);
	config_free(cfg);
}
END_TEST

START_TEST(test_retry_by_class_merges_over_the_server_retry)
{
	struct config			*cfg;
	const struct config_server	*s, *t;
	const struct config_retry	*r;

	cfg = load_ok("defaults:\n"
	    "  retry_by_class:\n"
	    "    http_429: {initial_delay: 5s, max_retries: 5}\n"
	    "servers:\n"
	    "  s:\n"
	    "    type: http\n"
	    "    url: http://h/\n"
	    "    retry: {initial_delay: 2s, max_delay: 2m, jitter: no}\n"
	    "    retry_by_class:\n"
	    "      http_429: {max_retries: 7}\n"
	    "      timeout: {deadline: 1m}\n"
	    "  t:\n"
	    "    type: http\n"
	    "    url: http://h/\n");
	s = config_server_find(cfg, "s");
	r = &s->retry_by_class[FAIL_HTTP_429];
	ck_assert(s->retry_by_class_set[FAIL_HTTP_429]);
	ck_assert_int_eq(r->max_retries, 7);		/* server's block */
	ck_assert_double_eq(r->initial_delay, 5);	/* defaults' block */
	ck_assert_double_eq(r->max_delay, 120);		/* server's retry */
	ck_assert(!r->jitter);				/* server's retry */
	ck_assert_double_eq(r->backoff_factor, 2);	/* built in */
	r = &s->retry_by_class[FAIL_TIMEOUT];
	ck_assert(s->retry_by_class_set[FAIL_TIMEOUT]);
	ck_assert_double_eq(r->deadline, 60);
	ck_assert_double_eq(r->initial_delay, 2);
	ck_assert_int_eq(r->max_retries, 3);
	/* A class no block names is the server's retry. */
	r = &s->retry_by_class[FAIL_RESET];
	ck_assert(!s->retry_by_class_set[FAIL_RESET]);
	ck_assert_double_eq(r->initial_delay, 2);
	ck_assert_double_eq(r->max_delay, 120);
	t = config_server_find(cfg, "t");
	ck_assert(t->retry_by_class_set[FAIL_HTTP_429]);
	ck_assert_int_eq(t->retry_by_class[FAIL_HTTP_429].max_retries, 5);
	ck_assert_double_eq(t->retry_by_class[FAIL_HTTP_429].initial_delay,
	    5);
	ck_assert(!t->retry_by_class_set[FAIL_TIMEOUT]);
	ck_assert(cfg->defaults.retry_by_class_set[FAIL_HTTP_429]);
	ck_assert_int_eq(cfg->defaults.retry_by_class[FAIL_HTTP_429].
	    max_retries, 5);
	config_free(cfg);
}
END_TEST

START_TEST(test_null_values_keep_the_default)
{
	struct config	*cfg;

	cfg = load_ok("log:\n"
	    "listen:\n"
	    "  http: ~\n"
	    "  unix:\n"
	    "defaults:\n"
	    "  queue_limit: null\n"
	    "servers:\n");
	ck_assert_str_eq(cfg->listen.http.host, "127.0.0.1");
	ck_assert(!cfg->listen.unix_socket.enabled);
	ck_assert_int_eq(cfg->defaults.queue_limit, 64);
	ck_assert_uint_eq(cfg->nservers, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_full_file_sets_every_section)
{
	struct config_errors		 errs;
	struct config			*cfg;
	const struct config_server	*f, *w, *l;

	unsetenv("CONFIG_TEST_UNSET_VAR");
	config_errors_init(&errs);
	cfg = config_load_file(TEST_DATA_DIR "/config-full.yaml", &errs);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_str_eq(cfg->name, TEST_DATA_DIR "/config-full.yaml");
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg->listen.http.host, "::1");
	ck_assert_int_eq(cfg->listen.http.port, 9000);
	ck_assert(cfg->listen.unix_socket.enabled);
	ck_assert_str_eq(cfg->listen.unix_socket.path,
	    "/run/mcprelay/mcp.sock");
	ck_assert_uint_eq(cfg->listen.unix_socket.mode, 0660);
	ck_assert_str_eq(cfg->listen.unix_socket.group, "mcprelay");
	ck_assert_uint_eq(cfg->listen.nallowed_origins, 2);
	ck_assert_str_eq(cfg->listen.allowed_origins[1],
	    "http://localhost:3000");
	ck_assert_uint_eq(cfg->listen.max_body_size, 1024 * 1024);
	ck_assert_uint_eq(cfg->listen.max_header_size, 8192);
	ck_assert_double_eq(cfg->listen.idle_timeout, 90);
	ck_assert_double_eq(cfg->listen.session_idle_timeout, 3600);
	ck_assert_int_eq(cfg->listen.replay_buffer, 32);
	ck_assert_str_eq(cfg->control.socket, "/run/mcprelay/control.sock");
	ck_assert_uint_eq(cfg->control.mode, 0640);
	ck_assert_str_eq(cfg->control.group, "wheel");
	ck_assert_int_eq(cfg->routing.tool_prefix, CONFIG_PREFIX_ALWAYS);
	ck_assert_str_eq(cfg->routing.separator, ".");
	ck_assert_int_eq(cfg->routing.page_size, 50);
	ck_assert_int_eq(cfg->defaults.retry.max_retries, 4);
	ck_assert_double_eq(cfg->defaults.retry.initial_delay, 0.25);
	ck_assert_double_eq(cfg->defaults.retry.backoff_factor, 1.5);
	ck_assert(!cfg->defaults.retry.jitter);
	ck_assert_str_eq(cfg->defaults.retry.jitter_mode, "full");
	ck_assert_double_eq(cfg->defaults.retry.deadline, 300);
	ck_assert(cfg->defaults.retry_on[FAIL_TIMEOUT]);
	ck_assert(!cfg->defaults.retry_on[FAIL_RESET]);
	ck_assert_int_eq(cfg->defaults.circuit_breaker.half_open_requests, 2);
	ck_assert_double_eq(cfg->defaults.health_check_interval, 0);
	ck_assert_double_eq(cfg->defaults.shutdown_timeout, 2.5);
	ck_assert_int_eq(cfg->alerts.retries_per_minute, 0);
	ck_assert(!cfg->alerts.breaker_open);
	ck_assert_int_eq(cfg->alerts.consecutive_failures, 3);

	ck_assert_uint_eq(cfg->nservers, 3);
	f = &cfg->servers[0];
	ck_assert_str_eq(f->name, "files");
	ck_assert_uint_eq(f->nargs, 3);
	ck_assert_str_eq(f->args[2], "--port=8080");
	ck_assert_ptr_null(f->args[3]);
	ck_assert_uint_eq(f->nenv, 2);
	ck_assert_str_eq(f->env[0], "LOG_LEVEL=warn");
	ck_assert_str_eq(f->env[1], "MODE=fallback");
	ck_assert_ptr_null(f->env[2]);
	ck_assert_str_eq(f->cwd, "/srv");
	ck_assert_int_eq(f->session_mode, CONFIG_SESSION_PER_CLIENT);
	ck_assert_int_eq(f->max_processes, 4);
	ck_assert_uint_eq(f->nidempotent_tools, 2);
	ck_assert_str_eq(f->idempotent_tools[1], "list_dir");
	ck_assert_str_eq(f->fallback, "weather");
	ck_assert_int_eq(f->retry.max_retries, 9);
	ck_assert_double_eq(f->retry.initial_delay, 0.25);
	ck_assert_double_eq(f->retry_by_class[FAIL_HTTP_429].max_delay, 600);
	ck_assert_double_eq(f->retry_by_class[FAIL_HTTP_429].initial_delay,
	    5);
	ck_assert_int_eq(f->retry_by_class[FAIL_HTTP_429].max_retries, 6);
	ck_assert_double_eq(f->shutdown_timeout, 10);
	w = &cfg->servers[1];
	ck_assert(!w->enabled);
	ck_assert_int_eq(w->type, CONFIG_SERVER_HTTP);
	ck_assert_uint_eq(w->nheaders, 1);
	ck_assert_str_eq(w->headers[0].name, "Authorization");
	ck_assert_str_eq(w->headers[0].value, "Bearer tok-12345");
	ck_assert(!w->tls.verify);
	ck_assert_str_eq(w->tls.ca_file, "/etc/ca.pem");
	ck_assert_str_eq(w->tls.min_version, "1.3");
	ck_assert(w->trust_annotations);
	ck_assert(w->trust_annotations_set);
	ck_assert_int_eq(w->protocol, CONFIG_PROTOCOL_MODERN);
	ck_assert_int_eq(w->circuit_breaker.failure_threshold, 10);
	ck_assert_double_eq(w->circuit_breaker.open_duration, 10);
	l = &cfg->servers[2];
	ck_assert_int_eq(l->type, CONFIG_SERVER_SSE);
	ck_assert_str_eq(l->url, "http://127.0.0.1:9100/sse");
	config_free(cfg);
	config_errors_free(&errs);
}
END_TEST

START_TEST(test_listen_addresses_and_modes)
{
	struct config	*cfg;

	cfg = load_ok("listen:\n  http: off\n  unix: {path: /s, mode: 0o750}\n"
	    "control: {mode: \"640\"}\n");
	ck_assert(!cfg->listen.http.enabled);
	ck_assert_ptr_null(cfg->listen.http.host);
	ck_assert_uint_eq(cfg->listen.unix_socket.mode, 0750);
	ck_assert_ptr_null(cfg->listen.unix_socket.group);
	ck_assert_uint_eq(cfg->control.mode, 0640);
	config_free(cfg);
	cfg = load_ok("listen: {http: \"localhost:0\"}\n");
	ck_assert_str_eq(cfg->listen.http.host, "localhost");
	ck_assert_int_eq(cfg->listen.http.port, 0);
	config_free(cfg);
	assert_error("listen: {http: 8931}\n", "t.yaml:1:16: listen.http: "
	    "invalid listen address '8931' (expected IPv4:port, "
	    "localhost:port, [IPv6]:port or off)");
	assert_error("listen: {http: \"::1:80\"}\n", "t.yaml:1:16: "
	    "listen.http: invalid listen address '::1:80' (expected "
	    "IPv4:port, localhost:port, [IPv6]:port or off)");
	assert_error("listen: {http: \"1.2.3.4:70000\"}\n", "t.yaml:1:16: "
	    "listen.http: invalid listen address '1.2.3.4:70000' (expected "
	    "IPv4:port, localhost:port, [IPv6]:port or off)");
	assert_error("control: {mode: 0800}\n", "t.yaml:1:17: control.mode: "
	    "expected an octal file mode such as 0600, got '0800'");
	assert_error("listen:\n  unix: {mode: 0600}\n", "t.yaml:2:3: "
	    "listen.unix: missing required key 'path'");
}
END_TEST

START_TEST(test_summary_is_one_line)
{
	struct config	*cfg;
	char		 buf[256];

	cfg = load_ok("servers:\n"
	    "  demo: {type: stdio, command: d}\n"
	    "  weather: {type: http, url: \"https://w/\"}\n");
	config_summary(cfg, buf, sizeof buf);
	ck_assert_str_eq(buf, "valid: 2 servers (demo, weather), "
	    "http 127.0.0.1:8931, unix off");
	config_free(cfg);
	cfg = load_ok("listen: {http: off, unix: {path: /run/m.sock}}\n"
	    "servers:\n  one: {type: stdio, command: d, enabled: false}\n");
	config_summary(cfg, buf, sizeof buf);
	ck_assert_str_eq(buf, "valid: 1 server (one [disabled]), http off, "
	    "unix /run/m.sock");
	config_summary(cfg, buf, 10);
	ck_assert_str_eq(buf, "valid: 1 ");
	config_free(cfg);
}
END_TEST

START_TEST(test_server_equal_compares_every_setting)
{
	static const char *const a = "servers:\n"
	    "  s: {type: http, url: \"https://h/\", headers: {X-A: b},\n"
	    "      retry_by_class: {timeout: {max_retries: 1}}}\n";
	static const char *const b = "servers:\n"
	    "  s: {type: http, url: \"https://h/\", headers: {X-A: c},\n"
	    "      retry_by_class: {timeout: {max_retries: 1}}}\n";
	static const char *const c = "servers:\n"
	    "  s: {type: http, url: \"https://h/\", headers: {X-A: b},\n"
	    "      retry_by_class: {timeout: {max_retries: 2}}}\n";
	struct config	*x = load_ok(a), *y = load_ok(a), *z;

	ck_assert(config_server_equal(&x->servers[0], &y->servers[0]));
	z = load_ok(b);
	ck_assert(!config_server_equal(&x->servers[0], &z->servers[0]));
	config_free(z);
	z = load_ok(c);
	ck_assert(!config_server_equal(&x->servers[0], &z->servers[0]));
	config_free(z);
	config_free(x);
	config_free(y);
}
END_TEST

/*
 * Environment and secrets.
 */

START_TEST(test_env_expansion_in_values)
{
	struct config	*cfg;

	setenv("CONFIG_TEST_TOKEN", "t0k3n", 1);
	setenv("CONFIG_TEST_RETRIES", "8", 1);
	cfg = load_ok("defaults:\n"
	    "  retry: {max_retries: \"${CONFIG_TEST_RETRIES}\"}\n"
	    "servers:\n"
	    "  w:\n"
	    "    type: http\n"
	    "    url: https://${CONFIG_TEST_HOST:-h.example}/mcp\n"
	    "    headers: {Authorization: \"Bearer ${CONFIG_TEST_TOKEN}\","
	    " X-Cost: \"$$5\"}\n");
	ck_assert_int_eq(cfg->defaults.retry.max_retries, 8);
	ck_assert_str_eq(cfg->servers[0].url, "https://h.example/mcp");
	ck_assert_str_eq(cfg->servers[0].headers[0].value, "Bearer t0k3n");
	ck_assert_str_eq(cfg->servers[0].headers[1].value, "$5");
	config_free(cfg);
	unsetenv("CONFIG_TEST_TOKEN");
	unsetenv("CONFIG_TEST_RETRIES");
}
END_TEST

START_TEST(test_env_unset_variable_is_an_error)
{
	unsetenv("CONFIG_TEST_NOPE");
	assert_error("servers:\n"
	    "  w:\n"
	    "    type: http\n"
	    "    url: https://h/\n"
	    "    headers:\n"
	    "      Authorization: \"Bearer ${CONFIG_TEST_NOPE}\"\n",
	    "t.yaml:6:22: servers.w.headers.Authorization: environment "
	    "variable 'CONFIG_TEST_NOPE' is not set");
	assert_error("control: {socket: \"/run/${X\"}\n",
	    "t.yaml:1:19: control.socket: unterminated '${' (missing '}')");
}
END_TEST

/* Writes content to a new file in a fresh directory; returns its path. */
static char *
write_temp(const char *name, const char *content)
{
	char	 dir[] = "/tmp/test_config.XXXXXX", *path;
	FILE	*fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	xasprintf(&path, "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(content, fp);
	fclose(fp);
	return path;
}

static void
remove_temp(char *path)
{
	char	*slash;

	unlink(path);
	if ((slash = strrchr(path, '/')) != NULL) {
		*slash = '\0';
		rmdir(path);
	}
	free(path);
}

START_TEST(test_file_secrets_set_the_bare_name)
{
	struct config	*cfg;
	char		*secret = write_temp("token", "s3cr3t-value\n");
	char		*text;

	xasprintf(&text, "servers:\n"
	    "  s:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    env: {API_TOKEN_file: %s, PLAIN: p}\n"
	    "  h:\n"
	    "    type: http\n"
	    "    url: http://h/\n"
	    "    headers: {Authorization_file: %s}\n", secret, secret);
	cfg = load_ok(text);
	ck_assert_str_eq(cfg->servers[0].env[0], "API_TOKEN=s3cr3t-value");
	ck_assert_str_eq(cfg->servers[0].env[1], "PLAIN=p");
	ck_assert_str_eq(cfg->servers[1].headers[0].name, "Authorization");
	ck_assert_str_eq(cfg->servers[1].headers[0].value, "s3cr3t-value");
	config_free(cfg);
	free(text);
	remove_temp(secret);
}
END_TEST

/* env_file supplies ${VAR}s wherever it is in the file; the environment
 * wins; a relative path is next to the configuration file. */
START_TEST(test_env_file_supplies_variables)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			*envf, *conf, *dir, *slash;
	FILE			*fp;

	envf = write_temp("mcprelay.env", "# secrets\n\n"
	    "MCPRELAY_T_TOKEN=a b=c $x\r\n"
	    "MCPRELAY_T_KEY=old\nMCPRELAY_T_KEY=k\n"
	    "MCPRELAY_T_OVER=from-file");
	dir = xstrdup(envf);
	slash = strrchr(dir, '/');
	*slash = '\0';
	xasprintf(&conf, "%s/mcprelay.yaml", dir);
	fp = fopen(conf, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("servers:\n"
	    "  s:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    env: {TOKEN: \"${MCPRELAY_T_TOKEN}\", K: \"${MCPRELAY_T_KEY}\","
	    " O: \"${MCPRELAY_T_OVER}\"}\n"
	    "env_file: mcprelay.env\n", fp);
	fclose(fp);
	setenv("MCPRELAY_T_OVER", "from-environment", 1);
	config_errors_init(&errs);
	cfg = config_load_file(conf, &errs);
	unsetenv("MCPRELAY_T_OVER");
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->env_file, "mcprelay.env");
	ck_assert_str_eq(cfg->servers[0].env[0], "TOKEN=a b=c $x");
	ck_assert_str_eq(cfg->servers[0].env[1], "K=k");
	ck_assert_str_eq(cfg->servers[0].env[2], "O=from-environment");
	config_free(cfg);
	config_errors_free(&errs);
	unlink(conf);
	free(conf);
	free(dir);
	remove_temp(envf);
}
END_TEST

START_TEST(test_env_file_errors)
{
	char	*bad = write_temp("bad.env", "# ok\nA=1\nnot a line\n");
	char	*text, *want;

	assert_error("env_file: /nonexistent/mcprelay.env\n",
	    "t.yaml:1:11: env_file: cannot read '/nonexistent/mcprelay.env': "
	    "No such file or directory");
	assert_error("env_file: \"\"\n", "t.yaml:1:11: env_file: must not "
	    "be empty");
	xasprintf(&text, "env_file: %s\n", bad);
	xasprintf(&want, "t.yaml:1:11: env_file: '%s': line 3: expected "
	    "NAME=VALUE with NAME made of [A-Za-z0-9_]", bad);
	assert_error(text, want);
	free(text);
	free(want);
	remove_temp(bad);
	/* Without env_file, an unset variable is still an error. */
	assert_error("servers:\n  s: {type: stdio, command: \"${MCPRELAY_T_NONE}\"}\n",
	    "t.yaml:2:29: servers.s.command: environment variable "
	    "'MCPRELAY_T_NONE' is not set");
}
END_TEST

START_TEST(test_file_secret_errors)
{
	struct config_errors	 errs;
	char			*secret = write_temp("crlf", "v\r\n");
	char			*text;
	struct config		*cfg;

	xasprintf(&text, "servers:\n"
	    "  s: {type: stdio, command: x, env: {T_file: %s}}\n", secret);
	cfg = load_ok(text);
	ck_assert_str_eq(cfg->servers[0].env[0], "T=v");
	config_free(cfg);
	free(text);

	assert_error("servers:\n"
	    "  s:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    env: {T_file: /nonexistent/secret}\n",
	    "t.yaml:5:19: servers.s.env.T_file: cannot read secret file "
	    "'/nonexistent/secret': No such file or directory");
	xasprintf(&text, "servers:\n"
	    "  s:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    env: {T: a, T_file: %s}\n", secret);
	cfg = load(text, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], "t.yaml:5:17: servers.s.env: 'T' is "
	    "set twice (as 'T' and 'T_file')");
	config_errors_free(&errs);
	free(text);
	assert_error("servers:\n  s: {type: stdio, command: x, env: {1A: b}}\n",
	    "t.yaml:2:38: servers.s.env: invalid environment variable name: "
	    "'1A'");
	assert_error("servers:\n  s: {type: http, url: \"http://h\", "
	    "headers: {Content-Length: 5}}\n", "t.yaml:2:46: "
	    "servers.s.headers: header is set by mcprelay itself: "
	    "'Content-Length'");
	assert_error("servers:\n  s: {type: http, url: \"http://h\", "
	    "headers: {X-A: 1, x-a: 2}}\n", "t.yaml:2:54: servers.s.headers: "
	    "duplicate key 'x-a' (first at line 2)");
	remove_temp(secret);
}
END_TEST

/* A FIFO would block the open until a writer came: refused at once. */
START_TEST(test_fifo_secret_file_is_refused_without_blocking)
{
	char	 dir[] = "/tmp/test_config.XXXXXX", *fifo, *text, *want;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	xasprintf(&fifo, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	xasprintf(&text, "servers:\n"
	    "  s:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    env: {T_file: %s}\n", fifo);
	xasprintf(&want, "t.yaml:5:19: servers.s.env.T_file: secret file "
	    "'%s' is not a regular file", fifo);
	assert_error(text, want);
	free(want);
	free(text);
	remove_temp(fifo);
}
END_TEST

START_TEST(test_dump_redacts_secrets)
{
	struct json_object	*j, *s, *v;
	struct config		*cfg;
	char			*secret = write_temp("k", "file-secret-42\n");
	char			*text;
	const char		*out;

	xasprintf(&text, "servers:\n"
	    "  w:\n"
	    "    type: http\n"
	    "    url: https://alice:hunter2@w.example/mcp?x=1\n"
	    "    headers: {Authorization: \"Bearer hdr-secret-17\","
	    " X-Key_file: %s}\n"
	    "    tls: {cert_file: /etc/c.pem, key_file: /etc/c.key}\n"
	    "  s:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    env: {DB_PASSWORD: env-secret-99}\n", secret);
	cfg = load_ok(text);
	j = config_dump_redacted(cfg);
	out = json_object_to_json_string(j);
	ck_assert_ptr_null(strstr(out, "hdr-secret-17"));
	ck_assert_ptr_null(strstr(out, "file-secret-42"));
	ck_assert_ptr_null(strstr(out, "env-secret-99"));
	ck_assert_ptr_null(strstr(out, "hunter2"));
	ck_assert(json_object_object_get_ex(j, "servers", &s));
	ck_assert(json_object_object_get_ex(s, "w", &s));
	ck_assert(json_object_object_get_ex(s, "url", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "https://(redacted)@w.example/mcp?x=1");
	ck_assert(json_object_object_get_ex(s, "headers", &v));
	ck_assert(json_object_object_get_ex(v, "Authorization", &v));
	ck_assert_str_eq(json_object_get_string(v), "(redacted)");
	ck_assert(json_object_object_get_ex(s, "retry", &v));
	ck_assert(json_object_object_get_ex(v, "max_retries", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	ck_assert(json_object_object_get_ex(j, "servers", &s));
	ck_assert(json_object_object_get_ex(s, "s", &s));
	ck_assert(json_object_object_get_ex(s, "env", &v));
	ck_assert(json_object_object_get_ex(v, "DB_PASSWORD", &v));
	ck_assert_str_eq(json_object_get_string(v), "(redacted)");
	json_object_put(j);
	config_free(cfg);
	free(text);
	remove_temp(secret);
}
END_TEST

/*
 * Errors, with their exact text.
 */

START_TEST(test_misspelt_key_suggests_the_right_one)
{
	struct config_errors	 errs;
	struct config		*cfg;
	static const char	 text[] =
	    "# line 1\n"
	    "log:\n"
	    "  level: info\n"
	    "listen:\n"
	    "  http: 127.0.0.1:8931\n"
	    "defaults:\n"
	    "  request_timeout: 60s\n"
	    "\n"
	    "servers:\n"
	    "  weather:\n"
	    "    type: http\n"
	    "    url: https://weather.example.com/mcp\n"
	    "    retry:\n"
	    "      max_retires: 5\n";

	config_errors_init(&errs);
	cfg = config_load_string(text, strlen(text), "mcprelay.yaml", &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], "mcprelay.yaml:14:7: "
	    "servers.weather.retry: unknown key 'max_retires' "
	    "(did you mean 'max_retries'?)");
	config_errors_free(&errs);
	assert_error("lisen:\n  http: off\n",
	    "t.yaml:1:1: unknown key 'lisen' (did you mean 'listen'?)");
	assert_error("defaults: {wibble: 1}\n",
	    "t.yaml:1:12: defaults: unknown key 'wibble'");
}
END_TEST

START_TEST(test_wrong_types_are_errors)
{
	assert_error("listen: [a, b]\n",
	    "t.yaml:1:9: listen: expected a mapping, got a list");
	assert_error("defaults:\n  queue_limit: lots\n",
	    "t.yaml:2:16: defaults.queue_limit: expected an integer, "
	    "got 'lots'");
	assert_error("defaults:\n  queue_limit: 1.5\n",
	    "t.yaml:2:16: defaults.queue_limit: expected an integer, "
	    "got '1.5'");
	assert_error("alerts:\n  breaker_open: maybe\n",
	    "t.yaml:2:17: alerts.breaker_open: expected a boolean "
	    "(true/false, yes/no, on/off), got 'maybe'");
	assert_error("servers:\n  a: {type: stdio, command: [x]}\n",
	    "t.yaml:2:29: servers.a.command: expected a string, got a list");
	assert_error("servers:\n  a: {type: stdio, command: x, args: x}\n",
	    "t.yaml:2:38: servers.a.args: expected a list, got a string");
	assert_error("defaults:\n  retry: {initial_delay: soon}\n",
	    "t.yaml:2:26: defaults.retry.initial_delay: invalid duration "
	    "'soon' (expected e.g. 250ms, 1.5s, 2m, 1h, 1d)");
	assert_error("defaults:\n  retry: {initial_delay: -1s}\n",
	    "t.yaml:2:26: defaults.retry.initial_delay: must not be "
	    "negative (got -1s)");
	assert_error("listen:\n  max_body_size: 4 MiB\n",
	    "t.yaml:2:18: listen.max_body_size: invalid size '4 MiB' "
	    "(expected bytes or e.g. 512KiB, 4MiB, 1GiB, 1MB)");
	assert_error("- a\n- b\n",
	    "t.yaml:1:1: expected a mapping at the top level, got a list");
	assert_error("servers: [a]\n",
	    "t.yaml:1:10: servers: expected a mapping, got a list");
	assert_error("defaults: {retry_on: [timeout, timout]}\n",
	    "t.yaml:1:32: defaults.retry_on[1]: unknown error class "
	    "'timout' (did you mean 'timeout'?)");
	assert_error("defaults: {retry_by_class: {http_500: {}}}\n",
	    "t.yaml:1:29: defaults.retry_by_class: unknown error class "
	    "'http_500' (did you mean 'http_5xx'?)");
	assert_error("servers: {a: {type: http, url: \"http://x/\", "
	    "protocol: modrn}}\n",
	    "t.yaml:1:55: servers.a.protocol: unknown value 'modrn' "
	    "(did you mean 'modern'?)");
	assert_error("routing: {tool_prefix: sometimes}\n",
	    "t.yaml:1:24: routing.tool_prefix: unknown value 'sometimes' "
	    "(expected one of: on_conflict, always, never)");
	assert_error("listen: {allowed_origins: [\"https://a/b\"]}\n",
	    "t.yaml:1:28: listen.allowed_origins[0]: expected an origin "
	    "such as https://app.example.com (scheme://host[:port], no "
	    "path)");
}
END_TEST

START_TEST(test_duplicate_key_is_an_error)
{
	assert_error("log:\n  level: info\n  level: debug\n",
	    "t.yaml:3:3: log: duplicate key 'level' (first at line 2)");
	assert_error("servers:\n  a: {type: stdio, command: x}\n"
	    "  a: {type: stdio, command: y}\n",
	    "t.yaml:3:3: servers: duplicate key 'a' (first at line 2)");
}
END_TEST

START_TEST(test_out_of_range_values_are_errors)
{
	assert_error("defaults:\n  retry:\n    backoff_factor: 0.5\n",
	    "t.yaml:3:21: defaults.retry.backoff_factor: must be at least 1 "
	    "(got 0.5)");
	assert_error("defaults:\n  retry:\n    jitter_factor: 1.5\n",
	    "t.yaml:3:20: defaults.retry.jitter_factor: must be between 0 "
	    "and 1 (got 1.5)");
	assert_error("defaults:\n  retry:\n    max_retries: -1\n",
	    "t.yaml:3:18: defaults.retry.max_retries: must be at least 0 "
	    "(got -1)");
	assert_error("defaults:\n  circuit_breaker: {failure_threshold: 0}\n",
	    "t.yaml:2:40: defaults.circuit_breaker.failure_threshold: must "
	    "be at least 1 (got 0)");
	assert_error("defaults:\n  request_timeout: 0\n",
	    "t.yaml:2:20: defaults.request_timeout: must be at least 1ms "
	    "(got 0)");
	assert_error("servers:\n  a: {type: stdio, command: x, "
	    "max_processes: 0}\n", "t.yaml:2:47: servers.a.max_processes: "
	    "must be between 1 and 4096 (got 0)");
	assert_error("listen: {max_sessions: -1}\n",
	    "t.yaml:1:24: listen.max_sessions: must be at least 0 (got -1)");
	assert_error("listen: {request_read_timeout: -1s}\n",
	    "t.yaml:1:32: listen.request_read_timeout: must not be negative "
	    "(got -1s)");
	assert_error("defaults:\n  queue_limit: 99999999999\n",
	    "t.yaml:2:16: defaults.queue_limit: integer too large "
	    "(got 99999999999)");
}
END_TEST

START_TEST(test_max_delay_below_initial_delay)
{
	assert_error("defaults:\n  retry:\n    initial_delay: 2m\n"
	    "    max_delay: 30s\n",
	    "t.yaml:4:16: defaults.retry.max_delay: max_delay (30s) must not "
	    "be less than initial_delay (2m)");
	/* The server's own value is blamed, not the inherited one. */
	assert_error("servers:\n  a:\n    type: stdio\n    command: x\n"
	    "    retry: {initial_delay: 90s}\n",
	    "t.yaml:5:28: servers.a.retry.initial_delay: max_delay (1m) must "
	    "not be less than initial_delay (90s)");
	/* Only the class's effective settings are wrong. */
	assert_error("defaults:\n  retry_by_class:\n"
	    "    http_429: {initial_delay: 2m}\n",
	    "t.yaml:3:31: defaults.retry_by_class.http_429.initial_delay: "
	    "max_delay (1m) must not be less than initial_delay (2m)");
	/* The server's retry against the defaults' class block. */
	assert_error("defaults:\n  retry_by_class:\n"
	    "    http_429: {initial_delay: 30s}\n"
	    "servers:\n  a:\n    type: stdio\n    command: x\n"
	    "    retry: {max_delay: 10s, initial_delay: 1s}\n",
	    "t.yaml:8:24: servers.a.retry.max_delay: max_delay (10s) must "
	    "not be less than initial_delay (30s) for error class http_429");
	assert_error("defaults:\n  circuit_breaker: {open_duration: 10m}\n",
	    "t.yaml:2:36: defaults.circuit_breaker.open_duration: "
	    "max_open_duration (5m) must not be less than open_duration "
	    "(10m)");
}
END_TEST

START_TEST(test_inherited_error_is_reported_once)
{
	static const char *const want[] = {
		"t.yaml:3:16: defaults.retry.max_delay: max_delay (100ms) must "
		"not be less than initial_delay (1s)",
	};

	assert_errors("defaults:\n  retry:\n    max_delay: 100ms\n"
	    "  retry_by_class: {timeout: {max_retries: 1}}\n"
	    "servers:\n"
	    "  a: {type: stdio, command: x}\n"
	    "  b: {type: stdio, command: x, retry_by_class: {reset: {}}}\n"
	    "  c: {type: stdio, command: x, retry: {max_retries: 1}}\n",
	    want, 1);
}
END_TEST

START_TEST(test_server_name_errors)
{
	assert_error("servers:\n  \"\": {type: stdio, command: x}\n",
	    "t.yaml:2:3: servers: server name must not be empty");
	assert_error("servers:\n  ~: {type: stdio, command: x}\n",
	    "t.yaml:2:3: servers: server name must not be empty");
	assert_error("servers:\n  my server: {type: stdio, command: x}\n",
	    "t.yaml:2:3: servers: invalid server name (letters, digits, '_', "
	    "'.' and '-' only): 'my server'");
}
END_TEST

START_TEST(test_server_type_and_required_keys)
{
	static const char *const both[] = {
		"t.yaml:2:3: servers.a: missing required key 'type'",
		"t.yaml:3:3: servers.b: missing required key 'url' for type "
		"sse",
	};

	assert_error("servers:\n  a:\n    type: ftp\n    command: x\n",
	    "t.yaml:3:11: servers.a.type: unknown value 'ftp' (expected one "
	    "of: stdio, http, sse)");
	assert_error("servers:\n  a:\n    type: htp\n    command: x\n",
	    "t.yaml:3:11: servers.a.type: unknown value 'htp' (did you mean "
	    "'http'?)");
	assert_error("servers:\n  a:\n    type: stdio\n",
	    "t.yaml:2:3: servers.a: missing required key 'command' for type "
	    "stdio");
	assert_error("servers:\n  a:\n    command: x\n",
	    "t.yaml:2:3: servers.a: missing required key 'type'");
	assert_errors("servers:\n  a:\n  b: {type: sse}\n", both, 2);
	assert_error("servers:\n  a: {type: stdio, command: \"\"}\n",
	    "t.yaml:2:29: servers.a.command: must not be empty");
}
END_TEST

START_TEST(test_keys_for_another_server_type)
{
	static const char *const want[] = {
		"t.yaml:5:5: servers.a.url: applies only to http and sse "
		"servers",
		"t.yaml:6:5: servers.a.tls: applies only to http and sse "
		"servers",
		"t.yaml:10:5: servers.b.command: applies only to stdio "
		"servers",
	};

	assert_errors("servers:\n"
	    "  a:\n"
	    "    type: stdio\n"
	    "    command: x\n"
	    "    url: http://h/\n"
	    "    tls: {verify: false}\n"
	    "  b:\n"
	    "    type: http\n"
	    "    url: http://h/\n"
	    "    command: x\n", want, 3);
	assert_error("servers:\n  a:\n    type: http\n    url: http://h/\n"
	    "    tls: {cert_file: /c.pem}\n",
	    "t.yaml:5:22: servers.a.tls.cert_file: tls.cert_file and "
	    "tls.key_file must be given together");
}
END_TEST

START_TEST(test_auth_oauth_section)
{
	struct config		*cfg;
	struct config_server	*s;

	cfg = load_ok("servers:\n  gh:\n    type: http\n"
	    "    url: https://mcp.example/mcp\n"
	    "    auth:\n      type: oauth\n      client_id: abc\n"
	    "      client_secret_file: /etc/mcprelay/gh.secret\n"
	    "      scopes: [repo, read:org]\n      redirect_port: 8765\n"
	    "  plain:\n    type: http\n    url: https://x.example/mcp\n");
	s = &cfg->servers[0];
	ck_assert_int_eq(s->auth.type, CONFIG_AUTH_OAUTH);
	ck_assert_str_eq(s->auth.client_id, "abc");
	ck_assert_str_eq(s->auth.client_secret_file,
	    "/etc/mcprelay/gh.secret");
	ck_assert_uint_eq(s->auth.nscopes, 2);
	ck_assert_str_eq(s->auth.scopes[1], "read:org");
	ck_assert_int_eq(s->auth.redirect_port, 8765);
	ck_assert_ptr_null(s->auth.token_file);
	ck_assert_int_eq(cfg->servers[1].auth.type, CONFIG_AUTH_NONE);
	config_free(cfg);
	assert_error("servers:\n  a:\n    type: http\n    url: http://h/\n"
	    "    auth: {client_id: x}\n",
	    "t.yaml:5:5: servers.a.auth: missing required key 'type'");
	assert_error("servers:\n  a:\n    type: stdio\n    command: x\n"
	    "    auth: {type: oauth}\n",
	    "t.yaml:5:5: servers.a.auth: applies only to http and sse "
	    "servers");
	assert_error("servers:\n  a:\n    type: http\n    url: http://h/\n"
	    "    auth: {type: oauth, grant: client_credentials, "
	    "client_id: x}\n",
	    "t.yaml:5:18: servers.a.auth.type: auth.grant "
	    "client_credentials needs auth.client_id and "
	    "auth.client_secret_file");
	assert_error("servers:\n  a:\n    type: http\n    url: http://h/\n"
	    "    auth: {type: oauth, redirect_port: 70000}\n",
	    "t.yaml:5:40: servers.a.auth.redirect_port: must be between 0 "
	    "and 65535 (got 70000)");
}
END_TEST

START_TEST(test_fallback_must_name_another_server)
{
	assert_error("servers:\n  a:\n    type: stdio\n    command: x\n"
	    "    fallback: b\n",
	    "t.yaml:5:15: servers.a.fallback: unknown server 'b'");
	assert_error("servers:\n  backup: {type: stdio, command: y}\n"
	    "  a:\n    type: stdio\n    command: x\n    fallback: bakup\n",
	    "t.yaml:6:15: servers.a.fallback: unknown server 'bakup' (did "
	    "you mean 'backup'?)");
	assert_error("servers:\n  a:\n    type: stdio\n    command: x\n"
	    "    fallback: a\n",
	    "t.yaml:5:15: servers.a.fallback: a server cannot fall back to "
	    "itself");
}
END_TEST

START_TEST(test_bad_url_scheme)
{
	assert_error("servers:\n  w:\n    type: http\n    url: ftp://x/\n",
	    "t.yaml:4:10: servers.w.url: expected an http:// or https:// URL");
	assert_error("servers:\n  w:\n    type: sse\n    url: \"https://\"\n",
	    "t.yaml:4:10: servers.w.url: URL has no host");
}
END_TEST

START_TEST(test_yaml_syntax_errors_have_positions)
{
	assert_error("servers:\n  a: [1, 2\n",
	    "t.yaml:3:1: syntax error: did not find expected ',' or ']' "
	    "(while parsing a flow sequence)");
	assert_error("a: b: c\n", "t.yaml:1:5: syntax error: mapping values "
	    "are not allowed in this context");
	assert_error("log:\n\tlevel: info\n", "t.yaml:2:1: syntax error: "
	    "found character that cannot start any token (while scanning "
	    "for the next token)");
}
END_TEST

START_TEST(test_yaml_features_that_are_refused)
{
	assert_error("x: &a [1]\ny: *a\n",
	    "t.yaml:2:4: YAML aliases (*name) are not supported");
	assert_error("log: !!map {level: info}\n",
	    "t.yaml:1:6: YAML tags (!tag) are not supported");
	assert_error("log: {level: info}\n---\nlog: {level: info}\n",
	    "t.yaml:2:1: only one YAML document is allowed");
	assert_error("log: {level: \"in\\0fo\"}\n",
	    "t.yaml:1:14: strings must not contain NUL characters");
	assert_error("? [a]\n: b\n", "t.yaml:1:3: keys must be strings");
}
END_TEST

START_TEST(test_alias_bomb_is_refused_quickly)
{
	static const char	text[] =
	    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";

	assert_error(text, "t.yaml:2:8: YAML aliases (*name) are not "
	    "supported");
}
END_TEST

START_TEST(test_deep_nesting_is_refused)
{
	char	*text;
	size_t	 i, n = 10000;

	text = xmalloc(2 * n + 8);
	memcpy(text, "a: ", 3);
	for (i = 0; i < n; i++)
		text[3 + i] = '[';
	for (i = 0; i < n; i++)
		text[3 + n + i] = ']';
	text[3 + 2 * n] = '\0';
	assert_error(text, "t.yaml:1:35: nesting too deep");
	free(text);
}
END_TEST

START_TEST(test_errors_are_collected_and_capped)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 text[2048];
	size_t			 i, off = 0;
	FILE			*fp;
	char			*printed = NULL;
	size_t			 printed_len = 0;

	off += (size_t)snprintf(text + off, sizeof text - off, "log:\n");
	for (i = 0; i < 25; i++)
		off += (size_t)snprintf(text + off, sizeof text - off,
		    "  bogus%zu: 1\n", i);
	cfg = load(text, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, CONFIG_ERRORS_MAX);
	ck_assert_uint_eq(errs.dropped, 5);
	ck_assert_str_eq(errs.msgs[0], "t.yaml:2:3: log: unknown key "
	    "'bogus0'");
	ck_assert_str_eq(errs.msgs[19], "t.yaml:21:3: log: unknown key "
	    "'bogus19'");
	fp = open_memstream(&printed, &printed_len);
	config_errors_print(&errs, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(printed, "(5 more errors not shown)\n"));
	free(printed);
	config_errors_free(&errs);

	/* Errors in different sections are all reported. */
	{
		static const char *const want[] = {
			"t.yaml:1:14: log.level: unknown value 'loud' "
			"(expected one of: error, warning, info, debug)",
			"t.yaml:2:25: listen.replay_buffer: expected an "
			"integer, got 'x'",
			"t.yaml:3:10: alerts: unknown key 'breaker'",
		};
		assert_errors("log: {level: loud}\n"
		    "listen: {replay_buffer: x}\n"
		    "alerts: {breaker: on}\n", want, 3);
	}
}
END_TEST

START_TEST(test_load_file_reports_unreadable_file)
{
	struct config_errors	errs;

	config_errors_init(&errs);
	ck_assert_ptr_null(config_load_file("/nonexistent/mcprelay.yaml",
	    &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], "/nonexistent/mcprelay.yaml: cannot "
	    "read: No such file or directory");
	config_errors_free(&errs);
	ck_assert_ptr_null(config_load_file("/nonexistent/mcprelay.yaml",
	    NULL));
}
END_TEST

/*
 * The shipped files, and robustness.
 */

START_TEST(test_shipped_demo_config_loads)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 buf[256];

	unsetenv("MCPRELAY_DEMO_SERVER");
	config_errors_init(&errs);
	cfg = config_load_file(SHIPPED_DIR "/demo.yaml", &errs);
	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->nservers, 1);
	ck_assert_str_eq(cfg->servers[0].name, "demo");
	ck_assert_int_eq(cfg->servers[0].type, CONFIG_SERVER_STDIO);
	ck_assert_str_eq(cfg->servers[0].command, "mcprelay-demo-server");
	ck_assert_uint_eq(cfg->servers[0].nargs, 0);
	ck_assert_double_eq(cfg->servers[0].retry.initial_delay, 0.5);
	config_summary(cfg, buf, sizeof buf);
	ck_assert_str_eq(buf, "valid: 1 server (demo), http 127.0.0.1:8931, "
	    "unix off");
	config_free(cfg);

	setenv("MCPRELAY_DEMO_SERVER", "/opt/build/mcprelay-demo-server", 1);
	cfg = config_load_file(SHIPPED_DIR "/demo.yaml", &errs);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->servers[0].command,
	    "/opt/build/mcprelay-demo-server");
	config_free(cfg);
	unsetenv("MCPRELAY_DEMO_SERVER");
	config_errors_free(&errs);
}
END_TEST

START_TEST(test_shipped_production_config_loads)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 buf[256];

	config_errors_init(&errs);
	cfg = config_load_file(SHIPPED_DIR "/mcprelay.yaml", &errs);
	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->nservers, 0);
	ck_assert_double_eq(cfg->defaults.retry.initial_delay, 1);
	ck_assert_double_eq(cfg->defaults.circuit_breaker.max_open_duration,
	    300);
	ck_assert(!cfg->defaults.retry_on[FAIL_PROTOCOL_ERROR]);
	config_summary(cfg, buf, sizeof buf);
	ck_assert_str_eq(buf, "valid: 0 servers, http 127.0.0.1:8931, "
	    "unix off");
	config_free(cfg);
	config_errors_free(&errs);
}
END_TEST

/* The commented server examples in mcprelay.yaml are valid too. */
START_TEST(test_production_config_examples_are_valid)
{
	struct config	*cfg;
	char		*text, *p, *q, *out, *o;
	size_t		 len;
	int		 in_servers = 0;

	text = slurp(SHIPPED_DIR "/mcprelay.yaml", &len);
	out = o = xmalloc(len + 1);
	/* Uncomment the block under "servers: {}" up to "alerts:". */
	for (p = text; *p != '\0'; p = q) {
		q = strchr(p, '\n');
		q = q == NULL ? p + strlen(p) : q + 1;
		if (strncmp(p, "servers: {}", 11) == 0) {
			o += sprintf(o, "servers:\n");
			in_servers = 1;
			continue;
		}
		if (strncmp(p, "alerts:", 7) == 0)
			in_servers = 0;
		if (in_servers && strncmp(p, "# ", 2) == 0 &&
		    strncmp(p, "#   ", 4) == 0) {
			memcpy(o, p + 1, (size_t)(q - p - 1));
			o += q - p - 1;
			continue;
		}
		if (in_servers)
			continue;
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
	}
	*o = '\0';
	setenv("WEATHER_TOKEN", "x", 1);
	/* The example secret files do not exist here: drop those lines. */
	while ((p = strstr(out, "_file: /etc/mcprelay/")) != NULL) {
		while (p > out && p[-1] != '\n')
			p--;
		q = strchr(p, '\n');
		memmove(p, q + 1, strlen(q + 1) + 1);
	}
	cfg = load_ok(out);
	ck_assert_uint_eq(cfg->nservers, 3);
	ck_assert_str_eq(cfg->servers[0].name, "files");
	ck_assert_str_eq(cfg->servers[1].name, "weather");
	ck_assert_int_eq(cfg->servers[1].retry.max_retries, 5);
	ck_assert_int_eq(cfg->servers[2].type, CONFIG_SERVER_SSE);
	config_free(cfg);
	unsetenv("WEATHER_TOKEN");
	free(out);
	free(text);
}
END_TEST

/*
 * True when a cut at text[i] falls inside a comment: the scanner sees the
 * same tokens as for a cut where the comment starts.
 */
static bool
in_comment(const char *text, size_t i)
{
	size_t	start = i;

	while (start > 0 && text[start - 1] != '\n')
		start--;
	for (; start < i; start++) {
		if (text[start] == '#' && (start == 0 ||
		    text[start - 1] == ' ' || text[start - 1] == '\n'))
			return start + 1 < i;
	}
	return false;
}

/*
 * Load every prefix of path (skipping cuts inside comments if asked): each
 * must load, or fail with at least one reason.
 */
static void
truncate_everywhere(const char *path, bool skip_comments)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			*text, *copy;
	size_t			 len, i;

	text = slurp(path, &len);
	for (i = 0; i <= len; i++) {
		if (skip_comments && in_comment(text, i))
			continue;
		/* An exact-size copy, so ASan sees any read past the end. */
		copy = xmalloc(i ? i : 1);
		memcpy(copy, text, i);
		config_errors_init(&errs);
		cfg = config_load_string(copy, i, "trunc.yaml", &errs);
		ck_assert_msg(cfg != NULL || errs.n > 0,
		    "prefix %zu failed without a reason", i);
		ck_assert_msg(cfg == NULL || errs.n == 0,
		    "prefix %zu loaded with errors", i);
		config_free(cfg);
		config_errors_free(&errs);
		free(copy);
	}
	free(text);
}

START_TEST(test_truncated_full_file_fails_cleanly)
{
	unsetenv("CONFIG_TEST_UNSET_VAR");
	truncate_everywhere(TEST_DATA_DIR "/config-full.yaml", false);
}
END_TEST

START_TEST(test_truncated_demo_file_fails_cleanly)
{
	unsetenv("MCPRELAY_DEMO_SERVER");
	truncate_everywhere(SHIPPED_DIR "/demo.yaml", false);
}
END_TEST

/* Mostly comments: every byte would take seconds under ASan. */
START_TEST(test_truncated_production_file_fails_cleanly)
{
	truncate_everywhere(SHIPPED_DIR "/mcprelay.yaml", true);
}
END_TEST

START_TEST(test_malformed_inputs_fail_cleanly)
{
	static const struct {
		const char	*text;
		size_t		 len;
	} inputs[] = {
#define IN(s)	{ s, sizeof(s) - 1 }
		IN("["), IN("{"), IN("]"), IN("}"), IN(":"), IN("- - -"),
		IN("\t"), IN("\"\\"), IN("'"), IN("&"), IN("*"), IN("!"),
		IN("%YAML 1.1\n%YAML 1.1\n---\n"), IN("%TAG ! !x\n--- !a b"),
		IN("\x00"),
		IN("a: \x00"), IN("\xc3"), IN("a: \xc3\x28"),
		IN("servers: {a: {type: stdio, command: x, env: [1]}}"),
		IN("servers: {a: {type: stdio, command: x, env: {A: [1]}}}"),
		IN("servers: {a: {type: http, url: http://h, headers: "
		    "{\"\": x}}}"),
		IN("servers: {a: {type: stdio, command: x, env: {A_file: "
		    "/dev/null, B_file: /}}}"),
		IN("servers: {a: {type: stdio, command: x, retry: [1]}}"),
		IN("servers: {a: {type: stdio, command: x, retry_by_class: "
		    "{timeout: 5}}}"),
		IN("servers: {a: {type: stdio, command: x, retry_by_class: "
		    "[timeout]}}"),
		IN("servers: {a: {type: [stdio]}}"),
		IN("servers: {[a]: {}}"),
		IN("servers: {a: 5}"),
		IN("servers: 5"),
		IN("defaults: {retry_on: timeout}"),
		IN("defaults: {retry_on: [[timeout]]}"),
		IN("defaults: 5"),
		IN("listen: {unix: 5}"),
		IN("listen: {unix: {path: [a]}}"),
		IN("listen: {http: \"[::1\"}"),
		IN("listen: {http: \"[zz]:80\"}"),
		IN("listen: {http: \":80\"}"),
		IN("listen: {http: \"1.2.3.4:\"}"),
		IN("listen: {max_body_size: 0}"),
		IN("listen: {max_header_size: 99999999999999999999999}"),
		IN("control: {mode: 077777}"),
		IN("control: {mode: \"\"}"),
		IN("log: {level: [debug]}"),
		IN("a: {b: {c: {d: {e: {f: [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}}}}}"),
		IN("? a\n? b\n? a\n"),
		IN("{a: 1, a: 2, a: 3}"),
		IN("log: {level: ${X}}"),
		IN("log: {level: \"${\"}"),
		IN("servers:\n  x:\n    type: http\n    url: \"http://h\\u0000\"\n"),
		IN("defaults: {retry: {jitter_mode: fulll}}"),
		IN("defaults: {retry: {max_retries: 1e3}}"),
		IN("defaults: {retry: {max_retries: \"-\"}}"),
		IN("defaults: {retry: {backoff_factor: .}}"),
		IN("defaults: {retry: {deadline: 1e400}}"),
#undef IN
	};
	struct config_errors	 errs;
	struct config		*cfg;
	char			*copy;
	size_t			 i;

	for (i = 0; i < sizeof inputs / sizeof *inputs; i++) {
		copy = xmalloc(inputs[i].len ? inputs[i].len : 1);
		memcpy(copy, inputs[i].text, inputs[i].len);
		config_errors_init(&errs);
		cfg = config_load_string(copy, inputs[i].len, "bad.yaml",
		    &errs);
		ck_assert_msg(cfg == NULL && errs.n > 0,
		    "input %zu ('%s') was accepted", i, inputs[i].text);
		ck_assert_msg(strncmp(errs.msgs[0], "bad.yaml", 8) == 0,
		    "input %zu: '%s'", i, errs.msgs[0]);
		config_errors_free(&errs);
		free(copy);
	}
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("values");
	tcase_add_test(tc, test_duration_accepts_every_unit);
	tcase_add_test(tc, test_duration_rejects_bad_input);
	tcase_add_test(tc, test_size_accepts_units);
	tcase_add_test(tc, test_size_rejects_bad_input);
	tcase_add_test(tc, test_decimal_parse_is_strict);
	tcase_add_test(tc, test_duration_format_picks_the_exact_unit);
	tcase_add_test(tc, test_fail_class_names_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_test(tc, test_expand_replaces_variables);
	tcase_add_test(tc, test_expand_uses_defaults_when_unset_or_empty);
	tcase_add_test(tc, test_expand_dollar_rules);
	tcase_add_test(tc, test_expand_errors_name_the_problem);
	tcase_add_test(tc, test_expand_vars_uses_the_environment);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_test(tc, test_empty_file_gives_every_default);
	tcase_add_test(tc, test_server_gets_defaults_and_type_specific_defaults);
	tcase_add_test(tc, test_server_override_merges_field_by_field);
	tcase_add_test(tc, test_retry_by_class_merges_over_the_server_retry);
	tcase_add_test(tc, test_null_values_keep_the_default);
	tcase_add_test(tc, test_full_file_sets_every_section);
	tcase_add_test(tc, test_listen_addresses_and_modes);
	tcase_add_test(tc, test_metrics_listen_is_loopback_only);
	tcase_add_test(tc, test_control_socket_default_follows_the_runtime_directory);
	tcase_add_test(tc, test_summary_is_one_line);
	tcase_add_test(tc, test_server_equal_compares_every_setting);
	tcase_add_test(tc, test_env_expansion_in_values);
	tcase_add_test(tc, test_env_unset_variable_is_an_error);
	tcase_add_test(tc, test_file_secrets_set_the_bare_name);
	tcase_add_test(tc, test_file_secret_errors);
	tcase_add_test(tc, test_env_file_supplies_variables);
	tcase_add_test(tc, test_env_file_errors);
	tcase_add_test(tc, test_fifo_secret_file_is_refused_without_blocking);
	tcase_add_test(tc, test_dump_redacts_secrets);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_misspelt_key_suggests_the_right_one);
	tcase_add_test(tc, test_wrong_types_are_errors);
	tcase_add_test(tc, test_duplicate_key_is_an_error);
	tcase_add_test(tc, test_out_of_range_values_are_errors);
	tcase_add_test(tc, test_max_delay_below_initial_delay);
	tcase_add_test(tc, test_inherited_error_is_reported_once);
	tcase_add_test(tc, test_server_name_errors);
	tcase_add_test(tc, test_server_type_and_required_keys);
	tcase_add_test(tc, test_keys_for_another_server_type);
	tcase_add_test(tc, test_auth_oauth_section);
	tcase_add_test(tc, test_fallback_must_name_another_server);
	tcase_add_test(tc, test_bad_url_scheme);
	tcase_add_test(tc, test_yaml_syntax_errors_have_positions);
	tcase_add_test(tc, test_yaml_features_that_are_refused);
	tcase_add_test(tc, test_alias_bomb_is_refused_quickly);
	tcase_add_test(tc, test_deep_nesting_is_refused);
	tcase_add_test(tc, test_errors_are_collected_and_capped);
	tcase_add_test(tc, test_load_file_reports_unreadable_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_add_test(tc, test_shipped_demo_config_loads);
	tcase_add_test(tc, test_shipped_production_config_loads);
	tcase_add_test(tc, test_production_config_examples_are_valid);
	tcase_add_test(tc, test_truncated_full_file_fails_cleanly);
	tcase_add_test(tc, test_truncated_demo_file_fails_cleanly);
	tcase_add_test(tc, test_truncated_production_file_fails_cleanly);
	tcase_add_test(tc, test_malformed_inputs_fail_cleanly);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
