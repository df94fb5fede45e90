/*
 * Unit tests for common/retry-run.c: a scripted operation on a real
 * event_base with millisecond delays (jitter off), and an injected clock
 * where the deadline logic needs one.
 */
#include "autoconf.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "retry-run.h"

#define MAX_SCRIPT	8

/*
 * A fake operation.  Attempt N reports script[N-1] (the last entry once the
 * script runs out), from a zero-delay timer or, with sync, from inside
 * start().  The other knobs make it misbehave in the ways under test.
 */
struct op {
	struct event_base	*base;
	struct retry_run	*run;
	struct retry_stats	 stats;

	enum retry_result	 script[MAX_SCRIPT];
	unsigned		 nscript;
	bool			 sync;
	bool			 report_twice;
	bool			 no_abort;
	bool			 report_in_abort;
	unsigned		 silent_attempt;	/* never reports */
	unsigned		 cancel_in_start;	/* cancels in start() */
	unsigned		 cancel_at_report;	/* cancels instead */
	bool			 cancel_in_abort;
	bool			 cancel_in_done;
	unsigned		 late_for;	/* late report for attempt */
	double			 late_after;	/* seconds after it started */
	double			 report_after;	/* async report delay */
	double			 cancel_after;	/* cancel from a timer */
	double			 clock;		/* injected monotonic clock */
	double			 clock_step;	/* added by every start() */

	struct event		*report_ev;
	struct event		*late_ev;
	struct event		*cancel_ev;
	unsigned		 report_attempt;

	unsigned		 starts;
	unsigned		 aborts;
	unsigned		 abort_attempt;
	unsigned		 dones;
	bool			 in_start;
	bool			 done_inside_start;
	struct retry_outcome	 outcome;
	char			 error[RETRY_STATS_ERROR_MAX];
};

static void
arm(struct event *ev, double seconds)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	ck_assert_int_eq(evtimer_add(ev, &tv), 0);
}

static enum retry_result
op_result(const struct op *op, unsigned attempt)
{
	if (attempt > op->nscript)
		return op->script[op->nscript - 1];
	return op->script[attempt - 1];
}

static const char *
op_error(unsigned attempt)
{
	static char	buf[64];

	snprintf(buf, sizeof buf, "error in attempt %u", attempt);
	return buf;
}

static void
op_report(struct op *op, unsigned attempt)
{
	enum retry_result	r = op_result(op, attempt);

	retry_run_report(op->run, r,
	    r == RETRY_RESULT_OK ? NULL : op_error(attempt));
}

static void
op_report_cb(evutil_socket_t fd, short events, void *arg)
{
	struct op	*op = arg;

	if (op->cancel_at_report == op->report_attempt) {
		retry_run_cancel(op->run);
		op->run = NULL;
		return;
	}
	op_report(op, op->report_attempt);
}

static void
op_late_cb(evutil_socket_t fd, short events, void *arg)
{
	struct op	*op = arg;

	ck_assert_ptr_nonnull(op->run);
	retry_run_report_attempt(op->run, op->late_for, RETRY_RESULT_OK, NULL);
}

static void
op_cancel_cb(evutil_socket_t fd, short events, void *arg)
{
	struct op	*op = arg;

	ck_assert_ptr_nonnull(op->run);
	retry_run_cancel(op->run);
	op->run = NULL;
	evtimer_del(op->report_ev);
}

static double
op_now(void *arg)
{
	struct op	*op = arg;

	return op->clock;
}

static void
op_start(struct retry_run *run, unsigned attempt, void *arg)
{
	struct op	*op = arg;

	ck_assert_ptr_eq(run, op->run);
	ck_assert_uint_eq(retry_run_attempt(run), attempt);
	op->starts++;
	ck_assert_uint_eq(attempt, op->starts);
	op->clock += op->clock_step;
	op->in_start = true;

	/* A straggler from the timed-out attempt, while this one runs. */
	if (op->late_for != 0 && attempt == op->late_for + 1)
		retry_run_report_attempt(run, op->late_for, RETRY_RESULT_OK,
		    NULL);
	if (op->cancel_in_start == attempt) {
		retry_run_cancel(run);
		op->run = NULL;
	} else if (op->silent_attempt == attempt) {
		if (op->late_for == attempt)
			arm(op->late_ev, op->late_after);
	} else if (op->sync) {
		op_report(op, attempt);
		if (op->report_twice)
			retry_run_report(run, RETRY_RESULT_FATAL, "second");
	} else {
		op->report_attempt = attempt;
		arm(op->report_ev, op->report_after);
	}
	op->in_start = false;
}

