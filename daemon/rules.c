/*
 * Retry rules for one server: which lists apply to a call, the decision
 * and the policy it implies, counters, and what the control socket shows.
 * The handler acts on the decision; this file only decides and describes.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "retry-rules.h"
#include "rules.h"
#include "xmalloc.h"

static const char *const rules_scope_names[RULES_LISTS] = {
	"tool", "server", "defaults",
};

void
rules_counts_free(struct rules_counts *c)
{
	size_t	i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof *c);
}

void
rules_counts_add(struct rules_counts *c, const struct retry_rule *r)
{
	size_t	i;

	if ((unsigned)r->action < RETRY_RULE_NACTIONS)
		c->actions[r->action]++;
	for (i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].name, r->name) == 0) {
			c->v[i].matches++;
			return;
		}
	}
	c->v = xreallocarray(c->v, c->n + 1, sizeof *c->v);
	c->v[c->n].name = xstrdup(r->name);
	c->v[c->n].matches = 1;
	c->n++;
}

uint64_t
rules_counts_get(const struct rules_counts *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].name, name) == 0)
			return c->v[i].matches;
	}
	return 0;
}

struct json_object *
rules_counts_json(const struct rules_counts *c)
{
	struct json_object	*o, *m, *a;
	size_t			 i;

	o = json_object_new_object();
	m = json_object_new_object();
	for (i = 0; i < c->n; i++)
		json_object_object_add(m, c->v[i].name,
		    json_object_new_int64((int64_t)c->v[i].matches));
	a = json_object_new_object();
	for (i = 0; i < RETRY_RULE_NACTIONS; i++)
		json_object_object_add(a,
		    retry_rule_action_name((enum retry_rule_action)i),
		    json_object_new_int64((int64_t)c->actions[i]));
	json_object_object_add(o, "matches", m);
	json_object_object_add(o, "actions", a);
	return o;
}

void
rules_lists(const struct config_server *s, const char *tool,
    const struct retry_rules *out[RULES_LISTS])
{
	const struct config_tool	*t = config_tool_find(s, tool);

	out[0] = t != NULL ? t->retry.rules : NULL;
	out[1] = s->retry.rules;
	out[2] = s->default_rules;
}

bool
rules_any(const struct config_server *s, const char *tool)
{
	const struct retry_rules	*l[RULES_LISTS];
	size_t				 i;

	rules_lists(s, tool, l);
	for (i = 0; i < RULES_LISTS; i++) {
		if (l[i] != NULL && l[i]->n > 0)
			return true;
	}
	return false;
}

void
rules_policy_from_config(struct retry_policy *p, const struct config_retry *c)
{
	retry_policy_init(p);
	p->max_retries = c->max_retries;
	p->initial_delay = c->initial_delay;
	p->max_delay = c->max_delay;
	p->backoff_factor = c->backoff_factor;
	p->jitter = c->jitter;
	p->jitter_factor = c->jitter_factor;
	if (retry_jitter_mode_parse(c->jitter_mode, &p->jitter_mode) == -1)
		p->jitter_mode = RETRY_JITTER_PROPORTIONAL;
	p->attempt_timeout = c->attempt_timeout;
	p->deadline = c->deadline;
}

void
rules_base_policy(const struct config_server *s, const char *class,
    struct retry_policy *p)
{
	enum fail_class	c;

	if (class != NULL && fail_class_parse(class, &c) == 0 &&
	    s->retry_by_class_set[c])
		rules_policy_from_config(p, &s->retry_by_class[c]);
	else
		rules_policy_from_config(p, &s->retry);
}

bool
rules_decide(const struct config_server *s, const struct retry_event *ev,
    struct rules_decision *d)
{
	const struct retry_rules	*l[RULES_LISTS];
	size_t				 i, idx, off = 0;

	memset(d, 0, sizeof *d);
	d->hint = -1;
	rules_base_policy(s, ev->class, &d->base);
	d->policy = d->base;
	rules_lists(s, ev->tool, l);
	d->rule = retry_rules_match(l, RULES_LISTS, ev, &d->hint, &idx);
	if (d->rule == NULL)
		return false;
	for (i = 0; i < RULES_LISTS; i++) {
		if (l[i] == NULL)
			continue;
		if (idx < off + l[i]->n) {
			d->scope = rules_scope_names[i];
			d->index = idx - off;
			break;
		}
		off += l[i]->n;
	}
	retry_rule_policy(d->rule, &d->base, &d->policy);
	return true;
}

bool
rules_class_maybe_ran(const char *class)
{
	static const char *const maybe[] = { "reset", "timeout",
	    "upstream_exit", "http_5xx", "protocol_error" };
	size_t	i;

	for (i = 0; class != NULL && i < sizeof maybe / sizeof *maybe; i++) {
		if (strcmp(class, maybe[i]) == 0)
			return true;
	}
	return false;
}

/* What happens when no rule matches: retry_on and the built-in rules. */
static struct json_object *
rules_builtin_json(const struct config_server *s)
{
	struct json_object	*o = json_object_new_object(), *a;
	int			 c;

	a = json_object_new_array();
	for (c = 0; c < FAIL_NCLASSES; c++) {
		if (s->retry_on[c])
			json_object_array_add(a, json_object_new_string(
			    fail_class_name((enum fail_class)c)));
	}
	json_object_object_add(o, "retryOn", a);
	json_object_object_add(o, "description", json_object_new_string(
	    "failed connections back off and retry for the classes in "
	    "retryOn; a request lost with its connection is sent again "
	    "after the reconnect only when it is safe to repeat (else "
	    "-32015); JSON-RPC errors and isError results go to the "
	    "client as they are"));
	return o;
}

