/*
 * mcpbench: the MCP client of bench/run.sh.  Sequential round-trip latency
 * in one session, many idle sessions, and calls across an upstream restart,
 * over Streamable HTTP with libevent's HTTP client; one key=value result line.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define BENCH_PROTOCOL	"2025-11-25"
#define BENCH_TEXT	"bench"
#define BENCH_MAXCONN	256
#define BENCH_TIMEOUT	30	/* seconds for one HTTP exchange */

enum bench_mode {
	MODE_POST,		/* one message; print status, session, body */
	MODE_SESSION,		/* initialize; print the session id */
	MODE_LATENCY,		/* sequential echo calls per connection */
	MODE_SESSIONS,		/* initialize many sessions and leave them */
	MODE_RECOVER,		/* calls while the upstream is killed */
};

/* What a worker's outstanding request is. */
enum bench_step { STEP_INIT, STEP_INITIALIZED, STEP_CALL, STEP_POST };

struct bench;

/* One connection doing one request at a time. */
struct worker {
	struct bench			*b;
	struct evhttp_connection	*conn;
	unsigned			 idx;
	uint64_t			 seq;
	enum bench_step			 step;
	double				 sent;
	char				 sid[128];
};

struct bench {
	enum bench_mode		 mode;
	struct event_base	*base;
	struct evhttp_uri	*uri;
	char			 host[300];	/* Host header */
	const char		*path;
	const char		*body;		/* MODE_POST */
	const char		*sid;		/* -s, or from initialize */
	const char		*tool;		/* -t, default echo */
	char			 sidbuf[128];
	unsigned		 conns;
	long			 count, warmup, issued, done;
	double			 deadline;	/* -d, monotonic; 0 = none */
	struct worker		 w[BENCH_MAXCONN];
	double			*lat;		/* microseconds */
	size_t			 nlat, latcap;
	long			 ok, failed;
	int			 stopping;
	/* MODE_POST */
	int			 status;
	/* MODE_RECOVER */
	const char		*starts_log, *daemon_log, *server;
	struct event		*kill_timer;
	double			 t_kill;	/* realtime */
	pid_t			 killed;
	double			 t_first_ok;	/* realtime, after t_kill */
	long			 failed_after_kill;
	double			 settle;	/* monotonic end */
};

static void	worker_next(struct worker *);
static int	starts_log_last(const char *, pid_t *, double *);

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "mcpbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
now_real(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mcpbench port\n"
	    "       mcpbench post URL JSON [-s SESSION]\n"
	    "       mcpbench session URL\n"
	    "       mcpbench latency URL [-c CONNS] [-n CALLS] [-w WARMUP] "
	    "[-d SECONDS] [-t TOOL]\n"
	    "       mcpbench sessions URL [-c CONNS] -n SESSIONS\n"
	    "       mcpbench recover URL -S STARTS_LOG [-L DAEMON_LOG "
	    "-N SERVER] [-c CONNS]\n");
	exit(2);
}