static void
op_abort(struct retry_run *run, unsigned attempt, void *arg)
{
	struct op	*op = arg;

	ck_assert_ptr_eq(run, op->run);
	op->aborts++;
	op->abort_attempt = attempt;
	evtimer_del(op->report_ev);
	if (op->report_in_abort)
		retry_run_report(run, RETRY_RESULT_OK, NULL);
	if (op->cancel_in_abort) {
		retry_run_cancel(run);
		op->run = NULL;
	}
}

static void
op_done(const struct retry_outcome *outcome, void *arg)
{
	struct op	*op = arg;

	op->dones++;
	op->done_inside_start = op->in_start;
	op->outcome = *outcome;
	if (outcome->error != NULL) {
		snprintf(op->error, sizeof op->error, "%s", outcome->error);
		op->outcome.error = op->error;
	}
	if (op->cancel_in_done)
		retry_run_cancel(op->run);	/* allowed, does nothing */
	op->run = NULL;
}

static void
op_init(struct op *op, const enum retry_result *script, unsigned n)
{
	memset(op, 0, sizeof *op);
	ck_assert_uint_le(n, MAX_SCRIPT);
	ck_assert_uint_gt(n, 0);
	memcpy(op->script, script, n * sizeof *script);
	op->nscript = n;
	ck_assert_ptr_nonnull(op->base = event_base_new());
	op->report_ev = evtimer_new(op->base, op_report_cb, op);
	op->late_ev = evtimer_new(op->base, op_late_cb, op);
	op->cancel_ev = evtimer_new(op->base, op_cancel_cb, op);
	retry_stats_reset(&op->stats);
}

/* A tiny policy: 1 ms, 2 ms, 4 ms ... no jitter. */
static void
tiny_params(struct retry_run_params *params, struct op *op)
{
	retry_run_params_init(params);
	params->name = "op";
	params->policy.initial_delay = 0.001;
	params->policy.max_delay = 0.004;
	params->policy.jitter = false;
	params->start = op_start;
	params->abort = op_abort;
	params->done = op_done;
	params->arg = op;
	params->stats = &op->stats;
}

static void
op_run(struct op *op, struct retry_run_params *params)
{
	const char	*reason = NULL;

	if (op->no_abort)
		params->abort = NULL;
	op->run = retry_run_start(op->base, params, &reason);
	ck_assert_msg(op->run != NULL, "retry_run_start: %s", reason);
	/* The first attempt waits for the loop. */
	ck_assert_uint_eq(op->starts, 0);
	ck_assert_uint_eq(retry_run_attempt(op->run), 0);
	if (op->cancel_after > 0)
		arm(op->cancel_ev, op->cancel_after);
	/* Returns once nothing is pending: the run must leave no timer. */
	ck_assert_int_eq(event_base_dispatch(op->base), 1);
}

static void
op_finish(struct op *op)
{
	event_free(op->report_ev);
	event_free(op->late_ev);
	event_free(op->cancel_ev);
	event_base_free(op->base);
}

static const enum retry_result fail_fail_ok[] = {
	RETRY_RESULT_RETRIABLE, RETRY_RESULT_RETRIABLE, RETRY_RESULT_OK
};
static const enum retry_result always_fail[] = { RETRY_RESULT_RETRIABLE };

