/*
 * Unit tests for common/retry.c: policy defaults and validation, nominal and
 * jittered delays (bounds and distribution, with a seeded rng), stats.
 */
#include "autoconf.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry.h"

#define SAMPLES	10000

/*
 * For hot sampling loops: Check records the location of every passing
 * ck_assert (a write per call), which would dominate the run time.
 */
#define CHECK_SAMPLE(cond, ...) do {					\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

/* An rng that returns a scripted value, for exact bounds. */
static double
fixed_uniform(void *arg)
{
	return *(double *)arg;
}

static struct retry_rng
fixed_rng(double *u)
{
	struct retry_rng	rng = { fixed_uniform, u };

	return rng;
}

static struct retry_policy
policy_no_jitter(void)
{
	struct retry_policy	p;

	retry_policy_init(&p);
	p.jitter = false;
	return p;
}

START_TEST(test_policy_defaults_match_design)
{
	struct retry_policy	p;

	memset(&p, 0xa5, sizeof p);
	retry_policy_init(&p);
	ck_assert_int_eq(p.max_retries, 3);
	ck_assert_double_eq(p.initial_delay, 1.0);
	ck_assert_double_eq(p.max_delay, 60.0);
	ck_assert_double_eq(p.backoff_factor, 2.0);
	ck_assert(p.jitter);
	ck_assert_double_eq(p.jitter_factor, 0.1);
	ck_assert_int_eq(p.jitter_mode, RETRY_JITTER_PROPORTIONAL);
	ck_assert_double_eq(p.attempt_timeout, 0);
	ck_assert_double_eq(p.deadline, 0);
}
END_TEST

START_TEST(test_nominal_delays_double_from_initial_delay)
{
	struct retry_policy	p = policy_no_jitter();
	const double		want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	unsigned		i;

	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_double_eq(retry_nominal_delay(&p, i), want[i]);
}
END_TEST

START_TEST(test_delay_is_capped_at_max_delay)
{
	struct retry_policy	p = policy_no_jitter();
	unsigned		i;

	p.initial_delay = 0.5;
	p.max_delay = 5;
	p.backoff_factor = 3;
	ck_assert_double_eq(retry_nominal_delay(&p, 0), 0.5);
	ck_assert_double_eq(retry_nominal_delay(&p, 1), 1.5);
	ck_assert_double_eq(retry_nominal_delay(&p, 2), 4.5);
	for (i = 3; i < 64; i++) {
		ck_assert_double_eq(retry_nominal_delay(&p, i), 5);
		ck_assert_double_eq(retry_delay(&p, i, 0, NULL), 5);
	}
}
END_TEST

START_TEST(test_huge_attempt_gives_exactly_max_delay)
{
	struct retry_policy	p = policy_no_jitter();
	double			d;

	d = retry_nominal_delay(&p, 1000);
	ck_assert(isfinite(d));
	ck_assert_double_eq(d, 60);
	d = retry_nominal_delay(&p, UINT_MAX);
	ck_assert(isfinite(d));
	ck_assert_double_eq(d, 60);

	p.backoff_factor = 1e300;
	d = retry_nominal_delay(&p, 5);
	ck_assert(isfinite(d));
	ck_assert_double_eq(d, 60);
}
END_TEST

START_TEST(test_factor_one_gives_constant_delay)
{
	struct retry_policy	p = policy_no_jitter();
	unsigned		i;

	p.backoff_factor = 1;
	p.initial_delay = 2.5;
	for (i = 0; i < 100; i++)
		ck_assert_double_eq(retry_nominal_delay(&p, i), 2.5);
	ck_assert_double_eq(retry_nominal_delay(&p, UINT_MAX), 2.5);
}
END_TEST

START_TEST(test_zero_initial_delay_gives_zero)
{
	struct retry_policy	p = policy_no_jitter();

	p.initial_delay = 0;
	ck_assert_double_eq(retry_nominal_delay(&p, 0), 0);
	ck_assert_double_eq(retry_nominal_delay(&p, 5000), 0);
}
END_TEST

