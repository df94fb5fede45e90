/*
 * mcprelayctl's file handling for import, repoint and init: whole-file
 * reads, and writes that are atomic (a temporary file in the same folder,
 * fsync, then rename, or link when an existing file must not be replaced).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "xmalloc.h"

/* Agents' files and configurations are small; this is far above. */
#define CTL_FILE_MAX	(16 * 1024 * 1024)

char *
ctl_file_read(const char *path, size_t *lenp, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CTL_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most "
		    "16 MiB", path);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

int
ctl_file_write(const char *path, const char *data, size_t len, mode_t mode,
    int replace, char *err, size_t errlen)
{
	char	 tmp[PATH_MAX];
	size_t	 off = 0;
	ssize_t	 w;
	int	 fd, saved;

	if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >=
	    (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (replace) {
		if (rename(tmp, path) == -1)
			goto fail;
	} else {
		/* link() refuses an existing path: never overwrite. */
		if (link(tmp, path) == -1)
			goto fail;
		unlink(tmp);
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	snprintf(err, errlen, "%s: %s", path, strerror(saved));
	errno = saved;
	return -1;
}

/* dirname(path) joined with name, unless name is absolute. */
char *
ctl_path_beside(const char *path, const char *name)
{
	const char	*slash;
	char		*s;

	if (*name == '/' || (slash = strrchr(path, '/')) == NULL)
		return xstrdup(name);
	xasprintf(&s, "%.*s/%s", (int)(slash - path), path, name);
	return s;
}

/*
 * The configuration mcprelayctl works on when --config is not given: the
 * user's ($XDG_CONFIG_HOME or ~/.config)/mcprelay/mcprelay.yaml, as the
 * user unit runs it, else the system one, as mcprelayd's default.
 */
const char *
ctl_config_path(int user, char *buf, size_t len)
{
	const char	*x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (user) {
		if (x != NULL && *x == '/')
			snprintf(buf, len, "%s/mcprelay/mcprelay.yaml", x);
		else if (home != NULL && *home != '\0')
			snprintf(buf, len, "%s/.config/mcprelay/mcprelay.yaml",
			    home);
		else
			return NULL;
		return buf;
	}
	snprintf(buf, len, "%s/mcprelay/mcprelay.yaml", SYSCONFDIR);
	return buf;
}

const char *
ctl_config_default(char *buf, size_t len)
{
	if (ctl_config_path(1, buf, len) != NULL && access(buf, F_OK) == 0)
		return buf;
	return ctl_config_path(0, buf, len);
}

const char *
ctl_json_error(struct json_tokener *tok)
{
	enum json_tokener_error	e = json_tokener_get_error(tok);

	/* "continue" is json-c's word for a text that ended too soon. */
	return e == json_tokener_continue ? "ends before the JSON value "
	    "does" : json_tokener_error_desc(e);
}
