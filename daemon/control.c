/*
 * The control socket (OpenSMTPD's control.c, unbound's remote control):
 * newline-delimited JSON-RPC 2.0 on a Unix socket.  Peer credentials
 * decide access once, at connect; mutating methods are gated in one place
 * (the method table).  A client never blocks the daemon: output is queued
 * and a client that lets too much pile up is dropped; garbage gets an
 * error and the connection is closed once it has been sent.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "access.h"
#include "compat-queue.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "handler.h"
#include "jsonrpc.h"
#include "log.h"
#include "metrics.h"
#include "ndjson.h"
#include "oauth.h"
#include "relay.h"
#include "retry-rules.h"
#include "router.h"
#include "sockfile.h"
#include "stats.h"
#include "xmalloc.h"

/* How long accepting pauses after accept() fails (EMFILE and the like). */
#define CONTROL_ACCEPT_PAUSE	1

enum control_conn_state {
	CONTROL_CONN_OPEN,	/* reading requests */
	CONTROL_CONN_CLOSING,	/* not reading; closed once output is sent */
	CONTROL_CONN_DEAD,	/* ev_free frees it from the event loop */
};

static const char *const control_conn_state_names[] = {
	[CONTROL_CONN_OPEN] = "open",
	[CONTROL_CONN_CLOSING] = "closing",
	[CONTROL_CONN_DEAD] = "dead",
};

struct control_conn {
	struct control			*ctl;
	uint64_t			 id;
	enum control_conn_state		 state;
	const char			*why;
	struct sockfile_peer		 peer;
	enum control_access		 access;
	struct bufferevent		*bev;
	struct ndjson_reader		*reader;
	struct events_sub		*sub;	/* events.subscribe */
	/* Freeing is deferred: an event that overflows the output arrives
	 * in the middle of the event bus's loop over its subscribers. */
	struct event			*ev_free;
	TAILQ_ENTRY(control_conn)	 entry;
};

struct control {
	struct relay			*relay;
	char				*path;
	struct sockfile			 file;
	struct evconnlistener		*evl;
	struct event			*ev_resume;
	uid_t				 daemon_uid;
	char				*group;
	int				 has_gid;
	gid_t				 gid;
	size_t				 max_line;
	size_t				 max_output;
	uint64_t			 next_id;
	struct control_counters		 counters;
	TAILQ_HEAD(, control_conn)	 conns;
};

/* A method: what it needs and what it does; it answers exactly once. */
struct control_method {
	const char	*name;
	int		 mutates;	/* needs CONTROL_ACCESS_ADMIN */
	void		(*fn)(struct control_conn *, struct json_object *id,
			    struct json_object *params);
};

