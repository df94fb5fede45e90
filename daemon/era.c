/*
 * Era classification, modern request validation and the rewrites between
 * the legacy and the modern protocol.  Pure functions over json-c objects:
 * the listeners and the session layer decide when to call them.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "era.h"
#include "jsonrpc.h"
#include "xmalloc.h"

const char *const era_versions[] = {
	"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
	NULL
};

static const char *const era_modern_versions[] = { "2026-07-28", NULL };

static const char *const era_removed_methods[] = {
	"initialize", "ping", "logging/setLevel", "resources/subscribe",
	"resources/unsubscribe", "notifications/initialized",
	"notifications/roots/list_changed", NULL
};

/* Results clients may cache (server/utilities/caching.mdx). */
static const char *const era_cacheable_methods[] = {
	"server/discover", "tools/list", "prompts/list", "resources/list",
	"resources/templates/list", "resources/read", NULL
};

static const char *const era_log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency", NULL
};

/* How long a cached list stays fresh: short, since list_changed exists. */
#define ERA_TTL_MS	5000

static int
era_in(const char *const *list, const char *s)
{
	int	i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

void
era_error_clear(struct era_error *err)
{
	json_object_put(err->data);
	memset(err, 0, sizeof *err);
}

static int
era_fail(struct era_error *err, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
era_fail(struct era_error *err, int status, int code, const char *fmt, ...)
{
	va_list	ap;

	err->http_status = status;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

static struct json_object *
era_meta(struct json_object *msg)
{
	struct json_object	*params, *meta;

	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "_meta", &meta) ||
	    !json_object_is_type(meta, json_type_object))
		return NULL;
	return meta;
}

int
era_is_modern(struct json_object *msg)
{
	struct json_object	*meta = era_meta(msg);

	return meta != NULL &&
	    json_object_object_get_ex(meta, ERA_META_VERSION, NULL);
}

struct json_object *
era_client_capabilities(struct json_object *msg)
{
	struct json_object	*meta = era_meta(msg), *caps;

	if (meta == NULL || !json_object_object_get_ex(meta, ERA_META_CAPS,
	    &caps) || !json_object_is_type(caps, json_type_object))
		return NULL;
	return json_object_get(caps);
}

int
era_modern_version_supported(const char *version)
{
	return era_in(era_modern_versions, version);
}

static struct json_object *
era_versions_json(void)
{
	struct json_object	*a = json_object_new_array();
	int			 i;

	for (i = 0; era_versions[i] != NULL; i++)
		json_object_array_add(a, json_object_new_string(era_versions[i]));
	return a;
}

int
era_check_meta(struct json_object *msg, struct era_error *err)
{
	struct json_object	*meta = era_meta(msg), *v;
	const char		*version;

	if (meta == NULL)
		return era_fail(err, 400, JSONRPC_INVALID_PARAMS, "Invalid "
		    "params: a 2026-07-28 request needs params._meta");
	if (!json_object_object_get_ex(meta, ERA_META_VERSION, &v) ||
	    !json_object_is_type(v, json_type_string))
		return era_fail(err, 400, JSONRPC_INVALID_PARAMS, "Invalid "
		    "params: _meta[\"%s\"] must be a string", ERA_META_VERSION);
	version = json_object_get_string(v);
	if (!era_modern_version_supported(version)) {
		era_fail(err, 400, ERA_ERR_UNSUPPORTED_VERSION,
		    "Unsupported protocol version");
		err->data = json_object_new_object();
		json_object_object_add(err->data, "supported",
		    era_versions_json());
		json_object_object_add(err->data, "requested",
		    json_object_new_string(version));
		return -1;
	}
	if (!json_object_object_get_ex(meta, ERA_META_CAPS, &v) ||
	    !json_object_is_type(v, json_type_object))
		return era_fail(err, 400, JSONRPC_INVALID_PARAMS, "Invalid "
		    "params: _meta[\"%s\"] must be an object", ERA_META_CAPS);
	if (json_object_object_get_ex(meta, ERA_META_CLIENT, &v) &&
	    !json_object_is_type(v, json_type_object))
		return era_fail(err, 400, JSONRPC_INVALID_PARAMS, "Invalid "
		    "params: _meta[\"%s\"] must be an object", ERA_META_CLIENT);
	if (json_object_object_get_ex(meta, ERA_META_LOGLEVEL, &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	    !era_in(era_log_levels, json_object_get_string(v))))
		return era_fail(err, 400, JSONRPC_INVALID_PARAMS, "Invalid "
		    "params: _meta[\"%s\"] is not a log level",
		    ERA_META_LOGLEVEL);
	return 0;
}

/* ---- headers ------------------------------------------------------------ */

static int
era_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static char *
era_b64_decode(const char *in, size_t len)
{
	char		*out, *p;
	unsigned	 acc = 0;
	int		 bits = 0, v;
	size_t		 i;

	p = out = xmalloc(len / 4 * 3 + 4);
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			/* Padding only at the end. */
			for (; i < len; i++)
				if (in[i] != '=')
					goto bad;
			break;
		}
		if ((v = era_b64_value((unsigned char)in[i])) == -1)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*p++ = (char)((acc >> bits) & 0xff);
		}
	}
	*p = '\0';
	if (memchr(out, '\0', (size_t)(p - out)) != NULL)
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

