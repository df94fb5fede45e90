/*
 * Unit tests for the stdio transport and the child reaper, with real child
 * processes on a real event loop.  Every case checks that no child is left
 * unreaped and that every descriptor it opened is closed again.
 */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "upstream-stdio.h"
#include "upstream.h"

#define FX_MAXMSGS	16
#define FX_LIMIT	1.5	/* seconds any wait in a case may take */

struct fx {
	struct event_base	*base;
	struct child_reaper	*reaper;
	struct upstream		*u;
	int			 fds_before;

	int			 nready;
	int			 nclosed;
	enum upstream_close_reason reason;
	int			 err;
	char			 detail[256];
	char			*msgs[FX_MAXMSGS];	/* the first ones */
	int			 nmsgs;
	char			 last[256];

	/* What the callbacks do besides recording. */
	int			 free_on_message;
	int			 free_on_closed;
	int			 sends_on_ready;
	int			 send_on_message;

	/* A test's own watch on a pid. */
	pid_t			 watched;
	int			 watched_status;
	int			 watched_done;
};

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fx_ready_cb(void *arg)
{
	struct fx	*fx = arg;
	char		 msg[32];
	int		 i;

	fx->nready++;
	for (i = 0; i < fx->sends_on_ready; i++) {
		snprintf(msg, sizeof msg, "{\"id\":%d}", i + 1);
		ck_assert_int_eq(upstream_send(fx->u, msg, strlen(msg)), 0);
	}
}

static void	fx_watch(struct fx *, pid_t);

static void
fx_message_cb(void *arg, const char *json, size_t len)
{
	struct fx	*fx = arg;
	pid_t		 pid;

	ck_assert_uint_eq(strlen(json), len);
	if (fx->nmsgs < FX_MAXMSGS)
		fx->msgs[fx->nmsgs] = strdup(json);
	fx->nmsgs++;
	snprintf(fx->last, sizeof fx->last, "%s", json);
	if (fx->send_on_message)
		ck_assert_int_eq(upstream_send(fx->u, "{}", 2), 0);
	if (fx->free_on_message) {
		pid = upstream_pid(fx->u);
		upstream_free(fx->u);
		fx->u = NULL;
		fx_watch(fx, pid);
	}
}

static void
fx_closed_cb(void *arg, enum upstream_close_reason reason, int err,
    const char *detail)
{
	struct fx	*fx = arg;

	fx->nclosed++;
	fx->reason = reason;
	fx->err = err;
	snprintf(fx->detail, sizeof fx->detail, "%s", detail);
	if (fx->free_on_closed) {
		upstream_free(fx->u);
		fx->u = NULL;
	}
}

static const struct upstream_event_cbs fx_cbs = {
	.ready = fx_ready_cb,
	.message = fx_message_cb,
	.closed = fx_closed_cb,
};

static void
fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof *fx);
	fx->fds_before = count_fds();
	ck_assert_ptr_nonnull(fx->base = event_base_new());
	ck_assert_ptr_nonnull(fx->reaper = child_reaper_new(fx->base));
}

static struct upstream *
fx_new(struct fx *fx, const char *command, char *const *args,
    double shutdown_timeout)
{
	struct upstream_stdio_spec	spec = {
		.name = "test",
		.command = command,
		.args = args,
		.shutdown_timeout = shutdown_timeout,
	};

	fx->u = upstream_stdio_new(fx->base, fx->reaper, &spec, &fx_cbs, fx);
	return fx->u;
}

static void
fx_start(struct fx *fx)
{
	ck_assert_int_eq(upstream_start(fx->u), 0);
}

static void
fx_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *flag reaches want; 0 if FX_LIMIT passed first. */
static int
fx_run_until(struct fx *fx, const int *flag, int want)
{
	struct timeval	 tv = { (time_t)FX_LIMIT,
	    (suseconds_t)((FX_LIMIT - (int)FX_LIMIT) * 1e6) };
	struct event	*timer;
	int		 timed_out = 0;

	timer = evtimer_new(fx->base, fx_timeout_cb, &timed_out);
	evtimer_add(timer, &tv);
	while (*flag < want && !timed_out)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(timer);
	return *flag >= want;
}

static void
fx_run_until_closed(struct fx *fx)
{
	ck_assert_msg(fx_run_until(fx, &fx->nclosed, 1),
	    "no closed callback in time");
	ck_assert_int_eq(fx->nclosed, 1);
}

