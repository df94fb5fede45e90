/*
 * Circuit breaker: stops sending requests to an upstream that keeps failing,
 * and lets a few probes through after a cool-down to find out whether it has
 * recovered.  No clock inside: every call takes the monotonic time in seconds.
 */
#ifndef MCPRELAY_BREAKER_H
#define MCPRELAY_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

struct breaker_config {
	unsigned	failure_threshold;	/* failures in a row to open */
	double		open_duration;		/* first cool-down, seconds */
	double		max_open_duration;	/* cap for the doubling */
	unsigned	half_open_requests;	/* probes let through at once */
};

/* Defaults: threshold 5, open 30 s, max open 300 s, 1 probe. */
void	breaker_config_init(struct breaker_config *cfg);
/*
 * failure_threshold >= 1, open_duration > 0, max_open_duration >=
 * open_duration, half_open_requests >= 1, durations finite.  On false,
 * *reason (if not NULL) says why, in a static string.
 */
bool	breaker_config_validate(const struct breaker_config *cfg,
	    const char **reason);

/*
 * CLOSED     requests flow; consecutive failures are counted, and
 *            failure_threshold of them open the breaker.
 * OPEN       requests are refused until the current open duration has
 *            passed since opening; then the breaker is HALF_OPEN.
 * HALF_OPEN  up to half_open_requests probes are let through; the first
 *            success closes the breaker (and the open duration goes back to
 *            open_duration), a failure opens it again for twice the previous
 *            duration, at most max_open_duration.  If the probes never
 *            report, a new set is let through once the current open
 *            duration has passed since the last set started, so a lost
 *            probe cannot wedge the breaker.
 *
 * The OPEN -> HALF_OPEN move happens in whichever call first sees the time
 * has come (allow, state, retry_after, success, failure): a success or
 * failure that arrives after the cool-down counts as a probe's outcome.
 * While OPEN, successes and failures (of requests let through before it
 * opened) change nothing but the consecutive failure count.
 */
enum breaker_state {
	BREAKER_CLOSED = 0,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN,
};

typedef void	(*breaker_transition_fn)(void *arg, enum breaker_state from,
		    enum breaker_state to);

/* Embeddable; read it through the functions below. */
struct breaker {
	struct breaker_config	 cfg;
	enum breaker_state	 state;
	double			 since;		/* time of the last state
						   change or probe set */
	double			 open_duration;	/* current cool-down */
	unsigned		 probes;	/* probes let through in set */
	uint64_t		 consecutive_failures;
	uint64_t		 times_opened;
	breaker_transition_fn	 on_transition;
	void			*transition_arg;
};

/*
 * Both take a copy of cfg (NULL: defaults) and start CLOSED.  An invalid
 * config gives -1 / NULL; breaker_config_validate() says why.
 */
int		 breaker_init(struct breaker *b,
		    const struct breaker_config *cfg);
struct breaker	*breaker_new(const struct breaker_config *cfg);
void		 breaker_free(struct breaker *b);

/*
 * Called on every state change with the old and new state, after the
 * change; fn may be NULL to remove it.  It must not call back into b.
 */
void		 breaker_set_transition_hook(struct breaker *b,
		    breaker_transition_fn fn, void *arg);

/*
 * Whether a request may go now.  In HALF_OPEN a true answer takes a probe
 * slot: the caller must report that request with breaker_success() or
 * breaker_failure().
 */
bool		 breaker_allow(struct breaker *b, double now);
void		 breaker_success(struct breaker *b, double now);
void		 breaker_failure(struct breaker *b, double now);
/* Back to CLOSED with the base open duration (an operator's reset). */
void		 breaker_reset(struct breaker *b, double now);

enum breaker_state breaker_state(struct breaker *b, double now);
const char	*breaker_state_name(enum breaker_state state);
/*
 * Seconds until breaker_allow() would say yes, 0 when it would now.  In
 * HALF_OPEN with every probe slot taken, the time until a new set of probes
 * is let through (see above).
 */
double		 breaker_retry_after(struct breaker *b, double now);

uint64_t	 breaker_times_opened(const struct breaker *b);
uint64_t	 breaker_consecutive_failures(const struct breaker *b);
/* The cool-down the breaker uses the next time it is, or now is, open. */
double		 breaker_open_duration(const struct breaker *b);

#endif
