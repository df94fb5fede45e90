/*
 * The asynchronous retry runner (the design's retry_async / with_retries):
 * runs an operation on a libevent loop, retrying retriable failures with the
 * backoff of a struct retry_policy, under per-attempt and overall time limits.
 */
#ifndef MCPRELAY_RETRY_RUN_H
#define MCPRELAY_RETRY_RUN_H

#include <stdbool.h>

#include "retry.h"

struct event_base;
struct retry_run;

/* What one attempt reports. */
enum retry_result {
	RETRY_RESULT_OK = 0,
	RETRY_RESULT_RETRIABLE,		/* try again after a delay */
	RETRY_RESULT_FATAL,		/* retrying cannot help */
};

/* Why a run ended. */
enum retry_end {
	RETRY_END_OK = 0,
	RETRY_END_FATAL,		/* an attempt reported FATAL */
	RETRY_END_EXHAUSTED,		/* max_retries + 1 attempts failed */
	RETRY_END_DEADLINE,		/* the overall deadline stopped it */
};

struct retry_outcome {
	bool		 ok;
	enum retry_end	 end;
	/*
	 * The last attempt's error ("attempt timed out" for a timeout,
	 * "deadline exceeded" when the deadline cut an attempt short); NULL
	 * when ok.  Valid only during the done callback.
	 */
	const char	*error;
	unsigned	 attempts;	/* attempts started, >= 1 */
};

/*
 * attempt counts from 1 (the first try) to max_retries + 1, and is the
 * number used in logs and retry_run_report_attempt().
 */
typedef void	(*retry_start_fn)(struct retry_run *run, unsigned attempt,
		    void *arg);
typedef void	(*retry_abort_fn)(struct retry_run *run, unsigned attempt,
		    void *arg);
typedef void	(*retry_done_fn)(const struct retry_outcome *outcome,
		    void *arg);

struct retry_run_params {
	const char		*name;		/* copied; NULL: "retry" */
	struct retry_policy	 policy;	/* copied; validated at start */

	retry_start_fn		 start;		/* required */
	retry_abort_fn		 abort;		/* optional */
	retry_done_fn		 done;		/* required */
	void			*arg;		/* passed to the three above */

	/* Optional, not owned, must outlive the run. */
	struct retry_stats	*stats;
	/*
	 * Optional, copied; rng->arg must outlive the run.  NULL: a generator
	 * seeded from getrandom(), owned by the run.
	 */
	const struct retry_rng	*rng;
	/* Optional monotonic clock in seconds; NULL: CLOCK_MONOTONIC. */
	double			(*now)(void *now_arg);
	void			*now_arg;
	/* Optional wall clock for retry_stats; NULL: CLOCK_REALTIME. */
	double			(*wallclock)(void *now_arg);
};

/* Zeroes *params and sets the policy to retry_policy_init()'s defaults. */
void		 retry_run_params_init(struct retry_run_params *params);

/*
 * Starts a run: the first attempt starts from the loop on its next
 * iteration (never inside this call), so the caller can store the returned
 * pointer before any callback runs.  NULL (with *reason set if reason is not
 * NULL) when the policy is invalid or start/done is missing.
 *
 * The run then goes:
 *  - start(run, attempt, arg) begins an attempt; the operation reports its
 *    result with retry_run_report(), later from the loop or synchronously
 *    from inside start() (then it is acted on once start() returns).
 *  - OK ends the run; FATAL ends it; RETRIABLE schedules the next attempt
 *    after retry_delay(), unless that was attempt max_retries + 1
 *    (EXHAUSTED) or now + delay would reach the deadline (DEADLINE).
 *  - if policy.attempt_timeout > 0 and no report comes in time, or the
 *    deadline passes while an attempt is in flight, the runner calls
 *    abort(run, attempt, arg) (if set) so the operation drops its in-flight
 *    work, then treats the attempt as a RETRIABLE failure "attempt timed
 *    out" (or ends the run with "deadline exceeded").
 *  - done(outcome, arg) is called exactly once, unless the run is
 *    cancelled first; the run is freed when done() returns.
 *
 * Every attempt, success, failure and retry is counted in params->stats,
 * and every retry is logged at info:
 *   "<name>: attempt N failed (<reason>); retrying in 1.23s (attempt N+1 of M)"
 *
 * Lifetime: the run pointer is valid from retry_run_start() until done()
 * returns or retry_run_cancel() is called.  Never use it afterwards.  A
 * report that ends the run frees it before retry_run_report() returns.
 */
struct retry_run *retry_run_start(struct event_base *base,
		    const struct retry_run_params *params, const char **reason);

/*
 * Reports the outcome of the attempt in flight.  error (copied) describes a
 * failure and may be NULL.  A report when no attempt is in flight (the
 * attempt timed out and the run is waiting to retry, or a second report) is
 * ignored.  An operation that cannot stop a timed-out attempt's work in
 * abort() must use retry_run_report_attempt() so its late report is not
 * mistaken for the next attempt's, and must not report after the run ended.
 */
void		 retry_run_report(struct retry_run *run,
		    enum retry_result result, const char *error);
/* As above, but ignored unless attempt is the attempt in flight. */
void		 retry_run_report_attempt(struct retry_run *run,
		    unsigned attempt, enum retry_result result,
		    const char *error);

/*
 * Stops the run: no callback of any kind (not even abort) runs afterwards,
 * the timer is freed and so is the run, at once or, when called from inside
 * one of the run's callbacks, as soon as that callback returns.  The caller
 * drops any in-flight work of the operation itself.  NULL is a no-op; so is
 * calling it from done().
 */
void		 retry_run_cancel(struct retry_run *run);

/* The attempt in flight or last started (0 before the first). */
unsigned	 retry_run_attempt(const struct retry_run *run);

const char	*retry_end_name(enum retry_end end);
const char	*retry_result_name(enum retry_result result);

#endif
