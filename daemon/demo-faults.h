/*
 * Options of mcprelay-demo-server, from flags or MCP_DEMO_<FLAG>, and the
 * faults it injects at start-up.  Runtime faults live in demo-server.c.
 */
#ifndef MCPRELAY_DEMO_FAULTS_H
#define MCPRELAY_DEMO_FAULTS_H

/* Strings point into argv or the environment; counts are -1 when off. */
struct demo_opts {
	const char	*name;		/* serverInfo.name */
	long		 page_size;	/* tools/list page, 0 = all */
	const char	*tools_extra;	/* comma-separated names */
	const char	*exec_log;
	const char	*starts_log;
	const char	*state_file;
	long		 fail_starts;
	long		 exit_after;
	const char	*exit_during;
	long		 delay_ms;
	long		 hang_after;
	long		 garbage_after;
	const char	*error_method;
	const char	*rpc_error;	/* TOOL:N:CODE[:MESSAGE] */
	const char	*tool_error;	/* TOOL:N:TEXT */
	int		 stderr_noise;
	const char	*http;		/* HOST:PORT: HTTP instead of stdio */
	int		 conformance;	/* also serve demo-conformance.c */
	const char	*era;		/* dual (NULL), legacy or modern */
	/* HTTP mode (demo-http.c); counts are 0 when off unless noted. */
	int		 sse;		/* legacy HTTP+SSE only */
	const char	*http_reply;	/* json, sse, tools */
	const char	*tls_cert, *tls_key;
	const char	*http_log;
	const char	*fault_method;	/* the HTTP faults' target */
	long		 http_503, http_429;
	long		 retry_after;	/* -1: none (429 sends 1) */
	long		 reset_before, reset_during, stall;
	long		 sse_close_after; /* -1: off */
	long		 sse_close_times;
	long		 sse_retry_ms;	/* -1: no retry: field */
	long		 expire_after;
};

/* Returns -1 to go on, else the exit status (--help, --version, misuse). */
int	demo_opts_parse(struct demo_opts *, int, char *[]);

/*
 * Splits "TOOL:N:REST" (--rpc-error, --tool-error): the tool into tool, N
 * (>= 0; 0 means every call) into *n, *rest after the second colon.  -1
 * when spec does not have that shape.
 */
int	demo_fault_spec(const char *spec, char *tool, size_t len, long *n,
	    const char **rest);

/* Logs this start and applies --fail-starts: -1 to go on, else a status. */
int	demo_faults_start(const struct demo_opts *);

#endif
