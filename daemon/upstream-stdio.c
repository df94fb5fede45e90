/*
 * The stdio transport: fork/exec of an MCP server with pipes on its stdio,
 * newline framing on stdout, stderr to the log, and the MCP stdio shutdown
 * (close stdin, SIGTERM, SIGKILL).  Child exits come from the child reaper.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "child.h"
#include "log.h"
#include "upstream-stdio.h"
#include "upstream.h"
#include "xmalloc.h"

enum upstream_stdio_state {
	STDIO_IDLE,		/* created, not started */
	STDIO_SPAWNING,		/* forked; waiting for the exec result */
	STDIO_RUNNING,		/* exec'd, ready reported */
	STDIO_STOPPING,		/* stdin closed; shutdown_timeout to exit */
	STDIO_TERMINATING,	/* SIGTERM sent; shutdown_timeout to exit */
	STDIO_REAPING,		/* SIGKILL sent, or exiting by itself after
				   a failed exec: waiting to be reaped */
	STDIO_CLOSED,		/* reaped or never forked; closed reported
				   or about to be */
};

static const char *const upstream_stdio_state_names[] = {
	[STDIO_IDLE] = "idle",
	[STDIO_SPAWNING] = "spawning",
	[STDIO_RUNNING] = "running",
	[STDIO_STOPPING] = "stopping",
	[STDIO_TERMINATING] = "terminating",
	[STDIO_REAPING] = "reaping",
	[STDIO_CLOSED] = "closed",
};

/* What the child writes on the exec pipe when it cannot exec. */
enum upstream_stdio_stage {
	STDIO_STAGE_SETUP,
	STDIO_STAGE_CHDIR,
	STDIO_STAGE_EXEC,
};

struct upstream_stdio_exec_error {
	int	stage;
	int	err;
};

/*
 * Why the transport is closing.  The first firm failure wins.  A tentative
 * one (the child closed a pipe) gives way to the exit status if the child
 * exits within the grace period, and turns firm when it has to be
 * signalled.
 */
struct upstream_stdio_failure {
	int				set;
	int				firm;
	enum upstream_close_reason	reason;
	int				err;
	char				detail[256];
};

struct upstream_stdio {
	struct upstream		 up;	/* first: struct upstream * casts */
	struct event_base	*base;
	struct child_reaper	*reaper;

	char			*command;
	char			**argv;
	char			**envp;
	char			*cwd;
	size_t			 max_message;
	struct timeval		 shutdown_tv;

	enum upstream_stdio_state state;
	pid_t			 pid;	/* -1 before fork and once reaped */
	pid_t			 pgid;
	int			 execd;	/* exec succeeded: stdout is read */
	struct upstream_stdio_failure failure;

	struct bufferevent	*bev_in;	/* the child's stdin */
	struct bufferevent	*bev_out;	/* the child's stdout */
	struct bufferevent	*bev_err;	/* the child's stderr */
	int			 exec_fd;	/* exec result, read side */
	struct event		*ev_exec;
	struct event		*ev_timer;	/* shutdown escalation */
	struct event		*ev_report;	/* closed when fork failed */
	struct evbuffer		*pending;	/* lines of this loop turn */
	struct event		*ev_flush;	/* writes them, at its end */

	char			*line;		/* stdout line to deliver */
	size_t			 linesz;
	size_t			 scanned;	/* stdout bytes known to
						   hold no LF */
	int			 err_skipping;	/* rest of a long stderr line */

	int			 depth;	/* our libevent callbacks running */
	int			 dead;	/* freed by the owner during one */
};

static void	upstream_stdio_exec_cb(evutil_socket_t, short, void *);
static void	upstream_stdio_flush(struct upstream_stdio *);
static void	upstream_stdio_timer_cb(evutil_socket_t, short, void *);
static void	upstream_stdio_report_cb(evutil_socket_t, short, void *);
static void	upstream_stdio_out_read_cb(struct bufferevent *, void *);
static void	upstream_stdio_out_event_cb(struct bufferevent *, short,
		    void *);
static void	upstream_stdio_err_read_cb(struct bufferevent *, void *);
static void	upstream_stdio_err_event_cb(struct bufferevent *, short,
		    void *);
static void	upstream_stdio_in_write_cb(struct bufferevent *, void *);
static void	upstream_stdio_in_event_cb(struct bufferevent *, short,
		    void *);
static void	upstream_stdio_exited_cb(void *, pid_t, int);

static struct upstream_stdio *
upstream_stdio_of(struct upstream *up)
{
	return (struct upstream_stdio *)up;
}

