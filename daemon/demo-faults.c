/*
 * Options of mcprelay-demo-server, read from one table by the flag parser,
 * the environment (MCP_DEMO_<FLAG>, flags win) and --help; and the start-up
 * faults a supervisor's restart logic is tested with.
 */
#include "autoconf.h"

#include <sys/file.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demo-faults.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

enum demo_opt_kind {
	DEMO_OPT_STRING,
	DEMO_OPT_COUNT,
	DEMO_OPT_FLAG,
};

static const struct demo_opt_def {
	const char		*name;
	enum demo_opt_kind	 kind;
	size_t			 off;
	long			 min;
	const char		*arg;
	const char		*help;
} demo_opt_defs[] = {
#define O(f)	offsetof(struct demo_opts, f)
	{ "name", DEMO_OPT_STRING, O(name), 0,
	  "NAME", "serverInfo.name and the resource name prefix" },
	{ "page-size", DEMO_OPT_COUNT, O(page_size), 0,
	  "N", "tools/list page size (default 0: one page)" },
	{ "tools-extra", DEMO_OPT_STRING, O(tools_extra), 0,
	  "A,B", "extra echo-like tools with these names" },
	{ "exec-log", DEMO_OPT_STRING, O(exec_log), 0,
	  "FILE", "append a line per executed tool call" },
	{ "starts-log", DEMO_OPT_STRING, O(starts_log), 0,
	  "FILE", "append a line per process start" },
	{ "state-file", DEMO_OPT_STRING, O(state_file), 0,
	  "FILE", "start counter for --fail-starts" },
	{ "fail-starts", DEMO_OPT_COUNT, O(fail_starts), 0,
	  "N", "the first N starts exit 1 at once" },
	{ "exit-after", DEMO_OPT_COUNT, O(exit_after), 1,
	  "K", "exit 3 right after answering the K-th request" },
	{ "exit-during", DEMO_OPT_STRING, O(exit_during), 0,
	  "TOOL", "exit 4 when TOOL is called, before answering" },
	{ "delay-ms", DEMO_OPT_COUNT, O(delay_ms), 0,
	  "D", "delay every response by D ms" },
	{ "hang-after", DEMO_OPT_COUNT, O(hang_after), 0,
	  "K", "after K requests, answer nothing more" },
	{ "garbage-after", DEMO_OPT_COUNT, O(garbage_after), 1,
	  "K", "write one non-JSON line after the K-th request" },
	{ "error-method", DEMO_OPT_STRING, O(error_method), 0,
	  "METHOD", "answer METHOD with -32603 \"injected failure\"" },
	{ "rpc-error", DEMO_OPT_STRING, O(rpc_error), 0,
	  "TOOL:N:CODE[:MSG]", "the first N calls of TOOL (0: all) get "
	  "JSON-RPC error CODE" },
	{ "tool-error", DEMO_OPT_STRING, O(tool_error), 0,
	  "TOOL:N:TEXT", "the first N calls of TOOL (0: all) return "
	  "isError TEXT" },
	{ "stderr-noise", DEMO_OPT_FLAG, O(stderr_noise), 0,
	  "", "write a line to stderr per request" },
	{ "http", DEMO_OPT_STRING, O(http), 0,
	  "HOST:PORT", "serve Streamable HTTP at /mcp instead of stdio" },
	{ "conformance", DEMO_OPT_FLAG, O(conformance), 0,
	  "", "also serve the MCP conformance suite's fixture" },
	{ "era", DEMO_OPT_STRING, O(era), 0,
	  "ERA", "dual (default), legacy or modern: the eras spoken" },
	{ "sse", DEMO_OPT_FLAG, O(sse), 0,
	  "", "with --http: legacy HTTP+SSE only (/sse, /messages)" },
	{ "http-reply", DEMO_OPT_STRING, O(http_reply), 0,
	  "MODE", "json (default), sse or tools: SSE for tools/call" },
	{ "tls-cert", DEMO_OPT_STRING, O(tls_cert), 0,
	  "FILE", "serve https with this certificate chain (PEM)" },
	{ "tls-key", DEMO_OPT_STRING, O(tls_key), 0,
	  "FILE", "the private key of --tls-cert (PEM)" },
	{ "http-log", DEMO_OPT_STRING, O(http_log), 0,
	  "FILE", "append a line per HTTP request received" },
	{ "fault-method", DEMO_OPT_STRING, O(fault_method), 0,
	  "NAME", "HTTP faults hit only this method or tool" },
	{ "http-503", DEMO_OPT_COUNT, O(http_503), 0,
	  "N", "answer the first N requests 503" },
	{ "http-429", DEMO_OPT_COUNT, O(http_429), 0,
	  "N", "answer the first N requests 429 with Retry-After" },
	{ "retry-after", DEMO_OPT_COUNT, O(retry_after), 0,
	  "S", "Retry-After seconds of 503 and 429 (429: default 1)" },
	{ "reset-before", DEMO_OPT_COUNT, O(reset_before), 0,
	  "N", "reset the first N requests' connections unexecuted" },
	{ "reset-during", DEMO_OPT_COUNT, O(reset_during), 0,
	  "N", "reset the first N in the middle of their response" },
	{ "stall", DEMO_OPT_COUNT, O(stall), 0,
	  "N", "never answer the first N requests (not executed)" },
	{ "sse-close-after", DEMO_OPT_COUNT, O(sse_close_after), 0,
	  "N", "end an SSE stream after N message events" },
	{ "sse-close-times", DEMO_OPT_COUNT, O(sse_close_times), 0,
	  "T", "how many streams --sse-close-after ends (default 1)" },
	{ "sse-retry-ms", DEMO_OPT_COUNT, O(sse_retry_ms), 0,
	  "MS", "the retry: field of SSE streams" },
	{ "expire-after", DEMO_OPT_COUNT, O(expire_after), 1,
	  "K", "a session answers 404 after K requests" },
#undef O
};
#define DEMO_NOPTS	(sizeof demo_opt_defs / sizeof demo_opt_defs[0])

