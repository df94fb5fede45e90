/*
 * Unit tests for the latency histogram (daemon/stats.c) and the Prometheus
 * exposition (daemon/metrics.c): bucket placement and quantiles with exact
 * values, and text that follows format 0.0.4 and the naming rules (prefix,
 * _total counters, _seconds histograms with +Inf, only the server, outcome
 * and class labels) with exact samples for a known stats object.
 */
#include "autoconf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "log.h"
#include "metrics.h"
#include "stats.h"

#define EPS	1e-9

START_TEST(test_a_duration_lands_in_the_first_bucket_whose_bound_holds_it)
{
	struct stats_latency	l;

	stats_latency_init(&l);
	stats_latency_add(&l, 0.001);		/* le 0.001: inclusive */
	stats_latency_add(&l, 0.0011);		/* le 0.0025 */
	stats_latency_add(&l, -3);		/* counted as 0 */
	stats_latency_add(&l, 60);		/* le 60 */
	stats_latency_add(&l, 61);		/* +Inf */
	ck_assert_uint_eq(l.count, 5);
	ck_assert_uint_eq(l.buckets[0], 2);
	ck_assert_uint_eq(l.buckets[1], 1);
	ck_assert_uint_eq(l.buckets[STATS_LATENCY_NBOUNDS - 1], 1);
	ck_assert_uint_eq(l.buckets[STATS_LATENCY_NBOUNDS], 1);
	ck_assert_double_eq_tol(l.sum, 0.001 + 0.0011 + 60 + 61, EPS);
}
END_TEST

START_TEST(test_quantiles_interpolate_within_the_bucket)
{
	struct stats_latency	l;
	int			i;

	stats_latency_init(&l);
	ck_assert_double_eq(stats_latency_quantile(&l, 0.5), -1);
	/* 10 in (0.05, 0.1], 10 in (0.1, 0.25]. */
	for (i = 0; i < 10; i++) {
		stats_latency_add(&l, 0.07);
		stats_latency_add(&l, 0.2);
	}
	/* rank 10 is the end of the first: its upper bound. */
	ck_assert_double_eq_tol(stats_latency_quantile(&l, 0.5), 0.1, EPS);
	/* rank 18: 8 of 10 into (0.1, 0.25]. */
	ck_assert_double_eq_tol(stats_latency_quantile(&l, 0.9), 0.22, EPS);
	/* rank 19.8 */
	ck_assert_double_eq_tol(stats_latency_quantile(&l, 0.99), 0.247,
	    EPS);
	/* rank 5: half-way through (0.05, 0.1]. */
	ck_assert_double_eq_tol(stats_latency_quantile(&l, 0.25), 0.075, EPS);
}
END_TEST

START_TEST(test_a_quantile_in_the_inf_bucket_is_the_highest_bound)
{
	struct stats_latency	l;

	stats_latency_init(&l);
	stats_latency_add(&l, 100);
	ck_assert_double_eq(stats_latency_quantile(&l, 0.99), 60);
	stats_latency_init(&l);
	stats_latency_add(&l, 0);
	ck_assert_double_eq(stats_latency_quantile(&l, 0.5), 0.0005);
}
END_TEST

