/*
 * The configuration loader: a table per section (key, type, offset) turns
 * the YAML tree (config-yaml.c) into the structs of config.h, each value
 * read by its type (config-types.c).  Each server starts as a copy of the
 * defaults and its own keys overwrite what they name; rules between values
 * are checked afterwards (config-check.c).
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "config-int.h"
#include "env-file.h"
#include "names.h"
#include "xmalloc.h"

#define CONFIG_FILE_MAX		(4 * 1024 * 1024)
/* Keys at one level; the largest table (servers) has about 25. */
#define CFG_MAXKEYS		40

const char *const fail_class_names[FAIL_NCLASSES] = {
	[FAIL_CONNECT_FAILURE] = "connect_failure",
	[FAIL_RESET] = "reset",
	[FAIL_TIMEOUT] = "timeout",
	[FAIL_SPAWN_FAILURE] = "spawn_failure",
	[FAIL_UPSTREAM_EXIT] = "upstream_exit",
	[FAIL_HTTP_5XX] = "http_5xx",
	[FAIL_HTTP_429] = "http_429",
	[FAIL_SESSION_EXPIRED] = "session_expired",
	[FAIL_PROTOCOL_ERROR] = "protocol_error",
};

const char *
fail_class_name(enum fail_class c)
{
	if ((unsigned)c >= FAIL_NCLASSES)
		return "unknown";
	return fail_class_names[c];
}

int
fail_class_parse(const char *name, enum fail_class *out)
{
	int	i;

	if ((i = names_index(fail_class_names, FAIL_NCLASSES, name)) == -1)
		return -1;
	*out = (enum fail_class)i;
	return 0;
}

static const char *const server_type_names[] = {
	[CONFIG_SERVER_STDIO] = "stdio",
	[CONFIG_SERVER_HTTP] = "http",
	[CONFIG_SERVER_SSE] = "sse",
};

const char *
config_server_type_name(enum config_server_type t)
{
	if ((unsigned)t >= sizeof server_type_names / sizeof *server_type_names)
		return "unknown";
	return server_type_names[t];
}

/*
 * Errors.  Identical messages are kept once: a value inherited by many
 * servers is reported where it was written, not once per server.
 */

void
config_errors_init(struct config_errors *errs)
{
	errs->msgs = NULL;
	errs->n = 0;
	errs->dropped = 0;
}

void
config_errors_free(struct config_errors *errs)
{
	size_t	i;

	if (errs == NULL)
		return;
	for (i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	config_errors_init(errs);
}

void
config_errors_print(const struct config_errors *errs, FILE *fp)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		fprintf(fp, "%s\n", errs->msgs[i]);
	if (errs->dropped > 0)
		fprintf(fp, "(%zu more error%s not shown)\n", errs->dropped,
		    errs->dropped == 1 ? "" : "s");
}

/* Takes ownership of msg. */
static void
config_errors_add(struct config_errors *errs, char *msg)
{
	size_t	i;

	if (errs == NULL) {
		free(msg);
		return;
	}
	for (i = 0; i < errs->n; i++) {
		if (strcmp(errs->msgs[i], msg) == 0) {
			free(msg);
			return;
		}
	}
	if (errs->n >= CONFIG_ERRORS_MAX) {
		errs->dropped++;
		free(msg);
		return;
	}
	errs->msgs = xreallocarray(errs->msgs, errs->n + 1,
	    sizeof *errs->msgs);
	errs->msgs[errs->n++] = msg;
}

void
cfg_error(struct cfg_load *L, int line, int col, const char *path,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512], *full;
	bool	 has_path = path != NULL && *path != '\0';

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		xasprintf(&full, "%s:%d:%d: %s%s%s", L->name, line, col,
		    has_path ? path : "", has_path ? ": " : "", msg);
	else
		xasprintf(&full, "%s: %s%s%s", L->name,
		    has_path ? path : "", has_path ? ": " : "", msg);
	L->nerrors++;
	if (L->cur != NULL)
		L->cur->nerrors++;
	config_errors_add(L->errs, full);
}

/*
 * Marks: where each value in a scope was written.
 */

const struct cfg_mark *
cfg_mark_find(const struct cfg_scope *S, const void *addr)
{
	size_t	i;

	for (i = 0; i < S->nmarks; i++) {
		if (S->marks[i].addr == addr)
			return S->marks[i].mark;
	}
	return NULL;
}

static void
cfg_scope_put(struct cfg_scope *S, const void *addr,
    const struct cfg_mark *m)
{
	size_t	i;

	for (i = 0; i < S->nmarks; i++) {
		if (S->marks[i].addr == addr) {
			S->marks[i].mark = m;
			return;
		}
	}
	if (S->nmarks == S->capmarks) {
		S->capmarks = S->capmarks ? S->capmarks * 2 : 16;
		S->marks = xreallocarray(S->marks, S->capmarks,
		    sizeof *S->marks);
	}
	S->marks[S->nmarks].addr = addr;
	S->marks[S->nmarks].mark = m;
	S->nmarks++;
}

static void
cfg_mark_set(struct cfg_load *L, const void *addr, const struct ynode *at,
    const char *path)
{
	struct cfg_mark	*m;

	m = xcalloc(1, sizeof *m);
	m->line = at->line;
	m->col = at->col;
	m->path = xstrdup(path);
	m->scope = L->cur;
	m->class_block = L->in_class_block;
	if (L->nmarks == L->capmarks) {
		L->capmarks = L->capmarks ? L->capmarks * 2 : 64;
		L->marks = xreallocarray(L->marks, L->capmarks,
		    sizeof *L->marks);
	}
	L->marks[L->nmarks++] = m;
	cfg_scope_put(L->cur, addr, m);
}

static void
cfg_scope_free(struct cfg_scope *S)
{
	if (S == NULL)
		return;
	free(S->path);
	free(S->marks);
}

/*
 * Key paths, "did you mean", and repeated keys.
 */

char *
cfg_path(const char *path, const char *key)
{
	char	*p;

	if (path == NULL || *path == '\0')
		return xstrdup(key);
	xasprintf(&p, "%s.%s", path, key);
	return p;
}

