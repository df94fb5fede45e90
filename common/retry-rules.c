/*
 * Retry rules: matching a failure against ordered rules (first match wins),
 * the Retry-After-like hint a message's capture group carries, and the
 * delay a retry rule asks for.
 */
#include "autoconf.h"

#include <sys/types.h>

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "retry-rules.h"
#include "xmalloc.h"

/* A hint longer than this is a typo or an attack, not advice. */
#define RETRY_RULE_HINT_MAX	86400.0

static const char *const retry_rule_action_names[RETRY_RULE_NACTIONS] = {
	[RETRY_RULE_RETRY] = "retry",
	[RETRY_RULE_FAIL] = "fail",
	[RETRY_RULE_FALLBACK] = "fallback",
	[RETRY_RULE_TRIP] = "trip",
};

const char *
retry_rule_action_name(enum retry_rule_action a)
{
	if ((unsigned)a >= RETRY_RULE_NACTIONS)
		return "unknown";
	return retry_rule_action_names[a];
}

int
retry_rule_action_parse(const char *s, enum retry_rule_action *out)
{
	int	i;

	if ((i = names_index(retry_rule_action_names, RETRY_RULE_NACTIONS,
	    s)) == -1)
		return -1;
	*out = (enum retry_rule_action)i;
	return 0;
}

struct retry_rules *
retry_rules_new(void)
{
	return xcalloc(1, sizeof(struct retry_rules));
}

void
retry_rule_clear(struct retry_rule *r)
{
	size_t	i;

	free(r->name);
	free(r->origin);
	for (i = 0; i < r->nclasses; i++)
		free(r->classes[i]);
	free(r->classes);
	free(r->http_status);
	free(r->jsonrpc_code);
	for (i = 0; i < r->nmethods; i++)
		free(r->methods[i]);
	free(r->methods);
	free(r->tool);
	free(r->message);
	if (r->re_ok)
		regfree(&r->re);
	memset(r, 0, sizeof *r);
}

void
retry_rules_free(struct retry_rules *rs)
{
	size_t	i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		retry_rule_clear(&rs->v[i]);
	free(rs->v);
	free(rs);
}

struct retry_rule *
retry_rules_add(struct retry_rules *rs)
{
	struct retry_rule	*r;

	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof *rs->v);
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof *r);
	r->action = RETRY_RULE_RETRY;
	retry_policy_init(&r->policy);
	return r;
}

/*
 * regcomp() says what is wrong but not where.  This finds the usual
 * places: an unclosed bracket or group, a stray ')', a repetition with
 * nothing before it, a malformed interval, a trailing backslash.
 */
static size_t
retry_rule_error_offset(const char *p)
{
	size_t	 stack[64], depth = 0, i, j;
	bool	 atom = false;

	for (i = 0; p[i] != '\0'; i++) {
		switch (p[i]) {
		case '\\':
			if (p[i + 1] == '\0')
				return i;
			i++;
			atom = true;
			break;
		case '[':
			j = i + 1;
			if (p[j] == '^')
				j++;
			if (p[j] == ']')
				j++;
			for (; p[j] != '\0' && p[j] != ']'; j++) {
				if (p[j] == '[' && (p[j + 1] == ':' ||
				    p[j + 1] == '.' || p[j + 1] == '=')) {
					char	 end = p[j + 1];
					size_t	 k = j + 2;

					while (p[k] != '\0' && !(p[k] == end &&
					    p[k + 1] == ']'))
						k++;
					if (p[k] == '\0')
						return i;
					j = k + 1;
				}
			}
			if (p[j] == '\0')
				return i;
			i = j;
			atom = true;
			break;
		case '(':
			if (depth < sizeof stack / sizeof *stack)
				stack[depth] = i;
			depth++;
			atom = false;
			break;
		case ')':
			if (depth == 0)
				return i;
			depth--;
			atom = true;
			break;
		case '|':
			atom = false;
			break;
		case '*':
		case '+':
		case '?':
			if (!atom)
				return i;
			break;
		case '{':
			if (!atom)
				return i;
			j = i + 1;
			if (!isdigit((unsigned char)p[j]))
				return i;
			while (isdigit((unsigned char)p[j]))
				j++;
			if (p[j] == ',') {
				j++;
				while (isdigit((unsigned char)p[j]))
					j++;
			}
			if (p[j] != '}')
				return i;
			i = j;
			break;
		case '^':
		case '$':
			atom = false;
			break;
		default:
			atom = true;
			break;
		}
	}
	if (depth > 0)
		return depth <= sizeof stack / sizeof *stack ?
		    stack[depth - 1] : 0;
	return 0;
}