/* A free loopback port for a peer that cannot pick its own. */
static int
bench_free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("port: %s", strerror(errno));
	printf("%d\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double
percentile(const double *v, size_t n, double p)
{
	size_t	 k;

	if (n == 0)
		return NAN;
	k = (size_t)ceil(p / 100.0 * (double)n);
	return v[k == 0 ? 0 : k - 1];
}

static void
bench_stop(struct bench *b)
{
	b->stopping = 1;
	event_base_loopbreak(b->base);
}

/* ---- requests ----------------------------------------------------------- */

static void	worker_done_cb(struct evhttp_request *, void *);

static void
worker_send(struct worker *w, enum bench_step step, const char *sid,
    const char *fmt, ...)
{
	struct bench		*b = w->b;
	struct evhttp_request	*req;
	struct evkeyvalq	*hdr;
	va_list			 ap;

	w->step = step;
	req = evhttp_request_new(worker_done_cb, w);
	hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Host", b->host);
	evhttp_add_header(hdr, "Content-Type", "application/json");
	evhttp_add_header(hdr, "Accept", "application/json, text/event-stream");
	if (sid != NULL && sid[0] != '\0') {
		evhttp_add_header(hdr, "Mcp-Session-Id", sid);
		evhttp_add_header(hdr, "MCP-Protocol-Version", BENCH_PROTOCOL);
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(evhttp_request_get_output_buffer(req), fmt, ap);
	va_end(ap);
	w->sent = now_mono();
	if (evhttp_make_request(w->conn, req, EVHTTP_REQ_POST, b->path) == -1)
		die("cannot send a request");
}

static void
worker_initialize(struct worker *w)
{
	worker_send(w, STEP_INIT, NULL, "{\"jsonrpc\":\"2.0\",\"id\":0,"
	    "\"method\":\"initialize\",\"params\":{\"protocolVersion\":\""
	    BENCH_PROTOCOL "\",\"capabilities\":{},\"clientInfo\":"
	    "{\"name\":\"mcpbench\",\"version\":\"1\"}}}");
}

static void
worker_call(struct worker *w)
{
	worker_send(w, STEP_CALL, w->b->sid, "{\"jsonrpc\":\"2.0\",\"id\":%llu,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
	    "\"arguments\":{\"text\":\"" BENCH_TEXT "\"}}}",
	    (unsigned long long)(w->idx * 1000000000ULL + ++w->seq),
	    w->b->tool);
}

/* Does the answer's body, JSON or SSE, hold needle? */
static int
body_has(struct evhttp_request *req, const char *needle)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct evbuffer_ptr p;

	p = evbuffer_search(in, needle, strlen(needle), NULL);
	return p.pos != -1;
}

/*
 * A success counts as the first after the restart (and its time is kept)
 * once the new upstream has started: an answer of the killed one that was
 * still on its way cannot be mistaken for it.
 */
static int
bench_restarted(struct bench *b)
{
	double	 t_start, t = now_real();
	pid_t	 pid;

	if (starts_log_last(b->starts_log, &pid, &t_start) == -1 ||
	    pid == b->killed || t < t_start)
		return 0;
	b->t_first_ok = t;
	return 1;
}

static void
bench_record(struct bench *b, struct worker *w, int good)
{
	double	 t = now_mono();

	b->done++;
	if (b->mode == MODE_RECOVER && b->t_kill > 0) {
		if (!good)
			b->failed_after_kill++;
		else if (b->t_first_ok == 0 && bench_restarted(b))
			b->settle = t + 0.3;
	}
	if (good)
		b->ok++;
	else
		b->failed++;
	if (good && b->mode == MODE_LATENCY && b->done > b->warmup) {
		if (b->nlat == b->latcap) {
			b->latcap = b->latcap == 0 ? 4096 : b->latcap * 2;
			if ((b->lat = realloc(b->lat, b->latcap *
			    sizeof *b->lat)) == NULL)
				die("out of memory");
		}
		b->lat[b->nlat++] = (t - w->sent) * 1e6;
	}
}

static void
worker_done_cb(struct evhttp_request *req, void *arg)
{
	struct worker	*w = arg;
	struct bench	*b = w->b;
	const char	*sid;
	int		 code = req != NULL ? evhttp_request_get_response_code(req)
			    : 0;

	switch (w->step) {
	case STEP_POST:
		b->status = code;
		if (req != NULL && (sid = evhttp_find_header(
		    evhttp_request_get_input_headers(req), "Mcp-Session-Id")) !=
		    NULL)
			printf("session %s\n", sid);
		printf("status %d\n", code);
		fflush(stdout);
		if (req != NULL)
			evbuffer_write(evhttp_request_get_input_buffer(req),
			    STDOUT_FILENO);
		bench_stop(b);
		return;
	case STEP_INIT:
		sid = code == 200 ? evhttp_find_header(
		    evhttp_request_get_input_headers(req), "Mcp-Session-Id") :
		    NULL;
		if (sid == NULL || strlen(sid) >= sizeof w->sid ||
		    !body_has(req, "\"result\"")) {
			fprintf(stderr, "mcpbench: initialize failed: HTTP "
			    "%d\n", code);
			b->failed++;
			bench_stop(b);
			return;
		}
		snprintf(w->sid, sizeof w->sid, "%s", sid);
		worker_send(w, STEP_INITIALIZED, w->sid, "{\"jsonrpc\":\"2.0\","
		    "\"method\":\"notifications/initialized\"}");
		return;
	case STEP_INITIALIZED:
		if (code != 202 && code != 200) {
			fprintf(stderr, "mcpbench: notifications/initialized: "
			    "HTTP %d\n", code);
			b->failed++;
			bench_stop(b);
			return;
		}
		if (b->mode == MODE_SESSIONS) {
			b->done++;
			b->ok++;
			break;
		}
		/* bench_session(): the session the calls use. */
		snprintf(b->sidbuf, sizeof b->sidbuf, "%s", w->sid);
		b->sid = b->sidbuf;
		w->step = STEP_POST;
		bench_stop(b);
		return;
	case STEP_CALL:
		bench_record(b, w, code == 200 &&
		    body_has(req, "\"text\":\"" BENCH_TEXT "\""));
		break;
	}
	worker_next(w);
}

/* The worker's next request, or nothing when the run is over. */
static void
worker_next(struct worker *w)
{
	struct bench	*b = w->b;
	double		 t = now_mono();
	unsigned	 i;

	if (b->stopping)
		return;
	if ((b->deadline > 0 && t >= b->deadline) ||
	    (b->settle > 0 && t >= b->settle) ||
	    (b->mode != MODE_RECOVER && b->count > 0 &&
	    b->issued >= b->count + b->warmup)) {
		w->step = STEP_POST;		/* idle */
		for (i = 0; i < b->conns; i++)	/* all answered? */
			if (b->w[i].step != STEP_POST)
				return;
		bench_stop(b);
		return;
	}
	b->issued++;
	if (b->mode == MODE_SESSIONS)
		worker_initialize(w);
	else
		worker_call(w);
}

/* ---- recovery ----------------------------------------------------------- */

/* The pid and start time of the newest line of a --starts-log. */
static int
starts_log_last(const char *path, pid_t *pid, double *t)
{
	FILE	*f;
	char	 line[256];
	int	 p, found = 0;
	double	 when;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "{\"pid\":%d,\"time\":%lf}", &p, &when) == 2) {
			*pid = p;
			*t = when;
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

/*
 * When mcprelayd's handler for server first entered state after t: its log
 * line "YYYY-MM-DDTHH:MM:SS.mmm mcprelayd[pid] info: server NAME: X ->
 * STATE", local time to the millisecond.  -1 when there is none.
 */
static double
daemon_state_after(const char *path, const char *server, const char *state,
    double t)
{
	FILE		*f;
	char		 line[4096], needle[200], arrow[64];
	struct tm	 tm;
	char		*rest;
	int		 ms;
	double		 when;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	snprintf(needle, sizeof needle, "server %s: ", server);
	snprintf(arrow, sizeof arrow, " -> %s", state);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, needle) == NULL || strstr(line, arrow) == NULL)
			continue;
		memset(&tm, 0, sizeof tm);
		if ((rest = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
		    sscanf(rest, ".%3d", &ms) != 1)
			continue;
		tm.tm_isdst = -1;
		when = (double)mktime(&tm) + ms / 1000.0;
		if (when > t - 0.001) {
			fclose(f);
			return when;
		}
	}
	fclose(f);
	return -1;
}