char *
era_header_decode(const char *value)
{
	size_t	len = strlen(value), i;

	if (len >= 11 && strncmp(value, "=?base64?", 9) == 0 &&
	    strcmp(value + len - 2, "?=") == 0)
		return era_b64_decode(value + 9, len - 11);
	/* A plain value: visible ASCII, space and tab only. */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c != '\t' && (c < 0x20 || c > 0x7e))
			return NULL;
	}
	return xstrdup(value);
}

/* Compare a header with the body value it mirrors. */
static int
era_header_matches(const char *header, struct json_object *body)
{
	char	*decoded, *end;
	int	 ok = 0;
	double	 d;

	if ((decoded = era_header_decode(header)) == NULL)
		return 0;
	switch (json_object_get_type(body)) {
	case json_type_string:
		ok = strcmp(decoded, json_object_get_string(body)) == 0;
		break;
	case json_type_int:
	case json_type_double:
		/* Numerically: "42.0" matches 42. */
		d = strtod(decoded, &end);
		ok = end != decoded && *end == '\0' &&
		    d == json_object_get_double(body);
		break;
	case json_type_boolean:
		ok = strcmp(decoded, json_object_get_boolean(body) ? "true" :
		    "false") == 0;
		break;
	default:
		ok = 0;
	}
	free(decoded);
	return ok;
}

static const char *
era_name_key(const char *method)
{
	if (strcmp(method, "tools/call") == 0 ||
	    strcmp(method, "prompts/get") == 0)
		return "name";
	if (strcmp(method, "resources/read") == 0)
		return "uri";
	return NULL;
}

/*
 * Walk inputSchema.properties (nested "properties" only, as the spec
 * allows) and check every x-mcp-header parameter present in arguments.
 */