START_TEST(test_succeeds_after_two_retriable_failures)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, fail_fail_ok, 3);
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert(op.outcome.ok);
	ck_assert_int_eq(op.outcome.end, RETRY_END_OK);
	ck_assert_ptr_null(op.outcome.error);
	ck_assert_uint_eq(op.outcome.attempts, 3);
	ck_assert_uint_eq(op.starts, 3);
	ck_assert_uint_eq(op.aborts, 0);

	ck_assert_uint_eq(op.stats.attempts, 3);
	ck_assert_uint_eq(op.stats.retries, 2);
	ck_assert_uint_eq(op.stats.successes, 1);
	ck_assert_uint_eq(op.stats.failures, 2);
	ck_assert_uint_eq(op.stats.consecutive_failures, 0);
	ck_assert_double_eq_tol(op.stats.total_delay, 0.003, 1e-12);
	ck_assert_str_eq(op.stats.last_error, "error in attempt 2");
	ck_assert(op.stats.last_error_time > 1e9);	/* wall clock */
	op_finish(&op);
}
END_TEST

START_TEST(test_fatal_error_stops_at_once)
{
	static const enum retry_result script[] = {
		RETRY_RESULT_RETRIABLE, RETRY_RESULT_FATAL, RETRY_RESULT_OK
	};
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, script, 3);
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert(!op.outcome.ok);
	ck_assert_int_eq(op.outcome.end, RETRY_END_FATAL);
	ck_assert_str_eq(op.outcome.error, "error in attempt 2");
	ck_assert_uint_eq(op.outcome.attempts, 2);
	ck_assert_uint_eq(op.starts, 2);
	ck_assert_uint_eq(op.stats.retries, 1);
	ck_assert_uint_eq(op.stats.failures, 2);
	ck_assert_uint_eq(op.stats.consecutive_failures, 2);
	op_finish(&op);
}
END_TEST

START_TEST(test_exhausted_retries_give_max_retries_plus_one_attempts)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	ck_assert_int_eq(params.policy.max_retries, 3);
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert(!op.outcome.ok);
	ck_assert_int_eq(op.outcome.end, RETRY_END_EXHAUSTED);
	ck_assert_str_eq(op.outcome.error, "error in attempt 4");
	ck_assert_uint_eq(op.outcome.attempts, 4);
	ck_assert_uint_eq(op.starts, 4);
	ck_assert_uint_eq(op.stats.attempts, 4);
	ck_assert_uint_eq(op.stats.failures, 4);
	ck_assert_uint_eq(op.stats.retries, 3);
	/* 1 ms, 2 ms, then capped at 4 ms. */
	ck_assert_double_eq_tol(op.stats.total_delay, 0.007, 1e-12);
	op_finish(&op);
}
END_TEST

START_TEST(test_zero_max_retries_tries_once)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	params.policy.max_retries = 0;
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert_int_eq(op.outcome.end, RETRY_END_EXHAUSTED);
	ck_assert_uint_eq(op.outcome.attempts, 1);
	ck_assert_uint_eq(op.stats.retries, 0);
	op_finish(&op);
}
END_TEST

START_TEST(test_deadline_stops_retrying_early)
{
	struct op		op;
	struct retry_run_params	params;

	/* Each attempt takes 4 s on the injected clock; deadline 10 s. */
	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	params.policy.max_retries = 10;
	params.policy.deadline = 10;
	params.now = op_now;
	params.now_arg = &op;
	op.clock = 1000;
	op.clock_step = 4;
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert_int_eq(op.outcome.end, RETRY_END_DEADLINE);
	ck_assert_uint_eq(op.outcome.attempts, 3);
	ck_assert_str_eq(op.outcome.error, "error in attempt 3");
	ck_assert_uint_eq(op.stats.retries, 2);
	op_finish(&op);
}
END_TEST

START_TEST(test_delay_that_would_cross_deadline_ends_run)
{
	struct op		op;
	struct retry_run_params	params;

	/* The first retry would wait 10 s past a 1 s deadline: stop now. */
	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	params.policy.initial_delay = 10;
	params.policy.max_delay = 10;
	params.policy.deadline = 1;
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert_int_eq(op.outcome.end, RETRY_END_DEADLINE);
	ck_assert_uint_eq(op.outcome.attempts, 1);
	ck_assert_str_eq(op.outcome.error, "error in attempt 1");
	ck_assert_uint_eq(op.stats.retries, 0);
	op_finish(&op);
}
END_TEST

