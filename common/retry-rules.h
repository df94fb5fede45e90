/*
 * Retry rules: an ordered list of matchers and actions that decide what
 * happens to a failed request (retry with its own backoff, fail at once,
 * send to the fallback, count toward the breaker).  First match wins; no
 * match means the caller's built-in defaults.  No I/O, no clock.
 */
#ifndef MCPRELAY_RETRY_RULES_H
#define MCPRELAY_RETRY_RULES_H

#include <sys/types.h>

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "retry.h"

enum retry_rule_action {
	RETRY_RULE_RETRY,
	RETRY_RULE_FAIL,
	RETRY_RULE_FALLBACK,
	RETRY_RULE_TRIP,
	RETRY_RULE_NACTIONS
};

/* "retry", "fail", "fallback", "trip"; "unknown" otherwise. */
const char	*retry_rule_action_name(enum retry_rule_action);
int		 retry_rule_action_parse(const char *,
		    enum retry_rule_action *);

/* An inclusive range of integers; a single value has lo == hi. */
struct retry_rule_range {
	long	lo;
	long	hi;
};

/* Which fields of a rule's policy override the base policy. */
#define RETRY_RULE_P_MAX_RETRIES	0x001
#define RETRY_RULE_P_INITIAL_DELAY	0x002
#define RETRY_RULE_P_MAX_DELAY		0x004
#define RETRY_RULE_P_BACKOFF_FACTOR	0x008
#define RETRY_RULE_P_JITTER		0x010
#define RETRY_RULE_P_JITTER_FACTOR	0x020
#define RETRY_RULE_P_JITTER_MODE	0x040
#define RETRY_RULE_P_ATTEMPT_TIMEOUT	0x080
#define RETRY_RULE_P_DEADLINE		0x100

/*
 * One rule.  Every matcher given must match (an absent one matches
 * anything); a rule with none is a catch-all.  Lists of values match when
 * any value does.
 */
struct retry_rule {
	char			*name;
	char			*origin;	/* "file:line" */
	int			 line;
	int			 col;

	char			**classes;	/* error class names */
	size_t			 nclasses;
	struct retry_rule_range	*http_status;
	size_t			 nhttp_status;
	struct retry_rule_range	*jsonrpc_code;
	size_t			 njsonrpc_code;
	char			**methods;	/* fnmatch() globs */
	size_t			 nmethods;
	char			*tool;		/* fnmatch() glob or NULL */
	bool			 result_error;	/* isError results only */
	char			*message;	/* POSIX ERE or NULL */
	regex_t			 re;
	bool			 re_ok;

	enum retry_rule_action	 action;
	struct retry_policy	 policy;	/* fields in policy_set */
	unsigned		 policy_set;
};

/* An ordered list of rules (one scope: defaults, a server, a tool). */
struct retry_rules {
	struct retry_rule	*v;
	size_t			 n;
};

/*
 * What failed.  class is a transport failure's class name (NULL for an
 * answer from the server); http_status 0 for none; has_code says whether
 * jsonrpc_code is set; result_error for a tools/call result with isError;
 * message the error text (JSON-RPC error message, the result's text, or
 * the transport's reason), NULL for none.  method NULL for a connect
 * attempt; tool NULL but for tools/call.
 */
struct retry_event {
	const char	*class;
	int		 http_status;
	bool		 has_code;
	long		 jsonrpc_code;
	const char	*method;
	const char	*tool;
	bool		 result_error;
	const char	*message;
};

/* An empty list: retry_rules_free() it, or embed it zeroed. */
struct retry_rules *retry_rules_new(void);
void		 retry_rules_free(struct retry_rules *);
/* Appends a zeroed rule (action RETRY, no matchers) and returns it. */
struct retry_rule *retry_rules_add(struct retry_rules *);
void		 retry_rule_clear(struct retry_rule *);

/*
 * Compiles pattern into rule (REG_EXTENDED).  On failure returns -1 with
 * *errbuf the reason and *offset the byte in pattern the error is at (0
 * when no better place is known).
 */
int		 retry_rule_set_message(struct retry_rule *, const char *pattern,
		    char *errbuf, size_t errlen, size_t *offset);

/* True when the rule has no matcher at all. */
bool		 retry_rule_is_catch_all(const struct retry_rule *);

/*
 * Whether rule matches ev.  When it does and its message has a capture
 * group that matched a number, *hint is that number (seconds); otherwise
 * *hint is -1.  hint may be NULL.
 */
bool		 retry_rule_matches(const struct retry_rule *,
		    const struct retry_event *, double *hint);

/*
 * The first matching rule of lists[0], then lists[1], ...; NULL lists are
 * skipped.  *index is the rule's position in the concatenation (0-based)
 * when index is not NULL.  NULL: no rule matched, use the defaults.
 */
const struct retry_rule *retry_rules_match(
		    const struct retry_rules *const *lists, size_t nlists,
		    const struct retry_event *, double *hint, size_t *index);

/* base with the rule's own policy fields over it. */
void		 retry_rule_policy(const struct retry_rule *,
		    const struct retry_policy *base, struct retry_policy *out);

/*
 * The delay before retry number attempt (0 = first) under the rule: the
 * hint when one was found (capped at the policy's max_delay), else
 * retry_delay() of the merged policy.  -1 when attempt is past the
 * policy's max_retries.
 */
double		 retry_rule_delay(const struct retry_rule *,
		    const struct retry_policy *base, unsigned attempt,
		    double prev_delay, double hint, const struct retry_rng *);

/* A one-line description of the matchers ("class=reset,timeout tool=x*"). */
void		 retry_rule_describe(const struct retry_rule *, char *buf,
		    size_t len);

#endif