static void
fx_watched_cb(void *arg, pid_t pid, int status)
{
	struct fx	*fx = arg;

	ck_assert_int_eq(pid, fx->watched);
	fx->watched_status = status;
	fx->watched_done = 1;
}

/* Watch a pid the transport let go of, before the loop runs again. */
static void
fx_watch(struct fx *fx, pid_t pid)
{
	ck_assert_int_gt(pid, 0);
	fx->watched = pid;
	ck_assert_int_eq(child_reaper_watch(fx->reaper, pid, fx_watched_cb,
	    fx), 0);
}

static void
fx_run_until_watched_reaped(struct fx *fx)
{
	ck_assert_msg(fx_run_until(fx, &fx->watched_done, 1),
	    "child %ld not reaped in time", (long)fx->watched);
}

/* Tear down and check nothing is left: no child, no descriptor. */
static void
fx_done(struct fx *fx)
{
	int	i;

	upstream_free(fx->u);
	fx->u = NULL;
	child_reaper_free(fx->reaper);
	event_base_free(fx->base);
	for (i = 0; i < fx->nmsgs && i < FX_MAXMSGS; i++)
		free(fx->msgs[i]);
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_int_eq(count_fds(), fx->fds_before);
}

START_TEST(test_cat_echoes_three_messages)
{
	struct fx	fx;
	pid_t		pid;
	double		t0;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	ck_assert_str_eq(upstream_kind(fx.u), "stdio");
	ck_assert_str_eq(upstream_name(fx.u), "test");
	fx.sends_on_ready = 3;
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nmsgs, 3));
	ck_assert_int_eq(fx.nready, 1);
	ck_assert_int_eq(fx.nmsgs, 3);
	ck_assert_str_eq(fx.msgs[0], "{\"id\":1}");
	ck_assert_str_eq(fx.msgs[1], "{\"id\":2}");
	ck_assert_str_eq(fx.msgs[2], "{\"id\":3}");
	ck_assert_int_gt(pid = upstream_pid(fx.u), 0);
	ck_assert_int_eq(getpgid(pid), pid);

	/* cat leaves on stdin EOF: no signal needed. */
	t0 = now();
	upstream_close(fx.u);
	fx_run_until_closed(&fx);
	ck_assert_double_lt(now() - t0, 1.0);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	ck_assert_str_eq(fx.detail, "exited with status 0");
	ck_assert_int_eq(upstream_pid(fx.u), -1);
	ck_assert_int_eq(upstream_send(fx.u, "{}", 2), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	fx_done(&fx);
}
END_TEST

