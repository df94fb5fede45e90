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
#include <strings.h>

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

struct json_object *
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

char *
era_log_level(struct json_object *msg)
{
	struct json_object	*meta = era_meta(msg), *v;

	if (meta == NULL || !json_object_object_get_ex(meta, ERA_META_LOGLEVEL,
	    &v) || !json_object_is_type(v, json_type_string) ||
	    !era_in(era_log_levels, json_object_get_string(v)))
		return NULL;
	return xstrdup(json_object_get_string(v));
}

static int
era_log_rank(const char *level)
{
	int	i;

	for (i = 0; era_log_levels[i] != NULL; i++)
		if (strcmp(era_log_levels[i], level) == 0)
			return i;
	return -1;
}

int
era_log_wanted(const char *want, const char *level)
{
	int	w, l;

	if (want == NULL || level == NULL)
		return 0;
	w = era_log_rank(want);
	l = era_log_rank(level);
	return w >= 0 && l >= w;
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
era_server_request_capability(const char *method)
{
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strncmp(method, "elicitation/", 12) == 0)
		return "elicitation";
	if (strcmp(method, "roots/list") == 0)
		return "roots";
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
    struct json_object *info, const char *log_level)
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
	if (log_level != NULL)
		json_object_object_add(meta, ERA_META_LOGLEVEL,
		    json_object_new_string(log_level));
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

/* ---- headers mcprelayd sends as a modern client ----------------------- */

static char *
era_b64_encode(const unsigned char *in, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char			*out, *p;
	size_t			 i;
	unsigned		 v;

	p = out = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*p++ = tab[v >> 18 & 63];
		*p++ = tab[v >> 12 & 63];
		*p++ = tab[v >> 6 & 63];
		*p++ = tab[v & 63];
	}
	if (i < len) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		*p++ = tab[v >> 18 & 63];
		*p++ = tab[v >> 12 & 63];
		*p++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

char *
era_header_encode(const char *value)
{
	size_t	 len = strlen(value), i;
	char	*b64, *out;
	int	 plain = 1;

	for (i = 0; i < len && plain; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c < 0x20 || c > 0x7e)
			plain = 0;
	}
	if (len > 0 && (value[0] == ' ' || value[len - 1] == ' '))
		plain = 0;
	/* A plain value that looks encoded would be misread. */
	if (len >= 11 && strncmp(value, "=?base64?", 9) == 0 &&
	    strcmp(value + len - 2, "?=") == 0)
		plain = 0;
	if (plain)
		return xstrdup(value);
	b64 = era_b64_encode((const unsigned char *)value, len);
	xasprintf(&out, "=?base64?%s?=", b64);
	free(b64);
	return out;
}

/* A header value for one x-mcp-header argument; NULL: no header. */
static char *
era_param_value(struct json_object *v)
{
	char	buf[32];

	switch (json_object_get_type(v)) {
	case json_type_string:
		return era_header_encode(json_object_get_string(v));
	case json_type_boolean:
		return xstrdup(json_object_get_boolean(v) ? "true" : "false");
	case json_type_int:
		snprintf(buf, sizeof buf, "%lld",
		    (long long)json_object_get_int64(v));
		return xstrdup(buf);
	case json_type_double:
		/* Integral doubles only: "number" is not a header type. */
		snprintf(buf, sizeof buf, "%.17g", json_object_get_double(v));
		return xstrdup(buf);
	default:
		return NULL;
	}
}

static void
era_add_params(struct json_object *schema, struct json_object *args,
    era_add_header_fn add, void *arg, int depth)
{
	struct json_object	*props, *mark, *value;
	char			 name[160], *v;

	if (depth > 16 || schema == NULL || args == NULL ||
	    !json_object_is_type(args, json_type_object) ||
	    !json_object_object_get_ex(schema, "properties", &props) ||
	    !json_object_is_type(props, json_type_object))
		return;
	json_object_object_foreach(props, key, prop) {
		if (!json_object_is_type(prop, json_type_object) ||
		    !json_object_object_get_ex(args, key, &value) ||
		    value == NULL)
			continue;
		if (json_object_object_get_ex(prop, "x-mcp-header", &mark) &&
		    json_object_is_type(mark, json_type_string)) {
			if ((v = era_param_value(value)) == NULL)
				continue;
			snprintf(name, sizeof name, "Mcp-Param-%s",
			    json_object_get_string(mark));
			add(arg, name, v);
			free(v);
			continue;
		}
		era_add_params(prop, value, add, arg, depth + 1);
	}
}