START_TEST(test_deadline_cuts_a_hanging_attempt_short)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	op.silent_attempt = 1;
	tiny_params(&params, &op);
	params.policy.deadline = 0.02;
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert_int_eq(op.outcome.end, RETRY_END_DEADLINE);
	ck_assert_str_eq(op.outcome.error, "deadline exceeded");
	ck_assert_uint_eq(op.outcome.attempts, 1);
	ck_assert_uint_eq(op.aborts, 1);
	ck_assert_uint_eq(op.abort_attempt, 1);
	ck_assert_uint_eq(op.stats.failures, 1);
	ck_assert_str_eq(op.stats.last_error, "deadline exceeded");
	op_finish(&op);
}
END_TEST

START_TEST(test_attempt_timeout_fires_and_late_report_is_ignored)
{
	static const enum retry_result script[] = {
		RETRY_RESULT_OK, RETRY_RESULT_FATAL
	};
	struct op		op;
	struct retry_run_params	params;

	/*
	 * Attempt 1 hangs: it times out at 5 ms; its late "OK" comes at
	 * 10 ms, while the run waits 20 ms to retry, and again from inside
	 * attempt 2, which then fails fatally.  Taking either late report
	 * would end the run ok.
	 */
	op_init(&op, script, 2);
	op.silent_attempt = 1;
	op.late_for = 1;
	op.late_after = 0.010;
	op.report_in_abort = true;
	tiny_params(&params, &op);
	params.policy.attempt_timeout = 0.005;
	params.policy.initial_delay = 0.020;
	params.policy.max_delay = 0.020;
	op_run(&op, &params);

	ck_assert_uint_eq(op.aborts, 1);
	ck_assert_uint_eq(op.abort_attempt, 1);
	ck_assert_uint_eq(op.dones, 1);
	ck_assert(!op.outcome.ok);
	ck_assert_int_eq(op.outcome.end, RETRY_END_FATAL);
	ck_assert_str_eq(op.outcome.error, "error in attempt 2");
	ck_assert_uint_eq(op.outcome.attempts, 2);
	ck_assert_uint_eq(op.stats.attempts, 2);
	ck_assert_uint_eq(op.stats.failures, 2);
	ck_assert_uint_eq(op.stats.successes, 0);
	ck_assert_uint_eq(op.stats.retries, 1);
	op_finish(&op);
}
END_TEST

START_TEST(test_attempt_timeout_without_abort_callback)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	op.silent_attempt = 1;
	op.no_abort = true;
	tiny_params(&params, &op);
	params.policy.max_retries = 0;
	params.policy.attempt_timeout = 0.002;
	op_run(&op, &params);

	ck_assert_uint_eq(op.aborts, 0);
	ck_assert_uint_eq(op.dones, 1);
	ck_assert_int_eq(op.outcome.end, RETRY_END_EXHAUSTED);
	ck_assert_str_eq(op.outcome.error, "attempt timed out after 0.002s");
	op_finish(&op);
}
END_TEST

START_TEST(test_synchronous_report_from_start)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, fail_fail_ok, 3);
	op.sync = true;
	op.report_twice = true;		/* the second report is ignored */
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert(!op.done_inside_start);
	ck_assert(op.outcome.ok);
	ck_assert_uint_eq(op.outcome.attempts, 3);
	ck_assert_uint_eq(op.stats.attempts, 3);
	ck_assert_uint_eq(op.stats.retries, 2);
	ck_assert_uint_eq(op.stats.successes, 1);
	ck_assert_str_eq(op.stats.last_error, "error in attempt 2");
	op_finish(&op);
}
END_TEST

START_TEST(test_synchronous_fatal_report_from_start)
{
	static const enum retry_result script[] = { RETRY_RESULT_FATAL };
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, script, 1);
	op.sync = true;
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert(!op.done_inside_start);
	ck_assert_int_eq(op.outcome.end, RETRY_END_FATAL);
	ck_assert_str_eq(op.outcome.error, "error in attempt 1");
	ck_assert_uint_eq(op.outcome.attempts, 1);
	op_finish(&op);
}
END_TEST

START_TEST(test_cancel_in_the_middle_calls_nothing_more)
{
	struct op		op;
	struct retry_run_params	params;

	/* Attempt 2 is in flight when its owner cancels the run. */
	op_init(&op, always_fail, 1);
	op.cancel_at_report = 2;
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.starts, 2);
	ck_assert_uint_eq(op.dones, 0);
	ck_assert_uint_eq(op.aborts, 0);
	ck_assert_uint_eq(op.stats.attempts, 2);
	ck_assert_uint_eq(op.stats.failures, 1);
	ck_assert_uint_eq(op.stats.retries, 1);
	op_finish(&op);
}
END_TEST

