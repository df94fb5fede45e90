/*
 * Durations ("250ms", "1.5s", "2m", "1h", "1d", or plain seconds) and sizes
 * ("4MiB", "16KiB", "1MB", or plain bytes) as written in the configuration.
 * Parsed by hand, not strtod(), so the result never depends on the locale.
 */
#ifndef MCPRELAY_DURATION_H
#define MCPRELAY_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Longest accepted duration, in seconds (about 31 years). */
#define DURATION_MAX	1e9

/*
 * Each returns 0 and stores the value, or -1 with errno EINVAL (not a
 * well-formed value) or ERANGE (negative, or too large) and *out untouched.
 */
int	duration_parse(const char *s, double *out);
int	size_parse(const char *s, uint64_t *out);

/* A plain decimal number, optionally negative: "2", "0.5", "-1". */
int	decimal_parse(const char *s, double *out);

/* Writes secs in the shortest unit that shows it exactly: "250ms", "5m". */
void	duration_format(double secs, char *buf, size_t len);

#endif