static void	control_status(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_stats(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_servers(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_reconnect(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_disable(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_enable(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_reload(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_config_show(struct control_conn *,
		    struct json_object *, struct json_object *);
static void	control_subscribe(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_metrics(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_rules(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_rules_test(struct control_conn *,
		    struct json_object *, struct json_object *);
static void	control_login(struct control_conn *, struct json_object *,
		    struct json_object *);
static void	control_logout(struct control_conn *, struct json_object *,
		    struct json_object *);

static const struct control_method control_methods[] = {
	{ "status", 0, control_status },
	{ "stats", 0, control_stats },
	{ "servers", 0, control_servers },
	{ "server.reconnect", 1, control_reconnect },
	{ "server.disable", 1, control_disable },
	{ "server.enable", 1, control_enable },
	{ "reload", 1, control_reload },
	{ "config.show", 0, control_config_show },
	{ "events.subscribe", 0, control_subscribe },
	{ "metrics", 0, control_metrics },
	{ "rules", 0, control_rules },
	{ "rules.test", 0, control_rules_test },
	{ "server.login", 1, control_login },
	{ "server.logout", 1, control_logout },
};

#define CONTROL_NMETHODS	(sizeof control_methods / sizeof control_methods[0])

static const char *const control_access_names[] = {
	[CONTROL_ACCESS_NONE] = "none",
	[CONTROL_ACCESS_READ] = "read",
	[CONTROL_ACCESS_ADMIN] = "admin",
};

const char *
control_access_name(enum control_access a)
{
	if ((unsigned)a > CONTROL_ACCESS_ADMIN)
		return "unknown";
	return control_access_names[a];
}

enum control_access
control_access_for(uid_t peer, int in_group, uid_t daemon_uid)
{
	if (peer == 0 || peer == daemon_uid)
		return CONTROL_ACCESS_ADMIN;
	if (peer != (uid_t)-1 && in_group)
		return CONTROL_ACCESS_READ;
	return CONTROL_ACCESS_NONE;
}

/* ---- connections ------------------------------------------------------- */

static void
control_conn_set_state(struct control_conn *c, enum control_conn_state state,
    const char *why)
{
	if (c->state == state || c->state == CONTROL_CONN_DEAD)
		return;
	log_debug("control conn %llu: %s -> %s: %s",
	    (unsigned long long)c->id, control_conn_state_names[c->state],
	    control_conn_state_names[state], why);
	c->state = state;
	c->why = why;
	switch (state) {
	case CONTROL_CONN_OPEN:
		break;
	case CONTROL_CONN_CLOSING:
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			control_conn_set_state(c, CONTROL_CONN_DEAD, why);
		break;
	case CONTROL_CONN_DEAD:
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		event_active(c->ev_free, 0, 0);
		break;
	}
}

/* Queue one message; a client that does not read is dropped here. */
static void
control_send(struct control_conn *c, struct json_object *msg)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	const char	*json;
	size_t		 len, queued;

	if (c->state == CONTROL_CONN_DEAD)
		return;
	json = jsonrpc_to_string(msg, &len);
	if (ndjson_write(out, json, len) == -1) {
		log_warnx("control conn %llu: cannot queue a %zu-byte "
		    "message", (unsigned long long)c->id, len);
		control_conn_set_state(c, CONTROL_CONN_DEAD, "write failed");
		return;
	}
	queued = evbuffer_get_length(out);
	if (queued > c->ctl->max_output) {
		log_warnx("control conn %llu (pid %ld uid %ld): dropped: "
		    "client is not reading, %zu bytes unsent (max %zu)",
		    (unsigned long long)c->id, (long)c->peer.pid,
		    (long)c->peer.uid, queued, c->ctl->max_output);
		c->ctl->counters.dropped++;
		control_conn_set_state(c, CONTROL_CONN_DEAD,
		    "client not reading");
	}
}

/* Takes result. */
static void
control_result(struct control_conn *c, struct json_object *id,
    struct json_object *result)
{
	struct json_object	*reply = jsonrpc_result_new(id, result);

	control_send(c, reply);
	json_object_put(reply);
}

/* Takes data. */
static void
control_error(struct control_conn *c, struct json_object *id, int code,
    const char *message, struct json_object *data)
{
	struct json_object	*reply;

	reply = jsonrpc_error_new(id, code, message, data);
	control_send(c, reply);
	json_object_put(reply);
}

static void
control_conn_free(struct control_conn *c)
{
	struct control	*ctl = c->ctl;

	TAILQ_REMOVE(&ctl->conns, c, entry);
	ctl->counters.open--;
	if (c->sub != NULL) {
		events_unsubscribe(ctl->relay->events, c->sub);
		ctl->counters.subscribed--;
	}
	log_debug("control conn %llu: closed (%s)", (unsigned long long)c->id,
	    c->why != NULL ? c->why : "");
	event_free(c->ev_free);
	bufferevent_free(c->bev);
	ndjson_reader_free(c->reader);
	free(c);
}

static void
control_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	control_conn_free(arg);
}

/* ---- requests ---------------------------------------------------------- */

static const struct control_method *
control_find_method(const char *name)
{
	size_t	i;

	for (i = 0; i < CONTROL_NMETHODS; i++)
		if (strcmp(control_methods[i].name, name) == 0)
			return &control_methods[i];
	return NULL;
}

/* params.server as a string, or an error answered and NULL. */
static const char *
control_param_server(struct control_conn *c, struct json_object *id,
    struct json_object *params, int required)
{
	struct json_object	*v;

	if (params == NULL || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "server", &v)) {
		if (required)
			control_error(c, id, JSONRPC_INVALID_PARAMS,
			    "params.server (a server name) is required", NULL);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		control_error(c, id, JSONRPC_INVALID_PARAMS,
		    "params.server must be a string", NULL);
		return NULL;
	}
	return json_object_get_string(v);
}

/* The handler of params.server, or an error answered and NULL. */
static struct handler *
control_param_handler(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler		*h;
	const char		*name;
	char			 msg[256];

	if ((name = control_param_server(c, id, params, 1)) == NULL)
		return NULL;
	if ((h = router_find(c->ctl->relay->router, name)) == NULL) {
		snprintf(msg, sizeof msg, "unknown server '%.128s'", name);
		control_error(c, id, CONTROL_ERR_UNKNOWN_SERVER, msg, NULL);
	}
	return h;
}

static void
control_request(struct control_conn *c, struct json_object *msg)
{
	const struct control_method	*m;
	struct json_object		*id = jsonrpc_id(msg);
	const char			*method = jsonrpc_method(msg);
	char				 text[256];

	c->ctl->counters.requests++;
	if ((m = control_find_method(method)) == NULL) {
		snprintf(text, sizeof text, "Method not found: %.64s (see "
		    "docs/control.md)", method);
		control_error(c, id, JSONRPC_METHOD_NOT_FOUND, text, NULL);
		return;
	}
	if (m->mutates && c->access != CONTROL_ACCESS_ADMIN) {
		c->ctl->counters.denied++;
		log_info("control conn %llu: %s refused to uid %ld (read-only)",
		    (unsigned long long)c->id, method, (long)c->peer.uid);
		snprintf(text, sizeof text, "permission denied: %s changes "
		    "the daemon and uid %ld may only read (only root and the "
		    "daemon's user may)", method, (long)c->peer.uid);
		control_error(c, id, CONTROL_ERR_FORBIDDEN, text, NULL);
		return;
	}
	/* A stop is under way: nothing may start servers again. */
	if (m->mutates && c->ctl->relay->stopping) {
		control_error(c, id, CONTROL_ERR_BUSY, "mcprelayd is stopping",
		    NULL);
		return;
	}
	m->fn(c, id, jsonrpc_params(msg));
}

static void
control_line(struct control_conn *c, const char *line, size_t len)
{
	struct json_object	*msg;
	const char		*reason = NULL;
	enum jsonrpc_kind	 kind;

	if ((msg = jsonrpc_parse(line, len, &reason)) == NULL) {
		control_error(c, NULL, JSONRPC_PARSE_ERROR, reason, NULL);
		control_conn_set_state(c, CONTROL_CONN_CLOSING, "not JSON");
		return;
	}
	kind = jsonrpc_classify(msg, &reason);
	switch (kind) {
	case JSONRPC_REQUEST:
		control_request(c, msg);
		break;
	case JSONRPC_NOTIFICATION:
		/* JSON-RPC: a notification is never answered. */
		break;
	default:
		control_error(c, jsonrpc_id(msg), JSONRPC_INVALID_REQUEST,
		    kind == JSONRPC_BATCH ? "batches are not supported" :
		    kind == JSONRPC_INVALID ? reason :
		    "the control socket takes requests only", NULL);
		control_conn_set_state(c, CONTROL_CONN_CLOSING,
		    "invalid JSON-RPC");
		break;
	}
	json_object_put(msg);
}

static void
control_conn_read(struct control_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	char		*line;
	size_t		 len;

	while (c->state == CONTROL_CONN_OPEN) {
		switch (ndjson_reader_next(c->reader, in, &line, &len)) {
		case NDJSON_LINE:
			control_line(c, line, len);
			free(line);
			break;
		case NDJSON_TOO_LONG:
			control_error(c, NULL, JSONRPC_INVALID_REQUEST,
			    "message too long", NULL);
			control_conn_set_state(c, CONTROL_CONN_CLOSING,
			    "message too long");
			break;
		case NDJSON_NEED_MORE:
			return;
		}
	}
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	control_conn_read(arg);
}

static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_conn	*c = arg;

	if (c->state == CONTROL_CONN_CLOSING)
		control_conn_set_state(c, CONTROL_CONN_DEAD, c->why);
}

/* EOF ends the connection: the client asked what it wanted and left. */
static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_conn	*c = arg;

	if (what & BEV_EVENT_EOF)
		control_conn_set_state(c, CONTROL_CONN_CLOSING,
		    "client disconnected");
	else if (what & BEV_EVENT_ERROR)
		control_conn_set_state(c, CONTROL_CONN_DEAD,
		    "connection lost");
}

/* ---- methods ----------------------------------------------------------- */

static void
control_status(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct json_object	*o = stats_status(c->ctl->relay);

	json_object_object_add(o, "access", json_object_new_string(
	    control_access_name(c->access)));
	control_result(c, id, o);
}

static void
control_stats(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct json_object	*o, *v;
	const char		*name;
	char			 msg[256];

	if (params != NULL && json_object_is_type(params, json_type_object) &&
	    json_object_object_get_ex(params, "server", &v)) {
		if ((name = control_param_server(c, id, params, 1)) == NULL)
			return;
		if ((o = stats_server(c->ctl->relay, name)) == NULL) {
			snprintf(msg, sizeof msg, "unknown server '%.128s'",
			    name);
			control_error(c, id, CONTROL_ERR_UNKNOWN_SERVER, msg,
			    NULL);
			return;
		}
		control_result(c, id, o);
		return;
	}
	control_result(c, id, stats_all(c->ctl->relay));
}

static void
control_servers(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	control_result(c, id, stats_servers(c->ctl->relay));
}

/* The answer to an operator's action on one server: its new state. */
static void
control_server_done(struct control_conn *c, struct json_object *id,
    struct handler *h, const char *action)
{
	struct json_object	*o;
	char			 who[64];

	snprintf(who, sizeof who, "uid %ld", (long)c->peer.uid);
	events_admin(c->ctl->relay->events, handler_name(h), action, who);
	o = json_object_new_object();
	json_object_object_add(o, "server",
	    json_object_new_string(handler_name(h)));
	json_object_object_add(o, "state", json_object_new_string(
	    handler_state_name(handler_state(h))));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(handler_disabled(h)));
	control_result(c, id, o);
}

static void
control_reconnect(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler	*h;
	char		 msg[256];

	if ((h = control_param_handler(c, id, params)) == NULL)
		return;
	if (handler_disabled(h)) {
		snprintf(msg, sizeof msg, "server '%s' is disabled: enable it "
		    "first", handler_name(h));
		control_error(c, id, CONTROL_ERR_BUSY, msg, NULL);
		return;
	}
	log_info("control: server %s: reconnect requested by uid %ld",
	    handler_name(h), (long)c->peer.uid);
	handler_reconnect(h, "reconnect requested by the operator");
	control_server_done(c, id, h, "reconnect");
}

/* The server's OAuth client, or an error answered. */
static struct oauth *
control_param_oauth(struct control_conn *c, struct json_object *id,
    struct json_object *params, struct handler **hp)
{
	struct handler	*h;
	char		 msg[256];

	if ((h = control_param_handler(c, id, params)) == NULL)
		return NULL;
	if (handler_oauth(h) == NULL) {
		snprintf(msg, sizeof msg, "server '%s' has no 'auth: type: "
		    "oauth' section", handler_name(h));
		control_error(c, id, CONTROL_ERR_BUSY, msg, NULL);
		return NULL;
	}
	*hp = h;
	return handler_oauth(h);
}

/* The flow's progress goes out as "auth" events (events.subscribe). */
static void
control_login(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler	*h;
	struct oauth	*o;
	char		 err[256];

	if ((o = control_param_oauth(c, id, params, &h)) == NULL)
		return;
	log_info("control: server %s: login requested by uid %ld",
	    handler_name(h), (long)c->peer.uid);
	if (oauth_login(o, err, sizeof err) == -1) {
		control_error(c, id, CONTROL_ERR_BUSY, err, NULL);
		return;
	}
	control_server_done(c, id, h, "login");
}

static void
control_logout(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler	*h;
	struct oauth	*o;

	if ((o = control_param_oauth(c, id, params, &h)) == NULL)
		return;
	log_info("control: server %s: logout requested by uid %ld",
	    handler_name(h), (long)c->peer.uid);
	oauth_logout(o);
	/* The connection's token is gone: the next request needs a login. */
	handler_reconnect(h, "logged out");
	control_server_done(c, id, h, "logout");
}

static void
control_disable(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler	*h;

	if ((h = control_param_handler(c, id, params)) == NULL)
		return;
	log_info("control: server %s: disabled by uid %ld", handler_name(h),
	    (long)c->peer.uid);
	handler_disable(h, "disabled by the operator");
	control_server_done(c, id, h, "disable");
}

static void
control_enable(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler	*h;
	char		 msg[256];

	if ((h = control_param_handler(c, id, params)) == NULL)
		return;
	if (handler_enable(h, "enabled by the operator") == -1) {
		snprintf(msg, sizeof msg, "server '%s' is still stopping; "
		    "try again in a moment", handler_name(h));
		control_error(c, id, CONTROL_ERR_BUSY, msg, NULL);
		return;
	}
	log_info("control: server %s: enabled by uid %ld", handler_name(h),
	    (long)c->peer.uid);
	control_server_done(c, id, h, "enable");
}

static void
control_reload(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct relay		*relay = c->ctl->relay;
	struct config_errors	 errs;
	struct config		*cfg;
	struct json_object	*o, *list;
	char			 who[64];
	size_t			 i;

	snprintf(who, sizeof who, "uid %ld", (long)c->peer.uid);
	log_info("control: reload requested by %s", who);
	if (relay_reload(relay) == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "reloaded",
		    json_object_new_boolean(1));
		json_object_object_add(o, "servers", json_object_new_int(
		    (int)router_count(relay->router)));
		control_result(c, id, o);
		return;
	}
	/* Read it again for the reasons: relay_reload() logged them. */
	config_errors_init(&errs);
	list = json_object_new_array();
	if ((cfg = config_load_file(relay->config_path, &errs)) != NULL)
		config_free(cfg);
	for (i = 0; i < errs.n; i++)
		json_object_array_add(list, json_object_new_string(
		    errs.msgs[i]));
	config_errors_free(&errs);
	o = json_object_new_object();
	json_object_object_add(o, "errors", list);
	control_error(c, id, CONTROL_ERR_RELOAD, "the configuration is "
	    "invalid; the running configuration is kept", o);
}

static void
control_config_show(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	control_result(c, id, config_dump_redacted(c->ctl->relay->cfg));
}

static void
control_event_cb_sub(void *arg, struct json_object *event)
{
	struct control_conn	*c = arg;
	struct json_object	*n;

	if (c->state != CONTROL_CONN_OPEN)
		return;
	n = jsonrpc_notification_new("event", json_object_get(event));
	control_send(c, n);
	json_object_put(n);
}

static void
control_subscribe(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct json_object	*o;

	if (c->sub == NULL) {
		c->sub = events_subscribe(c->ctl->relay->events,
		    control_event_cb_sub, c);
		c->ctl->counters.subscribed++;
	}
	o = json_object_new_object();
	json_object_object_add(o, "subscribed", json_object_new_boolean(1));
	/* What the events so far were numbered up to: the next is seq+1. */
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)
	    events_emitted(c->ctl->relay->events)));
	json_object_object_add(o, "servers", stats_servers(c->ctl->relay));
	control_result(c, id, o);
}

