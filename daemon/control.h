/*
 * The control socket mcprelayctl talks to: newline-delimited JSON-RPC 2.0
 * on a Unix socket, peer credentials deciding who may change things.
 * docs/control.md describes the protocol, its methods and their errors.
 */
#ifndef MCPRELAY_CONTROL_H
#define MCPRELAY_CONTROL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct relay;
struct control;

/* The control protocol's version, in status and on every connection. */
#define CONTROL_PROTOCOL_VERSION	1

#define CONTROL_MAX_CONNS	64
#define CONTROL_MAX_LINE	(64 * 1024)
/* A client that lets this much output pile up is not reading: dropped. */
#define CONTROL_MAX_OUTPUT	(8 * 1024 * 1024)

/* Errors of the control protocol (docs/control.md, docs/errors.md). */
enum control_error {
	CONTROL_ERR_FORBIDDEN = -32090,	/* read-only peer, or no access */
	CONTROL_ERR_UNKNOWN_SERVER = -32091,
	CONTROL_ERR_RELOAD = -32092,	/* the new config is invalid */
	CONTROL_ERR_BUSY = -32093,	/* the server's state does not allow
					   it now (e.g. enable while stopping) */
};

enum control_access {
	CONTROL_ACCESS_NONE,		/* refused at connect */
	CONTROL_ACCESS_READ,		/* status, stats, events, metrics */
	CONTROL_ACCESS_ADMIN,		/* everything */
};

const char	*control_access_name(enum control_access);
/*
 * The rule: root and the daemon's own user may do everything, members of
 * the control group may read, nobody else gets in.
 */
enum control_access control_access_for(uid_t peer, int in_group,
		    uid_t daemon_uid);

/* Owned and written by the control socket; read by stats. */
struct control_counters {
	uint64_t	accepted;
	uint64_t	refused;	/* no access, or over max_conns */
	uint64_t	dropped;	/* not reading its output */
	uint64_t	requests;
	uint64_t	denied;		/* mutations refused to readers */
	unsigned	open;
	unsigned	subscribed;
};

/*
 * Listen on path (mode, group as for the MCP Unix socket: sockfile.h), or
 * on inherited_fd when it is not -1 (socket activation: path is a label).
 * NULL with the reason in errbuf.
 */
struct control	*control_new(struct relay *, const char *path, mode_t mode,
		    const char *group, int inherited_fd, char *errbuf,
		    size_t errlen);
/* Closes every connection and unlinks the socket file it created. */
void		 control_free(struct control *);
const char	*control_path(const struct control *);
const struct control_counters *control_counters(const struct control *);

/* Tests: act as if the daemon ran as uid (so the test user is not it),
 * and smaller limits. */
void		 control_set_daemon_uid(struct control *, uid_t);
void		 control_set_limits(struct control *, size_t max_line,
		    size_t max_output);

#endif
