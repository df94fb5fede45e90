/*
 * Retry rules as one server applies them: the lists for a tool (its own,
 * the server's, the defaults'), the decision with the policy it implies,
 * the per-rule and per-action counters a handler keeps, and the JSON the
 * control socket shows (`rules`, `rules test`).
 */
#ifndef MCPRELAY_RULES_H
#define MCPRELAY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "retry-rules.h"

struct config_retry;
struct config_server;
struct json_object;

/* Counters owned by a handler; names are copied, so they survive reloads. */
struct rules_count {
	char		*name;
	uint64_t	 matches;
};

struct rules_counts {
	struct rules_count	*v;
	size_t			 n;
	uint64_t		 actions[RETRY_RULE_NACTIONS];
};

void		 rules_counts_free(struct rules_counts *);	/* contents */
void		 rules_counts_add(struct rules_counts *,
		    const struct retry_rule *);
uint64_t	 rules_counts_get(const struct rules_counts *, const char *);
/* {"matches": {NAME: n}, "actions": {"retry": n, ...}} (new). */
struct json_object *rules_counts_json(const struct rules_counts *);

/* The lists for a call of tool (NULL: not a tool call), in order. */
#define RULES_LISTS	3
void		 rules_lists(const struct config_server *, const char *tool,
		    const struct retry_rules *out[RULES_LISTS]);
/* True when any list for tool has a rule. */
bool		 rules_any(const struct config_server *, const char *tool);

/* A struct retry_policy from the configuration's fields. */
void		 rules_policy_from_config(struct retry_policy *,
		    const struct config_retry *);
/* The server's policy for a failure of class (NULL: no class). */
void		 rules_base_policy(const struct config_server *,
		    const char *class, struct retry_policy *);

/*
 * rule is NULL when none matched; scope is "tool", "server" or "defaults"
 * and index the rule's place in that list; hint is in seconds (-1: none);
 * policy is the rule's effective policy, base the server's before it.
 */
struct rules_decision {
	const struct retry_rule	*rule;
	const char		*scope;
	size_t			 index;
	double			 hint;
	struct retry_policy	 policy;
	struct retry_policy	 base;
};

/* Fills d; true when a rule matched ev (tool and class from ev). */
bool		 rules_decide(const struct config_server *,
		    const struct retry_event *, struct rules_decision *d);

/*
 * `mcprelayctl rules SERVER [TOOL]`: the effective list in order with
 * scope, origin and match counts, then what happens without a match.
 */
struct json_object *rules_list_json(const struct config_server *,
		    const char *tool, const struct rules_counts *);
/*
 * `mcprelayctl rules test`: which rule matches ev, its action, and the
 * delays a retry would use (nominal, before jitter).  retry_safe says
 * whether tool may run twice (idempotent), for the verdict on failures
 * after which the call may have run.
 */
struct json_object *rules_test_json(const struct config_server *,
		    const struct retry_event *, bool retry_safe);

/* Failures after which a sent call may have run (by class name). */
bool		 rules_class_maybe_ran(const char *class);

#endif
