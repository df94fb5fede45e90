/*
 * ${VAR} and ${VAR:-default} expansion of configuration strings, so secrets
 * and per-host values can come from the environment.  "$$" is a literal "$";
 * a "$" not followed by "{" or "$" is kept as it is.
 */
#ifndef MCPRELAY_EXPAND_H
#define MCPRELAY_EXPAND_H

#include <stddef.h>

/* Returns the value of name, or NULL when it is not set. */
typedef const char *(*expand_lookup_fn)(const char *name, void *arg);

/*
 * Returns a newly allocated copy of in with variables replaced, or NULL
 * with a message naming the problem (and the variable) written to err.
 * ${VAR} with VAR unset is an error, never an empty string; ${VAR:-default}
 * uses default (itself expanded) when VAR is unset or empty.
 */
char	*expand_vars_lookup(const char *in, expand_lookup_fn lookup,
	    void *arg, char *err, size_t errlen);

/*
 * The same against the process environment; on error *err is a fixed reason
 * ("unset variable", ...) that does not name the variable.
 */
char	*expand_vars(const char *in, const char **err);

#endif
