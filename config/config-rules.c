/*
 * retry.rules and servers.NAME.tools in the configuration: reading rules
 * (matchers, action, own backoff) into common/retry-rules.h lists, the
 * per-tool settings, and the checks between them: unreachable rules and
 * rules that would run a call twice that may already have run.
 */
#include "autoconf.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "config-int.h"
#include "retry-rules.h"
#include "xmalloc.h"

/* The rule's own keys; the backoff keys of retry_keys follow them. */
static const char *const rule_own_keys[] = {
	"name", "class", "http_status", "jsonrpc_code", "method", "tool",
	"result_error", "message", "action",
};
#define RULE_OWN_KEYS	(sizeof rule_own_keys / sizeof *rule_own_keys)

static const char *const rule_action_names[RETRY_RULE_NACTIONS] = {
	"retry", "fail", "fallback", "trip",
};

/* Error classes after which a sent call may have run. */
static const enum fail_class rule_maybe_ran_classes[] = {
	FAIL_RESET, FAIL_TIMEOUT, FAIL_UPSTREAM_EXIT, FAIL_HTTP_5XX,
	FAIL_PROTOCOL_ERROR,
};

static char *
rule_item_path(const char *path, size_t i)
{
	char	*p;

	xasprintf(&p, "%s[%zu]", path, i);
	return p;
}

/* Each scalar of v (one, or a list of them), with its path. */
static size_t
rule_scalars(const struct ynode *v, const struct ynode ***out)
{
	static const struct ynode *one[1];

	if (v->kind == YNODE_SEQ) {
		*out = (const struct ynode **)v->child;
		return v->nchild;
	}
	one[0] = v;
	*out = one;
	return 1;
}

static int
rule_set_strings(struct cfg_load *L, const struct ynode *v, const char *path,
    const char *what, char ***list, size_t *n)
{
	const struct ynode	**items;
	size_t			  i, m;
	char			 *s, *ipath;
	int			  rc = 0;

	m = rule_scalars(v, &items);
	if (v->kind == YNODE_SEQ && m == 0) {
		cfg_error(L, v->line, v->col, path, "must not be empty");
		return -1;
	}
	for (i = 0; i < m; i++) {
		ipath = v->kind == YNODE_SEQ ? rule_item_path(path, i) :
		    xstrdup(path);
		if ((s = cfg_text(L, items[i], ipath, what)) == NULL)
			rc = -1;
		else if (*s == '\0') {
			cfg_error(L, items[i]->line, items[i]->col, ipath,
			    "must not be empty");
			free(s);
			rc = -1;
		} else {
			*list = xreallocarray(*list, *n + 1, sizeof **list);
			(*list)[(*n)++] = s;
		}
		free(ipath);
	}
	return rc;
}

static int
rule_parse_long(const char *s, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < INT_MIN ||
	    v > INT_MAX)
		return -1;
	*out = v;
	return 0;
}

/* N, or "A..B"; within [min, max]. */
static int
rule_set_ranges(struct cfg_load *L, const struct ynode *v, const char *path,
    long min, long max, struct retry_rule_range **list, size_t *n)
{
	const struct ynode	**items;
	size_t			  i, m;
	char			 *s, *ipath, *dots;
	long			  lo, hi;
	int			  rc = 0, ok;

	m = rule_scalars(v, &items);
	if (v->kind == YNODE_SEQ && m == 0) {
		cfg_error(L, v->line, v->col, path, "must not be empty");
		return -1;
	}
	for (i = 0; i < m; i++) {
		ipath = v->kind == YNODE_SEQ ? rule_item_path(path, i) :
		    xstrdup(path);
		if ((s = cfg_text(L, items[i], ipath,
		    "an integer or a range A..B")) == NULL) {
			free(ipath);
			rc = -1;
			continue;
		}
		if ((dots = strstr(s, "..")) != NULL) {
			*dots = '\0';
			ok = rule_parse_long(s, &lo) == 0 &&
			    rule_parse_long(dots + 2, &hi) == 0;
			*dots = '.';
		} else {
			ok = rule_parse_long(s, &lo) == 0;
			hi = lo;
		}
		if (!ok)
			cfg_error(L, items[i]->line, items[i]->col, ipath,
			    "expected an integer or a range A..B, got "
			    "'%.64s'", s);
		else if (lo > hi)
			cfg_error(L, items[i]->line, items[i]->col, ipath,
			    "range %ld..%ld is empty", lo, hi);
		else if (lo < min || hi > max)
			cfg_error(L, items[i]->line, items[i]->col, ipath,
			    "must be between %ld and %ld (got %.64s)", min,
			    max, s);
		else {
			*list = xreallocarray(*list, *n + 1, sizeof **list);
			(*list)[*n].lo = lo;
			(*list)[*n].hi = hi;
			(*n)++;
		}
		if (!ok || lo > hi || lo < min || hi > max)
			rc = -1;
		free(s);
		free(ipath);
	}
	return rc;
}