/* Optimal string alignment distance, for "did you mean". */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, d[65][65], v;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The closest of names within distance 2, or NULL. */
const char *
cfg_suggest(const char *word, const char *const *names, size_t n)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;

	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			continue;
		d = cfg_distance(word, names[i]);
		/* Two edits turn any short word into another. */
		if (d < bestd && 2 * d < strlen(names[i])) {
			best = names[i];
			bestd = d;
		}
	}
	return best;
}

void
cfg_unknown(struct cfg_load *L, const struct ynode *at, const char *path,
    const char *what, const char *word, const char *const *names, size_t n)
{
	const char	*s = NULL;

	/* Past the errors shown, a hostile file is not worth the search. */
	if (L->nerrors < CONFIG_ERRORS_MAX)
		s = cfg_suggest(word, names, n);
	if (s != NULL)
		cfg_error(L, at->line, at->col, path,
		    "unknown %s '%.64s' (did you mean '%s'?)", what, word, s);
	else
		cfg_error(L, at->line, at->col, path, "unknown %s '%.64s'",
		    what, word);
}

struct cfg_dupent {
	const char	*name;
	size_t		 idx;
	bool		 nocase;
};

static int
cfg_dupent_cmp(const void *a, const void *b)
{
	const struct cfg_dupent	*x = a, *y = b;
	int			 c;

	c = x->nocase ? strcasecmp(x->name, y->name) :
	    strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * For each name, the index of an earlier equal one or SIZE_MAX; NULL names
 * are skipped.  Sorting keeps this fast on hostile files.
 */
size_t *
cfg_find_dups(const char *const *names, size_t n, bool nocase)
{
	struct cfg_dupent	*v;
	size_t			*first, i, m = 0, start;

	first = xcalloc(n ? n : 1, sizeof *first);
	v = xcalloc(n ? n : 1, sizeof *v);
	for (i = 0; i < n; i++) {
		first[i] = SIZE_MAX;
		if (names[i] != NULL) {
			v[m].name = names[i];
			v[m].idx = i;
			v[m].nocase = nocase;
			m++;
		}
	}
	qsort(v, m, sizeof *v, cfg_dupent_cmp);
	for (i = 1, start = 0; i < m; i++) {
		if ((nocase ? strcasecmp(v[i].name, v[start].name) :
		    strcmp(v[i].name, v[start].name)) == 0)
			first[v[i].idx] = v[start].idx;
		else
			start = i;
	}
	free(v);
	return first;
}

/* Reports repeated keys in map; returns which pairs to skip. */
bool *
cfg_map_dups(struct cfg_load *L, const struct ynode *map, const char *path,
    bool nocase)
{
	size_t		 n = map->nchild / 2, i, *first;
	const char	**names;
	bool		*dup;
	const struct ynode *k;

	names = xcalloc(n ? n : 1, sizeof *names);
	dup = xcalloc(n ? n : 1, sizeof *dup);
	for (i = 0; i < n; i++) {
		k = map->child[2 * i];
		names[i] = k->kind == YNODE_SCALAR ? k->text : NULL;
	}
	first = cfg_find_dups(names, n, nocase);
	for (i = 0; i < n; i++) {
		if (first[i] == SIZE_MAX)
			continue;
		dup[i] = true;
		k = map->child[2 * i];
		cfg_error(L, k->line, k->col, path,
		    "duplicate key '%.64s' (first at line %d)", k->text,
		    map->child[2 * first[i]]->line);
	}
	free(first);
	free(names);
	return dup;
}

/*
 * The key tables.  Adding a key is one line here plus its field in
 * config.h; parsing, dumping, freeing and comparing follow from the type.
 */

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};
static const struct cfg_enum enum_log_level = { log_level_names, 4 };
static const char *const jitter_mode_names[] = {
	"proportional", "full", "equal", "decorrelated",
};
static const struct cfg_enum enum_jitter_mode = { jitter_mode_names, 4 };
static const struct cfg_enum enum_server_type = { server_type_names, 3 };
static const char *const session_mode_names[] = {
	[CONFIG_SESSION_SHARED] = "shared",
	[CONFIG_SESSION_PER_CLIENT] = "per_client",
};
static const struct cfg_enum enum_session_mode = { session_mode_names, 2 };
static const char *const protocol_names[] = {
	[CONFIG_PROTOCOL_AUTO] = "auto",
	[CONFIG_PROTOCOL_MODERN] = "modern",
	[CONFIG_PROTOCOL_LEGACY] = "legacy",
};
static const struct cfg_enum enum_protocol = { protocol_names, 3 };
static const char *const auth_type_names[] = {
	[CONFIG_AUTH_NONE] = "none",
	[CONFIG_AUTH_OAUTH] = "oauth",
};
static const struct cfg_enum enum_auth_type = { auth_type_names, 2 };
static const char *const auth_grant_names[] = {
	[CONFIG_GRANT_AUTHORIZATION_CODE] = "authorization_code",
	[CONFIG_GRANT_CLIENT_CREDENTIALS] = "client_credentials",
};
static const struct cfg_enum enum_auth_grant = { auth_grant_names, 2 };
static const char *const tool_prefix_names[] = {
	[CONFIG_PREFIX_ON_CONFLICT] = "on_conflict",
	[CONFIG_PREFIX_ALWAYS] = "always",
	[CONFIG_PREFIX_NEVER] = "never",
};
static const struct cfg_enum enum_tool_prefix = { tool_prefix_names, 3 };

/* Enums are written through an int pointer. */
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_server_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_session_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_protocol) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tool_prefix) == sizeof(int), "enum size");

static const char *
cfg_tls_version_check(const char *s)
{
	if (strcmp(s, "1.2") == 0 || strcmp(s, "1.3") == 0)
		return NULL;
	return "expected \"1.2\" or \"1.3\"";
}

static const struct cfg_check check_tls_version = { cfg_tls_version_check };

static const char *
cfg_origin_check(const char *s)
{
	const char	*host;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return "expected an origin such as https://app.example.com";
	if (*host == '\0' || strpbrk(host, "/?# \t") != NULL)
		return "expected an origin such as https://app.example.com "
		    "(scheme://host[:port], no path)";
	return NULL;
}

static const struct cfg_check check_origin = { cfg_origin_check };

static const struct cfg_range range_positive = { 1, INFINITY };
static const struct cfg_range range_duration_positive = { 0.001, INFINITY };
static const struct cfg_range range_backoff = { 1, INFINITY };
static const struct cfg_range range_unit = { 0, 1 };

