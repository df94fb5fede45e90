/*
 * The router: one handler per configured server, the aggregate view of all
 * their tools/prompts/resources, routing of calls to the owner, fallback
 * while a breaker is open, and fan-out of upstream notifications to the
 * sessions that asked for them.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/linkhash.h>

#include "access.h"
#include "config.h"
#include "errors.h"
#include "handler.h"
#include "era.h"
#include "jsonrpc.h"
#include "mrtr.h"
#include "log.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "session.h"
#include "xmalloc.h"

/* Items of one kind that carry a name clients call them by. */
enum route_kind {
	ROUTE_TOOLS,
	ROUTE_PROMPTS,
	ROUTE_RESOURCES,
	ROUTE_TEMPLATES,
	ROUTE_NKINDS
};

static const struct {
	const char	*list_method;
	const char	*result_key;
	const char	*name_key;	/* what identifies an item */
	const char	*changed;	/* list_changed notification */
} route_kinds[ROUTE_NKINDS] = {
	[ROUTE_TOOLS] = { "tools/list", "tools", "name",
	    "notifications/tools/list_changed" },
	[ROUTE_PROMPTS] = { "prompts/list", "prompts", "name",
	    "notifications/prompts/list_changed" },
	[ROUTE_RESOURCES] = { "resources/list", "resources", "uri",
	    "notifications/resources/list_changed" },
	[ROUTE_TEMPLATES] = { "resources/templates/list", "resourceTemplates",
	    "uriTemplate", "notifications/resources/list_changed" },
};

/* per_client mode: a session's own upstream of one server. */
struct client_handler {
	struct session		*session;	/* NULL once it ended */
	struct handler		*h;
	TAILQ_ENTRY(client_handler) entry;
};

/*
 * Name index for tools and prompts on the aggregate endpoint: how many
 * servers offer each upstream name, and which (server, name) each exposed
 * name stands for.  Rebuilt only when some server's list object changed
 * (the snapshot holds references, so a freed list cannot come back at the
 * same address), so resolving a call is one hash lookup.
 */
struct route_entry {
	struct handler		*h;
	const char		*name;		/* in the snapshotted list */
	char			*exposed;
};

struct route_index {
	struct json_object	**snap;		/* per handler: tools, prompts */
	struct handler		**owners;
	unsigned		 nsnap;
	int			 prefix_mode;
	struct lh_table		*count[2];	/* upstream name -> count */
	struct lh_table		*by_exposed[2];	/* exposed -> route_entry */
	int			 valid;
};

struct router {
	struct relay		*relay;
	struct route_index	 index;
	struct handler		**handlers;	/* one per server (shared) */
	unsigned		 n;
	struct request_list	 waiting;	/* for lists to arrive */
	TAILQ_HEAD(, client_handler) clients;
	int			 configured;	/* applied a config before */
	struct handler		**announce;	/* added by a reload, not yet
						   ready: list_changed due */
	unsigned		 nannounce;
};

static void	router_lists_changed_cb(void *, struct handler *, unsigned);
static void	router_settled_cb(void *, struct handler *);
static void	router_notification_cb(void *, struct handler *,
		    struct json_object *);
static void	router_server_request_cb(void *, struct handler *,
		    struct json_object *, struct request *);
static int	router_rule_fallback_cb(void *, struct handler *,
		    struct request *);
static void	router_wait_timer_cb(evutil_socket_t, short, void *);
static void	router_index_clear(struct route_index *);
static void	router_submit(struct router *, struct request *,
		    struct handler *);

static const struct handler_cbs router_handler_cbs = {
	.lists_changed = router_lists_changed_cb,
	.settled = router_settled_cb,
	.notification = router_notification_cb,
	.server_request = router_server_request_cb,
	.fallback = router_rule_fallback_cb,
};

struct router *
router_new(struct relay *relay)
{
	struct router	*rt;

	rt = xcalloc(1, sizeof *rt);
	rt->relay = relay;
	TAILQ_INIT(&rt->waiting);
	TAILQ_INIT(&rt->clients);
	return rt;
}

void
router_free(struct router *rt)
{
	struct request		*r;
	struct client_handler	*ch;
	unsigned		 i;

	if (rt == NULL)
		return;
	while ((r = TAILQ_FIRST(&rt->waiting)) != NULL) {
		TAILQ_REMOVE(&rt->waiting, r, wait_entry);
		request_fail(r, RELAY_ERR_SHUTDOWN, "mcprelayd is stopping",
		    NULL);
	}
	while ((ch = TAILQ_FIRST(&rt->clients)) != NULL) {
		TAILQ_REMOVE(&rt->clients, ch, entry);
		handler_free(ch->h);
		free(ch);
	}
	router_index_clear(&rt->index);
	for (i = 0; i < rt->n; i++)
		handler_free(rt->handlers[i]);
	free(rt->handlers);
	free(rt->announce);
	free(rt);
}

void
router_stop_all(struct router *rt)
{
	struct client_handler	*ch;
	unsigned		 i;

	TAILQ_FOREACH(ch, &rt->clients, entry)
		handler_stop(ch->h);
	for (i = 0; i < rt->n; i++)
		handler_stop(rt->handlers[i]);
}

int
router_all_stopped(const struct router *rt)
{
	struct client_handler	*ch;
	unsigned		 i;

	TAILQ_FOREACH(ch, &rt->clients, entry)
		if (handler_state(ch->h) != HANDLER_STOPPED)
			return 0;
	for (i = 0; i < rt->n; i++)
		if (handler_state(rt->handlers[i]) != HANDLER_STOPPED)
			return 0;
	return 1;
}

static void
router_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router		*rt = arg;
	struct client_handler	*ch, *next;

	TAILQ_FOREACH_SAFE(ch, &rt->clients, entry, next) {
		if (ch->session != NULL ||
		    handler_state(ch->h) != HANDLER_STOPPED)
			continue;
		TAILQ_REMOVE(&rt->clients, ch, entry);
		handler_free(ch->h);
		free(ch);
	}
}

