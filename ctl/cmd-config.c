/*
 * mcprelayctl configuration commands.  check-config must answer exactly as
 * mcprelayd --check-config: same loader, same messages, same exit codes.
 */
#include "autoconf.h"

#include <stdio.h>

#include "config.h"
#include "ctl.h"

int
cmd_check_config(const struct ctl_cmd *self, int argc, char **argv)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 summary[512];
	const char		*path;

	if (argc != 2)
		return ctl_usage_error(self);
	path = argv[1];
	config_errors_init(&errs);
	cfg = config_load_file(path, &errs);
	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		return CTL_EXIT_CONFIG;
	}
	config_summary(cfg, summary, sizeof summary);
	printf("%s: %s\n", path, summary);
	config_free(cfg);
	config_errors_free(&errs);
	return CTL_EXIT_OK;
}
