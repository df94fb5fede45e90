/*
 * Value types of the configuration: how a key of each kind is read from
 * its YAML node (with ${VAR} expanded and its range checked), written out
 * for the redacted dump, freed and compared.  The key tables in config.c
 * name a type for every key.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "config-int.h"
#include "duration.h"
#include "env-file.h"
#include "expand.h"
#include "names.h"
#include "xmalloc.h"

#define SECRET_FILE_MAX		(64 * 1024)

/* The environment first, then the variables of env_file. */
static const char *
cfg_getenv(const char *name, void *arg)
{
	const struct cfg_load	*L = arg;
	const char		*s;

	if ((s = getenv(name)) == NULL && L != NULL)
		s = env_file_get(L->env_vars, name);
	return s;
}

/*
 * The text of a scalar value with ${VAR} expanded, or NULL after reporting
 * why not.  what names the expected type for the message.
 */
char *
cfg_text(struct cfg_load *L, const struct ynode *v, const char *path,
    const char *what)
{
	char	 err[256], *s;

	if (v->kind != YNODE_SCALAR || v->null) {
		cfg_error(L, v->line, v->col, path, "expected %s, got %s",
		    what, ynode_what(v));
		return NULL;
	}
	s = expand_vars_lookup(v->text, cfg_getenv, L, err, sizeof err);
	if (s == NULL)
		cfg_error(L, v->line, v->col, path, "%s", err);
	return s;
}

bool
cfg_want_map(struct cfg_load *L, const struct ynode *v, const char *path)
{
	if (v->kind == YNODE_MAP)
		return true;
	cfg_error(L, v->line, v->col, path, "expected a mapping, got %s",
	    ynode_what(v));
	return false;
}

static bool
cfg_want_list(struct cfg_load *L, const struct ynode *v, const char *path)
{
	if (v->kind == YNODE_SEQ)
		return true;
	cfg_error(L, v->line, v->col, path, "expected a list, got %s",
	    ynode_what(v));
	return false;
}

/* Unless the key's table says otherwise. */
static const struct cfg_range range_count = { 0, INFINITY };
static const struct cfg_range range_duration = { 0, INFINITY };

static bool
cfg_equal_mem(const struct cfg_key *k, const void *a, const void *b)
{
	return memcmp(CFIELD(a, k), CFIELD(b, k), k->size) == 0;
}

static bool
cfg_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
cfg_range_error(struct cfg_load *L, const struct ynode *v, const char *path,
    const struct cfg_range *r, const char *text, bool duration)
{
	char	lo[32], hi[32];

	if (duration) {
		duration_format(r->min, lo, sizeof lo);
		duration_format(r->max, hi, sizeof hi);
	} else {
		snprintf(lo, sizeof lo, "%.15g", r->min);
		snprintf(hi, sizeof hi, "%.15g", r->max);
	}
	if (isinf(r->max))
		cfg_error(L, v->line, v->col, path,
		    "must be at least %s (got %.64s)", lo, text);
	else
		cfg_error(L, v->line, v->col, path,
		    "must be between %s and %s (got %.64s)", lo, hi, text);
}

/* string */

static int
cfg_set_string(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_check	*check = k->arg;
	const char		*why;
	char			*s, **field = FIELD(base, k);

	if ((s = cfg_text(L, v, path, "a string")) == NULL)
		return -1;
	if ((k->flags & CFG_NONEMPTY) && *s == '\0') {
		cfg_error(L, v->line, v->col, path, "must not be empty");
		free(s);
		return -1;
	}
	if (check != NULL && (why = check->fn(s)) != NULL) {
		cfg_error(L, v->line, v->col, path, "%s", why);
		free(s);
		return -1;
	}
	free(*field);
	*field = s;
	return 0;
}

static struct json_object *
cfg_dump_string(const struct cfg_key *k, const void *base)
{
	const char *const	*field = CFIELD(base, k);

	return *field == NULL ? NULL : json_object_new_string(*field);
}

static void
cfg_free_string(const struct cfg_key *k, void *base)
{
	char	**field = FIELD(base, k);

	free(*field);
	*field = NULL;
}