static void
demo_usage(FILE *f)
{
	char	 flag[40];
	size_t	 i;

	fprintf(f, "usage: mcprelay-demo-server [options]\n"
	    "A demo MCP server on stdin/stdout; every option can also be set "
	    "as\nMCP_DEMO_<OPTION> (upper case, '-' as '_'); flags win.\n");
	for (i = 0; i < DEMO_NOPTS; i++) {
		snprintf(flag, sizeof flag, "--%s %s", demo_opt_defs[i].name,
		    demo_opt_defs[i].arg);
		fprintf(f, "  %-22s %s\n", flag, demo_opt_defs[i].help);
	}
	fprintf(f, "  --version\n  --help\n");
}

static int
demo_opt_set(struct demo_opts *o, const struct demo_opt_def *def,
    const char *value, const char *from)
{
	char	*field = (char *)o + def->off, *end;
	long	 n;

	switch (def->kind) {
	case DEMO_OPT_STRING:
		*(const char **)field = value;
		return 0;
	case DEMO_OPT_FLAG:
		*(int *)field = value == NULL ||
		    (*value != '\0' && strcmp(value, "0") != 0);
		return 0;
	case DEMO_OPT_COUNT:
		errno = 0;
		n = strtol(value, &end, 10);
		if (*value == '\0' || *end != '\0' || errno != 0 ||
		    n < def->min || n > 1000000000L) {
			fprintf(stderr, "mcprelay-demo-server: %s: '%s' is not "
			    "an integer from %ld\n", from, value, def->min);
			return -1;
		}
		*(long *)field = n;
		return 0;
	}
	return -1;
}

/* Environment first, so that flags parsed afterwards override it. */
static int
demo_opts_from_env(struct demo_opts *o)
{
	char		 var[64], *p;
	const char	*value;
	size_t		 i;

	for (i = 0; i < DEMO_NOPTS; i++) {
		snprintf(var, sizeof var, "MCP_DEMO_%s", demo_opt_defs[i].name);
		for (p = var; *p != '\0'; p++)
			*p = *p == '-' ? '_' : toupper((unsigned char)*p);
		if ((value = getenv(var)) != NULL &&
		    demo_opt_set(o, &demo_opt_defs[i], value, var) == -1)
			return -1;
	}
	return 0;
}

