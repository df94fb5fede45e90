/*
 * The file named by the top-level env_file key: NAME=VALUE lines whose
 * variables ${NAME} may use, so secrets can live beside mcprelay.yaml in a
 * file of mode 0600 (mcprelayctl import writes one).  docs/config.md.
 */
#ifndef MCPRELAY_ENV_FILE_H
#define MCPRELAY_ENV_FILE_H

#include <stddef.h>

/*
 * Parses text as an env file: "NAME=VALUE" lines, the value taken as it is
 * to the end of the line (no quoting, no escapes, no expansion); blank
 * lines and lines starting with '#' are skipped; a final "\r" is dropped.
 * Returns a NULL-terminated "NAME=VALUE" vector (env_file_free()), or NULL
 * with "line N: reason" in err.  A later line for a NAME replaces it.
 */
char		**env_file_parse(const char *text, size_t len, char *err,
		    size_t errlen);
/* Reads and parses path (at most 1 MiB); NULL with the reason in err. */
char		**env_file_read(const char *path, char *err, size_t errlen);
/* The value of name in v, or NULL. */
const char	 *env_file_get(char *const *v, const char *name);
/* Clears the values before freeing; NULL is a no-op. */
void		  env_file_free(char **v);
/* True when s is a variable name: [A-Za-z_][A-Za-z0-9_]*. */
int		  env_file_name_ok(const char *s, size_t len);

#endif
