/*
 * Helpers shared by every fuzz target, in both builds.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line,
	    what);
	abort();
}