static bool
cfg_equal_string(const struct cfg_key *k, const void *a, const void *b)
{
	const char *const	*x = CFIELD(a, k), *const *y = CFIELD(b, k);

	return cfg_streq(*x, *y);
}

const struct cfg_type cfg_t_string = {
	cfg_set_string, cfg_dump_string, cfg_free_string, cfg_equal_string,
	true
};

/* url: a string that must be http:// or https://; userinfo is hidden. */

static const char *
cfg_url_check(const char *s)
{
	const char	*p;

	if (strncasecmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		p = s + 8;
	else
		return "expected an http:// or https:// URL";
	if (*p == '\0' || *p == '/' || *p == '?' || *p == '#')
		return "URL has no host";
	for (; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "URL must not contain spaces or control "
			    "characters";
	}
	return NULL;
}

static int
cfg_set_url(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const char	*why;
	char		*s, **field = FIELD(base, k);

	if ((s = cfg_text(L, v, path, "a URL")) == NULL)
		return -1;
	if ((why = cfg_url_check(s)) != NULL) {
		cfg_error(L, v->line, v->col, path, "%s", why);
		free(s);
		return -1;
	}
	free(*field);
	*field = s;
	return 0;
}

static struct json_object *
cfg_dump_url(const struct cfg_key *k, const void *base)
{
	const char *const	*field = CFIELD(base, k);
	const char		*url = *field, *host, *at, *end;
	struct json_object	*j;
	char			*s;

	if (url == NULL)
		return NULL;
	host = strstr(url, "://");
	host = host == NULL ? url : host + 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at == NULL)
		return json_object_new_string(url);
	xasprintf(&s, "%.*s(redacted)%s", (int)(host - url), url, at);
	j = json_object_new_string(s);
	free(s);
	return j;
}

const struct cfg_type cfg_t_url = {
	cfg_set_url, cfg_dump_url, cfg_free_string, cfg_equal_string, true
};

/* bool */

static int
cfg_set_bool(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	bool	*field = FIELD(base, k);
	char	*s;
	size_t	 i;

	if ((s = cfg_text(L, v, path, "a boolean")) == NULL)
		return -1;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*field = strcasecmp(s, yes[i]) == 0;
			free(s);
			return 0;
		}
	}
	cfg_error(L, v->line, v->col, path,
	    "expected a boolean (true/false, yes/no, on/off), got '%.64s'", s);
	free(s);
	return -1;
}

static struct json_object *
cfg_dump_bool(const struct cfg_key *k, const void *base)
{
	const bool	*field = CFIELD(base, k);

	return json_object_new_boolean(*field);
}

const struct cfg_type cfg_t_bool = {
	cfg_set_bool, cfg_dump_bool, NULL, cfg_equal_mem, true
};

/* int, within k->arg's range (default: not negative) */

static int
cfg_parse_int(const char *s, long long *out)
{
	const char	*p = s;
	long long	 v = 0;
	int		 neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (LLONG_MAX - 9) / 10)
			v = LLONG_MAX / 2;	/* saturate: out of range */
		else
			v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static int
cfg_set_int(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_range	*r = k->arg != NULL ? k->arg : &range_count;
	int			*field = FIELD(base, k);
	long long		 n;
	char			*s;

	if ((s = cfg_text(L, v, path, "an integer")) == NULL)
		return -1;
	if (cfg_parse_int(s, &n) == -1) {
		cfg_error(L, v->line, v->col, path,
		    "expected an integer, got '%.64s'", s);
		free(s);
		return -1;
	}
	if ((double)n < r->min || (double)n > r->max || n > INT_MAX) {
		if (n > INT_MAX && isinf(r->max))
			cfg_error(L, v->line, v->col, path,
			    "integer too large (got %.64s)", s);
		else
			cfg_range_error(L, v, path, r, s, false);
		free(s);
		return -1;
	}
	*field = (int)n;
	free(s);
	return 0;
}

static struct json_object *
cfg_dump_int(const struct cfg_key *k, const void *base)
{
	const int	*field = CFIELD(base, k);

	return json_object_new_int(*field);
}

const struct cfg_type cfg_t_int = {
	cfg_set_int, cfg_dump_int, NULL, cfg_equal_mem, true
};

/* double (a plain decimal), within k->arg's range */

