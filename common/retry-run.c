/*
 * The asynchronous retry runner: one timer per run drives either the wait
 * before the next attempt or the limit on the attempt in flight; see
 * retry-run.h for the contract with the operation.
 */
#include "autoconf.h"

#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "retry-run.h"
#include "xmalloc.h"

/* Longest timer we arm; keeps the timeval conversion in range. */
#define RETRY_RUN_MAX_TIMER	1e9

enum retry_run_state {
	RETRY_RUN_WAITING = 0,	/* timer starts the next (or first) attempt */
	RETRY_RUN_ATTEMPT,	/* start() called; timer (if armed) = limit */
	RETRY_RUN_ABORTING,	/* attempt given up; abort() running */
	RETRY_RUN_DONE,		/* done() running, or cancelled in a callback */
};

static const char *const retry_run_state_names[] = {
	[RETRY_RUN_WAITING] = "waiting",
	[RETRY_RUN_ATTEMPT] = "attempt",
	[RETRY_RUN_ABORTING] = "aborting",
	[RETRY_RUN_DONE] = "done",
};

static const char *const retry_end_names[] = {
	[RETRY_END_OK] = "ok",
	[RETRY_END_FATAL] = "fatal",
	[RETRY_END_EXHAUSTED] = "exhausted",
	[RETRY_END_DEADLINE] = "deadline",
};

static const char *const retry_result_names[] = {
	[RETRY_RESULT_OK] = "ok",
	[RETRY_RESULT_RETRIABLE] = "retriable",
	[RETRY_RESULT_FATAL] = "fatal",
};

struct retry_run {
	char			*name;
	struct retry_policy	 policy;
	retry_start_fn		 start;
	retry_abort_fn		 abort;
	retry_done_fn		 done;
	void			*arg;
	struct retry_stats	*stats;
	struct retry_rng	 rng;
	struct retry_rng_state	 rng_state;	/* backs rng unless injected */
	double			(*now)(void *);
	double			(*wallclock)(void *);
	void			*now_arg;

	struct event		*timer;
	enum retry_run_state	 state;
	unsigned		 attempt;	/* from 1; 0 before the first */
	double			 deadline_at;	/* monotonic; 0: none */
	double			 prev_delay;
	bool			 limit_is_deadline; /* timer is the deadline */

	/*
	 * User code may call back into the run (report, cancel) from inside
	 * start(), abort() and done(); those calls only leave a note here and
	 * the frame that called the user acts on it once it returns.
	 */
	bool			 in_callback;
	bool			 in_start;
	bool			 cancelled;
	bool			 pending;
	enum retry_result	 pending_result;

	char			 error[RETRY_STATS_ERROR_MAX];
};

static void	retry_run_timer_cb(evutil_socket_t, short, void *);

