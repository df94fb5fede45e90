/*
 * The stdio transport: an MCP server run as a child process, speaking
 * newline-delimited JSON-RPC on its stdin/stdout, logging on its stderr.
 */
#ifndef MCPRELAY_UPSTREAM_STDIO_H
#define MCPRELAY_UPSTREAM_STDIO_H

#include <stddef.h>

#include "upstream.h"

struct event_base;
struct child_reaper;

#define UPSTREAM_STDIO_DEFAULT_MAX_MESSAGE	(4u * 1024 * 1024)
#define UPSTREAM_STDIO_DEFAULT_SHUTDOWN_TIMEOUT	5.0
/* Longer stderr lines are logged cut to this many bytes. */
#define UPSTREAM_STDIO_STDERR_LINE_MAX		1024

/* Everything is copied by upstream_stdio_new(). */
struct upstream_stdio_spec {
	const char	*name;		/* for logs */
	const char	*command;	/* argv[0]; searched in the child's PATH
					   when it has no slash */
	char *const	*args;		/* NULL-terminated, without argv[0];
					   NULL for none */
	char *const	*env;		/* "K=V", NULL-terminated; NULL for
					   none */
	const char	*cwd;		/* NULL: the daemon's */
	size_t		 max_message;	/* bytes per line; 0: the default */
	double		 shutdown_timeout; /* seconds per shutdown step;
					   <= 0: the default */
};

/*
 * A transport for one run of the server; start it with upstream_start().
 *
 * The child gets the configured env plus PATH and HOME from the daemon's
 * environment (unless configured), nothing else; the configured cwd; its
 * own process group; SIGTERM when the daemon dies; default signal
 * dispositions and an empty signal mask; stdin, stdout and stderr as pipes
 * and no other descriptor.
 *
 * Start failures (pipe, fork, chdir, exec) come as closed(SPAWN_FAILED,
 * errno), from the loop.  The exec result travels through a close-on-exec
 * pipe watched by the loop, so nothing blocks; ready follows a successful
 * exec.
 *
 * stdout is split on LF (a CR before it is dropped, empty lines skipped);
 * a line over max_message kills the child: closed(PROTOCOL, EMSGSIZE).
 * stderr lines are logged at info level as "server NAME: LINE".
 *
 * closed is reported only once the child has been reaped, so no process is
 * left behind when it arrives:
 *   - the child exited on its own: EXITED with the wait status.  An EOF on
 *     stdout or a write error on stdin starts the shutdown sequence below;
 *     if the child then exits within shutdown_timeout it is still EXITED,
 *     otherwise it is signalled and the report is IO_ERROR.
 *   - upstream_close(): stdin is closed (after queued data is written),
 *     then after shutdown_timeout SIGTERM to the process group, after
 *     another shutdown_timeout SIGKILL; then REQUESTED.
 * After the child is reaped, whatever of its process group is left is
 * killed, so helpers it started do not pile up across restarts.
 *
 * The daemon must ignore SIGPIPE (writes to a dead child's stdin must fail
 * with EPIPE) and have exactly one child reaper on the loop.
 */
struct upstream	*upstream_stdio_new(struct event_base *, struct child_reaper *,
		    const struct upstream_stdio_spec *,
		    const struct upstream_event_cbs *, void *cbarg);

#endif