static void
control_metrics(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct json_object	*o;
	char			*text;

	text = metrics_render(c->ctl->relay);
	o = json_object_new_object();
	json_object_object_add(o, "contentType",
	    json_object_new_string(METRICS_CONTENT_TYPE));
	json_object_object_add(o, "text", json_object_new_string(text));
	free(text);
	control_result(c, id, o);
}

/* ---- accepting --------------------------------------------------------- */

static enum control_access
control_peer_access(struct control *ctl, int fd, struct sockfile_peer *peer)
{
	int	in_group = 0;

	if (sockfile_peer(fd, peer) == -1)
		return CONTROL_ACCESS_NONE;
	if (ctl->has_gid)
		in_group = sockfile_peer_in_group(fd, peer, ctl->gid);
	return control_access_for(peer->uid, in_group, ctl->daemon_uid);
}

/* The refusal in the daemon's access audit (counted by user). */
static void
control_audit(struct control_conn *c)
{
	struct access_who	 who;
	struct control		*ctl = c->ctl;
	char			 why[160];

	memset(&who, 0, sizeof who);
	who.kind = c->peer.uid != (uid_t)-1 ? ACCESS_USER : ACCESS_NONE;
	who.uid = c->peer.uid;
	who.pid = c->peer.pid;
	who.ngroups = -1;
	who.conn = access_next_conn(ctl->relay->access);
	snprintf(why, sizeof why, "not root, not the daemon's user, not in "
	    "group %s", ctl->group != NULL ? ctl->group :
	    "(none configured)");
	access_audit(ctl->relay->access, &who, "control", NULL, why);
}