START_TEST(test_cancel_while_waiting_to_retry)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	op.cancel_after = 0.005;
	tiny_params(&params, &op);
	params.policy.initial_delay = 10;	/* would wait 10 s */
	params.policy.max_delay = 10;
	op_run(&op, &params);

	ck_assert_uint_eq(op.starts, 1);
	ck_assert_uint_eq(op.dones, 0);
	ck_assert_uint_eq(op.stats.retries, 1);
	op_finish(&op);
}
END_TEST

START_TEST(test_cancel_before_first_attempt)
{
	struct op		op;
	struct retry_run_params	params;
	const char		*reason = NULL;

	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	op.run = retry_run_start(op.base, &params, &reason);
	ck_assert_ptr_nonnull(op.run);
	retry_run_cancel(op.run);
	retry_run_cancel(NULL);
	ck_assert_int_eq(event_base_dispatch(op.base), 1);
	ck_assert_uint_eq(op.starts, 0);
	ck_assert_uint_eq(op.dones, 0);
	op_finish(&op);
}
END_TEST

START_TEST(test_cancel_from_inside_start)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	op.cancel_in_start = 2;
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.starts, 2);
	ck_assert_uint_eq(op.dones, 0);
	ck_assert_uint_eq(op.stats.successes, 0);
	op_finish(&op);
}
END_TEST

START_TEST(test_cancel_from_inside_abort)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, always_fail, 1);
	op.silent_attempt = 1;
	op.cancel_in_abort = true;
	tiny_params(&params, &op);
	params.policy.attempt_timeout = 0.002;
	op_run(&op, &params);

	ck_assert_uint_eq(op.starts, 1);
	ck_assert_uint_eq(op.aborts, 1);
	ck_assert_uint_eq(op.dones, 0);
	op_finish(&op);
}
END_TEST

START_TEST(test_cancel_from_inside_done_is_harmless)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, fail_fail_ok, 3);
	op.cancel_in_done = true;
	tiny_params(&params, &op);
	op_run(&op, &params);

	ck_assert_uint_eq(op.dones, 1);
	ck_assert(op.outcome.ok);
	op_finish(&op);
}
END_TEST

/* u = 0.5 with FULL jitter halves every delay. */
static double
half_uniform(void *arg)
{
	(*(unsigned *)arg)++;
	return 0.5;
}

START_TEST(test_injected_rng_sets_the_delays)
{
	struct op		op;
	struct retry_run_params	params;
	unsigned		draws = 0;
	struct retry_rng	rng = { half_uniform, &draws };

	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	params.policy.jitter = true;
	params.policy.jitter_mode = RETRY_JITTER_FULL;
	params.rng = &rng;
	op_run(&op, &params);

	ck_assert_uint_eq(draws, 3);
	ck_assert_double_eq_tol(op.stats.total_delay, 0.0035, 1e-12);
	op_finish(&op);
}
END_TEST

START_TEST(test_default_rng_with_jitter)
{
	struct op		op;
	struct retry_run_params	params;

	op_init(&op, fail_fail_ok, 3);
	tiny_params(&params, &op);
	params.policy.jitter = true;
	op_run(&op, &params);

	ck_assert(op.outcome.ok);
	ck_assert(op.stats.total_delay >= 0.003 * 0.9 &&
	    op.stats.total_delay <= 0.003 * 1.1);
	op_finish(&op);
}
END_TEST