static void
bench_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	double		 t;
	pid_t		 pid;

	if (starts_log_last(b->starts_log, &pid, &t) == -1)
		die("no start in %s", b->starts_log);
	b->killed = pid;
	b->t_kill = now_real();
	if (kill(pid, SIGKILL) == -1)
		die("kill %d: %s", (int)pid, strerror(errno));
}

static void
bench_recover_report(struct bench *b)
{
	double	 t_start = 0, t_ready, t_lost;
	pid_t	 pid = 0;

	if (b->t_kill == 0 || starts_log_last(b->starts_log, &pid, &t_start) ==
	    -1 || pid == b->killed) {
		printf("recover ok=%ld failed=%ld restarted=0\n", b->ok,
		    b->failed);
		return;
	}
	printf("recover ok=%ld failed=%ld failed_during_outage=%ld "
	    "restarted=1 kill_to_spawn_ms=%.3f", b->ok, b->failed,
	    b->failed_after_kill, (t_start - b->t_kill) * 1e3);
	if (b->t_first_ok > 0)
		printf(" spawn_to_first_ok_ms=%.3f kill_to_first_ok_ms=%.3f",
		    (b->t_first_ok - t_start) * 1e3,
		    (b->t_first_ok - b->t_kill) * 1e3);
	if (b->daemon_log != NULL && (t_lost = daemon_state_after(
	    b->daemon_log, b->server, "connecting", b->t_kill)) > 0)
		printf(" kill_to_reconnect_ms=%.1f", (t_lost - b->t_kill) * 1e3);
	if (b->daemon_log != NULL && (t_ready = daemon_state_after(
	    b->daemon_log, b->server, "ready", b->t_kill)) > 0) {
		printf(" spawn_to_ready_ms=%.1f", (t_ready - t_start) * 1e3);
		if (b->t_first_ok > 0)
			printf(" ready_to_first_ok_ms=%.1f",
			    (b->t_first_ok - t_ready) * 1e3);
	}
	printf("\n");
}