/* Pipes may then land on 0 and 1; the child must still get them right. */
START_TEST(test_works_with_the_daemons_stdin_and_stdout_closed)
{
	struct fx	fx;
	int		saved_in, saved_out;

	fx_init(&fx);
	ck_assert_int_ge(saved_in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3),
	    0);
	ck_assert_int_ge(saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC,
	    3), 0);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	fx_new(&fx, "cat", NULL, 5.0);
	fx.sends_on_ready = 2;
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nmsgs, 2));
	ck_assert_str_eq(fx.msgs[1], "{\"id\":2}");
	upstream_close(fx.u);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	ck_assert_int_eq(dup2(saved_in, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(dup2(saved_out, STDOUT_FILENO), STDOUT_FILENO);
	close(saved_in);
	close(saved_out);
	fx_done(&fx);
}
END_TEST

START_TEST(test_send_is_refused_before_ready_and_with_a_newline)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	ck_assert_int_eq(upstream_send(fx.u, "{}", 2), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	fx_start(&fx);
	ck_assert_int_eq(upstream_start(fx.u), -1);
	ck_assert_int_eq(errno, EALREADY);
	ck_assert_int_eq(upstream_send(fx.u, "{}", 2), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	ck_assert(fx_run_until(&fx, &fx.nready, 1));
	ck_assert_int_eq(upstream_send(fx.u, "{\n}", 3), -1);
	ck_assert_int_eq(errno, EINVAL);
	upstream_close(fx.u);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	ck_assert_int_eq(fx.nmsgs, 0);
	fx_done(&fx);
}
END_TEST

/* All of fd from its start: the log captured in a temporary file. */
static char *
read_all(int fd)
{
	static char	buf[65536];
	ssize_t		n;
	size_t		len = 0;

	lseek(fd, 0, SEEK_SET);
	while (len < sizeof buf - 1 &&
	    (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	return buf;
}

START_TEST(test_stderr_lines_are_logged_and_do_not_break_the_transport)
{
	char		*args[] = { "-c",
	    "echo hi >&2; head -c 5000 /dev/zero | tr '\\0' a >&2; "
	    "printf '\\nafter\\033[31m\\n' >&2; cat", NULL };
	char		 path[] = "/tmp/test_upstream_stdio.XXXXXX";
	struct fx	 fx;
	char		*log, *p;
	int		 logfd, saved;

	ck_assert_int_ge(logfd = mkstemp(path), 0);
	unlink(path);
	fx_init(&fx);
	fx_new(&fx, "sh", args, 5.0);
	fx.sends_on_ready = 1;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(logfd, STDERR_FILENO);
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nmsgs, 1));
	upstream_close(fx.u);
	fx_run_until_closed(&fx);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	ck_assert_str_eq(fx.msgs[0], "{\"id\":1}");
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	log = read_all(logfd);
	ck_assert_ptr_nonnull(strstr(log, "server test: hi\n"));
	/* The 5000-byte line is cut, and its rest not logged as a line. */
	ck_assert_ptr_nonnull(p = strstr(log, "server test: aaaa"));
	ck_assert_uint_eq(strspn(p + strlen("server test: "), "a"),
	    UPSTREAM_STDIO_STDERR_LINE_MAX);
	ck_assert_ptr_nonnull(strstr(p, "[...]\n"));
	ck_assert_ptr_null(strstr(p + 1, "server test: aaaa"));
	/* Control characters do not reach the log. */
	ck_assert_ptr_nonnull(strstr(log, "server test: after?[31m\n"));
	close(logfd);
	fx.fds_before--;
	fx_done(&fx);
}
END_TEST

START_TEST(test_missing_command_fails_with_enoent)
{
	const char	*commands[] = { "/nonexistent/mcprelay-test",
	    "mcprelay-no-such-command" };
	struct fx	 fx;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		fx_init(&fx);
		fx_new(&fx, commands[i], NULL, 5.0);
		fx_start(&fx);
		fx_run_until_closed(&fx);
		ck_assert_int_eq(fx.nready, 0);
		ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_SPAWN_FAILED);
		ck_assert_int_eq(fx.err, ENOENT);
		ck_assert_ptr_nonnull(strstr(fx.detail, "cannot execute"));
		fx_done(&fx);
	}
}
END_TEST

START_TEST(test_non_executable_file_fails_with_eacces)
{
	char		 path[] = "/tmp/test_upstream_stdio.XXXXXX";
	struct fx	 fx;
	int		 fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	ck_assert_int_eq(chmod(path, 0644), 0);
	fx_init(&fx);
	fx_new(&fx, path, NULL, 5.0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	unlink(path);
	ck_assert_int_eq(fx.nready, 0);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_SPAWN_FAILED);
	ck_assert_int_eq(fx.err, EACCES);
	fx_done(&fx);
}
END_TEST

START_TEST(test_missing_cwd_fails_with_enoent)
{
	struct upstream_stdio_spec	spec = {
		.name = "test",
		.command = "cat",
		.cwd = "/nonexistent/mcprelay-test-dir",
	};
	struct fx			fx;

	fx_init(&fx);
	fx.u = upstream_stdio_new(fx.base, fx.reaper, &spec, &fx_cbs, &fx);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_SPAWN_FAILED);
	ck_assert_int_eq(fx.err, ENOENT);
	ck_assert_ptr_nonnull(strstr(fx.detail, "change directory"));
	fx_done(&fx);
}
END_TEST

