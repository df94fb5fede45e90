/*
 * Looking names up in an enum's table of names; see names.h.
 */
#include "autoconf.h"

#include <string.h>

#include "names.h"

int
names_index(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	if (names == NULL || s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}
