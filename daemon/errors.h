/*
 * The JSON-RPC error codes mcprelayd itself returns to clients.  They sit in
 * the implementation-defined range -32000..-32099, away from the codes the
 * MCP specification and its SDKs assign.  docs/errors.md lists them.
 */
#ifndef MCPRELAY_ERRORS_H
#define MCPRELAY_ERRORS_H

enum relay_error {
	RELAY_ERR_UNAVAILABLE = -32070,	/* retries exhausted, server failed */
	RELAY_ERR_CIRCUIT_OPEN = -32071,	/* breaker open, failing fast */
	RELAY_ERR_QUEUE_FULL = -32072,	/* too many requests waiting */
	RELAY_ERR_QUEUE_TIMEOUT = -32073,	/* reconnect took longer than queue_timeout */
	RELAY_ERR_TIMEOUT = -32074,	/* no answer within request_timeout */
	RELAY_ERR_MAYBE_RAN = -32075,	/* connection lost after sending a non-idempotent call */
	RELAY_ERR_DISABLED = -32076,	/* server disabled or being removed */
	RELAY_ERR_SPAWN = -32077,	/* server cannot be started (not retried) */
	RELAY_ERR_NO_CLIENT = -32078,	/* no client can answer a server request */
	RELAY_ERR_SHUTDOWN = -32079,	/* daemon is shutting down */
};

const char	*relay_error_name(int code);

#endif