static int
cfg_set_double(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_range	*r = k->arg;
	double			*field = FIELD(base, k), d;
	char			*s;

	if ((s = cfg_text(L, v, path, "a number")) == NULL)
		return -1;
	if (decimal_parse(s, &d) == -1) {
		cfg_error(L, v->line, v->col, path,
		    "expected a number, got '%.64s'", s);
		free(s);
		return -1;
	}
	if (r != NULL && (d < r->min || d > r->max)) {
		cfg_range_error(L, v, path, r, s, false);
		free(s);
		return -1;
	}
	*field = d;
	free(s);
	return 0;
}

static struct json_object *
cfg_dump_double(const struct cfg_key *k, const void *base)
{
	const double	*field = CFIELD(base, k);

	return json_object_new_double(*field);
}

const struct cfg_type cfg_t_double = {
	cfg_set_double, cfg_dump_double, NULL, cfg_equal_mem, true
};

/* duration in seconds, within k->arg's range (default: >= 0) */

static int
cfg_set_duration(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_range	*r = k->arg != NULL ? k->arg :
				    &range_duration;
	double			*field = FIELD(base, k), d;
	char			*s;

	if ((s = cfg_text(L, v, path, "a duration")) == NULL)
		return -1;
	if (duration_parse(s, &d) == -1) {
		if (errno == ERANGE && *s == '-')
			cfg_error(L, v->line, v->col, path,
			    "must not be negative (got %.64s)", s);
		else if (errno == ERANGE)
			cfg_error(L, v->line, v->col, path,
			    "duration too long (got %.64s)", s);
		else
			cfg_error(L, v->line, v->col, path,
			    "invalid duration '%.64s' (expected e.g. 250ms, "
			    "1.5s, 2m, 1h, 1d)", s);
		free(s);
		return -1;
	}
	if (d < r->min || d > r->max) {
		cfg_range_error(L, v, path, r, s, true);
		free(s);
		return -1;
	}
	*field = d;
	free(s);
	return 0;
}

const struct cfg_type cfg_t_duration = {
	cfg_set_duration, cfg_dump_double, NULL, cfg_equal_mem, true
};

/* size in bytes, within k->arg's range */

static int
cfg_set_size(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_range	*r = k->arg;
	uint64_t		*field = FIELD(base, k), n;
	char			*s;

	if ((s = cfg_text(L, v, path, "a size")) == NULL)
		return -1;
	if (size_parse(s, &n) == -1) {
		if (errno == ERANGE && *s != '-')
			cfg_error(L, v->line, v->col, path,
			    "size too large (got %.64s)", s);
		else
			cfg_error(L, v->line, v->col, path,
			    "invalid size '%.64s' (expected bytes or e.g. "
			    "512KiB, 4MiB, 1GiB, 1MB)", s);
		free(s);
		return -1;
	}
	if (r != NULL && ((double)n < r->min || (double)n > r->max)) {
		cfg_range_error(L, v, path, r, s, false);
		free(s);
		return -1;
	}
	*field = n;
	free(s);
	return 0;
}

static struct json_object *
cfg_dump_size(const struct cfg_key *k, const void *base)
{
	const uint64_t	*field = CFIELD(base, k);

	return json_object_new_int64(*field > INT64_MAX ? INT64_MAX :
	    (int64_t)*field);
}

const struct cfg_type cfg_t_size = {
	cfg_set_size, cfg_dump_size, NULL, cfg_equal_mem, true
};

/* file mode, always read as octal: 0600, 600 and 0o600 are the same */

static int
cfg_set_mode(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	mode_t		*field = FIELD(base, k);
	const char	*p;
	unsigned	 m = 0;
	char		*s;

	if ((s = cfg_text(L, v, path, "a file mode")) == NULL)
		return -1;
	p = strncmp(s, "0o", 2) == 0 ? s + 2 : s;
	if (*p == '\0' || strlen(p) > 5)
		goto bad;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			goto bad;
		m = m * 8 + (unsigned)(*p - '0');
	}
	if (m > 07777)
		goto bad;
	*field = (mode_t)m;
	free(s);
	return 0;