struct json_object *
rules_list_json(const struct config_server *s, const char *tool,
    const struct rules_counts *counts)
{
	const struct retry_rules	*l[RULES_LISTS];
	struct json_object		*o, *a, *r;
	char				 buf[512];
	size_t				 i, j;

	rules_lists(s, tool, l);
	o = json_object_new_object();
	json_object_object_add(o, "server", json_object_new_string(s->name));
	if (tool != NULL)
		json_object_object_add(o, "tool",
		    json_object_new_string(tool));
	a = json_object_new_array();
	for (i = 0; i < RULES_LISTS; i++) {
		if (l[i] == NULL)
			continue;
		for (j = 0; j < l[i]->n; j++) {
			r = config_rule_json(&l[i]->v[j]);
			json_object_object_add(r, "scope",
			    json_object_new_string(rules_scope_names[i]));
			retry_rule_describe(&l[i]->v[j], buf, sizeof buf);
			json_object_object_add(r, "match",
			    json_object_new_string(buf));
			json_object_object_add(r, "matches",
			    json_object_new_int64((int64_t)(counts != NULL ?
			    rules_counts_get(counts, l[i]->v[j].name) : 0)));
			json_object_array_add(a, r);
		}
	}
	json_object_object_add(o, "rules", a);
	if (tool != NULL) {
		const struct config_tool *t = config_tool_find(s, tool);

		json_object_object_add(o, "idempotent",
		    config_tool_idempotent(s, tool) == -1 ? NULL :
		    json_object_new_boolean(config_tool_idempotent(s, tool)));
		json_object_object_add(o, "timeout", json_object_new_double(
		    t != NULL && t->timeout > 0 ? t->timeout :
		    s->request_timeout));
		json_object_object_add(o, "queue",
		    json_object_new_boolean(t == NULL || t->queue));
	}
	json_object_object_add(o, "builtin", rules_builtin_json(s));
	if (counts != NULL)
		json_object_object_add(o, "counts", rules_counts_json(counts));
	return o;
}

static struct json_object *
rules_event_json(const struct retry_event *ev)
{
	struct json_object	*o = json_object_new_object();

	if (ev->class != NULL)
		json_object_object_add(o, "class",
		    json_object_new_string(ev->class));
	if (ev->http_status != 0)
		json_object_object_add(o, "http_status",
		    json_object_new_int(ev->http_status));
	if (ev->has_code)
		json_object_object_add(o, "jsonrpc_code",
		    json_object_new_int64(ev->jsonrpc_code));
	if (ev->method != NULL)
		json_object_object_add(o, "method",
		    json_object_new_string(ev->method));
	if (ev->tool != NULL)
		json_object_object_add(o, "tool",
		    json_object_new_string(ev->tool));
	if (ev->result_error)
		json_object_object_add(o, "result_error",
		    json_object_new_boolean(1));
	if (ev->message != NULL)
		json_object_object_add(o, "message",
		    json_object_new_string(ev->message));
	return o;
}