static const char *
upstream_stdio_state_name(enum upstream_stdio_state state)
{
	return upstream_stdio_state_names[state];
}

/*
 * Owner callbacks may free the transport.  Each of our libevent callbacks
 * holds it while it runs; upstream_free() from inside only tears down and
 * marks it dead, and the outermost release frees the memory.  After every
 * owner callback the caller checks u->dead and stops.
 */
static void
upstream_stdio_hold(struct upstream_stdio *u)
{
	u->depth++;
}

static void	upstream_stdio_destroy(struct upstream_stdio *);

static void
upstream_stdio_release(struct upstream_stdio *u)
{
	if (--u->depth == 0 && u->dead)
		upstream_stdio_destroy(u);
}

static void
upstream_stdio_set_state(struct upstream_stdio *u,
    enum upstream_stdio_state state)
{
	if (u->state == state)
		return;
	log_debug("server %s: %s -> %s", u->up.name,
	    upstream_stdio_state_name(u->state),
	    upstream_stdio_state_name(state));
	u->state = state;

	/* The escalation timer belongs to the two waiting states. */
	if (state == STDIO_STOPPING || state == STDIO_TERMINATING)
		evtimer_add(u->ev_timer, &u->shutdown_tv);
	else
		evtimer_del(u->ev_timer);
}

static void
upstream_stdio_fail(struct upstream_stdio *u, int firm,
    enum upstream_close_reason reason, int err, const char *fmt, ...)
{
	struct upstream_stdio_failure	*f = &u->failure;
	va_list				 ap;

	if (f->set && (f->firm || !firm))
		return;
	f->set = 1;
	f->firm = firm;
	f->reason = reason;
	f->err = err;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof f->detail, fmt, ap);
	va_end(ap);
}

/* Only while the leader is unreaped can its pid not name another group. */
static void
upstream_stdio_signal(struct upstream_stdio *u, int sig)
{
	if (u->pid == -1)
		return;
	log_debug("server %s: signal %d to process group %ld", u->up.name,
	    sig, (long)u->pgid);
	if (kill(-u->pgid, sig) == -1 && errno != ESRCH)
		log_warn("server %s: kill", u->up.name);
}

static void
upstream_stdio_close_stdin(struct upstream_stdio *u)
{
	evbuffer_drain(u->pending, evbuffer_get_length(u->pending));
	event_del(u->ev_flush);
	if (u->bev_in != NULL) {
		bufferevent_free(u->bev_in);
		u->bev_in = NULL;
	}
}

static void
upstream_stdio_close_stdout(struct upstream_stdio *u)
{
	if (u->bev_out != NULL) {
		bufferevent_free(u->bev_out);
		u->bev_out = NULL;
	}
}

static void
upstream_stdio_close_exec(struct upstream_stdio *u)
{
	if (u->ev_exec != NULL) {
		event_free(u->ev_exec);
		u->ev_exec = NULL;
	}
	if (u->exec_fd != -1) {
		close(u->exec_fd);
		u->exec_fd = -1;
	}
}

/* Releases every descriptor; the timers stay allocated but idle. */
static void
upstream_stdio_teardown(struct upstream_stdio *u)
{
	upstream_stdio_close_stdin(u);
	upstream_stdio_close_stdout(u);
	if (u->bev_err != NULL) {
		bufferevent_free(u->bev_err);
		u->bev_err = NULL;
	}
	upstream_stdio_close_exec(u);
	evtimer_del(u->ev_timer);
}

/*
 * Start the MCP stdio shutdown: close stdin once what is queued has been
 * written (upstream_stdio_in_write_cb), and give the child shutdown_timeout
 * to exit.
 */
static void
upstream_stdio_begin_stop(struct upstream_stdio *u)
{
	upstream_stdio_flush(u);
	if (u->bev_in != NULL &&
	    evbuffer_get_length(bufferevent_get_output(u->bev_in)) == 0)
		upstream_stdio_close_stdin(u);
	upstream_stdio_set_state(u, STDIO_STOPPING);
}

/* The child closed a pipe: probably on its way out. */
static void
upstream_stdio_lost(struct upstream_stdio *u, int err, const char *what)
{
	if (err != 0)
		upstream_stdio_fail(u, 0, UPSTREAM_CLOSE_IO_ERROR, err,
		    "%s: %s", what, strerror(err));
	else
		upstream_stdio_fail(u, 0, UPSTREAM_CLOSE_IO_ERROR, 0, "%s",
		    what);
	if (u->state == STDIO_RUNNING || u->state == STDIO_SPAWNING)
		upstream_stdio_begin_stop(u);
}

