/*
 * Who may use the daemon.  Listeners identify each client (the Unix peer's
 * credentials, a loopback TCP peer's uid through sock_diag, or a bearer
 * token of listen.http.tokens_file) into an access_who that sessions and
 * requests carry; the rules of the config's access section and of each
 * server's allow block decide, here and nowhere else.  Refusals are
 * logged once per connection and counted by user.  docs/security.md.
 */
#ifndef MCPRELAY_ACCESS_H
#define MCPRELAY_ACCESS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct config;
struct json_object;
struct access;

#define ACCESS_MAX_GROUPS	64	/* a Unix peer's groups looked at */
#define ACCESS_NAME_MAX		64	/* token names, 1..63 characters */
#define ACCESS_TOKENS_MAX_SIZE	(64 * 1024)
#define ACCESS_TOKEN_MIN_LEN	16	/* shorter secrets are refused */
#define ACCESS_TOKEN_MAX_LEN	512
#define ACCESS_MAX_USERS	64	/* distinct users counted by name */

enum access_kind {
	ACCESS_NONE,		/* not identified: always refused */
	ACCESS_USER,		/* a local uid */
	ACCESS_TOKEN,		/* a named bearer token */
};

/* Who a connection (and so its sessions and requests) belongs to. */
struct access_who {
	enum access_kind	 kind;
	uid_t			 uid;
	pid_t			 pid;		/* -1 when unknown (TCP) */
	uint32_t		 inode;		/* TCP: the peer's socket */
	int			 ngroups;	/* -1: unknown (TCP) */
	gid_t			 groups[ACCESS_MAX_GROUPS]; /* Unix: primary
						   and supplementary */
	uint64_t		 conn;		/* daemon-wide connection no. */
	const char		*via;		/* listener: "http", "unix" */
	char			 token[ACCESS_NAME_MAX];
};

struct access	*access_new(void);
void		 access_free(struct access *);
/*
 * Compile the rules of cfg (at start and on every reload) and read the
 * tokens file.  Never fails: names that no longer resolve are skipped and
 * an unusable tokens file refuses every token; both are logged.
 */
void		 access_apply_config(struct access *, const struct config *);
/* A new connection's number, for access_who.conn. */
uint64_t	 access_next_conn(struct access *);

/* Identify a peer: 0, or -1 with who->kind ACCESS_NONE and the reason. */
int		 access_peer_unix(struct access *, int fd, struct access_who *,
		    char *errbuf, size_t errlen);
int		 access_peer_tcp(struct access *, int fd, struct access_who *,
		    char *errbuf, size_t errlen);
/* Are bearer tokens configured (listen.http.tokens_file, even if bad)? */
int		 access_tokens_configured(const struct access *);
/*
 * An Authorization header's value: 0 and who set to the token when it is
 * "Bearer SECRET" with a secret of the tokens file (compared in constant
 * time), else -1 with the reason.  The secret is never logged.
 */
int		 access_token(struct access *, const char *authorization,
		    struct access_who *, char *errbuf, size_t errlen);

/* May who use the daemon (server NULL), or that server? */
int		 access_allowed(const struct access *, const struct access_who *,
		    const char *server);
/* Same principal (a session is only its creator's). */
int		 access_same(const struct access_who *, const struct access_who *);
/* "nobody (uid 65534)", "token ci", "an unidentified client". */
void		 access_describe(const struct access_who *, char *buf,
		    size_t len);

/*
 * A refusal: counted by user, logged once per connection and server, and
 * the JSON-RPC error the client gets (new object: code -32009, a message
 * saying who was refused and how to allow it, data {user, listener,
 * server, reason}).  reason NULL: the rules refused an identified client.
 * listener NULL: who->via.
 */
struct json_object *access_refuse(struct access *, const struct access_who *,
		    const char *listener, const char *server,
		    const char *reason, struct json_object *id);

/* Count and log (once per connection and server) a refusal decided
 * elsewhere (the control socket's access levels). */
void		 access_audit(struct access *, const struct access_who *,
		    const char *listener, const char *server, const char *why);

/*
 * {refused, refusedByUser: {name: n}, tokens: "off"|"N loaded"|error,
 *  lookups: {count, failed, totalMicros, maxMicros}} (TCP peer lookups).
 */
struct json_object *access_stats_json(const struct access *);

#endif
