/*
 * Environment expansion for configuration strings.  A default may itself
 * hold ${...}; it is only looked at when it is used, so an unset variable in
 * an unused default is not an error.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expand.h"
#include "xmalloc.h"

/* Deep enough for ${A:-${B:-${C}}}, shallow enough for any stack. */
#define EXPAND_MAX_DEPTH	8

enum expand_fail {
	EXPAND_OK = 0,
	EXPAND_UNSET,
	EXPAND_UNTERMINATED,
	EXPAND_BAD_NAME,
	EXPAND_TOO_DEEP,
};

static const char *const expand_fail_reasons[] = {
	[EXPAND_OK] = "no error",
	[EXPAND_UNSET] = "unset variable",
	[EXPAND_UNTERMINATED] = "unterminated '${'",
	[EXPAND_BAD_NAME] = "invalid variable name",
	[EXPAND_TOO_DEEP] = "defaults nested too deeply",
};

struct expand {
	expand_lookup_fn lookup;
	void		*arg;
	char		*buf;
	size_t		 len;
	size_t		 cap;
	int		 skip;	/* inside a default that is not used */
	enum expand_fail fail;
	char		*err;
	size_t		 errlen;
};

static void
expand_add(struct expand *x, const char *s, size_t n)
{
	if (x->skip)
		return;
	if (x->len + n + 1 > x->cap) {
		while (x->len + n + 1 > x->cap)
			x->cap = x->cap ? x->cap * 2 : 64;
		x->buf = xrealloc(x->buf, x->cap);
	}
	memcpy(x->buf + x->len, s, n);
	x->len += n;
	x->buf[x->len] = '\0';
}

static int
expand_error(struct expand *x, enum expand_fail fail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
expand_error(struct expand *x, enum expand_fail fail, const char *fmt, ...)
{
	va_list	ap;

	x->fail = fail;
	if (x->err != NULL && x->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool
expand_name_char(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return true;
	return !first && c >= '0' && c <= '9';
}

static int	expand_span(struct expand *, const char **, int, bool);

/* *pp points just past "${". */
static int
expand_var(struct expand *x, const char **pp, int depth)
{
	const char	*p = *pp, *q, *val;
	char		*name;
	int		 rc;

	for (q = p; expand_name_char(*q, q == p); q++)
		;
	if (q == p || (*q != '}' && !(q[0] == ':' && q[1] == '-'))) {
		if (*q == '\0')
			return expand_error(x, EXPAND_UNTERMINATED,
			    "unterminated '${' (missing '}')");
		/* Name the variable as far as it goes, for the reader. */
		q = strchr(p, '}');
		return expand_error(x, EXPAND_BAD_NAME,
		    "invalid variable name '${%.*s}'",
		    q == NULL ? 32 : (int)(q - p > 32 ? 32 : q - p), p);
	}
	name = xstrndup(p, (size_t)(q - p));
	val = x->skip ? NULL : x->lookup(name, x->arg);
	if (*q == '}') {
		if (val == NULL && !x->skip) {
			rc = expand_error(x, EXPAND_UNSET,
			    "environment variable '%.64s' is not set", name);
			free(name);
			return rc;
		}
		if (val != NULL)
			expand_add(x, val, strlen(val));
		free(name);
		*pp = q + 1;
		return 0;
	}
	free(name);

	/* ${NAME:-default}: the default counts only if NAME is unset or "". */
	p = q + 2;
	if (depth >= EXPAND_MAX_DEPTH)
		return expand_error(x, EXPAND_TOO_DEEP,
		    "'${...:-...}' defaults nested too deeply");
	if (val != NULL && *val != '\0') {
		expand_add(x, val, strlen(val));
		x->skip++;
		rc = expand_span(x, &p, depth + 1, true);
		x->skip--;
	} else
		rc = expand_span(x, &p, depth + 1, true);
	if (rc == -1)
		return -1;
	if (*p != '}')
		return expand_error(x, EXPAND_UNTERMINATED,
		    "unterminated '${' (missing '}')");
	*pp = p + 1;
	return 0;
}

/* Expands up to the end of the string or, inside a default, to its '}'. */
static int
expand_span(struct expand *x, const char **pp, int depth, bool in_default)
{
	const char	*p = *pp, *run;

	while (*p != '\0') {
		if (in_default && *p == '}')
			break;
		if (*p != '$') {
			for (run = p; *p != '\0' && *p != '$' &&
			    !(in_default && *p == '}'); p++)
				;
			expand_add(x, run, (size_t)(p - run));
			continue;
		}
		if (p[1] == '$') {
			expand_add(x, "$", 1);
			p += 2;
		} else if (p[1] == '{') {
			p += 2;
			if (expand_var(x, &p, depth) == -1)
				return -1;
		} else {
			expand_add(x, "$", 1);
			p++;
		}
	}
	*pp = p;
	return 0;
}

static char *
expand_run(struct expand *x, const char *in)
{
	const char	*p = in;

	x->buf = NULL;
	x->len = x->cap = 0;
	x->skip = 0;
	x->fail = EXPAND_OK;
	if (x->err != NULL && x->errlen > 0)
		x->err[0] = '\0';
	if (expand_span(x, &p, 0, false) == -1) {
		free(x->buf);
		return NULL;
	}
	if (x->buf == NULL)
		return xstrdup("");
	return x->buf;
}

char *
expand_vars_lookup(const char *in, expand_lookup_fn lookup, void *arg,
    char *err, size_t errlen)
{
	struct expand	x = { .lookup = lookup, .arg = arg, .err = err,
	    .errlen = errlen };

	return expand_run(&x, in);
}

static const char *
expand_getenv(const char *name, void *arg)
{
	return getenv(name);
}

char *
expand_vars(const char *in, const char **err)
{
	struct expand	 x = { .lookup = expand_getenv };
	char		*out;

	if ((out = expand_run(&x, in)) == NULL && err != NULL)
		*err = expand_fail_reasons[x.fail];
	return out;
}