/* The child broke the protocol: no grace. */
static void
upstream_stdio_abort(struct upstream_stdio *u,
    enum upstream_close_reason reason, int err, const char *detail)
{
	upstream_stdio_fail(u, 1, reason, err, "%s", detail);
	upstream_stdio_close_stdout(u);
	upstream_stdio_close_stdin(u);
	if (u->pid == -1)
		return;		/* reaped already: the report follows */
	upstream_stdio_signal(u, SIGKILL);
	upstream_stdio_set_state(u, STDIO_REAPING);
}

/*
 * Deliver the complete lines in in, stdout's data; at_eof also delivers a
 * last line without its newline.  0 while the transport is still usable
 * by us, -1 when the owner freed it or stdout was dropped.
 */
static int
upstream_stdio_deliver_lines(struct upstream_stdio *u, struct evbuffer *in,
    int at_eof)
{
	struct evbuffer_ptr	 eol, start;
	size_t			 eol_len, len;
	char			 detail[96];

	snprintf(detail, sizeof detail, "message on stdout longer than %zu "
	    "bytes", u->max_message);
	while (!u->dead && u->bev_out != NULL) {
		/*
		 * Search only what arrived since the last look: a long line
		 * in many small reads must cost linear time, not quadratic.
		 */
		if (evbuffer_ptr_set(in, &start, u->scanned,
		    EVBUFFER_PTR_SET) == -1) {
			u->scanned = 0;
			evbuffer_ptr_set(in, &start, 0, EVBUFFER_PTR_SET);
		}
		eol = evbuffer_search_eol(in, &start, &eol_len,
		    EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			len = evbuffer_get_length(in);
			u->scanned = len;
			/* A CR may be waiting for its LF, hence + 1. */
			if (len > u->max_message + 1) {
				upstream_stdio_abort(u,
				    UPSTREAM_CLOSE_PROTOCOL, EMSGSIZE, detail);
				return -1;
			}
			if (!at_eof || len == 0)
				return 0;
			eol_len = 0;
		} else
			len = eol.pos;
		if (len > u->max_message + 1) {
			upstream_stdio_abort(u, UPSTREAM_CLOSE_PROTOCOL,
			    EMSGSIZE, detail);
			return -1;
		}
		if (u->linesz < len + 1) {
			u->linesz = len + 1;
			u->line = xrealloc(u->line, u->linesz);
		}
		evbuffer_remove(in, u->line, len);
		evbuffer_drain(in, eol_len);
		u->scanned = 0;
		if (len > 0 && u->line[len - 1] == '\r')
			len--;
		if (len > u->max_message) {
			upstream_stdio_abort(u, UPSTREAM_CLOSE_PROTOCOL,
			    EMSGSIZE, detail);
			return -1;
		}
		if (len == 0)
			continue;
		u->line[len] = '\0';
		upstream_emit_message(&u->up, u->line, len);
	}
	return -1;
}

/*
 * Log the complete stderr lines; final also logs a last partial one.  Long
 * lines are cut, and control characters replaced so a server cannot play
 * tricks on whoever reads the log.
 */
static void
upstream_stdio_log_stderr(struct upstream_stdio *u, struct evbuffer *in,
    int final)
{
	struct evbuffer_ptr	 eol;
	size_t			 eol_len, len, take, i;
	char			 line[UPSTREAM_STDIO_STDERR_LINE_MAX + 1];
	int			 cut;

	for (;;) {
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			len = evbuffer_get_length(in);
			if (len == 0 ||
			    (!final && len < UPSTREAM_STDIO_STDERR_LINE_MAX))
				return;
			eol_len = 0;
		} else
			len = eol.pos;

		take = len < UPSTREAM_STDIO_STDERR_LINE_MAX ? len :
		    UPSTREAM_STDIO_STDERR_LINE_MAX;
		cut = take < len || (eol_len == 0 && !final);
		evbuffer_remove(in, line, take);
		evbuffer_drain(in, len - take + eol_len);
		if (take > 0 && line[take - 1] == '\r')
			take--;
		line[take] = '\0';
		for (i = 0; i < take; i++) {
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
				line[i] = '?';
			else if (line[i] == 0x7f)
				line[i] = '?';
		}
		if (!u->err_skipping && take > 0)
			log_info("server %s: %s%s", u->up.name, line,
			    cut ? " [...]" : "");
		/* The rest of a cut line is dropped up to its newline. */
		u->err_skipping = eol_len == 0 && !final;
	}
}