bad:
	cfg_error(L, v->line, v->col, path,
	    "expected an octal file mode such as 0600, got '%.64s'", s);
	free(s);
	return -1;
}

static struct json_object *
cfg_dump_mode(const struct cfg_key *k, const void *base)
{
	const mode_t	*field = CFIELD(base, k);
	char		 buf[16];

	snprintf(buf, sizeof buf, "0%03o", (unsigned)*field);
	return json_object_new_string(buf);
}

const struct cfg_type cfg_t_mode = {
	cfg_set_mode, cfg_dump_mode, NULL, cfg_equal_mem, true
};

/* enum: one of k->arg's names, stored as its index */

static int
cfg_enum_lookup(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *v, const char *path)
{
	const struct cfg_enum	*e = k->arg;
	const char		*sug;
	char			*s, list[256];
	size_t			 i, off;
	int			 idx = -1;

	if ((s = cfg_text(L, v, path, "a string")) == NULL)
		return -1;
	if ((idx = names_index(e->names, e->n, s)) == -1) {
		if ((sug = cfg_suggest(s, e->names, e->n)) != NULL)
			cfg_error(L, v->line, v->col, path,
			    "unknown value '%.64s' (did you mean '%s'?)", s,
			    sug);
		else {
			list[0] = '\0';
			for (i = 0, off = 0; i < e->n && off < sizeof list;
			    i++)
				off += (size_t)snprintf(list + off,
				    sizeof list - off, "%s%s", i > 0 ? ", " : "",
				    e->names[i]);
			cfg_error(L, v->line, v->col, path,
			    "unknown value '%.64s' (expected one of: %s)", s,
			    list);
		}
	}
	free(s);
	return idx;
}

static int
cfg_set_enum(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	int	*field = FIELD(base, k), idx;

	if ((idx = cfg_enum_lookup(L, k, v, path)) == -1)
		return -1;
	*field = idx;
	return 0;
}

static struct json_object *
cfg_dump_enum(const struct cfg_key *k, const void *base)
{
	const struct cfg_enum	*e = k->arg;
	const int		*field = CFIELD(base, k);

	if (*field < 0 || (size_t)*field >= e->n)
		return NULL;
	return json_object_new_string(e->names[*field]);
}

const struct cfg_type cfg_t_enum = {
	cfg_set_enum, cfg_dump_enum, NULL, cfg_equal_mem, true
};

/* name: one of k->arg's names, stored as a pointer to the static name */

static int
cfg_set_name(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_enum	*e = k->arg;
	const char		**field = FIELD(base, k);
	int			  idx;

	if ((idx = cfg_enum_lookup(L, k, v, path)) == -1)
		return -1;
	*field = e->names[idx];
	return 0;
}

const struct cfg_type cfg_t_name = {
	cfg_set_name, cfg_dump_string, NULL, cfg_equal_mem, true
};

/* strlist: a list of strings, NULL-terminated, count at k->noff */

static void
cfg_strv_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int
cfg_set_strlist(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	const struct cfg_check	*check = k->arg;
	const char		*why;
	char			***field = FIELD(base, k), **out, *s, *ipath;
	size_t			  i, n = 0;
	int			  rc = 0;

	if (!cfg_want_list(L, v, path))
		return -1;
	out = xcalloc(v->nchild + 1, sizeof *out);
	for (i = 0; i < v->nchild; i++) {
		xasprintf(&ipath, "%s[%zu]", path, i);
		s = cfg_text(L, v->child[i], ipath, "a string");
		if (s != NULL && (k->flags & CFG_NONEMPTY) && *s == '\0') {
			cfg_error(L, v->child[i]->line, v->child[i]->col,
			    ipath, "must not be empty");
			free(s);
			s = NULL;
		} else if (s != NULL && check != NULL &&
		    (why = check->fn(s)) != NULL) {
			cfg_error(L, v->child[i]->line, v->child[i]->col,
			    ipath, "%s", why);
			free(s);
			s = NULL;
		}
		free(ipath);
		if (s == NULL)
			rc = -1;
		else
			out[n++] = s;
	}
	if (rc == -1) {
		cfg_strv_free(out);
		return -1;
	}
	cfg_strv_free(*field);
	*field = out;
	*COUNT(base, k) = n;
	return 0;
}

