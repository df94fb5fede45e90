/*
 * mcprelay configuration: loads mcprelay.yaml into typed structs, with each
 * server's values already merged over the defaults, and validates it.  Every
 * error names file:line:column and the key path.  See docs/config.md.
 */
#ifndef MCPRELAY_CONFIG_H
#define MCPRELAY_CONFIG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

struct json_object;
struct retry_rules;

/*
 * Why an upstream request failed.  The daemon classifies failures with the
 * same enum, so retry_on and retry_by_class mean exactly what it does.
 */
enum fail_class {
	FAIL_CONNECT_FAILURE,
	FAIL_RESET,
	FAIL_TIMEOUT,
	FAIL_SPAWN_FAILURE,
	FAIL_UPSTREAM_EXIT,
	FAIL_HTTP_5XX,
	FAIL_HTTP_429,
	FAIL_SESSION_EXPIRED,
	FAIL_PROTOCOL_ERROR,
	FAIL_NCLASSES
};

const char	*fail_class_name(enum fail_class);
int		 fail_class_parse(const char *name, enum fail_class *out);

/* Same fields and defaults as common/retry.h; durations in seconds. */
struct config_retry {
	int		 max_retries;		/* 3 */
	double		 initial_delay;		/* 1 */
	double		 max_delay;		/* 60 */
	double		 backoff_factor;	/* 2.0 */
	bool		 jitter;		/* true */
	double		 jitter_factor;		/* 0.1 */
	/* "proportional", "full", "equal" or "decorrelated" (static). */
	const char	*jitter_mode;
	double		 attempt_timeout;	/* 0 = none */
	double		 deadline;		/* 0 = none */
	/*
	 * retry.rules as written in this scope (common/retry-rules.h), NULL
	 * for none.  Owned by the scope's retry block; never inherited: a
	 * server's effective list is its tool's, its own, then the
	 * defaults' (default_rules).  Always NULL in retry_by_class.
	 */
	struct retry_rules *rules;
};

/* common/breaker.h's fields plus the switch that turns the breaker off. */
struct config_breaker {
	bool	 enabled;		/* true */
	int	 failure_threshold;	/* 5 */
	double	 open_duration;		/* 30 */
	double	 max_open_duration;	/* 300 */
	int	 half_open_requests;	/* 1 */
};

/*
 * How the relay treats an upstream.  The "defaults" block is one of these;
 * every server carries the same fields, merged field by field over it.
 */
struct config_policy {
	struct config_retry	 retry;
	bool			 retry_on[FAIL_NCLASSES];
	/*
	 * Effective retry settings per class: retry overridden by the
	 * retry_by_class block for that class (the defaults' block, then the
	 * server's).  Equal to retry where no block names the class.
	 */
	struct config_retry	 retry_by_class[FAIL_NCLASSES];
	bool			 retry_by_class_set[FAIL_NCLASSES];
	struct config_breaker	 circuit_breaker;
	double			 request_timeout;	/* 60 */
	double			 connect_timeout;	/* 10 */
	int			 queue_limit;		/* 64 */
	double			 queue_timeout;		/* 30 */
	double			 health_check_interval;	/* 30, 0 = off */
	double			 shutdown_timeout;	/* 5 */
};

/* A header; its value is a secret and is never logged. */
struct config_kv {
	char	*name;
	char	*value;
};

struct config_tls {
	bool	 verify;	/* true */
	char	*ca_file;	/* NULL = system store */
	char	*cert_file;	/* client certificate, with key_file */
	char	*key_file;
	char	*min_version;	/* "1.2" or "1.3" */
};

enum config_auth_type {
	CONFIG_AUTH_NONE,
	CONFIG_AUTH_OAUTH,	/* OAuth 2.1 per the MCP authorization spec */
};

enum config_auth_grant {
	CONFIG_GRANT_AUTHORIZATION_CODE,	/* a person logs in */
	CONFIG_GRANT_CLIENT_CREDENTIALS,	/* no person: client_id+secret */
};

/* A remote server's "auth" section (docs/auth.md). */
struct config_auth {
	enum config_auth_type	 type;		/* none */
	enum config_auth_grant	 grant;		/* authorization_code */
	char			*client_id;	/* pre-registered */
	char			*client_secret_file;
	char			*client_metadata_url;	/* a CIMD URL */
	char			**scopes;	/* NULL-ended; empty: from the
						   server */
	size_t			 nscopes;
	char			*token_file;	/* default: the state dir */
	int			 redirect_port;	/* 0: any free port */
};