/* ---- main --------------------------------------------------------------- */

static void
bench_open(struct bench *b, const char *url)
{
	const char	*host;
	int		 port;
	unsigned	 i;

	if ((b->uri = evhttp_uri_parse(url)) == NULL ||
	    (host = evhttp_uri_get_host(b->uri)) == NULL)
		die("bad URL %s", url);
	if ((port = evhttp_uri_get_port(b->uri)) == -1)
		port = 80;
	b->path = evhttp_uri_get_path(b->uri);
	if (b->path == NULL || b->path[0] == '\0')
		b->path = "/";
	snprintf(b->host, sizeof b->host, "%s:%d", host, port);
	if ((b->base = event_base_new()) == NULL)
		die("no event base");
	for (i = 0; i < b->conns; i++) {
		b->w[i].b = b;
		b->w[i].idx = i + 1;
		b->w[i].step = STEP_POST;	/* idle */
		b->w[i].conn = evhttp_connection_base_new(b->base, NULL, host,
		    (ev_uint16_t)port);
		if (b->w[i].conn == NULL)
			die("cannot create a connection");
		evhttp_connection_set_timeout(b->w[i].conn, BENCH_TIMEOUT);
	}
}

static void
bench_close(struct bench *b)
{
	unsigned	 i;

	for (i = 0; i < b->conns; i++)
		evhttp_connection_free(b->w[i].conn);
	if (b->kill_timer != NULL)
		event_free(b->kill_timer);
	event_base_free(b->base);
	evhttp_uri_free(b->uri);
	free(b->lat);
}

/* Sets up the calls' session with worker 0, unless -s gave one. */
static int
bench_session(struct bench *b)
{
	if (b->sid != NULL)
		return 0;
	worker_initialize(&b->w[0]);
	event_base_dispatch(b->base);
	b->stopping = 0;
	b->w[0].step = STEP_POST;
	return b->sid != NULL ? 0 : -1;
}