static struct json_object *
cfg_dump_strlist(const struct cfg_key *k, const void *base)
{
	char *const *const	*field = CFIELD(base, k);
	struct json_object	*a = json_object_new_array();
	size_t			 i, n = *CCOUNT(base, k);

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string((*field)[i]));
	return a;
}

static void
cfg_free_strlist(const struct cfg_key *k, void *base)
{
	char	***field = FIELD(base, k);

	cfg_strv_free(*field);
	*field = NULL;
	*COUNT(base, k) = 0;
}

static bool
cfg_equal_strlist(const struct cfg_key *k, const void *a, const void *b)
{
	char *const *const	*x = CFIELD(a, k), *const *const *y =
				    CFIELD(b, k);
	size_t			 i, n = *CCOUNT(a, k);

	if (n != *CCOUNT(b, k))
		return false;
	for (i = 0; i < n; i++) {
		if (strcmp((*x)[i], (*y)[i]) != 0)
			return false;
	}
	return true;
}

const struct cfg_type cfg_t_strlist = {
	cfg_set_strlist, cfg_dump_strlist, cfg_free_strlist,
	cfg_equal_strlist, true
};

/*
 * env and headers: maps whose values are secrets.  "NAME_file: /path"
 * sets NAME to the file's content, less one trailing newline.
 */

struct cfg_secret {
	char			*name;
	char			*value;
	const struct ynode	*at;
};

static char *
cfg_read_secret(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd;

	/*
	 * O_NONBLOCK: opening a FIFO would otherwise wait for a writer, and
	 * a reload runs in the event loop.  A regular file ignores it.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "cannot read secret file '%.200s': %s",
		    path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "secret file '%.200s' is not a regular "
		    "file", path);
		close(fd);
		return NULL;
	}
	buf = xmalloc(SECRET_FILE_MAX + 2);
	while (len <= SECRET_FILE_MAX) {
		r = read(fd, buf + len, SECRET_FILE_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "cannot read secret file "
			    "'%.200s': %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > SECRET_FILE_MAX) {
		snprintf(err, errlen, "secret file '%.200s' is larger than "
		    "%d KiB", path, SECRET_FILE_MAX / 1024);
		goto fail;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "secret file '%.200s' contains a NUL "
		    "byte", path);
		goto fail;
	}
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	explicit_bzero(buf, SECRET_FILE_MAX + 2);
	free(buf);
	close(fd);
	return NULL;
}

static const char *
cfg_env_name_check(const char *s)
{
	const char	*p;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return "invalid environment variable name";
	for (p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return "invalid environment variable name";
	}
	return NULL;
}

static const char *
cfg_header_name_check(const char *s)
{
	/* Set per request or per connection by the relay itself. */
	static const char *const managed[] = { "Content-Length",
	    "Transfer-Encoding", "Connection", "Mcp-Session-Id" };
	const char	*p;
	size_t		 i;

	if (*s == '\0')
		return "invalid header name";
	for (p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~",
		    *p) != NULL))
			return "invalid header name";
	}
	for (i = 0; i < sizeof managed / sizeof *managed; i++) {
		if (strcasecmp(s, managed[i]) == 0)
			return "header is set by mcprelay itself";
	}
	return NULL;
}

static void
cfg_secrets_free(struct cfg_secret *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		if (v[i].value != NULL)
			explicit_bzero(v[i].value, strlen(v[i].value));
		free(v[i].value);
	}
	free(v);
}