static double
retry_run_clock(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
retry_run_monotonic(void *arg)
{
	return retry_run_clock(CLOCK_MONOTONIC);
}

static double
retry_run_realtime(void *arg)
{
	return retry_run_clock(CLOCK_REALTIME);
}

const char *
retry_end_name(enum retry_end end)
{
	if ((unsigned)end > RETRY_END_DEADLINE)
		return "unknown";
	return retry_end_names[end];
}

const char *
retry_result_name(enum retry_result result)
{
	if ((unsigned)result > RETRY_RESULT_FATAL)
		return "unknown";
	return retry_result_names[result];
}

unsigned
retry_run_attempt(const struct retry_run *run)
{
	return run->attempt;
}

void
retry_run_params_init(struct retry_run_params *params)
{
	memset(params, 0, sizeof *params);
	retry_policy_init(&params->policy);
}

static void
retry_run_free(struct retry_run *run)
{
	if (run == NULL)
		return;
	if (run->timer != NULL)
		event_free(run->timer);
	free(run->name);
	free(run);
}

/* seconds < 0: leave the timer off. */
static void
retry_run_set_state(struct retry_run *run, enum retry_run_state state,
    double seconds)
{
	struct timeval	tv;

	if (run->state != state)
		log_debug("%s: retry run %s -> %s", run->name,
		    retry_run_state_names[run->state],
		    retry_run_state_names[state]);
	evtimer_del(run->timer);
	run->state = state;
	if (seconds < 0)
		return;
	if (seconds > RETRY_RUN_MAX_TIMER)
		seconds = RETRY_RUN_MAX_TIMER;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	if (tv.tv_usec >= 1000000)
		tv.tv_usec = 999999;
	evtimer_add(run->timer, &tv);
}

/* error may alias run->error (a report deferred from inside start()). */
static void
retry_run_set_error(struct retry_run *run, const char *error)
{
	if (error == run->error)
		return;
	snprintf(run->error, sizeof run->error, "%s",
	    error != NULL && *error != '\0' ? error : "unknown error");
}

static void
retry_run_finish(struct retry_run *run, enum retry_end end)
{
	struct retry_outcome	outcome;

	retry_run_set_state(run, RETRY_RUN_DONE, -1);
	memset(&outcome, 0, sizeof outcome);
	outcome.ok = end == RETRY_END_OK;
	outcome.end = end;
	outcome.error = outcome.ok ? NULL : run->error;
	outcome.attempts = run->attempt;
	log_debug("%s: retry run ended (%s) after %u attempt%s", run->name,
	    retry_end_name(end), run->attempt, run->attempt == 1 ? "" : "s");

	run->in_callback = true;
	run->done(&outcome, run->arg);
	run->in_callback = false;
	retry_run_free(run);
}

/* A failed attempt: wait and try again, or end the run. */
static void
retry_run_retry_or_finish(struct retry_run *run)
{
	double		delay;
	unsigned	total;

	total = (unsigned)run->policy.max_retries + 1;
	if (run->attempt >= total) {
		retry_run_finish(run, RETRY_END_EXHAUSTED);
		return;
	}
	delay = retry_delay(&run->policy, run->attempt - 1, run->prev_delay,
	    &run->rng);
	if (run->deadline_at > 0 &&
	    run->now(run->now_arg) + delay >= run->deadline_at) {
		retry_run_finish(run, RETRY_END_DEADLINE);
		return;
	}
	run->prev_delay = delay;
	if (run->stats != NULL)
		retry_stats_retry(run->stats, delay);
	log_info("%s: attempt %u failed (%s); retrying in %.2fs "
	    "(attempt %u of %u)", run->name, run->attempt, run->error, delay,
	    run->attempt + 1, total);
	retry_run_set_state(run, RETRY_RUN_WAITING, delay);
}

static void
retry_run_handle_result(struct retry_run *run, enum retry_result result,
    const char *error)
{
	if (result == RETRY_RESULT_OK) {
		if (run->stats != NULL)
			retry_stats_success(run->stats);
		retry_run_finish(run, RETRY_END_OK);
		return;
	}
	retry_run_set_error(run, error);
	if (run->stats != NULL)
		retry_stats_failure(run->stats, run->error,
		    run->wallclock(run->now_arg));
	if (result == RETRY_RESULT_FATAL)
		retry_run_finish(run, RETRY_END_FATAL);
	else
		retry_run_retry_or_finish(run);
}

static void
retry_run_begin_attempt(struct retry_run *run)
{
	double	now, limit = -1, left;

	now = run->now(run->now_arg);
	/* Only a badly lagging loop gets here past the deadline. */
	if (run->attempt > 0 && run->deadline_at > 0 &&
	    now >= run->deadline_at) {
		retry_run_finish(run, RETRY_END_DEADLINE);
		return;
	}
	run->attempt++;
	if (run->stats != NULL)
		retry_stats_attempt(run->stats);

	run->limit_is_deadline = false;
	if (run->policy.attempt_timeout > 0)
		limit = run->policy.attempt_timeout;
	if (run->deadline_at > 0) {
		left = run->deadline_at - now;
		if (left < 0)
			left = 0;
		if (limit < 0 || left < limit) {
			limit = left;
			run->limit_is_deadline = true;
		}
	}
	retry_run_set_state(run, RETRY_RUN_ATTEMPT, limit);

	run->in_callback = run->in_start = true;
	run->start(run, run->attempt, run->arg);
	run->in_callback = run->in_start = false;
	if (run->cancelled) {
		retry_run_free(run);
		return;
	}
	if (run->pending) {
		run->pending = false;
		retry_run_handle_result(run, run->pending_result, run->error);
	}
}

/* The attempt in flight ran out of time. */
static void
retry_run_expire_attempt(struct retry_run *run)
{
	bool	deadline = run->limit_is_deadline;

	retry_run_set_state(run, RETRY_RUN_ABORTING, -1);
	if (run->abort != NULL) {
		run->in_callback = true;
		run->abort(run, run->attempt, run->arg);
		run->in_callback = false;
		if (run->cancelled) {
			retry_run_free(run);
			return;
		}
	}
	if (deadline)
		snprintf(run->error, sizeof run->error, "deadline exceeded");
	else
		snprintf(run->error, sizeof run->error,
		    "attempt timed out after %gs", run->policy.attempt_timeout);
	if (run->stats != NULL)
		retry_stats_failure(run->stats, run->error,
		    run->wallclock(run->now_arg));
	if (deadline)
		retry_run_finish(run, RETRY_END_DEADLINE);
	else
		retry_run_retry_or_finish(run);
}

static void
retry_run_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct retry_run	*run = arg;

	switch (run->state) {
	case RETRY_RUN_WAITING:
		retry_run_begin_attempt(run);
		break;
	case RETRY_RUN_ATTEMPT:
		retry_run_expire_attempt(run);
		break;
	case RETRY_RUN_ABORTING:
	case RETRY_RUN_DONE:
		/* The timer is off in these states. */
		break;
	}
}