/* The backoff keys: a retry block, and an error class's override. */
#define CFG_RETRY_FIELDS \
	CFG_FIELD("max_retries", struct config_retry, max_retries, \
	    &cfg_t_int, NULL, 0), \
	CFG_FIELD("initial_delay", struct config_retry, initial_delay, \
	    &cfg_t_duration, NULL, 0), \
	CFG_FIELD("max_delay", struct config_retry, max_delay, \
	    &cfg_t_duration, NULL, 0), \
	CFG_FIELD("backoff_factor", struct config_retry, backoff_factor, \
	    &cfg_t_double, &range_backoff, 0), \
	CFG_FIELD("jitter", struct config_retry, jitter, &cfg_t_bool, \
	    NULL, 0), \
	CFG_FIELD("jitter_factor", struct config_retry, jitter_factor, \
	    &cfg_t_double, &range_unit, 0), \
	CFG_FIELD("jitter_mode", struct config_retry, jitter_mode, \
	    &cfg_t_name, &enum_jitter_mode, 0), \
	CFG_FIELD("attempt_timeout", struct config_retry, attempt_timeout, \
	    &cfg_t_duration, NULL, 0), \
	CFG_FIELD("deadline", struct config_retry, deadline, &cfg_t_duration, \
	    NULL, 0)

const struct cfg_key cfg_retry_keys[] = {
	CFG_RETRY_FIELDS,
	CFG_END
};

/* The retry block: the backoff keys and the rules. */
static const struct cfg_key retry_section_keys[] = {
	CFG_RETRY_FIELDS,
	CFG_FIELD("rules", struct config_retry, rules, &cfg_t_rules, NULL, 0),
	CFG_END
};

static const struct cfg_key breaker_keys[] = {
	CFG_FIELD("enabled", struct config_breaker, enabled, &cfg_t_bool,
	    NULL, 0),
	CFG_FIELD("failure_threshold", struct config_breaker,
	    failure_threshold, &cfg_t_int, &range_positive, 0),
	CFG_FIELD("open_duration", struct config_breaker, open_duration,
	    &cfg_t_duration, &range_duration_positive, 0),
	CFG_FIELD("max_open_duration", struct config_breaker,
	    max_open_duration, &cfg_t_duration, &range_duration_positive, 0),
	CFG_FIELD("half_open_requests", struct config_breaker,
	    half_open_requests, &cfg_t_int, &range_positive, 0),
	CFG_END
};

static int	cfg_set_class_retry(struct cfg_load *, const struct cfg_key *,
		    const struct ynode *, const struct ynode *, void *,
		    const char *);
static struct json_object *cfg_dump_class_retry(const struct cfg_key *,
		    const void *);
static bool	cfg_equal_class_retry(const struct cfg_key *, const void *,
		    const void *);

static const struct cfg_type cfg_t_class_retry = {
	cfg_set_class_retry, cfg_dump_class_retry, NULL,
	cfg_equal_class_retry, false
};

/* The keys of "defaults", which every server may override too. */
#define CFG_POLICY_KEYS(T)						\
	CFG_FIELD("retry", T, retry, &cfg_t_section, retry_section_keys, 0), \
	CFG_FIELD("retry_on", T, retry_on, &cfg_t_classlist, NULL, 0),	\
	CFG_FIELD("retry_by_class", T, retry_by_class,			\
	    &cfg_t_class_retry, NULL, 0),				\
	CFG_FIELD("circuit_breaker", T, circuit_breaker,		\
	    &cfg_t_section, breaker_keys, 0),				\
	CFG_FIELD("request_timeout", T, request_timeout,		\
	    &cfg_t_duration, &range_duration_positive, 0),		\
	CFG_FIELD("connect_timeout", T, connect_timeout,		\
	    &cfg_t_duration, &range_duration_positive, 0),		\
	CFG_FIELD("queue_limit", T, queue_limit, &cfg_t_int, NULL, 0),	\
	CFG_FIELD("queue_timeout", T, queue_timeout, &cfg_t_duration,	\
	    &range_duration_positive, 0),				\
	CFG_FIELD("health_check_interval", T, health_check_interval,	\
	    &cfg_t_duration, NULL, 0),					\
	CFG_FIELD("shutdown_timeout", T, shutdown_timeout,		\
	    &cfg_t_duration, NULL, 0)

static const struct cfg_key policy_keys[] = {
	CFG_POLICY_KEYS(struct config_policy),
	CFG_END
};

static const struct cfg_key tls_keys[] = {
	CFG_FIELD("verify", struct config_tls, verify, &cfg_t_bool, NULL, 0),
	CFG_FIELD("ca_file", struct config_tls, ca_file, &cfg_t_string, NULL,
	    CFG_NONEMPTY),
	CFG_FIELD("cert_file", struct config_tls, cert_file, &cfg_t_string,
	    NULL, CFG_NONEMPTY),
	CFG_FIELD("key_file", struct config_tls, key_file, &cfg_t_string,
	    NULL, CFG_NONEMPTY),
	CFG_FIELD("min_version", struct config_tls, min_version,
	    &cfg_t_string, &check_tls_version, 0),
	CFG_END
};

static const struct cfg_range range_processes = { 1, 4096 };
static const struct cfg_range range_port = { 0, 65535 };

static const struct cfg_key auth_keys[] = {
	CFG_FIELD("type", struct config_auth, type, &cfg_t_enum,
	    &enum_auth_type, CFG_REQUIRED),
	CFG_FIELD("grant", struct config_auth, grant, &cfg_t_enum,
	    &enum_auth_grant, 0),
	CFG_FIELD("client_id", struct config_auth, client_id, &cfg_t_string,
	    NULL, CFG_NONEMPTY),
	CFG_FIELD("client_secret_file", struct config_auth,
	    client_secret_file, &cfg_t_string, NULL, CFG_NONEMPTY),
	CFG_FIELD("client_metadata_url", struct config_auth,
	    client_metadata_url, &cfg_t_url, NULL, 0),
	CFG_LIST("scopes", struct config_auth, scopes, nscopes,
	    &cfg_t_strlist, NULL, CFG_NONEMPTY),
	CFG_FIELD("token_file", struct config_auth, token_file,
	    &cfg_t_string, NULL, CFG_NONEMPTY),
	CFG_FIELD("redirect_port", struct config_auth, redirect_port,
	    &cfg_t_int, &range_port, 0),
	CFG_END
};

