/*
 * mcprelayctl import and repoint: the agents whose MCP configuration they
 * read, the mapping of an agent's JSON servers to mcprelay.yaml servers
 * (import-map.c, pure, unit tested), placing them in an existing YAML file
 * without re-serialising it (import-yaml.c) and a unified diff (udiff.c).
 */
#ifndef MCPRELAY_IMPORT_H
#define MCPRELAY_IMPORT_H

#include <stddef.h>

struct json_object;

enum imp_agent {
	IMP_CLAUDE_CODE,
	IMP_CURSOR,
	IMP_VSCODE,
	IMP_WINDSURF,
	IMP_GEMINI,
	IMP_FILE,	/* any file of either shape */
};

/* How an agent's file is laid out and how it names a remote server. */
struct imp_agent_info {
	const char	*name;		/* "claude-code" */
	const char	*base;		/* "HOME" or "XDG_CONFIG_HOME" */
	const char	*path;		/* under base */
	const char	*servers_key;	/* "mcpServers"; NULL: try both */
	/* The key of a remote server's URL when repointed: "url" (with
	 * "type": "http" when set_type), "serverUrl", "httpUrl". */
	const char	*url_key;
	int		 set_type;
};

const struct imp_agent_info *imp_agent_info(enum imp_agent);
/* 0 and *out for an agent's name, -1 for anything else (a FILE). */
int	imp_agent_parse(const char *name, enum imp_agent *out);
/* The agent's user-level file: newly allocated, NULL if HOME is unset. */
char	*imp_agent_path(enum imp_agent);

enum imp_type {
	IMP_STDIO,
	IMP_HTTP,
	IMP_SSE,
};

/*
 * A name and the text for mcprelay.yaml: literal '$' doubled where the
 * loader would expand it, or a ${VAR} reference for a moved secret.
 */
struct imp_kv {
	char	*name;
	char	*value;
};

struct imp_server {
	char		*name;
	enum imp_type	 type;
	int		 enabled;
	char		*command;	/* stdio */
	char		**args;
	size_t		 nargs;
	struct imp_kv	*env;
	size_t		 nenv;
	char		*cwd;
	char		*url;		/* http, sse */
	struct imp_kv	*headers;
	size_t		 nheaders;
	char		*ignored;	/* "timeout, trust": keys not carried */
};

/* An entry that was not imported, and why. */
struct imp_skip {
	char	*name;
	char	*reason;
};

/* A secret moved to the env file: VAR=value. */
struct imp_secret {
	char	*var;
	char	*value;
};

struct imp_result {
	struct imp_server	*servers;
	size_t			 nservers;
	struct imp_skip		*skipped;
	size_t			 nskipped;
	struct imp_secret	*secrets;	/* new variables only */
	size_t			 nsecrets;
};

/* What the mapping must not collide with. */
struct imp_ctx {
	char *const	*existing;	/* server names in the config; NULL-ended */
	char *const	*env_vars;	/* "NAME=VALUE" of the env file; or NULL */
	/* "http://127.0.0.1:8931/servers/": entries under it are the
	 * daemon's own (already repointed); NULL when it has no HTTP. */
	const char	*daemon_prefix;
};

/*
 * Maps the agent's parsed JSON to servers.  -1 with a reason in err when
 * the file has no servers object of the expected shape; entries that
 * cannot be imported are listed in out->skipped, not errors.
 */
int	imp_map(struct json_object *root, enum imp_agent,
	    const struct imp_ctx *, struct imp_result *out, char *err,
	    size_t errlen);
void	imp_result_free(struct imp_result *);
/* The servers object of root for the agent, or NULL. */
struct json_object *imp_servers_object(struct json_object *root,
	    enum imp_agent);

/* raw as import writes it into mcprelay.yaml (variables translated, '$'
 * escaped), or NULL when only the agent could resolve it. */
char	*imp_text(const char *raw, enum imp_agent);

/* The ${NAME}s s uses that known ("NAME=VALUE", NULL-ended, may be NULL)
 * does not set: "A, B", newly allocated, or NULL for none. */
char	*imp_server_refs(const struct imp_server *s, char *const *known);

/* The heuristics of docs/import.md, "Secrets". */
int	imp_secret_name(const char *name);
int	imp_secret_value(const char *value);

/* Appends s to buf as a YAML scalar: plain when safe, else double-quoted. */
struct imp_buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};
void	imp_buf_add(struct imp_buf *, const char *s, size_t n);
void	imp_buf_addf(struct imp_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	imp_yaml_scalar(struct imp_buf *, const char *s);
/* The servers as YAML mapping entries, keys indented by indent spaces. */
void	imp_emit_servers(struct imp_buf *, const struct imp_result *,
	    int indent, const char *source);

/* import-yaml.c: where the servers go in an existing mcprelay.yaml. */
struct imp_yaml_plan {
	char	**names;	/* existing server names; NULL-ended */
	char	 *env_file;	/* the env_file value, or NULL */
	int	  servers_found;
	int	  servers_flow;	/* "servers: {a: ...}": cannot insert */
	size_t	  replace_from;	/* byte range replaced by the insertion */
	size_t	  replace_to;
	size_t	  env_file_at;	/* where an env_file line may go */
	int	  indent;	/* of the server keys */
	int	  need_header;	/* write "servers:" before them */
	int	  need_newline;	/* the text before does not end a line */
};
int	imp_yaml_plan(const char *text, size_t len, struct imp_yaml_plan *,
	    char *err, size_t errlen);
void	imp_yaml_plan_free(struct imp_yaml_plan *);
/* The new text: servers (from imp_emit_servers() at plan->indent) put in,
 * and "env_file: NAME" added when env_line is not NULL. */
char	*imp_yaml_apply(const char *text, size_t len,
	    const struct imp_yaml_plan *, const char *servers,
	    const char *env_line);

/* udiff.c: "--- a\n+++ b\n@@ ..." with 3 lines of context; "" if equal. */
char	*udiff(const char *a, const char *b, const char *la, const char *lb);

#endif
