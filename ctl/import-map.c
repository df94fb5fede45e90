/*
 * mcprelayctl import: an agent's JSON MCP servers mapped to mcprelay.yaml
 * servers, secrets moved out to ${VAR} references, and the YAML text for
 * them.  No I/O here, so all of it is unit tested (tests/unit/test_import.c).
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "import.h"
#include "xmalloc.h"

static const struct imp_agent_info imp_agents[] = {
	[IMP_CLAUDE_CODE] = { "claude-code", "HOME", ".claude.json",
	    "mcpServers", "url", 1 },
	[IMP_CURSOR] = { "cursor", "HOME", ".cursor/mcp.json", "mcpServers",
	    "url", 0 },
	[IMP_VSCODE] = { "vscode", "XDG_CONFIG_HOME", "Code/User/mcp.json",
	    "servers", "url", 1 },
	[IMP_WINDSURF] = { "windsurf", "HOME",
	    ".codeium/windsurf/mcp_config.json", "mcpServers", "serverUrl", 0 },
	[IMP_GEMINI] = { "gemini", "HOME", ".gemini/settings.json",
	    "mcpServers", "httpUrl", 0 },
	[IMP_FILE] = { "file", NULL, NULL, NULL, "url", 1 },
};

const struct imp_agent_info *
imp_agent_info(enum imp_agent a)
{
	return &imp_agents[a];
}

int
imp_agent_parse(const char *name, enum imp_agent *out)
{
	size_t	i;

	for (i = 0; i < IMP_FILE; i++) {
		if (strcmp(imp_agents[i].name, name) == 0) {
			*out = (enum imp_agent)i;
			return 0;
		}
	}
	return -1;
}

char *
imp_agent_path(enum imp_agent a)
{
	const struct imp_agent_info	*ai = &imp_agents[a];
	const char			*base, *home;
	char				*path;

	if (ai->base == NULL)
		return NULL;
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		home = NULL;
	if (strcmp(ai->base, "XDG_CONFIG_HOME") == 0 &&
	    (base = getenv("XDG_CONFIG_HOME")) != NULL && *base == '/') {
		xasprintf(&path, "%s/%s", base, ai->path);
		return path;
	}
	if (home == NULL)
		return NULL;
	if (strcmp(ai->base, "XDG_CONFIG_HOME") == 0)
		xasprintf(&path, "%s/.config/%s", home, ai->path);
	else
		xasprintf(&path, "%s/%s", home, ai->path);
	return path;
}

/*
 * Buffers.
 */

void
imp_buf_add(struct imp_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 256;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
imp_buf_addf(struct imp_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fprintf(stderr, "mcprelayctl: out of memory\n");
		exit(1);
	}
	imp_buf_add(b, s, (size_t)n);
	free(s);
}

/*
 * Secrets: docs/import.md lists these rules.
 */

static int
imp_has_word(const char *upper, const char *w)
{
	return strstr(upper, w) != NULL;
}

static int
imp_ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int
imp_secret_name(const char *name)
{
	static const char *const words[] = { "TOKEN", "SECRET", "PASSWORD",
	    "PASSWD", "PASSPHRASE", "CREDENTIAL", "APIKEY", "API_KEY",
	    "API-KEY", "ACCESS_KEY", "PRIVATE_KEY", "AUTH", "COOKIE",
	    "SESSION_KEY", "PAT" };
	static const char *const not_secret[] = { "_PATH", "_FILE", "_DIR",
	    "_URL", "_HOST", "_PORT", "-URL" };
	char	*u;
	size_t	 i;
	int	 yes = 0;

	u = xstrdup(name);
	for (i = 0; u[i] != '\0'; i++)
		u[i] = (char)toupper((unsigned char)u[i]);
	for (i = 0; i < sizeof not_secret / sizeof *not_secret; i++) {
		if (imp_ends_with(u, not_secret[i]))
			goto out;
	}
	for (i = 0; i < sizeof words / sizeof *words; i++) {
		/* "PAT" only as a whole word: not PATH, PATTERN. */
		if (strcmp(words[i], "PAT") == 0) {
			if (strcmp(u, "PAT") == 0 || imp_ends_with(u, "_PAT"))
				yes = 1;
		} else if (imp_has_word(u, words[i]))
			yes = 1;
	}
	if (strcmp(u, "KEY") == 0 || imp_ends_with(u, "_KEY") ||
	    imp_ends_with(u, "-KEY"))
		yes = 1;
out:
	free(u);
	return yes;
}