START_TEST(test_every_retry_is_logged_at_info)
{
	struct op		op;
	struct retry_run_params	params;
	FILE			*f;
	char			 buf[4096];
	size_t			 n;
	int			 saved;

	ck_assert_ptr_nonnull(f = tmpfile());
	saved = dup(STDERR_FILENO);
	ck_assert_int_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	log_set_level(LOG_LEVEL_INFO);

	op_init(&op, fail_fail_ok, 3);
	tiny_params(&params, &op);
	params.name = "upstream fs";
	params.policy.initial_delay = 0.01;
	params.policy.max_delay = 0.1;
	op_run(&op, &params);
	op_finish(&op);

	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_msg(strstr(buf, "info: upstream fs: attempt 1 failed "
	    "(error in attempt 1); retrying in 0.01s (attempt 2 of 4)") != NULL,
	    "log was: %s", buf);
	ck_assert_msg(strstr(buf, "info: upstream fs: attempt 2 failed "
	    "(error in attempt 2); retrying in 0.02s (attempt 3 of 4)") != NULL,
	    "log was: %s", buf);
	ck_assert_ptr_null(strstr(buf, "attempt 3 failed"));
}
END_TEST

START_TEST(test_start_refuses_bad_policy_and_missing_callbacks)
{
	struct op		op;
	struct retry_run_params	params;
	const char		*reason;

	op_init(&op, always_fail, 1);
	tiny_params(&params, &op);
	params.policy.backoff_factor = 0.5;
	reason = NULL;
	ck_assert_ptr_null(retry_run_start(op.base, &params, &reason));
	ck_assert_ptr_nonnull(reason);
	ck_assert_ptr_nonnull(strstr(reason, "backoff_factor"));

	tiny_params(&params, &op);
	params.done = NULL;
	reason = NULL;
	ck_assert_ptr_null(retry_run_start(op.base, &params, &reason));
	ck_assert_ptr_nonnull(reason);

	tiny_params(&params, &op);
	params.start = NULL;
	ck_assert_ptr_null(retry_run_start(op.base, &params, NULL));
	ck_assert_ptr_null(retry_run_start(NULL, &params, NULL));
	op_finish(&op);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(retry_end_name(RETRY_END_OK), "ok");
	ck_assert_str_eq(retry_end_name(RETRY_END_FATAL), "fatal");
	ck_assert_str_eq(retry_end_name(RETRY_END_EXHAUSTED), "exhausted");
	ck_assert_str_eq(retry_end_name(RETRY_END_DEADLINE), "deadline");
	ck_assert_str_eq(retry_end_name((enum retry_end)9), "unknown");
	ck_assert_str_eq(retry_result_name(RETRY_RESULT_RETRIABLE),
	    "retriable");
}
END_TEST

static Suite *
retry_run_suite(void)
{
	Suite	*s = suite_create("retry_run");
	TCase	*tc;

	tc = tcase_create("outcomes");
	tcase_add_test(tc, test_succeeds_after_two_retriable_failures);
	tcase_add_test(tc, test_fatal_error_stops_at_once);
	tcase_add_test(tc,
	    test_exhausted_retries_give_max_retries_plus_one_attempts);
	tcase_add_test(tc, test_zero_max_retries_tries_once);
	tcase_add_test(tc, test_synchronous_report_from_start);
	tcase_add_test(tc, test_synchronous_fatal_report_from_start);
	tcase_add_test(tc, test_injected_rng_sets_the_delays);
	tcase_add_test(tc, test_default_rng_with_jitter);
	tcase_add_test(tc, test_every_retry_is_logged_at_info);
	tcase_add_test(tc, test_start_refuses_bad_policy_and_missing_callbacks);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("time limits");
	tcase_add_test(tc, test_deadline_stops_retrying_early);
	tcase_add_test(tc, test_delay_that_would_cross_deadline_ends_run);
	tcase_add_test(tc, test_deadline_cuts_a_hanging_attempt_short);
	tcase_add_test(tc,
	    test_attempt_timeout_fires_and_late_report_is_ignored);
	tcase_add_test(tc, test_attempt_timeout_without_abort_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_add_test(tc, test_cancel_in_the_middle_calls_nothing_more);
	tcase_add_test(tc, test_cancel_while_waiting_to_retry);
	tcase_add_test(tc, test_cancel_before_first_attempt);
	tcase_add_test(tc, test_cancel_from_inside_start);
	tcase_add_test(tc, test_cancel_from_inside_abort);
	tcase_add_test(tc, test_cancel_from_inside_done_is_harmless);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* Retries are logged at info; keep test output to warnings. */
	log_set_level(LOG_LEVEL_WARN);
	sr = srunner_create(retry_run_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