/* Reads a secret map into *out; 0, or -1 after reporting every problem. */
static int
cfg_parse_secrets(struct cfg_load *L, const struct ynode *v,
    const char *path, bool header, struct cfg_secret **out, size_t *nout)
{
	struct cfg_secret	*sv;
	const struct ynode	*kn, *vn;
	const char		*why, **names;
	char			*kpath, *s, err[320];
	size_t			 i, n = 0, len, *first;
	bool			*dup, from_file;
	int			 rc = 0;

	*out = NULL;
	*nout = 0;
	if (!cfg_want_map(L, v, path))
		return -1;
	dup = cfg_map_dups(L, v, path, header);
	sv = xcalloc(v->nchild / 2 + 1, sizeof *sv);
	for (i = 0; i < v->nchild / 2; i++) {
		kn = v->child[2 * i];
		vn = v->child[2 * i + 1];
		if (dup[i]) {
			rc = -1;
			continue;
		}
		if (kn->kind != YNODE_SCALAR) {
			cfg_error(L, kn->line, kn->col, path,
			    "keys must be strings");
			rc = -1;
			continue;
		}
		kpath = cfg_path(path, kn->text);
		len = strlen(kn->text);
		from_file = len > 5 && strcmp(kn->text + len - 5, "_file") == 0;
		sv[n].name = xstrndup(kn->text, from_file ? len - 5 : len);
		sv[n].at = kn;
		why = header ? cfg_header_name_check(sv[n].name) :
		    cfg_env_name_check(sv[n].name);
		if (why != NULL) {
			cfg_error(L, kn->line, kn->col, path, "%s: '%.64s'",
			    why, kn->text);
			rc = -1;
		} else if (vn->null) {
			/* An empty value leaves the name unset. */
		} else if ((s = cfg_text(L, vn, kpath, "a string")) == NULL)
			rc = -1;
		else if (from_file) {
			sv[n].value = cfg_read_secret(s, err, sizeof err);
			if (sv[n].value == NULL) {
				cfg_error(L, vn->line, vn->col, kpath, "%s",
				    err);
				rc = -1;
			}
			free(s);
		} else
			sv[n].value = s;
		free(kpath);
		if (sv[n].value == NULL) {
			free(sv[n].name);
			continue;
		}
		n++;
	}
	free(dup);

	/* NAME and NAME_file both given: the map had no duplicate keys. */
	names = xcalloc(n + 1, sizeof *names);
	for (i = 0; i < n; i++)
		names[i] = sv[i].name;
	first = cfg_find_dups(names, n, header);
	for (i = 0; i < n; i++) {
		if (first[i] == SIZE_MAX)
			continue;
		cfg_error(L, sv[i].at->line, sv[i].at->col, path,
		    "'%.64s' is set twice (as '%.64s' and '%.64s')",
		    sv[i].name, sv[first[i]].at->text, sv[i].at->text);
		rc = -1;
	}
	free(first);
	free(names);
	if (rc == -1) {
		cfg_secrets_free(sv, n);
		return -1;
	}
	*out = sv;
	*nout = n;
	return 0;
}

static int
cfg_set_env(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct cfg_secret	 *sv;
	char			***field = FIELD(base, k), **env;
	size_t			  i, n;

	if (cfg_parse_secrets(L, v, path, false, &sv, &n) == -1)
		return -1;
	env = xcalloc(n + 1, sizeof *env);
	for (i = 0; i < n; i++)
		xasprintf(&env[i], "%s=%s", sv[i].name, sv[i].value);
	cfg_secrets_free(sv, n);
	cfg_strv_free(*field);
	*field = env;
	*COUNT(base, k) = n;
	return 0;
}

static struct json_object *
cfg_dump_env(const struct cfg_key *k, const void *base)
{
	char *const *const	*field = CFIELD(base, k);
	struct json_object	*o = json_object_new_object();
	size_t			 i, n = *CCOUNT(base, k), len;
	char			*name;

	for (i = 0; i < n; i++) {
		len = strcspn((*field)[i], "=");
		name = xstrndup((*field)[i], len);
		json_object_object_add(o, name,
		    json_object_new_string("(redacted)"));
		free(name);
	}
	return o;
}

static void
cfg_free_env(const struct cfg_key *k, void *base)
{
	char	***field = FIELD(base, k);
	size_t	   i;

	for (i = 0; *field != NULL && (*field)[i] != NULL; i++)
		explicit_bzero((*field)[i], strlen((*field)[i]));
	cfg_free_strlist(k, base);
}

const struct cfg_type cfg_t_env = {
	cfg_set_env, cfg_dump_env, cfg_free_env, cfg_equal_strlist, true
};

static void
cfg_kv_free(struct config_kv *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		explicit_bzero(v[i].value, strlen(v[i].value));
		free(v[i].value);
	}
	free(v);
}

