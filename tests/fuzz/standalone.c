/*
 * A main() for the fuzz targets without libFuzzer: runs each file given,
 * every file of each directory given, or with no arguments the target's
 * committed corpus, through LLVMFuzzerTestOneInput.  make check runs it so
 * that every corpus input (and every crash turned regression) is replayed
 * on every CI run, with gcc as well as clang.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the corpus directory"
#endif

static unsigned long	replayed;

static int
fuzz_run_file(const char *path)
{
	FILE		*f;
	uint8_t		*buf = NULL;
	size_t		 len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((buf = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "out of memory\n");
				exit(1);
			}
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* A copy of exactly len bytes, so ASan sees reads past the end. */
	{
		uint8_t	*copy = malloc(len > 0 ? len : 1);

		if (copy == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
		memcpy(copy, buf, len);
		free(buf);
		fprintf(stderr, "running %s (%zu bytes)\n", path, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
	}
	replayed++;
	return 0;
}

static int
fuzz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of dir in name order, so a replay is reproducible. */
static int
fuzz_run_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		**names = NULL, path[4096];
	size_t		 n = 0, i;
	int		 rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof *names)) == NULL ||
		    (names[n] = strdup(de->d_name)) == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, fuzz_name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    fuzz_run_file(path) == -1)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
fuzz_run_path(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return fuzz_run_dir(path);
	return fuzz_run_file(path);
}

int
main(int argc, char **argv)
{
	const char	*srcdir;
	char		 corpus[4096];
	int		 i, rc = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (fuzz_run_path(argv[i]) == -1)
				rc = 1;
	} else {
		if ((srcdir = getenv("top_srcdir")) == NULL)
			srcdir = ".";
		snprintf(corpus, sizeof corpus, "%s/tests/fuzz/corpus/%s",
		    srcdir, FUZZ_TARGET);
		if (fuzz_run_dir(corpus) == -1)
			rc = 1;
	}
	/* An empty corpus replayed nothing: that must not pass quietly. */
	if (replayed == 0) {
		fprintf(stderr, "fuzz-%s: no input replayed\n", FUZZ_TARGET);
		rc = 1;
	}
	printf("fuzz-%s: %lu inputs replayed, %s\n", FUZZ_TARGET, replayed,
	    rc == 0 ? "no crash" : "FAILED");
	return rc;
}
