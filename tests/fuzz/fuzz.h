/*
 * The libFuzzer entry points every target in tests/fuzz defines.  The same
 * target source links either with libFuzzer (make fuzz) or with
 * standalone.c, which replays a corpus so that make check catches
 * regressions with any compiler.
 */
#ifndef MCPRELAY_FUZZ_H
#define MCPRELAY_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A check that holds for every input: a failure is a finding, so it
 * aborts (libFuzzer and the replay both report it with the input).
 */
#define FUZZ_ASSERT(cond)	do {					\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

void	fuzz_fail(const char *file, int line, const char *what)
	    __attribute__((noreturn));

/* A growing byte string, for what a target records to compare. */
struct fuzz_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

void	fuzz_buf_add(struct fuzz_buf *, const void *, size_t);

#endif