int
imp_secret_value(const char *v)
{
	static const char *const prefixes[] = { "ghp_", "gho_", "ghu_",
	    "ghs_", "github_pat_", "glpat-", "sk-", "sk_live_", "sk_test_",
	    "rk_live_", "xoxb-", "xoxp-", "xapp-", "AKIA", "AIza", "npm_",
	    "hf_", "Bearer ", "Basic ", "Token " };
	size_t	i, n = strlen(v), letters = 0, digits = 0;

	for (i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		if (n > strlen(prefixes[i]) + 3 &&
		    strncmp(v, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	}
	/* A long token: letters and digits mixed, no spaces, not a path or
	 * a URL. */
	if (n < 24 || v[0] == '/' || v[0] == '.' || v[0] == '~' ||
	    strstr(v, "://") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (isalpha((unsigned char)v[i]))
			letters++;
		else if (isdigit((unsigned char)v[i]))
			digits++;
		else if (strchr("-_+/=.", v[i]) == NULL)
			return 0;
	}
	return letters > 0 && digits > 0 && (letters + digits) * 4 >= n * 3;
}

/*
 * Values: agents' variable syntaxes in, mcprelay's out.
 */

enum imp_text {
	IMP_TEXT_LITERAL,	/* no variable: may be a secret */
	IMP_TEXT_REFS,		/* holds ${VAR} for the daemon to expand */
	IMP_TEXT_BAD,		/* only the agent could resolve it */
};

static int
imp_var_char(int c, int first)
{
	return c == '_' || isalpha(c) || (!first && isdigit(c));
}

/* Whether ${NAME} is an environment variable for the agent (Claude Code,
 * Gemini CLI); the editors only read ${env:NAME}. */
static int
imp_plain_vars_are_env(enum imp_agent agent)
{
	return agent == IMP_CLAUDE_CODE || agent == IMP_GEMINI ||
	    agent == IMP_FILE;
}

/* Editors' predefined variables, never environment variables. */
static int
imp_agent_variable(const char *inner, size_t n)
{
	static const char *const names[] = { "workspaceFolder",
	    "workspaceFolderBasename", "workspaceRoot", "userHome", "file",
	    "fileDirname", "cwd", "pathSeparator", "/", "extensionPath" };
	size_t	i, k;

	k = strcspn(inner, ":}");
	if (k > n)
		k = n;
	if (k == 5 && strncmp(inner, "input", 5) == 0)
		return 1;
	for (i = 0; i < sizeof names / sizeof *names; i++) {
		if (strlen(names[i]) == k && strncmp(inner, names[i], k) == 0)
			return 1;
	}
	return 0;
}

/*
 * *out: the value as mcprelay.yaml text.  ${env:NAME} (VS Code, Cursor,
 * Windsurf) becomes ${NAME}; ${NAME} and ${NAME:-text} (Claude Code) stay;
 * Gemini's $NAME becomes ${NAME}; a literal '$' before '{' or '$' is
 * doubled.  Anything else in ${...} (${input:x}, ${workspaceFolder}) is
 * IMP_TEXT_BAD with *bad naming it.
 */
static enum imp_text
imp_translate(const char *v, enum imp_agent agent, char **out, char **bad)
{
	struct imp_buf	 b = { NULL, 0, 0 };
	const char	*p, *end, *inner;
	size_t		 n;
	enum imp_text	 kind = IMP_TEXT_LITERAL;

	*bad = NULL;
	imp_buf_add(&b, "", 0);
	for (p = v; *p != '\0'; p++) {
		if (p[0] != '$') {
			imp_buf_add(&b, p, 1);
			continue;
		}
		if (p[1] == '{' && (end = strchr(p + 2, '}')) != NULL) {
			inner = p + 2;
			n = (size_t)(end - inner);
			if (n > 4 && strncmp(inner, "env:", 4) == 0) {
				inner += 4;
				n -= 4;
			} else if (!imp_plain_vars_are_env(agent) ||
			    imp_agent_variable(inner, n))
				n = 0;	/* the agent's own: unresolvable */
			if (n > 0 && imp_var_char((unsigned char)*inner, 1)) {
				size_t	k = 1;

				while (k < n && imp_var_char(
				    (unsigned char)inner[k], 0))
					k++;
				if (k == n || (n > k + 1 &&
				    strncmp(inner + k, ":-", 2) == 0)) {
					imp_buf_add(&b, "${", 2);
					imp_buf_add(&b, inner, n);
					imp_buf_add(&b, "}", 1);
					kind = IMP_TEXT_REFS;
					p = end;
					continue;
				}
			}
			*bad = xstrndup(p, (size_t)(end - p) + 1);
			free(b.s);
			*out = NULL;
			return IMP_TEXT_BAD;
		}
		if (agent == IMP_GEMINI &&
		    imp_var_char((unsigned char)p[1], 1)) {
			n = 1;
			while (imp_var_char((unsigned char)p[1 + n], 0))
				n++;
			imp_buf_add(&b, "${", 2);
			imp_buf_add(&b, p + 1, n);
			imp_buf_add(&b, "}", 1);
			kind = IMP_TEXT_REFS;
			p += n;
			continue;
		}
		if (p[1] == '{' || p[1] == '$')
			imp_buf_add(&b, "$$", 2);
		else
			imp_buf_add(&b, "$", 1);
	}
	*out = b.s;
	return kind;
}

char *
imp_text(const char *raw, enum imp_agent agent)
{
	char	*out, *bad;

	if (imp_translate(raw, agent, &out, &bad) == IMP_TEXT_BAD) {
		free(bad);
		return NULL;
	}
	return out;
}

/*
 * The mapping.
 */

struct imp_map {
	enum imp_agent		 agent;
	const struct imp_ctx	*ctx;
	struct imp_result	*out;
	struct imp_server	*s;	/* being built */
	char			*why;	/* set when it cannot be imported */
};

static void
imp_why(struct imp_map *M, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
imp_why(struct imp_map *M, const char *fmt, ...)
{
	va_list	ap;

	if (M->why != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&M->why, fmt, ap) < 0)
		M->why = NULL;
	va_end(ap);
}

static int
imp_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return 0;
	}
	return 1;
}