static int
rule_set_classes(struct cfg_load *L, const struct ynode *v, const char *path,
    struct retry_rule *r)
{
	const struct ynode	**items;
	enum fail_class		  c;
	size_t			  i, m;
	char			 *s, *ipath;
	int			  rc = 0;

	m = rule_scalars(v, &items);
	if (v->kind == YNODE_SEQ && m == 0) {
		cfg_error(L, v->line, v->col, path, "must not be empty");
		return -1;
	}
	for (i = 0; i < m; i++) {
		ipath = v->kind == YNODE_SEQ ? rule_item_path(path, i) :
		    xstrdup(path);
		if ((s = cfg_text(L, items[i], ipath, "an error class")) ==
		    NULL)
			rc = -1;
		else if (fail_class_parse(s, &c) == -1) {
			cfg_unknown(L, items[i], ipath, "error class", s,
			    fail_class_names, FAIL_NCLASSES);
			free(s);
			rc = -1;
		} else {
			r->classes = xreallocarray(r->classes, r->nclasses + 1,
			    sizeof *r->classes);
			r->classes[r->nclasses++] = s;
		}
		free(ipath);
	}
	return rc;
}

static int
rule_set_message(struct cfg_load *L, const struct ynode *v, const char *path,
    struct retry_rule *r)
{
	char	*s, err[128];
	size_t	 off;

	if ((s = cfg_text(L, v, path, "a regular expression")) == NULL)
		return -1;
	if (retry_rule_set_message(r, s, err, sizeof err, &off) == -1) {
		/* A quoted scalar's text starts after its quote. */
		cfg_error(L, v->line, v->col + (v->quoted ? 1 : 0) + (int)off,
		    path, "invalid regular expression at character %zu of "
		    "'%.64s': %s", off + 1, s, err);
		free(s);
		return -1;
	}
	free(s);
	return 0;
}

/* A scalar read by one of the table types into local storage. */
static int
rule_set_typed(struct cfg_load *L, const struct cfg_type *type,
    const void *arg, const struct ynode *kn, const struct ynode *v,
    void *out, size_t size, const char *path)
{
	struct cfg_key	k = { "", type, 0, size, 0, arg, 0 };

	return type->set(L, &k, kn, v, out, path);
}

static void
rule_policy_from_raw(struct retry_rule *r, const struct config_retry *raw)
{
	r->policy.max_retries = raw->max_retries;
	r->policy.initial_delay = raw->initial_delay;
	r->policy.max_delay = raw->max_delay;
	r->policy.backoff_factor = raw->backoff_factor;
	r->policy.jitter = raw->jitter;
	r->policy.jitter_factor = raw->jitter_factor;
	if (raw->jitter_mode != NULL)
		(void)retry_jitter_mode_parse(raw->jitter_mode,
		    &r->policy.jitter_mode);
	r->policy.attempt_timeout = raw->attempt_timeout;
	r->policy.deadline = raw->deadline;
}

/* The retry keys a rule may carry, in RETRY_RULE_P_* bit order. */
static int
rule_retry_key(const char *name)
{
	const struct cfg_key	*k;
	int			 i;

	for (k = cfg_retry_keys, i = 0; k->name != NULL; k++, i++) {
		if (strcmp(k->name, name) == 0)
			return i;
	}
	return -1;
}

static const char *const *
rule_key_names(size_t *n)
{
	static const char	*names[RULE_OWN_KEYS + 16];
	const struct cfg_key	*k;
	size_t			 i;

	for (i = 0; i < RULE_OWN_KEYS; i++)
		names[i] = rule_own_keys[i];
	for (k = cfg_retry_keys; k->name != NULL && i < RULE_OWN_KEYS + 16;
	    k++)
		names[i++] = k->name;
	*n = i;
	return names;
}

