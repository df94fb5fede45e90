/*
 * mcprelayctl repoint: an agent's servers that mcprelay.yaml also has are
 * rewritten to go through mcprelayd, after a timestamped backup of the
 * file; --undo puts the newest backup back byte for byte.  docs/import.md.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "ctl.h"
#include "env-file.h"
#include "expand.h"
#include "import.h"
#include "xmalloc.h"

#define REPOINT_SUFFIX	".mcprelay-backup-"

/* Keys that say how to reach a server: replaced; the rest are kept. */
static const char *const repoint_transport_keys[] = { "type", "command",
    "args", "env", "cwd", "url", "httpUrl", "serverUrl", "headers",
    "envFile", "transport" };

/* The newest "PATH.mcprelay-backup-STAMP", or NULL. */
static char *
repoint_newest_backup(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	const char	*slash = strrchr(path, '/'), *base;
	char		*dir, *best = NULL, *prefix, *res;
	size_t		 plen;

	dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	base = slash == NULL ? path : slash + 1;
	xasprintf(&prefix, "%s%s", base, REPOINT_SUFFIX);
	plen = strlen(prefix);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, prefix, plen) != 0)
				continue;
			/* Stamps sort as text: 20261126T023000Z[-N]. */
			if (best == NULL || strcmp(de->d_name, best) > 0) {
				free(best);
				best = xstrdup(de->d_name);
			}
		}
		closedir(d);
	}
	free(prefix);
	if (best == NULL) {
		free(dir);
		return NULL;
	}
	res = ctl_path_beside(path, best);
	free(best);
	free(dir);
	return res;
}

static int
repoint_undo(const char *path)
{
	struct stat	 st;
	char		*backup, *data, err[512];
	size_t		 len;

	if ((backup = repoint_newest_backup(path)) == NULL) {
		fprintf(stderr, "mcprelayctl: no backup of %s to restore\n",
		    path);
		return CTL_EXIT_FAIL;
	}
	if ((data = ctl_file_read(backup, &len, err, sizeof err)) == NULL ||
	    stat(backup, &st) == -1 ||
	    ctl_file_write(path, data, len, st.st_mode & 07777, 1, err,
	    sizeof err) == -1) {
		fprintf(stderr, "mcprelayctl: %s\n", err);
		free(data);
		free(backup);
		return CTL_EXIT_FAIL;
	}
	unlink(backup);
	printf("restored %s from %s\n", path, backup);
	free(data);
	free(backup);
	return CTL_EXIT_OK;
}

static int
repoint_backup(const char *path, const char *data, size_t len, mode_t mode,
    char **out)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 stamp[32], err[512], *b;
	int		 n;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (n = 1; n < 100; n++) {
		if (n == 1)
			xasprintf(&b, "%s" REPOINT_SUFFIX "%s", path, stamp);
		else
			xasprintf(&b, "%s" REPOINT_SUFFIX "%s-%02d", path,
			    stamp, n);
		if (ctl_file_write(b, data, len, mode, 0, err,
		    sizeof err) == 0) {
			*out = b;
			return 0;
		}
		free(b);
		if (errno != EEXIST)
			break;
	}
	fprintf(stderr, "mcprelayctl: backup: %s\n", err);
	return -1;
}

/*
 * Whether the agent's entry is the configured server: the same command
 * and arguments, or the same URL.  A name both have for two different
 * servers (import reported the clash) must not be repointed.
 */
struct repoint_match {
	enum imp_agent	  agent;
	char		**vars;		/* the configuration's env_file */
};

static const char *
repoint_lookup(const char *name, void *arg)
{
	const char	*s;

	if ((s = getenv(name)) == NULL)
		s = env_file_get(arg, name);
	return s;
}

/* Whether the agent's value v is want once import's translation and the
 * loader's expansion are applied to it. */
static int
repoint_eq(const struct repoint_match *m, struct json_object *v,
    const char *want)
{
	char	*t, *x, err[256];
	int	 eq;

	if (want == NULL || !json_object_is_type(v, json_type_string) ||
	    (t = imp_text(json_object_get_string(v), m->agent)) == NULL)
		return 0;
	x = expand_vars_lookup(t, repoint_lookup, m->vars, err, sizeof err);
	eq = x != NULL && strcmp(x, want) == 0;
	free(x);
	free(t);
	return eq;
}

