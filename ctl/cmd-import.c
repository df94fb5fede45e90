/*
 * mcprelayctl import: the MCP servers of an agent's configuration added to
 * mcprelay.yaml, secrets moved to the env file.  Shows a diff; writes only
 * with --write, then validates and asks mcprelayd to reload.
 * docs/import.md.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "ctl.h"
#include "env-file.h"
#include "import.h"
#include "xmalloc.h"

struct import_run {
	const char	*config;	/* path */
	char		*text;		/* its content */
	size_t		 len;
	struct imp_yaml_plan plan;
	char		*env_path;	/* the env file */
	char		*env_text;	/* its content, "" when new */
	char		**env_vars;	/* its variables, grown by new ones */
	struct imp_buf	 servers;	/* YAML of every new server */
	struct imp_buf	 env_add;	/* lines for the env file */
	size_t		 nimported;
	int		 uses_env;	/* a new server uses the env file */
	int		 env_existed;
	char		**names;	/* existing and imported so far */
	size_t		 nnames;
};

static void
import_add_name(struct import_run *R, const char *name)
{
	R->names = xreallocarray(R->names, R->nnames + 2, sizeof *R->names);
	R->names[R->nnames++] = xstrdup(name);
	R->names[R->nnames] = NULL;
}

static void
import_add_var(struct import_run *R, const char *var, const char *value)
{
	size_t	n = 0;
	char	*e;

	while (R->env_vars != NULL && R->env_vars[n] != NULL)
		n++;
	R->env_vars = xreallocarray(R->env_vars, n + 2, sizeof *R->env_vars);
	xasprintf(&e, "%s=%s", var, value);
	R->env_vars[n] = e;
	R->env_vars[n + 1] = NULL;
}

/* The daemon's HTTP prefix from the configuration, when it loads. */
static char *
import_daemon_prefix(const char *config)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			*s = NULL;

	config_errors_init(&errs);
	if ((cfg = config_load_file(config, &errs)) != NULL &&
	    cfg->listen.http.enabled)
		xasprintf(&s, "http://%s%s%s:%d/servers/",
		    strchr(cfg->listen.http.host, ':') ? "[" : "",
		    cfg->listen.http.host,
		    strchr(cfg->listen.http.host, ':') ? "]" : "",
		    cfg->listen.http.port);
	config_free(cfg);
	config_errors_free(&errs);
	return s;
}

/* One agent's file; 0, or 1 after printing why it could not be read. */
static int
import_agent(struct import_run *R, enum imp_agent agent, const char *path,
    const char *prefix)
{
	struct imp_result	 res;
	struct imp_ctx		 ctx;
	struct json_tokener	*tok;
	struct json_object	*root;
	char			*text, *refs, err[512];
	size_t			 len, i;

	if ((text = ctl_file_read(path, &len, err, sizeof err)) == NULL) {
		fprintf(stderr, "mcprelayctl: %s\n", err);
		return 1;
	}
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (root == NULL || tok->char_offset < (int)len) {
		fprintf(stderr, "mcprelayctl: %s: not valid JSON: %s\n", path,
		    root == NULL ? ctl_json_error(tok) : "text after the end");
		json_object_put(root);
		json_tokener_free(tok);
		free(text);
		return 1;
	}
	json_tokener_free(tok);
	free(text);
	ctx.existing = R->names;
	ctx.env_vars = R->env_vars;
	ctx.daemon_prefix = prefix;
	if (imp_map(root, agent, &ctx, &res, err, sizeof err) == -1) {
		fprintf(stderr, "mcprelayctl: %s: %s\n", path, err);
		json_object_put(root);
		return 1;
	}
	json_object_put(root);

	printf("%s: %zu to import, %zu skipped\n", path, res.nservers,
	    res.nskipped);
	for (i = 0; i < res.nservers; i++) {
		printf("  + %s\n", res.servers[i].name);
		if (res.servers[i].ignored != NULL)
			printf("    (ignored: %s)\n", res.servers[i].ignored);
		import_add_name(R, res.servers[i].name);
	}
	for (i = 0; i < res.nskipped; i++)
		printf("  - %s: %s\n", res.skipped[i].name,
		    res.skipped[i].reason);
	for (i = 0; i < res.nsecrets; i++) {
		printf("  secret %s moved to %s\n", res.secrets[i].var,
		    R->env_path);
		imp_buf_addf(&R->env_add, "%s=%s\n", res.secrets[i].var,
		    res.secrets[i].value);
		import_add_var(R, res.secrets[i].var, res.secrets[i].value);
	}
	for (i = 0; i < res.nservers; i++) {
		/* A variable the env file sets (new or already there) needs
		 * env_file in the configuration. */
		if ((refs = imp_server_refs(&res.servers[i], NULL)) != NULL) {
			char	*name, *save = NULL;

			for (name = strtok_r(refs, ", ", &save); name != NULL;
			    name = strtok_r(NULL, ", ", &save))
				if (env_file_get(R->env_vars, name) != NULL)
					R->uses_env = 1;
			free(refs);
		}
		if ((refs = imp_server_refs(&res.servers[i],
		    R->env_vars)) == NULL)
			continue;
		printf("  %s needs %s: set in mcprelayd's environment or %s\n",
		    res.servers[i].name, refs, R->env_path);
		free(refs);
	}
	imp_emit_servers(&R->servers, &res, R->plan.indent, path);
	R->nimported += res.nservers;
	imp_result_free(&res);
	return 0;
}