/* One rule (a mapping); 0 or -1 after reporting. */
static int
rule_parse(struct cfg_load *L, const struct ynode *map, const char *path,
    struct retry_rule *r)
{
	const struct ynode	*kn, *vn, *action = NULL, *backoff = NULL;
	const struct cfg_key	*rk;
	const char *const	*names;
	struct config_retry	 raw;
	char			*kpath, *s;
	size_t			 i, nnames;
	bool			*dup, b;
	int			 rc = 0, ki;

	memset(&raw, 0, sizeof raw);
	names = rule_key_names(&nnames);
	dup = cfg_map_dups(L, map, path, false);
	for (i = 0; i < map->nchild / 2; i++) {
		kn = map->child[2 * i];
		vn = map->child[2 * i + 1];
		if (dup[i]) {
			rc = -1;
			continue;
		}
		if (kn->kind != YNODE_SCALAR) {
			cfg_error(L, kn->line, kn->col, path,
			    "keys must be strings");
			rc = -1;
			continue;
		}
		if (vn->null)
			continue;
		kpath = cfg_path(path, kn->text);
		if (strcmp(kn->text, "name") == 0) {
			if ((s = cfg_text(L, vn, kpath, "a string")) == NULL)
				rc = -1;
			else if (*s == '\0') {
				cfg_error(L, vn->line, vn->col, kpath,
				    "must not be empty");
				free(s);
				rc = -1;
			} else {
				free(r->name);
				r->name = s;
			}
		} else if (strcmp(kn->text, "class") == 0)
			rc |= rule_set_classes(L, vn, kpath, r);
		else if (strcmp(kn->text, "http_status") == 0)
			rc |= rule_set_ranges(L, vn, kpath, 100, 599,
			    &r->http_status, &r->nhttp_status);
		else if (strcmp(kn->text, "jsonrpc_code") == 0)
			rc |= rule_set_ranges(L, vn, kpath, INT_MIN, INT_MAX,
			    &r->jsonrpc_code, &r->njsonrpc_code);
		else if (strcmp(kn->text, "method") == 0)
			rc |= rule_set_strings(L, vn, kpath, "a method",
			    &r->methods, &r->nmethods);
		else if (strcmp(kn->text, "tool") == 0) {
			if ((s = cfg_text(L, vn, kpath, "a tool name or glob"))
			    == NULL || *s == '\0') {
				if (s != NULL)
					cfg_error(L, vn->line, vn->col, kpath,
					    "must not be empty");
				free(s);
				rc = -1;
			} else {
				free(r->tool);
				r->tool = s;
			}
		} else if (strcmp(kn->text, "result_error") == 0) {
			if (rule_set_typed(L, &cfg_t_bool, NULL, kn, vn, &b,
			    sizeof b, kpath) == 0)
				r->result_error = b;
			else
				rc = -1;
		} else if (strcmp(kn->text, "message") == 0)
			rc |= rule_set_message(L, vn, kpath, r);
		else if (strcmp(kn->text, "action") == 0) {
			action = vn;
			if ((s = cfg_text(L, vn, kpath, "an action")) == NULL)
				rc = -1;
			else if (retry_rule_action_parse(s, &r->action) ==
			    -1) {
				cfg_unknown(L, vn, kpath, "action", s,
				    rule_action_names, RETRY_RULE_NACTIONS);
				rc = -1;
			}
			free(s);
		} else if ((ki = rule_retry_key(kn->text)) != -1) {
			rk = &cfg_retry_keys[ki];
			if (rk->type->set(L, rk, kn, vn, &raw, kpath) == 0) {
				r->policy_set |= 1u << ki;
				if (backoff == NULL)
					backoff = kn;
			} else
				rc = -1;
		} else {
			cfg_unknown(L, kn, path, "rule key", kn->text, names,
			    nnames);
			rc = -1;
		}
		free(kpath);
	}
	free(dup);
	if (action == NULL) {
		cfg_error(L, map->line, map->col, path,
		    "missing required key 'action' (one of retry, fail, "
		    "fallback, trip)");
		rc = -1;
	} else if (backoff != NULL && r->action != RETRY_RULE_RETRY) {
		kpath = cfg_path(path, backoff->text);
		cfg_error(L, backoff->line, backoff->col, kpath,
		    "only a rule with 'action: retry' has backoff settings "
		    "(this one has 'action: %s')",
		    retry_rule_action_name(r->action));
		free(kpath);
		rc = -1;
	}
	rule_policy_from_raw(r, &raw);
	return rc;
}