static int
imp_var_taken(struct imp_map *M, const char *var, const char *value,
    int *same)
{
	const char	*e;
	size_t		 i, n = strlen(var);

	*same = 0;
	for (i = 0; M->ctx->env_vars != NULL &&
	    M->ctx->env_vars[i] != NULL; i++) {
		e = M->ctx->env_vars[i];
		if (strncmp(e, var, n) == 0 && e[n] == '=') {
			*same = strcmp(e + n + 1, value) == 0;
			return 1;
		}
	}
	for (i = 0; i < M->out->nsecrets; i++) {
		if (strcmp(M->out->secrets[i].var, var) == 0) {
			*same = strcmp(M->out->secrets[i].value, value) == 0;
			return 1;
		}
	}
	return 0;
}

/* MCPRELAY_<SERVER>_<NAME>, upper case, other characters as '_'. */
static char *
imp_secret_var(struct imp_map *M, const char *name, const char *value)
{
	char	*base, *var, *p;
	int	 n = 1, same;

	xasprintf(&base, "MCPRELAY_%s_%s", M->s->name, name);
	for (p = base; *p != '\0'; p++)
		*p = isalnum((unsigned char)*p) ?
		    (char)toupper((unsigned char)*p) : '_';
	var = xstrdup(base);
	while (imp_var_taken(M, var, value, &same) && !same) {
		free(var);
		xasprintf(&var, "%s_%d", base, ++n);
	}
	free(base);
	if (!same) {
		M->out->secrets = xreallocarray(M->out->secrets,
		    M->out->nsecrets + 1, sizeof *M->out->secrets);
		M->out->secrets[M->out->nsecrets].var = xstrdup(var);
		M->out->secrets[M->out->nsecrets].value = xstrdup(value);
		M->out->nsecrets++;
	}
	return var;
}

/*
 * One value of env, headers or the URL: translated, and when it is a
 * literal secret, moved.  Returns the YAML text, or NULL (M->why set).
 * An Authorization-style "Scheme credentials" keeps the scheme inline.
 */
