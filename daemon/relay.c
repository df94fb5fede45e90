/*
 * The daemon context: start-up in dependency order, signals as libevent
 * events, reload as read -> validate -> apply, and a graceful stop that
 * gives stdio servers their shutdown sequence before the loop ends.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <event2/event.h>

#include "child.h"
#include "config.h"
#include "handler.h"
#include "listen-http.h"
#include "listen-unix.h"
#include "log.h"
#include "relay.h"
#include "router.h"
#include "session.h"
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
	size_t			 i;

	config_errors_init(&errs);
	cfg = config_load_file(path, &errs);
	if (cfg == NULL)
		for (i = 0; i < errs.n; i++)
			log_errorx("%s", errs.msgs[i]);
	config_errors_free(&errs);
	return cfg;
}

static int
relay_open_listeners(struct relay *relay, char *err, size_t errlen)
{
	const struct config_listen	*cl = &relay->cfg->listen;

	if (cl->http.enabled) {
		relay->http = listen_http_new(relay, cl->http.host,
		    cl->http.port, -1, err, errlen);
		if (relay->http == NULL)
			return -1;
	}
	if (cl->unix_socket.enabled) {
		relay->unix_listener = listen_unix_new(relay,
		    cl->unix_socket.path, cl->unix_socket.mode,
		    cl->unix_socket.group, -1, err, errlen);
		if (relay->unix_listener == NULL)
			return -1;
	}
	return 0;
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
	relay->base = event_base_new();
	if (relay->base == NULL)
		fatalx("cannot create the event loop");
	relay->reaper = child_reaper_new(relay->base);
	relay->sessions = sessions_new(relay);
	relay->router = router_new(relay);

	relay->ev_sigterm = evsignal_new(relay->base, SIGTERM, relay_signal_cb,
	    relay);
	relay->ev_sigint = evsignal_new(relay->base, SIGINT, relay_signal_cb,
	    relay);
	relay->ev_sighup = evsignal_new(relay->base, SIGHUP, relay_signal_cb,
	    relay);
	evsignal_add(relay->ev_sigterm, NULL);
	evsignal_add(relay->ev_sigint, NULL);
	evsignal_add(relay->ev_sighup, NULL);

	if (relay_open_listeners(relay, err, sizeof err) == -1) {
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
	event_base_dispatch(relay->base);
	return relay->exit_code;
}

void
relay_free(struct relay *relay)
{
	if (relay == NULL)
		return;
	listen_http_free(relay->http);
	listen_unix_free(relay->unix_listener);
	/* Sessions first: they answer server requests through handlers. */
	sessions_free(relay->sessions);
	relay->sessions = NULL;
	router_free(relay->router);
	relay->router = NULL;
	child_reaper_free(relay->reaper);
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
	if ((cfg = relay_load_config(relay->config_path)) == NULL) {
		relay->counters.reload_failures++;
		log_warnx("reload: %s is invalid; keeping the running "
		    "configuration", relay->config_path);
		return -1;
	}
	if (relay_listeners_moved(&relay->cfg->listen, &cfg->listen))
		log_warnx("reload: new listen addresses take effect after a "
		    "restart; origins, limits and timeouts apply now");
	old = relay->cfg;
	relay->cfg = cfg;
	router_apply_config(relay->router, cfg);
	config_free(old);
	log_set_level(cfg->log_level);
	relay->counters.reloads++;
	log_info("reload: applied (%u servers)", router_count(relay->router));
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