static int
cfg_set_headers(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct cfg_secret	 *sv;
	struct config_kv	**field = FIELD(base, k), *h;
	size_t			  i, n;

	if (cfg_parse_secrets(L, v, path, true, &sv, &n) == -1)
		return -1;
	h = xcalloc(n + 1, sizeof *h);
	for (i = 0; i < n; i++) {
		h[i].name = sv[i].name;
		h[i].value = sv[i].value;
	}
	free(sv);
	cfg_kv_free(*field, *COUNT(base, k));
	*field = h;
	*COUNT(base, k) = n;
	return 0;
}

static struct json_object *
cfg_dump_headers(const struct cfg_key *k, const void *base)
{
	struct config_kv *const	*field = CFIELD(base, k);
	struct json_object	*o = json_object_new_object();
	size_t			 i, n = *CCOUNT(base, k);

	for (i = 0; i < n; i++)
		json_object_object_add(o, (*field)[i].name,
		    json_object_new_string("(redacted)"));
	return o;
}

static void
cfg_free_headers(const struct cfg_key *k, void *base)
{
	struct config_kv	**field = FIELD(base, k);

	cfg_kv_free(*field, *COUNT(base, k));
	*field = NULL;
	*COUNT(base, k) = 0;
}

static bool
cfg_equal_headers(const struct cfg_key *k, const void *a, const void *b)
{
	struct config_kv *const	*x = CFIELD(a, k), *const *y = CFIELD(b, k);
	size_t			 i, n = *CCOUNT(a, k);

	if (n != *CCOUNT(b, k))
		return false;
	for (i = 0; i < n; i++) {
		if (strcmp((*x)[i].name, (*y)[i].name) != 0 ||
		    strcmp((*x)[i].value, (*y)[i].value) != 0)
			return false;
	}
	return true;
}

const struct cfg_type cfg_t_headers = {
	cfg_set_headers, cfg_dump_headers, cfg_free_headers,
	cfg_equal_headers, true
};

/* classlist: retry_on, a list of error classes into bool[FAIL_NCLASSES] */

static int
cfg_set_classlist(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	bool		*field = FIELD(base, k), on[FAIL_NCLASSES] = { false };
	enum fail_class	 c;
	char		*s, *ipath;
	size_t		 i;
	int		 rc = 0;

	if (!cfg_want_list(L, v, path))
		return -1;
	for (i = 0; i < v->nchild; i++) {
		xasprintf(&ipath, "%s[%zu]", path, i);
		if ((s = cfg_text(L, v->child[i], ipath, "an error class")) ==
		    NULL)
			rc = -1;
		else if (fail_class_parse(s, &c) == -1) {
			cfg_unknown(L, v->child[i], ipath, "error class", s,
			    fail_class_names, FAIL_NCLASSES);
			rc = -1;
		} else
			on[c] = true;
		free(s);
		free(ipath);
	}
	if (rc == 0)
		memcpy(field, on, sizeof on);
	return rc;
}

static struct json_object *
cfg_dump_classlist(const struct cfg_key *k, const void *base)
{
	const bool		*field = CFIELD(base, k);
	struct json_object	*a = json_object_new_array();
	int			 c;

	for (c = 0; c < FAIL_NCLASSES; c++) {
		if (field[c])
			json_object_array_add(a,
			    json_object_new_string(fail_class_names[c]));
	}
	return a;
}

const struct cfg_type cfg_t_classlist = {
	cfg_set_classlist, cfg_dump_classlist, NULL, cfg_equal_mem, true
};

/* section: a mapping read with the subtable k->arg, based at the field */

static int
cfg_set_section(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	if (!cfg_want_map(L, v, path))
		return -1;
	cfg_parse_map(L, kn, v, k->arg, FIELD(base, k), path);
	return 0;
}

static struct json_object *
cfg_dump_section(const struct cfg_key *k, const void *base)
{
	return cfg_dump_keys(k->arg, CFIELD(base, k));
}

static void
cfg_free_section(const struct cfg_key *k, void *base)
{
	cfg_free_keys(k->arg, FIELD(base, k));
}

static bool
cfg_equal_section(const struct cfg_key *k, const void *a, const void *b)
{
	return cfg_equal_keys(k->arg, CFIELD(a, k), CFIELD(b, k));
}