static char *
imp_value(struct imp_map *M, const char *what, const char *name,
    const char *raw, int secret_name)
{
	const char	*sp;
	char		*text, *bad, *var, *res;
	enum imp_text	 kind;

	kind = imp_translate(raw, M->agent, &text, &bad);
	if (kind == IMP_TEXT_BAD) {
		imp_why(M, "%s %s uses %s, which only the agent can resolve",
		    what, name, bad);
		free(bad);
		return NULL;
	}
	if (kind == IMP_TEXT_REFS || *raw == '\0' ||
	    !(secret_name || imp_secret_value(raw)))
		return text;
	free(text);
	if (strpbrk(raw, "\r\n") != NULL) {
		imp_why(M, "%s %s: a secret with a line break cannot go in "
		    "the env file", what, name);
		return NULL;
	}
	sp = strchr(raw, ' ');
	if (sp != NULL && sp > raw && sp[1] != '\0' &&
	    strchr(sp + 1, ' ') == NULL && (strncasecmp(raw, "Bearer ", 7) ==
	    0 || strncasecmp(raw, "Basic ", 6) == 0 ||
	    strncasecmp(raw, "Token ", 6) == 0)) {
		var = imp_secret_var(M, name, sp + 1);
		xasprintf(&res, "%.*s ${%s}", (int)(sp - raw), raw, var);
	} else {
		var = imp_secret_var(M, name, raw);
		xasprintf(&res, "${%s}", var);
	}
	free(var);
	return res;
}

static struct imp_kv *
imp_map_kv(struct imp_map *M, struct json_object *o, const char *what,
    int header, size_t *nout)
{
	struct imp_kv	*kv;
	const char	*raw;
	char		*v;
	size_t		 n = 0;

	*nout = 0;
	if (!json_object_is_type(o, json_type_object)) {
		imp_why(M, "%s is not an object", what);
		return NULL;
	}
	kv = xcalloc((size_t)json_object_object_length(o) + 1, sizeof *kv);
	json_object_object_foreach(o, key, val) {
		if (!json_object_is_type(val, json_type_string)) {
			imp_why(M, "%s %s is not a string", what, key);
			break;
		}
		raw = json_object_get_string(val);
		v = imp_value(M, what, key, raw, imp_secret_name(key) ||
		    (header && strcasecmp(key, "Authorization") == 0));
		if (v == NULL)
			break;
		kv[n].name = xstrdup(key);
		kv[n].value = v;
		n++;
	}
	*nout = n;
	return kv;
}

static int
imp_url_has_secret(const char *url)
{
	const char	*q, *at, *slash, *p;
	char		*name;
	int		 yes = 0;

	/* user:password@host */
	if ((p = strstr(url, "://")) != NULL) {
		slash = strchr(p + 3, '/');
		at = strchr(p + 3, '@');
		if (at != NULL && (slash == NULL || at < slash))
			return 1;
		/* A path segment that looks like a token (Zapier's). */
		for (p = slash; p != NULL && *p == '/' && !yes; ) {
			size_t	n = strcspn(p + 1, "/?#");

			name = xstrndup(p + 1, n);
			yes = imp_secret_value(name);
			free(name);
			p += 1 + n;
		}
		if (yes)
			return 1;
	}
	if ((q = strchr(url, '?')) == NULL)
		return 0;
	for (p = q + 1; *p != '\0' && !yes; ) {
		size_t	n = strcspn(p, "=&#");

		name = xstrndup(p, n);
		yes = imp_secret_name(name) || strcmp(name, "key") == 0;
		free(name);
		p += n;
		p += strcspn(p, "&#");
		if (*p != '&')
			break;
		p++;
	}
	return yes;
}

static const char *const imp_known_keys[] = { "type", "command", "args",
    "env", "cwd", "url", "httpUrl", "serverUrl", "headers", "disabled",
    "enabled", "transport" };

static void
imp_note_ignored(struct imp_map *M, const char *key)
{
	size_t	i;
	char	*s;

	for (i = 0; i < sizeof imp_known_keys / sizeof *imp_known_keys; i++) {
		if (strcmp(imp_known_keys[i], key) == 0)
			return;
	}
	if (M->s->ignored == NULL)
		M->s->ignored = xstrdup(key);
	else {
		xasprintf(&s, "%s, %s", M->s->ignored, key);
		free(M->s->ignored);
		M->s->ignored = s;
	}
}