static void
control_conn_new(struct control *ctl, int fd)
{
	struct control_conn	*c;
	struct event_base	*base = ctl->relay->base;
	char			 text[256];

	c = xcalloc(1, sizeof *c);
	c->ctl = ctl;
	c->id = ++ctl->next_id;
	c->state = CONTROL_CONN_OPEN;
	c->access = control_peer_access(ctl, fd, &c->peer);
	if ((c->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("control: %s: cannot set up a connection",
		    ctl->path);
		close(fd);
		free(c);
		return;
	}
	c->reader = ndjson_reader_new(ctl->max_line);
	if ((c->ev_free = event_new(base, -1, 0, control_conn_free_cb,
	    c)) == NULL)
		fatalx("control: event_new failed");
	bufferevent_setcb(c->bev, control_read_cb, control_write_cb,
	    control_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&ctl->conns, c, entry);
	ctl->counters.open++;
	if (c->access == CONTROL_ACCESS_NONE) {
		ctl->counters.refused++;
		control_audit(c);
		snprintf(text, sizeof text, "permission denied: uid %ld may "
		    "not use the control socket (root, the daemon's user and "
		    "members of control.group may)", (long)c->peer.uid);
		control_error(c, NULL, CONTROL_ERR_FORBIDDEN, text, NULL);
		control_conn_set_state(c, CONTROL_CONN_CLOSING, "refused");
		return;
	}
	ctl->counters.accepted++;
	log_debug("control conn %llu: pid %ld uid %ld, access %s",
	    (unsigned long long)c->id, (long)c->peer.pid, (long)c->peer.uid,
	    control_access_name(c->access));
}

static void
control_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control	*ctl = arg;

	if (ctl->counters.open >= CONTROL_MAX_CONNS) {
		ctl->counters.refused++;
		log_warnx("control: %s: refusing a connection: %u open (max "
		    "%d)", ctl->path, ctl->counters.open, CONTROL_MAX_CONNS);
		close(fd);
		return;
	}
	control_conn_new(ctl, fd);
}