/*
 * glibc's regcomp() copies a repeated piece once per repetition it may
 * need ("a{3}" is three copies, "a+" two), and a repetition of a
 * repetition multiplies: "s++++" doubles four times, "(a{99}){99}" makes
 * 9,801 copies.  A pattern of a hundred characters can so ask for more
 * memory than the machine has (found by fuzzing the configuration).  This
 * counts the copies a pattern expands to and returns the offset of the
 * piece that takes it past RETRY_RULE_RE_MAX_PIECES, or -1.  It reads any
 * string safely; what it makes of an invalid one does not matter, since
 * regcomp() refuses that next.
 */
#define RETRY_RULE_RE_MAX_PIECES	4096
#define RETRY_RULE_RE_MAX_DEPTH		32

/* The copies a repetition operator at p[*i] makes; *i ends on its last
 * character. */
static double
retry_rule_repeat_factor(const char *p, size_t *i)
{
	unsigned long	 lo, hi;
	size_t		 j = *i + 1;

	if (p[*i] == '+')
		return 2;
	if (p[*i] != '{')
		return 1;			/* '*' and '?' */
	for (lo = 0; isdigit((unsigned char)p[j]) && lo < 100000; j++)
		lo = lo * 10 + (unsigned long)(p[j] - '0');
	hi = lo;
	if (p[j] == ',') {
		j++;
		if (!isdigit((unsigned char)p[j]))
			hi = lo + 1;		/* "{n,}": n copies and a star */
		for (hi = isdigit((unsigned char)p[j]) ? 0 : hi;
		    isdigit((unsigned char)p[j]) && hi < 100000; j++)
			hi = hi * 10 + (unsigned long)(p[j] - '0');
	}
	if (p[j] == '}')
		*i = j;
	return hi > 0 ? (double)hi : 1;
}

static ssize_t
retry_rule_too_complex(const char *p)
{
	double	 total[RETRY_RULE_RE_MAX_DEPTH], last[RETRY_RULE_RE_MAX_DEPTH];
	double	 f;
	size_t	 depth = 0, i, at;
	char	 end;

	total[0] = last[0] = 0;
	for (i = 0; p[i] != '\0'; i++) {
		at = i;
		switch (p[i]) {
		case '[':
			/* To its end, so that its characters are one piece. */
			if (p[i + 1] == '^')
				i++;
			if (p[i + 1] == ']')
				i++;
			while (p[i + 1] != '\0' && p[i + 1] != ']') {
				i++;
				if (p[i] != '[' || (p[i + 1] != ':' &&
				    p[i + 1] != '.' && p[i + 1] != '='))
					continue;
				end = p[i + 1];
				for (i += 2; p[i] != '\0' && !(p[i] == end &&
				    p[i + 1] == ']'); i++)
					;
				if (p[i] == '\0')
					return -1;
				i++;
			}
			if (p[i + 1] == ']')
				i++;
			total[depth] += 1;
			last[depth] = 1;
			break;
		case '(':
			if (++depth == RETRY_RULE_RE_MAX_DEPTH)
				return (ssize_t)at;
			total[depth] = last[depth] = 0;
			break;
		case ')':
			if (depth == 0)
				goto literal;	/* as glibc takes it */
			f = total[depth] > 0 ? total[depth] : 1;
			depth--;
			total[depth] += f;
			last[depth] = f;
			break;
		case '*':
		case '+':
		case '?':
		case '{':
			/* With nothing to repeat, or no interval after the
			 * '{', count it as a character: never less. */
			if (last[depth] == 0 || (p[i] == '{' &&
			    !isdigit((unsigned char)p[i + 1])))
				goto literal;
			f = retry_rule_repeat_factor(p, &i);
			total[depth] += last[depth] * (f - 1);
			last[depth] *= f;
			break;
		case '|':
		case '^':
		case '$':
			last[depth] = 0;
			break;
		case '\\':
			if (p[i + 1] != '\0')
				i++;
			/* FALLTHROUGH */
		default:
		literal:
			total[depth] += 1;
			last[depth] = 1;
			break;
		}
		if (total[depth] > RETRY_RULE_RE_MAX_PIECES)
			return (ssize_t)at;
	}
	return -1;
}

