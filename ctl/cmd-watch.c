/*
 * mcprelayctl watch: the servers as a live table that refreshes in place
 * (like top), fed by the daemon's events; the daemon is never polled.  When
 * standard output is not a terminal, one line per event instead, written
 * the moment it arrives; --json prints the events as they came.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"

/* Events listed under the table, and the longest line of one. */
#define WATCH_LOG_LINES		12
#define WATCH_LINE_MAX		512

struct watch {
	struct json_object	*rows;		/* server briefs, plus "_since",
						   "_retries", "_alerts" */
	char			 log[WATCH_LOG_LINES][WATCH_LINE_MAX];
	int			 nlog;
	const char		*socket;
};

static volatile sig_atomic_t watch_stop;

static void
watch_signal(int sig)
{
	watch_stop = 1;
}

static double
watch_wallclock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "2026-11-26T10:01:07.123Z" */
static const char *
watch_fmt_time(double t, char *buf, size_t len)
{
	time_t		secs = (time_t)t;
	struct tm	tm;
	char		day[32];
	int		ms = (int)((t - (double)secs) * 1000);

	gmtime_r(&secs, &tm);
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", day, ms < 0 ? 0 : ms > 999 ? 999 : ms);
	return buf;
}

/* One event as a line of text (without the newline). */
static void
watch_describe(struct json_object *ev, char *buf, size_t len)
{
	const char	*type = ctl_str(ev, "type", "?");
	char		 when[40];
	size_t		 n;

	n = (size_t)snprintf(buf, len, "%s %s %s ",
	    watch_fmt_time(ctl_dbl(ev, "time"), when, sizeof when),
	    ctl_str(ev, "server", "-"), type);
	if (n >= len)
		return;
	buf += n;
	len -= n;
	if (strcmp(type, "state") == 0)
		snprintf(buf, len, "%s -> %s%s%s", ctl_str(ev, "from", "?"),
		    ctl_str(ev, "to", "?"),
		    *ctl_str(ev, "reason", "") != '\0' ? ": " : "",
		    ctl_str(ev, "reason", ""));
	else if (strcmp(type, "retry") == 0)
		snprintf(buf, len, "%s attempt %lld in %.3fs",
		    ctl_str(ev, "what", "?"),
		    (long long)ctl_int(ev, "attempt"), ctl_dbl(ev, "delay"));
	else if (strcmp(type, "breaker") == 0)
		snprintf(buf, len, "%s -> %s", ctl_str(ev, "from", "?"),
		    ctl_str(ev, "to", "?"));
	else if (strcmp(type, "alert") == 0)
		snprintf(buf, len, "%s: %s", ctl_str(ev, "alert", "?"),
		    ctl_str(ev, "message", ""));
	else if (strcmp(type, "admin") == 0)
		snprintf(buf, len, "%s%s%s", ctl_str(ev, "action", "?"),
		    ctl_get(ev, "detail") != NULL ? ": " : "",
		    ctl_str(ev, "detail", ""));
	else
		snprintf(buf, len, "%s", json_object_to_json_string(ev));
}

static struct json_object *
watch_row(struct watch *w, const char *name)
{
	struct json_object	*r;
	size_t			 i;

	for (i = 0; i < json_object_array_length(w->rows); i++) {
		r = json_object_array_get_idx(w->rows, i);
		if (strcmp(ctl_str(r, "name", ""), name) == 0)
			return r;
	}
	r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(name));
	json_object_object_add(r, "_since",
	    json_object_new_double(watch_wallclock()));
	json_object_array_add(w->rows, r);
	return r;
}

static void
watch_set_rows(struct watch *w, struct json_object *servers)
{
	struct json_object	*r;
	double			 now = watch_wallclock();
	size_t			 i;

	json_object_put(w->rows);
	w->rows = servers != NULL && json_object_is_type(servers,
	    json_type_array) ? json_object_get(servers) :
	    json_object_new_array();
	for (i = 0; i < json_object_array_length(w->rows); i++) {
		r = json_object_array_get_idx(w->rows, i);
		json_object_object_add(r, "_since", json_object_new_double(
		    now - ctl_dbl(r, "stateSeconds")));
	}
}

static void
watch_bump(struct json_object *row, const char *key)
{
	json_object_object_add(row, key,
	    json_object_new_int64(ctl_int(row, key) + 1));
}

/* What an event changes in the table. */
static void
watch_apply(struct watch *w, struct json_object *ev)
{
	const char		*type = ctl_str(ev, "type", "");
	const char		*server = ctl_str(ev, "server", NULL);
	struct json_object	*row;

	if (server == NULL)
		return;
	row = watch_row(w, server);
	if (strcmp(type, "state") == 0) {
		json_object_object_add(row, "state", json_object_new_string(
		    ctl_str(ev, "to", "?")));
		json_object_object_add(row, "reason", json_object_new_string(
		    ctl_str(ev, "reason", "")));
		json_object_object_add(row, "_since",
		    json_object_new_double(ctl_dbl(ev, "time")));
	} else if (strcmp(type, "breaker") == 0)
		json_object_object_add(row, "breaker", json_object_new_string(
		    ctl_str(ev, "to", "?")));
	else if (strcmp(type, "retry") == 0)
		watch_bump(row, "_retries");
	else if (strcmp(type, "alert") == 0)
		watch_bump(row, "_alerts");
	else if (strcmp(type, "admin") == 0) {
		if (strcmp(ctl_str(ev, "action", ""), "disable") == 0)
			json_object_object_add(row, "disabled",
			    json_object_new_boolean(1));
		else if (strcmp(ctl_str(ev, "action", ""), "enable") == 0)
			json_object_object_add(row, "disabled",
			    json_object_new_boolean(0));
	}
}