/*
 * The child is dead, so its output is all in the pipe: read what is there,
 * at most a pipe's capacity, as anything more comes from stragglers.  The
 * result is a new buffer: a bufferevent's input takes no outside reads.
 */
static struct evbuffer *
upstream_stdio_drain(struct bufferevent *bev)
{
	struct evbuffer	*buf;
	evutil_socket_t	 fd = bufferevent_getfd(bev);
	int		 left, n;

	if ((buf = evbuffer_new()) == NULL ||
	    evbuffer_add_buffer(buf, bufferevent_get_input(bev)) == -1)
		fatalx("%s: evbuffer", __func__);
	if ((left = fcntl(fd, F_GETPIPE_SZ)) <= 0)
		left = 1024 * 1024;
	while (left > 0) {
		n = evbuffer_read(buf, fd, left);
		if (n <= 0)
			break;
		left -= n;
	}
	return buf;
}

/* Read the exec result; the child has exec'd, failed, or is not there yet. */
static int
upstream_stdio_exec_result(struct upstream_stdio *u)
{
	struct upstream_stdio_exec_error	 ee;
	ssize_t					 n;

	do {
		n = read(u->exec_fd, &ee, sizeof ee);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return 0;
	upstream_stdio_close_exec(u);

	if (n != 0) {
		if (n != (ssize_t)sizeof ee) {
			ee.stage = STDIO_STAGE_SETUP;
			ee.err = n == -1 ? errno : EIO;
		}
		switch (ee.stage) {
		case STDIO_STAGE_CHDIR:
			upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_SPAWN_FAILED,
			    ee.err, "cannot change directory to %s: %s",
			    u->cwd, strerror(ee.err));
			break;
		case STDIO_STAGE_EXEC:
			upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_SPAWN_FAILED,
			    ee.err, "cannot execute %s: %s", u->command,
			    strerror(ee.err));
			break;
		default:
			upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_SPAWN_FAILED,
			    ee.err, "cannot set up the child: %s",
			    strerror(ee.err));
			break;
		}
		/* It exits by itself (127); nothing to wait for but that. */
		upstream_stdio_close_stdin(u);
		if (u->state == STDIO_SPAWNING || u->state == STDIO_STOPPING ||
		    u->state == STDIO_TERMINATING)
			upstream_stdio_set_state(u, STDIO_REAPING);
		return 0;
	}

	/* EOF: exec closed the pipe, the server is running. */
	u->execd = 1;
	if (u->bev_out != NULL)
		bufferevent_enable(u->bev_out, EV_READ);
	if (u->bev_err != NULL)
		bufferevent_enable(u->bev_err, EV_READ);
	if (u->state != STDIO_SPAWNING)
		return 0;	/* closing began meanwhile: no ready */
	upstream_stdio_set_state(u, STDIO_RUNNING);
	upstream_emit_ready(&u->up);
	return u->dead ? -1 : 0;
}

static void
upstream_stdio_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

/* The child is reaped: report, once, and hold no descriptor any more. */
static void
upstream_stdio_finish(struct upstream_stdio *u, int status)
{
	struct upstream_stdio_failure	*f = &u->failure;
	enum upstream_close_reason	 reason;
	char				 detail[sizeof f->detail];
	int				 err;

	upstream_stdio_teardown(u);
	upstream_stdio_set_state(u, STDIO_CLOSED);
	if (f->set && f->firm) {
		reason = f->reason;
		err = f->err;
		if (reason == UPSTREAM_CLOSE_REQUESTED)
			upstream_stdio_describe_status(status, detail,
			    sizeof detail);
		else
			snprintf(detail, sizeof detail, "%s", f->detail);
	} else {
		reason = UPSTREAM_CLOSE_EXITED;
		err = status;
		upstream_stdio_describe_status(status, detail, sizeof detail);
	}
	log_debug("server %s: closed (%s): %s", u->up.name,
	    upstream_close_reason_name(reason), detail);
	upstream_emit_closed(&u->up, reason, err, detail);
}

