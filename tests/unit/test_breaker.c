/*
 * Unit tests for common/breaker.c: scripted timelines (time is just a
 * number passed in) through closed, open and half-open, and the hook.
 */
#include "autoconf.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"

#define MAX_TRANSITIONS	32

struct transitions {
	unsigned		n;
	enum breaker_state	from[MAX_TRANSITIONS];
	enum breaker_state	to[MAX_TRANSITIONS];
};

static void
record_transition_cb(void *arg, enum breaker_state from, enum breaker_state to)
{
	struct transitions	*t = arg;

	ck_assert_uint_lt(t->n, MAX_TRANSITIONS);
	t->from[t->n] = from;
	t->to[t->n] = to;
	t->n++;
}

/* threshold 3, open 10 s, max 35 s, 1 probe. */
static void
small_breaker(struct breaker *b)
{
	struct breaker_config	cfg;

	breaker_config_init(&cfg);
	cfg.failure_threshold = 3;
	cfg.open_duration = 10;
	cfg.max_open_duration = 35;
	ck_assert_int_eq(breaker_init(b, &cfg), 0);
}

/* Fails enough times at `now` to open a closed breaker. */
static void
trip(struct breaker *b, double now)
{
	unsigned	i;

	for (i = 0; i < b->cfg.failure_threshold; i++) {
		ck_assert(breaker_allow(b, now));
		breaker_failure(b, now);
	}
	ck_assert_int_eq(breaker_state(b, now), BREAKER_OPEN);
}

START_TEST(test_config_defaults_match_design)
{
	struct breaker_config	cfg;

	memset(&cfg, 0xff, sizeof cfg);
	breaker_config_init(&cfg);
	ck_assert_uint_eq(cfg.failure_threshold, 5);
	ck_assert_double_eq(cfg.open_duration, 30);
	ck_assert_double_eq(cfg.max_open_duration, 300);
	ck_assert_uint_eq(cfg.half_open_requests, 1);
	ck_assert(breaker_config_validate(&cfg, NULL));
}
END_TEST