START_TEST(test_jitter_off_returns_nominal_in_every_mode)
{
	struct retry_policy	p = policy_no_jitter();
	double			u = 0.9;
	struct retry_rng	rng = fixed_rng(&u);
	enum retry_jitter_mode	m;
	unsigned		i;

	for (m = RETRY_JITTER_PROPORTIONAL; m <= RETRY_JITTER_DECORRELATED;
	    m++) {
		p.jitter_mode = m;
		for (i = 0; i < 10; i++)
			ck_assert_double_eq(retry_delay(&p, i, 7, &rng),
			    retry_nominal_delay(&p, i));
	}
}
END_TEST

START_TEST(test_proportional_jitter_stays_in_band_and_averages_nominal)
{
	struct retry_policy	 p;
	struct retry_rng_state	 st;
	struct retry_rng	 rng = retry_rng_seeded(&st, 42);
	const unsigned		 attempts[] = { 0, 1, 3, 5, 6, 20 };
	double			 n, d, lo, hi, sum, jf;
	unsigned		 a, i;

	retry_policy_init(&p);
	jf = p.jitter_factor;
	for (a = 0; a < sizeof attempts / sizeof attempts[0]; a++) {
		n = retry_nominal_delay(&p, attempts[a]);
		lo = hi = n;
		sum = 0;
		for (i = 0; i < SAMPLES; i++) {
			d = retry_delay(&p, attempts[a], 0, &rng);
			CHECK_SAMPLE(d >= 0, "negative delay %f", d);
			CHECK_SAMPLE(d >= n * (1 - jf) && d <= n * (1 + jf),
			    "attempt %u: %f outside [%f, %f]", attempts[a], d,
			    n * (1 - jf), n * (1 + jf));
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
			sum += d;
		}
		ck_assert_msg(fabs(sum / SAMPLES - n) <= 0.02 * n,
		    "attempt %u: mean %f, nominal %f", attempts[a],
		    sum / SAMPLES, n);
		/* The samples really are spread over the band. */
		ck_assert(lo < n * (1 - jf / 2));
		ck_assert(hi > n * (1 + jf / 2));
	}
}
END_TEST

START_TEST(test_proportional_jitter_extremes_are_exact)
{
	struct retry_policy	p;
	double			u;
	struct retry_rng	rng = fixed_rng(&u);

	retry_policy_init(&p);
	u = 0;
	ck_assert_double_eq_tol(retry_delay(&p, 2, 0, &rng), 3.6, 1e-12);
	u = 0.5;
	ck_assert_double_eq_tol(retry_delay(&p, 2, 0, &rng), 4.0, 1e-12);
	/* A misbehaving rng is clamped into [0,1). */
	u = 7;
	ck_assert(retry_delay(&p, 2, 0, &rng) <= 4.4);
	u = -3;
	ck_assert_double_eq_tol(retry_delay(&p, 2, 0, &rng), 3.6, 1e-12);
	u = NAN;
	ck_assert_double_eq_tol(retry_delay(&p, 2, 0, &rng), 3.6, 1e-12);
}
END_TEST

START_TEST(test_proportional_jitter_never_negative)
{
	struct retry_policy	p;
	struct retry_rng_state	st;
	struct retry_rng	rng = retry_rng_seeded(&st, 7);
	double			u = 0;
	struct retry_rng	zero = fixed_rng(&u);
	unsigned		i;

	retry_policy_init(&p);
	p.jitter_factor = 1;
	ck_assert_double_eq(retry_delay(&p, 0, 0, &zero), 0);
	for (i = 0; i < SAMPLES; i++)
		CHECK_SAMPLE(retry_delay(&p, i % 8, 0, &rng) >= 0,
		    "negative delay at sample %u", i);
}
END_TEST