static void
upstream_stdio_exited(struct upstream_stdio *u, int status)
{
	struct evbuffer	*rest;

	u->pid = -1;
	/* Helpers it left in its group would outlive every restart. */
	if (kill(-u->pgid, SIGKILL) == 0)
		log_debug("server %s: killed what was left of process group "
		    "%ld", u->up.name, (long)u->pgid);

	if (u->exec_fd != -1 && upstream_stdio_exec_result(u) == -1)
		return;
	if (u->execd && u->bev_err != NULL) {
		rest = upstream_stdio_drain(u->bev_err);
		upstream_stdio_log_stderr(u, rest, 1);
		evbuffer_free(rest);
	}
	if (u->execd && u->bev_out != NULL) {
		rest = upstream_stdio_drain(u->bev_out);
		upstream_stdio_deliver_lines(u, rest, 1);
		evbuffer_free(rest);
		if (u->dead)
			return;
	}
	upstream_stdio_finish(u, status);
}

static void
upstream_stdio_exited_cb(void *arg, pid_t pid, int status)
{
	struct upstream_stdio	*u = arg;

	upstream_stdio_hold(u);
	upstream_stdio_exited(u, status);
	upstream_stdio_release(u);
}

static void
upstream_stdio_exec_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upstream_stdio	*u = arg;

	upstream_stdio_hold(u);
	upstream_stdio_exec_result(u);
	upstream_stdio_release(u);
}

static void
upstream_stdio_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upstream_stdio	*u = arg;

	switch (u->state) {
	case STDIO_STOPPING:
		/* Still running after its pipe closed: that is the failure. */
		u->failure.firm = 1;
		upstream_stdio_signal(u, SIGTERM);
		upstream_stdio_set_state(u, STDIO_TERMINATING);
		break;
	case STDIO_TERMINATING:
		upstream_stdio_signal(u, SIGKILL);
		upstream_stdio_set_state(u, STDIO_REAPING);
		break;
	default:
		break;
	}
}

static void
upstream_stdio_report_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upstream_stdio		*u = arg;
	struct upstream_stdio_failure	*f = &u->failure;

	upstream_stdio_hold(u);
	upstream_emit_closed(&u->up, f->reason, f->err, f->detail);
	upstream_stdio_release(u);
}

static void
upstream_stdio_out_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_stdio	*u = arg;

	upstream_stdio_hold(u);
	upstream_stdio_deliver_lines(u, bufferevent_get_input(bev), 0);
	upstream_stdio_release(u);
}

static void
upstream_stdio_out_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_stdio	*u = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	upstream_stdio_hold(u);
	if (upstream_stdio_deliver_lines(u, bufferevent_get_input(bev),
	    1) == 0) {
		upstream_stdio_close_stdout(u);
		if (what & BEV_EVENT_ERROR)
			upstream_stdio_lost(u, err, "read from stdout");
		else
			upstream_stdio_lost(u, 0, "stdout closed while the "
			    "process kept running");
	}
	upstream_stdio_release(u);
}

static void
upstream_stdio_err_read_cb(struct bufferevent *bev, void *arg)
{
	upstream_stdio_log_stderr(arg, bufferevent_get_input(bev), 0);
}

/* stderr going away is no failure; stdout decides. */
static void
upstream_stdio_err_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_stdio	*u = arg;

	upstream_stdio_log_stderr(u, bufferevent_get_input(bev), 1);
	bufferevent_free(u->bev_err);
	u->bev_err = NULL;
}

/* Output drained: if a shutdown is waiting for that, close stdin now. */
static void
upstream_stdio_in_write_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_stdio	*u = arg;

	if (u->state != STDIO_RUNNING && u->state != STDIO_SPAWNING)
		upstream_stdio_close_stdin(u);
}

static void
upstream_stdio_in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_stdio	*u = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	upstream_stdio_close_stdin(u);
	upstream_stdio_lost(u, err != 0 ? err : EPIPE, "write to stdin");
}

/*
 * pipe2() with both ends above stderr: the child's dup2() onto 0-2 then
 * never overwrites a pipe end still to be moved, even when the daemon runs
 * with its own stdio closed.
 */
static int
upstream_stdio_pipe(int fds[2])
{
	int	i, fd;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fds[i] > STDERR_FILENO)
			continue;
		if ((fd = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) ==
		    -1) {
			close(fds[0]);
			close(fds[1]);
			return -1;
		}
		close(fds[i]);
		fds[i] = fd;
	}
	return 0;
}