static void
bench_latency_report(struct bench *b)
{
	double	 sum = 0;
	size_t	 i;

	qsort(b->lat, b->nlat, sizeof *b->lat, cmp_double);
	for (i = 0; i < b->nlat; i++)
		sum += b->lat[i];
	printf("latency ok=%ld failed=%ld n=%zu p50_us=%.1f p90_us=%.1f "
	    "p99_us=%.1f max_us=%.1f mean_us=%.1f\n", b->ok, b->failed,
	    b->nlat, percentile(b->lat, b->nlat, 50),
	    percentile(b->lat, b->nlat, 90), percentile(b->lat, b->nlat, 99),
	    b->nlat > 0 ? b->lat[b->nlat - 1] : NAN,
	    b->nlat > 0 ? sum / b->nlat : NAN);
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char	*name;
		enum bench_mode	 mode;
	} modes[] = {
		{ "post", MODE_POST }, { "session", MODE_SESSION },
		{ "latency", MODE_LATENCY }, { "sessions", MODE_SESSIONS },
		{ "recover", MODE_RECOVER },
	};
	struct bench	*b;
	struct timeval	 tv = { 0, 500000 };
	double		 t0;
	size_t		 i;
	int		 c, rc = 0;

	if (argc >= 2 && strcmp(argv[1], "port") == 0)
		return bench_free_port();
	if (argc < 3)
		usage();
	if ((b = calloc(1, sizeof *b)) == NULL)
		die("out of memory");
	b->conns = 1;
	b->tool = "echo";
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			break;
	if (i == sizeof modes / sizeof modes[0])
		usage();
	b->mode = modes[i].mode;
	if (b->mode == MODE_POST) {
		if (argc < 4)
			usage();
		b->body = argv[3];
		optind = 4;
	} else
		optind = 3;
	while ((c = getopt(argc, argv, "c:d:n:w:s:t:S:L:N:")) != -1) {
		switch (c) {
		case 'c':
			b->conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			b->deadline = strtod(optarg, NULL);
			break;
		case 'n':
			b->count = strtol(optarg, NULL, 10);
			break;
		case 'w':
			b->warmup = strtol(optarg, NULL, 10);
			break;
		case 's':
			b->sid = optarg;
			break;
		case 't':
			b->tool = optarg;
			break;
		case 'S':
			b->starts_log = optarg;
			break;
		case 'L':
			b->daemon_log = optarg;
			break;
		case 'N':
			b->server = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || b->conns < 1 || b->conns > BENCH_MAXCONN ||
	    (b->mode == MODE_RECOVER && b->starts_log == NULL) ||
	    (b->daemon_log != NULL && b->server == NULL))
		usage();
	signal(SIGPIPE, SIG_IGN);
	bench_open(b, argv[2]);
	t0 = now_mono();
	if (b->deadline > 0)
		b->deadline += t0;

	switch (b->mode) {
	case MODE_POST:
		b->w[0].step = STEP_POST;
		worker_send(&b->w[0], STEP_POST, b->sid, "%s", b->body);
		b->w[0].step = STEP_POST;
		event_base_dispatch(b->base);
		rc = b->status == 0;
		break;
	case MODE_SESSION:
		b->sid = NULL;
		if (bench_session(b) == -1)
			rc = 1;
		else
			printf("%s\n", b->sid);
		break;
	case MODE_SESSIONS:
		if (b->count < 1)
			usage();
		for (i = 0; i < b->conns; i++)
			worker_next(&b->w[i]);
		event_base_dispatch(b->base);
		printf("sessions ok=%ld failed=%ld seconds=%.3f\n", b->ok,
		    b->failed, now_mono() - t0);
		rc = b->ok != b->count;
		break;
	case MODE_LATENCY:
	case MODE_RECOVER:
		if (bench_session(b) == -1) {
			rc = 1;
			break;
		}
		if (b->mode == MODE_LATENCY) {
			if (b->count < 1 && b->deadline == 0)
				b->count = 1000;
		} else {
			b->deadline = now_mono() + 15;	/* bounded */
			b->kill_timer = evtimer_new(b->base, bench_kill_cb, b);
			evtimer_add(b->kill_timer, &tv);
		}
		for (i = 0; i < b->conns; i++)
			worker_next(&b->w[i]);
		event_base_dispatch(b->base);
		if (b->mode == MODE_LATENCY) {
			bench_latency_report(b);
			rc = b->failed != 0;
		} else {
			bench_recover_report(b);
			rc = b->t_first_ok == 0;
		}
		break;
	}
	bench_close(b);
	free(b);
	return rc;
}
