/*
 * Finding a name in an enum's table of names (the tables the *_name()
 * functions index), so that every *_parse() reads its table the same way.
 */
#ifndef MCPRELAY_NAMES_H
#define MCPRELAY_NAMES_H

#include <stddef.h>

/*
 * The index of s among names[0..n-1] (exact, case-sensitive), or -1 when
 * it is not there or s is NULL.  NULL entries (gaps in a table written
 * with designated initialisers) never match.
 */
int	names_index(const char *const *names, size_t n, const char *s);

#endif