/* Nominal delays (before jitter) of every retry the policy allows. */
static struct json_object *
rules_delays_json(const struct retry_rule *r, const struct retry_policy *base,
    const struct retry_policy *p, double hint)
{
	struct json_object	*a = json_object_new_array();
	struct retry_policy	 nj = *base;
	double			 prev = 0, d;
	unsigned		 i;

	nj.jitter = false;
	for (i = 0; (int)i < p->max_retries && i < 100; i++) {
		if (r != NULL) {
			struct retry_rule	 tmp = *r;

			tmp.policy.jitter = false;
			tmp.policy_set |= RETRY_RULE_P_JITTER;
			d = retry_rule_delay(&tmp, &nj, i, prev, hint, NULL);
		} else
			d = retry_delay(&nj, i, prev, NULL);
		if (d < 0)
			break;
		json_object_array_add(a, json_object_new_double(d));
		prev = d;
	}
	return a;
}

struct json_object *
rules_test_json(const struct config_server *s, const struct retry_event *ev,
    bool retry_safe)
{
	struct rules_decision	 d;
	struct json_object	*o;
	enum fail_class		 c;
	const char		*action, *outcome;
	bool			 matched, maybe_ran;
	char			 buf[512];

	matched = rules_decide(s, ev, &d);
	o = json_object_new_object();
	json_object_object_add(o, "server", json_object_new_string(s->name));
	json_object_object_add(o, "event", rules_event_json(ev));
	maybe_ran = ev->method != NULL && rules_class_maybe_ran(ev->class);
	if (matched) {
		json_object_object_add(o, "rule", config_rule_json(d.rule));
		json_object_object_add(o, "scope",
		    json_object_new_string(d.scope));
		json_object_object_add(o, "position",
		    json_object_new_int64((int64_t)d.index + 1));
		retry_rule_describe(d.rule, buf, sizeof buf);
		json_object_object_add(o, "match", json_object_new_string(buf));
		action = retry_rule_action_name(d.rule->action);
	} else {
		json_object_object_add(o, "rule", NULL);
		json_object_object_add(o, "scope",
		    json_object_new_string("builtin"));
		if (ev->class != NULL && fail_class_parse(ev->class, &c) == 0 &&
		    s->retry_on[c])
			action = "retry";
		else
			action = "fail";
	}
	json_object_object_add(o, "action", json_object_new_string(action));
	if (d.hint >= 0)
		json_object_object_add(o, "hint",
		    json_object_new_double(d.hint));

	/* What actually happens, with retry safety over the rule. */
	if (strcmp(action, "retry") == 0 && maybe_ran && !retry_safe)
		outcome = "fail with -32015: the call may already have run "
		    "and the tool is not idempotent";
	else if (strcmp(action, "retry") == 0 && !matched &&
	    ev->method != NULL)
		outcome = "sent again after the reconnect, without delay, if "
		    "it is safe to repeat";
	else if (strcmp(action, "retry") == 0)
		outcome = "retry after the delays below";
	else if (strcmp(action, "fallback") == 0 && maybe_ran && !retry_safe)
		outcome = "fail with -32015: the call may already have run "
		    "and the tool is not idempotent";
	else if (strcmp(action, "fallback") == 0)
		outcome = "send to the fallback server (if it offers the "
		    "tool), else fail";
	else if (strcmp(action, "trip") == 0)
		outcome = "count a failure toward the circuit breaker, then "
		    "fail";
	else
		outcome = "fail: the client gets the error at once";
	json_object_object_add(o, "outcome", json_object_new_string(outcome));
	if (strcmp(action, "retry") == 0 && (matched || ev->method == NULL)) {
		json_object_object_add(o, "maxRetries",
		    json_object_new_int(d.policy.max_retries));
		json_object_object_add(o, "delays", rules_delays_json(
		    matched ? d.rule : NULL, &d.base, &d.policy, d.hint));
		json_object_object_add(o, "jitter", json_object_new_string(
		    !d.policy.jitter || d.hint >= 0 ? "none" :
		    retry_jitter_mode_name(d.policy.jitter_mode)));
	}
	json_object_object_add(o, "retrySafe",
	    json_object_new_boolean(retry_safe));
	return o;
}
