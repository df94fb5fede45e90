/*
 * The daemon context: start-up in dependency order, signals as libevent
 * events, reload as read -> validate -> apply, and a graceful stop that
 * gives stdio servers their shutdown sequence before the loop ends.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <event2/event.h>

#include "access.h"
#include "child.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "handler.h"
#include "jsonrpc.h"
#include "listen-http.h"
#include "listen-unix.h"
#include "log.h"
#include "mrtr.h"
#include "metrics.h"
#include "notify.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "tls.h"
#include "xmalloc.h"

static void	relay_signal_cb(evutil_socket_t, short, void *);
static void	relay_stop_check_cb(evutil_socket_t, short, void *);

double
relay_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
relay_next_id(struct relay *relay)
{
	return ++relay->next_upstream_id;
}

static struct config *
relay_load_config(const char *path)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 err[PATH_MAX + 512];
	size_t			 i;

	config_errors_init(&errs);
	cfg = config_load_file(path, &errs);
	if (cfg == NULL)
		for (i = 0; i < errs.n; i++)
			log_errorx("%s", errs.msgs[i]);
	config_errors_free(&errs);
	/* Now, not at the first connection: OpenSSL is in a module. */
	if (cfg != NULL && tls_module_check_config(cfg, err, sizeof err) ==
	    -1) {
		log_errorx("%s: %s", path, err);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static int
relay_open_listeners(struct relay *relay, char *err, size_t errlen)
{
	const struct config_listen	*cl = &relay->cfg->listen;
	const char			*addr;
	int				 fd;

	/* A socket systemd passed is served even when the config has that
	 * listener off: the socket unit is where its address is set. */
	fd = relay_inherited_fd(relay, "http", &addr);
	if (cl->http.enabled || fd != -1) {
		relay->http = listen_http_new(relay, fd != -1 ? addr :
		    cl->http.host, cl->http.port, fd, err, errlen);
		if (relay->http == NULL)
			return -1;
	}
	fd = relay_inherited_fd(relay, "mcp", &addr);
	if (cl->unix_socket.enabled || fd != -1) {
		relay->unix_listener = listen_unix_new(relay,
		    fd != -1 ? addr : cl->unix_socket.path, cl->unix_socket.mode,
		    cl->unix_socket.group, fd, err, errlen);
		if (relay->unix_listener == NULL)
			return -1;
	}
	return 0;
}

/*
 * The control socket and GET /metrics.  Only a control socket the config
 * names is required: at the default path it is optional, so a user with no
 * runtime directory still gets a daemon.
 */
static int
relay_open_control(struct relay *relay, char *err, size_t errlen)
{
	const struct config	*cfg = relay->cfg;
	const char		*addr, *path;
	char			 buf[PATH_MAX];
	int			 fd;

	fd = relay_inherited_fd(relay, "control", &addr);
	path = fd != -1 ? addr : config_control_socket(cfg, buf, sizeof buf);
	relay->control = control_new(relay, path, cfg->control.mode,
	    cfg->control.group, fd, err, errlen);
	if (relay->control == NULL) {
		if (fd != -1 || *cfg->control.socket != '\0')
			return -1;
		log_warnx("%s; running without a control socket (set "
		    "control.socket)", err);
	}
	if (cfg->metrics.listen.enabled) {
		relay->metrics = metrics_http_new(relay,
		    cfg->metrics.listen.host, cfg->metrics.listen.port, err,
		    errlen);
		if (relay->metrics == NULL)
			return -1;
	}
	return 0;
}

/*
 * epoll with a changelist: the events a call turns on and off within one
 * turn of the loop (evhttp re-enabling a connection's read and write to
 * send a reply) cost one epoll_ctl() instead of one each.  libevent warns
 * that this is unsafe with fds cloned by dup() in the process: mcprelayd
 * clones none (children dup2() theirs after fork()).
 */
static struct event_base *
relay_event_base_new(void)
{
	struct event_config	*ec;
	struct event_base	*base;

	if ((ec = event_config_new()) == NULL)
		fatalx("cannot create the event loop");
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	if ((base = event_base_new_with_config(ec)) == NULL)
		fatalx("cannot create the event loop");
	event_config_free(ec);
	return base;
}

struct relay *
relay_new(const char *config_path, int verbose, int *exit_code)
{
	struct relay	*relay;
	char		 err[512];

	relay = xcalloc(1, sizeof *relay);
	relay->config_path = xstrdup(config_path);
	if ((relay->cfg = relay_load_config(config_path)) == NULL) {
		log_errorx("%s: configuration not loaded", config_path);
		*exit_code = EX_CONFIG;
		relay_free(relay);
		return NULL;
	}
	if (!verbose)
		log_set_level(relay->cfg->log_level);
	relay->rng = retry_rng_default(&relay->rng_state);
	relay->started = time(NULL);
	relay->base = relay_event_base_new();
	relay->notify = notify_new(relay);
	relay->access = access_new();
	access_apply_config(relay->access, relay->cfg);
	relay->events = events_new(relay);
	relay->reaper = child_reaper_new(relay->base);
	relay->sessions = sessions_new(relay);
	relay->router = router_new(relay);
	relay->mrtr = mrtr_new(relay);
	relay->parser = jsonrpc_parser_new();

	relay->ev_sigterm = evsignal_new(relay->base, SIGTERM, relay_signal_cb,
	    relay);
	relay->ev_sigint = evsignal_new(relay->base, SIGINT, relay_signal_cb,
	    relay);
	relay->ev_sighup = evsignal_new(relay->base, SIGHUP, relay_signal_cb,
	    relay);
	evsignal_add(relay->ev_sigterm, NULL);
	evsignal_add(relay->ev_sigint, NULL);
	evsignal_add(relay->ev_sighup, NULL);

	if (relay_open_listeners(relay, err, sizeof err) == -1 ||
	    relay_open_control(relay, err, sizeof err) == -1) {
		log_errorx("%s", err);
		*exit_code = EX_UNAVAILABLE;
		relay_free(relay);
		return NULL;
	}
	/* Upstreams connect in the background; clients may come already. */
	router_apply_config(relay->router, relay->cfg);
	log_info("mcprelayd %s started with %s (%u servers)", PACKAGE_VERSION,
	    config_path, router_count(relay->router));
	return relay;
}

int
relay_run(struct relay *relay)
{
	/* Every listener is bound by now; upstreams are not waited for. */
	notify_ready(relay->notify);
	event_base_dispatch(relay->base);
	return relay->exit_code;
}

void
relay_free(struct relay *relay)
{
	if (relay == NULL)
		return;
	control_free(relay->control);
	metrics_http_free(relay->metrics);
	listen_http_free(relay->http);
	listen_unix_free(relay->unix_listener);
	/* Sessions first: they answer server requests through handlers. */
	sessions_free(relay->sessions);
	relay->sessions = NULL;
	router_free(relay->router);
	/* After the router: its requests let go of their parks first. */
	mrtr_free(relay->mrtr);
	jsonrpc_parser_free(relay->parser);
	relay->mrtr = NULL;
	relay->router = NULL;
	events_free(relay->events);
	relay->events = NULL;
	child_reaper_free(relay->reaper);
	notify_free(relay->notify);
	if (relay->ev_sigterm != NULL)
		event_free(relay->ev_sigterm);
	if (relay->ev_sigint != NULL)
		event_free(relay->ev_sigint);
	if (relay->ev_sighup != NULL)
		event_free(relay->ev_sighup);
	if (relay->ev_stop != NULL)
		event_free(relay->ev_stop);
	if (relay->base != NULL)
		event_base_free(relay->base);
	access_free(relay->access);
	config_free(relay->cfg);
	free(relay->config_path);
	free(relay);
}

static int
relay_str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Sockets stay bound across a reload; only their addresses need a restart. */
static int
relay_listeners_moved(const struct config_listen *a,
    const struct config_listen *b)
{
	return a->http.enabled != b->http.enabled ||
	    a->http.port != b->http.port ||
	    relay_str_differ(a->http.host, b->http.host) ||
	    a->unix_socket.enabled != b->unix_socket.enabled ||
	    relay_str_differ(a->unix_socket.path, b->unix_socket.path);
}

int
relay_reload(struct relay *relay)
{
	struct config	*cfg, *old;

	log_info("reloading %s", relay->config_path);
	notify_reloading(relay->notify);
	if ((cfg = relay_load_config(relay->config_path)) == NULL) {
		relay->counters.reload_failures++;
		log_warnx("reload: %s is invalid; keeping the running "
		    "configuration", relay->config_path);
		events_admin(relay->events, NULL, "reload",
		    "invalid configuration; the running one is kept");
		notify_reloaded(relay->notify, 0);
		return -1;
	}
	if (relay_listeners_moved(&relay->cfg->listen, &cfg->listen))
		log_warnx("reload: new listen addresses take effect after a "
		    "restart; origins, limits and timeouts apply now");
	old = relay->cfg;
	relay->cfg = cfg;
	access_apply_config(relay->access, cfg);
	router_apply_config(relay->router, cfg);
	if (relay->http != NULL)
		listen_http_apply_config(relay->http);
	config_free(old);
	log_set_level(cfg->log_level);
	relay->counters.reloads++;
	log_info("reload: applied (%u servers)", router_count(relay->router));
	events_admin(relay->events, NULL, "reload", "applied");
	notify_reloaded(relay->notify, 1);
	return 0;
}

/*
 * Stop taking clients, give every upstream its shutdown sequence, and end
 * the loop when all have stopped or the longest shutdown_timeout (twice:
 * stdin close, then SIGTERM) has passed.
 */
void
relay_shutdown(struct relay *relay, const char *why)
{
	struct event	*check;
	struct timeval	 tv = { 0, 50000 };
	unsigned	 i;

	if (relay->stopping) {
		event_base_loopexit(relay->base, NULL);
		return;
	}
	relay->stopping = 1;
	log_info("stopping (%s)", why);
	notify_stopping(relay->notify);
	listen_http_free(relay->http);
	relay->http = NULL;
	listen_unix_free(relay->unix_listener);
	relay->unix_listener = NULL;
	router_stop_all(relay->router);
	relay->stop_deadline = relay_now() + 1.0;
	for (i = 0; i < relay->cfg->nservers; i++)
		if (relay->stop_deadline < relay_now() + 1.0 +
		    2 * relay->cfg->servers[i].shutdown_timeout)
			relay->stop_deadline = relay_now() + 1.0 +
			    2 * relay->cfg->servers[i].shutdown_timeout;
	check = event_new(relay->base, -1, EV_PERSIST, relay_stop_check_cb,
	    relay);
	relay->ev_stop = check;
	evtimer_add(check, &tv);
}

int
relay_inherited_fd(struct relay *relay, const char *name, const char **addr)
{
	return notify_take_fd(relay->notify, name, addr);
}

void
relay_status_changed(struct relay *relay)
{
	notify_status_changed(relay->notify);
}

static void
relay_stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*relay = arg;

	if (!router_all_stopped(relay->router) &&
	    relay_now() < relay->stop_deadline)
		return;
	event_free(relay->ev_stop);
	relay->ev_stop = NULL;
	event_base_loopexit(relay->base, NULL);
}

static void
relay_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relay	*relay = arg;

	switch (sig) {
	case SIGHUP:
		relay_reload(relay);
		break;
	case SIGTERM:
	case SIGINT:
		relay_shutdown(relay, sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
}