static const struct cfg_key server_keys[] = {
	CFG_FIELD("type", struct config_server, type, &cfg_t_enum,
	    &enum_server_type, CFG_REQUIRED),
	CFG_FIELD("enabled", struct config_server, enabled, &cfg_t_bool,
	    NULL, 0),
	CFG_FIELD("command", struct config_server, command, &cfg_t_string,
	    NULL, CFG_NONEMPTY),
	CFG_LIST("args", struct config_server, args, nargs, &cfg_t_strlist,
	    NULL, 0),
	CFG_LIST("env", struct config_server, env, nenv, &cfg_t_env, NULL, 0),
	CFG_FIELD("cwd", struct config_server, cwd, &cfg_t_string, NULL,
	    CFG_NONEMPTY),
	CFG_FIELD("url", struct config_server, url, &cfg_t_url, NULL, 0),
	CFG_LIST("headers", struct config_server, headers, nheaders,
	    &cfg_t_headers, NULL, 0),
	CFG_FIELD("tls", struct config_server, tls, &cfg_t_section, tls_keys,
	    0),
	CFG_FIELD("auth", struct config_server, auth, &cfg_t_section,
	    auth_keys, 0),
	CFG_FIELD("session_mode", struct config_server, session_mode,
	    &cfg_t_enum, &enum_session_mode, 0),
	CFG_FIELD("protocol", struct config_server, protocol, &cfg_t_enum,
	    &enum_protocol, 0),
	CFG_FIELD("max_processes", struct config_server, max_processes,
	    &cfg_t_int, &range_processes, 0),
	CFG_FIELD("trust_annotations", struct config_server,
	    trust_annotations, &cfg_t_bool, NULL, 0),
	CFG_LIST("idempotent_tools", struct config_server, idempotent_tools,
	    nidempotent_tools, &cfg_t_strlist, NULL, CFG_NONEMPTY),
	CFG_FIELD("fallback", struct config_server, fallback, &cfg_t_string,
	    NULL, CFG_NONEMPTY),
	CFG_LIST("tools", struct config_server, tools, ntools, &cfg_t_tools,
	    NULL, 0),
	CFG_FIELD("allow", struct config_server, allow, &cfg_t_allow, NULL, 0),
	CFG_POLICY_KEYS(struct config_server),
	CFG_END
};

static const struct cfg_key log_keys[] = {
	CFG_FIELD("level", struct config, log_level, &cfg_t_enum,
	    &enum_log_level, 0),
	CFG_END
};

static const struct cfg_key unix_keys[] = {
	CFG_FIELD("path", struct config_unix_listen, path, &cfg_t_string,
	    NULL, CFG_REQUIRED | CFG_NONEMPTY),
	CFG_FIELD("mode", struct config_unix_listen, mode, &cfg_t_mode, NULL,
	    0),
	CFG_FIELD("group", struct config_unix_listen, group, &cfg_t_string,
	    NULL, CFG_NONEMPTY),
	CFG_END
};

static const struct cfg_key listen_keys[] = {
	CFG_FIELD("http", struct config_listen, http, &cfg_t_http_listen,
	    NULL, 0),
	CFG_FIELD("unix", struct config_listen, unix_socket, &cfg_t_unix,
	    unix_keys, 0),
	CFG_LIST("allowed_origins", struct config_listen, allowed_origins,
	    nallowed_origins, &cfg_t_strlist, &check_origin, 0),
	CFG_FIELD("max_body_size", struct config_listen, max_body_size,
	    &cfg_t_size, &range_positive, 0),
	CFG_FIELD("max_header_size", struct config_listen, max_header_size,
	    &cfg_t_size, &range_positive, 0),
	CFG_FIELD("idle_timeout", struct config_listen, idle_timeout,
	    &cfg_t_duration, NULL, 0),
	CFG_FIELD("session_idle_timeout", struct config_listen,
	    session_idle_timeout, &cfg_t_duration, NULL, 0),
	CFG_FIELD("replay_buffer", struct config_listen, replay_buffer,
	    &cfg_t_int, NULL, 0),
	CFG_FIELD("max_connections", struct config_listen, max_connections,
	    &cfg_t_int, NULL, 0),
	CFG_FIELD("max_sessions", struct config_listen, max_sessions,
	    &cfg_t_int, NULL, 0),
	CFG_FIELD("max_inflight", struct config_listen, max_inflight,
	    &cfg_t_int, NULL, 0),
	CFG_FIELD("request_read_timeout", struct config_listen,
	    request_read_timeout, &cfg_t_duration, NULL, 0),
	CFG_END
};

static const struct cfg_key control_keys[] = {
	CFG_FIELD("socket", struct config_control, socket, &cfg_t_string,
	    NULL, 0),
	CFG_FIELD("mode", struct config_control, mode, &cfg_t_mode, NULL, 0),
	CFG_FIELD("group", struct config_control, group, &cfg_t_string, NULL,
	    0),
	CFG_END
};

static const struct cfg_key routing_keys[] = {
	CFG_FIELD("tool_prefix", struct config_routing, tool_prefix,
	    &cfg_t_enum, &enum_tool_prefix, 0),
	CFG_FIELD("separator", struct config_routing, separator,
	    &cfg_t_string, NULL, CFG_NONEMPTY),
	CFG_FIELD("page_size", struct config_routing, page_size, &cfg_t_int,
	    NULL, 0),
	CFG_END
};

static const struct cfg_key alerts_keys[] = {
	CFG_FIELD("retries_per_minute", struct config_alerts,
	    retries_per_minute, &cfg_t_int, NULL, 0),
	CFG_FIELD("breaker_open", struct config_alerts, breaker_open,
	    &cfg_t_bool, NULL, 0),
	CFG_FIELD("consecutive_failures", struct config_alerts,
	    consecutive_failures, &cfg_t_int, NULL, 0),
	CFG_END
};

static const struct cfg_key metrics_keys[] = {
	CFG_FIELD("listen", struct config_metrics, listen, &cfg_t_listen,
	    NULL, 0),
	CFG_END
};