/* Nothing changes when the new configuration does not load. */
static void
import_env_restore(struct import_run *R)
{
	char	err[512];

	if (R->env_add.len == 0)
		return;
	if (!R->env_existed)
		unlink(R->env_path);
	else if (ctl_file_write(R->env_path, R->env_text,
	    strlen(R->env_text), 0600, 1, err, sizeof err) == -1)
		fprintf(stderr, "mcprelayctl: %s\n", err);
}

/* Validates the new text as the file it will become, then renames. */
static int
import_write(struct import_run *R, const char *newtext)
{
	struct stat	 st;
	char		 err[512], *tmp, *env;
	FILE		*devnull;
	int		 ok;

	if (R->env_add.len > 0) {
		xasprintf(&env, "%s%s%s", R->env_text,
		    *R->env_text != '\0' && R->env_text[strlen(R->env_text) -
		    1] != '\n' ? "\n" : "", R->env_add.s);
		if (ctl_file_write(R->env_path, env, strlen(env), 0600, 1, err,
		    sizeof err) == -1) {
			fprintf(stderr, "mcprelayctl: %s\n", err);
			free(env);
			return CTL_EXIT_FAIL;
		}
		free(env);
		printf("wrote %s (mode 0600)\n", R->env_path);
	}
	/* The check loads it under its final folder, for env_file. */
	xasprintf(&tmp, "%s.import-check", R->config);
	if (stat(R->config, &st) == -1)
		st.st_mode = 0600;
	if (ctl_file_write(tmp, newtext, strlen(newtext), st.st_mode & 07777,
	    1, err, sizeof err) == -1) {
		fprintf(stderr, "mcprelayctl: %s\n", err);
		free(tmp);
		return CTL_EXIT_FAIL;
	}
	devnull = fopen("/dev/null", "w");
	ok = config_check_file(tmp, devnull != NULL ? devnull : stdout,
	    stderr) == 0;
	if (devnull != NULL)
		fclose(devnull);
	if (!ok) {
		fprintf(stderr, "mcprelayctl: the new configuration does not "
		    "load; %s is unchanged\n", R->config);
		unlink(tmp);
		free(tmp);
		import_env_restore(R);
		return CTL_EXIT_CONFIG;
	}
	if (rename(tmp, R->config) == -1) {
		fprintf(stderr, "mcprelayctl: %s: %s\n", R->config,
		    strerror(errno));
		unlink(tmp);
		free(tmp);
		import_env_restore(R);
		return CTL_EXIT_FAIL;
	}
	free(tmp);
	printf("wrote ");
	config_check_file(R->config, stdout, stderr);
	return CTL_EXIT_OK;
}

static int
import_reload(const char *config)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	int			 rc;

	memset(&o, 0, sizeof o);
	o.config = config;
	if ((rc = ctl_call_once(&o, "reload", NULL, &r)) ==
	    CTL_EXIT_NOT_RUNNING) {
		printf("mcprelayd is not running: it reads the new servers "
		    "when it starts\n");
		return CTL_EXIT_OK;
	}
	if (rc != CTL_EXIT_OK)
		return rc;
	printf("reloaded mcprelayd: %lld servers\n",
	    (long long)ctl_int(r, "servers"));
	json_object_put(r);
	return CTL_EXIT_OK;
}