enum config_server_type {
	CONFIG_SERVER_STDIO,
	CONFIG_SERVER_HTTP,
	CONFIG_SERVER_SSE,
};

/* Which MCP era to speak to a server (auto: find out, see handler.c). */
enum config_protocol {
	CONFIG_PROTOCOL_AUTO,
	CONFIG_PROTOCOL_MODERN,
	CONFIG_PROTOCOL_LEGACY,
};

enum config_session_mode {
	CONFIG_SESSION_SHARED,
	CONFIG_SESSION_PER_CLIENT,
};

const char	*config_server_type_name(enum config_server_type);

/* servers.NAME.tools.TOOL: settings of one tool. */
struct config_tool {
	char			*name;
	double			 timeout;	/* 0 = request_timeout */
	bool			 idempotent;
	bool			 idempotent_set; /* overrides annotations */
	bool			 queue;		/* true: wait for a reconnect */
	struct config_tool_retry {
		struct retry_rules *rules;	/* NULL = none; owned */
	}			 retry;
	int			 line;
	int			 col;
};

/*
 * Who may use the daemon, or one server (docs/security.md).  Users and
 * groups are names or numeric ids, checked against the user database when
 * the file loads; tokens name entries of listen.http.tokens_file.
 */
struct config_allow {
	bool	  set;		/* the block was given */
	char	**users;
	size_t	  nusers;
	char	**groups;
	size_t	  ngroups;
	char	**tokens;
	size_t	  ntokens;
};

/* access: who may connect at all (root and the daemon's user always). */
struct config_access {
	char	**allow_users;
	size_t	  nallow_users;
	char	**allow_groups;
	size_t	  nallow_groups;
};

/*
 * Lists are never NULL: counted, and NULL-terminated too (headers end with
 * an entry whose name is NULL), so args and env go straight to execve().
 */
struct config_server {
	char				*name;
	enum config_server_type		 type;
	bool				 enabled;	/* true */
	char				*command;	/* stdio */
	char				**args;
	size_t				 nargs;
	char				**env;		/* "K=V"; secret values */
	size_t				 nenv;
	char				*cwd;		/* NULL = inherit */
	char				*url;		/* http, sse */
	struct config_kv		*headers;
	size_t				 nheaders;
	struct config_tls		 tls;
	struct config_auth		 auth;		/* http, sse */
	enum config_session_mode	 session_mode;	/* shared */
	enum config_protocol		 protocol;	/* auto */
	int				 max_processes;	/* 16, per_client */
	/* Effective value (true for stdio, false otherwise, unless set). */
	bool				 trust_annotations;
	bool				 trust_annotations_set;
	char				**idempotent_tools;
	size_t				 nidempotent_tools;
	char				*fallback;	/* NULL = none */
	struct config_tool		*tools;		/* tools: TOOL: ... */
	size_t				 ntools;
	/* The defaults' retry.rules (borrowed from the same config). */
	const struct retry_rules	*default_rules;
	struct config_allow		 allow;		/* narrows access */

	/* struct config_policy's fields, merged over the defaults. */
	struct config_retry		 retry;
	bool				 retry_on[FAIL_NCLASSES];
	struct config_retry		 retry_by_class[FAIL_NCLASSES];
	bool				 retry_by_class_set[FAIL_NCLASSES];
	struct config_breaker		 circuit_breaker;
	double				 request_timeout;
	double				 connect_timeout;
	int				 queue_limit;
	double				 queue_timeout;
	double				 health_check_interval;
	double				 shutdown_timeout;
};

struct config_http_listen {
	bool	 enabled;
	char	*host;		/* no brackets for IPv6 */
	int	 port;		/* 0 = any free port */
	char	*tokens_file;	/* listen.http only; NULL = no tokens */
};

struct config_unix_listen {
	bool	 enabled;
	char	*path;
	mode_t	 mode;		/* 0600 */
	char	*group;		/* NULL = unchanged */
};

struct config_listen {
	struct config_http_listen	 http;
	struct config_unix_listen	 unix_socket;
	char				**allowed_origins;
	size_t				 nallowed_origins;
	uint64_t			 max_body_size;		/* 4 MiB */
	uint64_t			 max_header_size;	/* 16 KiB */
	double				 idle_timeout;		/* 300 */
	double				 session_idle_timeout;	/* 1800 */
	int				 replay_buffer;		/* 256 */
	/* Limits against floods (docs/security.md#limits); 0 = no limit. */
	int				 max_connections;	/* 1024 */
	int				 max_sessions;		/* 4096 */
	int				 max_inflight;		/* 64 */
	double				 request_read_timeout;	/* 30 */
};

