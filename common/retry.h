/*
 * Retry policy: how long to wait before each retry (exponential backoff with
 * a cap and jitter), injectable randomness, and per-operation retry
 * statistics.  No I/O and no clock: retry-run.h drives this on an event loop.
 */
#ifndef MCPRELAY_RETRY_H
#define MCPRELAY_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How jitter spreads a delay.  With n = retry_nominal_delay(p, attempt) and
 * u uniform in [0,1) drawn from the rng:
 *
 *   PROPORTIONAL  max(0, n + (2u - 1) * jitter_factor * n)
 *                 i.e. n +/- up to jitter_factor * n (the design's default);
 *                 may exceed max_delay by up to jitter_factor * max_delay.
 *   FULL          u * n                                  in [0, n)
 *   EQUAL         n/2 + u * n/2                          in [n/2, n)
 *   DECORRELATED  min(max_delay, lo + u * (hi - lo)), lo = initial_delay,
 *                 hi = max(lo, 3 * prev), prev = the previous delay or
 *                 initial_delay when 0 (AWS "decorrelated jitter"); ignores
 *                 attempt and backoff_factor.
 *
 * With jitter off every mode returns n; jitter_factor only affects
 * PROPORTIONAL.
 */
enum retry_jitter_mode {
	RETRY_JITTER_PROPORTIONAL = 0,
	RETRY_JITTER_FULL,
	RETRY_JITTER_EQUAL,
	RETRY_JITTER_DECORRELATED,
};

/*
 * All times in seconds.  attempt_timeout and deadline are 0 for "none":
 * attempt_timeout bounds each attempt, deadline the whole run from its start.
 */
struct retry_policy {
	int			 max_retries;	/* retries after the 1st try */
	double			 initial_delay;
	double			 max_delay;
	double			 backoff_factor;
	bool			 jitter;
	double			 jitter_factor;
	enum retry_jitter_mode	 jitter_mode;
	double			 attempt_timeout;
	double			 deadline;
};

/*
 * Defaults from the design's RetryConfiguration: max_retries 3, initial_delay
 * 1 s, max_delay 60 s, backoff_factor 2, jitter on, jitter_factor 0.1,
 * PROPORTIONAL, no attempt timeout, no deadline.
 */
void		 retry_policy_init(struct retry_policy *p);

/*
 * Checks backoff_factor >= 1, 0 <= jitter_factor <= 1, initial_delay >= 0,
 * max_delay >= initial_delay, max_retries >= 0, attempt_timeout >= 0,
 * deadline >= 0, every double finite, a known jitter_mode.  On false, *reason
 * (if reason is not NULL) names the offending field in a static string.
 */
bool		 retry_policy_validate(const struct retry_policy *p,
		    const char **reason);

/* "proportional", "full", "equal", "decorrelated"; "unknown" otherwise. */
const char	*retry_jitter_mode_name(enum retry_jitter_mode mode);
/* Parses those names; 0 on success, -1 (and *out untouched) otherwise. */
int		 retry_jitter_mode_parse(const char *name,
		    enum retry_jitter_mode *out);

/*
 * Randomness is injected: uniform() returns a double in [0,1).  The runner
 * and retry_delay() only call through this, so tests can script it.
 */
struct retry_rng {
	double	(*uniform)(void *arg);
	void	 *arg;
};

/*
 * State for the built-in generator (xoshiro256**).  The caller owns it,
 * usually embedded in the object that retries; it must outlive every
 * struct retry_rng made from it.  Not thread-safe: one state per thread.
 */
struct retry_rng_state {
	uint64_t	s[4];
};

/* Seeds *state from getrandom() (clock and pid if that fails). */
struct retry_rng retry_rng_default(struct retry_rng_state *state);
/* Deterministic generator for tests: the same seed gives the same stream. */
struct retry_rng retry_rng_seeded(struct retry_rng_state *state,
		    uint64_t seed);

/*
 * min(initial_delay * backoff_factor^attempt, max_delay); attempt 0 is the
 * delay before the first retry.  Never overflows: huge attempts give exactly
 * max_delay, never inf or NaN.
 */
double		 retry_nominal_delay(const struct retry_policy *p,
		    unsigned attempt);

/*
 * The delay to wait before retry number attempt (0 = first retry), with
 * jitter per p->jitter_mode (see above).  prev_delay is the delay used
 * before the previous retry (0 for none); only DECORRELATED uses it.  rng
 * may be NULL only when jitter is off; with a NULL rng the nominal delay is
 * returned.  Never negative.
 */
double		 retry_delay(const struct retry_policy *p, unsigned attempt,
		    double prev_delay, const struct retry_rng *rng);

#define RETRY_STATS_ERROR_MAX	256

/*
 * Counters for one operation.  attempts counts tries started; every try ends
 * as one success or one failure (a try cancelled mid-flight ends as
 * neither), so failures counts failed tries, not failed runs.  retries counts
 * scheduled retries and total_delay sums their delays.  consecutive_failures
 * is reset by a success.  last_error_time is wall-clock seconds since the
 * epoch, as passed by the caller.
 */
struct retry_stats {
	uint64_t	attempts;
	uint64_t	successes;
	uint64_t	failures;
	uint64_t	retries;
	double		total_delay;
	char		last_error[RETRY_STATS_ERROR_MAX];
	double		last_error_time;
	uint64_t	consecutive_failures;
};

void	retry_stats_reset(struct retry_stats *s);
void	retry_stats_attempt(struct retry_stats *s);
void	retry_stats_success(struct retry_stats *s);
/* error may be NULL; it is copied, truncated to fit. */
void	retry_stats_failure(struct retry_stats *s, const char *error,
	    double now);
void	retry_stats_retry(struct retry_stats *s, double delay);

/*
 * Stats per operation name ("connect", "execute_tool", "list_tools", ...),
 * in a fixed table the caller embeds (no allocation).  Entries are created
 * on first use and stay, in creation order, until the table is
 * re-initialised; retry_stats_table_reset() zeroes the counters but keeps
 * the names.
 */
#define RETRY_STATS_TABLE_MAX	16
#define RETRY_STATS_NAME_MAX	32	/* including the NUL */

struct retry_stats_entry {
	char			name[RETRY_STATS_NAME_MAX];
	struct retry_stats	stats;
};

struct retry_stats_table {
	size_t			 count;
	struct retry_stats_entry entries[RETRY_STATS_TABLE_MAX];
};

void	retry_stats_table_init(struct retry_stats_table *t);
void	retry_stats_table_reset(struct retry_stats_table *t);
/*
 * The stats for name, created (zeroed) on first use.  NULL when name is
 * empty, too long (>= RETRY_STATS_NAME_MAX) or the table is full.  The
 * pointer stays valid as long as the table does.
 */
struct retry_stats *retry_stats_table_get(struct retry_stats_table *t,
	    const char *name);
/* Like _get() but never creates: NULL when name has no entry. */
struct retry_stats *retry_stats_table_find(struct retry_stats_table *t,
	    const char *name);

#endif