int
demo_opts_parse(struct demo_opts *o, int argc, char *argv[])
{
	struct option	 longopts[DEMO_NOPTS + 3];
	const char	*rest;
	char		*end;
	size_t		 i;
	int		 c;

	memset(o, 0, sizeof *o);
	o->name = "mcprelay-demo";
	o->exit_after = o->hang_after = o->garbage_after = -1;
	o->retry_after = o->sse_close_after = o->sse_retry_ms = -1;
	o->sse_close_times = 1;
	if (demo_opts_from_env(o) == -1)
		return 2;
	memset(longopts, 0, sizeof longopts);
	for (i = 0; i < DEMO_NOPTS; i++)
		longopts[i] = (struct option){ demo_opt_defs[i].name,
		    demo_opt_defs[i].kind == DEMO_OPT_FLAG ? no_argument :
		    required_argument, NULL, 256 + (int)i };
	longopts[i++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[i] = (struct option){ "help", no_argument, NULL, 'h' };
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		if (c == 'V') {
			printf("mcprelay-demo-server %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (c == 'h' || c == '?') {
			demo_usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
		if (demo_opt_set(o, &demo_opt_defs[c - 256], optarg,
		    demo_opt_defs[c - 256].name) == -1)
			return 2;
	}
	if (o->rpc_error != NULL && (demo_fault_spec(o->rpc_error, NULL, 0,
	    NULL, &rest) == -1 || strtol(rest, &end, 10) == 0 ||
	    (*end != '\0' && *end != ':'))) {
		fprintf(stderr, "mcprelay-demo-server: --rpc-error: expected "
		    "TOOL:N:CODE[:MESSAGE], got '%s'\n", o->rpc_error);
		return 2;
	}
	if (o->tool_error != NULL && demo_fault_spec(o->tool_error, NULL, 0,
	    NULL, &rest) == -1) {
		fprintf(stderr, "mcprelay-demo-server: --tool-error: expected "
		    "TOOL:N:TEXT, got '%s'\n", o->tool_error);
		return 2;
	}
	if (optind < argc || (o->fail_starts > 0 && o->state_file == NULL)) {
		fprintf(stderr, "mcprelay-demo-server: %s\n",
		    optind < argc ? "unexpected arguments" :
		    "--fail-starts needs --state-file");
		return 2;
	}
	return -1;
}

int
demo_fault_spec(const char *spec, char *tool, size_t len, long *n,
    const char **rest)
{
	const char	*c1, *c2;
	char		*end;
	long		 v;

	if ((c1 = strchr(spec, ':')) == NULL || c1 == spec ||
	    (c2 = strchr(c1 + 1, ':')) == NULL)
		return -1;
	v = strtol(c1 + 1, &end, 10);
	if (end == c1 + 1 || end != c2 || v < 0)
		return -1;
	if (tool != NULL) {
		if ((size_t)(c1 - spec) >= len)
			return -1;
		memcpy(tool, spec, (size_t)(c1 - spec));
		tool[c1 - spec] = '\0';
	}
	if (n != NULL)
		*n = v;
	*rest = c2 + 1;
	return 0;
}

/* One write() per line, so starts of concurrent servers never interleave. */
static void
demo_append_line(const char *path, const char *line)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, line, strlen(line)) == -1)
		log_warn("%s", path);
	if (fd != -1)
		close(fd);
}

/* Counts this start in the state file; the lock makes the count exact. */
static long
demo_count_start(const char *path)
{
	char	 buf[32];
	ssize_t	 n;
	long	 count;
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1 ||
	    flock(fd, LOCK_EX) == -1) {
		log_warn("%s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	count = strtol(buf, NULL, 10) + 1;
	n = snprintf(buf, sizeof buf, "%ld\n", count);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, n, 0) != n)
		log_warn("%s", path);
	close(fd);
	return count;
}

int
demo_faults_start(const struct demo_opts *o)
{
	struct timespec	 ts;
	char		 line[96];
	long		 k;

	if (o->starts_log != NULL) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(line, sizeof line,
		    "{\"pid\":%d,\"time\":%lld.%06ld}\n", (int)getpid(),
		    (long long)ts.tv_sec, ts.tv_nsec / 1000);
		demo_append_line(o->starts_log, line);
	}
	if (o->fail_starts <= 0)
		return -1;
	if ((k = demo_count_start(o->state_file)) == -1)
		return 1;
	if (k > o->fail_starts)
		return -1;
	fprintf(stderr, "demo: failing start %ld of %ld\n", k, o->fail_starts);
	return 1;
}