START_TEST(test_cwd_is_respected)
{
	char				*args[] = { "-c",
	    "printf '\"%s\"\\n' \"$(pwd -P)\"", NULL };
	char				 dir[] =
	    "/tmp/test_upstream_stdio.XXXXXX";
	char				 real[PATH_MAX], want[PATH_MAX + 3];
	struct upstream_stdio_spec	 spec = {
		.name = "test",
		.command = "sh",
		.args = args,
		.cwd = dir,
	};
	struct fx			 fx;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(realpath(dir, real));
	snprintf(want, sizeof want, "\"%s\"", real);
	fx_init(&fx);
	fx.u = upstream_stdio_new(fx.base, fx.reaper, &spec, &fx_cbs, &fx);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	rmdir(dir);
	ck_assert_int_eq(fx.nmsgs, 1);
	ck_assert_str_eq(fx.msgs[0], want);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert(WIFEXITED(fx.err) && WEXITSTATUS(fx.err) == 0);
	fx_done(&fx);
}
END_TEST

static int
fx_has_msg(const struct fx *fx, const char *msg)
{
	int	i;

	for (i = 0; i < fx->nmsgs; i++) {
		if (strcmp(fx->msgs[i], msg) == 0)
			return 1;
	}
	return 0;
}

/* Run env(1) with the given configured env; messages hold its output. */
static void
fx_run_env(struct fx *fx, char *const *env)
{
	struct upstream_stdio_spec	spec = {
		.name = "test",
		.command = "env",
		.env = env,
	};

	fx_init(fx);
	fx->u = upstream_stdio_new(fx->base, fx->reaper, &spec, &fx_cbs, fx);
	fx_start(fx);
	fx_run_until_closed(fx);
	ck_assert_int_eq(fx->reason, UPSTREAM_CLOSE_EXITED);
}

START_TEST(test_env_is_the_configured_one_plus_path_and_home)
{
	char		*env[] = { "MCPRELAY_TEST_SET=configured", NULL };
	char		 path[4096], home[4096];
	struct fx	 fx;

	setenv("MCPRELAY_TEST_LEAK", "leak", 1);
	setenv("HOME", "/home/mcprelay-test", 1);
	snprintf(path, sizeof path, "PATH=%s", getenv("PATH"));
	snprintf(home, sizeof home, "HOME=%s", getenv("HOME"));
	fx_run_env(&fx, env);
	ck_assert_int_eq(fx.nmsgs, 3);
	ck_assert(fx_has_msg(&fx, "MCPRELAY_TEST_SET=configured"));
	ck_assert(fx_has_msg(&fx, path));
	ck_assert(fx_has_msg(&fx, home));
	fx_done(&fx);
}
END_TEST

START_TEST(test_configured_home_and_path_win)
{
	char		*env[] = { "HOME=/configured", "PATH=/usr/bin:/bin",
	    NULL };
	struct fx	 fx;

	setenv("HOME", "/home/mcprelay-test", 1);
	fx_run_env(&fx, env);
	ck_assert_int_eq(fx.nmsgs, 2);
	ck_assert(fx_has_msg(&fx, "HOME=/configured"));
	ck_assert(fx_has_msg(&fx, "PATH=/usr/bin:/bin"));
	fx_done(&fx);
}
END_TEST

START_TEST(test_child_gets_default_signals_and_only_stdio)
{
	char		*grep_args[] = { "-E", "^Sig(Blk|Ign)",
	    "/proc/self/status", NULL };
	/* Builtins only, so the shell opens nothing while it looks. */
	char		*sh_args[] = { "-c", "n=0; while [ $n -lt 300 ]; do "
	    "[ -e /proc/$$/fd/$n ] && echo $n; n=$((n+1)); done; exit 0",
	    NULL };
	struct fx	 fx;
	sigset_t	 set, old;
	int		 leak;

	/* What the daemon has, the server must not inherit. */
	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	ck_assert_int_ge(leak = open("/dev/null", O_RDONLY), 0);
	ck_assert_int_lt(leak, 300);

	fx_init(&fx);
	fx_new(&fx, "grep", grep_args, 5.0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nmsgs, 2);
	ck_assert_str_eq(fx.msgs[0], "SigBlk:\t0000000000000000");
	ck_assert_str_eq(fx.msgs[1], "SigIgn:\t0000000000000000");
	fx_done(&fx);

	fx_init(&fx);
	fx_new(&fx, "sh", sh_args, 5.0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nmsgs, 3);
	ck_assert_str_eq(fx.msgs[0], "0");
	ck_assert_str_eq(fx.msgs[1], "1");
	ck_assert_str_eq(fx.msgs[2], "2");
	fx_done(&fx);

	close(leak);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}
END_TEST

