/*
 * mcprelayctl's read-only commands: status, servers, stats [SERVER] and
 * metrics.  Human tables by default; --json prints the daemon's answer as
 * it came (docs/control.md describes every field).
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "ctl.h"

/* ---- reading answers --------------------------------------------------- */

struct json_object *
ctl_get(struct json_object *o, const char *path)
{
	char	 key[64];
	size_t	 n;

	while (o != NULL && *path != '\0') {
		n = strcspn(path, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n;
		if (*path == '.')
			path++;
	}
	return o;
}

const char *
ctl_str(struct json_object *o, const char *path, const char *def)
{
	struct json_object	*v = ctl_get(o, path);

	if (v == NULL || json_object_is_type(v, json_type_null))
		return def;
	return json_object_get_string(v);
}

int64_t
ctl_int(struct json_object *o, const char *path)
{
	struct json_object	*v = ctl_get(o, path);

	return v != NULL ? json_object_get_int64(v) : 0;
}

double
ctl_dbl(struct json_object *o, const char *path)
{
	struct json_object	*v = ctl_get(o, path);

	return v != NULL ? json_object_get_double(v) : 0;
}

/* "3d04h", "2h05m", "4m07s", "12.3s" */
const char *
ctl_fmt_duration(double s, char *buf, size_t len)
{
	long long	n = (long long)s;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (n < 3600)
		snprintf(buf, len, "%lldm%02llds", n / 60, n % 60);
	else if (n < 86400)
		snprintf(buf, len, "%lldh%02lldm", n / 3600, (n % 3600) / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", n / 86400,
		    (n % 86400) / 3600);
	return buf;
}

/* ---- tables ------------------------------------------------------------ */

void
ctl_servers_header(FILE *f)
{
	fprintf(f, "%-16s %-12s %9s %-7s %-9s %6s %6s %8s %7s  %s\n",
	    "SERVER", "STATE", "SINCE", "PROTO", "BREAKER", "FLIGHT", "QUEUED",
	    "REQUESTS", "PID", "LAST ERROR / REASON");
}

/* One row of the servers table from a "servers" entry. */
void
ctl_servers_row(FILE *f, struct json_object *s, double state_seconds)
{
	char		 since[32], pid[16];
	const char	*state = ctl_str(s, "state", "?");
	const char	*why;

	if (ctl_get(s, "pid") != NULL && ctl_int(s, "pid") > 0)
		snprintf(pid, sizeof pid, "%" PRId64, ctl_int(s, "pid"));
	else
		snprintf(pid, sizeof pid, "-");
	why = ctl_str(s, "lastError", NULL);
	if (strcmp(state, "ready") == 0 || why == NULL)
		why = ctl_str(s, "reason", "");
	fprintf(f, "%-16s %-12s %9s %-7s %-9s %6" PRId64 " %6" PRId64 " %8"
	    PRId64 " %7s  %s\n", ctl_str(s, "name", "?"),
	    ctl_int(s, "disabled") && strcmp(state, "stopped") == 0 ?
	    "disabled" : state,
	    ctl_fmt_duration(state_seconds, since, sizeof since),
	    ctl_str(s, "protocol", "-"),
	    ctl_str(s, "breaker", "-"), ctl_int(s, "inFlight"),
	    ctl_int(s, "queued"), ctl_int(s, "requests"), pid, why);
	/* OAuth servers: a second line (docs/auth.md). */
	if (ctl_get(s, "auth") != NULL) {
		time_t	now = time(NULL);
		int64_t	exp = ctl_int(s, "auth.expiresAt");
		char	left[32];

		fprintf(f, "%-16s auth: %s", "", ctl_str(s, "auth.state", "?"));
		if (exp > 0)
			fprintf(f, ", access token %s %s", exp > now ?
			    "expires in" : "expired", ctl_fmt_duration(
			    (double)(exp > now ? exp - now : now - exp), left,
			    sizeof left));
		if (ctl_get(s, "auth.scope") != NULL)
			fprintf(f, ", scope %s", ctl_str(s, "auth.scope", ""));
		fprintf(f, "%s\n", ctl_int(s, "auth.refreshable") ?
		    ", refreshable" : "");
	}
}

/* ---- status ------------------------------------------------------------ */

static void
status_listeners(struct json_object *list)
{
	struct json_object	*l;
	const char		*type;
	size_t			 i;

	printf("listening:");
	for (i = 0; list != NULL && i < json_object_array_length(list); i++) {
		l = json_object_array_get_idx(list, i);
		type = ctl_str(l, "type", "?");
		printf("%s %s %s", i == 0 ? "" : ",", type,
		    ctl_str(l, "address", ctl_str(l, "path", "?")));
	}
	printf("%s\n", i == 0 ? " nothing" : "");
}

int
cmd_status(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	char			 up[32];
	int			 rc;

	if ((rc = ctl_query(self, argc, argv, 0, 0, "status", &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	if (o.json)
		ctl_print_json(r);
	else {
		printf("mcprelayd %s (pid %" PRId64 ") up %s%s, config %s\n",
		    ctl_str(r, "version", "?"), ctl_int(r, "pid"),
		    ctl_fmt_duration(ctl_dbl(r, "uptimeSeconds"), up,
		    sizeof up), ctl_int(r, "stopping") ? ", stopping" : "",
		    ctl_str(r, "configFile", "?"));
		printf("servers: %" PRId64 " (%" PRId64 " ready, %" PRId64
		    " failed, %" PRId64 " disabled)\n",
		    ctl_int(r, "servers.total"), ctl_int(r, "servers.ready"),
		    ctl_int(r, "servers.failed"),
		    ctl_int(r, "servers.disabled"));
		printf("sessions: %" PRId64 " open, %" PRId64 " total\n",
		    ctl_int(r, "sessions.open"), ctl_int(r, "sessions.total"));
		printf("requests: %" PRId64 " (%" PRId64 " ok, %" PRId64
		    " error)\n", ctl_int(r, "requests.total"),
		    ctl_int(r, "requests.ok"), ctl_int(r, "requests.error"));
		status_listeners(ctl_get(r, "listeners"));
		printf("access: %s\n", ctl_str(r, "access", "?"));
	}
	json_object_put(r);
	return CTL_EXIT_OK;
}

/* ---- servers ----------------------------------------------------------- */

int
cmd_servers(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r, *s;
	char			**av;
	size_t			 i;
	int			 rc, ac = 0, names = 0;

	/* --names: one name a line, for shell completion and scripts. */
	av = calloc((size_t)argc + 1, sizeof *av);
	if (av == NULL)
		return CTL_EXIT_FAIL;
	for (i = 0; i < (size_t)argc; i++) {
		if (i > 0 && strcmp(argv[i], "--names") == 0)
			names = 1;
		else
			av[ac++] = argv[i];
	}
	rc = ctl_query(self, ac, av, 0, 0, "servers", &o, &r);
	free(av);
	if (rc != CTL_EXIT_OK || r == NULL)
		return rc;
	if (names) {
		for (i = 0; i < json_object_array_length(r); i++)
			printf("%s\n", ctl_str(json_object_array_get_idx(r,
			    i), "name", "?"));
	} else if (o.json)
		ctl_print_json(r);
	else {
		ctl_servers_header(stdout);
		for (i = 0; i < json_object_array_length(r); i++) {
			s = json_object_array_get_idx(r, i);
			ctl_servers_row(stdout, s, ctl_dbl(s, "stateSeconds"));
		}
	}
	json_object_put(r);
	return CTL_EXIT_OK;
}

/* ---- stats ------------------------------------------------------------- */

/* "key=value" pairs of an object of counters, on one line. */
static void
stats_pairs(const char *label, struct json_object *o, int skip_zero)
{
	int	n = 0;

	printf("  %-13s", label);
	if (o != NULL && json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			if (skip_zero && json_object_get_int64(v) == 0)
				continue;
			printf(" %s=%s", k, json_object_get_string(v));
			n++;
		}
	}
	printf("%s\n", n == 0 ? " -" : "");
}

static const char *
stats_latency(struct json_object *l, const char *key, char *buf, size_t len)
{
	struct json_object	*v = ctl_get(l, key);

	if (v == NULL || json_object_is_type(v, json_type_null))
		return "-";
	snprintf(buf, len, "%.1fms", json_object_get_double(v) * 1000);
	return buf;
}

static void
stats_server(struct json_object *s)
{
	struct json_object	*c, *rq, *l, *b, *p;
	char			 d1[32], d2[32], d3[32];

	c = ctl_get(s, "connection");
	rq = ctl_get(s, "requests");
	l = ctl_get(s, "latency");
	b = ctl_get(s, "breaker");
	p = ctl_get(s, "retryPolicy");
	printf("server %s (%s): %s for %s%s%s%s\n", ctl_str(s, "name", "?"),
	    ctl_str(s, "type", "?"), ctl_str(s, "state", "?"),
	    ctl_fmt_duration(ctl_dbl(s, "stateSeconds"), d1, sizeof d1),
	    ctl_int(s, "disabled") ? " [disabled]" : "",
	    *ctl_str(s, "reason", "") != '\0' ? ": " : "",
	    ctl_str(s, "reason", ""));
	printf("  %-13s attempts=%" PRId64 " successes=%" PRId64
	    " failures=%" PRId64 " retries=%" PRId64 " reconnects=%" PRId64
	    " consecutive=%" PRId64 " downtime=%s\n", "connection",
	    ctl_int(c, "attempts"), ctl_int(c, "successes"),
	    ctl_int(c, "failures"), ctl_int(c, "retries"),
	    ctl_int(c, "reconnects"), ctl_int(c, "consecutiveFailures"),
	    ctl_fmt_duration(ctl_dbl(c, "downtimeSeconds"), d2, sizeof d2));
	stats_pairs("failed by", ctl_get(c, "failuresByClass"), 1);
	if (ctl_str(c, "lastError", NULL) != NULL)
		printf("  %-13s %s\n", "last error",
		    ctl_str(c, "lastError", ""));
	printf("  %-13s total=%" PRId64 " ok=%" PRId64 " errors=%" PRId64
	    " retried=%" PRId64 " retriedOk=%" PRId64 " inFlight=%" PRId64
	    " queued=%" PRId64 " refusedUnsafe=%" PRId64 "\n", "requests",
	    ctl_int(rq, "total"), ctl_int(rq, "ok"), ctl_int(rq, "errors"),
	    ctl_int(rq, "retried"), ctl_int(rq, "retriedOk"),
	    ctl_int(rq, "inFlight"), ctl_int(rq, "queued"),
	    ctl_int(rq, "refusedUnsafe"));
	stats_pairs("errors by", ctl_get(rq, "errorsByClass"), 1);
	printf("  %-13s count=%" PRId64 " p50=%s p90=%s p99=%s\n", "latency",
	    ctl_int(l, "count"), stats_latency(l, "p50", d1, sizeof d1),
	    stats_latency(l, "p90", d2, sizeof d2),
	    stats_latency(l, "p99", d3, sizeof d3));
	printf("  %-13s state=%s transitions=%" PRId64 " opened=%" PRId64
	    " threshold=%" PRId64 " open=%gs..%gs\n", "breaker",
	    ctl_str(b, "state", "?"), ctl_int(b, "transitions"),
	    ctl_int(b, "timesOpened"),
	    ctl_int(b, "settings.failure_threshold"),
	    ctl_dbl(b, "settings.open_duration"),
	    ctl_dbl(b, "settings.max_open_duration"));
	printf("  %-13s max_retries=%" PRId64 " initial_delay=%gs "
	    "max_delay=%gs backoff_factor=%g jitter=%s\n", "retry",
	    ctl_int(p, "max_retries"), ctl_dbl(p, "initial_delay"),
	    ctl_dbl(p, "max_delay"), ctl_dbl(p, "backoff_factor"),
	    ctl_int(p, "jitter") ? ctl_str(p, "jitter_mode", "on") : "off");
	if (ctl_get(s, "process.pid") != NULL &&
	    ctl_int(s, "process.pid") > 0)
		printf("  %-13s pid=%" PRId64 " restarts=%" PRId64 "\n",
		    "process", ctl_int(s, "process.pid"),
		    ctl_int(s, "process.restarts"));
	else
		printf("  %-13s pid=- restarts=%" PRId64 "\n", "process",
		    ctl_int(s, "process.restarts"));
	stats_pairs("alerts", ctl_get(s, "alerts"), 1);
}

/* Refusals by the access rules (docs/security.md), by user. */
static void
stats_access(struct json_object *a)
{
	if (a == NULL)
		return;
	printf("  %-13s refused=%" PRId64 " tokens=%s\n", "access",
	    ctl_int(a, "refused"), ctl_str(a, "tokens", "off"));
	if (ctl_int(a, "refused") > 0)
		stats_pairs("refused by", ctl_get(a, "refusedByUser"), 1);
}

int
cmd_stats(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r, *list;
	char			 up[32];
	size_t			 i;
	int			 rc;

	if ((rc = ctl_query(self, argc, argv, 0, 1, "stats", &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	if (o.json)
		ctl_print_json(r);
	else if (ctl_get(r, "servers") == NULL)
		stats_server(r);
	else {
		printf("mcprelayd %s (pid %" PRId64 ") up %s\n",
		    ctl_str(r, "version", "?"), ctl_int(r, "pid"),
		    ctl_fmt_duration(ctl_dbl(r, "uptimeSeconds"), up,
		    sizeof up));
		printf("  %-13s open=%" PRId64 " total=%" PRId64 "\n",
		    "sessions", ctl_int(r, "sessions.open"),
		    ctl_int(r, "sessions.total"));
		stats_pairs("requests", ctl_get(r, "requests"), 0);
		stats_pairs("reloads", ctl_get(r, "reloads"), 0);
		stats_access(ctl_get(r, "access"));
		list = ctl_get(r, "servers");
		for (i = 0; i < json_object_array_length(list); i++)
			stats_server(json_object_array_get_idx(list, i));
	}
	json_object_put(r);
	return CTL_EXIT_OK;
}

/* ---- metrics ----------------------------------------------------------- */

int
cmd_metrics(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	int			 rc;

	if ((rc = ctl_query(self, argc, argv, 0, 0, "metrics", &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	if (o.json)
		ctl_print_json(r);
	else
		fputs(ctl_str(r, "text", ""), stdout);
	json_object_put(r);
	return CTL_EXIT_OK;
}