static void
import_run_free(struct import_run *R)
{
	size_t	i;

	free(R->text);
	imp_yaml_plan_free(&R->plan);
	free(R->env_path);
	free(R->env_text);
	env_file_free(R->env_vars);
	free(R->servers.s);
	if (R->env_add.s != NULL)
		explicit_bzero(R->env_add.s, R->env_add.len);
	free(R->env_add.s);
	for (i = 0; i < R->nnames; i++)
		free(R->names[i]);
	free(R->names);
}

int
cmd_import(const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "write", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct import_run	 R;
	enum imp_agent		 agent = IMP_FILE;
	const char		*from = NULL;
	char			 cbuf[PATH_MAX], err[512], *path, *newtext;
	char			*diff, *env_line = NULL, *a, *b;
	size_t			 i, n;
	int			 ch, write = 0, rc = CTL_EXIT_OK, any = 0;
	char			*prefix;

	memset(&R, 0, sizeof R);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:c:wh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			from = optarg;
			break;
		case 'c':
			R.config = optarg;
			break;
		case 'w':
			write = 1;
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error(self);
		}
	}
	if (optind != argc || (from != NULL && *from == '\0'))
		return ctl_usage_error(self);
	if (R.config == NULL && (R.config = ctl_config_default(cbuf,
	    sizeof cbuf)) == NULL)
		return ctl_usage_error(self);
	if ((R.text = ctl_file_read(R.config, &R.len, err,
	    sizeof err)) == NULL) {
		fprintf(stderr, "mcprelayctl: %s (create one with "
		    "'mcprelayctl init', or give --config)\n", err);
		return CTL_EXIT_FAIL;
	}
	if (imp_yaml_plan(R.text, R.len, &R.plan, err, sizeof err) == -1) {
		fprintf(stderr, "mcprelayctl: %s: %s\n", R.config, err);
		import_run_free(&R);
		return CTL_EXIT_FAIL;
	}
	for (i = 0; R.plan.names[i] != NULL; i++)
		import_add_name(&R, R.plan.names[i]);
	R.env_path = ctl_path_beside(R.config, R.plan.env_file != NULL ?
	    R.plan.env_file : "mcprelay.env");
	if ((R.env_existed = access(R.env_path, F_OK) == 0)) {
		if ((R.env_vars = env_file_read(R.env_path, err,
		    sizeof err)) == NULL ||
		    (R.env_text = ctl_file_read(R.env_path, &n, err,
		    sizeof err)) == NULL) {
			fprintf(stderr, "mcprelayctl: %s\n", err);
			import_run_free(&R);
			return CTL_EXIT_FAIL;
		}
	} else
		R.env_text = xstrdup("");
	imp_buf_add(&R.servers, "", 0);
	imp_buf_add(&R.env_add, "", 0);
	prefix = import_daemon_prefix(R.config);

	if (from != NULL && imp_agent_parse(from, &agent) == -1) {
		/* A file of either shape. */
		rc = import_agent(&R, IMP_FILE, from, prefix);
		any = 1;
	} else {
		for (i = 0; i < IMP_FILE; i++) {
			if (from != NULL && i != agent)
				continue;
			if ((path = imp_agent_path((enum imp_agent)i)) ==
			    NULL)
				continue;
			if (from == NULL && access(path, F_OK) == -1) {
				free(path);
				continue;
			}
			any = 1;
			if (import_agent(&R, (enum imp_agent)i, path,
			    prefix) != 0)
				rc = CTL_EXIT_FAIL;
			free(path);
		}
	}
	free(prefix);
	if (!any)
		printf("no agent configuration found (see docs/import.md; "
		    "--from FILE reads any file)\n");
	if (rc != CTL_EXIT_OK || R.nimported == 0) {
		import_run_free(&R);
		return rc;
	}

	if ((R.env_add.len > 0 || R.uses_env) && R.plan.env_file == NULL)
		xasprintf(&env_line, "\n# Secrets moved here by mcprelayctl "
		    "import (mode 0600).\nenv_file: mcprelay.env\n");
	newtext = imp_yaml_apply(R.text, R.len, &R.plan, R.servers.s,
	    env_line);
	xasprintf(&a, "%s", R.config);
	xasprintf(&b, "%s (imported)", R.config);
	diff = udiff(R.text, newtext, a, b);
	printf("\n%s", diff);
	free(diff);
	free(a);
	free(b);
	if (!write)
		printf("\nnothing written: run again with --write\n");
	else if ((rc = import_write(&R, newtext)) == CTL_EXIT_OK)
		rc = import_reload(R.config);
	free(newtext);
	free(env_line);
	import_run_free(&R);
	return rc;
}