START_TEST(test_exit_status_is_reported)
{
	char		*args[] = { "-c", "exit 3", NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 5.0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nready, 1);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert(WIFEXITED(fx.err));
	ck_assert_int_eq(WEXITSTATUS(fx.err), 3);
	ck_assert_str_eq(fx.detail, "exited with status 3");
	fx_done(&fx);
}
END_TEST

START_TEST(test_killed_child_is_reported)
{
	char		*args[] = { "-c", "kill -9 $$", NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 5.0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert(WIFSIGNALED(fx.err));
	ck_assert_int_eq(WTERMSIG(fx.err), SIGKILL);
	ck_assert_ptr_nonnull(strstr(fx.detail, "killed by signal 9"));
	fx_done(&fx);
}
END_TEST

START_TEST(test_close_escalates_to_sigkill)
{
	char		*args[] = { "-c",
	    "trap '' TERM; while :; do sleep 0.05; done", NULL };
	struct fx	 fx;
	double		 t0, elapsed;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 0.2);
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nready, 1));
	t0 = now();
	upstream_close(fx.u);
	upstream_close(fx.u);	/* a second request changes nothing */
	fx_run_until_closed(&fx);
	elapsed = now() - t0;
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	ck_assert_int_eq(fx.err, 0);
	ck_assert_str_eq(fx.detail, "killed by signal 9 (Killed)");
	/* stdin close, shutdown_timeout, SIGTERM, shutdown_timeout, SIGKILL */
	ck_assert_double_ge(elapsed, 0.35);
	ck_assert_double_lt(elapsed, 1.2);
	fx_done(&fx);
}
END_TEST

START_TEST(test_close_stops_at_sigterm_when_it_works)
{
	char		*args[] = { "-c", "while :; do sleep 0.05; done",
	    NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 0.1);
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nready, 1));
	upstream_close(fx.u);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	ck_assert_str_eq(fx.detail, "killed by signal 15 (Terminated)");
	fx_done(&fx);
}
END_TEST

static void
fx_new_limited(struct fx *fx, const char *script, size_t max_message)
{
	char				*args[] = { "-c", (char *)script,
	    NULL };
	struct upstream_stdio_spec	 spec = {
		.name = "test",
		.command = "sh",
		.args = args,
		.max_message = max_message,
		.shutdown_timeout = 5.0,
	};

	fx->u = upstream_stdio_new(fx->base, fx->reaper, &spec, &fx_cbs, fx);
}

START_TEST(test_oversize_line_is_a_protocol_error)
{
	struct fx	fx;
	char		want[65];

	fx_init(&fx);
	/* Exactly the limit passes (its CR does not count), 200 does not. */
	fx_new_limited(&fx, "printf '%064d\\r\\n' 0; printf '%0200d\\n' 0; "
	    "exec cat", 64);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nmsgs, 1);
	memset(want, '0', 64);
	want[64] = '\0';
	ck_assert_str_eq(fx.msgs[0], want);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_PROTOCOL);
	ck_assert_int_eq(fx.err, EMSGSIZE);
	fx_done(&fx);
}
END_TEST

START_TEST(test_oversize_unterminated_line_is_a_protocol_error)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new_limited(&fx, "head -c 100000 /dev/zero | tr '\\0' x; exec cat",
	    1000);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nmsgs, 0);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_PROTOCOL);
	fx_done(&fx);
}
END_TEST

START_TEST(test_crlf_is_stripped_and_empty_lines_skipped)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new_limited(&fx, "printf '{\"a\":1}\\r\\n\\n\\r\\n{\"b\":2}\\n"
	    "{\"c\":3}'", 0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nmsgs, 3);
	ck_assert_str_eq(fx.msgs[0], "{\"a\":1}");
	ck_assert_str_eq(fx.msgs[1], "{\"b\":2}");
	/* The last line lacks its newline but is not lost. */
	ck_assert_str_eq(fx.msgs[2], "{\"c\":3}");
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	fx_done(&fx);
}
END_TEST

START_TEST(test_output_written_just_before_exit_arrives_first)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new_limited(&fx, "i=0; while [ $i -lt 200 ]; do "
	    "echo \"{\\\"n\\\":$i}\"; i=$((i+1)); done; exit 5", 0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nmsgs, 200);
	ck_assert_str_eq(fx.last, "{\"n\":199}");
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert_int_eq(WEXITSTATUS(fx.err), 5);
	fx_done(&fx);
}
END_TEST

