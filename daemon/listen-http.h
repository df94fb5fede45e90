/*
 * The HTTP listener: MCP Streamable HTTP (2025-03-26 .. 2025-11-25) at /mcp
 * and /servers/NAME/mcp, legacy HTTP+SSE (2024-11-05) at /sse and
 * /servers/NAME/sse, with Origin/Host checks against DNS rebinding.
 */
#ifndef MCPRELAY_LISTEN_HTTP_H
#define MCPRELAY_LISTEN_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct relay;
struct listen_http;

/* Owned and written by the listener; read by stats. */
struct listen_http_counters {
	uint64_t	accepted;
	uint64_t	refused;	/* over listen.max_connections */
	uint64_t	timed_out;	/* listen.request_read_timeout */
	unsigned	open;		/* connections now */
};

/* host without brackets; port 0 picks a free one; fd >= 0 is inherited. */
struct listen_http	*listen_http_new(struct relay *, const char *host,
			    int port, int fd, char *err, size_t errlen);
void			 listen_http_free(struct listen_http *);
/* listen.* limits and timeouts of the config in force (after a reload). */
void			 listen_http_apply_config(struct listen_http *);
/* The bound port (useful when the config asked for port 0). */
int			 listen_http_port(const struct listen_http *);
const struct listen_http_counters *
			 listen_http_counters(const struct listen_http *);

#endif
