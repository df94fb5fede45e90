/*
 * Durations and sizes from the configuration file.  A number is a run of
 * decimal digits with an optional fraction; the unit follows with no space.
 * No exponents, hex, "inf" or "nan": what strtod() would let through.
 */
#include "autoconf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

/* More significant digits than this cannot be held exactly in a uint64_t. */
#define DECIMAL_MAX_DIGITS	18

/* Exact powers of ten as doubles (exact up to 1e22). */
static const double pow10_table[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

struct decimal {
	uint64_t	mant;	/* all kept digits, the point removed */
	int		frac;	/* how many of them follow the point */
};

/*
 * Scans "123", "1.5", ".5" or "5." from s; returns the first character after
 * the number, or NULL if there is no digit or the integer part is too long.
 * Fraction digits beyond what fits are dropped (they cannot matter).
 */
static const char *
decimal_scan(const char *s, struct decimal *d, int *toolong)
{
	int	digits = 0, sig = 0;

	d->mant = 0;
	d->frac = 0;
	*toolong = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		digits++;
		if (sig == 0 && *s == '0')
			continue;
		if (++sig > DECIMAL_MAX_DIGITS) {
			*toolong = 1;
			return NULL;
		}
		d->mant = d->mant * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			digits++;
			if (sig == 0 && *s == '0' && d->frac < 19) {
				d->frac++;
				continue;
			}
			if (sig >= DECIMAL_MAX_DIGITS || d->frac >= 19)
				continue;
			sig++;
			d->mant = d->mant * 10 + (uint64_t)(*s - '0');
			d->frac++;
		}
	}
	if (digits == 0)
		return NULL;
	return s;
}

static double
decimal_value(const struct decimal *d, int extra_frac)
{
	return (double)d->mant / pow10_table[d->frac + extra_frac];
}

int
decimal_parse(const char *s, double *out)
{
	struct decimal	 d;
	const char	*end;
	int		 neg = 0, toolong;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if ((end = decimal_scan(s, &d, &toolong)) == NULL || *end != '\0') {
		errno = toolong ? ERANGE : EINVAL;
		return -1;
	}
	*out = neg ? -decimal_value(&d, 0) : decimal_value(&d, 0);
	return 0;
}

static const struct {
	const char	*name;
	double		 secs;
	int		 milli;		/* divide rather than multiply, exactly */
} duration_units[] = {
	{ "", 1, 0 },
	{ "ms", 0, 1 },
	{ "s", 1, 0 },
	{ "m", 60, 0 },
	{ "h", 3600, 0 },
	{ "d", 86400, 0 },
};

int
duration_parse(const char *s, double *out)
{
	struct decimal	 d;
	const char	*end;
	double		 v;
	size_t		 i;
	int		 toolong;

	if (*s == '-') {
		/* Still say EINVAL for "-garbage": only a number is negative. */
		errno = decimal_scan(s + 1, &d, &toolong) != NULL ? ERANGE :
		    EINVAL;
		return -1;
	}
	if ((end = decimal_scan(s, &d, &toolong)) == NULL) {
		errno = toolong ? ERANGE : EINVAL;
		return -1;
	}
	for (i = 0; i < sizeof duration_units / sizeof duration_units[0];
	    i++) {
		if (strcmp(end, duration_units[i].name) != 0)
			continue;
		if (duration_units[i].milli)
			v = decimal_value(&d, 3);
		else
			v = decimal_value(&d, 0) * duration_units[i].secs;
		if (!isfinite(v) || v > DURATION_MAX) {
			errno = ERANGE;
			return -1;
		}
		*out = v;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

static const struct {
	const char	*name;
	uint64_t	 mul;
} size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
	{ "kB", 1000 }, { "KB", 1000 }, { "MB", 1000000 },
	{ "GB", 1000000000 },
};

int
size_parse(const char *s, uint64_t *out)
{
	struct decimal	 d;
	const char	*end;
	uint64_t	 v;
	double		 dv;
	size_t		 i;
	int		 toolong;

	if (*s == '-') {
		errno = decimal_scan(s + 1, &d, &toolong) != NULL ? ERANGE :
		    EINVAL;
		return -1;
	}
	if ((end = decimal_scan(s, &d, &toolong)) == NULL) {
		errno = toolong ? ERANGE : EINVAL;
		return -1;
	}
	for (i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
		if (strcmp(end, size_units[i].name) != 0)
			continue;
		if (d.frac == 0) {
			if (__builtin_mul_overflow(d.mant, size_units[i].mul,
			    &v)) {
				errno = ERANGE;
				return -1;
			}
		} else {
			/* A fraction of a unit: whole bytes, rounded down. */
			dv = decimal_value(&d, 0) * (double)size_units[i].mul;
			if (dv >= 18446744073709551616.0) {
				errno = ERANGE;
				return -1;
			}
			v = (uint64_t)dv;
		}
		*out = v;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* round() of q >= 0, half up, without linking libm for it. */
static double
duration_round(double q)
{
	double	whole;

	if (q >= 4503599627370496.0)	/* 2^52: no fraction left */
		return q;
	whole = (double)(int64_t)q;
	return q - whole >= 0.5 ? whole + 1 : whole;
}

/* True when v is (within rounding) a whole multiple of unit. */
static int
duration_whole(double v, double unit)
{
	double	q = v / unit;

	return q >= 1 && fabs(q - duration_round(q)) < 1e-9 * q;
}

void
duration_format(double secs, char *buf, size_t len)
{
	if (!isfinite(secs) || secs < 0) {
		snprintf(buf, len, "%g", secs);
		return;
	}
	if (secs == 0)
		snprintf(buf, len, "0s");
	else if (duration_whole(secs, 86400))
		snprintf(buf, len, "%.0fd", duration_round(secs / 86400));
	else if (duration_whole(secs, 3600))
		snprintf(buf, len, "%.0fh", duration_round(secs / 3600));
	else if (duration_whole(secs, 60))
		snprintf(buf, len, "%.0fm", duration_round(secs / 60));
	else if (secs >= 1)
		snprintf(buf, len, "%.15gs", secs);
	else
		snprintf(buf, len, "%.15gms", secs * 1000);
}