int
retry_rule_set_message(struct retry_rule *r, const char *pattern,
    char *errbuf, size_t errlen, size_t *offset)
{
	ssize_t	off;
	int	rc;

	if (r->re_ok)
		regfree(&r->re);
	r->re_ok = false;
	free(r->message);
	r->message = NULL;
	*offset = 0;
	/* Before regcomp(): it is what runs out of memory. */
	if ((off = retry_rule_too_complex(pattern)) != -1) {
		snprintf(errbuf, errlen, "too complex: its repetitions "
		    "expand to more than %d pieces", RETRY_RULE_RE_MAX_PIECES);
		*offset = (size_t)off;
		return -1;
	}
	if ((rc = regcomp(&r->re, pattern, REG_EXTENDED)) != 0) {
		regerror(rc, &r->re, errbuf, errlen);
		regfree(&r->re);
		*offset = retry_rule_error_offset(pattern);
		return -1;
	}
	r->re_ok = true;
	r->message = xstrdup(pattern);
	return 0;
}

bool
retry_rule_is_catch_all(const struct retry_rule *r)
{
	return r->nclasses == 0 && r->nhttp_status == 0 &&
	    r->njsonrpc_code == 0 && r->nmethods == 0 && r->tool == NULL &&
	    !r->result_error && !r->re_ok;
}

static bool
retry_rule_in_ranges(const struct retry_rule_range *v, size_t n, long x)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (x >= v[i].lo && x <= v[i].hi)
			return true;
	}
	return false;
}

/* The number in the first capture group that matched, or -1. */
static double
retry_rule_hint(const char *s, const regmatch_t *m, size_t nm)
{
	char	 buf[32], *end;
	size_t	 i, len;
	double	 v;

	for (i = 1; i < nm; i++) {
		if (m[i].rm_so < 0)
			continue;
		len = (size_t)(m[i].rm_eo - m[i].rm_so);
		if (len == 0 || len >= sizeof buf)
			return -1;
		memcpy(buf, s + m[i].rm_so, len);
		buf[len] = '\0';
		v = strtod(buf, &end);
		if (end == buf || *end != '\0' || !isfinite(v) || v < 0)
			return -1;
		return v > RETRY_RULE_HINT_MAX ? RETRY_RULE_HINT_MAX : v;
	}
	return -1;
}

bool
retry_rule_matches(const struct retry_rule *r, const struct retry_event *ev,
    double *hint)
{
	regmatch_t	m[10];
	size_t		i;
	bool		ok;

	if (hint != NULL)
		*hint = -1;
	if (r->nclasses > 0) {
		if (ev->class == NULL)
			return false;
		for (i = 0, ok = false; i < r->nclasses && !ok; i++)
			ok = strcmp(r->classes[i], ev->class) == 0;
		if (!ok)
			return false;
	}
	if (r->nhttp_status > 0 && (ev->http_status == 0 ||
	    !retry_rule_in_ranges(r->http_status, r->nhttp_status,
	    ev->http_status)))
		return false;
	if (r->njsonrpc_code > 0 && (!ev->has_code ||
	    !retry_rule_in_ranges(r->jsonrpc_code, r->njsonrpc_code,
	    ev->jsonrpc_code)))
		return false;
	if (r->nmethods > 0) {
		if (ev->method == NULL)
			return false;
		for (i = 0, ok = false; i < r->nmethods && !ok; i++)
			ok = fnmatch(r->methods[i], ev->method, 0) == 0;
		if (!ok)
			return false;
	}
	if (r->tool != NULL && (ev->tool == NULL ||
	    fnmatch(r->tool, ev->tool, 0) != 0))
		return false;
	if (r->result_error && !ev->result_error)
		return false;
	if (r->re_ok) {
		if (ev->message == NULL ||
		    regexec(&r->re, ev->message, sizeof m / sizeof *m, m,
		    0) != 0)
			return false;
		if (hint != NULL)
			*hint = retry_rule_hint(ev->message, m,
			    r->re.re_nsub + 1 < sizeof m / sizeof *m ?
			    r->re.re_nsub + 1 : sizeof m / sizeof *m);
	}
	return true;
}

