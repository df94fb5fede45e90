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
	if (argc != 2)
		return ctl_usage_error(self);
	return config_check_file(argv[1], stdout, stderr) == 0 ?
	    CTL_EXIT_OK : CTL_EXIT_CONFIG;
}