/* Out of descriptors, say: retrying at once would spin, so pause. */
static void
control_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct control	*ctl = arg;
	struct timeval	 tv = { CONTROL_ACCEPT_PAUSE, 0 };

	log_warnx("control: %s: accept: %s; pausing for %ds", ctl->path,
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
	    CONTROL_ACCEPT_PAUSE);
	evconnlistener_disable(ctl->evl);
	evtimer_add(ctl->ev_resume, &tv);
}

static void
control_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control	*ctl = arg;

	evconnlistener_enable(ctl->evl);
}

struct control *
control_new(struct relay *relay, const char *path, mode_t mode,
    const char *group, int inherited_fd, char *errbuf, size_t errlen)
{
	struct control	*ctl;
	struct group	*gr;
	int		 fd;

	ctl = xcalloc(1, sizeof *ctl);
	ctl->relay = relay;
	ctl->path = xstrdup(path);
	ctl->daemon_uid = geteuid();
	ctl->max_line = CONTROL_MAX_LINE;
	ctl->max_output = CONTROL_MAX_OUTPUT;
	TAILQ_INIT(&ctl->conns);
	if (errlen > 0)
		errbuf[0] = '\0';
	if (group != NULL && *group != '\0') {
		ctl->group = xstrdup(group);
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(errbuf, errlen, "control: unknown group '%s'",
			    group);
			if (inherited_fd != -1)
				close(inherited_fd);
			control_free(ctl);
			return NULL;
		}
		ctl->has_gid = 1;
		ctl->gid = gr->gr_gid;
	}
	if (inherited_fd != -1)
		fd = sockfile_adopt(path, inherited_fd, errbuf, errlen);
	else
		fd = sockfile_bind(&ctl->file, path, mode, group, errbuf,
		    errlen);
	if (fd == -1) {
		if (inherited_fd != -1)
			close(inherited_fd);
		control_free(ctl);
		return NULL;
	}
	ctl->evl = evconnlistener_new(relay->base, control_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    inherited_fd != -1 ? 0 : -1, fd);
	if (ctl->evl == NULL) {
		snprintf(errbuf, errlen, "listen %s: %s", path,
		    strerror(errno));
		close(fd);
		control_free(ctl);
		return NULL;
	}
	evconnlistener_set_error_cb(ctl->evl, control_accept_error_cb);
	if ((ctl->ev_resume = evtimer_new(relay->base, control_resume_cb,
	    ctl)) == NULL)
		fatalx("control: evtimer_new failed");
	log_info("control: listening on %s%s", path,
	    inherited_fd != -1 ? " (socket activation)" : "");
	return ctl;
}

