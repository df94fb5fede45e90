/*
 * Backoff delays, jitter, the built-in PRNG and retry statistics; see
 * retry.h.  Everything here is pure computation on caller-owned objects.
 */
#include "autoconf.h"

#include <sys/random.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "names.h"
#include "retry.h"

static const char *const retry_jitter_mode_names[] = {
	[RETRY_JITTER_PROPORTIONAL] = "proportional",
	[RETRY_JITTER_FULL] = "full",
	[RETRY_JITTER_EQUAL] = "equal",
	[RETRY_JITTER_DECORRELATED] = "decorrelated",
};
#define RETRY_JITTER_NMODES \
	(sizeof retry_jitter_mode_names / sizeof retry_jitter_mode_names[0])

void
retry_policy_init(struct retry_policy *p)
{
	memset(p, 0, sizeof *p);
	p->max_retries = 3;
	p->initial_delay = 1.0;
	p->max_delay = 60.0;
	p->backoff_factor = 2.0;
	p->jitter = true;
	p->jitter_factor = 0.1;
	p->jitter_mode = RETRY_JITTER_PROPORTIONAL;
	p->attempt_timeout = 0;
	p->deadline = 0;
}

/* Comparisons are written so that NaN fails them. */
bool
retry_policy_validate(const struct retry_policy *p, const char **reason)
{
	const char	*why = NULL;

	if (p->max_retries < 0)
		why = "max_retries must be >= 0";
	else if (!isfinite(p->initial_delay) || !(p->initial_delay >= 0))
		why = "initial_delay must be a finite number >= 0";
	else if (!isfinite(p->max_delay) || !(p->max_delay >= p->initial_delay))
		why = "max_delay must be finite and >= initial_delay";
	else if (!isfinite(p->backoff_factor) || !(p->backoff_factor >= 1))
		why = "backoff_factor must be a finite number >= 1";
	else if (!(p->jitter_factor >= 0 && p->jitter_factor <= 1))
		why = "jitter_factor must be between 0 and 1";
	else if ((unsigned)p->jitter_mode >= RETRY_JITTER_NMODES)
		why = "unknown jitter_mode";
	else if (!isfinite(p->attempt_timeout) || !(p->attempt_timeout >= 0))
		why = "attempt_timeout must be a finite number >= 0";
	else if (!isfinite(p->deadline) || !(p->deadline >= 0))
		why = "deadline must be a finite number >= 0";
	if (why != NULL && reason != NULL)
		*reason = why;
	return why == NULL;
}

const char *
retry_jitter_mode_name(enum retry_jitter_mode mode)
{
	if ((unsigned)mode >= RETRY_JITTER_NMODES)
		return "unknown";
	return retry_jitter_mode_names[mode];
}

int
retry_jitter_mode_parse(const char *name, enum retry_jitter_mode *out)
{
	int	i;

	if ((i = names_index(retry_jitter_mode_names, RETRY_JITTER_NMODES,
	    name)) == -1)
		return -1;
	*out = (enum retry_jitter_mode)i;
	return 0;
}

/*
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that any
 * seed, including 0, gives a well-mixed non-zero state.
 */