void
router_session_closed(struct router *rt, struct session *s)
{
	struct client_handler	*ch;

	TAILQ_FOREACH(ch, &rt->clients, entry) {
		if (ch->session != s)
			continue;
		ch->session = NULL;
		handler_set_owner(ch->h, NULL);
		handler_stop(ch->h);
	}
}

struct handler *
router_find(struct router *rt, const char *name)
{
	unsigned	i;

	for (i = 0; i < rt->n; i++)
		if (strcmp(handler_name(rt->handlers[i]), name) == 0)
			return rt->handlers[i];
	return NULL;
}

unsigned
router_count(const struct router *rt)
{
	return rt->n;
}

unsigned
router_ready_count(const struct router *rt)
{
	unsigned	i, n = 0;

	for (i = 0; i < rt->n; i++)
		if (handler_state(rt->handlers[i]) == HANDLER_READY)
			n++;
	return n;
}

struct handler *
router_at(struct router *rt, unsigned i)
{
	return i < rt->n ? rt->handlers[i] : NULL;
}

/* May who use h's server?  (Root and the daemon's user always may.) */
static int
router_allowed(struct router *rt, const struct access_who *who,
    struct handler *h)
{
	return access_allowed(rt->relay->access, who, handler_name(h));
}

/* Answer r with the refusal; nothing of it reaches the server. */
static void
router_refuse(struct router *rt, struct request *r, const char *server)
{
	request_finish(r, access_refuse(rt->relay->access, &r->who, NULL,
	    server, NULL, r->client_id));
}

static void
router_session_forget_cb(struct session *s, void *arg)
{
	session_forget_handler(s, arg);
}

/* The enabled server called name in cfg, or NULL. */
static const struct config_server *
router_config_server(const struct config *cfg, const char *name)
{
	unsigned	i;

	for (i = 0; i < cfg->nservers; i++)
		if (cfg->servers[i].enabled &&
		    strcmp(cfg->servers[i].name, name) == 0)
			return &cfg->servers[i];
	return NULL;
}

/*
 * per_client upstreams follow their server through a reload: re-pointed at
 * the new config when it is unchanged, stopped when the server was removed
 * or changed (the session gets a new one on its next request).  They hold
 * a pointer into the old config, which the caller frees next.
 */
static void
router_apply_config_clients(struct router *rt, const struct config *cfg)
{
	const struct config_server	*cs;
	struct client_handler		*ch, *next;

	TAILQ_FOREACH_SAFE(ch, &rt->clients, entry, next) {
		cs = router_config_server(cfg, handler_name(ch->h));
		if (cs != NULL && config_server_equal(handler_config(ch->h),
		    cs)) {
			handler_set_config(ch->h, cs);
			continue;
		}
		TAILQ_REMOVE(&rt->clients, ch, entry);
		if (ch->session != NULL) {
			log_info("server %s: the per-client upstream of "
			    "session %s is stopped by the new configuration",
			    handler_name(ch->h), session_id(ch->session));
			session_forget_handler(ch->session, ch->h);
		}
		handler_set_owner(ch->h, NULL);
		handler_stop(ch->h);
		handler_free(ch->h);
		free(ch);
	}
}

/* Tell sessions that see h that all its lists may have changed. */
static void
router_announce(struct router *rt, struct handler *h)
{
	router_lists_changed_cb(rt, h, (1u << ROUTE_NKINDS) - 1);
}

static void
router_unannounce(struct router *rt, struct handler *h)
{
	unsigned	i;

	for (i = 0; i < rt->nannounce; i++) {
		if (rt->announce[i] == h) {
			rt->announce[i] = rt->announce[--rt->nannounce];
			return;
		}
	}
}

/*
 * Reload: a server whose config is unchanged keeps its handler (and its
 * connection); a changed one is replaced; a removed one is stopped.  The
 * handler holds a pointer into the config, so unchanged handlers are
 * re-pointed at the new copy.  Clients are told the lists changed: at once
 * for a removed server, and for a new or replaced one when it is ready
 * (a handler does not report its first lists: at start-up nobody has seen
 * them).  The router's array is complete before any handler is stopped,
 * since stopping may call back into the router.
 */
void
router_apply_config(struct router *rt, const struct config *cfg)
{
	struct handler	**next, **gone, *h;
	unsigned	  i, j, n = 0, ngone = 0;
	int		  reload = rt->configured;

	router_apply_config_clients(rt, cfg);

	next = xcalloc(cfg->nservers + 1, sizeof *next);
	for (i = 0; i < cfg->nservers; i++) {
		const struct config_server *cs = &cfg->servers[i];

		if (!cs->enabled)
			continue;
		h = NULL;
		for (j = 0; j < rt->n; j++) {
			if (rt->handlers[j] != NULL &&
			    strcmp(handler_name(rt->handlers[j]),
			    cs->name) == 0 &&
			    config_server_equal(handler_config(rt->handlers[j]),
			    cs)) {
				h = rt->handlers[j];
				rt->handlers[j] = NULL;
				handler_set_config(h, cs);
				break;
			}
		}
		if (h == NULL) {
			h = handler_new(rt->relay, cs, &router_handler_cbs, rt);
			if (reload) {
				rt->announce = xreallocarray(rt->announce,
				    rt->nannounce + 1, sizeof *rt->announce);
				rt->announce[rt->nannounce++] = h;
			}
		}
		next[n++] = h;
	}
	/* What is left was removed or changed. */
	gone = xcalloc(rt->n + 1, sizeof *gone);
	for (j = 0; j < rt->n; j++)
		if (rt->handlers[j] != NULL)
			gone[ngone++] = rt->handlers[j];
	free(rt->handlers);
	rt->handlers = next;
	rt->n = n;
	rt->configured = 1;
	for (j = 0; j < ngone; j++) {
		h = gone[j];
		log_info("server %s: removed by the new configuration",
		    handler_name(h));
		router_unannounce(rt, h);
		sessions_foreach(rt->relay->sessions, router_session_forget_cb,
		    h);
		handler_stop(h);
		if (router_config_server(cfg, handler_name(h)) == NULL)
			router_announce(rt, h);
		handler_free(h);
	}
	free(gone);
	for (i = 0; i < rt->n; i++)
		if (handler_state(rt->handlers[i]) == HANDLER_STOPPED)
			handler_start(rt->handlers[i]);
}