void
control_free(struct control *ctl)
{
	struct control_conn	*c;

	if (ctl == NULL)
		return;
	while ((c = TAILQ_FIRST(&ctl->conns)) != NULL) {
		c->why = "control socket closed";
		control_conn_free(c);
	}
	if (ctl->evl != NULL)
		evconnlistener_free(ctl->evl);
	if (ctl->ev_resume != NULL)
		event_free(ctl->ev_resume);
	if (ctl->file.path != NULL)
		sockfile_close(&ctl->file);
	free(ctl->group);
	free(ctl->path);
	free(ctl);
}

const char *
control_path(const struct control *ctl)
{
	return ctl->path;
}

const struct control_counters *
control_counters(const struct control *ctl)
{
	return &ctl->counters;
}

void
control_set_daemon_uid(struct control *ctl, uid_t uid)
{
	ctl->daemon_uid = uid;
}

void
control_set_limits(struct control *ctl, size_t max_line, size_t max_output)
{
	ctl->max_line = max_line;
	ctl->max_output = max_output;
}

/* params.KEY as a string, or NULL; -1 with an error answered if not one. */
static int
control_param_string(struct control_conn *c, struct json_object *id,
    struct json_object *params, const char *key, const char **out)
{
	struct json_object	*v;
	char			 msg[128];