static int	cfg_set_defaults(struct cfg_load *, const struct cfg_key *,
		    const struct ynode *, const struct ynode *, void *,
		    const char *);
static int	cfg_set_servers(struct cfg_load *, const struct cfg_key *,
		    const struct ynode *, const struct ynode *, void *,
		    const char *);

/* "defaults" reads into its own scope, else it is a plain section. */
static struct json_object *
cfg_dump_defaults(const struct cfg_key *k, const void *base)
{
	return cfg_t_section.dump(k, base);
}

static bool
cfg_equal_defaults(const struct cfg_key *k, const void *a, const void *b)
{
	return cfg_t_section.equal(k, a, b);
}

/* Its retry.rules are the only thing in it to free. */
static void
cfg_free_defaults(const struct cfg_key *k, void *base)
{
	cfg_t_section.free(k, base);
}

static const struct cfg_type cfg_t_defaults = {
	cfg_set_defaults, cfg_dump_defaults, cfg_free_defaults,
	cfg_equal_defaults, false
};
/* Dumped, freed and compared by hand: an array, not a field. */
static const struct cfg_type cfg_t_servers = {
	cfg_set_servers, NULL, NULL, NULL, false
};

/* "log" is not a struct of its own: its table is based on struct config. */
static const struct cfg_key root_keys[] = {
	{ "log", &cfg_t_section, 0, 0, 0, log_keys, 0 },
	/* Read before everything else by cfg_read_env_file(). */
	CFG_FIELD("env_file", struct config, env_file, &cfg_t_string, NULL,
	    CFG_NONEMPTY),
	CFG_FIELD("listen", struct config, listen, &cfg_t_section,
	    listen_keys, 0),
	CFG_FIELD("access", struct config, access, &cfg_t_section,
	    cfg_access_keys, 0),
	CFG_FIELD("control", struct config, control, &cfg_t_section,
	    control_keys, 0),
	CFG_FIELD("routing", struct config, routing, &cfg_t_section,
	    routing_keys, 0),
	CFG_FIELD("defaults", struct config, defaults, &cfg_t_defaults,
	    policy_keys, 0),
	CFG_FIELD("servers", struct config, servers, &cfg_t_servers, NULL, 0),
	CFG_FIELD("alerts", struct config, alerts, &cfg_t_section,
	    alerts_keys, 0),
	CFG_FIELD("metrics", struct config, metrics, &cfg_t_section,
	    metrics_keys, 0),
	CFG_END
};

/*
 * Walking the tables.
 */

static const struct cfg_key *
cfg_key_find(const struct cfg_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++) {
		if (strcmp(keys->name, name) == 0)
			return keys;
	}
	return NULL;
}

/*
 * Reads map into base by the table keys.  owner (the key naming the map,
 * or NULL at the top) is where a missing required key is reported.  A null
 * value ("key:" or "key: ~") leaves the field at its inherited value.
 */
void
cfg_parse_map(struct cfg_load *L, const struct ynode *owner,
    const struct ynode *map, const struct cfg_key *keys, void *base,
    const char *path)
{
	const struct ynode	*kn, *vn;
	const struct cfg_key	*k;
	const char		*names[CFG_MAXKEYS];
	bool			 seen[CFG_MAXKEYS] = { false }, *dup;
	size_t			 i, nkeys;
	char			*kpath;

	for (nkeys = 0; keys[nkeys].name != NULL && nkeys < CFG_MAXKEYS;
	    nkeys++)
		names[nkeys] = keys[nkeys].name;
	dup = cfg_map_dups(L, map, path, false);
	for (i = 0; i < map->nchild / 2; i++) {
		kn = map->child[2 * i];
		vn = map->child[2 * i + 1];
		if (dup[i])
			continue;
		if (kn->kind != YNODE_SCALAR) {
			cfg_error(L, kn->line, kn->col, path,
			    "keys must be strings");
			continue;
		}
		if ((k = cfg_key_find(keys, kn->text)) == NULL) {
			cfg_unknown(L, kn, path, "key", kn->text, names,
			    nkeys);
			continue;
		}
		if (vn->null)
			continue;
		seen[k - keys] = true;
		kpath = cfg_path(path, k->name);
		if (k->type->set(L, k, kn, vn, base, kpath) == 0 &&
		    k->type->mark)
			cfg_mark_set(L, FIELD(base, k), vn, kpath);
		free(kpath);
	}
	free(dup);
	for (i = 0; i < nkeys; i++) {
		if ((keys[i].flags & CFG_REQUIRED) && !seen[i])
			cfg_error(L, owner != NULL ? owner->line : map->line,
			    owner != NULL ? owner->col : map->col, path,
			    "missing required key '%s'", keys[i].name);
	}
}

struct json_object *
cfg_dump_keys(const struct cfg_key *keys, const void *base)
{
	struct json_object	*o = json_object_new_object();

	for (; keys->name != NULL; keys++) {
		if (keys->type->dump != NULL)
			json_object_object_add(o, keys->name,
			    keys->type->dump(keys, base));
	}
	return o;
}

void
cfg_free_keys(const struct cfg_key *keys, void *base)
{
	for (; keys->name != NULL; keys++) {
		if (keys->type->free != NULL)
			keys->type->free(keys, base);
	}
}

bool
cfg_equal_keys(const struct cfg_key *keys, const void *a, const void *b)
{
	for (; keys->name != NULL; keys++) {
		if (keys->type->equal != NULL &&
		    !keys->type->equal(keys, a, b))
			return false;
	}
	return true;
}

/*
 * retry_by_class: each class's block is read into the scope's class_raw;
 * only its marked fields count, and are merged in cfg_class_retry_build().
 */

static int
cfg_set_class_retry(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct ynode	*ckn, *cvn;
	enum fail_class		 c;
	char			*cpath;
	bool			*dup;
	size_t			 i;

	if (!cfg_want_map(L, v, path))
		return -1;
	dup = cfg_map_dups(L, v, path, false);
	for (i = 0; i < v->nchild / 2; i++) {
		ckn = v->child[2 * i];
		cvn = v->child[2 * i + 1];
		if (dup[i])
			continue;
		if (ckn->kind != YNODE_SCALAR) {
			cfg_error(L, ckn->line, ckn->col, path,
			    "keys must be strings");
			continue;
		}
		if (fail_class_parse(ckn->text, &c) == -1) {
			cfg_unknown(L, ckn, path, "error class", ckn->text,
			    fail_class_names, FAIL_NCLASSES);
			continue;
		}
		if (cvn->null)
			continue;
		cpath = cfg_path(path, fail_class_names[c]);
		if (cfg_want_map(L, cvn, cpath)) {
			L->cur->class_given[c] = true;
			L->in_class_block = true;
			cfg_parse_map(L, ckn, cvn, cfg_retry_keys,
			    &L->cur->class_raw[c], cpath);
			L->in_class_block = false;
		}
		free(cpath);
	}
	free(dup);
	return 0;
}

