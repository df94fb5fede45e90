/*
 * The two protocol eras: legacy (2024-11-05 .. 2025-11-25, sessions and an
 * initialize handshake) and modern (2026-07-28, stateless, version and
 * capabilities in every request's _meta).  This module is the one place
 * that knows both eras' wire details: classifying an inbound message,
 * validating a modern request (its _meta and HTTP headers), and rewriting
 * messages that cross from one era to the other.
 */
#ifndef MCPRELAY_ERA_H
#define MCPRELAY_ERA_H

#include <stddef.h>

struct json_object;

enum era {
	ERA_LEGACY,
	ERA_MODERN,
};

#define ERA_META_VERSION	"io.modelcontextprotocol/protocolVersion"
#define ERA_META_CAPS		"io.modelcontextprotocol/clientCapabilities"
#define ERA_META_CLIENT		"io.modelcontextprotocol/clientInfo"
#define ERA_META_LOGLEVEL	"io.modelcontextprotocol/logLevel"
#define ERA_META_SERVER		"io.modelcontextprotocol/serverInfo"
#define ERA_META_SUBSCRIPTION	"io.modelcontextprotocol/subscriptionId"

/* MCP-reserved error codes of 2026-07-28. */
#define ERA_ERR_HEADER_MISMATCH		-32020
#define ERA_ERR_MISSING_CAPABILITY	-32021
#define ERA_ERR_UNSUPPORTED_VERSION	-32022

/* Every version mcprelayd serves, newest first (both eras). */
extern const char *const era_versions[];

/* Why an inbound modern request is refused, ready for the client. */
struct era_error {
	int			 http_status;
	int			 code;
	char			 message[256];
	struct json_object	*data;		/* owned; NULL or extra detail */
};

void		 era_error_clear(struct era_error *);

/*
 * Does this request declare itself modern, i.e. carry
 * _meta["io.modelcontextprotocol/protocolVersion"]?  Legacy requests and
 * notifications never do.
 */
int		 era_is_modern(struct json_object *msg);

/* A message's params._meta object (borrowed) or NULL. */
struct json_object *era_meta(struct json_object *msg);

/* The clientCapabilities of a modern request's _meta (new ref) or NULL. */
struct json_object *era_client_capabilities(struct json_object *msg);

/* A modern request's _meta logLevel (a copy; caller frees) or NULL. */
char		*era_log_level(struct json_object *msg);
/* Does a request that asked for logs at want take one at level? */
int		 era_log_wanted(const char *want, const char *level);

/* Is version a modern revision mcprelayd serves? */
int		 era_modern_version_supported(const char *version);

/*
 * Checks a modern request's _meta: a supported version (else -32022 with
 * the supported list), a clientCapabilities object and, when present, a
 * clientInfo object and a known logLevel (else -32602).  0 or -1 + err.
 */
int		 era_check_meta(struct json_object *msg, struct era_error *err);

/* Header lookup for era_check_http_headers(); NULL when absent. */
typedef const char *(*era_header_fn)(void *arg, const char *name);

/*
 * Streamable HTTP request metadata (2026-07-28): MCP-Protocol-Version,
 * Mcp-Method and Mcp-Name must be present and match the body (Base64
 * sentinel values decoded), and Mcp-Param-* headers must match the tool
 * arguments that input_schema marks with x-mcp-header (input_schema may be
 * NULL when the tool is unknown).  Mismatch: 400 / -32020.
 */
int		 era_check_http_headers(struct json_object *msg,
		    era_header_fn header, void *arg,
		    struct json_object *input_schema, struct era_error *err);

/* Methods 2026-07-28 removed; a modern request for one gets 404/-32601. */
int		 era_method_removed(const char *method);

/*
 * The client capability a server->client request needs (sampling,
 * elicitation, roots), or NULL for a method no capability covers.
 */
const char	*era_server_request_capability(const char *method);

/*
 * A modern request goes to a legacy upstream: drop the per-request
 * io.modelcontextprotocol/ _meta keys a legacy server does not know.
 */
void		 era_request_to_legacy(struct json_object *msg);

/*
 * A legacy client's request goes to a modern-only upstream: add the
 * per-request _meta (version, the client's capabilities and identity;
 * caps/info borrowed, may be NULL).
 */
void		 era_request_to_modern(struct json_object *msg,
		    struct json_object *caps, struct json_object *info,
		    const char *log_level);

/*
 * A reply for a modern client: resultType on results, caching hints on
 * cacheable results, serverInfo in _meta, and the 2026-07-28 code for
 * resource-not-found (-32602 instead of -32002).
 */
void		 era_reply_to_modern(struct json_object *reply,
		    const char *method, const char *server_name,
		    const char *server_version);

/* The HTTP status of a JSON reply to a modern request (200 for results). */
int		 era_http_status(struct json_object *reply);

/*
 * The result of server/discover: supported versions, capabilities (taken),
 * instructions (may be NULL).
 */
struct json_object *era_discover_result(struct json_object *capabilities,
		    const char *instructions);

/* Base64 sentinel ("=?base64?...?=") decoding; NULL when not well formed.
 * Plain values are returned as copies.  Caller frees. */
char		*era_header_decode(const char *value);

/*
 * The Base64 sentinel form of a header value when it cannot go plain
 * (non-ASCII, control characters, leading or trailing space, or a plain
 * value that looks encoded); otherwise a copy.  Caller frees.
 */
char		*era_header_encode(const char *value);

typedef void	(*era_add_header_fn)(void *arg, const char *name,
		    const char *value);

/*
 * The headers a modern request carries on Streamable HTTP, from its body:
 * MCP-Protocol-Version (from _meta), Mcp-Method, Mcp-Name and, for
 * tools/call, Mcp-Param-* for the arguments input_schema (may be NULL)
 * marks with x-mcp-header; values encoded as the spec says.
 */
void		 era_add_http_headers(struct json_object *msg,
		    struct json_object *input_schema, era_add_header_fn add,
		    void *arg);

/*
 * Are the tool's x-mcp-header annotations valid (non-empty HTTP tokens,
 * case-insensitively unique, on string/integer/boolean properties reached
 * through "properties" only)?  1, or 0 with the reason in why.  Clients
 * on Streamable HTTP must drop a tool that is not.
 */
int		 era_tool_headers_valid(struct json_object *tool, char *why,
		    size_t len);

#endif