START_TEST(test_full_jitter_is_between_zero_and_nominal)
{
	struct retry_policy	p;
	struct retry_rng_state	st;
	struct retry_rng	rng = retry_rng_seeded(&st, 1);
	double			d, n, sum = 0;
	unsigned		i;

	retry_policy_init(&p);
	p.jitter_mode = RETRY_JITTER_FULL;
	n = retry_nominal_delay(&p, 3);
	for (i = 0; i < SAMPLES; i++) {
		d = retry_delay(&p, 3, 0, &rng);
		CHECK_SAMPLE(d >= 0 && d <= n, "%f outside [0, %f]", d, n);
		sum += d;
	}
	ck_assert_double_eq_tol(sum / SAMPLES, n / 2, 0.02 * n);
}
END_TEST

START_TEST(test_equal_jitter_is_between_half_and_full_nominal)
{
	struct retry_policy	p;
	struct retry_rng_state	st;
	struct retry_rng	rng = retry_rng_seeded(&st, 2);
	double			d, n, sum = 0;
	unsigned		i;

	retry_policy_init(&p);
	p.jitter_mode = RETRY_JITTER_EQUAL;
	n = retry_nominal_delay(&p, 4);
	for (i = 0; i < SAMPLES; i++) {
		d = retry_delay(&p, 4, 0, &rng);
		CHECK_SAMPLE(d >= n / 2 && d <= n, "%f outside [%f, %f]", d,
		    n / 2, n);
		sum += d;
	}
	ck_assert_double_eq_tol(sum / SAMPLES, n * 0.75, 0.02 * n);
}
END_TEST

START_TEST(test_decorrelated_jitter_grows_from_previous_delay)
{
	struct retry_policy	p;
	struct retry_rng_state	st;
	struct retry_rng	rng = retry_rng_seeded(&st, 3);
	double			d, prev = 0, hi;
	double			u;
	struct retry_rng	fixed = fixed_rng(&u);
	unsigned		i;

	retry_policy_init(&p);
	p.jitter_mode = RETRY_JITTER_DECORRELATED;

	/* No previous delay: [initial, 3 * initial]. */
	u = 0;
	ck_assert_double_eq(retry_delay(&p, 0, 0, &fixed), 1);
	u = 0.5;
	ck_assert_double_eq(retry_delay(&p, 0, 0, &fixed), 2);
	u = 0.5;
	ck_assert_double_eq(retry_delay(&p, 9, 10, &fixed), 15.5);
	/* Capped at max_delay. */
	u = 0.99;
	ck_assert_double_eq(retry_delay(&p, 0, 100, &fixed), 60);

	for (i = 0; i < SAMPLES; i++) {
		d = retry_delay(&p, i, prev, &rng);
		hi = 3 * (prev > 0 ? prev : p.initial_delay);
		CHECK_SAMPLE(d >= p.initial_delay && d <= hi &&
		    d <= p.max_delay, "%f outside [%f, min(%f, %f)]", d,
		    p.initial_delay, hi, p.max_delay);
		prev = d;
	}
}
END_TEST

START_TEST(test_seeded_rng_is_deterministic_and_in_range)
{
	struct retry_rng_state	s1, s2, s3;
	struct retry_rng	a = retry_rng_seeded(&s1, 99);
	struct retry_rng	b = retry_rng_seeded(&s2, 99);
	struct retry_rng	c = retry_rng_seeded(&s3, 100);
	double			x, y, sum = 0;
	unsigned		i, same = 0;

	for (i = 0; i < SAMPLES; i++) {
		x = a.uniform(a.arg);
		y = b.uniform(b.arg);
		CHECK_SAMPLE(x == y, "same seed, different values");
		CHECK_SAMPLE(x >= 0 && x < 1, "%f outside [0,1)", x);
		if (c.uniform(c.arg) == x)
			same++;
		sum += x;
	}
	ck_assert_uint_lt(same, 10);
	ck_assert_double_eq_tol(sum / SAMPLES, 0.5, 0.02);
}
END_TEST

