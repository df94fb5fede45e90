/*
 * mcprelayctl's commands that change the daemon: reconnect, disable and
 * enable NAME, reload; and show-config.  The daemon refuses the changes to
 * a read-only peer (a member of control.group) with a clear error.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"

/* reconnect, disable and enable share this: the method is the name. */
int
cmd_server_action(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	char			 method[64];
	int			 rc;

	snprintf(method, sizeof method, "server.%s", self->name);
	if ((rc = ctl_query(self, argc, argv, 1, 1, method, &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	if (o.json)
		ctl_print_json(r);
	else
		printf("%s: %s%s\n", ctl_str(r, "server", "?"),
		    ctl_str(r, "state", "?"), ctl_int(r, "disabled") ?
		    " (disabled)" : "");
	json_object_put(r);
	return CTL_EXIT_OK;
}

int
cmd_reload(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	int			 rc;

	if ((rc = ctl_query(self, argc, argv, 0, 0, "reload", &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	if (o.json)
		ctl_print_json(r);
	else
		printf("reloaded: %lld servers\n",
		    (long long)ctl_int(r, "servers"));
	json_object_put(r);
	return CTL_EXIT_OK;
}

int
cmd_show_config(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	int			 rc;

	if ((rc = ctl_query(self, argc, argv, 0, 0, "config.show", &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	ctl_print_json(r);
	json_object_put(r);
	return CTL_EXIT_OK;
}