static const char *
imp_get_string(struct imp_map *M, struct json_object *e, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(e, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		imp_why(M, "%s is not a string", key);
		return NULL;
	}
	return json_object_get_string(v);
}

/* The transport and URL of a remote entry, by the agent's conventions. */
static void
imp_map_remote(struct imp_map *M, struct json_object *e, const char *type)
{
	const char	*url, *http_url, *server_url;
	char		*text;
	size_t		 n;

	url = imp_get_string(M, e, "url");
	http_url = imp_get_string(M, e, "httpUrl");
	server_url = imp_get_string(M, e, "serverUrl");
	if (http_url != NULL) {
		url = http_url;
		M->s->type = IMP_HTTP;
	} else if (server_url != NULL && url == NULL)
		url = server_url;
	if (url == NULL)
		return;
	if (http_url == NULL) {
		n = strcspn(url, "?#");
		if (type != NULL && strcmp(type, "sse") == 0)
			M->s->type = IMP_SSE;
		else if (type != NULL && (strcmp(type, "http") == 0 ||
		    strcmp(type, "streamable-http") == 0 ||
		    strcmp(type, "streamableHttp") == 0))
			M->s->type = IMP_HTTP;
		else if (type != NULL)
			imp_why(M, "type '%s' is not one mcprelay speaks", type);
		else if (M->agent == IMP_GEMINI)
			M->s->type = IMP_SSE;	/* Gemini: url is SSE */
		else
			/* Cursor and Windsurf guess; so do we. */
			M->s->type = n >= 4 && strncmp(url + n - 4, "/sse",
			    4) == 0 ? IMP_SSE : IMP_HTTP;
	}
	if (M->ctx->daemon_prefix != NULL && strncmp(url,
	    M->ctx->daemon_prefix, strlen(M->ctx->daemon_prefix)) == 0) {
		imp_why(M, "already points at mcprelayd");
		return;
	}
	if (imp_url_has_secret(url))
		text = imp_value(M, "url", "URL", url, 1);
	else
		text = imp_value(M, "url", "URL", url, 0);
	M->s->url = text;
}

static void
imp_map_stdio(struct imp_map *M, struct json_object *e, const char *cmd)
{
	struct json_object	*v, *a;
	const char		*cwd;
	char			*bad;
	size_t			 i, n;

	if (strcmp(cmd, "mcprelayctl") == 0 ||
	    (strlen(cmd) > 12 && strcmp(cmd + strlen(cmd) - 12,
	    "/mcprelayctl") == 0)) {
		imp_why(M, "already points at mcprelayd");
		return;
	}
	M->s->type = IMP_STDIO;
	if (imp_translate(cmd, M->agent, &M->s->command, &bad) ==
	    IMP_TEXT_BAD) {
		imp_why(M, "command uses %s, which only the agent can resolve",
		    bad);
		free(bad);
		return;
	}
	M->s->args = xcalloc(1, sizeof *M->s->args);
	if (json_object_object_get_ex(e, "args", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_array)) {
			imp_why(M, "args is not a list");
			return;
		}
		n = json_object_array_length(v);
		M->s->args = xreallocarray(M->s->args, n + 1,
		    sizeof *M->s->args);
		for (i = 0; i < n; i++) {
			a = json_object_array_get_idx(v, i);
			if (!json_object_is_type(a, json_type_string)) {
				imp_why(M, "args[%zu] is not a string", i);
				return;
			}
			if (imp_translate(json_object_get_string(a), M->agent,
			    &M->s->args[M->s->nargs], &bad) == IMP_TEXT_BAD) {
				imp_why(M, "args[%zu] uses %s, which only the "
				    "agent can resolve", i, bad);
				free(bad);
				return;
			}
			M->s->args[++M->s->nargs] = NULL;
		}
	}
	if (json_object_object_get_ex(e, "env", &v) &&
	    !json_object_is_type(v, json_type_null))
		M->s->env = imp_map_kv(M, v, "env", 0, &M->s->nenv);
	if ((cwd = imp_get_string(M, e, "cwd")) != NULL &&
	    imp_translate(cwd, M->agent, &M->s->cwd, &bad) == IMP_TEXT_BAD) {
		imp_why(M, "cwd uses %s, which only the agent can resolve",
		    bad);
		free(bad);
	}
	if (json_object_object_get_ex(e, "envFile", &v))
		imp_why(M, "envFile is not supported: put its variables in "
		    "env");
}