START_TEST(test_latency_json_has_cumulative_buckets_ending_in_inf)
{
	struct stats_latency	 l;
	struct json_object	*o, *b, *last, *v;

	stats_latency_init(&l);
	stats_latency_add(&l, 0.003);
	stats_latency_add(&l, 0.3);
	stats_latency_add(&l, 99);
	o = stats_latency_json(&l);
	ck_assert(json_object_object_get_ex(o, "buckets", &b));
	ck_assert_uint_eq(json_object_array_length(b),
	    STATS_LATENCY_NBOUNDS + 1);
	/* le 0.005 holds 1, le 0.5 holds 2, +Inf all 3. */
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(b, 2),
	    "count", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(b, 8),
	    "count", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	last = json_object_array_get_idx(b, STATS_LATENCY_NBOUNDS);
	ck_assert(json_object_object_get_ex(last, "le", &v));
	ck_assert_str_eq(json_object_get_string(v), "+Inf");
	ck_assert(json_object_object_get_ex(last, "count", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	ck_assert(json_object_object_get_ex(o, "p50", &v));
	ck_assert_double_eq_tol(json_object_get_double(v), 0.25 + 0.25 * 0.5,
	    1e-6);
	json_object_put(o);

	stats_latency_init(&l);
	o = stats_latency_json(&l);
	ck_assert(json_object_object_get_ex(o, "p99", &v));
	ck_assert_ptr_null(v);
	json_object_put(o);
}
END_TEST

/* A stats object as stats_all() builds it, with one server. */
static struct json_object *
sample_stats(const char *server)
{
	struct stats_latency	 l;
	struct json_object	*o, *s, *a;
	char			 text[4096];

	snprintf(text, sizeof text,
	    "{\"version\":\"0.1.0\",\"startTime\":1755856867,"
	    "\"uptimeSeconds\":12.5,"
	    "\"sessions\":{\"open\":2,\"total\":9},"
	    "\"requests\":{\"total\":20,\"ok\":17,\"error\":3,"
	    "\"parseErrors\":1,\"invalid\":2},"
	    "\"reloads\":{\"ok\":4,\"failed\":1},"
	    "\"limits\":{\"maxConnections\":5,\"maxSessions\":6,"
	    "\"maxInflight\":7,\"requestReadTimeout\":8},"
	    "\"events\":{\"emitted\":33,\"subscribers\":1},"
	    "\"servers\":[{\"name\":\"%s\",\"state\":\"ready\","
	    "\"stateSeconds\":3.5,\"disabled\":false,"
	    "\"breaker\":{\"state\":\"closed\",\"transitions\":2,"
	    "\"timesOpened\":1},"
	    "\"connection\":{\"attempts\":3,\"retries\":2,\"reconnects\":1,"
	    "\"disconnects\":1,\"consecutiveFailures\":0,"
	    "\"downtimeSeconds\":0.75,\"healthFailures\":0,"
	    "\"failuresByClass\":{\"upstream_exit\":2,\"timeout\":0}},"
	    "\"requests\":{\"total\":11,\"ok\":7,\"errors\":4,"
	    "\"errorsByClass\":{\"upstream\":1,\"maybe_ran\":3},"
	    "\"retried\":2,\"retriedOk\":2,\"inFlight\":1,\"queued\":0,"
	    "\"refusedUnsafe\":3,\"ruleRetries\":2},"
	    "\"rules\":{\"matches\":{\"rate-limit\":2},"
	    "\"actions\":{\"retry\":2,\"fail\":0,\"fallback\":0,"
	    "\"trip\":0}},"
	    "\"process\":{\"pid\":1234,\"restarts\":2},"
	    "\"alerts\":{\"retries_per_minute\":0,\"breaker_open\":1}}]}",
	    server);
	o = json_tokener_parse(text);
	ck_assert_ptr_nonnull(o);
	stats_latency_init(&l);
	stats_latency_add(&l, 0.004);
	stats_latency_add(&l, 0.004);
	stats_latency_add(&l, 2);
	json_object_object_get_ex(o, "servers", &a);
	s = json_object_array_get_idx(a, 0);
	json_object_object_add(s, "latency", stats_latency_json(&l));
	return o;
}

static int
has_line(const char *text, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

#define ASSERT_LINE(text, line) \
	ck_assert_msg(has_line(text, line), "missing line: %s\n%s", line, text)

START_TEST(test_exposition_has_the_exact_samples)
{
	struct json_object	*stats = sample_stats("demo");
	char			*t = metrics_render_stats(stats);

	ASSERT_LINE(t, "# TYPE mcprelay_sessions gauge");
	ASSERT_LINE(t, "mcprelay_sessions 2");
	ASSERT_LINE(t, "mcprelay_sessions_total 9");
	ASSERT_LINE(t, "mcprelay_requests_total{outcome=\"ok\"} 17");
	ASSERT_LINE(t, "mcprelay_requests_total{outcome=\"error\"} 3");
	ASSERT_LINE(t, "mcprelay_reloads_total{outcome=\"error\"} 1");
	ASSERT_LINE(t, "mcprelay_limit_refusals_total"
	    "{limit=\"max_connections\"} 5");
	ASSERT_LINE(t, "mcprelay_limit_refusals_total{limit=\"max_sessions\"} 6");
	ASSERT_LINE(t, "mcprelay_limit_refusals_total{limit=\"max_inflight\"} 7");
	ASSERT_LINE(t, "mcprelay_limit_refusals_total"
	    "{limit=\"request_read_timeout\"} 8");
	ASSERT_LINE(t, "mcprelay_uptime_seconds 12.5");
	ASSERT_LINE(t, "mcprelay_servers 1");
	ASSERT_LINE(t, "mcprelay_server_ready{server=\"demo\"} 1");
	ASSERT_LINE(t, "mcprelay_server_breaker_open{server=\"demo\"} 0");
	ASSERT_LINE(t, "mcprelay_server_disabled{server=\"demo\"} 0");
	ASSERT_LINE(t, "# TYPE mcprelay_server_connect_attempts_total "
	    "counter");
	ASSERT_LINE(t, "mcprelay_server_connect_attempts_total"
	    "{server=\"demo\"} 3");
	ASSERT_LINE(t, "mcprelay_server_connect_failures_total"
	    "{server=\"demo\",class=\"upstream_exit\"} 2");
	ASSERT_LINE(t, "mcprelay_server_downtime_seconds_total"
	    "{server=\"demo\"} 0.75");
	ASSERT_LINE(t, "mcprelay_server_requests_total"
	    "{server=\"demo\",outcome=\"ok\"} 7");
	ASSERT_LINE(t, "mcprelay_server_requests_total"
	    "{server=\"demo\",outcome=\"error\"} 4");
	ASSERT_LINE(t, "mcprelay_server_request_errors_total"
	    "{server=\"demo\",class=\"maybe_ran\"} 3");
	ASSERT_LINE(t, "mcprelay_server_requests_in_flight{server=\"demo\"} 1");
	ASSERT_LINE(t, "mcprelay_server_requests_rule_retries_total"
	    "{server=\"demo\"} 2");
	ASSERT_LINE(t, "mcprelay_server_rule_matches_total"
	    "{server=\"demo\",rule=\"rate-limit\"} 2");
	ASSERT_LINE(t, "mcprelay_server_rule_actions_total"
	    "{server=\"demo\",action=\"retry\"} 2");
	ASSERT_LINE(t, "mcprelay_server_rule_actions_total"
	    "{server=\"demo\",action=\"trip\"} 0");
	ASSERT_LINE(t, "mcprelay_server_process_restarts_total"
	    "{server=\"demo\"} 2");
	ASSERT_LINE(t, "mcprelay_server_alerts_total"
	    "{server=\"demo\",class=\"breaker_open\"} 1");
	ASSERT_LINE(t, "# TYPE mcprelay_server_request_duration_seconds "
	    "histogram");
	ASSERT_LINE(t, "mcprelay_server_request_duration_seconds_bucket"
	    "{server=\"demo\",le=\"0.0025\"} 0");
	ASSERT_LINE(t, "mcprelay_server_request_duration_seconds_bucket"
	    "{server=\"demo\",le=\"0.005\"} 2");
	ASSERT_LINE(t, "mcprelay_server_request_duration_seconds_bucket"
	    "{server=\"demo\",le=\"2.5\"} 3");
	ASSERT_LINE(t, "mcprelay_server_request_duration_seconds_bucket"
	    "{server=\"demo\",le=\"+Inf\"} 3");
	ASSERT_LINE(t, "mcprelay_server_request_duration_seconds_sum"
	    "{server=\"demo\"} 2.008");
	ASSERT_LINE(t, "mcprelay_server_request_duration_seconds_count"
	    "{server=\"demo\"} 3");
	free(t);
	json_object_put(stats);
}
END_TEST

/* Checks the rules on every line; returns the number of samples. */
static int
check_exposition(const char *text)
{
	char		 type[128] = "", family[128] = "", name[128];
	const char	*p = text, *nl, *q;
	char		 line[1024];
	int		 samples = 0;
	size_t		 n;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "the text must end in a newline");
		n = (size_t)(nl - p);
		ck_assert_uint_lt(n, sizeof line);
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert(sscanf(line + 7, "%127s", family) == 1);
			ck_assert_msg(strncmp(family, "mcprelay_", 9) == 0,
			    "%s", line);
			ck_assert_msg(strlen(line) > 8 + strlen(family),
			    "empty help: %s", line);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert(sscanf(line + 7, "%127s %127s", name,
			    type) == 2);
			ck_assert_str_eq(name, family);
			n = strlen(name);
			if (strcmp(type, "counter") == 0)
				ck_assert_msg(n > 6 && strcmp(name + n - 6,
				    "_total") == 0, "counter %s", name);
			else if (strcmp(type, "histogram") == 0)
				ck_assert_msg(n > 8 && strcmp(name + n - 8,
				    "_seconds") == 0, "histogram %s", name);
			else {
				ck_assert_str_eq(type, "gauge");
				ck_assert_msg(n <= 6 || strcmp(name + n - 6,
				    "_total") != 0, "gauge %s", name);
			}
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment: %s", line);
		/* A sample of the current family. */
		n = strlen(family);
		ck_assert_msg(strncmp(line, family, n) == 0, "sample %s "
		    "outside its family %s", line, family);
		q = line + n;
		if (strcmp(type, "histogram") == 0 && (strncmp(q, "_bucket",
		    7) == 0 || strncmp(q, "_sum", 4) == 0 ||
		    strncmp(q, "_count", 6) == 0))
			q += q[1] == 'b' ? 7 : q[1] == 's' ? 4 : 6;
		ck_assert_msg(*q == ' ' || *q == '{', "name of %s", line);
		if (*q == '{') {
			/* Only these labels. */
			for (q++; *q != '}'; ) {
				ck_assert_msg(strncmp(q, "server=\"", 8) == 0 ||
				    strncmp(q, "outcome=\"", 9) == 0 ||
				    strncmp(q, "class=\"", 7) == 0 ||
				    strncmp(q, "rule=\"", 6) == 0 ||
				    strncmp(q, "action=\"", 8) == 0 ||
				    strncmp(q, "limit=\"", 7) == 0 ||
				    strncmp(q, "le=\"", 4) == 0,
				    "label in %s", line);
				q = strchr(q, '"') + 1;
				while (*q != '"') {
					if (*q == '\\')
						q++;
					q++;
				}
				q++;
				if (*q == ',')
					q++;
			}
			q++;
		}
		ck_assert_msg(*q == ' ' && q[1] != '\0', "value of %s", line);
		samples++;
	}
	return samples;
}

START_TEST(test_exposition_follows_the_format_and_naming_rules)
{
	struct json_object	*stats = sample_stats("demo");
	char			*t = metrics_render_stats(stats);

	ck_assert_int_eq(check_exposition(t), 67);
	free(t);
	json_object_put(stats);
}
END_TEST

START_TEST(test_label_values_are_escaped)
{
	struct json_object	*stats = sample_stats("a\\\\\\\"b\\nc");
	char			*t = metrics_render_stats(stats);

	/* The name holds a backslash, a quote and a newline. */
	ASSERT_LINE(t, "mcprelay_server_ready{server=\"a\\\\\\\"b\\nc\"} 1");
	check_exposition(t);
	free(t);
	json_object_put(stats);
}
END_TEST

START_TEST(test_no_servers_gives_no_server_families)
{
	struct json_object	*stats = json_tokener_parse(
	    "{\"servers\":[],\"sessions\":{\"open\":0,\"total\":0}}");
	char			*t = metrics_render_stats(stats);

	ASSERT_LINE(t, "mcprelay_servers 0");
	ck_assert_ptr_null(strstr(t, "mcprelay_server_"));
	/* Missing values are 0, never an empty sample. */
	ASSERT_LINE(t, "mcprelay_requests_total{outcome=\"ok\"} 0");
	check_exposition(t);
	free(t);
	json_object_put(stats);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("latency");

	tcase_add_test(tc,
	    test_a_duration_lands_in_the_first_bucket_whose_bound_holds_it);
	tcase_add_test(tc, test_quantiles_interpolate_within_the_bucket);
	tcase_add_test(tc,
	    test_a_quantile_in_the_inf_bucket_is_the_highest_bound);
	tcase_add_test(tc,
	    test_latency_json_has_cumulative_buckets_ending_in_inf);
	suite_add_tcase(s, tc);
	tc = tcase_create("exposition");
	tcase_add_test(tc, test_exposition_has_the_exact_samples);
	tcase_add_test(tc, test_exposition_follows_the_format_and_naming_rules);
	tcase_add_test(tc, test_label_values_are_escaped);
	tcase_add_test(tc, test_no_servers_gives_no_server_families);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(metrics_suite());
	int	 failed;

	log_init("test_metrics", LOG_LEVEL_ERROR);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