/* ---- names ------------------------------------------------------------- */

static struct json_object *
router_items(struct handler *h, enum route_kind kind)
{
	switch (kind) {
	case ROUTE_TOOLS:
		return handler_tools(h);
	case ROUTE_PROMPTS:
		return handler_prompts(h);
	case ROUTE_RESOURCES:
		return handler_resources(h);
	default:
		return handler_resource_templates(h);
	}
}

static const char *
router_item_name(struct json_object *item, enum route_kind kind)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(item, route_kinds[kind].name_key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void
router_index_entry_free(struct lh_entry *e)
{
	struct route_entry	*re = (struct route_entry *)lh_entry_v(e);

	free(re->exposed);
	free(re);
}

static void
router_index_clear(struct route_index *ix)
{
	unsigned	i;

	for (i = 0; i < 2; i++) {
		if (ix->count[i] != NULL)
			lh_table_free(ix->count[i]);
		if (ix->by_exposed[i] != NULL)
			lh_table_free(ix->by_exposed[i]);
		ix->count[i] = ix->by_exposed[i] = NULL;
	}
	for (i = 0; i < ix->nsnap * 2; i++)
		json_object_put(ix->snap[i]);
	free(ix->snap);
	free(ix->owners);
	ix->snap = NULL;
	ix->owners = NULL;
	ix->nsnap = 0;
	ix->valid = 0;
}

static int
router_index_current(struct router *rt)
{
	struct route_index	*ix = &rt->index;
	unsigned		 i;

	if (!ix->valid || ix->nsnap != rt->n ||
	    ix->prefix_mode != (int)rt->relay->cfg->routing.tool_prefix)
		return 0;
	for (i = 0; i < rt->n; i++)
		if (ix->owners[i] != rt->handlers[i] ||
		    ix->snap[2 * i] != handler_tools(rt->handlers[i]) ||
		    ix->snap[2 * i + 1] != handler_prompts(rt->handlers[i]))
			return 0;
	return 1;
}

static char *router_exposed_name(struct router *, struct handler *,
		    enum route_kind, const char *);

static void
router_index_build(struct router *rt)
{
	struct route_index	*ix = &rt->index;
	struct json_object	*items;
	struct route_entry	*re;
	struct lh_entry		*e;
	const char		*name;
	unsigned		 i, kind;
	size_t			 k;

	router_index_clear(ix);
	ix->nsnap = rt->n;
	ix->snap = xcalloc(rt->n * 2 + 1, sizeof *ix->snap);
	ix->owners = xcalloc(rt->n + 1, sizeof *ix->owners);
	ix->prefix_mode = (int)rt->relay->cfg->routing.tool_prefix;
	for (kind = 0; kind < 2; kind++) {
		ix->count[kind] = lh_kchar_table_new(64, NULL);
		ix->by_exposed[kind] = lh_kchar_table_new(64,
		    router_index_entry_free);
	}
	for (i = 0; i < rt->n; i++) {
		ix->owners[i] = rt->handlers[i];
		ix->snap[2 * i] = json_object_get(handler_tools(rt->handlers[i]));
		ix->snap[2 * i + 1] =
		    json_object_get(handler_prompts(rt->handlers[i]));
		for (kind = 0; kind < 2; kind++) {
			if ((items = ix->snap[2 * i + kind]) == NULL)
				continue;
			for (k = 0; k < json_object_array_length(items); k++) {
				name = router_item_name(
				    json_object_array_get_idx(items, k), kind);
				if (name == NULL)
					continue;
				e = lh_table_lookup_entry(ix->count[kind], name);
				if (e == NULL)
					lh_table_insert(ix->count[kind], name,
					    (void *)(uintptr_t)1);
				else
					e->v = (void *)((uintptr_t)
					    lh_entry_v(e) + 1);
			}
		}
	}
	ix->valid = 1;
	/* Exposed names need the counts, hence a second pass. */
	for (i = 0; i < rt->n; i++) {
		for (kind = 0; kind < 2; kind++) {
			if ((items = ix->snap[2 * i + kind]) == NULL)
				continue;
			for (k = 0; k < json_object_array_length(items); k++) {
				name = router_item_name(
				    json_object_array_get_idx(items, k), kind);
				if (name == NULL)
					continue;
				re = xcalloc(1, sizeof *re);
				re->h = rt->handlers[i];
				re->name = name;
				re->exposed = router_exposed_name(rt,
				    rt->handlers[i], kind, name);
				if (lh_table_lookup_entry(ix->by_exposed[kind],
				    re->exposed) != NULL) {
					/* First server wins, as before. */
					free(re->exposed);
					free(re);
					continue;
				}
				lh_table_insert(ix->by_exposed[kind],
				    re->exposed, re);
			}
		}
	}
}

static struct route_index *
router_index(struct router *rt)
{
	if (!router_index_current(rt))
		router_index_build(rt);
	return &rt->index;
}

static int
router_name_taken_elsewhere(struct router *rt, struct handler *self,
    enum route_kind kind, const char *name)
{
	struct route_index	*ix;
	struct lh_entry		*e;

	if (kind != ROUTE_TOOLS && kind != ROUTE_PROMPTS)
		return 0;
	/* Called while building: the counts are already there. */
	ix = rt->index.valid ? &rt->index : router_index(rt);
	if (ix->valid && !router_index_current(rt))
		ix = router_index(rt);
	e = lh_table_lookup_entry(ix->count[kind], name);
	return e != NULL && (uintptr_t)lh_entry_v(e) > 1;
}

/*
 * The name a client sees for an upstream tool or prompt on the aggregate
 * endpoint.  Resources keep their URIs: those are global already.
 */
static char *
router_exposed_name(struct router *rt, struct handler *h,
    enum route_kind kind, const char *name)
{
	const struct config	*cfg = rt->relay->cfg;
	char			*out;
	int			 prefix;

	if (kind == ROUTE_RESOURCES || kind == ROUTE_TEMPLATES)
		return xstrdup(name);
	switch (cfg->routing.tool_prefix) {
	case CONFIG_PREFIX_ALWAYS:
		prefix = 1;
		break;
	case CONFIG_PREFIX_NEVER:
		prefix = 0;
		break;
	default:
		prefix = router_name_taken_elsewhere(rt, h, kind, name);
		break;
	}
	if (!prefix)
		return xstrdup(name);
	xasprintf(&out, "%s%s%s", handler_name(h), cfg->routing.separator,
	    name);
	return out;
}

/* Find the server and upstream name behind a name a client used. */
static struct handler *
router_resolve(struct router *rt, enum route_kind kind, const char *exposed,
    const char **upstream_name)
{
	struct json_object	*items, *item;
	struct route_entry	*re;
	struct lh_entry		*e;
	const char		*name;
	unsigned		 i;
	size_t			 k;

	if (kind == ROUTE_TOOLS || kind == ROUTE_PROMPTS) {
		e = lh_table_lookup_entry(router_index(rt)->by_exposed[kind],
		    exposed);
		if (e == NULL)
			return NULL;
		re = (struct route_entry *)lh_entry_v(e);
		*upstream_name = re->name;
		return re->h;
	}
	/* Resources keep their URIs. */
	for (i = 0; i < rt->n; i++) {
		if ((items = router_items(rt->handlers[i], kind)) == NULL)
			continue;
		for (k = 0; k < json_object_array_length(items); k++) {
			item = json_object_array_get_idx(items, k);
			if ((name = router_item_name(item, kind)) != NULL &&
			    strcmp(name, exposed) == 0) {
				*upstream_name = name;
				return rt->handlers[i];
			}
		}
	}
	return NULL;
}

/* Resource templates: the literal prefix before the first '{' matches. */
static struct handler *
router_resolve_uri(struct router *rt, const char *uri)
{
	struct json_object	*items;
	const char		*tmpl, *brace;
	unsigned		 i;
	size_t			 k;

	if (router_resolve(rt, ROUTE_RESOURCES, uri, &tmpl) != NULL)
		return router_resolve(rt, ROUTE_RESOURCES, uri, &tmpl);
	for (i = 0; i < rt->n; i++) {
		if ((items = handler_resource_templates(rt->handlers[i])) ==
		    NULL)
			continue;
		for (k = 0; k < json_object_array_length(items); k++) {
			tmpl = router_item_name(json_object_array_get_idx(items,
			    k), ROUTE_TEMPLATES);
			if (tmpl == NULL)
				continue;
			brace = strchr(tmpl, '{');
			if (brace != NULL && brace > tmpl &&
			    strncmp(uri, tmpl, (size_t)(brace - tmpl)) == 0)
				return rt->handlers[i];
		}
	}
	return NULL;
}

/* ---- what an endpoint offers -------------------------------------------- */

struct json_object *
router_capabilities(struct router *rt, const char *scope)
{
	struct json_object	*caps, *o, *info;
	struct handler		*h;

	if (scope != NULL && (h = router_find(rt, scope)) != NULL &&
	    (info = handler_server_info(h)) != NULL &&
	    json_object_object_get_ex(info, "capabilities", &caps))
		return json_object_get(caps);
	/* The aggregate (or a server not yet initialized): everything
	 * mcprelayd can route, list changes announced since it refreshes
	 * lists on every reconnect. */
	caps = json_object_new_object();
	o = json_object_new_object();
	json_object_object_add(o, "listChanged", json_object_new_boolean(1));
	json_object_object_add(caps, "tools", o);
	o = json_object_new_object();
	json_object_object_add(o, "listChanged", json_object_new_boolean(1));
	json_object_object_add(caps, "prompts", o);
	o = json_object_new_object();
	json_object_object_add(o, "subscribe", json_object_new_boolean(1));
	json_object_object_add(o, "listChanged", json_object_new_boolean(1));
	json_object_object_add(caps, "resources", o);
	json_object_object_add(caps, "logging", json_object_new_object());
	json_object_object_add(caps, "completions", json_object_new_object());
	return caps;
}

const char *
router_instructions(struct router *rt, const char *scope)
{
	struct json_object	*info, *v;
	struct handler		*h;

	if (scope == NULL)
		return "mcprelay: the tools, prompts and resources of every "
		    "configured MCP server; clashing names carry a SERVER__ "
		    "prefix.";
	if ((h = router_find(rt, scope)) != NULL &&
	    (info = handler_server_info(h)) != NULL &&
	    json_object_object_get_ex(info, "instructions", &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "Served through mcprelay.";
}

struct json_object *
router_tool_schema(struct router *rt, const char *scope, const char *name)
{
	struct json_object	*tools, *t, *v;
	const char		*upstream;
	struct handler		*h;
	size_t			 k;

	if (scope != NULL) {
		if ((h = router_find(rt, scope)) == NULL)
			return NULL;
		upstream = name;
	} else if ((h = router_resolve(rt, ROUTE_TOOLS, name, &upstream)) ==
	    NULL)
		return NULL;
	if ((tools = handler_tools(h)) == NULL)
		return NULL;
	for (k = 0; k < json_object_array_length(tools); k++) {
		t = json_object_array_get_idx(tools, k);
		if (json_object_object_get_ex(t, "name", &v) &&
		    strcmp(json_object_get_string(v), upstream) == 0 &&
		    json_object_object_get_ex(t, "inputSchema", &v))
			return v;
	}
	return NULL;
}

void
router_subscribe(struct router *rt, const char *scope,
    const struct access_who *who, const char *uri)
{
	struct handler	*h;

	h = scope != NULL ? router_find(rt, scope) : router_resolve_uri(rt, uri);
	if (h != NULL && router_allowed(rt, who, h))
		handler_subscribe(h, uri);
}

/* ---- waiting for lists ------------------------------------------------- */

static int
router_any_pending(struct router *rt, const char *scope)
{
	unsigned	i;

	for (i = 0; i < rt->n; i++) {
		if (scope != NULL &&
		    strcmp(scope, handler_name(rt->handlers[i])) != 0)
			continue;
		if (handler_pending(rt->handlers[i]))
			return 1;
	}
	return 0;
}

/* Park r until the servers in scope have lists or gave up. */
static void
router_wait(struct router *rt, struct request *r)
{
	struct timeval	tv;
	double		t = rt->relay->cfg->defaults.queue_timeout;

	r->where = REQUEST_WAITING;
	r->waiting_for = 1;
	TAILQ_INSERT_TAIL(&rt->waiting, r, wait_entry);
	tv.tv_sec = (time_t)t;
	tv.tv_usec = (suseconds_t)((t - (double)tv.tv_sec) * 1e6);
	evtimer_add(request_timer(r, rt->relay->base, router_wait_timer_cb),
	    &tv);
}

static void
router_unwait(struct router *rt, struct request *r)
{
	TAILQ_REMOVE(&rt->waiting, r, wait_entry);
	request_cancel_timer(r);
	r->where = REQUEST_NEW;
}

static void
router_wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request	*r = arg;
	struct router	*rt = r->router;

	/* Waited long enough: answer from what the caches hold now. */
	r->waiting_for = -1;
	router_unwait(rt, r);
	router_dispatch(rt, r, r->scope);
}

static void
router_settled_cb(void *arg, struct handler *h)
{
	struct router		*rt = arg;
	struct request_list	 again;
	struct request		*r;
	struct timeval		 now = { 0, 0 };
	unsigned		 i;

	/* A per-client upstream whose session ended: free it, but only
	 * after the handler's own code has returned. */
	if (handler_state(h) == HANDLER_STOPPED && handler_owner(h) == NULL)
		event_base_once(rt->relay->base, -1, EV_TIMEOUT,
		    router_reap_cb, rt, &now);
	/* A server a reload added has its lists: clients may list again. */
	if (handler_state(h) == HANDLER_READY) {
		for (i = 0; i < rt->nannounce; i++)
			if (rt->announce[i] == h)
				break;
		if (i < rt->nannounce) {
			router_unannounce(rt, h);
			router_announce(rt, h);
		}
	}

	TAILQ_INIT(&again);
	while ((r = TAILQ_FIRST(&rt->waiting)) != NULL) {
		router_unwait(rt, r);
		TAILQ_INSERT_TAIL(&again, r, wait_entry);
	}
	while ((r = TAILQ_FIRST(&again)) != NULL) {
		TAILQ_REMOVE(&again, r, wait_entry);
		router_dispatch(rt, r, r->scope);
	}
}

/* ---- lists ------------------------------------------------------------- */

static int
router_list_kind(const char *method, enum route_kind *kind)
{
	int	k;

	for (k = 0; k < ROUTE_NKINDS; k++) {
		if (strcmp(method, route_kinds[k].list_method) == 0) {
			*kind = k;
			return 1;
		}
	}
	return 0;
}

/*
 * Our cursors are "o:OFFSET" into the merged list, as we issued them: plain
 * digits, within the list.  Anything else (a sign, trailing text, an offset
 * past the end) is a cursor we never gave out.  A null cursor is no cursor.
 */
static int
router_parse_cursor(struct json_object *cursor, size_t n, size_t *off)
{
	const char		*s, *p;
	unsigned long long	 v = 0;

	if (cursor == NULL) {
		*off = 0;
		return 0;
	}
	if (!json_object_is_type(cursor, json_type_string))
		return -1;
	s = json_object_get_string(cursor);
	if (strncmp(s, "o:", 2) != 0 || s[2] == '\0')
		return -1;
	for (p = s + 2; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > n)
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v > n)
		return -1;
	*off = (size_t)v;
	return 0;
}

/*
 * A list answered from the handlers' caches: every server in scope, names
 * made unique, paged by an opaque offset cursor.
 */
static void
router_answer_list(struct router *rt, struct request *r, enum route_kind kind,
    const char *scope)
{
	struct json_object	*all, *items, *item, *copy, *result, *page;
	struct json_object	*params, *cursor;
	const char		*name;
	char			*exposed, buf[32];
	unsigned		 i;
	size_t			 k, off = 0, n, size;

	all = json_object_new_array();
	for (i = 0; i < rt->n; i++) {
		struct handler *h = rt->handlers[i];

		if (scope != NULL && strcmp(scope, handler_name(h)) != 0)
			continue;
		/* The aggregate shows only the servers the client may use. */
		if (!router_allowed(rt, &r->who, h))
			continue;
		if ((items = router_items(h, kind)) == NULL)
			continue;
		for (k = 0; k < json_object_array_length(items); k++) {
			item = json_object_array_get_idx(items, k);
			if (scope != NULL) {
				json_object_array_add(all,
				    json_object_get(item));
				continue;
			}
			if ((name = router_item_name(item, kind)) == NULL)
				continue;
			exposed = router_exposed_name(rt, h, kind, name);
			if (strcmp(exposed, name) == 0)
				json_object_array_add(all,
				    json_object_get(item));
			else {
				copy = NULL;
				json_object_deep_copy(item, &copy, NULL);
				json_object_object_add(copy,
				    route_kinds[kind].name_key,
				    json_object_new_string(exposed));
				json_object_array_add(all, copy);
			}
			free(exposed);
		}
	}

	n = json_object_array_length(all);
	if (json_object_object_get_ex(request_msg(r), "params", &params) &&
	    json_object_object_get_ex(params, "cursor", &cursor) &&
	    router_parse_cursor(cursor, n, &off) == -1) {
		json_object_put(all);
		request_fail(r, JSONRPC_INVALID_PARAMS, "invalid cursor", NULL);
		return;
	}
	size = rt->relay->cfg->routing.page_size;
	result = json_object_new_object();
	if (size == 0 && off == 0) {
		json_object_object_add(result, route_kinds[kind].result_key,
		    all);
	} else {
		if (size == 0)
			size = n;
		page = json_object_new_array();
		for (k = off; k < n && k < off + size; k++)
			json_object_array_add(page,
			    json_object_get(json_object_array_get_idx(all, k)));
		json_object_object_add(result, route_kinds[kind].result_key,
		    page);
		if (off + size < n) {
			snprintf(buf, sizeof buf, "o:%zu", off + size);
			json_object_object_add(result, "nextCursor",
			    json_object_new_string(buf));
		}
		json_object_put(all);
	}
	request_finish(r, jsonrpc_result_new(r->client_id, result));
}

/* ---- dispatch ---------------------------------------------------------- */

static const char *
router_param_string(struct request *r, const char *key)
{
	struct json_object	*params, *v;

	/* A call kept as text has its tool's name at hand. */
	if (r->text != NULL && strcmp(key, "name") == 0)
		return r->call_name;
	if (!json_object_object_get_ex(request_msg(r), "params", &params) ||
	    !json_object_object_get_ex(params, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void
router_set_param(struct request *r, const char *key, const char *value)
{
	struct json_object	*params;

	if (json_object_object_get_ex(request_msg(r), "params", &params))
		json_object_object_add(params, key,
		    json_object_new_string(value));
}

/*
 * While a server's breaker is open, a tool another server also offers is
 * called there instead: the design's fallback.  A retry rule's fallback
 * asks for it whatever h's state (any_state).
 */
static struct handler *
router_fallback(struct router *rt, struct request *r, struct handler *h,
    const char *tool, int any_state)
{
	const struct config_server	*cs = handler_config(h);
	struct handler			*fb;
	struct json_object		*tools;
	const char			*name;
	size_t				 k;

	if ((!any_state && handler_state(h) != HANDLER_FAILED) ||
	    cs->fallback == NULL ||
	    (fb = router_find(rt, cs->fallback)) == NULL ||
	    handler_state(fb) == HANDLER_FAILED ||
	    !router_allowed(rt, &r->who, fb) ||
	    (tools = handler_tools(fb)) == NULL)
		return NULL;
	for (k = 0; k < json_object_array_length(tools); k++) {
		name = router_item_name(json_object_array_get_idx(tools, k),
		    ROUTE_TOOLS);
		if (name != NULL && strcmp(name, tool) == 0) {
			log_info("server %s: %s; tool '%s' goes to fallback "
			    "server %s", handler_name(h), any_state ?
			    "a retry rule asks" : "unavailable", tool,
			    handler_name(fb));
			handler_note_fallback(h);
			return fb;
		}
	}
	return NULL;
}

/* A retry rule's fallback action: send r to h's fallback server. */
static int
router_rule_fallback_cb(void *arg, struct handler *h, struct request *r)
{
	struct router	*rt = arg;
	struct handler	*fb;

	if (r->tool == NULL ||
	    (fb = router_fallback(rt, r, h, r->tool, 1)) == NULL)
		return -1;
	router_submit(rt, r, fb);
	return 0;
}

/*
 * per_client mode: the session's own upstream for this server, started on
 * its first request, within the server's max_processes.
 */
static struct handler *
router_client_handler(struct router *rt, struct handler *h, struct session *s)
{
	const struct config_server	*cs = handler_config(h);
	struct client_handler		*ch;
	int				 n = 0;

	TAILQ_FOREACH(ch, &rt->clients, entry) {
		if (strcmp(handler_name(ch->h), cs->name) != 0)
			continue;
		if (ch->session == s)
			return ch->h;
		if (handler_state(ch->h) != HANDLER_STOPPED)
			n++;
	}
	if (n >= cs->max_processes)
		return NULL;
	ch = xcalloc(1, sizeof *ch);
	ch->session = s;
	ch->h = handler_new(rt->relay, cs, &router_handler_cbs, rt);
	handler_set_owner(ch->h, s);
	TAILQ_INSERT_TAIL(&rt->clients, ch, entry);
	handler_start(ch->h);
	return ch->h;
}

static void
router_submit(struct router *rt, struct request *r, struct handler *h)
{
	struct handler	*fb, *own;
	char		 msg[256];

	if (!router_allowed(rt, &r->who, h)) {
		router_refuse(rt, r, handler_name(h));
		return;
	}
	if (r->tool != NULL &&
	    (fb = router_fallback(rt, r, h, r->tool, 0)) != NULL)
		h = fb;
	if (handler_config(h)->session_mode == CONFIG_SESSION_PER_CLIENT &&
	    r->session != NULL) {
		if ((own = router_client_handler(rt, h, r->session)) == NULL) {
			snprintf(msg, sizeof msg, "server '%s' already runs "
			    "max_processes (%d) per-client processes",
			    handler_name(h), handler_config(h)->max_processes);
			request_fail(r, RELAY_ERR_QUEUE_FULL, msg, NULL);
			return;
		}
		h = own;
	}
	handler_submit(h, r);
}

/*
 * An unknown name is the client's mistake, unless a server whose lists we
 * never got is down: then the name may well be its, and the honest answer
 * is that the server is unavailable.
 */
static void
router_fail_unknown(struct router *rt, struct request *r, const char *what,
    const char *name)
{
	struct json_object	*down = NULL, *data;
	char			 msg[512];
	unsigned		 i;

	for (i = 0; i < rt->n; i++) {
		if (handler_tools(rt->handlers[i]) != NULL ||
		    handler_state(rt->handlers[i]) != HANDLER_FAILED ||
		    !router_allowed(rt, &r->who, rt->handlers[i]))
			continue;
		if (down == NULL)
			down = json_object_new_array();
		json_object_array_add(down, json_object_new_string(
		    handler_name(rt->handlers[i])));
	}
	if (down == NULL) {
		snprintf(msg, sizeof msg, "Unknown %s: %s", what, name);
		request_fail(r, JSONRPC_INVALID_PARAMS, msg, NULL);
		return;
	}
	snprintf(msg, sizeof msg, "Unknown %s: %s; server(s) %s are "
	    "unavailable and their %ss are not known yet", what, name,
	    json_object_to_json_string_ext(down, JSON_C_TO_STRING_PLAIN), what);
	data = json_object_new_object();
	json_object_object_add(data, "servers", down);
	request_fail(r, RELAY_ERR_UNAVAILABLE, msg, data);
}

static void
router_dispatch_named(struct router *rt, struct request *r,
    enum route_kind kind, const char *key, const char *what)
{
	const char	*exposed, *upstream;
	struct handler	*h;
	char		 msg[320];

	if ((exposed = router_param_string(r, key)) == NULL) {
		snprintf(msg, sizeof msg, "%s needs a string '%s' parameter",
		    r->method, key);
		request_fail(r, JSONRPC_INVALID_PARAMS, msg, NULL);
		return;
	}
	if ((h = router_resolve(rt, kind, exposed, &upstream)) == NULL) {
		if (r->waiting_for >= 0 && router_any_pending(rt, NULL)) {
			router_wait(rt, r);
			return;
		}
		router_fail_unknown(rt, r, what, exposed);
		return;
	}
	if (kind == ROUTE_TOOLS) {
		free(r->tool);
		r->tool = xstrdup(upstream);
	}
	if (strcmp(upstream, exposed) != 0)
		router_set_param(r, key, upstream);
	router_submit(rt, r, h);
}

/* logging/setLevel on the aggregate: every server gets the level. */
static void
router_broadcast_setlevel(struct router *rt, struct request *r)
{
	const char	*level = router_param_string(r, "level");
	unsigned	 i;

	if (level == NULL) {
		request_fail(r, JSONRPC_INVALID_PARAMS,
		    "logging/setLevel needs a string 'level'", NULL);
		return;
	}
	for (i = 0; i < rt->n; i++)
		if (router_allowed(rt, &r->who, rt->handlers[i]))
			handler_set_log_level(rt->handlers[i], level);
	request_finish(r, jsonrpc_result_new(r->client_id,
	    json_object_new_object()));
}

static void
router_dispatch_aggregate(struct router *rt, struct request *r)
{
	const char		*uri;
	struct handler		*h;
	struct json_object	*params, *ref, *v;
	char			 msg[320];

	if (strcmp(r->method, "tools/call") == 0) {
		router_dispatch_named(rt, r, ROUTE_TOOLS, "name", "tool");
		return;
	}
	if (strcmp(r->method, "prompts/get") == 0) {
		router_dispatch_named(rt, r, ROUTE_PROMPTS, "name", "prompt");
		return;
	}
	if (strcmp(r->method, "resources/read") == 0 ||
	    strcmp(r->method, "resources/subscribe") == 0 ||
	    strcmp(r->method, "resources/unsubscribe") == 0) {
		if ((uri = router_param_string(r, "uri")) == NULL) {
			request_fail(r, JSONRPC_INVALID_PARAMS,
			    "a string 'uri' parameter is required", NULL);
			return;
		}
		if ((h = router_resolve_uri(rt, uri)) == NULL) {
			if (r->waiting_for >= 0 && router_any_pending(rt,
			    NULL)) {
				router_wait(rt, r);
				return;
			}
			snprintf(msg, sizeof msg, "Resource not found: %s",
			    uri);
			/* -32002 is the MCP spec's "resource not found". */
			request_fail(r, -32002, msg, NULL);
			return;
		}
		router_submit(rt, r, h);
		return;
	}
	if (strcmp(r->method, "completion/complete") == 0 &&
	    json_object_object_get_ex(request_msg(r), "params", &params) &&
	    json_object_object_get_ex(params, "ref", &ref)) {
		if (json_object_object_get_ex(ref, "name", &v)) {
			const char *up;

			h = router_resolve(rt, ROUTE_PROMPTS,
			    json_object_get_string(v), &up);
			if (h != NULL) {
				json_object_object_add(ref, "name",
				    json_object_new_string(up));
				router_submit(rt, r, h);
				return;
			}
		} else if (json_object_object_get_ex(ref, "uri", &v) &&
		    (h = router_resolve_uri(rt,
		    json_object_get_string(v))) != NULL) {
			router_submit(rt, r, h);
			return;
		}
		request_finish(r, jsonrpc_result_new(r->client_id,
		    json_tokener_parse("{\"completion\":{\"values\":[]}}")));
		return;
	}
	if (strcmp(r->method, "logging/setLevel") == 0) {
		/* Every server gets the level; the session filters. */
		router_broadcast_setlevel(rt, r);
		return;
	}
	if (rt->n == 1) {
		router_submit(rt, r, rt->handlers[0]);
		return;
	}
	snprintf(msg, sizeof msg, "Method not found: %s (not routable on the "
	    "aggregate endpoint; use /servers/NAME/mcp)", r->method);
	request_fail(r, JSONRPC_METHOD_NOT_FOUND, msg, NULL);
}

void
router_dispatch(struct router *rt, struct request *r, const char *scope)
{
	enum route_kind	 kind;
	struct handler	*h = NULL;
	char		 msg[320];

	r->router = rt;
	if (r->scope == NULL && scope != NULL)
		r->scope = xstrdup(scope);
	if (scope != NULL && (h = router_find(rt, scope)) == NULL) {
		snprintf(msg, sizeof msg, "unknown server '%s'", scope);
		request_fail(r, RELAY_ERR_DISABLED, msg, NULL);
		return;
	}
	if (h != NULL && !router_allowed(rt, &r->who, h)) {
		router_refuse(rt, r, scope);
		return;
	}
	if (router_list_kind(r->method, &kind)) {
		if (r->waiting_for >= 0 && router_any_pending(rt, scope)) {
			router_wait(rt, r);
			return;
		}
		router_answer_list(rt, r, kind, scope);
		return;
	}
	if (scope == NULL) {
		router_dispatch_aggregate(rt, r);
		return;
	}
	if (strcmp(r->method, "tools/call") == 0) {
		const char *tool = router_param_string(r, "name");

		if (tool != NULL)
			r->tool = xstrdup(tool);
	}
	router_submit(rt, r, h);
}

void
router_forget(struct router *rt, struct request *r)
{
	if (r->where == REQUEST_WAITING)
		router_unwait(rt, r);
	else if (r->handler != NULL)
		handler_forget(r->handler, r);
}

void
router_cancel(struct router *rt, struct request *r,
    struct json_object *params)
{
	if (r->handler != NULL && r->where == REQUEST_INFLIGHT)
		handler_cancel(r->handler, r);
	router_forget(rt, r);
	/* A cancelled request gets no response (MCP cancellation). */
	request_finish(r, NULL);
}

void
router_broadcast_notification(struct router *rt, const char *scope,
    const struct access_who *who, struct json_object *msg)
{
	unsigned	i;

	for (i = 0; i < rt->n; i++)
		if ((scope == NULL ||
		    strcmp(scope, handler_name(rt->handlers[i])) == 0) &&
		    router_allowed(rt, who, rt->handlers[i]))
			handler_forward_notification(rt->handlers[i], msg);
}

/* ---- upstream to client ------------------------------------------------ */

struct router_fanout {
	struct router		*rt;
	struct handler		*h;
	struct json_object	*msg;
	const char		*method;
	const char		*level;
	const char		*uri;
};

/* Does s see h's messages?  Never those of a server it may not use. */
static int
router_session_in_scope(struct router *rt, struct session *s,
    struct handler *h)
{
	const char	*server = session_server(s);

	if (handler_owner(h) != NULL)
		return handler_owner(h) == s;
	if (server != NULL && strcmp(server, handler_name(h)) != 0)
		return 0;
	return router_allowed(rt, session_who(s), h);
}

static void
router_fanout_cb(struct session *s, void *arg)
{
	struct router_fanout	*f = arg;

	if (!router_session_in_scope(f->rt, s, f->h) || !session_initialized(s))
		return;
	if (f->level != NULL && !session_wants_log(s, f->level))
		return;
	if (f->uri != NULL && !session_subscribed(s, f->uri))
		return;
	session_deliver(s, f->msg);
}

static void
router_lists_changed_cb(void *arg, struct handler *h, unsigned which)
{
	struct router		*rt = arg;
	struct router_fanout	 f;
	int			 k;

	for (k = 0; k < ROUTE_NKINDS; k++) {
		if (!(which & (1u << k)))
			continue;
		/* Templates and resources share one notification. */
		if (k == ROUTE_TEMPLATES && (which & (1u << ROUTE_RESOURCES)))
			continue;
		memset(&f, 0, sizeof f);
		f.rt = rt;
		f.h = h;
		f.msg = jsonrpc_notification_new(route_kinds[k].changed, NULL);
		sessions_foreach(rt->relay->sessions, router_fanout_cb, &f);
		json_object_put(f.msg);
	}
}

static void
router_notification_cb(void *arg, struct handler *h, struct json_object *msg)
{
	struct router		*rt = arg;
	struct router_fanout	 f;
	struct json_object	*params, *v;
	const char		*method = jsonrpc_method(msg);

	memset(&f, 0, sizeof f);
	f.rt = rt;
	f.h = h;
	f.msg = msg;
	json_object_object_get_ex(msg, "params", &params);
	if (strcmp(method, "notifications/message") == 0) {
		f.level = "debug";
		if (params != NULL &&
		    json_object_object_get_ex(params, "level", &v))
			f.level = json_object_get_string(v);
	} else if (strcmp(method, "notifications/resources/updated") == 0) {
		if (params == NULL ||
		    !json_object_object_get_ex(params, "uri", &v))
			return;
		f.uri = json_object_get_string(v);
	} else if (strcmp(method, "notifications/cancelled") == 0) {
		/* For a server request we forwarded; rarely useful, and the
		 * client may not know the id: drop it. */
		return;
	}
	sessions_foreach(rt->relay->sessions, router_fanout_cb, &f);
}

struct router_pick {
	struct router	*rt;
	struct handler	*h;
	const char	*cap;
	struct session	*found;
};

static void
router_pick_cb(struct session *s, void *arg)
{
	struct router_pick	*p = arg;

	if (p->found == NULL && router_session_in_scope(p->rt, s, p->h) &&
	    session_has_capability(s, p->cap))
		p->found = s;
}

static void
router_server_request_cb(void *arg, struct handler *h, struct json_object *msg,
    struct request *related)
{
	struct router		*rt = arg;
	struct router_pick	 p;
	const char		*method = jsonrpc_method(msg);
	char			 text[256];

	/* A 2026-07-28 client is asked through an InputRequiredResult. */
	if (related != NULL && related->era == ERA_MODERN) {
		mrtr_raise(rt->relay->mrtr, h, msg, related);
		return;
	}
	memset(&p, 0, sizeof p);
	p.rt = rt;
	p.h = h;
	p.cap = era_server_request_capability(method);
	if (p.cap != NULL) {
		if (related != NULL && related->session != NULL &&
		    session_has_capability(related->session, p.cap))
			p.found = related->session;
		else
			sessions_foreach(rt->relay->sessions, router_pick_cb,
			    &p);
	}
	if (p.found == NULL) {
		snprintf(text, sizeof text, "no connected client can answer "
		    "%s (none declared the '%s' capability)", method,
		    p.cap ? p.cap : method);
		log_info("server %s: %s; answered %d", handler_name(h), text,
		    RELAY_ERR_NO_CLIENT);
		handler_answer_server_request(h, jsonrpc_id(msg),
		    jsonrpc_error_new(NULL, RELAY_ERR_NO_CLIENT, text, NULL));
		return;
	}
	session_forward_server_request(p.found, h, msg,
	    related != NULL && related->session == p.found ? related : NULL);
}