static uint64_t
retry_splitmix64(uint64_t *x)
{
	uint64_t	z;

	z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
retry_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
retry_xoshiro_next(struct retry_rng_state *st)
{
	uint64_t	*s = st->s;
	uint64_t	 result, t;

	result = retry_rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = retry_rotl(s[3], 45);
	return result;
}

/* The top 53 bits make a double in [0,1) with every value equally likely. */
static double
retry_xoshiro_uniform(void *arg)
{
	return (double)(retry_xoshiro_next(arg) >> 11) * 0x1.0p-53;
}

struct retry_rng
retry_rng_seeded(struct retry_rng_state *state, uint64_t seed)
{
	struct retry_rng	rng;
	int			i;

	for (i = 0; i < 4; i++)
		state->s[i] = retry_splitmix64(&seed);
	rng.uniform = retry_xoshiro_uniform;
	rng.arg = state;
	return rng;
}

struct retry_rng
retry_rng_default(struct retry_rng_state *state)
{
	struct timespec	 ts;
	uint64_t	 seed;
	ssize_t		 n;

	/*
	 * Not bytes_random(): at early boot that waits for the kernel's pool,
	 * and jitter must not hold up the daemon's start.  8 bytes never come
	 * back short once the pool is seeded; anything else falls back below.
	 */
	n = getrandom(&seed, sizeof seed, GRND_NONBLOCK);
	if (n != (ssize_t)sizeof seed) {
		/* Jitter only spreads load; a weak seed is no security risk. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000000ULL +
		    (uint64_t)ts.tv_nsec;
		seed ^= (uint64_t)getpid() << 32;
		seed ^= (uint64_t)(uintptr_t)state;
	}
	return retry_rng_seeded(state, seed);
}

/* An injected rng might misbehave; keep u inside [0,1) regardless. */
static double
retry_rng_draw(const struct retry_rng *rng)
{
	double	u;

	u = rng->uniform(rng->arg);
	if (!(u >= 0))
		return 0;
	if (u >= 1)
		return 1.0 - DBL_EPSILON / 2;	/* the double below 1 */
	return u;
}

/*
 * base to the power n by squaring: exact for the usual factors (2, 1.5)
 * and overflowing to +inf like pow(), without libm (whose pages cost the
 * daemon 0.3 MiB of RSS for this one call).
 */
static double
retry_pow(double base, unsigned n)
{
	double	r = 1;

	for (; n > 0; n >>= 1) {
		if (n & 1)
			r *= base;
		base *= base;
	}
	return r;
}

double
retry_nominal_delay(const struct retry_policy *p, unsigned attempt)
{
	double	d;

	if (!(p->initial_delay > 0))
		return 0;
	if (!(p->backoff_factor > 1))
		d = p->initial_delay;
	else {
		/* Saturates to +inf rather than wrapping. */
		d = p->initial_delay * retry_pow(p->backoff_factor, attempt);
	}
	/* Also catches inf and NaN. */
	if (!(d < p->max_delay))
		return p->max_delay;
	return d;
}

double
retry_delay(const struct retry_policy *p, unsigned attempt, double prev_delay,
    const struct retry_rng *rng)
{
	double	n, u, d, lo, hi;

	n = retry_nominal_delay(p, attempt);
	if (!p->jitter || rng == NULL)
		return n;
	u = retry_rng_draw(rng);
	switch (p->jitter_mode) {
	case RETRY_JITTER_FULL:
		d = u * n;
		break;
	case RETRY_JITTER_EQUAL:
		d = n / 2 + u * (n / 2);
		break;
	case RETRY_JITTER_DECORRELATED:
		lo = p->initial_delay;
		if (!(prev_delay > 0))
			prev_delay = lo;
		hi = prev_delay * 3;
		if (!(hi >= lo))
			hi = lo;
		d = lo + u * (hi - lo);
		if (!(d < p->max_delay))
			d = p->max_delay;
		break;
	case RETRY_JITTER_PROPORTIONAL:
	default:
		d = n + (2 * u - 1) * p->jitter_factor * n;
		break;
	}
	if (!(d > 0))
		return 0;
	return d;
}

void
retry_stats_reset(struct retry_stats *s)
{
	memset(s, 0, sizeof *s);
}

void
retry_stats_attempt(struct retry_stats *s)
{
	s->attempts++;
}

void
retry_stats_success(struct retry_stats *s)
{
	s->successes++;
	s->consecutive_failures = 0;
}

void
retry_stats_failure(struct retry_stats *s, const char *error, double now)
{
	s->failures++;
	s->consecutive_failures++;
	snprintf(s->last_error, sizeof s->last_error, "%s",
	    error != NULL ? error : "");
	s->last_error_time = now;
}

void
retry_stats_retry(struct retry_stats *s, double delay)
{
	s->retries++;
	s->total_delay += delay;
}

void
retry_stats_table_init(struct retry_stats_table *t)
{
	memset(t, 0, sizeof *t);
}

void
retry_stats_table_reset(struct retry_stats_table *t)
{
	size_t	i;

	for (i = 0; i < t->count; i++)
		retry_stats_reset(&t->entries[i].stats);
}

struct retry_stats *
retry_stats_table_find(struct retry_stats_table *t, const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < t->count; i++) {
		if (strcmp(t->entries[i].name, name) == 0)
			return &t->entries[i].stats;
	}
	return NULL;
}

struct retry_stats *
retry_stats_table_get(struct retry_stats_table *t, const char *name)
{
	struct retry_stats_entry	*e;
	struct retry_stats		*s;
	size_t				 len;

	if ((s = retry_stats_table_find(t, name)) != NULL)
		return s;
	if (name == NULL || (len = strlen(name)) == 0 ||
	    len >= RETRY_STATS_NAME_MAX || t->count >= RETRY_STATS_TABLE_MAX)
		return NULL;
	e = &t->entries[t->count++];
	memcpy(e->name, name, len + 1);
	retry_stats_reset(&e->stats);
	return &e->stats;
}