struct retry_run *
retry_run_start(struct event_base *base, const struct retry_run_params *params,
    const char **reason)
{
	struct retry_run	*run;
	const char		*why = NULL;
	double			 now;

	if (base == NULL)
		why = "no event base";
	else if (params->start == NULL || params->done == NULL)
		why = "operation has no start or done callback";
	else
		retry_policy_validate(&params->policy, &why);
	if (why != NULL) {
		if (reason != NULL)
			*reason = why;
		return NULL;
	}

	run = xcalloc(1, sizeof *run);
	run->name = xstrdup(params->name != NULL ? params->name : "retry");
	run->policy = params->policy;
	run->start = params->start;
	run->abort = params->abort;
	run->done = params->done;
	run->arg = params->arg;
	run->stats = params->stats;
	if (params->rng != NULL)
		run->rng = *params->rng;
	else
		run->rng = retry_rng_default(&run->rng_state);
	run->now = params->now != NULL ? params->now : retry_run_monotonic;
	run->wallclock = params->wallclock != NULL ? params->wallclock :
	    retry_run_realtime;
	run->now_arg = params->now_arg;

	if ((run->timer = evtimer_new(base, retry_run_timer_cb, run)) == NULL) {
		retry_run_free(run);
		if (reason != NULL)
			*reason = "cannot create a timer";
		return NULL;
	}
	now = run->now(run->now_arg);
	if (run->policy.deadline > 0)
		run->deadline_at = now + run->policy.deadline;
	run->state = RETRY_RUN_WAITING;
	retry_run_set_state(run, RETRY_RUN_WAITING, 0);
	return run;
}

void
retry_run_report_attempt(struct retry_run *run, unsigned attempt,
    enum retry_result result, const char *error)
{
	if (run->state != RETRY_RUN_ATTEMPT || attempt != run->attempt ||
	    run->pending) {
		log_debug("%s: ignoring late %s report for attempt %u",
		    run->name, retry_result_name(result), attempt);
		return;
	}
	if ((unsigned)result > RETRY_RESULT_FATAL)
		result = RETRY_RESULT_FATAL;
	if (run->in_start) {
		run->pending = true;
		run->pending_result = result;
		if (result != RETRY_RESULT_OK)
			retry_run_set_error(run, error);
		return;
	}
	retry_run_handle_result(run, result, error);
}

void
retry_run_report(struct retry_run *run, enum retry_result result,
    const char *error)
{
	retry_run_report_attempt(run, run->attempt, result, error);
}

void
retry_run_cancel(struct retry_run *run)
{
	if (run == NULL)
		return;
	if (run->in_callback) {
		run->cancelled = true;
		if (run->state != RETRY_RUN_DONE)
			retry_run_set_state(run, RETRY_RUN_DONE, -1);
		return;
	}
	retry_run_free(run);
}
