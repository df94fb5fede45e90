/*
 * env_file: a dotenv-like file read by the configuration loader before any
 * ${VAR} is expanded.  Deliberately simple (no quotes, no escapes) so what
 * is written is what the variable holds, byte for byte.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env-file.h"
#include "xmalloc.h"

#define ENV_FILE_MAX	(1024 * 1024)

int
env_file_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || !((s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	}
	return 1;
}

void
env_file_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++) {
		explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

const char *
env_file_get(char *const *v, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (strncmp(v[i], name, n) == 0 && v[i][n] == '=')
			return v[i] + n + 1;
	}
	return NULL;
}

char **
env_file_parse(const char *text, size_t len, char *err, size_t errlen)
{
	const char	*p = text, *end = text + len, *nl, *eq;
	char		**v, *entry;
	size_t		 n = 0, i, llen, lineno = 0;

	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "contains a NUL byte");
		return NULL;
	}
	v = xcalloc(1, sizeof *v);
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = (nl != NULL ? nl : end) - p;
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (llen == 0 || p[0] == '#')
			goto next;
		if ((eq = memchr(p, '=', llen)) == NULL ||
		    !env_file_name_ok(p, (size_t)(eq - p))) {
			snprintf(err, errlen, "line %zu: expected NAME=VALUE "
			    "with NAME made of [A-Za-z0-9_]", lineno);
			env_file_free(v);
			return NULL;
		}
		entry = xstrndup(p, llen);
		for (i = 0; i < n; i++) {
			if (strncmp(v[i], p, (size_t)(eq - p) + 1) == 0)
				break;
		}
		if (i < n) {
			explicit_bzero(v[i], strlen(v[i]));
			free(v[i]);
			v[i] = entry;
		} else {
			v = xreallocarray(v, n + 2, sizeof *v);
			v[n++] = entry;
			v[n] = NULL;
		}
next:
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return v;
}

char **
env_file_read(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf, **v;
	size_t		 len = 0;
	ssize_t		 r = 0;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not stall a reload in the event loop. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "cannot read '%.200s': %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%.200s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	buf = xmalloc(ENV_FILE_MAX + 1);
	while (len <= ENV_FILE_MAX) {
		r = read(fd, buf + len, ENV_FILE_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (r == -1 || len > ENV_FILE_MAX) {
		if (r == -1)
			snprintf(err, errlen, "cannot read '%.200s': %s", path,
			    strerror(errno));
		else
			snprintf(err, errlen, "'%.200s' is larger than 1 MiB",
			    path);
		v = NULL;
	} else if ((v = env_file_parse(buf, len, err, errlen)) == NULL) {
		/* Prefix the reason with the file's name. */
		char	tmp[256];

		snprintf(tmp, sizeof tmp, "%s", err);
		snprintf(err, errlen, "'%.200s': %s", path, tmp);
	}
	explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return v;
}