static int
repoint_same(const struct repoint_match *m, struct json_object *e,
    const struct config_server *cs)
{
	struct json_object	*v, *a;
	static const char *const url_keys[] = { "url", "httpUrl",
	    "serverUrl" };
	size_t			 i, n;

	if (!json_object_is_type(e, json_type_object))
		return 0;
	if (json_object_object_get_ex(e, "command", &v)) {
		if (cs->type != CONFIG_SERVER_STDIO ||
		    !repoint_eq(m, v, cs->command))
			return 0;
		n = json_object_object_get_ex(e, "args", &a) &&
		    json_object_is_type(a, json_type_array) ?
		    json_object_array_length(a) : 0;
		if (n != cs->nargs)
			return 0;
		for (i = 0; i < n; i++) {
			if (!repoint_eq(m, json_object_array_get_idx(a, i),
			    cs->args[i]))
				return 0;
		}
		return 1;
	}
	for (i = 0; i < sizeof url_keys / sizeof *url_keys; i++) {
		if (json_object_object_get_ex(e, url_keys[i], &v))
			return repoint_eq(m, v, cs->url);
	}
	return 0;
}

/* The entry pointing at the daemon, the entry's other keys kept. */
static struct json_object *
repoint_entry(struct json_object *old, const char *name,
    const struct imp_agent_info *ai, const char *url)
{
	struct json_object	*e = json_object_new_object(), *args;
	size_t			 i;
	int			 transport;

	if (url != NULL) {
		if (ai->set_type)
			json_object_object_add(e, "type",
			    json_object_new_string("http"));
		json_object_object_add(e, ai->url_key,
		    json_object_new_string(url));
	} else {
		if (ai->set_type)
			json_object_object_add(e, "type",
			    json_object_new_string("stdio"));
		json_object_object_add(e, "command",
		    json_object_new_string("mcprelayctl"));
		args = json_object_new_array();
		json_object_array_add(args, json_object_new_string("connect"));
		json_object_array_add(args, json_object_new_string(name));
		json_object_object_add(e, "args", args);
	}
	if (!json_object_is_type(old, json_type_object))
		return e;
	json_object_object_foreach(old, key, val) {
		transport = 0;
		for (i = 0; i < sizeof repoint_transport_keys /
		    sizeof *repoint_transport_keys; i++)
			transport |= strcmp(key, repoint_transport_keys[i]) == 0;
		if (!transport)
			json_object_object_add(e, key, json_object_get(val));
	}
	return e;
}

