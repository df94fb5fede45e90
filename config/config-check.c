/*
 * Validation after the merge: rules between values (max_delay against
 * initial_delay, a fallback naming another server, keys that apply to one
 * server type only).  A single value is checked against its key's range as
 * it is read, in config.c, so the error points at it.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config-int.h"
#include "duration.h"
#include "xmalloc.h"

#define TYPE_STDIO	(1u << CONFIG_SERVER_STDIO)
#define TYPE_REMOTE	((1u << CONFIG_SERVER_HTTP) | (1u << CONFIG_SERVER_SSE))

/* Keys that mean something for some server types only. */
static const struct {
	const char	*key;
	unsigned	 types;
} check_type_keys[] = {
	{ "command", TYPE_STDIO },
	{ "args", TYPE_STDIO },
	{ "env", TYPE_STDIO },
	{ "cwd", TYPE_STDIO },
	{ "max_processes", TYPE_STDIO },
	{ "url", TYPE_REMOTE },
	{ "headers", TYPE_REMOTE },
	{ "tls", TYPE_REMOTE },
	{ "auth", TYPE_REMOTE },
};

/* The key node naming key in map, if it has a value. */
static const struct ynode *
check_map_key(const struct ynode *map, const char *key)
{
	size_t	i;

	if (map == NULL)
		return NULL;
	for (i = 0; i + 1 < map->nchild; i += 2) {
		if (map->child[i]->kind == YNODE_SCALAR &&
		    strcmp(map->child[i]->text, key) == 0)
			return map->child[i + 1]->null ? NULL : map->child[i];
	}
	return NULL;
}

/* A mark S holds for any field within [addr, addr + size). */
static const struct cfg_mark *
check_mark_within(const struct cfg_scope *S, const void *addr, size_t size)
{
	const char	*lo = addr;
	size_t		 i;

	for (i = 0; i < S->nmarks; i++) {
		if ((const char *)S->marks[i].addr >= lo &&
		    (const char *)S->marks[i].addr < lo + size)
			return S->marks[i].mark;
	}
	return NULL;
}

/*
 * Where to report a rule that a and b break together: at whichever was
 * written in S itself.  None means S inherited both, and the scope they
 * came from (the defaults) reports it.
 */
static const struct cfg_mark *
check_pick(const struct cfg_scope *S, const struct cfg_mark *a,
    const struct cfg_mark *b)
{
	if (a != NULL && a->scope == S)
		return a;
	if (b != NULL && b->scope == S)
		return b;
	return NULL;
}

/* cls is -1 for the plain retry block, else the class's effective copy. */
static void
check_retry(struct cfg_load *L, const struct cfg_scope *S,
    const struct config_retry *r, int cls)
{
	const struct cfg_mark	*mi, *mm, *m;
	char			 maxd[32], init[32];
	bool			 suffix;

	if (r->max_delay >= r->initial_delay)
		return;
	mi = cfg_mark_find(S, &r->initial_delay);
	mm = cfg_mark_find(S, &r->max_delay);
	/* Unless a class block is involved it is the plain block's error. */
	if (cls >= 0 && !((mi != NULL && mi->class_block) ||
	    (mm != NULL && mm->class_block)))
		return;
	if ((m = check_pick(S, mm, mi)) == NULL)
		return;
	duration_format(r->max_delay, maxd, sizeof maxd);
	duration_format(r->initial_delay, init, sizeof init);
	suffix = cls >= 0 && !m->class_block;
	cfg_error(L, m->line, m->col, m->path,
	    "max_delay (%s) must not be less than initial_delay (%s)%s%s",
	    maxd, init, suffix ? " for error class " : "",
	    suffix ? fail_class_name((enum fail_class)cls) : "");
}

static void
check_breaker(struct cfg_load *L, const struct cfg_scope *S,
    const struct config_breaker *b)
{
	const struct cfg_mark	*m;
	char			 maxo[32], open[32];

	if (b->max_open_duration >= b->open_duration)
		return;
	m = check_pick(S, cfg_mark_find(S, &b->max_open_duration),
	    cfg_mark_find(S, &b->open_duration));
	if (m == NULL)
		return;
	duration_format(b->max_open_duration, maxo, sizeof maxo);
	duration_format(b->open_duration, open, sizeof open);
	cfg_error(L, m->line, m->col, m->path, "max_open_duration (%s) must "
	    "not be less than open_duration (%s)", maxo, open);
}

static void
check_policy(struct cfg_load *L, const struct cfg_scope *S,
    const struct config_retry *retry, const struct config_retry *by_class,
    const bool *class_set, const struct config_breaker *breaker)
{
	int	c;

	check_retry(L, S, retry, -1);
	for (c = 0; c < FAIL_NCLASSES; c++) {
		if (class_set[c])
			check_retry(L, S, &by_class[c], c);
	}
	check_breaker(L, S, breaker);
}