START_TEST(test_config_validate_rejects_bad_fields)
{
	struct breaker_config	cfg;
	const char		*reason;

#define REJECT(field, value) do {					\
	breaker_config_init(&cfg);					\
	cfg.field = value;						\
	reason = NULL;							\
	ck_assert(!breaker_config_validate(&cfg, &reason));		\
	ck_assert_ptr_nonnull(reason);					\
	ck_assert_msg(strstr(reason, #field) != NULL, "%s", reason);	\
} while (0)
	REJECT(failure_threshold, 0);
	REJECT(open_duration, 0);
	REJECT(open_duration, -1);
	REJECT(open_duration, NAN);
	REJECT(open_duration, INFINITY);
	REJECT(max_open_duration, 29);
	REJECT(max_open_duration, NAN);
	REJECT(max_open_duration, INFINITY);
	REJECT(half_open_requests, 0);
#undef REJECT
}
END_TEST

START_TEST(test_invalid_config_gives_no_breaker)
{
	struct breaker_config	cfg;
	struct breaker		b;

	breaker_config_init(&cfg);
	cfg.failure_threshold = 0;
	ck_assert_ptr_null(breaker_new(&cfg));
	ck_assert_int_eq(breaker_init(&b, &cfg), -1);
	breaker_free(NULL);
}
END_TEST

START_TEST(test_new_with_null_config_uses_defaults)
{
	struct breaker	*b;
	unsigned	 i;

	b = breaker_new(NULL);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(breaker_state(b, 0), BREAKER_CLOSED);
	for (i = 0; i < 4; i++)
		breaker_failure(b, 1);
	ck_assert_int_eq(breaker_state(b, 1), BREAKER_CLOSED);
	breaker_failure(b, 1);
	ck_assert_int_eq(breaker_state(b, 1), BREAKER_OPEN);
	ck_assert_double_eq(breaker_retry_after(b, 1), 30);
	breaker_free(b);
}
END_TEST

START_TEST(test_state_names)
{
	ck_assert_str_eq(breaker_state_name(BREAKER_CLOSED), "closed");
	ck_assert_str_eq(breaker_state_name(BREAKER_OPEN), "open");
	ck_assert_str_eq(breaker_state_name(BREAKER_HALF_OPEN), "half-open");
	ck_assert_str_eq(breaker_state_name((enum breaker_state)7), "unknown");
}
END_TEST

START_TEST(test_opens_at_threshold_of_consecutive_failures)
{
	struct breaker	b;

	small_breaker(&b);
	ck_assert(breaker_allow(&b, 0));
	breaker_failure(&b, 0);
	breaker_failure(&b, 1);
	ck_assert_uint_eq(breaker_consecutive_failures(&b), 2);
	/* A success in between resets the count. */
	breaker_success(&b, 2);
	ck_assert_uint_eq(breaker_consecutive_failures(&b), 0);
	breaker_failure(&b, 3);
	breaker_failure(&b, 4);
	ck_assert_int_eq(breaker_state(&b, 4), BREAKER_CLOSED);
	ck_assert_double_eq(breaker_retry_after(&b, 4), 0);
	ck_assert_uint_eq(breaker_times_opened(&b), 0);
	breaker_failure(&b, 5);
	ck_assert_int_eq(breaker_state(&b, 5), BREAKER_OPEN);
	ck_assert_uint_eq(breaker_times_opened(&b), 1);
	ck_assert_uint_eq(breaker_consecutive_failures(&b), 3);
	ck_assert_double_eq(breaker_open_duration(&b), 10);
}
END_TEST

START_TEST(test_refuses_while_open)
{
	struct breaker	b;

	small_breaker(&b);
	trip(&b, 100);
	ck_assert(!breaker_allow(&b, 100));
	ck_assert(!breaker_allow(&b, 105));
	ck_assert(!breaker_allow(&b, 109.999));
	ck_assert_int_eq(breaker_state(&b, 109.999), BREAKER_OPEN);
	ck_assert_double_eq(breaker_retry_after(&b, 100), 10);
	ck_assert_double_eq(breaker_retry_after(&b, 104), 6);
	/* Late outcomes of requests sent before it opened change nothing. */
	breaker_success(&b, 106);
	breaker_failure(&b, 107);
	ck_assert_int_eq(breaker_state(&b, 107), BREAKER_OPEN);
	ck_assert_double_eq(breaker_retry_after(&b, 107), 3);
	ck_assert_uint_eq(breaker_times_opened(&b), 1);
}
END_TEST

START_TEST(test_half_open_after_open_duration)
{
	struct breaker	b;

	small_breaker(&b);
	trip(&b, 100);
	ck_assert_int_eq(breaker_state(&b, 110), BREAKER_HALF_OPEN);
	ck_assert_double_eq(breaker_retry_after(&b, 110), 0);
	ck_assert(breaker_allow(&b, 110));
}
END_TEST

START_TEST(test_probe_success_closes)
{
	struct breaker	b;

	small_breaker(&b);
	trip(&b, 100);
	ck_assert(breaker_allow(&b, 112));
	ck_assert_int_eq(breaker_state(&b, 112), BREAKER_HALF_OPEN);
	breaker_success(&b, 113);
	ck_assert_int_eq(breaker_state(&b, 113), BREAKER_CLOSED);
	ck_assert(breaker_allow(&b, 113));
	ck_assert(breaker_allow(&b, 113));
	ck_assert_uint_eq(breaker_consecutive_failures(&b), 0);
	ck_assert_double_eq(breaker_retry_after(&b, 113), 0);
	/* It takes a full threshold again to re-open. */
	breaker_failure(&b, 114);
	breaker_failure(&b, 114);
	ck_assert_int_eq(breaker_state(&b, 114), BREAKER_CLOSED);
}
END_TEST

START_TEST(test_probe_failure_reopens_with_doubled_duration_capped)
{
	struct breaker	b;
	double		t = 0;

	small_breaker(&b);
	trip(&b, t);
	ck_assert_double_eq(breaker_open_duration(&b), 10);

	t += 10;			/* 10: probe fails, open 20 s */
	ck_assert(breaker_allow(&b, t));
	breaker_failure(&b, t);
	ck_assert_int_eq(breaker_state(&b, t), BREAKER_OPEN);
	ck_assert_double_eq(breaker_open_duration(&b), 20);
	ck_assert_double_eq(breaker_retry_after(&b, t), 20);
	ck_assert(!breaker_allow(&b, t + 19.5));

	t += 20;			/* 30: probe fails, open 35 s (cap) */
	ck_assert(breaker_allow(&b, t));
	breaker_failure(&b, t);
	ck_assert_double_eq(breaker_open_duration(&b), 35);
	ck_assert_double_eq(breaker_retry_after(&b, t), 35);

	t += 35;			/* 65: probe fails, stays at the cap */
	ck_assert(breaker_allow(&b, t));
	breaker_failure(&b, t);
	ck_assert_double_eq(breaker_open_duration(&b), 35);
	ck_assert_uint_eq(breaker_times_opened(&b), 4);

	t += 35;			/* 100: probe succeeds, back to base */
	ck_assert(breaker_allow(&b, t));
	breaker_success(&b, t);
	ck_assert_int_eq(breaker_state(&b, t), BREAKER_CLOSED);
	ck_assert_double_eq(breaker_open_duration(&b), 10);
	trip(&b, t);
	ck_assert_double_eq(breaker_retry_after(&b, t), 10);
}
END_TEST

START_TEST(test_half_open_lets_limited_probes_through)
{
	struct breaker_config	cfg;
	struct breaker		b;

	breaker_config_init(&cfg);
	cfg.failure_threshold = 1;
	cfg.open_duration = 10;
	cfg.half_open_requests = 2;
	ck_assert_int_eq(breaker_init(&b, &cfg), 0);
	breaker_failure(&b, 0);
	ck_assert(!breaker_allow(&b, 5));
	ck_assert(breaker_allow(&b, 10));
	ck_assert_double_eq(breaker_retry_after(&b, 10), 0);
	ck_assert(breaker_allow(&b, 11));
	ck_assert(!breaker_allow(&b, 11));
	ck_assert(!breaker_allow(&b, 12));
	ck_assert_int_eq(breaker_state(&b, 12), BREAKER_HALF_OPEN);
	/* Both slots taken: the next set is due 10 s after the first probe. */
	ck_assert_double_eq(breaker_retry_after(&b, 12), 8);
	breaker_success(&b, 13);
	ck_assert_int_eq(breaker_state(&b, 13), BREAKER_CLOSED);
}
END_TEST

START_TEST(test_lost_probes_do_not_wedge_half_open)
{
	struct breaker	b;

	small_breaker(&b);
	trip(&b, 0);
	ck_assert(breaker_allow(&b, 15));	/* probe never reports */
	ck_assert(!breaker_allow(&b, 20));
	ck_assert(!breaker_allow(&b, 24.9));
	ck_assert_double_eq(breaker_retry_after(&b, 20), 5);
	ck_assert(breaker_allow(&b, 25));
	ck_assert(!breaker_allow(&b, 25));
	ck_assert_int_eq(breaker_state(&b, 25), BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(test_transition_hook_sees_changes_in_order)
{
	struct breaker		b;
	struct transitions	t;
	static const enum breaker_state want[][2] = {
		{ BREAKER_CLOSED, BREAKER_OPEN },
		{ BREAKER_OPEN, BREAKER_HALF_OPEN },
		{ BREAKER_HALF_OPEN, BREAKER_OPEN },
		{ BREAKER_OPEN, BREAKER_HALF_OPEN },
		{ BREAKER_HALF_OPEN, BREAKER_CLOSED },
		{ BREAKER_CLOSED, BREAKER_OPEN },
		{ BREAKER_OPEN, BREAKER_CLOSED },
	};
	unsigned		i;

	memset(&t, 0, sizeof t);
	small_breaker(&b);
	breaker_set_transition_hook(&b, record_transition_cb, &t);
	trip(&b, 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert(!breaker_allow(&b, 5));
	ck_assert_uint_eq(t.n, 1);
	ck_assert(breaker_allow(&b, 10));
	breaker_failure(&b, 10);
	/* Only time moves OPEN to HALF_OPEN, and only once. */
	ck_assert_int_eq(breaker_state(&b, 30), BREAKER_HALF_OPEN);
	ck_assert_int_eq(breaker_state(&b, 31), BREAKER_HALF_OPEN);
	ck_assert(breaker_allow(&b, 31));
	breaker_success(&b, 32);
	breaker_success(&b, 33);
	trip(&b, 40);
	breaker_reset(&b, 41);
	breaker_reset(&b, 42);

	ck_assert_uint_eq(t.n, sizeof want / sizeof want[0]);
	for (i = 0; i < t.n; i++) {
		ck_assert_msg(t.from[i] == want[i][0] && t.to[i] == want[i][1],
		    "transition %u: %s -> %s", i, breaker_state_name(t.from[i]),
		    breaker_state_name(t.to[i]));
	}

	breaker_set_transition_hook(&b, NULL, NULL);
	trip(&b, 50);
	ck_assert_uint_eq(t.n, sizeof want / sizeof want[0]);
}
END_TEST

START_TEST(test_reset_closes_with_base_duration)
{
	struct breaker	b;

	small_breaker(&b);
	trip(&b, 0);
	ck_assert(breaker_allow(&b, 10));
	breaker_failure(&b, 10);
	ck_assert_double_eq(breaker_open_duration(&b), 20);
	breaker_reset(&b, 11);
	ck_assert_int_eq(breaker_state(&b, 11), BREAKER_CLOSED);
	ck_assert_double_eq(breaker_open_duration(&b), 10);
	ck_assert_uint_eq(breaker_consecutive_failures(&b), 0);
	ck_assert_uint_eq(breaker_times_opened(&b), 2);
}
END_TEST

static Suite *
breaker_suite(void)
{
	Suite	*s = suite_create("breaker");
	TCase	*tc;

	tc = tcase_create("config");
	tcase_add_test(tc, test_config_defaults_match_design);
	tcase_add_test(tc, test_config_validate_rejects_bad_fields);
	tcase_add_test(tc, test_invalid_config_gives_no_breaker);
	tcase_add_test(tc, test_new_with_null_config_uses_defaults);
	tcase_add_test(tc, test_state_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeline");
	tcase_add_test(tc, test_opens_at_threshold_of_consecutive_failures);
	tcase_add_test(tc, test_refuses_while_open);
	tcase_add_test(tc, test_half_open_after_open_duration);
	tcase_add_test(tc, test_probe_success_closes);
	tcase_add_test(tc,
	    test_probe_failure_reopens_with_doubled_duration_capped);
	tcase_add_test(tc, test_half_open_lets_limited_probes_through);
	tcase_add_test(tc, test_lost_probes_do_not_wedge_half_open);
	tcase_add_test(tc, test_transition_hook_sees_changes_in_order);
	tcase_add_test(tc, test_reset_closes_with_base_duration);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(breaker_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