int
cmd_repoint(const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "stdio", no_argument, NULL, 's' },
		{ "undo", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct imp_agent_info *ai;
	struct config_errors	 errs;
	struct config		*cfg = NULL;
	struct json_tokener	*tok;
	struct json_object	*root = NULL, *servers, *ne;
	struct stat		 st;
	struct repoint_match	 match = { IMP_FILE, NULL };
	enum imp_agent		 agent;
	const char		*file = NULL, *config = NULL, *out;
	char			 cbuf[PATH_MAX], err[512], *path, *text = NULL;
	char			*url = NULL, *backup = NULL, *newtext = NULL;
	char			**names = NULL;
	size_t			 len, i, n = 0;
	int			 ch, stdio = 0, undo = 0, rc = CTL_EXIT_FAIL;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:c:suh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 's':
			stdio = 1;
			break;
		case 'u':
			undo = 1;
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error(self);
		}
	}
	if (optind != argc - 1)
		return ctl_usage_error(self);
	if (imp_agent_parse(argv[optind], &agent) == 0) {
		path = file != NULL ? xstrdup(file) : imp_agent_path(agent);
		if (path == NULL) {
			fprintf(stderr, "mcprelayctl: HOME is not set\n");
			return CTL_EXIT_FAIL;
		}
	} else {
		/* Any file: the stdio bridge is understood everywhere. */
		agent = IMP_FILE;
		path = xstrdup(file != NULL ? file : argv[optind]);
		stdio = 1;
	}
	ai = imp_agent_info(agent);
	if (undo) {
		rc = repoint_undo(path);
		free(path);
		return rc;
	}

	if ((text = ctl_file_read(path, &len, err, sizeof err)) == NULL) {
		fprintf(stderr, "mcprelayctl: %s\n", err);
		goto out;
	}
	/* Strict: a file with comments would lose them; leave it alone. */
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (root == NULL || tok->char_offset < (int)len ||
	    (servers = imp_servers_object(root, agent)) == NULL) {
		fprintf(stderr, "mcprelayctl: %s: %s; left untouched\n", path,
		    root == NULL ? ctl_json_error(tok) : tok->char_offset <
		    (int)len ? "text after the JSON value" :
		    "no MCP servers object");
		json_tokener_free(tok);
		goto out;
	}
	json_tokener_free(tok);

	if (config == NULL)
		config = ctl_config_default(cbuf, sizeof cbuf);
	config_errors_init(&errs);
	cfg = config_load_file(config, &errs);
	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		goto out;
	}
	config_errors_free(&errs);
	if (!stdio && (!cfg->listen.http.enabled ||
	    cfg->listen.http.port == 0)) {
		printf("%s: listen.http is off or on a chosen port: using "
		    "'mcprelayctl connect'\n", config);
		stdio = 1;
	}

	match.agent = agent;
	match.vars = NULL;
	if (cfg->env_file != NULL) {
		char	*ef = ctl_path_beside(config, cfg->env_file);

		/* The loader read it a moment ago. */
		match.vars = env_file_read(ef, err, sizeof err);
		free(ef);
	}

	/* Collect first: the object must not change while iterated. */
	json_object_object_foreach(servers, name, val) {
		(void)val;
		if (config_server_find(cfg, name) == NULL)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(name);
	}
	for (i = 0; i < n; i++) {
		struct json_object	*old;
		const char		*host = cfg->listen.http.host;

		free(url);
		url = NULL;
		if (!stdio)
			xasprintf(&url, "http://%s%s%s:%d/servers/%s/mcp",
			    strchr(host, ':') ? "[" : "", host,
			    strchr(host, ':') ? "]" : "",
			    cfg->listen.http.port, names[i]);
		json_object_object_get_ex(servers, names[i], &old);
		ne = repoint_entry(old, names[i], ai, url);
		if (json_object_equal(ne, old)) {
			json_object_put(ne);
			printf("  = %s (already through mcprelayd)\n",
			    names[i]);
			continue;
		}
		if (!repoint_same(&match, old, config_server_find(cfg,
		    names[i]))) {
			json_object_put(ne);
			printf("  ! %s: not the server of that name in %s "
			    "(another command or URL); left alone\n",
			    names[i], config);
			continue;
		}
		json_object_object_add(servers, names[i], ne);
		printf("  > %s: %s\n", names[i], url != NULL ? url :
		    "mcprelayctl connect");
		rc = 0;
	}
	if (rc != 0) {
		printf("%s: nothing to repoint (servers also in %s: %zu)\n",
		    path, config, n);
		rc = CTL_EXIT_OK;
		goto out;
	}

	out = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	xasprintf(&newtext, "%s\n", out);
	if (stat(path, &st) == -1 ||
	    repoint_backup(path, text, len, st.st_mode & 07777, &backup) ==
	    -1) {
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	if (ctl_file_write(path, newtext, strlen(newtext), st.st_mode & 07777,
	    1, err, sizeof err) == -1) {
		fprintf(stderr, "mcprelayctl: %s\n", err);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	printf("rewrote %s (backup %s; 'mcprelayctl repoint %s --undo' "
	    "restores it)\n", path, backup, argv[optind]);
	rc = CTL_EXIT_OK;
out:
	env_file_free(match.vars);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(url);
	free(backup);
	free(newtext);
	json_object_put(root);
	config_free(cfg);
	free(text);
	free(path);
	return rc;
}
