/*
 * The MCP listener on a Unix socket: newline-delimited JSON-RPC, one session
 * per connection, an optional "mcprelay/scope" first line that ties the
 * session to one server.  docs/unix-socket.md describes the protocol.
 */
#ifndef MCPRELAY_LISTEN_UNIX_H
#define MCPRELAY_LISTEN_UNIX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct relay;
struct listen_unix;

/* The method of the scope preamble (ctl/cmd-connect.c sends it too). */
#define LISTEN_UNIX_SCOPE_METHOD	"mcprelay/scope"

#define LISTEN_UNIX_MAX_LINE		(4 * 1024 * 1024)
#define LISTEN_UNIX_PAUSE_OUTPUT	(1024 * 1024)
#define LISTEN_UNIX_MAX_OUTPUT		(16 * 1024 * 1024)

struct listen_unix_limits {
	unsigned	max_conns;	/* refuse connections beyond this */
	size_t		max_line;	/* longest message read (new conns) */
	size_t		pause_output;	/* stop reading a client above this */
	size_t		max_output;	/* drop a client that lets it reach
					   this: it is not reading */
};

/* Owned and written by the listener; read by stats. */
struct listen_unix_counters {
	uint64_t	accepted;
	uint64_t	refused;	/* over max_conns */
	uint64_t	dropped;	/* over max_output */
	unsigned	open;		/* connections now */
};

/*
 * Listen on path with permissions mode, group-owned by group (NULL or ""
 * for none), creating the parent directory (0700) if it is missing.  A
 * stale socket file is replaced; a live one (a connect() succeeds), or a
 * file that is not a socket, is an error.  With inherited_fd != -1 (socket
 * activation) that listening socket is used as it is and path is only a
 * label: nothing is created, changed or unlinked.  The listener owns
 * inherited_fd from here on, even on failure.  NULL on failure with the
 * reason in errbuf.
 */
struct listen_unix	*listen_unix_new(struct relay *, const char *path,
			    mode_t mode, const char *group, int inherited_fd,
			    char *errbuf, size_t errlen);
/* Closes every connection (and its session), unlinks the socket file it
 * created.  Call before sessions_free(). */
void			 listen_unix_free(struct listen_unix *);

void			 listen_unix_set_limits(struct listen_unix *,
			    const struct listen_unix_limits *);
const struct listen_unix_counters *
			 listen_unix_counters(const struct listen_unix *);
const char		*listen_unix_path(const struct listen_unix *);

#endif