START_TEST(test_default_rng_is_in_range)
{
	struct retry_rng_state	st;
	struct retry_rng	rng = retry_rng_default(&st);
	double			x, first;
	unsigned		i, same = 0;

	ck_assert_ptr_eq(rng.arg, &st);
	first = rng.uniform(rng.arg);
	for (i = 0; i < 1000; i++) {
		x = rng.uniform(rng.arg);
		CHECK_SAMPLE(x >= 0 && x < 1, "%f outside [0,1)", x);
		if (x == first)
			same++;
	}
	ck_assert_uint_lt(same, 2);
}
END_TEST

START_TEST(test_validate_accepts_defaults)
{
	struct retry_policy	p;
	const char		*reason = NULL;

	retry_policy_init(&p);
	ck_assert(retry_policy_validate(&p, &reason));
	ck_assert_ptr_null(reason);
	ck_assert(retry_policy_validate(&p, NULL));
	p.max_retries = 0;
	p.initial_delay = 0;
	p.max_delay = 0;
	p.backoff_factor = 1;
	p.jitter_factor = 1;
	ck_assert(retry_policy_validate(&p, &reason));
}
END_TEST

/* Each case breaks one field; the reason must name it. */
struct bad_case {
	const char	*field;
	int		 which;
	double		 value;
};

static const struct bad_case bad_cases[] = {
	{ "max_retries", 0, -1 },
	{ "initial_delay", 1, -0.5 },
	{ "initial_delay", 1, NAN },
	{ "initial_delay", 1, INFINITY },
	{ "max_delay", 2, 0.5 },
	{ "max_delay", 2, INFINITY },
	{ "backoff_factor", 3, 0.99 },
	{ "backoff_factor", 3, NAN },
	{ "jitter_factor", 4, -0.1 },
	{ "jitter_factor", 4, 1.5 },
	{ "jitter_factor", 4, NAN },
	{ "attempt_timeout", 5, -1 },
	{ "attempt_timeout", 5, NAN },
	{ "deadline", 6, -1 },
	{ "deadline", 6, INFINITY },
	{ "jitter_mode", 7, 42 },
};

START_TEST(test_validate_rejects_each_bad_field)
{
	const struct bad_case	*c = &bad_cases[_i];
	struct retry_policy	 p;
	const char		*reason = NULL;

	retry_policy_init(&p);
	switch (c->which) {
	case 0: p.max_retries = (int)c->value; break;
	case 1: p.initial_delay = c->value; break;
	case 2: p.max_delay = c->value; break;
	case 3: p.backoff_factor = c->value; break;
	case 4: p.jitter_factor = c->value; break;
	case 5: p.attempt_timeout = c->value; break;
	case 6: p.deadline = c->value; break;
	case 7: p.jitter_mode = (enum retry_jitter_mode)(int)c->value; break;
	}
	ck_assert(!retry_policy_validate(&p, &reason));
	ck_assert(!retry_policy_validate(&p, NULL));
	ck_assert_ptr_nonnull(reason);
	ck_assert_msg(strstr(reason, c->field) != NULL,
	    "reason \"%s\" does not name %s", reason, c->field);
}
END_TEST

