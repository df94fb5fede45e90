/*
 * mcprelayctl init: the annotated default configuration (config/
 * mcprelay.yaml, built in) written where mcprelayd looks for it: the
 * system's, or with --user where the user unit reads it.  Never replaces
 * an existing file.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "import.h"

/* One string per line of config/mcprelay.yaml (generated). */
static const char *const init_starter[] = {
#include "ctl/starter-config.h"
};

/* mkdir -p of path's parent folders, each new one with mode. */
static int
init_mkdirs(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

int
cmd_init(const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", no_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct imp_buf	 b = { NULL, 0, 0 };
	const char	*path = NULL;
	char		 buf[PATH_MAX], err[512];
	size_t		 i;
	int		 ch, user = 0, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "uc:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'u':
			user = 1;
			break;
		case 'c':
			path = optarg;
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error(self);
		}
	}
	if (optind != argc)
		return ctl_usage_error(self);
	if (path == NULL && (path = ctl_config_path(user, buf,
	    sizeof buf)) == NULL) {
		fprintf(stderr, "mcprelayctl: neither XDG_CONFIG_HOME nor "
		    "HOME is set\n");
		return CTL_EXIT_FAIL;
	}
	/* The system service's user must read the file: 0644, as packaged;
	 * a user's is private. */
	if (init_mkdirs(path, user ? 0700 : 0755) == -1) {
		fprintf(stderr, "mcprelayctl: %s: %s\n", path,
		    strerror(errno));
		return CTL_EXIT_FAIL;
	}
	imp_buf_add(&b, "", 0);
	for (i = 0; i < sizeof init_starter / sizeof *init_starter; i++)
		imp_buf_add(&b, init_starter[i], strlen(init_starter[i]));
	if (ctl_file_write(path, b.s, b.len, user ? 0600 : 0644, 0, err,
	    sizeof err) == -1) {
		if (errno == EEXIST)
			fprintf(stderr, "mcprelayctl: %s already exists; not "
			    "replaced\n", path);
		else
			fprintf(stderr, "mcprelayctl: %s\n", err);
		free(b.s);
		return CTL_EXIT_FAIL;
	}
	free(b.s);
	printf("wrote ");
	rc = config_check_file(path, stdout, stderr) == 0 ? CTL_EXIT_OK :
	    CTL_EXIT_CONFIG;
	printf("next: add servers (mcprelayctl import), then start "
	    "mcprelayd%s\n", user ? " (systemctl --user enable --now "
	    "mcprelayd)" : "");
	return rc;
}