static const char *
rule_basename(const char *path)
{
	const char	*p = strrchr(path, '/');

	return p != NULL ? p + 1 : path;
}

static int
cfg_set_rules(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct retry_rules	**field = FIELD(base, k), *rs;
	struct retry_rule	 *r;
	const struct ynode	 *item;
	char			 *ipath;
	size_t			  i, j, catch_all = SIZE_MAX;
	int			  rc = 0;

	if (v->kind != YNODE_SEQ) {
		cfg_error(L, v->line, v->col, path, "expected a list, got %s",
		    ynode_what(v));
		return -1;
	}
	rs = retry_rules_new();
	for (i = 0; i < v->nchild; i++) {
		item = v->child[i];
		ipath = rule_item_path(path, i);
		if (item->kind != YNODE_MAP) {
			cfg_error(L, item->line, item->col, ipath,
			    "expected a mapping (a rule), got %s",
			    ynode_what(item));
			free(ipath);
			rc = -1;
			continue;
		}
		r = retry_rules_add(rs);
		r->line = item->line;
		r->col = item->col;
		xasprintf(&r->origin, "%s:%d", L->name, item->line);
		if (rule_parse(L, item, ipath, r) == -1)
			rc = -1;
		if (r->name == NULL)
			xasprintf(&r->name, "%s:%d", rule_basename(L->name),
			    item->line);
		for (j = 0; j + 1 < rs->n; j++) {
			if (strcmp(rs->v[j].name, r->name) == 0) {
				cfg_error(L, item->line, item->col, ipath,
				    "duplicate rule name '%.64s' (first at "
				    "line %d)", r->name, rs->v[j].line);
				rc = -1;
				break;
			}
		}
		if (catch_all != SIZE_MAX) {
			cfg_error(L, item->line, item->col, ipath,
			    "rule '%.64s' can never match: rule '%.64s' (line "
			    "%d) before it matches every failure", r->name,
			    rs->v[catch_all].name, rs->v[catch_all].line);
			rc = -1;
		} else if (retry_rule_is_catch_all(r))
			catch_all = rs->n - 1;
		free(ipath);
	}
	retry_rules_free(*field);
	*field = rs;
	return rc;
}

static void
rule_dump_ranges(struct json_object *o, const char *key,
    const struct retry_rule_range *v, size_t n)
{
	struct json_object	*a;
	char			 buf[48];
	size_t			 i;

	if (n == 0)
		return;
	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		if (v[i].lo == v[i].hi)
			json_object_array_add(a,
			    json_object_new_int64(v[i].lo));
		else {
			snprintf(buf, sizeof buf, "%ld..%ld", v[i].lo, v[i].hi);
			json_object_array_add(a, json_object_new_string(buf));
		}
	}
	json_object_object_add(o, key, a);
}

static void
rule_dump_strings(struct json_object *o, const char *key, char *const *v,
    size_t n)
{
	struct json_object	*a;
	size_t			 i;

	if (n == 0)
		return;
	a = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	json_object_object_add(o, key, a);
}