const struct retry_rule *
retry_rules_match(const struct retry_rules *const *lists, size_t nlists,
    const struct retry_event *ev, double *hint, size_t *index)
{
	size_t	l, i, k = 0;

	if (hint != NULL)
		*hint = -1;
	for (l = 0; l < nlists; l++) {
		if (lists[l] == NULL)
			continue;
		for (i = 0; i < lists[l]->n; i++, k++) {
			if (retry_rule_matches(&lists[l]->v[i], ev, hint)) {
				if (index != NULL)
					*index = k;
				return &lists[l]->v[i];
			}
		}
	}
	return NULL;
}

void
retry_rule_policy(const struct retry_rule *r, const struct retry_policy *base,
    struct retry_policy *out)
{
	const struct retry_policy	*p = &r->policy;
	unsigned			 s = r->policy_set;

	*out = *base;
	if (s & RETRY_RULE_P_MAX_RETRIES)
		out->max_retries = p->max_retries;
	if (s & RETRY_RULE_P_INITIAL_DELAY)
		out->initial_delay = p->initial_delay;
	if (s & RETRY_RULE_P_MAX_DELAY)
		out->max_delay = p->max_delay;
	if (s & RETRY_RULE_P_BACKOFF_FACTOR)
		out->backoff_factor = p->backoff_factor;
	if (s & RETRY_RULE_P_JITTER)
		out->jitter = p->jitter;
	if (s & RETRY_RULE_P_JITTER_FACTOR)
		out->jitter_factor = p->jitter_factor;
	if (s & RETRY_RULE_P_JITTER_MODE)
		out->jitter_mode = p->jitter_mode;
	if (s & RETRY_RULE_P_ATTEMPT_TIMEOUT)
		out->attempt_timeout = p->attempt_timeout;
	if (s & RETRY_RULE_P_DEADLINE)
		out->deadline = p->deadline;
	/* An initial_delay above the inherited cap raises the cap. */
	if (out->max_delay < out->initial_delay)
		out->max_delay = out->initial_delay;
}

double
retry_rule_delay(const struct retry_rule *r, const struct retry_policy *base,
    unsigned attempt, double prev_delay, double hint,
    const struct retry_rng *rng)
{
	struct retry_policy	p;

	retry_rule_policy(r, base, &p);
	if ((int)attempt >= p.max_retries)
		return -1;
	if (hint >= 0)
		return hint > p.max_delay ? p.max_delay : hint;
	return retry_delay(&p, attempt, prev_delay, rng);
}

static void
retry_rule_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
retry_rule_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
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

static void
retry_rule_ranges(char *buf, size_t len, size_t *off, const char *key,
    const struct retry_rule_range *v, size_t n)
{
	size_t	i;

	if (n == 0)
		return;
	retry_rule_append(buf, len, off, "%s%s=", *off ? " " : "", key);
	for (i = 0; i < n; i++) {
		if (v[i].lo == v[i].hi)
			retry_rule_append(buf, len, off, "%s%ld", i ? "," : "",
			    v[i].lo);
		else
			retry_rule_append(buf, len, off, "%s%ld..%ld",
			    i ? "," : "", v[i].lo, v[i].hi);
	}
}

void
retry_rule_describe(const struct retry_rule *r, char *buf, size_t len)
{
	size_t	off = 0, i;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (r->nclasses > 0) {
		retry_rule_append(buf, len, &off, "class=");
		for (i = 0; i < r->nclasses; i++)
			retry_rule_append(buf, len, &off, "%s%s", i ? "," : "",
			    r->classes[i]);
	}
	retry_rule_ranges(buf, len, &off, "http_status", r->http_status,
	    r->nhttp_status);
	retry_rule_ranges(buf, len, &off, "jsonrpc_code", r->jsonrpc_code,
	    r->njsonrpc_code);
	if (r->nmethods > 0) {
		retry_rule_append(buf, len, &off, "%smethod=", off ? " " : "");
		for (i = 0; i < r->nmethods; i++)
			retry_rule_append(buf, len, &off, "%s%s", i ? "," : "",
			    r->methods[i]);
	}
	if (r->tool != NULL)
		retry_rule_append(buf, len, &off, "%stool=%s", off ? " " : "",
		    r->tool);
	if (r->result_error)
		retry_rule_append(buf, len, &off, "%sresult_error",
		    off ? " " : "");
	if (r->message != NULL)
		retry_rule_append(buf, len, &off, "%smessage=/%s/",
		    off ? " " : "", r->message);
	if (off == 0)
		retry_rule_append(buf, len, &off, "(any)");
}
