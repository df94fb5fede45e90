/*
 * Where the control socket lives when the configuration does not say:
 * shared by mcprelayd, which listens there, and mcprelayctl, which looks
 * there, so the two always agree.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

const char *
config_control_socket_default(char *buf, size_t len)
{
	const char	*dir;
	size_t		 n;

	/* systemd may list several directories, separated by ':'. */
	if ((dir = getenv("RUNTIME_DIRECTORY")) != NULL && *dir != '\0') {
		n = strcspn(dir, ":");
		snprintf(buf, len, "%.*s/control.sock", (int)n, dir);
		return buf;
	}
	if (geteuid() != 0 && (dir = getenv("XDG_RUNTIME_DIR")) != NULL &&
	    *dir != '\0') {
		snprintf(buf, len, "%s/mcprelay/control.sock", dir);
		return buf;
	}
	snprintf(buf, len, "/run/mcprelay/control.sock");
	return buf;
}

const char *
config_control_socket(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->control.socket != NULL && *cfg->control.socket != '\0') {
		snprintf(buf, len, "%s", cfg->control.socket);
		return buf;
	}
	return config_control_socket_default(buf, len);
}