/* Copies the fields from's class block for c set, with their marks. */
static void
cfg_class_apply(struct config_retry *eff, bool *set, struct cfg_scope *S,
    const struct cfg_scope *from, enum fail_class c)
{
	const struct config_retry	*raw = &from->class_raw[c];
	const struct cfg_key		*k;
	const struct cfg_mark		*m;

	for (k = cfg_retry_keys; k->name != NULL; k++) {
		if ((m = cfg_mark_find(from, CFIELD(raw, k))) == NULL)
			continue;
		memcpy(FIELD(eff, k), CFIELD(raw, k), k->size);
		cfg_scope_put(S, FIELD(eff, k), m);
		*set = true;
	}
}

/*
 * Each class's effective retry: the scope's retry, then the defaults'
 * block for the class (D, NULL when S is the defaults), then S's own.
 */
static void
cfg_class_retry_build(struct config_retry *retry, struct config_retry *eff,
    bool *set, struct cfg_scope *S, const struct cfg_scope *D)
{
	const struct cfg_key	*k;
	const struct cfg_mark	*m;
	int			 c;

	for (c = 0; c < FAIL_NCLASSES; c++) {
		eff[c] = *retry;
		eff[c].rules = NULL;
		set[c] = false;
		if (!S->class_given[c] && (D == NULL || !D->class_given[c]))
			continue;
		for (k = cfg_retry_keys; k->name != NULL; k++) {
			if ((m = cfg_mark_find(S, FIELD(retry, k))) != NULL)
				cfg_scope_put(S, FIELD(&eff[c], k), m);
		}
		if (D != NULL)
			cfg_class_apply(&eff[c], &set[c], S, D, c);
		cfg_class_apply(&eff[c], &set[c], S, S, c);
	}
}

static struct json_object *
cfg_dump_class_retry(const struct cfg_key *k, const void *base)
{
	const struct config_retry	*eff = CFIELD(base, k);
	const bool			*set;
	struct json_object		*o = json_object_new_object();
	int				 c;

	/* retry_by_class_set follows retry_by_class in both structs. */
	set = (const bool *)((const char *)base + k->off + k->size);
	for (c = 0; c < FAIL_NCLASSES; c++) {
		if (set[c])
			json_object_object_add(o, fail_class_names[c],
			    cfg_dump_keys(cfg_retry_keys, &eff[c]));
	}
	return o;
}

static bool
cfg_equal_class_retry(const struct cfg_key *k, const void *a, const void *b)
{
	const struct config_retry	*x = CFIELD(a, k), *y = CFIELD(b, k);
	const bool			*xs, *ys;
	int				 c;

	xs = (const bool *)((const char *)a + k->off + k->size);
	ys = (const bool *)((const char *)b + k->off + k->size);
	for (c = 0; c < FAIL_NCLASSES; c++) {
		if (xs[c] != ys[c] ||
		    !cfg_equal_keys(cfg_retry_keys, &x[c], &y[c]))
			return false;
	}
	return true;
}

/* The layout cfg_dump_class_retry() relies on. */
_Static_assert(offsetof(struct config_policy, retry_by_class_set) ==
    offsetof(struct config_policy, retry_by_class) +
    sizeof(((struct config_policy *)0)->retry_by_class), "layout");
_Static_assert(offsetof(struct config_server, retry_by_class_set) ==
    offsetof(struct config_server, retry_by_class) +
    sizeof(((struct config_server *)0)->retry_by_class), "layout");

static int
cfg_set_defaults(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct config_policy	*p = FIELD(base, k);

	if (!cfg_want_map(L, v, path))
		return -1;
	L->defaults.line = kn->line;
	L->defaults.col = kn->col;
	L->cur = &L->defaults;
	cfg_parse_map(L, kn, v, policy_keys, p, path);
	L->cur = &L->root;
	return 0;
}

/* Servers are read after everything else, when the defaults are known. */
static int
cfg_set_servers(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	L->servers_key = kn;
	L->servers_node = v;
	return 0;
}

static void
cfg_retry_init(struct config_retry *r)
{
	r->max_retries = 3;
	r->initial_delay = 1;
	r->max_delay = 60;
	r->backoff_factor = 2.0;
	r->jitter = true;
	r->jitter_factor = 0.1;
	r->jitter_mode = jitter_mode_names[0];
	r->attempt_timeout = 0;
	r->deadline = 0;
}

static void
cfg_policy_init(struct config_policy *p)
{
	static const enum fail_class on[] = { FAIL_CONNECT_FAILURE,
	    FAIL_RESET, FAIL_TIMEOUT, FAIL_SPAWN_FAILURE, FAIL_UPSTREAM_EXIT,
	    FAIL_HTTP_5XX, FAIL_HTTP_429, FAIL_SESSION_EXPIRED };
	size_t	i;

	memset(p, 0, sizeof *p);
	cfg_retry_init(&p->retry);
	for (i = 0; i < sizeof on / sizeof *on; i++)
		p->retry_on[on[i]] = true;
	for (i = 0; i < FAIL_NCLASSES; i++)
		p->retry_by_class[i] = p->retry;
	p->circuit_breaker.enabled = true;
	p->circuit_breaker.failure_threshold = 5;
	p->circuit_breaker.open_duration = 30;
	p->circuit_breaker.max_open_duration = 300;
	p->circuit_breaker.half_open_requests = 1;
	p->request_timeout = 60;
	p->connect_timeout = 10;
	p->queue_limit = 64;
	p->queue_timeout = 30;
	p->health_check_interval = 30;
	p->shutdown_timeout = 5;
}

