/*
 * Allocation wrappers: running out of memory in the daemon is fatal, so call
 * sites stay readable (tmux xmalloc.c).
 */
#ifndef MCPRELAY_XMALLOC_H
#define MCPRELAY_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *ptr, size_t size);
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/* n bytes and a NUL after them: text that has a length, NULs or not. */
char	*xmemdup0(const void *p, size_t n);
int	 xasprintf(char **ret, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
