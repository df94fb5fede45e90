/*
 * The transport-neutral half of daemon/upstream.h: dispatch through each
 * transport's operations, so the handler never knows which one it drives.
 */
#include "autoconf.h"

#include <sys/types.h>

#include <stddef.h>
#include <stdlib.h>

#include "jsonrpc.h"
#include "jsonscan.h"
#include "upstream.h"
#include "xmalloc.h"

static const char *const upstream_close_reason_names[] = {
	[UPSTREAM_CLOSE_REQUESTED] = "requested",
	[UPSTREAM_CLOSE_EXITED] = "exited",
	[UPSTREAM_CLOSE_SPAWN_FAILED] = "spawn-failed",
	[UPSTREAM_CLOSE_IO_ERROR] = "io-error",
	[UPSTREAM_CLOSE_PROTOCOL] = "protocol",
	[UPSTREAM_CLOSE_CONNECT_FAILED] = "connect-failed",
	[UPSTREAM_CLOSE_TLS] = "tls",
	[UPSTREAM_CLOSE_HTTP_STATUS] = "http-status",
	[UPSTREAM_CLOSE_SESSION_EXPIRED] = "session-expired",
	[UPSTREAM_CLOSE_TIMEOUT] = "timeout",
	[UPSTREAM_CLOSE_CONFIG] = "config",
	[UPSTREAM_CLOSE_UNAUTHORIZED] = "unauthorized",
};

const char *
upstream_close_reason_name(enum upstream_close_reason reason)
{
	if ((unsigned)reason >= sizeof upstream_close_reason_names /
	    sizeof upstream_close_reason_names[0])
		return "unknown";
	return upstream_close_reason_names[reason];
}

void
upstream_init(struct upstream *u, const struct upstream_ops *ops,
    const char *name, const struct upstream_event_cbs *cbs, void *cbarg)
{
	u->ops = ops;
	u->name = xstrdup(name != NULL ? name : "(unnamed)");
	u->cbs = *cbs;
	u->cbarg = cbarg;
}

void
upstream_fini(struct upstream *u)
{
	free(u->name);
	u->name = NULL;
}

int
upstream_start(struct upstream *u)
{
	return u->ops->start(u);
}

int
upstream_send(struct upstream *u, const char *json, size_t len)
{
	return u->ops->send(u, json, len);
}

int
upstream_send_msg(struct upstream *u, struct json_object *msg)
{
	const char	*s;
	size_t		 len;

	if (u->ops->send_msg != NULL)
		return u->ops->send_msg(u, msg);
	s = jsonrpc_to_string(msg, &len);
	return u->ops->send(u, s, len);
}

int
upstream_send_request(struct upstream *u, const char *json, size_t len,
    const char *method, int64_t id)
{
	if (u->ops->send_request != NULL)
		return u->ops->send_request(u, json, len, method, id);
	return u->ops->send(u, json, len);
}

void
upstream_close(struct upstream *u)
{
	u->ops->close(u);
}

void
upstream_free(struct upstream *u)
{
	if (u != NULL)
		u->ops->free(u);
}

const char *
upstream_name(const struct upstream *u)
{
	return u->name;
}

const char *
upstream_kind(const struct upstream *u)
{
	return u->ops->kind;
}

pid_t
upstream_pid(const struct upstream *u)
{
	if (u->ops->pid == NULL)
		return -1;
	return u->ops->pid(u);
}

void
upstream_emit_ready(struct upstream *u)
{
	if (u->cbs.ready != NULL)
		u->cbs.ready(u->cbarg);
}

void
upstream_emit_message(struct upstream *u, const char *json, size_t len)
{
	if (u->cbs.message != NULL)
		u->cbs.message(u->cbarg, json, len);
}

void
upstream_emit_message_obj(struct upstream *u, struct json_object *msg)
{
	const char	*s;
	size_t		 len;

	if (u->cbs.message_obj != NULL)
		u->cbs.message_obj(u->cbarg, msg);
	else if (u->cbs.message != NULL) {
		s = jsonrpc_to_string(msg, &len);
		u->cbs.message(u->cbarg, s, len);
	}
}

int
upstream_emit_response_text(struct upstream *u, const char *json, size_t len,
    int64_t *id)
{
	struct jsonscan_response	sc;

	if (u->cbs.response_text == NULL ||
	    jsonscan_response(json, len, &sc) == -1 ||
	    !u->cbs.response_text(u->cbarg, json, len, &sc))
		return 0;
	*id = sc.id;
	return 1;
}

void
upstream_emit_undelivered(struct upstream *u, const char *id, size_t len)
{
	if (u->cbs.undelivered != NULL)
		u->cbs.undelivered(u->cbarg, id, len);
}

void
upstream_emit_closed(struct upstream *u, enum upstream_close_reason reason,
    int err, const char *detail)
{
	if (u->cbs.closed != NULL)
		u->cbs.closed(u->cbarg, reason, err, detail);
}

struct json_object *
upstream_tool_schema(struct upstream *u, const char *tool)
{
	if (u->cbs.tool_schema == NULL)
		return NULL;
	return u->cbs.tool_schema(u->cbarg, tool);
}
