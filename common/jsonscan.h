/*
 * A JSON-RPC response read without building it: enough to forward its
 * bytes with only its id replaced (docs/architecture.md, "Pass-through").
 */
#ifndef MCPRELAY_JSONSCAN_H
#define MCPRELAY_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

struct jsonscan_response {
	size_t	start, end;		/* the object: text[start, end) */
	size_t	id_start, id_end;	/* the id's value: text[id_start, id_end) */
	int64_t	id;
};

/*
 * Succeeds (0) only for one JSON object, valid as the daemon's parser
 * would take it (RFC 8259, UTF-8 checked, nested at most
 * JSONRPC_MAX_DEPTH deep), that is a JSON-RPC 2.0 success response: a
 * "jsonrpc": "2.0", an integer "id", a "result", no "error" or "method",
 * none of them twice, and no escapes in its top-level keys.  Line breaks
 * are refused outside the whitespace around the object, so that its bytes
 * can be framed as one line or one SSE data field.  Anything else is -1:
 * the caller then parses the message as usual.
 */
int	jsonscan_response(const char *text, size_t len,
	    struct jsonscan_response *out);

#endif