struct json_object *
config_rule_json(const struct retry_rule *r)
{
	struct json_object	*o = json_object_new_object();
	const struct retry_policy *p = &r->policy;
	unsigned		 s = r->policy_set;

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "origin",
	    json_object_new_string(r->origin != NULL ? r->origin : ""));
	rule_dump_strings(o, "class", r->classes, r->nclasses);
	rule_dump_ranges(o, "http_status", r->http_status, r->nhttp_status);
	rule_dump_ranges(o, "jsonrpc_code", r->jsonrpc_code,
	    r->njsonrpc_code);
	rule_dump_strings(o, "method", r->methods, r->nmethods);
	if (r->tool != NULL)
		json_object_object_add(o, "tool",
		    json_object_new_string(r->tool));
	if (r->result_error)
		json_object_object_add(o, "result_error",
		    json_object_new_boolean(1));
	if (r->message != NULL)
		json_object_object_add(o, "message",
		    json_object_new_string(r->message));
	json_object_object_add(o, "action",
	    json_object_new_string(retry_rule_action_name(r->action)));
	if (s & RETRY_RULE_P_MAX_RETRIES)
		json_object_object_add(o, "max_retries",
		    json_object_new_int(p->max_retries));
	if (s & RETRY_RULE_P_INITIAL_DELAY)
		json_object_object_add(o, "initial_delay",
		    json_object_new_double(p->initial_delay));
	if (s & RETRY_RULE_P_MAX_DELAY)
		json_object_object_add(o, "max_delay",
		    json_object_new_double(p->max_delay));
	if (s & RETRY_RULE_P_BACKOFF_FACTOR)
		json_object_object_add(o, "backoff_factor",
		    json_object_new_double(p->backoff_factor));
	if (s & RETRY_RULE_P_JITTER)
		json_object_object_add(o, "jitter",
		    json_object_new_boolean(p->jitter));
	if (s & RETRY_RULE_P_JITTER_FACTOR)
		json_object_object_add(o, "jitter_factor",
		    json_object_new_double(p->jitter_factor));
	if (s & RETRY_RULE_P_JITTER_MODE)
		json_object_object_add(o, "jitter_mode", json_object_new_string(
		    retry_jitter_mode_name(p->jitter_mode)));
	if (s & RETRY_RULE_P_ATTEMPT_TIMEOUT)
		json_object_object_add(o, "attempt_timeout",
		    json_object_new_double(p->attempt_timeout));
	if (s & RETRY_RULE_P_DEADLINE)
		json_object_object_add(o, "deadline",
		    json_object_new_double(p->deadline));
	return o;
}

static struct json_object *
cfg_dump_rules(const struct cfg_key *k, const void *base)
{
	struct retry_rules *const	*field = CFIELD(base, k);
	struct json_object		*a;
	size_t				 i;

	if (*field == NULL)
		return NULL;
	a = json_object_new_array();
	for (i = 0; i < (*field)->n; i++)
		json_object_array_add(a, config_rule_json(&(*field)->v[i]));
	return a;
}

static void
cfg_free_rules(const struct cfg_key *k, void *base)
{
	struct retry_rules	**field = FIELD(base, k);

	retry_rules_free(*field);
	*field = NULL;
}

/* Same rules in the same order; where they were written does not count. */
static bool
cfg_equal_rules(const struct cfg_key *k, const void *a, const void *b)
{
	struct retry_rules *const	*x = CFIELD(a, k), *const *y =
					    CFIELD(b, k);
	struct json_object		*ox, *oy;
	size_t				 i;
	bool				 eq;

	if (*x == NULL || *y == NULL)
		return *x == *y;
	if ((*x)->n != (*y)->n)
		return false;
	for (i = 0; i < (*x)->n; i++) {
		ox = config_rule_json(&(*x)->v[i]);
		oy = config_rule_json(&(*y)->v[i]);
		json_object_object_del(ox, "origin");
		json_object_object_del(oy, "origin");
		eq = json_object_equal(ox, oy);
		json_object_put(ox);
		json_object_put(oy);
		if (!eq)
			return false;
	}
	return true;
}

const struct cfg_type cfg_t_rules = {
	cfg_set_rules, cfg_dump_rules, cfg_free_rules, cfg_equal_rules, true
};

/*
 * servers.NAME.tools
 */

static const struct cfg_range range_tool_timeout = { 0.001, INFINITY };

static const struct cfg_key tool_retry_keys[] = {
	CFG_FIELD("rules", struct config_tool_retry, rules, &cfg_t_rules,
	    NULL, 0),
	CFG_END
};

static const struct cfg_key tool_keys[] = {
	CFG_FIELD("timeout", struct config_tool, timeout, &cfg_t_duration,
	    &range_tool_timeout, 0),
	CFG_FIELD("idempotent", struct config_tool, idempotent, &cfg_t_bool,
	    NULL, 0),
	CFG_FIELD("queue", struct config_tool, queue, &cfg_t_bool, NULL, 0),
	CFG_FIELD("retry", struct config_tool, retry, &cfg_t_section,
	    tool_retry_keys, 0),
	CFG_END
};

static void
cfg_tools_free(struct config_tool *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		cfg_free_keys(tool_keys, &v[i]);
		free(v[i].name);
	}
	free(v);
}