static int
era_check_params(struct json_object *schema, struct json_object *args,
    era_header_fn header, void *arg, struct era_error *err, int depth)
{
	struct json_object	*props, *mark, *value;
	const char		*h;
	char			 name[160];

	if (depth > 16 || schema == NULL ||
	    !json_object_object_get_ex(schema, "properties", &props) ||
	    !json_object_is_type(props, json_type_object))
		return 0;
	json_object_object_foreach(props, key, prop) {
		if (!json_object_is_type(prop, json_type_object))
			continue;
		value = NULL;
		if (args != NULL && json_object_is_type(args, json_type_object))
			json_object_object_get_ex(args, key, &value);
		if (json_object_object_get_ex(prop, "x-mcp-header", &mark) &&
		    json_object_is_type(mark, json_type_string)) {
			if (value == NULL)
				continue;	/* absent or null: no header */
			snprintf(name, sizeof name, "Mcp-Param-%s",
			    json_object_get_string(mark));
			if ((h = header(arg, name)) == NULL)
				return era_fail(err, 400,
				    ERA_ERR_HEADER_MISMATCH, "Header mismatch: "
				    "%s header is required", name);
			if (!era_header_matches(h, value))
				return era_fail(err, 400,
				    ERA_ERR_HEADER_MISMATCH, "Header mismatch: "
				    "%s header does not match the argument "
				    "'%s'", name, key);
			continue;
		}
		if (era_check_params(prop, value, header, arg, err,
		    depth + 1) == -1)
			return -1;
	}
	return 0;
}

int
era_check_http_headers(struct json_object *msg, era_header_fn header,
    void *arg, struct json_object *input_schema, struct era_error *err)
{
	struct json_object	*meta = era_meta(msg), *v, *params, *args;
	const char		*h, *method = jsonrpc_method(msg), *key;

	if ((h = header(arg, "MCP-Protocol-Version")) == NULL)
		return era_fail(err, 400, ERA_ERR_HEADER_MISMATCH,
		    "Header mismatch: MCP-Protocol-Version header is required");
	if (meta != NULL && json_object_object_get_ex(meta, ERA_META_VERSION,
	    &v) && json_object_is_type(v, json_type_string) &&
	    strcmp(h, json_object_get_string(v)) != 0)
		return era_fail(err, 400, ERA_ERR_HEADER_MISMATCH,
		    "Header mismatch: MCP-Protocol-Version header value "
		    "'%.40s' does not match _meta value '%.40s'", h,
		    json_object_get_string(v));
	if ((h = header(arg, "Mcp-Method")) == NULL)
		return era_fail(err, 400, ERA_ERR_HEADER_MISMATCH,
		    "Header mismatch: Mcp-Method header is required");
	if (strcmp(h, method) != 0)
		return era_fail(err, 400, ERA_ERR_HEADER_MISMATCH,
		    "Header mismatch: Mcp-Method header value '%.60s' does "
		    "not match body value '%.60s'", h, method);
	if ((key = era_name_key(method)) == NULL)
		return 0;
	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, key, &v))
		return 0;	/* the method's own -32602 says it better */
	if ((h = header(arg, "Mcp-Name")) == NULL)
		return era_fail(err, 400, ERA_ERR_HEADER_MISMATCH,
		    "Header mismatch: Mcp-Name header is required for %s",
		    method);
	if (!era_header_matches(h, v))
		return era_fail(err, 400, ERA_ERR_HEADER_MISMATCH,
		    "Header mismatch: Mcp-Name header does not match "
		    "params.%s", key);
	if (strcmp(method, "tools/call") == 0 && input_schema != NULL) {
		args = NULL;
		json_object_object_get_ex(params, "arguments", &args);
		return era_check_params(input_schema, args, header, arg, err,
		    0);
	}
	return 0;
}

int
era_method_removed(const char *method)
{
	return era_in(era_removed_methods, method);
}

const char *
era_required_capability(const char *method)
{
	/* Only server->client requests need client capabilities, and a
	 * modern client never receives one: nothing to require up front. */
	(void)method;
	return NULL;
}

/* ---- rewrites ----------------------------------------------------------- */

void
era_request_to_legacy(struct json_object *msg)
{
	struct json_object	*meta = era_meta(msg), *params;
	const char		*drop[] = { ERA_META_VERSION, ERA_META_CAPS,
	    ERA_META_CLIENT, ERA_META_LOGLEVEL, NULL };
	int			 i;

	if (meta == NULL)
		return;
	for (i = 0; drop[i] != NULL; i++)
		json_object_object_del(meta, drop[i]);
	if (json_object_object_length(meta) == 0 &&
	    json_object_object_get_ex(msg, "params", &params))
		json_object_object_del(params, "_meta");
}