const struct cfg_type cfg_t_section = {
	cfg_set_section, cfg_dump_section, cfg_free_section,
	cfg_equal_section, false
};

/* listen.unix: a section whose presence turns the listener on */

static int
cfg_set_unix(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct config_unix_listen	*u = FIELD(base, k);

	if (!cfg_want_map(L, v, path))
		return -1;
	u->enabled = true;
	cfg_parse_map(L, kn, v, k->arg, u, path);
	return 0;
}

static struct json_object *
cfg_dump_unix(const struct cfg_key *k, const void *base)
{
	const struct config_unix_listen	*u = CFIELD(base, k);

	return u->enabled ? cfg_dump_section(k, base) : NULL;
}

static bool
cfg_equal_unix(const struct cfg_key *k, const void *a, const void *b)
{
	const struct config_unix_listen	*x = CFIELD(a, k), *y = CFIELD(b, k);

	return x->enabled == y->enabled && cfg_equal_section(k, a, b);
}

const struct cfg_type cfg_t_unix = {
	cfg_set_unix, cfg_dump_unix, cfg_free_section, cfg_equal_unix, false
};

/* listen.http: "host:port", "[v6]:port" or "off" */

static int
cfg_parse_hostport(const char *s, char **host, int *port)
{
	const char	*h, *hend, *p;
	char		*hs, buf[sizeof(struct in6_addr)];
	int		 v6 = 0;
	long		 n = 0;

	if (*s == '[') {
		h = s + 1;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			return -1;
		p = hend + 2;
		v6 = 1;
	} else {
		h = s;
		if ((hend = strrchr(s, ':')) == NULL)
			return -1;
		p = hend + 1;
	}
	if (*p == '\0' || strlen(p) > 5)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (n > 65535)
		return -1;
	hs = xstrndup(h, (size_t)(hend - h));
	if (v6 ? inet_pton(AF_INET6, hs, buf) != 1 :
	    (inet_pton(AF_INET, hs, buf) != 1 &&
	    strcmp(hs, "localhost") != 0)) {
		free(hs);
		return -1;
	}
	*host = hs;
	*port = (int)n;
	return 0;
}

static int
cfg_set_listen(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct config_http_listen	*hl = FIELD(base, k);
	char				*s, *host;
	int				 port;

	if ((s = cfg_text(L, v, path, "an address")) == NULL)
		return -1;
	if (strcmp(s, "off") == 0) {
		free(hl->host);
		hl->host = NULL;
		hl->enabled = false;
		hl->port = 0;
		free(s);
		return 0;
	}
	if (cfg_parse_hostport(s, &host, &port) == -1) {
		cfg_error(L, v->line, v->col, path, "invalid listen address "
		    "'%.64s' (expected IPv4:port, localhost:port, "
		    "[IPv6]:port or off)", s);
		free(s);
		return -1;
	}
	free(hl->host);
	hl->host = host;
	hl->port = port;
	hl->enabled = true;
	free(s);
	return 0;
}

void
cfg_format_listen(const struct config_http_listen *hl, char *buf,
    size_t len)
{
	if (!hl->enabled)
		snprintf(buf, len, "off");
	else if (strchr(hl->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", hl->host, hl->port);
	else
		snprintf(buf, len, "%s:%d", hl->host, hl->port);
}

static struct json_object *
cfg_dump_listen(const struct cfg_key *k, const void *base)
{
	char	buf[128];

	cfg_format_listen(CFIELD(base, k), buf, sizeof buf);
	return json_object_new_string(buf);
}

static void
cfg_free_listen(const struct cfg_key *k, void *base)
{
	struct config_http_listen	*hl = FIELD(base, k);

	free(hl->host);
	hl->host = NULL;
}

static bool
cfg_equal_listen(const struct cfg_key *k, const void *a, const void *b)
{
	const struct config_http_listen	*x = CFIELD(a, k), *y = CFIELD(b, k);

	return x->enabled == y->enabled && x->port == y->port &&
	    cfg_streq(x->host, y->host);
}

const struct cfg_type cfg_t_listen = {
	cfg_set_listen, cfg_dump_listen, cfg_free_listen, cfg_equal_listen,
	true
};