START_TEST(test_jitter_mode_names_round_trip)
{
	enum retry_jitter_mode	m, out;

	for (m = RETRY_JITTER_PROPORTIONAL; m <= RETRY_JITTER_DECORRELATED;
	    m++) {
		ck_assert_int_eq(retry_jitter_mode_parse(
		    retry_jitter_mode_name(m), &out), 0);
		ck_assert_int_eq(out, m);
	}
	ck_assert_str_eq(retry_jitter_mode_name(RETRY_JITTER_FULL), "full");
	ck_assert_str_eq(retry_jitter_mode_name(RETRY_JITTER_EQUAL), "equal");
	ck_assert_str_eq(retry_jitter_mode_name(RETRY_JITTER_PROPORTIONAL),
	    "proportional");
	ck_assert_str_eq(retry_jitter_mode_name(RETRY_JITTER_DECORRELATED),
	    "decorrelated");
	ck_assert_str_eq(retry_jitter_mode_name((enum retry_jitter_mode)9),
	    "unknown");
	out = RETRY_JITTER_EQUAL;
	ck_assert_int_eq(retry_jitter_mode_parse("Full", &out), -1);
	ck_assert_int_eq(retry_jitter_mode_parse("", &out), -1);
	ck_assert_int_eq(retry_jitter_mode_parse(NULL, &out), -1);
	ck_assert_int_eq(out, RETRY_JITTER_EQUAL);
}
END_TEST

START_TEST(test_stats_count_attempts_failures_and_retries)
{
	struct retry_stats	s;

	memset(&s, 0x5a, sizeof s);
	retry_stats_reset(&s);
	ck_assert_uint_eq(s.attempts, 0);
	ck_assert_str_eq(s.last_error, "");

	retry_stats_attempt(&s);
	retry_stats_failure(&s, "connection refused", 1000.5);
	retry_stats_retry(&s, 1.25);
	retry_stats_attempt(&s);
	retry_stats_failure(&s, "timeout", 1002.0);
	retry_stats_retry(&s, 2.5);
	ck_assert_uint_eq(s.consecutive_failures, 2);
	retry_stats_attempt(&s);
	retry_stats_success(&s);

	ck_assert_uint_eq(s.attempts, 3);
	ck_assert_uint_eq(s.failures, 2);
	ck_assert_uint_eq(s.successes, 1);
	ck_assert_uint_eq(s.retries, 2);
	ck_assert_double_eq(s.total_delay, 3.75);
	ck_assert_uint_eq(s.consecutive_failures, 0);
	ck_assert_str_eq(s.last_error, "timeout");
	ck_assert_double_eq(s.last_error_time, 1002.0);

	retry_stats_failure(&s, NULL, 1003.0);
	ck_assert_str_eq(s.last_error, "");
	ck_assert_uint_eq(s.consecutive_failures, 1);

	retry_stats_reset(&s);
	ck_assert_uint_eq(s.attempts + s.failures + s.successes + s.retries +
	    s.consecutive_failures, 0);
	ck_assert_double_eq(s.total_delay, 0);
}
END_TEST

START_TEST(test_stats_truncate_long_error)
{
	struct retry_stats	s;
	char			big[1000];

	retry_stats_reset(&s);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	retry_stats_failure(&s, big, 1);
	ck_assert_uint_eq(strlen(s.last_error), RETRY_STATS_ERROR_MAX - 1);
}
END_TEST

START_TEST(test_stats_table_creates_entries_on_first_use)
{
	struct retry_stats_table	 t;
	struct retry_stats		*a, *b;

	retry_stats_table_init(&t);
	ck_assert_uint_eq(t.count, 0);
	ck_assert_ptr_null(retry_stats_table_find(&t, "connect"));

	a = retry_stats_table_get(&t, "connect");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->attempts, 0);
	retry_stats_attempt(a);
	ck_assert_ptr_eq(retry_stats_table_get(&t, "connect"), a);
	ck_assert_ptr_eq(retry_stats_table_find(&t, "connect"), a);

	b = retry_stats_table_get(&t, "execute_tool");
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(t.count, 2);
	ck_assert_str_eq(t.entries[0].name, "connect");
	ck_assert_str_eq(t.entries[1].name, "execute_tool");
	ck_assert_uint_eq(t.entries[0].stats.attempts, 1);
	ck_assert_uint_eq(b->attempts, 0);
}
END_TEST