START_TEST(test_stdout_closed_by_a_live_child_is_an_io_error)
{
	char		*args[] = { "-c", "exec >&-; exec sleep 5", NULL };
	struct fx	 fx;
	double		 t0;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 0.1);
	t0 = now();
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_double_lt(now() - t0, 1.0);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_IO_ERROR);
	ck_assert_int_eq(fx.err, 0);
	ck_assert_ptr_nonnull(strstr(fx.detail, "stdout closed"));
	fx_done(&fx);
}
END_TEST

START_TEST(test_stdout_closed_then_exit_is_reported_as_exit)
{
	char		*args[] = { "-c", "exec >&-; sleep 0.1; exit 4", NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 1.0);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert_int_eq(WEXITSTATUS(fx.err), 4);
	fx_done(&fx);
}
END_TEST

/* The child announces its stdin is closed; our write then fails. */
START_TEST(test_write_error_then_exit_is_reported_as_exit)
{
	char		*args[] = { "-c",
	    "exec <&-; echo '{}'; sleep 0.1; exit 6", NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 1.0);
	fx.send_on_message = 1;
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert_int_eq(WEXITSTATUS(fx.err), 6);
	fx_done(&fx);
}
END_TEST

START_TEST(test_write_error_on_a_live_child_is_an_io_error)
{
	char		*args[] = { "-c", "exec <&-; echo '{}'; exec sleep 5",
	    NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 0.1);
	fx.send_on_message = 1;
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_IO_ERROR);
	ck_assert_int_eq(fx.err, EPIPE);
	ck_assert_ptr_nonnull(strstr(fx.detail, "write to stdin"));
	fx_done(&fx);
}
END_TEST

START_TEST(test_close_while_spawning_reports_requested_without_ready)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	fx_start(&fx);
	upstream_close(fx.u);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.nready, 0);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_REQUESTED);
	ck_assert_str_eq(fx.detail, "exited with status 0");
	fx_done(&fx);
}
END_TEST

START_TEST(test_pipe_failure_is_reported_from_the_loop)
{
	struct fx	fx;
	struct rlimit	rl, low;
	int		fd;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	/* No descriptor number left for the pipes. */
	ck_assert_int_ge(fd = dup(0), 0);
	close(fd);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = fd;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	fx_start(&fx);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fx.nclosed, 0);	/* not from inside the call */
	ck_assert_int_eq(upstream_pid(fx.u), -1);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_SPAWN_FAILED);
	ck_assert_int_eq(fx.err, EMFILE);
	ck_assert_int_eq(fx.nready, 0);
	fx_done(&fx);
}
END_TEST

static void
fx_watch_pid_message_cb(void *arg, const char *json, size_t len)
{
	fx_watch(arg, (pid_t)atol(json));
}