static void
upstream_stdio_close_pair(int fds[2])
{
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

static void __attribute__((noreturn))
upstream_stdio_child_fail(int fd, int stage)
{
	struct upstream_stdio_exec_error	ee;
	ssize_t					n;

	ee.stage = stage;
	ee.err = errno;
	n = write(fd, &ee, sizeof ee);
	(void)n;
	_exit(127);
}

static void
upstream_stdio_child_close_from(int lowfd, long maxfd)
{
	int	fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (fd = lowfd; fd < maxfd; fd++)
		close(fd);
}

/*
 * In the child between fork and exec: async-signal-safe calls only (the
 * parent may be any state).  Any failure goes to the parent through the
 * close-on-exec pipe.
 */
static void __attribute__((noreturn))
upstream_stdio_child(const struct upstream_stdio *u, pid_t parent,
    int in_fd, int out_fd, int err_fd, int exec_fd, long maxfd)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		upstream_stdio_child_fail(exec_fd, STDIO_STAGE_SETUP);
	/* The parent died before prctl(): nobody would read us. */
	if (getppid() != parent)
		_exit(127);

	/* Handlers and ignores are the daemon's, not the server's.  The
	 * signals that cannot be changed fail harmlessly. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	/* glibc refuses its reserved signals (32, 33), yet an ignore on
	 * them is inherited across exec: reset them with the raw call. */
	for (sig = 32; sig < SIGRTMIN; sig++) {
		struct {
			void		*handler;
			unsigned long	 flags;
			void		*restorer;
			unsigned long	 mask;
		} ksa = { SIG_DFL, 0, NULL, 0 };

		syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (dup2(in_fd, STDIN_FILENO) == -1 ||
	    dup2(out_fd, STDOUT_FILENO) == -1 ||
	    dup2(err_fd, STDERR_FILENO) == -1)
		upstream_stdio_child_fail(exec_fd, STDIO_STAGE_SETUP);
	if (exec_fd != STDERR_FILENO + 1) {
		if (dup3(exec_fd, STDERR_FILENO + 1, O_CLOEXEC) == -1)
			upstream_stdio_child_fail(exec_fd, STDIO_STAGE_SETUP);
		exec_fd = STDERR_FILENO + 1;
	}
	upstream_stdio_child_close_from(exec_fd + 1, maxfd);

	if (u->cwd != NULL && chdir(u->cwd) == -1)
		upstream_stdio_child_fail(exec_fd, STDIO_STAGE_CHDIR);
	/* execvp() searches the PATH in environ: make it the child's. */
	environ = u->envp;
	execvp(u->command, u->argv);
	upstream_stdio_child_fail(exec_fd, STDIO_STAGE_EXEC);
}

static struct bufferevent *
upstream_stdio_bev(struct upstream_stdio *u, int fd, bufferevent_data_cb rd,
    bufferevent_data_cb wr, bufferevent_event_cb ev)
{
	struct bufferevent	*bev;

	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(u->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(bev, rd, wr, ev, u);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	return bev;
}

/* Fork and exec; -1 with errno and the failure recorded if no child. */
static int
upstream_stdio_spawn(struct upstream_stdio *u)
{
	int		 in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int		 err[2] = { -1, -1 }, ex[2] = { -1, -1 };
	pid_t		 pid, parent = getpid();
	sigset_t	 all, old;
	long		 maxfd;
	int		 saved;

	if ((maxfd = sysconf(_SC_OPEN_MAX)) <= 0 || maxfd > 65536)
		maxfd = 65536;	/* only without close_range() */
	if (upstream_stdio_pipe(in) == -1 || upstream_stdio_pipe(out) == -1 ||
	    upstream_stdio_pipe(err) == -1 || upstream_stdio_pipe(ex) == -1) {
		saved = errno;
		upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_SPAWN_FAILED, saved,
		    "pipe: %s", strerror(saved));
		goto fail;
	}

	/* No daemon signal handler may run in the child before exec. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		upstream_stdio_child(u, parent, in[0], out[1], err[1], ex[1],
		    maxfd);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_SPAWN_FAILED, saved,
		    "fork: %s", strerror(saved));
		goto fail;
	}

	/* Both sides set the group, so kill(-pid) works from here on. */
	setpgid(pid, pid);
	u->pid = u->pgid = pid;
	if (child_reaper_watch(u->reaper, pid, upstream_stdio_exited_cb,
	    u) == -1)
		fatal("child_reaper_watch %ld", (long)pid);
	log_debug("server %s: started %s as pid %ld", u->up.name,
	    u->command, (long)pid);

	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(ex[1]);
	u->bev_in = upstream_stdio_bev(u, in[1], NULL,
	    upstream_stdio_in_write_cb, upstream_stdio_in_event_cb);
	bufferevent_enable(u->bev_in, EV_WRITE);
	u->bev_out = upstream_stdio_bev(u, out[0], upstream_stdio_out_read_cb,
	    NULL, upstream_stdio_out_event_cb);
	/* Reading stops there, so a runaway line costs bounded memory. */
	bufferevent_setwatermark(u->bev_out, EV_READ, 0, u->max_message + 2);
	u->bev_err = upstream_stdio_bev(u, err[0], upstream_stdio_err_read_cb,
	    NULL, upstream_stdio_err_event_cb);

	evutil_make_socket_nonblocking(ex[0]);
	u->exec_fd = ex[0];
	u->ev_exec = event_new(u->base, ex[0], EV_READ | EV_PERSIST,
	    upstream_stdio_exec_cb, u);
	if (u->ev_exec == NULL || event_add(u->ev_exec, NULL) == -1)
		fatalx("event_add exec pipe");
	return 0;

fail:
	upstream_stdio_close_pair(in);
	upstream_stdio_close_pair(out);
	upstream_stdio_close_pair(err);
	upstream_stdio_close_pair(ex);
	errno = saved;
	return -1;
}

static int
upstream_stdio_start(struct upstream *up)
{
	struct upstream_stdio	*u = upstream_stdio_of(up);

	if (u->state != STDIO_IDLE) {
		errno = EALREADY;
		return -1;
	}
	if (upstream_stdio_spawn(u) == -1) {
		/* Reported from the loop, like every other start failure. */
		upstream_stdio_set_state(u, STDIO_CLOSED);
		event_active(u->ev_report, EV_TIMEOUT, 1);
		return 0;
	}
	upstream_stdio_set_state(u, STDIO_SPAWNING);
	return 0;
}

static int
upstream_stdio_send(struct upstream *up, const char *json, size_t len)
{
	struct upstream_stdio	*u = upstream_stdio_of(up);
	struct evbuffer		*to;

	if (u->state != STDIO_RUNNING || u->pid == -1 || u->bev_in == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if (memchr(json, '\n', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * Lines wait in pending for the end of this turn of the loop, then go
	 * in one writev(): the server wakes once for the requests of a turn,
	 * and no line waits for the bufferevent's write event, whose turning
	 * on and off would cost two epoll_ctl() a line.  Behind a backlog the
	 * bufferevent keeps the order.
	 */
	to = bufferevent_get_output(u->bev_in);
	if (evbuffer_get_length(to) == 0) {
		to = u->pending;
		event_active(u->ev_flush, EV_WRITE, 1);
	}
	if (evbuffer_add(to, json, len) == -1 || evbuffer_add(to, "\n", 1) ==
	    -1)
		fatalx("evbuffer_add");
	return 0;
}

/*
 * What the pipe does not take, and a failure, are left to the bufferevent,
 * which writes when it can and reports failures.
 */
static void
upstream_stdio_flush(struct upstream_stdio *u)
{
	struct evbuffer	*out;

	if (evbuffer_get_length(u->pending) == 0)
		return;
	if (u->bev_in == NULL) {
		evbuffer_drain(u->pending, evbuffer_get_length(u->pending));
		return;
	}
	out = bufferevent_get_output(u->bev_in);
	if (evbuffer_get_length(out) == 0)
		(void)evbuffer_write(u->pending, bufferevent_getfd(u->bev_in));
	if (evbuffer_get_length(u->pending) > 0)
		evbuffer_add_buffer(out, u->pending);
}

static void
upstream_stdio_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_stdio_flush(arg);
}

static void
upstream_stdio_close(struct upstream *up)
{
	struct upstream_stdio	*u = upstream_stdio_of(up);

	switch (u->state) {
	case STDIO_IDLE:
	case STDIO_CLOSED:
		return;
	case STDIO_SPAWNING:
	case STDIO_RUNNING:
		upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_REQUESTED, 0, "%s",
		    "closed on request");
		if (u->pid != -1)
			upstream_stdio_begin_stop(u);
		return;
	default:
		/* Already on the way out; the owner asked for it, though. */
		upstream_stdio_fail(u, 1, UPSTREAM_CLOSE_REQUESTED, 0, "%s",
		    "closed on request");
		return;
	}
}

static void
upstream_stdio_destroy(struct upstream_stdio *u)
{
	char	**p;

	for (p = u->argv; *p != NULL; p++)
		free(*p);
	free(u->argv);
	for (p = u->envp; *p != NULL; p++)
		free(*p);
	free(u->envp);
	free(u->command);
	free(u->cwd);
	free(u->line);
	upstream_fini(&u->up);
	free(u);
}

static void
upstream_stdio_free(struct upstream *up)
{
	struct upstream_stdio	*u = upstream_stdio_of(up);

	if (u->pid != -1) {
		/* The reaper still reaps it, unwatched. */
		upstream_stdio_signal(u, SIGKILL);
		child_reaper_unwatch(u->reaper, u->pid);
		u->pid = -1;
	}
	upstream_stdio_teardown(u);
	upstream_stdio_set_state(u, STDIO_CLOSED);
	event_free(u->ev_timer);
	u->ev_timer = NULL;
	event_free(u->ev_report);
	u->ev_report = NULL;
	event_free(u->ev_flush);
	u->ev_flush = NULL;
	evbuffer_free(u->pending);
	u->pending = NULL;
	if (u->depth > 0)
		u->dead = 1;
	else
		upstream_stdio_destroy(u);
}

static pid_t
upstream_stdio_pid(const struct upstream *up)
{
	return ((const struct upstream_stdio *)up)->pid;
}

static const struct upstream_ops upstream_stdio_ops = {
	.kind = "stdio",
	.start = upstream_stdio_start,
	.send = upstream_stdio_send,
	.close = upstream_stdio_close,
	.free = upstream_stdio_free,
	.pid = upstream_stdio_pid,
};

static int
upstream_stdio_env_has(char *const *env, const char *name)
{
	size_t	len = strlen(name);

	for (; env != NULL && *env != NULL; env++) {
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return 1;
	}
	return 0;
}

/* The configured env, plus PATH and HOME from ours unless configured. */
static char **
upstream_stdio_make_env(char *const *env)
{
	static const char *const inherit[] = { "PATH", "HOME" };
	char		**envp;
	const char	 *value;
	size_t		  n = 0, i, j;

	while (env != NULL && env[n] != NULL)
		n++;
	envp = xcalloc(n + 3, sizeof *envp);
	for (i = 0; i < n; i++)
		envp[i] = xstrdup(env[i]);
	for (j = 0; j < sizeof inherit / sizeof inherit[0]; j++) {
		if (upstream_stdio_env_has(env, inherit[j]) ||
		    (value = getenv(inherit[j])) == NULL)
			continue;
		xasprintf(&envp[i++], "%s=%s", inherit[j], value);
	}
	envp[i] = NULL;
	return envp;
}

struct upstream *
upstream_stdio_new(struct event_base *base, struct child_reaper *reaper,
    const struct upstream_stdio_spec *spec,
    const struct upstream_event_cbs *cbs, void *cbarg)
{
	struct upstream_stdio	*u;
	size_t			 nargs = 0, i;
	double			 timeout;

	if (spec->command == NULL || *spec->command == '\0')
		fatalx("%s: no command", __func__);

	u = xcalloc(1, sizeof *u);
	upstream_init(&u->up, &upstream_stdio_ops, spec->name, cbs, cbarg);
	u->base = base;
	u->reaper = reaper;
	u->command = xstrdup(spec->command);
	while (spec->args != NULL && spec->args[nargs] != NULL)
		nargs++;
	u->argv = xcalloc(nargs + 2, sizeof *u->argv);
	u->argv[0] = xstrdup(spec->command);
	for (i = 0; i < nargs; i++)
		u->argv[i + 1] = xstrdup(spec->args[i]);
	u->envp = upstream_stdio_make_env(spec->env);
	u->cwd = spec->cwd != NULL ? xstrdup(spec->cwd) : NULL;
	u->max_message = spec->max_message != 0 ? spec->max_message :
	    UPSTREAM_STDIO_DEFAULT_MAX_MESSAGE;
	timeout = spec->shutdown_timeout > 0 ? spec->shutdown_timeout :
	    UPSTREAM_STDIO_DEFAULT_SHUTDOWN_TIMEOUT;
	u->shutdown_tv.tv_sec = (time_t)timeout;
	u->shutdown_tv.tv_usec = (suseconds_t)((timeout -
	    (double)u->shutdown_tv.tv_sec) * 1e6);

	u->state = STDIO_IDLE;
	u->pid = u->pgid = -1;
	u->exec_fd = -1;
	u->ev_timer = evtimer_new(base, upstream_stdio_timer_cb, u);
	u->ev_report = event_new(base, -1, 0, upstream_stdio_report_cb, u);
	u->ev_flush = event_new(base, -1, 0, upstream_stdio_flush_cb, u);
	u->pending = evbuffer_new();
	if (u->ev_timer == NULL || u->ev_report == NULL ||
	    u->ev_flush == NULL || u->pending == NULL)
		fatalx("%s: event_new", __func__);
	return &u->up;
}