void
era_request_to_modern(struct json_object *msg, struct json_object *caps,
    struct json_object *info)
{
	struct json_object	*params, *meta;

	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_is_type(params, json_type_object)) {
		params = json_object_new_object();
		json_object_object_add(msg, "params", params);
	}
	if (!json_object_object_get_ex(params, "_meta", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		meta = json_object_new_object();
		json_object_object_add(params, "_meta", meta);
	}
	json_object_object_add(meta, ERA_META_VERSION,
	    json_object_new_string(era_modern_versions[0]));
	json_object_object_add(meta, ERA_META_CAPS, caps != NULL ?
	    json_object_get(caps) : json_object_new_object());
	if (info != NULL)
		json_object_object_add(meta, ERA_META_CLIENT,
		    json_object_get(info));
}

void
era_reply_to_modern(struct json_object *reply, const char *method,
    const char *server_name, const char *server_version)
{
	struct json_object	*result, *error, *code, *meta, *info;

	if (json_object_object_get_ex(reply, "error", &error)) {
		/* 2026-07-28: resource not found is Invalid Params. */
		if (json_object_object_get_ex(error, "code", &code) &&
		    json_object_get_int(code) == -32002 &&
		    strcmp(method, "resources/read") == 0)
			json_object_object_add(error, "code",
			    json_object_new_int(JSONRPC_INVALID_PARAMS));
		return;
	}
	if (!json_object_object_get_ex(reply, "result", &result) ||
	    !json_object_is_type(result, json_type_object))
		return;
	if (!json_object_object_get_ex(result, "resultType", NULL))
		json_object_object_add(result, "resultType",
		    json_object_new_string("complete"));
	if (era_in(era_cacheable_methods, method) &&
	    strcmp(json_object_get_string(json_object_object_get(result,
	    "resultType")), "complete") == 0) {
		if (!json_object_object_get_ex(result, "ttlMs", NULL))
			json_object_object_add(result, "ttlMs",
			    json_object_new_int(ERA_TTL_MS));
		if (!json_object_object_get_ex(result, "cacheScope", NULL))
			json_object_object_add(result, "cacheScope",
			    json_object_new_string("private"));
	}
	if (!json_object_object_get_ex(result, "_meta", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		meta = json_object_new_object();
		json_object_object_add(result, "_meta", meta);
	}
	if (!json_object_object_get_ex(meta, ERA_META_SERVER, NULL)) {
		info = json_object_new_object();
		json_object_object_add(info, "name",
		    json_object_new_string(server_name));
		json_object_object_add(info, "version",
		    json_object_new_string(server_version));
		json_object_object_add(meta, ERA_META_SERVER, info);
	}
}

int
era_http_status(struct json_object *reply)
{
	struct json_object	*error, *code;

	if (reply == NULL ||
	    !json_object_object_get_ex(reply, "error", &error) ||
	    !json_object_object_get_ex(error, "code", &code))
		return 200;
	switch (json_object_get_int(code)) {
	case JSONRPC_METHOD_NOT_FOUND:
		return 404;
	case JSONRPC_PARSE_ERROR:
	case JSONRPC_INVALID_REQUEST:
	case ERA_ERR_HEADER_MISMATCH:
	case ERA_ERR_MISSING_CAPABILITY:
	case ERA_ERR_UNSUPPORTED_VERSION:
		return 400;
	default:
		/* Tool and upstream errors are answers, not bad requests. */
		return 200;
	}
}

struct json_object *
era_discover_result(struct json_object *capabilities,
    const char *instructions)
{
	struct json_object	*r = json_object_new_object();

	json_object_object_add(r, "supportedVersions", era_versions_json());
	json_object_object_add(r, "capabilities", capabilities);
	if (instructions != NULL)
		json_object_object_add(r, "instructions",
		    json_object_new_string(instructions));
	return r;
}