/* Helpers left behind in the process group die with the server. */
START_TEST(test_exit_kills_what_is_left_of_the_process_group)
{
	char				*args[] = { "-c",
	    "sleep 5 & echo $!; exit 2", NULL };
	struct upstream_event_cbs	 cbs = fx_cbs;
	struct upstream_stdio_spec	 spec = {
		.name = "test",
		.command = "sh",
		.args = args,
	};
	struct fx			 fx;

	/* The orphaned sleep becomes ours, so we can see how it ends. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	fx_init(&fx);
	cbs.message = fx_watch_pid_message_cb;
	fx.u = upstream_stdio_new(fx.base, fx.reaper, &spec, &cbs, &fx);
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert_int_eq(WEXITSTATUS(fx.err), 2);
	fx_run_until_watched_reaped(&fx);
	ck_assert(WIFSIGNALED(fx.watched_status));
	ck_assert_int_eq(WTERMSIG(fx.watched_status), SIGKILL);
	fx_done(&fx);
}
END_TEST

START_TEST(test_free_while_running_kills_the_child)
{
	struct fx	fx;
	pid_t		pid;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nready, 1));
	pid = upstream_pid(fx.u);
	upstream_free(fx.u);
	fx.u = NULL;
	fx_watch(&fx, pid);
	fx_run_until_watched_reaped(&fx);
	ck_assert(WIFSIGNALED(fx.watched_status));
	ck_assert_int_eq(WTERMSIG(fx.watched_status), SIGKILL);
	ck_assert_int_eq(fx.nclosed, 0);
	fx_done(&fx);
}
END_TEST

START_TEST(test_free_right_after_start_kills_the_child)
{
	struct fx	fx;
	pid_t		pid;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	fx_start(&fx);
	pid = upstream_pid(fx.u);
	upstream_free(fx.u);
	fx.u = NULL;
	fx_watch(&fx, pid);
	fx_run_until_watched_reaped(&fx);
	ck_assert(WIFSIGNALED(fx.watched_status));
	ck_assert_int_eq(fx.nready + fx.nclosed, 0);
	fx_done(&fx);
}
END_TEST

START_TEST(test_free_inside_message_callback_stops_delivery)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new_limited(&fx, "echo 1; echo 2; echo 3; exec cat", 0);
	fx.free_on_message = 1;
	fx_start(&fx);
	ck_assert(fx_run_until(&fx, &fx.nmsgs, 1));
	ck_assert_ptr_null(fx.u);
	fx_run_until_watched_reaped(&fx);
	ck_assert_int_eq(fx.nmsgs, 1);
	ck_assert_int_eq(fx.nclosed, 0);
	fx_done(&fx);
}
END_TEST

START_TEST(test_free_inside_closed_callback)
{
	char		*args[] = { "-c", "echo '{}'; exit 0", NULL };
	struct fx	 fx;

	fx_init(&fx);
	fx_new(&fx, "sh", args, 5.0);
	fx.free_on_closed = 1;
	fx_start(&fx);
	fx_run_until_closed(&fx);
	ck_assert_ptr_null(fx.u);
	ck_assert_int_eq(fx.reason, UPSTREAM_CLOSE_EXITED);
	ck_assert_int_eq(fx.nmsgs, 1);
	fx_done(&fx);
}
END_TEST

START_TEST(test_close_before_start_and_free_unstarted)
{
	struct fx	fx;

	fx_init(&fx);
	fx_new(&fx, "cat", NULL, 5.0);
	ck_assert_int_eq(upstream_pid(fx.u), -1);
	upstream_close(fx.u);
	upstream_free(fx.u);
	fx.u = NULL;
	upstream_free(NULL);
	ck_assert_int_eq(fx.nclosed, 0);
	fx_done(&fx);
}
END_TEST

START_TEST(test_close_reason_names)
{
	ck_assert_str_eq(upstream_close_reason_name(UPSTREAM_CLOSE_REQUESTED),
	    "requested");
	ck_assert_str_eq(upstream_close_reason_name(UPSTREAM_CLOSE_EXITED),
	    "exited");
	ck_assert_str_eq(upstream_close_reason_name(
	    UPSTREAM_CLOSE_SPAWN_FAILED), "spawn-failed");
	ck_assert_str_eq(upstream_close_reason_name(UPSTREAM_CLOSE_IO_ERROR),
	    "io-error");
	ck_assert_str_eq(upstream_close_reason_name(UPSTREAM_CLOSE_PROTOCOL),
	    "protocol");
	ck_assert_str_eq(upstream_close_reason_name(
	    (enum upstream_close_reason)42), "unknown");
}
END_TEST

/* The reaper on its own. */

/* A child that exits with status, after EOF on wait_fd unless it is -1. */
static pid_t
fork_exiting(int status, int wait_fd, int other_end)
{
	pid_t	pid;
	char	c;

	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		if (other_end != -1)
			close(other_end);
		if (wait_fd != -1)
			while (read(wait_fd, &c, 1) > 0)
				;
		_exit(status);
	}
	return pid;
}

