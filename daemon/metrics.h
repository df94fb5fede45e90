/*
 * Prometheus text exposition (format 0.0.4) of the daemon's statistics,
 * for the control socket's "metrics" method and an optional HTTP
 * GET /metrics on a loopback address (config "metrics.listen").
 */
#ifndef MCPRELAY_METRICS_H
#define MCPRELAY_METRICS_H

#include <stddef.h>

struct json_object;
struct relay;
struct metrics_http;

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * The exposition of a stats object as stats_all() builds it (new string,
 * free() it).  Only the labels server, outcome and class are used.
 */
char		*metrics_render_stats(struct json_object *stats);
/* metrics_render_stats(stats_all(relay)). */
char		*metrics_render(struct relay *);

/* Serve GET /metrics on host:port (port 0: any). NULL with errbuf set. */
struct metrics_http *metrics_http_new(struct relay *, const char *host,
		    int port, char *errbuf, size_t errlen);
void		 metrics_http_free(struct metrics_http *);
/* "127.0.0.1:9464" as bound. */
const char	*metrics_http_address(const struct metrics_http *);

#endif
