/*
 * JSON-RPC messages read without building them: enough to forward their
 * bytes with only the id replaced (docs/architecture.md, "Pass-through").
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

struct jsonscan_call {
	size_t	start, end;		/* the object: text[start, end) */
	size_t	id_start, id_end;	/* the id's value, quotes included */
	int	id_is_string;
	int64_t	id;			/* when it is an integer */
	size_t	name_start, name_end;	/* params.name, quotes excluded */
};

/*
 * The same for a tools/call request: succeeds (0) only for one object as
 * jsonscan_response() takes it, with exactly "jsonrpc": "2.0", an "id"
 * that is an integer fitting 64 bits or a string without escapes,
 * "method": "tools/call" and a "params" object, each once and nothing
 * else, and in params a "name" string without escapes, once, and no
 * "_meta" (it would carry a 2026-07-28 request's version or a progress
 * token).  Keys at those two levels have no escapes.  Anything else is -1
 * and is parsed as usual.
 */
int	jsonscan_call(const char *text, size_t len, struct jsonscan_call *out);

#endif