START_TEST(test_reaper_reports_watched_and_reaps_unwatched)
{
	struct fx	 fx;
	siginfo_t	 si;
	pid_t		 unwatched, forgotten;
	int		 gate[2];

	fx_init(&fx);
	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	fx.watched = fork_exiting(7, gate[0], gate[1]);
	close(gate[0]);
	unwatched = fork_exiting(0, -1, -1);
	forgotten = fork_exiting(0, -1, -1);
	ck_assert_int_eq(child_reaper_watch(fx.reaper, fx.watched,
	    fx_watched_cb, &fx), 0);
	ck_assert_int_eq(child_reaper_watch(fx.reaper, fx.watched,
	    fx_watched_cb, &fx), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(child_reaper_watch(fx.reaper, forgotten,
	    fx_watched_cb, &fx), 0);
	child_reaper_unwatch(fx.reaper, forgotten);
	child_reaper_unwatch(fx.reaper, 1);	/* unknown: ignored */
	ck_assert_uint_eq(child_reaper_count(fx.reaper), 1);

	/* Both unwatched children are dead (not reaped) before the last
	 * one may exit, so one pass of the reaper must take all three. */
	ck_assert_int_eq(waitid(P_PID, unwatched, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(waitid(P_PID, forgotten, &si, WEXITED | WNOWAIT), 0);
	close(gate[1]);
	ck_assert(fx_run_until(&fx, &fx.watched_done, 1));
	ck_assert(WIFEXITED(fx.watched_status));
	ck_assert_int_eq(WEXITSTATUS(fx.watched_status), 7);
	ck_assert_uint_eq(child_reaper_count(fx.reaper), 0);
	fx_done(&fx);
}
END_TEST

START_TEST(test_reaper_free_forgets_watches)
{
	struct fx	fx;

	fx_init(&fx);
	ck_assert_int_eq(child_reaper_watch(fx.reaper, 12345, fx_watched_cb,
	    &fx), 0);
	child_reaper_free(NULL);
	fx_done(&fx);	/* LeakSanitizer checks the watch is freed */
}
END_TEST

static Suite *
upstream_stdio_suite(void)
{
	Suite	*s = suite_create("upstream_stdio");
	TCase	*tc;

	tc = tcase_create("transport");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_cat_echoes_three_messages);
	tcase_add_test(tc,
	    test_send_is_refused_before_ready_and_with_a_newline);
	tcase_add_test(tc, test_works_with_the_daemons_stdin_and_stdout_closed);
	tcase_add_test(tc,
	    test_stderr_lines_are_logged_and_do_not_break_the_transport);
	tcase_add_test(tc, test_missing_command_fails_with_enoent);
	tcase_add_test(tc, test_non_executable_file_fails_with_eacces);
	tcase_add_test(tc, test_missing_cwd_fails_with_enoent);
	tcase_add_test(tc, test_cwd_is_respected);
	tcase_add_test(tc, test_env_is_the_configured_one_plus_path_and_home);
	tcase_add_test(tc, test_configured_home_and_path_win);
	tcase_add_test(tc, test_child_gets_default_signals_and_only_stdio);
	tcase_add_test(tc, test_exit_status_is_reported);
	tcase_add_test(tc, test_killed_child_is_reported);
	tcase_add_test(tc, test_close_escalates_to_sigkill);
	tcase_add_test(tc, test_close_stops_at_sigterm_when_it_works);
	tcase_add_test(tc, test_oversize_line_is_a_protocol_error);
	tcase_add_test(tc, test_oversize_unterminated_line_is_a_protocol_error);
	tcase_add_test(tc, test_crlf_is_stripped_and_empty_lines_skipped);
	tcase_add_test(tc, test_output_written_just_before_exit_arrives_first);
	tcase_add_test(tc, test_stdout_closed_by_a_live_child_is_an_io_error);
	tcase_add_test(tc, test_stdout_closed_then_exit_is_reported_as_exit);
	tcase_add_test(tc, test_write_error_then_exit_is_reported_as_exit);
	tcase_add_test(tc, test_write_error_on_a_live_child_is_an_io_error);
	tcase_add_test(tc,
	    test_close_while_spawning_reports_requested_without_ready);
	tcase_add_test(tc, test_pipe_failure_is_reported_from_the_loop);
	tcase_add_test(tc, test_exit_kills_what_is_left_of_the_process_group);
	tcase_add_test(tc, test_free_while_running_kills_the_child);
	tcase_add_test(tc, test_free_right_after_start_kills_the_child);
	tcase_add_test(tc, test_free_inside_message_callback_stops_delivery);
	tcase_add_test(tc, test_free_inside_closed_callback);
	tcase_add_test(tc, test_close_before_start_and_free_unstarted);
	tcase_add_test(tc, test_close_reason_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("reaper");
	tcase_add_test(tc, test_reaper_reports_watched_and_reaps_unwatched);
	tcase_add_test(tc, test_reaper_free_forgets_watches);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* As the daemon does: a dead child's stdin must be EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(upstream_stdio_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
