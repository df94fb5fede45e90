/*
 * The JSON-RPC error codes mcprelayd itself returns to clients.  MCP
 * 2026-07-28 keeps -32000..-32019 implementation-defined and reserves
 * -32020..-32099 for the specification; these take -32007..-32019, clear of
 * the codes the SDKs already use (-32000..-32004).  docs/errors.md lists
 * them.  -32007..-32009 came after -32010..-32019 was full: still
 * implementation-defined and clear of the reserved -32020..-32099.
 */
#ifndef MCPRELAY_ERRORS_H
#define MCPRELAY_ERRORS_H

enum relay_error {
	RELAY_ERR_LIMIT = -32007,	/* a listen.max_* limit was reached */
	RELAY_ERR_NEEDS_AUTH = -32008,	/* OAuth: a login (or more scope) is
					   needed: mcprelayctl login */
	RELAY_ERR_FORBIDDEN = -32009,	/* access refused (docs/security.md) */
	RELAY_ERR_UNAVAILABLE = -32010,	/* retries exhausted, server failed */
	RELAY_ERR_CIRCUIT_OPEN = -32011,	/* breaker open, failing fast */
	RELAY_ERR_QUEUE_FULL = -32012,	/* too many requests waiting */
	RELAY_ERR_QUEUE_TIMEOUT = -32013,	/* reconnect took longer than queue_timeout */
	RELAY_ERR_TIMEOUT = -32014,	/* no answer within request_timeout */
	RELAY_ERR_MAYBE_RAN = -32015,	/* connection lost after sending a non-idempotent call */
	RELAY_ERR_DISABLED = -32016,	/* server disabled or being removed */
	RELAY_ERR_SPAWN = -32017,	/* server cannot be started (not retried) */
	RELAY_ERR_NO_CLIENT = -32018,	/* no client can answer a server request */
	RELAY_ERR_SHUTDOWN = -32019,	/* daemon is shutting down */
};

const char	*relay_error_name(int code);

#endif