static void
imp_server_free(struct imp_server *s)
{
	size_t	i;

	free(s->name);
	free(s->command);
	for (i = 0; s->args != NULL && s->args[i] != NULL; i++)
		free(s->args[i]);
	free(s->args);
	for (i = 0; i < s->nenv; i++) {
		free(s->env[i].name);
		free(s->env[i].value);
	}
	free(s->env);
	free(s->cwd);
	free(s->url);
	for (i = 0; i < s->nheaders; i++) {
		free(s->headers[i].name);
		free(s->headers[i].value);
	}
	free(s->headers);
	free(s->ignored);
}

static void
imp_skip(struct imp_result *out, const char *name, const char *reason)
{
	out->skipped = xreallocarray(out->skipped, out->nskipped + 1,
	    sizeof *out->skipped);
	out->skipped[out->nskipped].name = xstrdup(name);
	out->skipped[out->nskipped].reason = xstrdup(reason);
	out->nskipped++;
}

static void
imp_map_entry(struct imp_map *M, const char *name, struct json_object *e)
{
	struct json_object	*v;
	struct imp_server	 s;
	const char		*cmd, *type;
	size_t			 i, nsecrets = M->out->nsecrets;

	memset(&s, 0, sizeof s);
	s.name = xstrdup(name);
	s.enabled = 1;
	M->s = &s;
	M->why = NULL;
	for (i = 0; M->ctx->existing != NULL &&
	    M->ctx->existing[i] != NULL; i++) {
		if (strcmp(M->ctx->existing[i], name) == 0)
			imp_why(M, "a server of this name is already in the "
			    "configuration (not overwritten)");
	}
	if (!imp_name_ok(name))
		imp_why(M, "the name is not valid in mcprelay (letters, "
		    "digits, '_', '.', '-')");
	if (!json_object_is_type(e, json_type_object))
		imp_why(M, "not an object");
	if (M->why != NULL)
		goto skip;
	json_object_object_foreach(e, key, val) {
		(void)val;
		imp_note_ignored(M, key);
	}
	if (json_object_object_get_ex(e, "disabled", &v) &&
	    json_object_get_boolean(v))
		s.enabled = 0;
	if (json_object_object_get_ex(e, "enabled", &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    !json_object_get_boolean(v))
		s.enabled = 0;
	type = imp_get_string(M, e, "type");
	if (type == NULL)
		type = imp_get_string(M, e, "transport");
	cmd = imp_get_string(M, e, "command");
	if (M->why != NULL)
		goto skip;
	if (cmd != NULL && (type == NULL || strcmp(type, "stdio") == 0))
		imp_map_stdio(M, e, cmd);
	else if (type != NULL && strcmp(type, "stdio") == 0)
		imp_why(M, "type stdio without a command");
	else {
		imp_map_remote(M, e, type);
		if (s.url == NULL && M->why == NULL)
			imp_why(M, "neither a command nor a URL");
		if (M->why == NULL && json_object_object_get_ex(e, "headers",
		    &v) && !json_object_is_type(v, json_type_null))
			s.headers = imp_map_kv(M, v, "header", 1, &s.nheaders);
	}
	if (M->why != NULL)
		goto skip;
	M->out->servers = xreallocarray(M->out->servers,
	    M->out->nservers + 1, sizeof *M->out->servers);
	M->out->servers[M->out->nservers++] = s;
	return;
skip:
	imp_skip(M->out, name, M->why != NULL ? M->why : "out of memory");
	free(M->why);
	M->why = NULL;
	/* Secrets of an entry that is not imported are not written. */
	while (M->out->nsecrets > nsecrets) {
		M->out->nsecrets--;
		free(M->out->secrets[M->out->nsecrets].var);
		free(M->out->secrets[M->out->nsecrets].value);
	}
	imp_server_free(&s);
}

struct json_object *
imp_servers_object(struct json_object *root, enum imp_agent agent)
{
	const struct imp_agent_info	*ai = &imp_agents[agent];
	struct json_object		*o;

	if (!json_object_is_type(root, json_type_object))
		return NULL;
	if (ai->servers_key != NULL)
		return json_object_object_get_ex(root, ai->servers_key, &o) &&
		    json_object_is_type(o, json_type_object) ? o : NULL;
	if (json_object_object_get_ex(root, "mcpServers", &o) &&
	    json_object_is_type(o, json_type_object))
		return o;
	if (json_object_object_get_ex(root, "servers", &o) &&
	    json_object_is_type(o, json_type_object))
		return o;
	return NULL;
}

int
imp_map(struct json_object *root, enum imp_agent agent,
    const struct imp_ctx *ctx, struct imp_result *out, char *err,
    size_t errlen)
{
	struct json_object	*servers;
	struct imp_map		 M;

	memset(out, 0, sizeof *out);
	if ((servers = imp_servers_object(root, agent)) == NULL) {
		snprintf(err, errlen, "no \"%s\" object at the top level",
		    imp_agents[agent].servers_key != NULL ?
		    imp_agents[agent].servers_key : "mcpServers\" or \"servers");
		return -1;
	}
	memset(&M, 0, sizeof M);
	M.agent = agent;
	M.ctx = ctx;
	M.out = out;
	json_object_object_foreach(servers, name, e)
		imp_map_entry(&M, name, e);
	return 0;
}

void
imp_result_free(struct imp_result *r)
{
	size_t	i;

	for (i = 0; i < r->nservers; i++)
		imp_server_free(&r->servers[i]);
	free(r->servers);
	for (i = 0; i < r->nskipped; i++) {
		free(r->skipped[i].name);
		free(r->skipped[i].reason);
	}
	free(r->skipped);
	for (i = 0; i < r->nsecrets; i++) {
		free(r->secrets[i].var);
		explicit_bzero(r->secrets[i].value,
		    strlen(r->secrets[i].value));
		free(r->secrets[i].value);
	}
	free(r->secrets);
	memset(r, 0, sizeof *r);
}

/* Appends the ${NAME}s of v missing from known to b, once each. */
static void
imp_refs_of(struct imp_buf *b, const char *v, char *const *known)
{
	const char	*p, *q;
	char		*name, *pat;
	size_t		 n;

	for (p = v; p != NULL && *p != '\0'; p++) {
		if (p[0] == '$' && p[1] == '$') {
			p++;
			continue;
		}
		if (p[0] != '$' || p[1] != '{')
			continue;
		for (q = p + 2, n = 0; imp_var_char((unsigned char)q[n],
		    n == 0); n++)
			;
		/* ${NAME:-text} does without NAME. */
		if (n == 0 || (q[n] == ':' && q[n + 1] == '-'))
			continue;
		name = xstrndup(q, n);
		xasprintf(&pat, "%s=", name);
		for (n = 0; known != NULL && known[n] != NULL; n++) {
			if (strncmp(known[n], pat, strlen(pat)) == 0)
				break;
		}
		if ((known == NULL || known[n] == NULL) &&
		    (b->s == NULL || strstr(b->s, pat) == NULL)) {
			/* "NAME=" marks each name in the list. */
			imp_buf_add(b, pat, strlen(pat));
			imp_buf_add(b, " ", 1);
		}
		free(pat);
		free(name);
	}
}

char *
imp_server_refs(const struct imp_server *s, char *const *known)
{
	struct imp_buf	 b = { NULL, 0, 0 };
	char		*out, *w, *p;
	size_t		 i;

	imp_refs_of(&b, s->command, known);
	for (i = 0; i < s->nargs; i++)
		imp_refs_of(&b, s->args[i], known);
	for (i = 0; i < s->nenv; i++)
		imp_refs_of(&b, s->env[i].value, known);
	imp_refs_of(&b, s->cwd, known);
	imp_refs_of(&b, s->url, known);
	for (i = 0; i < s->nheaders; i++)
		imp_refs_of(&b, s->headers[i].value, known);
	if (b.s == NULL)
		return NULL;
	/* "A= B= " to "A, B" */
	out = xcalloc(1, b.len + 1);
	for (w = out, p = b.s; *p != '\0'; p++) {
		if (*p == '=')
			continue;
		if (*p == ' ') {
			if (p[1] != '\0') {
				*w++ = ',';
				*w++ = ' ';
			}
			continue;
		}
		*w++ = *p;
	}
	free(b.s);
	return out;
}

/*
 * YAML out.
 */

void
imp_yaml_scalar(struct imp_buf *b, const char *s)
{
	static const char *const words[] = { "null", "Null", "NULL", "~",
	    "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
	    "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
	    "y", "Y", "n", "N" };
	const unsigned char	*p;
	size_t			 i;
	int			 plain = *s != '\0';

	/* Plain only when no YAML reading could differ from the text. */
	if (plain && (strchr("-?", *s) != NULL && (s[1] == '\0' ||
	    s[1] == ' ')))
		plain = 0;
	if (plain && !(isalnum((unsigned char)*s) || strchr("_/.-", *s)))
		plain = 0;
	for (p = (const unsigned char *)s; plain && *p != '\0'; p++) {
		if (!isalnum(*p) && strchr("_/.@+=-", *p) == NULL)
			plain = 0;
	}
	for (i = 0; plain && i < sizeof words / sizeof *words; i++) {
		if (strcmp(s, words[i]) == 0)
			plain = 0;
	}
	if (plain) {
		imp_buf_add(b, s, strlen(s));
		return;
	}
	imp_buf_add(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			imp_buf_add(b, "\\", 1);
			imp_buf_add(b, (const char *)p, 1);
		} else if (*p == '\n')
			imp_buf_add(b, "\\n", 2);
		else if (*p == '\t')
			imp_buf_add(b, "\\t", 2);
		else if (*p == '\r')
			imp_buf_add(b, "\\r", 2);
		else if (*p < 0x20 || *p == 0x7f)
			imp_buf_addf(b, "\\x%02x", *p);
		else
			imp_buf_add(b, (const char *)p, 1);
	}
	imp_buf_add(b, "\"", 1);
}