static void
cfg_init(struct config *cfg, const char *name)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->name = xstrdup(name);
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->listen.http.enabled = true;
	cfg->listen.http.host = xstrdup("127.0.0.1");
	cfg->listen.http.port = 8931;
	cfg->listen.unix_socket.mode = 0600;
	cfg->listen.allowed_origins = xcalloc(1, sizeof(char *));
	cfg->listen.max_body_size = 4 * 1024 * 1024;
	cfg->listen.max_header_size = 16 * 1024;
	cfg->listen.idle_timeout = 300;
	cfg->listen.session_idle_timeout = 1800;
	cfg->listen.replay_buffer = 256;
	cfg->listen.max_connections = 1024;
	cfg->listen.max_sessions = 4096;
	cfg->listen.max_inflight = 64;
	cfg->listen.request_read_timeout = 30;
	cfg->control.socket = xstrdup("");
	cfg->control.mode = 0600;
	cfg->control.group = xstrdup("");
	cfg->routing.tool_prefix = CONFIG_PREFIX_ON_CONFLICT;
	cfg->routing.separator = xstrdup("__");
	cfg->routing.page_size = 0;
	cfg_policy_init(&cfg->defaults);
	cfg->alerts.retries_per_minute = 30;
	cfg->alerts.breaker_open = true;
	cfg->alerts.consecutive_failures = 10;
}

/* A server before its own keys: the defaults, and the per-server fields. */
static void
cfg_server_init(struct config_server *s, const char *name,
    const struct config_policy *d)
{
	const struct cfg_key	*k, *sk;
	int			 c;

	memset(s, 0, sizeof *s);
	s->name = xstrdup(name);
	s->type = CONFIG_SERVER_STDIO;
	s->enabled = true;
	s->args = xcalloc(1, sizeof(char *));
	s->env = xcalloc(1, sizeof(char *));
	s->headers = xcalloc(1, sizeof(struct config_kv));
	s->tls.verify = true;
	s->tls.min_version = xstrdup("1.2");
	s->auth.scopes = xcalloc(1, sizeof(char *));
	s->session_mode = CONFIG_SESSION_SHARED;
	s->max_processes = 16;
	s->idempotent_tools = xcalloc(1, sizeof(char *));
	for (k = policy_keys; k->name != NULL; k++) {
		sk = cfg_key_find(server_keys, k->name);
		memcpy(FIELD(s, sk), CFIELD(d, k), k->size);
	}
	memcpy(s->retry_by_class_set, d->retry_by_class_set,
	    sizeof s->retry_by_class_set);
	/* Rules are not copied: the defaults' list is chained after. */
	s->retry.rules = NULL;
	for (c = 0; c < FAIL_NCLASSES; c++)
		s->retry_by_class[c].rules = NULL;
	s->tools = xcalloc(1, sizeof *s->tools);
}

static const char *
cfg_server_name_check(const char *s)
{
	const char	*p;

	if (*s == '\0')
		return "server name must not be empty";
	for (p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '-'))
			return "invalid server name (letters, digits, '_', "
			    "'.' and '-' only)";
	}
	return NULL;
}

static void
cfg_parse_servers(struct cfg_load *L)
{
	struct config		*cfg = L->cfg;
	const struct ynode	*map = L->servers_node, *kn, *vn;
	struct config_server	*s;
	struct cfg_scope	*S;
	const char		*why;
	size_t			 i, n;
	bool			*dup;

	if (map == NULL || map->null)
		return;
	if (!cfg_want_map(L, map, "servers"))
		return;
	n = map->nchild / 2;
	cfg->servers = xcalloc(n ? n : 1, sizeof *cfg->servers);
	L->server_scopes = xcalloc(n ? n : 1, sizeof *L->server_scopes);
	dup = cfg_map_dups(L, map, "servers", false);
	for (i = 0; i < n; i++) {
		kn = map->child[2 * i];
		vn = map->child[2 * i + 1];
		if (dup[i])
			continue;
		if (kn->kind != YNODE_SCALAR) {
			cfg_error(L, kn->line, kn->col, "servers",
			    "server names must be strings");
			continue;
		}
		why = cfg_server_name_check(kn->null ? "" : kn->text);
		if (why != NULL) {
			if (kn->null || *kn->text == '\0')
				cfg_error(L, kn->line, kn->col, "servers",
				    "%s", why);
			else
				cfg_error(L, kn->line, kn->col, "servers",
				    "%s: '%.64s'", why, kn->text);
			continue;
		}
		s = &cfg->servers[cfg->nservers];
		cfg_server_init(s, kn->text, &cfg->defaults);
		S = xcalloc(1, sizeof *S);
		S->path = cfg_path("servers", kn->text);
		S->line = kn->line;
		S->col = kn->col;
		L->server_scopes[cfg->nservers++] = S;
		L->cur = S;
		if (vn->null)
			cfg_error(L, kn->line, kn->col, S->path,
			    "missing required key 'type'");
		else if (cfg_want_map(L, vn, S->path)) {
			S->map = vn;
			cfg_parse_map(L, kn, vn, server_keys, s, S->path);
		}
		cfg_class_retry_build(&s->retry, s->retry_by_class,
		    s->retry_by_class_set, S, &L->defaults);
		L->cur = &L->root;
	}
	free(dup);
}

/*
 * env_file, wherever it is in the file, before any other value is
 * expanded.  A relative path is relative to the configuration file's
 * directory, so the two can move together.
 */
static void
cfg_read_env_file(struct cfg_load *L, const struct ynode *root)
{
	const struct ynode	*k, *v;
	const char		*slash;
	char			*s, *path, err[512];
	size_t			 i;

	for (i = 0; i + 1 < root->nchild; i += 2) {
		k = root->child[i];
		v = root->child[i + 1];
		if (k->kind == YNODE_SCALAR && strcmp(k->text, "env_file") == 0)
			break;
	}
	if (i + 1 >= root->nchild || v->null || v->kind != YNODE_SCALAR)
		return;	/* absent, or reported by cfg_parse_map() */
	if ((s = cfg_text(L, v, "env_file", "a string")) == NULL)
		return;
	if (*s != '/' && *s != '\0' && (slash = strrchr(L->name, '/')) != NULL)
		xasprintf(&path, "%.*s/%s", (int)(slash - L->name), L->name, s);
	else
		path = xstrdup(s);
	if (*s != '\0' &&
	    (L->env_vars = env_file_read(path, err, sizeof err)) == NULL)
		cfg_error(L, v->line, v->col, "env_file", "%s", err);
	free(path);
	free(s);
}