static int
cfg_set_tools(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct config_tool	**field = FIELD(base, k), *tools, *t;
	size_t			 *count = COUNT(base, k), i, n;
	const struct ynode	 *tk, *tv;
	char			 *tpath;
	bool			 *dup;

	if (!cfg_want_map(L, v, path))
		return -1;
	n = v->nchild / 2;
	/* Allocated once: marks keep the fields' addresses. */
	tools = xcalloc(n ? n : 1, sizeof *tools);
	dup = cfg_map_dups(L, v, path, false);
	cfg_tools_free(*field, *count);
	*field = tools;
	*count = 0;
	for (i = 0; i < n; i++) {
		tk = v->child[2 * i];
		tv = v->child[2 * i + 1];
		if (dup[i])
			continue;
		if (tk->kind != YNODE_SCALAR || tk->null ||
		    *tk->text == '\0') {
			cfg_error(L, tk->line, tk->col, path,
			    "tool names must be non-empty strings");
			continue;
		}
		t = &tools[(*count)++];
		t->name = xstrdup(tk->text);
		t->queue = true;
		t->line = tk->line;
		t->col = tk->col;
		if (tv->null)
			continue;
		tpath = cfg_path(path, tk->text);
		if (cfg_want_map(L, tv, tpath)) {
			cfg_parse_map(L, tk, tv, tool_keys, t, tpath);
			t->idempotent_set = cfg_mark_find(L->cur,
			    &t->idempotent) != NULL;
		}
		free(tpath);
	}
	free(dup);
	return 0;
}

static struct json_object *
cfg_dump_tools(const struct cfg_key *k, const void *base)
{
	struct config_tool *const	*field = CFIELD(base, k);
	const size_t			*count = CCOUNT(base, k);
	struct json_object		*o = json_object_new_object(), *t;
	size_t				 i;

	for (i = 0; i < *count; i++) {
		t = cfg_dump_keys(tool_keys, &(*field)[i]);
		if (!(*field)[i].idempotent_set)
			json_object_object_del(t, "idempotent");
		if (json_object_object_get_ex(t, "timeout", NULL) &&
		    (*field)[i].timeout == 0)
			json_object_object_del(t, "timeout");
		json_object_object_add(o, (*field)[i].name, t);
	}
	return o;
}

static void
cfg_free_tools(const struct cfg_key *k, void *base)
{
	struct config_tool	**field = FIELD(base, k);
	size_t			 *count = COUNT(base, k);

	cfg_tools_free(*field, *count);
	*field = NULL;
	*count = 0;
}

static bool
cfg_equal_tools(const struct cfg_key *k, const void *a, const void *b)
{
	struct config_tool *const	*x = CFIELD(a, k), *const *y =
					    CFIELD(b, k);
	const size_t			*nx = CCOUNT(a, k);
	const size_t			*ny = CCOUNT(b, k);
	size_t				 i;

	if (*nx != *ny)
		return false;
	for (i = 0; i < *nx; i++) {
		if (strcmp((*x)[i].name, (*y)[i].name) != 0 ||
		    (*x)[i].idempotent_set != (*y)[i].idempotent_set ||
		    !cfg_equal_keys(tool_keys, &(*x)[i], &(*y)[i]))
			return false;
	}
	return true;
}

const struct cfg_type cfg_t_tools = {
	cfg_set_tools, cfg_dump_tools, cfg_free_tools, cfg_equal_tools, false
};

const struct config_tool *
config_tool_find(const struct config_server *s, const char *tool)
{
	size_t	i;

	if (tool == NULL)
		return NULL;
	for (i = 0; i < s->ntools; i++) {
		if (strcmp(s->tools[i].name, tool) == 0)
			return &s->tools[i];
	}
	return NULL;
}

int
config_tool_idempotent(const struct config_server *s, const char *tool)
{
	const struct config_tool	*t = config_tool_find(s, tool);
	size_t				 i;

	if (t != NULL && t->idempotent_set)
		return t->idempotent ? 1 : 0;
	for (i = 0; tool != NULL && i < s->nidempotent_tools; i++) {
		if (strcmp(s->idempotent_tools[i], tool) == 0)
			return 1;
	}
	return -1;
}

/*
 * Retry safety at load time.  A retry rule that matches a failure after
 * which a sent call may have run (the connection broke, the answer did not
 * come) and is aimed at tool calls would run them twice: only tools the
 * operator declared idempotent may be its target.
 */