	*out = NULL;
	if (!json_object_object_get_ex(params, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(msg, sizeof msg, "params.%s must be a string", key);
		control_error(c, id, JSONRPC_INVALID_PARAMS, msg, NULL);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

static void
control_rules(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct handler	*h;
	const char	*tool;

	if ((h = control_param_handler(c, id, params)) == NULL ||
	    control_param_string(c, id, params, "tool", &tool) == -1)
		return;
	control_result(c, id, handler_rules_json(h, tool));
}

/* The dry run: what the rules would do with the failure in params. */
static void
control_rules_test(struct control_conn *c, struct json_object *id,
    struct json_object *params)
{
	struct retry_event	 ev;
	struct handler		*h;
	struct json_object	*v;
	const char		*tool, *method, *result_error, *message;
	enum fail_class		 fc;
	char			 msg[256];
	int64_t			 n;

	if ((h = control_param_handler(c, id, params)) == NULL ||
	    control_param_string(c, id, params, "tool", &tool) == -1 ||
	    control_param_string(c, id, params, "method", &method) == -1 ||
	    control_param_string(c, id, params, "result_error",
	    &result_error) == -1 ||
	    control_param_string(c, id, params, "message", &message) == -1)
		return;
	memset(&ev, 0, sizeof ev);
	if (control_param_string(c, id, params, "class", &ev.class) == -1)
		return;
	if (ev.class != NULL && fail_class_parse(ev.class, &fc) == -1) {
		snprintf(msg, sizeof msg, "unknown error class '%.64s'",
		    ev.class);
		control_error(c, id, JSONRPC_INVALID_PARAMS, msg, NULL);
		return;
	}
	if (json_object_object_get_ex(params, "jsonrpc_code", &v)) {
		if (!json_object_is_type(v, json_type_int)) {
			control_error(c, id, JSONRPC_INVALID_PARAMS,
			    "params.jsonrpc_code must be an integer", NULL);
			return;
		}
		ev.has_code = true;
		ev.jsonrpc_code = (long)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(params, "http_status", &v)) {
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < 100 ||
		    n > 599) {
			control_error(c, id, JSONRPC_INVALID_PARAMS,
			    "params.http_status must be 100..599", NULL);
			return;
		}
		ev.http_status = (int)n;
	}
	if (ev.class == NULL && !ev.has_code && ev.http_status == 0 &&
	    result_error == NULL) {
		control_error(c, id, JSONRPC_INVALID_PARAMS, "give the "
		    "failure: class, http_status, jsonrpc_code or "
		    "result_error", NULL);
		return;
	}
	ev.tool = tool;
	/* A tool's failure is a tools/call's; without either, a connect. */
	ev.method = method != NULL ? method : tool != NULL ? "tools/call" :
	    NULL;
	if (result_error != NULL) {
		ev.result_error = true;
		ev.message = result_error;
	} else
		ev.message = message;
	control_result(c, id, handler_rules_test_json(h, &ev));
}