static void
imp_emit_kv(struct imp_buf *b, const char *key, const struct imp_kv *kv,
    size_t n, int indent)
{
	size_t	i;

	if (n == 0)
		return;
	imp_buf_addf(b, "%*s%s:\n", indent, "", key);
	for (i = 0; i < n; i++) {
		imp_buf_addf(b, "%*s", indent + 2, "");
		imp_yaml_scalar(b, kv[i].name);
		imp_buf_add(b, ": ", 2);
		imp_yaml_scalar(b, kv[i].value);
		imp_buf_add(b, "\n", 1);
	}
}

void
imp_emit_servers(struct imp_buf *b, const struct imp_result *r, int indent,
    const char *source)
{
	static const char *const types[] = { "stdio", "http", "sse" };
	const struct imp_server	*s;
	size_t			 i, j;
	int			 in = indent + 2;

	imp_buf_add(b, "", 0);
	if (r->nservers > 0 && source != NULL)
		imp_buf_addf(b, "%*s# Imported from %s by mcprelayctl import.\n",
		    indent, "", source);
	for (i = 0; i < r->nservers; i++) {
		s = &r->servers[i];
		imp_buf_addf(b, "%*s", indent, "");
		imp_yaml_scalar(b, s->name);
		imp_buf_add(b, ":\n", 2);
		imp_buf_addf(b, "%*stype: %s\n", in, "", types[s->type]);
		if (!s->enabled)
			imp_buf_addf(b, "%*senabled: false\n", in, "");
		if (s->command != NULL) {
			imp_buf_addf(b, "%*scommand: ", in, "");
			imp_yaml_scalar(b, s->command);
			imp_buf_add(b, "\n", 1);
		}
		if (s->nargs > 0) {
			imp_buf_addf(b, "%*sargs: [", in, "");
			for (j = 0; j < s->nargs; j++) {
				if (j > 0)
					imp_buf_add(b, ", ", 2);
				imp_yaml_scalar(b, s->args[j]);
			}
			imp_buf_add(b, "]\n", 2);
		}
		imp_emit_kv(b, "env", s->env, s->nenv, in);
		if (s->cwd != NULL) {
			imp_buf_addf(b, "%*scwd: ", in, "");
			imp_yaml_scalar(b, s->cwd);
			imp_buf_add(b, "\n", 1);
		}
		if (s->url != NULL) {
			imp_buf_addf(b, "%*surl: ", in, "");
			imp_yaml_scalar(b, s->url);
			imp_buf_add(b, "\n", 1);
		}
		imp_emit_kv(b, "headers", s->headers, s->nheaders, in);
	}
}
