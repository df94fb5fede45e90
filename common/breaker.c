/*
 * Circuit breaker state machine; see breaker.h.  All state changes go
 * through breaker_set_state(), which keeps the counters and calls the hook.
 */
#include "autoconf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "xmalloc.h"

static const char *const breaker_state_names[] = {
	[BREAKER_CLOSED] = "closed",
	[BREAKER_OPEN] = "open",
	[BREAKER_HALF_OPEN] = "half-open",
};

void
breaker_config_init(struct breaker_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->failure_threshold = 5;
	cfg->open_duration = 30.0;
	cfg->max_open_duration = 300.0;
	cfg->half_open_requests = 1;
}

/* Comparisons are written so that NaN fails them. */
bool
breaker_config_validate(const struct breaker_config *cfg, const char **reason)
{
	const char	*why = NULL;

	if (cfg->failure_threshold < 1)
		why = "failure_threshold must be >= 1";
	else if (!isfinite(cfg->open_duration) || !(cfg->open_duration > 0))
		why = "open_duration must be a finite number > 0";
	else if (!isfinite(cfg->max_open_duration) ||
	    !(cfg->max_open_duration >= cfg->open_duration))
		why = "max_open_duration must be finite and >= open_duration";
	else if (cfg->half_open_requests < 1)
		why = "half_open_requests must be >= 1";
	if (why != NULL && reason != NULL)
		*reason = why;
	return why == NULL;
}

const char *
breaker_state_name(enum breaker_state state)
{
	if ((unsigned)state > BREAKER_HALF_OPEN)
		return "unknown";
	return breaker_state_names[state];
}

int
breaker_init(struct breaker *b, const struct breaker_config *cfg)
{
	struct breaker_config	defaults;

	if (cfg == NULL) {
		breaker_config_init(&defaults);
		cfg = &defaults;
	}
	if (!breaker_config_validate(cfg, NULL))
		return -1;
	memset(b, 0, sizeof *b);
	b->cfg = *cfg;
	b->state = BREAKER_CLOSED;
	b->open_duration = cfg->open_duration;
	return 0;
}

struct breaker *
breaker_new(const struct breaker_config *cfg)
{
	struct breaker	*b;

	b = xmalloc(sizeof *b);
	if (breaker_init(b, cfg) == -1) {
		free(b);
		return NULL;
	}
	return b;
}

void
breaker_free(struct breaker *b)
{
	free(b);
}

void
breaker_set_transition_hook(struct breaker *b, breaker_transition_fn fn,
    void *arg)
{
	b->on_transition = fn;
	b->transition_arg = arg;
}

/* The one place the state changes. */
static void
breaker_set_state(struct breaker *b, enum breaker_state to, double now)
{
	enum breaker_state	from = b->state;
	double			d;

	switch (to) {
	case BREAKER_CLOSED:
		b->open_duration = b->cfg.open_duration;
		b->consecutive_failures = 0;
		break;
	case BREAKER_OPEN:
		/* A failed probe means the upstream needs longer. */
		if (from == BREAKER_HALF_OPEN) {
			d = b->open_duration * 2;
			if (d > b->cfg.max_open_duration)
				d = b->cfg.max_open_duration;
			b->open_duration = d;
		}
		b->times_opened++;
		break;
	case BREAKER_HALF_OPEN:
		b->probes = 0;
		break;
	}
	b->state = to;
	b->since = now;
	if (from != to && b->on_transition != NULL)
		b->on_transition(b->transition_arg, from, to);
}

/* Moves on whatever time alone decides. */
static void
breaker_tick(struct breaker *b, double now)
{
	if (b->state == BREAKER_OPEN && now - b->since >= b->open_duration)
		breaker_set_state(b, BREAKER_HALF_OPEN, now);
	else if (b->state == BREAKER_HALF_OPEN &&
	    b->probes >= b->cfg.half_open_requests &&
	    now - b->since >= b->open_duration) {
		/* The probes were lost; let a new set through. */
		b->probes = 0;
		b->since = now;
	}
}

bool
breaker_allow(struct breaker *b, double now)
{
	breaker_tick(b, now);
	switch (b->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		return false;
	case BREAKER_HALF_OPEN:
		if (b->probes >= b->cfg.half_open_requests)
			return false;
		/* Lost probes are timed from when their set started. */
		if (b->probes++ == 0)
			b->since = now;
		return true;
	}
	return false;
}

void
breaker_success(struct breaker *b, double now)
{
	breaker_tick(b, now);
	switch (b->state) {
	case BREAKER_CLOSED:
	case BREAKER_OPEN:
		b->consecutive_failures = 0;
		break;
	case BREAKER_HALF_OPEN:
		breaker_set_state(b, BREAKER_CLOSED, now);
		break;
	}
}

void
breaker_failure(struct breaker *b, double now)
{
	breaker_tick(b, now);
	b->consecutive_failures++;
	switch (b->state) {
	case BREAKER_CLOSED:
		if (b->consecutive_failures >= b->cfg.failure_threshold)
			breaker_set_state(b, BREAKER_OPEN, now);
		break;
	case BREAKER_OPEN:
		break;
	case BREAKER_HALF_OPEN:
		breaker_set_state(b, BREAKER_OPEN, now);
		break;
	}
}

void
breaker_reset(struct breaker *b, double now)
{
	if (b->state != BREAKER_CLOSED)
		breaker_set_state(b, BREAKER_CLOSED, now);
	b->open_duration = b->cfg.open_duration;
	b->consecutive_failures = 0;
}

enum breaker_state
breaker_state(struct breaker *b, double now)
{
	breaker_tick(b, now);
	return b->state;
}

double
breaker_retry_after(struct breaker *b, double now)
{
	double	left;

	breaker_tick(b, now);
	switch (b->state) {
	case BREAKER_CLOSED:
		return 0;
	case BREAKER_HALF_OPEN:
		if (b->probes < b->cfg.half_open_requests)
			return 0;
		/* FALLTHROUGH */
	case BREAKER_OPEN:
		left = b->since + b->open_duration - now;
		return left > 0 ? left : 0;
	}
	return 0;
}

uint64_t
breaker_times_opened(const struct breaker *b)
{
	return b->times_opened;
}

uint64_t
breaker_consecutive_failures(const struct breaker *b)
{
	return b->consecutive_failures;
}

double
breaker_open_duration(const struct breaker *b)
{
	return b->open_duration;
}