/*
 * The failure after which a call may have run that the rule retries ("a
 * 'reset' failure"), in buf, or NULL when it retries none.
 */
static const char *
rule_maybe_ran_class(const struct retry_rule *r, char *buf, size_t len)
{
	enum fail_class	 c;
	size_t		 i, j;

	if (r->action != RETRY_RULE_RETRY || r->result_error ||
	    r->njsonrpc_code > 0)
		return NULL;
	if (r->nhttp_status > 0) {
		for (i = 0; i < r->nhttp_status; i++) {
			if (r->http_status[i].hi >= 500 &&
			    r->http_status[i].lo <= 599)
				return "an HTTP 5xx";
			if (r->http_status[i].lo <= 408 &&
			    r->http_status[i].hi >= 408)
				return "an HTTP 408";
		}
		return NULL;
	}
	if (r->nclasses == 0)
		return "a lost connection";
	for (i = 0; i < r->nclasses; i++) {
		if (fail_class_parse(r->classes[i], &c) == -1)
			continue;
		for (j = 0; j < sizeof rule_maybe_ran_classes /
		    sizeof *rule_maybe_ran_classes; j++) {
			if (c != rule_maybe_ran_classes[j])
				continue;
			snprintf(buf, len, "a '%s' failure", r->classes[i]);
			return buf;
		}
	}
	return NULL;
}

static bool
rule_aims_at_tool_calls(const struct retry_rule *r)
{
	size_t	i;

	if (r->tool != NULL)
		return true;
	for (i = 0; i < r->nmethods; i++) {
		if (fnmatch(r->methods[i], "tools/call", 0) == 0)
			return true;
	}
	return false;
}

static bool
rule_is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static void
rule_check_list(struct cfg_load *L, const struct config_server *s,
    const struct retry_rules *rs, const char *path, const char *tool)
{
	const struct retry_rule	*r;
	const char		*why, *target;
	char			*ipath, where[160], buf[64];
	size_t			 i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i];
		if ((why = rule_maybe_ran_class(r, buf, sizeof buf)) == NULL)
			continue;
		target = tool != NULL ? tool : r->tool;
		if (tool == NULL && !rule_aims_at_tool_calls(r))
			continue;	/* safety decides per request */
		if (target != NULL && !rule_is_glob(target) &&
		    config_tool_idempotent(s, target) == 1)
			continue;
		ipath = rule_item_path(path, i);
		snprintf(where, sizeof where, "%s%s%s",
		    strncmp(path, "defaults", 8) == 0 ? " of server '" : "",
		    strncmp(path, "defaults", 8) == 0 ? s->name : "",
		    strncmp(path, "defaults", 8) == 0 ? "'" : "");
		if (target == NULL || rule_is_glob(target))
			cfg_error(L, r->line, r->col, ipath,
			    "rule '%.64s' would run tool calls%s again after "
			    "%s, when they may already have run; aim it at "
			    "named tools declared 'idempotent: true' under "
			    "servers.%s.tools", r->name, where, why, s->name);
		else
			cfg_error(L, r->line, r->col, ipath,
			    "rule '%.64s' would run tool '%.64s'%s again "
			    "after %s, when it may already have run; "
			    "declare it 'idempotent: true' under "
			    "servers.%s.tools.%.64s if running it twice is "
			    "harmless", r->name, target, where, why, s->name,
			    target);
		free(ipath);
	}
}

void
config_rules_check(struct cfg_load *L)
{
	struct config		*cfg = L->cfg;
	struct config_server	*s;
	char			*path;
	size_t			 i, j;

	for (i = 0; i < cfg->nservers; i++) {
		s = &cfg->servers[i];
		s->default_rules = cfg->defaults.retry.rules;
		for (j = 0; j < s->ntools; j++) {
			xasprintf(&path, "servers.%s.tools.%s.retry.rules",
			    s->name, s->tools[j].name);
			rule_check_list(L, s, s->tools[j].retry.rules, path,
			    s->tools[j].name);
			free(path);
		}
		xasprintf(&path, "servers.%s.retry.rules", s->name);
		rule_check_list(L, s, s->retry.rules, path, NULL);
		free(path);
		rule_check_list(L, s, cfg->defaults.retry.rules,
		    "defaults.retry.rules", NULL);
	}
}