static void
check_server(struct cfg_load *L, struct config_server *s,
    const struct cfg_scope *S)
{
	const struct cfg_mark	*m;
	const struct ynode	*kn;
	const char		*type = config_server_type_name(s->type);
	unsigned		 bit = 1u << s->type;
	size_t			 i;
	char			*path;

	m = cfg_mark_find(S, &s->trust_annotations);
	s->trust_annotations_set = m != NULL;
	if (m == NULL)
		s->trust_annotations = s->type == CONFIG_SERVER_STDIO;

	/* A server that did not parse cleanly would only add noise. */
	if (S->nerrors > 0)
		return;

	if (s->type == CONFIG_SERVER_STDIO && s->command == NULL)
		cfg_error(L, S->line, S->col, S->path,
		    "missing required key 'command' for type %s", type);
	if (s->type != CONFIG_SERVER_STDIO && s->url == NULL)
		cfg_error(L, S->line, S->col, S->path,
		    "missing required key 'url' for type %s", type);
	for (i = 0; i < sizeof check_type_keys / sizeof *check_type_keys;
	    i++) {
		if ((check_type_keys[i].types & bit) ||
		    (kn = check_map_key(S->map, check_type_keys[i].key)) ==
		    NULL)
			continue;
		xasprintf(&path, "%s.%s", S->path, check_type_keys[i].key);
		cfg_error(L, kn->line, kn->col, path, "applies only to %s",
		    check_type_keys[i].types == TYPE_STDIO ? "stdio servers" :
		    "http and sse servers");
		free(path);
	}
	if ((s->tls.cert_file == NULL) != (s->tls.key_file == NULL)) {
		m = check_mark_within(S, &s->tls, sizeof s->tls);
		cfg_error(L, m != NULL ? m->line : S->line,
		    m != NULL ? m->col : S->col, m != NULL ? m->path : S->path,
		    "tls.cert_file and tls.key_file must be given together");
	}
	if (s->auth.type == CONFIG_AUTH_OAUTH &&
	    s->auth.grant == CONFIG_GRANT_CLIENT_CREDENTIALS &&
	    (s->auth.client_id == NULL || s->auth.client_secret_file == NULL)) {
		m = check_mark_within(S, &s->auth, sizeof s->auth);
		cfg_error(L, m != NULL ? m->line : S->line,
		    m != NULL ? m->col : S->col, m != NULL ? m->path : S->path,
		    "auth.grant client_credentials needs auth.client_id and "
		    "auth.client_secret_file");
	}
	check_policy(L, S, &s->retry, s->retry_by_class,
	    s->retry_by_class_set, &s->circuit_breaker);
}

static int
check_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* names: every server's name, sorted, so a big file stays fast. */
static void
check_fallback(struct cfg_load *L, const struct config_server *s,
    const struct cfg_scope *S, const char **names, size_t n)
{
	const struct cfg_mark	*m;
	const char		*sug = NULL;

	if (s->fallback == NULL ||
	    (m = cfg_mark_find(S, &s->fallback)) == NULL)
		return;
	if (strcmp(s->fallback, s->name) == 0) {
		cfg_error(L, m->line, m->col, m->path,
		    "a server cannot fall back to itself");
		return;
	}
	if (bsearch(&s->fallback, names, n, sizeof *names,
	    check_name_cmp) != NULL)
		return;
	if (L->nerrors < CONFIG_ERRORS_MAX)
		sug = cfg_suggest(s->fallback, names, n);
	if (sug != NULL)
		cfg_error(L, m->line, m->col, m->path,
		    "unknown server '%.64s' (did you mean '%s'?)", s->fallback,
		    sug);
	else
		cfg_error(L, m->line, m->col, m->path,
		    "unknown server '%.64s'", s->fallback);
}

/* GET /metrics has no access control: only this machine may scrape. */
static void
check_metrics(struct cfg_load *L, const struct config_metrics *m)
{
	const struct cfg_mark	*mk;
	const char		*h = m->listen.host;

	if (!m->listen.enabled || h == NULL ||
	    strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 ||
	    strncmp(h, "127.", 4) == 0)
		return;
	if ((mk = cfg_mark_find(&L->root, &m->listen)) == NULL)
		return;
	cfg_error(L, mk->line, mk->col, mk->path, "metrics are served on a "
	    "loopback address only (127.0.0.1, [::1] or localhost), not "
	    "'%.64s'", h);
}

void
config_check(struct cfg_load *L)
{
	struct config	*cfg = L->cfg;
	const char	**names;
	size_t		  i;

	if (L->defaults.nerrors == 0)
		check_policy(L, &L->defaults, &cfg->defaults.retry,
		    cfg->defaults.retry_by_class,
		    cfg->defaults.retry_by_class_set,
		    &cfg->defaults.circuit_breaker);
	for (i = 0; i < cfg->nservers; i++)
		check_server(L, &cfg->servers[i], L->server_scopes[i]);
	names = xcalloc(cfg->nservers + 1, sizeof *names);
	for (i = 0; i < cfg->nservers; i++)
		names[i] = cfg->servers[i].name;
	check_metrics(L, &cfg->metrics);
	config_check_access(L);
	qsort(names, cfg->nservers, sizeof *names, check_name_cmp);
	for (i = 0; i < cfg->nservers; i++)
		check_fallback(L, &cfg->servers[i], L->server_scopes[i], names,
		    cfg->nservers);
	free(names);
}