START_TEST(test_stats_table_refuses_bad_names_and_overflow)
{
	struct retry_stats_table	 t;
	char				 name[64];
	unsigned			 i;

	retry_stats_table_init(&t);
	ck_assert_ptr_null(retry_stats_table_get(&t, ""));
	ck_assert_ptr_null(retry_stats_table_get(&t, NULL));
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	ck_assert_ptr_null(retry_stats_table_get(&t, name));
	name[RETRY_STATS_NAME_MAX - 1] = '\0';
	ck_assert_ptr_nonnull(retry_stats_table_get(&t, name));
	retry_stats_table_init(&t);

	for (i = 0; i < RETRY_STATS_TABLE_MAX; i++) {
		snprintf(name, sizeof name, "op%u", i);
		ck_assert_ptr_nonnull(retry_stats_table_get(&t, name));
	}
	ck_assert_ptr_null(retry_stats_table_get(&t, "one_too_many"));
	/* Existing names still resolve when full. */
	ck_assert_ptr_eq(retry_stats_table_get(&t, "op3"),
	    &t.entries[3].stats);
}
END_TEST

START_TEST(test_stats_table_reset_keeps_names)
{
	struct retry_stats_table	 t;
	struct retry_stats		*s;

	retry_stats_table_init(&t);
	s = retry_stats_table_get(&t, "list_tools");
	retry_stats_attempt(s);
	retry_stats_failure(s, "boom", 5);
	retry_stats_table_reset(&t);
	ck_assert_uint_eq(t.count, 1);
	ck_assert_ptr_eq(retry_stats_table_find(&t, "list_tools"), s);
	ck_assert_uint_eq(s->attempts, 0);
	ck_assert_uint_eq(s->failures, 0);
	ck_assert_str_eq(s->last_error, "");
}
END_TEST

static Suite *
retry_suite(void)
{
	Suite	*s = suite_create("retry");
	TCase	*tc;

	tc = tcase_create("policy");
	tcase_add_test(tc, test_policy_defaults_match_design);
	tcase_add_test(tc, test_validate_accepts_defaults);
	tcase_add_loop_test(tc, test_validate_rejects_each_bad_field, 0,
	    sizeof bad_cases / sizeof bad_cases[0]);
	tcase_add_test(tc, test_jitter_mode_names_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("delay");
	tcase_add_test(tc, test_nominal_delays_double_from_initial_delay);
	tcase_add_test(tc, test_delay_is_capped_at_max_delay);
	tcase_add_test(tc, test_huge_attempt_gives_exactly_max_delay);
	tcase_add_test(tc, test_factor_one_gives_constant_delay);
	tcase_add_test(tc, test_zero_initial_delay_gives_zero);
	tcase_add_test(tc, test_jitter_off_returns_nominal_in_every_mode);
	tcase_add_test(tc,
	    test_proportional_jitter_stays_in_band_and_averages_nominal);
	tcase_add_test(tc, test_proportional_jitter_extremes_are_exact);
	tcase_add_test(tc, test_proportional_jitter_never_negative);
	tcase_add_test(tc, test_full_jitter_is_between_zero_and_nominal);
	tcase_add_test(tc, test_equal_jitter_is_between_half_and_full_nominal);
	tcase_add_test(tc, test_decorrelated_jitter_grows_from_previous_delay);
	suite_add_tcase(s, tc);

	tc = tcase_create("rng");
	tcase_add_test(tc, test_seeded_rng_is_deterministic_and_in_range);
	tcase_add_test(tc, test_default_rng_is_in_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("stats");
	tcase_add_test(tc, test_stats_count_attempts_failures_and_retries);
	tcase_add_test(tc, test_stats_truncate_long_error);
	tcase_add_test(tc, test_stats_table_creates_entries_on_first_use);
	tcase_add_test(tc, test_stats_table_refuses_bad_names_and_overflow);
	tcase_add_test(tc, test_stats_table_reset_keeps_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(retry_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
