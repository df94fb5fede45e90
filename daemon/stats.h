/*
 * Statistics for the control socket: a latency histogram with fixed
 * Prometheus-style buckets and its quantile estimates, and the JSON the
 * control methods status, servers and stats answer with.  Counters live in
 * the objects they describe; this module only reads them.
 */
#ifndef MCPRELAY_STATS_H
#define MCPRELAY_STATS_H

#include <stdint.h>

struct json_object;
struct relay;

/* Upper bounds in seconds; a last, implicit bucket is +Inf. */
#define STATS_LATENCY_NBOUNDS	15
extern const double stats_latency_bounds[STATS_LATENCY_NBOUNDS];

struct stats_latency {
	uint64_t	buckets[STATS_LATENCY_NBOUNDS + 1];	/* not cumulative */
	uint64_t	count;
	double		sum;
};

void		 stats_latency_init(struct stats_latency *);
/* Negative and NaN durations count as 0. */
void		 stats_latency_add(struct stats_latency *, double seconds);
/*
 * The q-quantile (0 <= q <= 1) estimated as Prometheus' histogram_quantile
 * does: linear within the bucket that holds it; the highest finite bound
 * when it falls in +Inf.  -1 when the histogram is empty.
 */
double		 stats_latency_quantile(const struct stats_latency *,
		    double q);
/* {count, sum, p50, p90, p99, buckets: [{le, count}...]} (cumulative). */
struct json_object *stats_latency_json(const struct stats_latency *);

/*
 * A JSON number printed with 16 significant digits: 0.2 stays "0.2" (not
 * json-c's "0.20000000000000001") and an epoch time keeps microseconds.
 */
struct json_object *stats_double(double);

/* Wall-clock seconds since the epoch, with microseconds. */
double		 stats_wallclock(void);

/*
 * The control socket's answers (new objects).  stats_server() is NULL when
 * no server has that name.
 */
struct json_object *stats_status(struct relay *);
struct json_object *stats_servers(struct relay *);
struct json_object *stats_all(struct relay *);
struct json_object *stats_server(struct relay *, const char *name);

#endif
