/*
 * Names for mcprelayd's own JSON-RPC error codes, used in logs and stats.
 */
#include "autoconf.h"

#include <stddef.h>

#include "errors.h"

static const char *const relay_error_names[] = {
	[-RELAY_ERR_UNAVAILABLE - 32010] = "unavailable",
	[-RELAY_ERR_CIRCUIT_OPEN - 32010] = "circuit_open",
	[-RELAY_ERR_QUEUE_FULL - 32010] = "queue_full",
	[-RELAY_ERR_QUEUE_TIMEOUT - 32010] = "queue_timeout",
	[-RELAY_ERR_TIMEOUT - 32010] = "timeout",
	[-RELAY_ERR_MAYBE_RAN - 32010] = "maybe_ran",
	[-RELAY_ERR_DISABLED - 32010] = "disabled",
	[-RELAY_ERR_SPAWN - 32010] = "spawn_failed",
	[-RELAY_ERR_NO_CLIENT - 32010] = "no_client",
	[-RELAY_ERR_SHUTDOWN - 32010] = "shutdown",
};

const char *
relay_error_name(int code)
{
	int	i = -code - 32010;

	if (code == RELAY_ERR_FORBIDDEN)
		return "forbidden";
	if (code == RELAY_ERR_NEEDS_AUTH)
		return "needs_auth";
	if (code == RELAY_ERR_LIMIT)
		return "limit";

	if (i < 0 || i >= (int)(sizeof relay_error_names /
	    sizeof relay_error_names[0]) || relay_error_names[i] == NULL)
		return "other";
	return relay_error_names[i];
}