static void
watch_draw(struct watch *w)
{
	struct json_object	*r;
	double			 now = watch_wallclock();
	char			 when[40], since[32];
	size_t			 i;
	int			 k;

	/* Home, then clear below: the table is redrawn in place. */
	printf("\033[H\033[2J");
	printf("mcprelayctl watch  %s  %s\n\n", w->socket != NULL ?
	    w->socket : "", watch_fmt_time(now, when, sizeof when));
	printf("%-16s %-12s %9s %-9s %7s %6s  %s\n", "SERVER", "STATE",
	    "SINCE", "BREAKER", "RETRIES", "ALERTS", "REASON");
	for (i = 0; i < json_object_array_length(w->rows); i++) {
		r = json_object_array_get_idx(w->rows, i);
		printf("%-16s %-12s %9s %-9s %7lld %6lld  %.60s\n",
		    ctl_str(r, "name", "?"), ctl_int(r, "disabled") &&
		    strcmp(ctl_str(r, "state", ""), "stopped") == 0 ?
		    "disabled" : ctl_str(r, "state", "?"),
		    ctl_fmt_duration(now - ctl_dbl(r, "_since"), since,
		    sizeof since), ctl_str(r, "breaker", "-"),
		    (long long)ctl_int(r, "_retries"),
		    (long long)ctl_int(r, "_alerts"),
		    ctl_str(r, "reason", ""));
	}
	printf("\nevents:\n");
	for (k = 0; k < w->nlog; k++)
		printf("  %.150s\n", w->log[k]);
	fflush(stdout);
}

static void
watch_log(struct watch *w, const char *line)
{
	if (w->nlog == WATCH_LOG_LINES) {
		memmove(w->log[0], w->log[1], sizeof w->log[0] *
		    (WATCH_LOG_LINES - 1));
		w->nlog--;
	}
	snprintf(w->log[w->nlog++], sizeof w->log[0], "%s", line);
}

/* After a reload the set of servers may differ: ask once. */
static int
watch_reload(struct watch *w, struct ctl_conn *c)
{
	struct json_object	*r;
	int			 rc;

	if ((rc = ctl_call(c, "servers", NULL, &r)) != CTL_EXIT_OK)
		return rc;
	watch_set_rows(w, r);
	json_object_put(r);
	return CTL_EXIT_OK;
}

int
cmd_watch(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct ctl_conn		*c;
	struct json_object	*r, *msg, *ev;
	struct sigaction	 sa;
	struct watch		 w;
	char			 line[WATCH_LINE_MAX];
	int			 i, rc, tty;
	size_t			 k;

	if ((i = ctl_parse_opts(self, argc, argv, &o)) < 0)
		return i == -2 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (i != argc)
		return ctl_usage_error(self);
	if ((rc = ctl_open(&o, &c)) != CTL_EXIT_OK)
		return rc;
	memset(&w, 0, sizeof w);
	w.socket = o.socket;
	tty = !o.json && isatty(STDOUT_FILENO);
	/* No SA_RESTART: poll() returns, and watch ends cleanly. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = watch_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if ((rc = ctl_call(c, "events.subscribe", NULL, &r)) != CTL_EXIT_OK) {
		ctl_close(c);
		return rc;
	}
	watch_set_rows(&w, ctl_get(r, "servers"));
	json_object_put(r);
	if (tty)
		watch_draw(&w);
	else if (!o.json) {
		for (k = 0; k < json_object_array_length(w.rows); k++) {
			r = json_object_array_get_idx(w.rows, k);
			printf("%s %s is %s%s%s\n", watch_fmt_time(
			    watch_wallclock(), line, sizeof line),
			    ctl_str(r, "name", "?"), ctl_str(r, "state", "?"),
			    *ctl_str(r, "reason", "") != '\0' ? ": " : "",
			    ctl_str(r, "reason", ""));
		}
		fflush(stdout);
	}

	rc = CTL_EXIT_OK;
	while (!watch_stop) {
		if ((msg = ctl_read(c, tty ? 1000 : -1, &rc)) == NULL) {
			if (rc == CTL_EXIT_FAIL)
				break;
			rc = CTL_EXIT_OK;
			if (tty)
				watch_draw(&w);
			continue;
		}
		if (!json_object_object_get_ex(msg, "params", &ev) ||
		    strcmp(ctl_str(msg, "method", ""), "event") != 0) {
			json_object_put(msg);
			continue;
		}
		if (o.json) {
			printf("%s\n", json_object_to_json_string_ext(ev,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
			fflush(stdout);
			json_object_put(msg);
			continue;
		}
		watch_describe(ev, line, sizeof line);
		watch_apply(&w, ev);
		if (tty) {
			watch_log(&w, line);
			if (strcmp(ctl_str(ev, "type", ""), "admin") == 0 &&
			    strcmp(ctl_str(ev, "action", ""), "reload") == 0 &&
			    (rc = watch_reload(&w, c)) != CTL_EXIT_OK) {
				json_object_put(msg);
				break;
			}
			watch_draw(&w);
		} else {
			printf("%s\n", line);
			fflush(stdout);
		}
		json_object_put(msg);
	}
	json_object_put(w.rows);
	ctl_close(c);
	return rc;
}