struct config_control {
	char	*socket;	/* "" = chosen at run time */
	mode_t	 mode;		/* 0600 */
	char	*group;		/* "" = none; members may read stats */
};

enum config_tool_prefix {
	CONFIG_PREFIX_ON_CONFLICT,
	CONFIG_PREFIX_ALWAYS,
	CONFIG_PREFIX_NEVER,
};

struct config_routing {
	enum config_tool_prefix	 tool_prefix;	/* on_conflict */
	char			*separator;	/* "__" */
	int			 page_size;	/* 0 = one page */
};

struct config_alerts {
	int	 retries_per_minute;	/* 30, 0 = off */
	bool	 breaker_open;		/* true */
	int	 consecutive_failures;	/* 10, 0 = off */
};

/* Prometheus GET /metrics over HTTP; a loopback address, off by default. */
struct config_metrics {
	struct config_http_listen	 listen;
};

struct config {
	char			*name;		/* as given to the loader */
	char			*env_file;	/* as written; NULL = none */
	enum log_level		 log_level;	/* info */
	struct config_listen	 listen;
	struct config_access	 access;
	struct config_control	 control;
	struct config_routing	 routing;
	struct config_policy	 defaults;
	struct config_server	*servers;	/* in file order */
	size_t			 nservers;
	struct config_alerts	 alerts;
	struct config_metrics	 metrics;
};

/* Formatted "file:line:col: path: message" lines, at most this many. */
#define CONFIG_ERRORS_MAX	20

struct config_errors {
	char	**msgs;
	size_t	  n;
	size_t	  dropped;	/* errors beyond CONFIG_ERRORS_MAX */
};

void	config_errors_init(struct config_errors *);
void	config_errors_free(struct config_errors *);
void	config_errors_print(const struct config_errors *, FILE *);

/*
 * Return a valid configuration, or NULL with the reasons appended to errs
 * (which may be NULL).  name is used in messages as given; text need not
 * end with a NUL.  Files named by "NAME_file" keys are read here.
 */
struct config	*config_load_file(const char *path, struct config_errors *);
struct config	*config_load_string(const char *text, size_t len,
		    const char *name, struct config_errors *);
void		 config_free(struct config *);

const struct config_server *config_server_find(const struct config *,
		    const char *name);
/* The tool's settings, or NULL when servers.NAME.tools does not name it. */
const struct config_tool *config_tool_find(const struct config_server *,
		    const char *tool);
/* Declared idempotent: tools.TOOL.idempotent, else idempotent_tools;
 * -1 when neither says (annotations decide). */
int		 config_tool_idempotent(const struct config_server *,
		    const char *tool);
/*
 * True when two servers have the same name and settings (for reload: the
 * running server takes the new copy), retry rules and tool settings aside.
 */
bool		 config_server_equal(const struct config_server *,
		    const struct config_server *);

/*
 * The control socket's path when control.socket is "": the first of
 * $RUNTIME_DIRECTORY/control.sock (systemd's RuntimeDirectory=), for a
 * non-root user $XDG_RUNTIME_DIR/mcprelay/control.sock, and
 * /run/mcprelay/control.sock.  Returns buf.
 */
const char	*config_control_socket_default(char *buf, size_t len);
/* cfg->control.socket, or the default above when it is "". */
const char	*config_control_socket(const struct config *, char *buf,
		    size_t len);

/*
 * --check-config for mcprelayd and mcprelayctl alike: "PATH: summary" on
 * out and 0 when PATH loads, the file:line:col errors on err and -1 when
 * it does not (callers exit 78, EX_CONFIG).
 */
int		 config_check_file(const char *path, FILE *out, FILE *err);

/* One rule as the config dump and the control socket show it (new). */
struct retry_rule;
struct json_object *config_rule_json(const struct retry_rule *);

/* One line: "valid: 2 servers (demo, weather), http 127.0.0.1:8931, ..." */
void		 config_summary(const struct config *, char *buf, size_t len);

/*
 * The effective configuration as a new json-c object (caller puts it) with
 * header and env values replaced by "(redacted)" and URL user info hidden.
 */
struct json_object *config_dump_redacted(const struct config *);

#endif