static void
cfg_load_free(struct cfg_load *L)
{
	size_t	i;

	env_file_free(L->env_vars);

	for (i = 0; i < L->nmarks; i++) {
		free(L->marks[i]->path);
		free(L->marks[i]);
	}
	free(L->marks);
	cfg_scope_free(&L->root);
	cfg_scope_free(&L->defaults);
	for (i = 0; L->server_scopes != NULL && i < L->cfg->nservers; i++) {
		cfg_scope_free(L->server_scopes[i]);
		free(L->server_scopes[i]);
	}
	free(L->server_scopes);
}

struct config *
config_load_string(const char *text, size_t len, const char *name,
    struct config_errors *errs)
{
	struct cfg_load	 L;
	struct config	*cfg;
	struct ynode	*root;

	if (name == NULL)
		name = "(config)";
	if (text == NULL)
		len = 0;
	memset(&L, 0, sizeof L);
	L.name = name;
	L.errs = errs;
	L.root.path = xstrdup("");
	L.defaults.path = xstrdup("defaults");
	L.cur = &L.root;
	cfg = xcalloc(1, sizeof *cfg);
	cfg_init(cfg, name);
	L.cfg = cfg;

	if (ytree_parse(&L, text != NULL ? text : "", len, &root) == 0 &&
	    root != NULL && !root->null) {
		if (root->kind != YNODE_MAP)
			cfg_error(&L, root->line, root->col, NULL,
			    "expected a mapping at the top level, got %s",
			    ynode_what(root));
		else {
			cfg_read_env_file(&L, root);
			cfg_parse_map(&L, NULL, root, root_keys, cfg, "");
		}
	}
	cfg_class_retry_build(&cfg->defaults.retry,
	    cfg->defaults.retry_by_class, cfg->defaults.retry_by_class_set,
	    &L.defaults, NULL);
	cfg_parse_servers(&L);
	L.cur = NULL;
	config_check(&L);
	config_rules_check(&L);
	ynode_free(root);
	cfg_load_free(&L);
	if (L.nerrors > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load_file(const char *path, struct config_errors *errs)
{
	struct config_errors	 dummy;
	struct config		*cfg;
	struct stat		 st;
	char			*buf, *msg;
	size_t			 len = 0;
	ssize_t			 r;
	int			 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		xasprintf(&msg, "%s: is a directory", path);
		goto fail_msg;
	}
	buf = xmalloc(CONFIG_FILE_MAX + 1);
	while (len <= CONFIG_FILE_MAX) {
		r = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len > CONFIG_FILE_MAX) {
		free(buf);
		xasprintf(&msg, "%s: larger than %d MiB", path,
		    CONFIG_FILE_MAX / (1024 * 1024));
		goto fail_msg;
	}
	cfg = config_load_string(buf, len, path, errs);
	free(buf);
	return cfg;
fail:
	xasprintf(&msg, "%s: cannot read: %s", path, strerror(errno));
fail_msg:
	if (errs == NULL) {
		config_errors_init(&dummy);
		errs = &dummy;
	}
	config_errors_add(errs, msg);
	if (errs == &dummy)
		config_errors_free(&dummy);
	return NULL;
}

static void
cfg_server_free(struct config_server *s)
{
	cfg_free_keys(server_keys, s);
	free(s->name);
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	cfg_free_keys(root_keys, cfg);
	for (i = 0; i < cfg->nservers; i++)
		cfg_server_free(&cfg->servers[i]);
	free(cfg->servers);
	free(cfg->name);
	free(cfg);
}

const struct config_server *
config_server_find(const struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->nservers; i++) {
		if (strcmp(cfg->servers[i].name, name) == 0)
			return &cfg->servers[i];
	}
	return NULL;
}

bool
config_server_equal(const struct config_server *a,
    const struct config_server *b)
{
	struct config_server	x = *a, y = *b;

	/* Retry rules and tool settings are read per request: a reload
	 * hands them to the running server, no restart needed. */
	x.retry.rules = y.retry.rules = NULL;
	x.tools = y.tools = NULL;
	x.ntools = y.ntools = 0;
	return strcmp(a->name, b->name) == 0 &&
	    a->trust_annotations_set == b->trust_annotations_set &&
	    cfg_equal_keys(server_keys, &x, &y);
}

/* Appends to buf as far as it goes; *off may pass len (then it is full). */
static void
cfg_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off += n < 0 ? 0 : (size_t)n;
}

void
config_summary(const struct config *cfg, char *buf, size_t len)
{
	char	 http[128];
	size_t	 i, off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	cfg_append(buf, len, &off, "valid: %zu server%s", cfg->nservers,
	    cfg->nservers == 1 ? "" : "s");
	for (i = 0; i < cfg->nservers && off < len; i++)
		cfg_append(buf, len, &off, "%s%s%s", i == 0 ? " (" : ", ",
		    cfg->servers[i].name,
		    cfg->servers[i].enabled ? "" : " [disabled]");
	cfg_format_listen(&cfg->listen.http, http, sizeof http);
	cfg_append(buf, len, &off, "%s, http %s, unix %s",
	    cfg->nservers > 0 ? ")" : "", http,
	    cfg->listen.unix_socket.enabled ? cfg->listen.unix_socket.path :
	    "off");
}

struct json_object *
config_dump_redacted(const struct config *cfg)
{
	struct json_object	*o, *servers;
	size_t			 i;

	o = cfg_dump_keys(root_keys, cfg);
	servers = json_object_new_object();
	for (i = 0; i < cfg->nservers; i++)
		json_object_object_add(servers, cfg->servers[i].name,
		    cfg_dump_keys(server_keys, &cfg->servers[i]));
	json_object_object_add(o, "servers", servers);
	return o;
}

int
config_check_file(const char *path, FILE *out, FILE *err)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 summary[512];

	config_errors_init(&errs);
	if ((cfg = config_load_file(path, &errs)) == NULL) {
		config_errors_print(&errs, err);
		config_errors_free(&errs);
		return -1;
	}
	config_summary(cfg, summary, sizeof summary);
	fprintf(out, "%s: %s\n", path, summary);
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