void
era_add_http_headers(struct json_object *msg, struct json_object *input_schema,
    era_add_header_fn add, void *arg)
{
	struct json_object	*meta = era_meta(msg), *v, *params, *args;
	const char		*method = jsonrpc_method(msg), *key;
	char			*enc;

	if (meta != NULL && json_object_object_get_ex(meta, ERA_META_VERSION,
	    &v) && json_object_is_type(v, json_type_string))
		add(arg, "MCP-Protocol-Version", json_object_get_string(v));
	if (method == NULL)
		return;
	add(arg, "Mcp-Method", method);
	if ((key = era_name_key(method)) == NULL ||
	    !json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	enc = era_header_encode(json_object_get_string(v));
	add(arg, "Mcp-Name", enc);
	free(enc);
	if (strcmp(method, "tools/call") == 0 && input_schema != NULL &&
	    json_object_object_get_ex(params, "arguments", &args))
		era_add_params(input_schema, args, add, arg, 0);
}

/* ---- x-mcp-header annotations of a tool definition -------------------- */

struct era_marks {
	char	 seen[64][64];
	int	 n;
};

static int
era_tchar_token(const char *s)
{
	const char	*p;

	if (*s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~",
		    *p) != NULL))
			return 0;
	return 1;
}

/* One annotation, on a property reachable through "properties" only. */
static int
era_check_mark(struct json_object *prop, struct json_object *mark,
    struct era_marks *m, char *why, size_t len)
{
	struct json_object	*type;
	const char		*s, *t;
	int			 i;

	if (!json_object_is_type(mark, json_type_string)) {
		snprintf(why, len, "x-mcp-header is not a string");
		return -1;
	}
	s = json_object_get_string(mark);
	if (*s == '\0') {
		snprintf(why, len, "x-mcp-header is empty");
		return -1;
	}
	if (!era_tchar_token(s)) {
		snprintf(why, len, "x-mcp-header '%.40s' is not an HTTP "
		    "token", s);
		return -1;
	}
	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->seen[i], s) == 0) {
			snprintf(why, len, "x-mcp-header '%.40s' is used "
			    "twice", s);
			return -1;
		}
	if (m->n < (int)(sizeof m->seen / sizeof m->seen[0]) &&
	    strlen(s) < sizeof m->seen[0])
		snprintf(m->seen[m->n++], sizeof m->seen[0], "%s", s);
	t = json_object_object_get_ex(prop, "type", &type) &&
	    json_object_is_type(type, json_type_string) ?
	    json_object_get_string(type) : NULL;
	if (t == NULL || (strcmp(t, "string") != 0 &&
	    strcmp(t, "integer") != 0 && strcmp(t, "boolean") != 0)) {
		snprintf(why, len, "x-mcp-header '%.40s' is on a parameter of "
		    "type %.20s (string, integer or boolean only)", s,
		    t != NULL ? t : "(none)");
		return -1;
	}
	return 0;
}

/*
 * Walk a schema: reachable says whether every step so far was a
 * "properties" key.  An annotation anywhere else invalidates the tool.
 */
static int
era_walk_schema(struct json_object *schema, int reachable,
    struct era_marks *m, char *why, size_t len, int depth)
{
	struct json_object	*mark;
	size_t			 i;

	if (depth > 32) {
		snprintf(why, len, "inputSchema nested too deeply");
		return -1;
	}
	if (json_object_is_type(schema, json_type_array)) {
		for (i = 0; i < json_object_array_length(schema); i++)
			if (era_walk_schema(json_object_array_get_idx(schema,
			    i), 0, m, why, len, depth + 1) == -1)
				return -1;
		return 0;
	}
	if (!json_object_is_type(schema, json_type_object))
		return 0;
	if (json_object_object_get_ex(schema, "x-mcp-header", &mark)) {
		if (!reachable || depth == 0) {
			snprintf(why, len, "x-mcp-header outside a chain of "
			    "'properties'");
			return -1;
		}
		if (era_check_mark(schema, mark, m, why, len) == -1)
			return -1;
	}
	json_object_object_foreach(schema, key, sub) {
		if (strcmp(key, "properties") == 0 &&
		    json_object_is_type(sub, json_type_object)) {
			json_object_object_foreach(sub, pname, prop) {
				(void)pname;
				if (era_walk_schema(prop, reachable, m, why,
				    len, depth + 1) == -1)
					return -1;
			}
		} else if (strcmp(key, "x-mcp-header") != 0 &&
		    (json_object_is_type(sub, json_type_object) ||
		    json_object_is_type(sub, json_type_array))) {
			if (era_walk_schema(sub, 0, m, why, len,
			    depth + 1) == -1)
				return -1;
		}
	}
	return 0;
}

int
era_tool_headers_valid(struct json_object *tool, char *why, size_t len)
{
	struct json_object	*schema;
	struct era_marks	 m;

	m.n = 0;
	if (!json_object_object_get_ex(tool, "inputSchema", &schema))
		return 1;
	return era_walk_schema(schema, 1, &m, why, len, 0) == 0;
}
