/*
 * mcprelayctl doctor: checks an installation from the outside, one line per
 * check (ok, FAIL with a fix, skip); exit 1 when any failed.  The network
 * checks run in child processes, all at once, and are killed at --timeout,
 * so the whole takes at most that long plus the local checks.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "ctl.h"
#include "duration.h"
#include "xmalloc.h"

#define DOCTOR_TIMEOUT		5.0
#define DOCTOR_UNIT		"mcprelayd.service"
#define DOCTOR_SYSTEM_CONFIG	SYSCONFDIR "/mcprelay/mcprelay.yaml"
/* What a child's report may hold: three lines of a remote server. */
#define DOCTOR_REPORT_MAX	4096

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_FAIL,
	DOCTOR_SKIP,
};

static const char *const doctor_status_names[] = {
	[DOCTOR_OK] = "ok",
	[DOCTOR_FAIL] = "FAIL",
	[DOCTOR_SKIP] = "skip",
};

/* A check run in a child process: its pipe and what it wrote so far. */
struct doctor_job {
	pid_t		 pid;
	int		 fd;
	char		 buf[DOCTOR_REPORT_MAX];
	size_t		 len;
};

struct doctor {
	const char	*config_path;
	struct config	*cfg;
	double		 timeout;
	double		 deadline;	/* of the network checks */
	int		 nfail;
	/* The running daemon, when its control socket answered status. */
	struct json_object *status;
	struct json_object *servers;	/* its "servers" answer */
	long		 daemon_pid;
	/* Whom stdio servers run as: the daemon's user, or a guess. */
	uid_t		 uid;
	gid_t		 gid;
	char		 user[64];
	const char	*user_why;
};

static double
doctor_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line: "STATUS  check: detail[; fix: fix]". */
static void
doctor_line(struct doctor *d, enum doctor_status st, const char *check,
    const char *fix, const char *fmt, ...)
{
	va_list	ap;

	printf("%-4s  %s: ", doctor_status_names[st], check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (st == DOCTOR_FAIL && fix != NULL && *fix != '\0')
		printf("; fix: %s", fix);
	printf("\n");
	fflush(stdout);
	if (st == DOCTOR_FAIL)
		d->nfail++;
}

/* A child's report line: "STATUS\tcheck\tdetail\tfix\n" (tabs replaced). */
static void
doctor_emit(int fd, enum doctor_status st, const char *check,
    const char *fix, const char *fmt, ...)
{
	char	 detail[1024], line[DOCTOR_REPORT_MAX / 2], *p;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	for (p = detail; *p != '\0'; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
	n = snprintf(line, sizeof line, "%d\t%s\t%s\t%s\n", (int)st, check,
	    detail, fix != NULL ? fix : "");
	if (n >= (int)sizeof line) {
		n = sizeof line;
		line[n - 1] = '\n';
	}
	if (write(fd, line, (size_t)n) != n)
		_exit(1);
}

/* Prints the report lines of a child; returns the last check it named. */
static int
doctor_print_report(struct doctor *d, struct doctor_job *j, char *last,
    size_t lastlen)
{
	char	*line, *next, *f[4];
	int	 n = 0, i;

	j->buf[j->len] = '\0';
	for (line = j->buf; (next = strchr(line, '\n')) != NULL;
	    line = next + 1) {
		*next = '\0';
		f[0] = line;
		for (i = 1; i < 4; i++) {
			if ((f[i] = strchr(f[i - 1], '\t')) == NULL)
				break;
			*f[i]++ = '\0';
		}
		if (i < 4)
			continue;
		doctor_line(d, (enum doctor_status)atoi(f[0]), f[1], f[3],
		    "%s", f[2]);
		snprintf(last, lastlen, "%s", f[1]);
		n++;
	}
	return n;
}

/* ---- the daemon ---------------------------------------------------------- */

static int	doctor_unix_connect(const char *);

/*
 * OAuth servers: whether a token is there and for how long, as the running
 * daemon holds it (the token files are the daemon's, under its state
 * directory, and never read here).
 */
static void
doctor_oauth(struct doctor *d)
{
	const struct config_server	*s;
	struct json_object		*e, *a;
	const char			*state;
	char				 check[160], fix[200];
	double				 left;
	size_t				 i, k;
	int				 any = 0;

	for (i = 0; d->cfg != NULL && i < d->cfg->nservers; i++) {
		s = &d->cfg->servers[i];
		if (s->auth.type != CONFIG_AUTH_OAUTH || !s->enabled)
			continue;
		any = 1;
		snprintf(check, sizeof check, "oauth %s", s->name);
		snprintf(fix, sizeof fix, "mcprelayctl login %s", s->name);
		a = NULL;
		for (k = 0; d->servers != NULL &&
		    k < json_object_array_length(d->servers); k++) {
			e = json_object_array_get_idx(d->servers, k);
			if (strcmp(ctl_str(e, "name", ""), s->name) == 0)
				a = ctl_get(e, "auth");
		}
		if (a == NULL) {
			doctor_line(d, DOCTOR_SKIP, check, NULL, "%s",
			    d->status == NULL ? "the daemon is not running: "
			    "it holds the tokens" : "the daemon does not know "
			    "this server yet: reload");
			continue;
		}
		state = ctl_str(a, "state", "?");
		left = ctl_get(a, "expiresAt") != NULL ?
		    (double)ctl_int(a, "expiresAt") - (double)time(NULL) : -1;
		if (strcmp(state, "needs_login") == 0 ||
		    (strcmp(state, "no_token") == 0 &&
		    s->auth.grant == CONFIG_GRANT_AUTHORIZATION_CODE))
			doctor_line(d, DOCTOR_FAIL, check, fix, "%s",
			    strcmp(state, "no_token") == 0 ? "never logged in" :
			    "no usable token: a login is needed");
		else if (ctl_get(a, "expiresAt") != NULL && left <= 0 &&
		    !ctl_int(a, "refreshable"))
			doctor_line(d, DOCTOR_FAIL, check, fix, "the token "
			    "expired and cannot be refreshed");
		else if (ctl_get(a, "expiresAt") != NULL)
			doctor_line(d, DOCTOR_OK, check, NULL, "token %s in "
			    "%.0f min%s", left > 0 ? "expires" : "expired",
			    (left > 0 ? left : -left) / 60, ctl_int(a,
			    "refreshable") ? ", renewed by itself" :
			    ", not refreshable: log in again before then");
		else
			doctor_line(d, DOCTOR_OK, check, NULL, "%s", state);
	}
	if (!any)
		doctor_line(d, DOCTOR_SKIP, "oauth", NULL, "no oauth servers");
}

/* The status of the daemon at the configured control socket, if any. */
static void
doctor_ask_daemon(struct doctor *d, const char *path)
{
	struct ctl_opts	 o;
	struct ctl_conn	*c;
	struct stat	 st;
	char		 proc[64];

	/* Quietly: a missing daemon is the socket check's to report. */
	if (doctor_unix_connect(path) == -1)
		return;
	memset(&o, 0, sizeof o);
	o.socket = path;
	if (ctl_open(&o, &c) != CTL_EXIT_OK)
		return;
	ctl_set_timeout(c, d->timeout);
	if (ctl_call(c, "status", NULL, &d->status) != CTL_EXIT_OK)
		d->status = NULL;
	else if (ctl_call(c, "servers", NULL, &d->servers) != CTL_EXIT_OK)
		d->servers = NULL;
	ctl_close(c);
	if (d->status == NULL)
		return;
	d->daemon_pid = (long)ctl_int(d->status, "pid");
	snprintf(proc, sizeof proc, "/proc/%ld", d->daemon_pid);
	if (d->daemon_pid > 0 && stat(proc, &st) == 0) {
		d->uid = st.st_uid;
		d->gid = st.st_gid;
		d->user_why = "the running daemon's";
	}
}

/*
 * Whom the daemon runs as: the running one's user; else the packaged
 * service's "mcprelay" for the system configuration; else whoever runs
 * doctor (mcprelayd started by hand).
 */
static void
doctor_guess_user(struct doctor *d)
{
	struct passwd	*pw;

	if (d->user_why == NULL) {
		d->uid = geteuid();
		d->gid = getegid();
		d->user_why = "your";
		if (strcmp(d->config_path, DOCTOR_SYSTEM_CONFIG) == 0 &&
		    (pw = getpwnam("mcprelay")) != NULL) {
			d->uid = pw->pw_uid;
			d->gid = pw->pw_gid;
			d->user_why = "the service's";
		}
	}
	if ((pw = getpwuid(d->uid)) != NULL)
		snprintf(d->user, sizeof d->user, "%s", pw->pw_name);
	else
		snprintf(d->user, sizeof d->user, "uid %u", (unsigned)d->uid);
}

/* ---- sockets ------------------------------------------------------------- */

static int
doctor_unix_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, rc, saved;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static void
doctor_socket(struct doctor *d, const char *what, const char *path,
    mode_t mode, const char *group, const char *key)
{
	char		 check[64], fix[PATH_MAX + 128];
	struct stat	 st;
	struct group	*gr;
	struct passwd	*pw;

	snprintf(check, sizeof check, "socket %s", what);
	if (stat(path, &st) == -1) {
		doctor_line(d, DOCTOR_FAIL, check, "start mcprelayd "
		    "(systemctl start mcprelayd, or mcprelayd -c CONFIG)",
		    "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(fix, sizeof fix, "remove %s, or set %s to another "
		    "path", path, key);
		doctor_line(d, DOCTOR_FAIL, check, fix, "%s is not a socket",
		    path);
		return;
	}
	if ((st.st_mode & 07777) != mode) {
		snprintf(fix, sizeof fix, "chmod %04o %s, or restart "
		    "mcprelayd so that it makes the socket again",
		    (unsigned)mode, path);
		doctor_line(d, DOCTOR_FAIL, check, fix, "%s has mode %04o, "
		    "want %04o", path, (unsigned)(st.st_mode & 07777),
		    (unsigned)mode);
		return;
	}
	if (st.st_uid != d->uid) {
		pw = getpwuid(st.st_uid);
		snprintf(fix, sizeof fix, "chown %s %s, or restart mcprelayd",
		    d->user, path);
		doctor_line(d, DOCTOR_FAIL, check, fix, "%s is owned by %s, "
		    "want %s (%s user)", path, pw != NULL ? pw->pw_name : "?",
		    d->user, d->user_why);
		return;
	}
	if (group != NULL && *group != '\0') {
		gr = getgrnam(group);
		if (gr == NULL || gr->gr_gid != st.st_gid) {
			snprintf(fix, sizeof fix, "chgrp %s %s, or restart "
			    "mcprelayd", group, path);
			doctor_line(d, DOCTOR_FAIL, check, fix, "%s: group is "
			    "not %s", path, group);
			return;
		}
	}
	if (doctor_unix_connect(path) == -1) {
		doctor_line(d, DOCTOR_FAIL, check, "start mcprelayd (a stale "
		    "socket is replaced)", "%s: nothing answers: %s", path,
		    strerror(errno));
		return;
	}
	doctor_line(d, DOCTOR_OK, check, NULL, "%s, mode %04o, owner %s%s%s",
	    path, (unsigned)mode, d->user, group != NULL && *group != '\0' ?
	    ", group " : "", group != NULL ? group : "");
}

/* ---- ports --------------------------------------------------------------- */

static void
doctor_format_address(const struct config_http_listen *l, char *buf,
    size_t len)
{
	if (strchr(l->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", l->host, l->port);
	else
		snprintf(buf, len, "%s:%d", l->host, l->port);
}

/* The daemon says it listens on addr as a listener of that type. */
static int
doctor_daemon_listens(struct doctor *d, const char *type, const char *addr)
{
	struct json_object	*ls, *l;
	size_t			 i;

	if (d->status == NULL ||
	    (ls = ctl_get(d->status, "listeners")) == NULL ||
	    !json_object_is_type(ls, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(ls); i++) {
		l = json_object_array_get_idx(ls, i);
		if (strcmp(ctl_str(l, "type", ""), type) == 0 &&
		    strcmp(ctl_str(l, "address", ""), addr) == 0)
			return 1;
	}
	return 0;
}

/* 0 when host:port can be bound now, else -1 with errno. */
static int
doctor_try_bind(const char *host, int port)
{
	struct addrinfo	 hints, *res;
	char		 serv[16];
	int		 fd, one = 1, rc, saved;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(serv, sizeof serv, "%d", port);
	if (getaddrinfo(host, serv, &hints, &res) != 0) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    0)) == -1) {
		saved = errno;
		freeaddrinfo(res);
		errno = saved;
		return -1;
	}
	/* As the daemon does: a port in TIME_WAIT is not a conflict. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	rc = bind(fd, res->ai_addr, res->ai_addrlen);
	if (rc == 0)
		rc = listen(fd, 1);
	saved = errno;
	close(fd);
	freeaddrinfo(res);
	errno = saved;
	return rc;
}

static void
doctor_port(struct doctor *d, const char *what, const char *type,
    const struct config_http_listen *l, const char *key)
{
	char	check[64], addr[192], fix[512];

	snprintf(check, sizeof check, "port %s", what);
	if (!l->enabled) {
		doctor_line(d, DOCTOR_SKIP, check, NULL, "%s is off", key);
		return;
	}
	doctor_format_address(l, addr, sizeof addr);
	if (l->port == 0) {
		doctor_line(d, DOCTOR_SKIP, check, NULL, "%s: port 0, any "
		    "free port", addr);
		return;
	}
	if (doctor_daemon_listens(d, type, addr)) {
		doctor_line(d, DOCTOR_OK, check, NULL, "%s, bound by "
		    "mcprelayd (pid %ld)", addr, d->daemon_pid);
		return;
	}
	if (doctor_try_bind(l->host, l->port) == 0) {
		doctor_line(d, DOCTOR_OK, check, NULL, "%s is free", addr);
		return;
	}
	if (errno == EADDRINUSE)
		snprintf(fix, sizeof fix, "stop the program that has it "
		    "(ss -ltnp 'sport = :%d' names it), or set %s to "
		    "another port", l->port, key);
	else
		snprintf(fix, sizeof fix, "set %s to an address of this "
		    "machine that mcprelayd may bind", key);
	doctor_line(d, DOCTOR_FAIL, check, fix, "cannot bind %s: %s%s",
	    addr, strerror(errno), errno == EADDRINUSE ? " (not by "
	    "mcprelayd)" : "");
}

/* ---- child processes ----------------------------------------------------- */

/* Forks a job whose child runs fn(fd, arg) and exits. */
static int
doctor_spawn(struct doctor_job *j, void (*fn)(int, const void *,
    const struct doctor *), const void *arg, const struct doctor *d)
{
	int	p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	fflush(NULL);
	if ((j->pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (j->pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		fn(p[1], arg, d);
		_exit(0);
	}
	close(p[1]);
	j->fd = p[0];
	j->len = 0;
	return 0;
}

/* Reads every job until each has closed its pipe or the deadline. */
static void
doctor_collect(struct doctor_job *jobs, size_t n, double deadline)
{
	struct pollfd	*pfd;
	size_t		 i, open = 0;
	ssize_t		 r;
	int		 ms;

	pfd = xcalloc(n > 0 ? n : 1, sizeof *pfd);
	for (i = 0; i < n; i++)
		if (jobs[i].fd != -1)
			open++;
	while (open > 0) {
		ms = (int)((deadline - doctor_now()) * 1000);
		if (ms <= 0)
			break;
		for (i = 0; i < n; i++) {
			pfd[i].fd = jobs[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, ms) == -1 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (jobs[i].fd == -1 || pfd[i].revents == 0)
				continue;
			r = read(jobs[i].fd, jobs[i].buf + jobs[i].len,
			    sizeof jobs[i].buf - 1 - jobs[i].len);
			if (r > 0) {
				jobs[i].len += (size_t)r;
				continue;
			}
			if (r == -1 && errno == EINTR)
				continue;
			close(jobs[i].fd);
			jobs[i].fd = -1;
			open--;
		}
	}
	for (i = 0; i < n; i++) {
		if (jobs[i].fd != -1) {
			close(jobs[i].fd);
			jobs[i].fd = -1;
		}
		if (jobs[i].pid > 0) {
			kill(jobs[i].pid, SIGKILL);
			while (waitpid(jobs[i].pid, NULL, 0) == -1 &&
			    errno == EINTR)
				;
			jobs[i].pid = 0;
		}
	}
	free(pfd);
}

/* ---- stdio servers ------------------------------------------------------- */

static const char *
doctor_server_env(const struct config_server *s, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; i < s->nenv; i++)
		if (strncmp(s->env[i], name, n) == 0 && s->env[i][n] == '=')
			return s->env[i] + n + 1;
	return NULL;
}

/*
 * Resolves the command as execvp() in the daemon's child would: with the
 * server's PATH (else ours, which the daemon passes on), relative to its
 * cwd.  Runs as the daemon's user (see doctor_command_child).
 */
static void
doctor_command_check(int fd, const void *arg, const struct doctor *d)
{
	const struct config_server *s = arg;
	const char	*path, *p, *e;
	char		 check[PATH_MAX], cand[PATH_MAX], fix[PATH_MAX + 128];
	char		 noexec[PATH_MAX] = "";
	struct stat	 st;
	size_t		 n;

	snprintf(check, sizeof check, "command %s", s->name);
	if (strchr(s->command, '/') != NULL) {
		if (s->command[0] != '/' && s->cwd != NULL)
			snprintf(cand, sizeof cand, "%s/%s", s->cwd,
			    s->command);
		else
			snprintf(cand, sizeof cand, "%s", s->command);
		if (stat(cand, &st) == -1 && errno == EACCES) {
			snprintf(fix, sizeof fix, "let user %s search the "
			    "directories above it (chmod o+x), or move it",
			    d->user);
			doctor_emit(fd, DOCTOR_FAIL, check, fix, "%s: user %s "
			    "cannot reach it (%s)", cand, d->user,
			    strerror(errno));
			return;
		}
		if (stat(cand, &st) == -1) {
			snprintf(fix, sizeof fix, "install it, or correct "
			    "servers.%s.command", s->name);
			doctor_emit(fd, DOCTOR_FAIL, check, fix, "%s: %s",
			    cand, strerror(errno));
			return;
		}
		if (!S_ISREG(st.st_mode) || access(cand, X_OK) == -1) {
			snprintf(fix, sizeof fix, "chmod +x %s, or let user "
			    "%s reach it", cand, d->user);
			doctor_emit(fd, DOCTOR_FAIL, check, fix, "%s is not "
			    "executable by %s", cand, d->user);
			return;
		}
		doctor_emit(fd, DOCTOR_OK, check, NULL, "%s, executable by "
		    "%s", cand, d->user);
		return;
	}
	if ((path = doctor_server_env(s, "PATH")) == NULL &&
	    (path = getenv("PATH")) == NULL)
		path = "/bin:/usr/bin";
	for (p = path; ; p = e + 1) {
		e = strchr(p, ':');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > 0) {
			snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p,
			    s->command);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(cand, X_OK) == 0) {
					doctor_emit(fd, DOCTOR_OK, check, NULL,
					    "%s is %s, executable by %s",
					    s->command, cand, d->user);
					return;
				}
				if (noexec[0] == '\0')
					snprintf(noexec, sizeof noexec, "%s",
					    cand);
			}
		}
		if (e == NULL)
			break;
	}
	if (noexec[0] != '\0') {
		snprintf(fix, sizeof fix, "chmod +x %s, or let user %s "
		    "reach it", noexec, d->user);
		doctor_emit(fd, DOCTOR_FAIL, check, fix, "%s is not "
		    "executable by %s", noexec, d->user);
		return;
	}
	snprintf(fix, sizeof fix, "install it, or give its full path in "
	    "servers.%s.command", s->name);
	doctor_emit(fd, DOCTOR_FAIL, check, fix, "'%s' not found on PATH "
	    "(%s)", s->command, path);
}

/* As root, checks as the daemon's user: what access() answers is theirs. */
static void
doctor_command_child(int fd, const void *arg, const struct doctor *d)
{
	char	check[256];

	if (geteuid() == 0 && d->uid != 0) {
		if ((getpwuid(d->uid) != NULL ? initgroups(d->user, d->gid) :
		    setgroups(0, NULL)) == -1 || setgid(d->gid) == -1 ||
		    setuid(d->uid) == -1) {
			snprintf(check, sizeof check, "command %s",
			    ((const struct config_server *)arg)->name);
			doctor_emit(fd, DOCTOR_FAIL, check, "run doctor as "
			    "root or as the daemon's user", "cannot switch "
			    "to %s: %s", d->user, strerror(errno));
			return;
		}
	}
	doctor_command_check(fd, arg, d);
}

/* ---- remote servers ------------------------------------------------------ */

struct doctor_url {
	char	host[256];
	char	port[8];
	int	tls;
};

static int
doctor_url_parse(const char *url, struct doctor_url *u)
{
	const char	*p, *end, *at, *hend;
	size_t		 n;

	memset(u, 0, sizeof *u);
	if (strncasecmp(url, "https://", 8) == 0) {
		u->tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return -1;
	end = p + strcspn(p, "/?#");
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		if ((hend = memchr(p, ']', (size_t)(end - p))) == NULL)
			return -1;
		n = (size_t)(hend - p - 1);
		if (n >= sizeof u->host)
			return -1;
		memcpy(u->host, p + 1, n);
		p = hend + 1;
	} else {
		hend = memchr(p, ':', (size_t)(end - p));
		if (hend == NULL)
			hend = end;
		n = (size_t)(hend - p);
		if (n == 0 || n >= sizeof u->host)
			return -1;
		memcpy(u->host, p, n);
		p = hend;
	}
	if (p < end && *p == ':' && end - p > 1 &&
	    (size_t)(end - p - 1) < sizeof u->port)
		memcpy(u->port, p + 1, (size_t)(end - p - 1));
	else
		snprintf(u->port, sizeof u->port, "%s", u->tls ? "443" : "80");
	return 0;
}

/* Milliseconds left until the deadline, at least 1 while any are. */
static int
doctor_ms_left(double deadline)
{
	double	left = deadline - doctor_now();

	return left <= 0 ? 0 : left * 1000 < 1 ? 1 : (int)(left * 1000);
}

/* A connected socket to one of res's addresses, or -1 with errno. */
static int
doctor_tcp_connect(struct addrinfo *res, double deadline)
{
	struct addrinfo	*ai;
	struct pollfd	 pfd;
	socklen_t	 len;
	int		 fd, err = ECONNREFUSED, soerr;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return fd;
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, doctor_ms_left(deadline)) != 1) {
			err = ETIMEDOUT;
			close(fd);
			continue;
		}
		len = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			soerr = errno;
		if (soerr == 0)
			return fd;
		err = soerr;
		close(fd);
	}
	errno = err;
	return -1;
}

/* The daemon's TLS settings (daemon/http-client.c), or NULL with why. */
static SSL_CTX *
doctor_tls_ctx(const struct config_tls *t, char *why, size_t len)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(why, len, "cannot create a TLS context");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, t->min_version != NULL &&
	    strcmp(t->min_version, "1.3") == 0 ? TLS1_3_VERSION :
	    TLS1_2_VERSION))
		snprintf(why, len, "cannot set the minimum TLS version");
	else if (t->ca_file != NULL &&
	    !SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL))
		snprintf(why, len, "cannot load tls.ca_file '%s'", t->ca_file);
	else if (t->ca_file == NULL && t->verify &&
	    !SSL_CTX_set_default_verify_paths(ctx))
		snprintf(why, len, "cannot load the system's CA certificates");
	else if (t->cert_file != NULL &&
	    (!SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) ||
	    t->key_file == NULL ||
	    !SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx)))
		snprintf(why, len, "cannot use tls.cert_file '%s' with "
		    "tls.key_file", t->cert_file);
	else {
		SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER :
		    SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_free(ctx);
	return NULL;
}

/* 0 when the handshake completed (and verified) by the deadline. */
static int
doctor_tls_handshake(int fd, const struct config_server *s,
    const struct doctor_url *u, double deadline, char *why, size_t len)
{
	unsigned char	 addr[sizeof(struct in6_addr)];
	struct pollfd	 pfd;
	unsigned long	 e;
	SSL_CTX		*ctx;
	SSL		*ssl;
	long		 vr;
	int		 r, literal, rc = -1;

	if ((ctx = doctor_tls_ctx(&s->tls, why, len)) == NULL)
		return -1;
	literal = inet_pton(AF_INET, u->host, addr) == 1 ||
	    inet_pton(AF_INET6, u->host, addr) == 1;
	if ((ssl = SSL_new(ctx)) == NULL) {
		snprintf(why, len, "SSL_new failed");
		SSL_CTX_free(ctx);
		return -1;
	}
	if (!literal)
		SSL_set_tlsext_host_name(ssl, u->host);
	if (s->tls.verify) {
		if (literal)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    u->host);
		else
			SSL_set1_host(ssl, u->host);
	}
	SSL_set_fd(ssl, fd);
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(ssl)) == 1) {
			snprintf(why, len, "%s, %s", SSL_get_version(ssl),
			    s->tls.verify ? "certificate verified" :
			    "not verified (tls.verify: false)");
			rc = 0;
			break;
		}
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_READ:
			pfd.events = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			pfd.events = POLLOUT;
			break;
		default:
			vr = SSL_get_verify_result(ssl);
			e = ERR_peek_last_error();
			if (s->tls.verify && vr != X509_V_OK)
				snprintf(why, len, "certificate: %s",
				    X509_verify_cert_error_string(vr));
			else if (e != 0)
				snprintf(why, len, "%s",
				    ERR_reason_error_string(e) != NULL ?
				    ERR_reason_error_string(e) : "error");
			else
				snprintf(why, len, "the peer closed the "
				    "connection during the handshake");
			goto done;
		}
		pfd.fd = fd;
		pfd.revents = 0;
		if (poll(&pfd, 1, doctor_ms_left(deadline)) != 1) {
			snprintf(why, len, "no handshake in time");
			goto done;
		}
	}
done:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return rc;
}

/* DNS, then TCP, then TLS for https; the first failure skips the rest. */
static void
doctor_remote_check(int fd, const void *arg, const struct doctor *d)
{
	const struct config_server *s = arg;
	struct doctor_url	 u;
	struct addrinfo		 hints, *res;
	char			 c_dns[192], c_tcp[192], c_tls[192];
	char			 addr[INET6_ADDRSTRLEN], fix[512], why[256];
	int			 rc, sock;

	snprintf(c_dns, sizeof c_dns, "dns %s", s->name);
	snprintf(c_tcp, sizeof c_tcp, "tcp %s", s->name);
	snprintf(c_tls, sizeof c_tls, "tls %s", s->name);
	if (doctor_url_parse(s->url, &u) == -1) {
		doctor_emit(fd, DOCTOR_FAIL, c_dns, "correct the url",
		    "cannot read the host in servers.%s.url", s->name);
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(u.host, u.port, &hints, &res)) != 0) {
		snprintf(fix, sizeof fix, "check the host in servers.%s.url "
		    "and the resolver (/etc/resolv.conf)", s->name);
		doctor_emit(fd, DOCTOR_FAIL, c_dns, fix, "%s: %s", u.host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		doctor_emit(fd, DOCTOR_SKIP, c_tcp, NULL, "no address");
		doctor_emit(fd, DOCTOR_SKIP, c_tls, NULL, "no address");
		return;
	}
	if (res->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)
		    res->ai_addr)->sin6_addr, addr, sizeof addr);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)
		    res->ai_addr)->sin_addr, addr, sizeof addr);
	doctor_emit(fd, DOCTOR_OK, c_dns, NULL, "%s is %s", u.host, addr);
	if ((sock = doctor_tcp_connect(res, d->deadline)) == -1) {
		snprintf(fix, sizeof fix, "is the server running at %s? "
		    "check the port and any firewall", s->url);
		doctor_emit(fd, DOCTOR_FAIL, c_tcp, fix, "connect %s port "
		    "%s: %s", u.host, u.port, strerror(errno));
		doctor_emit(fd, DOCTOR_SKIP, c_tls, NULL, "not connected");
		freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);
	doctor_emit(fd, DOCTOR_OK, c_tcp, NULL, "%s port %s", u.host, u.port);
	if (!u.tls) {
		doctor_emit(fd, DOCTOR_SKIP, c_tls, NULL, "plain http");
		close(sock);
		return;
	}
	OPENSSL_init_ssl(0, NULL);
	if (doctor_tls_handshake(sock, s, &u, d->deadline, why,
	    sizeof why) == 0)
		doctor_emit(fd, DOCTOR_OK, c_tls, NULL, "%s", why);
	else {
		snprintf(fix, sizeof fix, "is it https at that port? set "
		    "servers.%s.tls.ca_file to the CA that signed its "
		    "certificate (docs/remote.md)", s->name);
		doctor_emit(fd, DOCTOR_FAIL, c_tls, fix, "handshake with %s "
		    "port %s: %s", u.host, u.port, why);
	}
	close(sock);
}

/* ---- servers: all their checks at once, printed in config order ---------- */

static void
doctor_servers(struct doctor *d)
{
	const struct config_server *s;
	struct doctor_job	*jobs;
	char			 check[192], last[192];
	size_t			 i, n = d->cfg->nservers;
	int			 printed, want;

	jobs = xcalloc(n > 0 ? n : 1, sizeof *jobs);
	d->deadline = doctor_now() + d->timeout;
	for (i = 0; i < n; i++) {
		s = &d->cfg->servers[i];
		jobs[i].fd = -1;
		if (!s->enabled)
			continue;
		if (doctor_spawn(&jobs[i], s->type == CONFIG_SERVER_STDIO ?
		    doctor_command_child : doctor_remote_check, s, d) == -1)
			jobs[i].pid = -1;
	}
	/* A moment more, for a child to say which step ran out of time. */
	doctor_collect(jobs, n, d->deadline + 0.25);
	for (i = 0; i < n; i++) {
		s = &d->cfg->servers[i];
		if (!s->enabled) {
			snprintf(check, sizeof check, "server %s", s->name);
			doctor_line(d, DOCTOR_SKIP, check, NULL, "enabled: "
			    "false");
			continue;
		}
		last[0] = '\0';
		printed = doctor_print_report(d, &jobs[i], last, sizeof last);
		want = s->type == CONFIG_SERVER_STDIO ? 1 : 3;
		if (printed >= want)
			continue;
		/* Killed at the deadline: the check it was at failed. */
		if (s->type == CONFIG_SERVER_STDIO)
			snprintf(check, sizeof check, "command %s", s->name);
		else
			snprintf(check, sizeof check, "%s %s", printed == 0 ?
			    "dns" : printed == 1 ? "tcp" : "tls", s->name);
		doctor_line(d, DOCTOR_FAIL, check, "check the network, or "
		    "give doctor a longer --timeout", "no answer within %gs",
		    d->timeout);
	}
	free(jobs);
}

/* ---- systemd ------------------------------------------------------------- */

/* Runs argv with stdout into out (NUL-terminated); -1 past the deadline. */
static int
doctor_run(char *const argv[], char *out, size_t len, double deadline)
{
	struct doctor_job	j;
	int			p[2], devnull;

	memset(&j, 0, sizeof j);
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	fflush(NULL);
	if ((j.pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (j.pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		if ((devnull = open("/dev/null", O_RDWR)) != -1) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	j.fd = p[0];
	/* The child closing its pipe is its end; collect reaps it. */
	doctor_collect(&j, 1, deadline);
	j.buf[j.len] = '\0';
	snprintf(out, len, "%s", j.buf);
	return 0;
}

/* The value of "KEY=value" in systemctl show's output, or "". */
static void
doctor_prop(const char *text, const char *key, char *buf, size_t len)
{
	const char	*p = text;
	size_t		 n = strlen(key);

	buf[0] = '\0';
	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p != NULL ? p + 1 : NULL) {
		if (strncmp(p, key, n) == 0 && p[n] == '=') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + n + 1,
			    "\n"), p + n + 1);
			return;
		}
	}
}

static void
doctor_systemd(struct doctor *d)
{
	char		 out[DOCTOR_REPORT_MAX], load[64], active[64];
	char		 enabled[64], fix[256];
	char		*argv[] = { "systemctl", "--system", "show",
			    "--property=LoadState,ActiveState,UnitFileState",
			    DOCTOR_UNIT, NULL };
	struct stat	 st;
	const char	*scope = "";

	if (stat("/run/systemd/system", &st) == -1) {
		doctor_line(d, DOCTOR_SKIP, "systemd", NULL,
		    "systemd is not running");
		return;
	}
	/* A user's own configuration goes with the user unit. */
	if (geteuid() != 0 &&
	    strcmp(d->config_path, DOCTOR_SYSTEM_CONFIG) != 0) {
		argv[1] = "--user";
		scope = " --user";
	}
	if (doctor_run(argv, out, sizeof out, doctor_now() + d->timeout) ==
	    -1) {
		doctor_line(d, DOCTOR_SKIP, "systemd", NULL, "cannot run "
		    "systemctl: %s", strerror(errno));
		return;
	}
	doctor_prop(out, "LoadState", load, sizeof load);
	doctor_prop(out, "ActiveState", active, sizeof active);
	doctor_prop(out, "UnitFileState", enabled, sizeof enabled);
	if (*load == '\0') {
		doctor_line(d, DOCTOR_SKIP, "systemd", NULL, "systemctl%s "
		    "did not answer", scope);
		return;
	}
	if (strcmp(load, "loaded") != 0) {
		doctor_line(d, DOCTOR_SKIP, "systemd", NULL, "no %s unit "
		    "(%s)", DOCTOR_UNIT, load);
		return;
	}
	if (strcmp(active, "active") == 0 || strcmp(active, "reloading") ==
	    0) {
		doctor_line(d, DOCTOR_OK, "systemd", NULL, "%s%s is %s, %s",
		    DOCTOR_UNIT, scope, active, enabled);
		return;
	}
	if (d->status != NULL && strcmp(active, "failed") != 0) {
		doctor_line(d, DOCTOR_OK, "systemd", NULL, "%s%s is %s: "
		    "mcprelayd (pid %ld) runs outside it", DOCTOR_UNIT, scope,
		    active, d->daemon_pid);
		return;
	}
	snprintf(fix, sizeof fix, "journalctl%s -u mcprelayd, then "
	    "systemctl%s enable --now mcprelayd", scope, scope);
	doctor_line(d, DOCTOR_FAIL, "systemd", fix, "%s%s is %s, %s",
	    DOCTOR_UNIT, scope, active, enabled);
}

/* ---- the command --------------------------------------------------------- */

/* The user's own file when there is one and we are not root. */
static const char *
doctor_default_config(char *buf, size_t len)
{
	const char	*dir, *home;

	if (geteuid() != 0) {
		if ((dir = getenv("XDG_CONFIG_HOME")) != NULL && *dir != '\0')
			snprintf(buf, len, "%s/mcprelay/mcprelay.yaml", dir);
		else if ((home = getenv("HOME")) != NULL && *home != '\0')
			snprintf(buf, len, "%s/.config/mcprelay/mcprelay.yaml",
			    home);
		else
			buf[0] = '\0';
		if (buf[0] != '\0' && access(buf, F_OK) == 0)
			return buf;
	}
	return DOCTOR_SYSTEM_CONFIG;
}

static int
doctor_config(struct doctor *d)
{
	struct config_errors	errs;
	char			summary[512], fix[PATH_MAX + 64];

	config_errors_init(&errs);
	if ((d->cfg = config_load_file(d->config_path, &errs)) == NULL) {
		config_errors_print(&errs, stderr);
		if (access(d->config_path, F_OK) == -1)
			snprintf(fix, sizeof fix, "write one "
			    "(mcprelay.yaml(5)), or name yours with --config");
		else
			snprintf(fix, sizeof fix, "correct it (mcprelayctl "
			    "check-config %s)", d->config_path);
		doctor_line(d, DOCTOR_FAIL, "config", fix, "%s",
		    errs.n > 0 ? errs.msgs[0] : d->config_path);
		config_errors_free(&errs);
		return -1;
	}
	config_errors_free(&errs);
	config_summary(d->cfg, summary, sizeof summary);
	doctor_line(d, DOCTOR_OK, "config", NULL, "%s: %s", d->config_path,
	    summary);
	return 0;
}

int
cmd_doctor(const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct doctor	 d;
	char		 buf[PATH_MAX], sock[PATH_MAX];
	int		 ch;

	memset(&d, 0, sizeof d);
	d.timeout = DOCTOR_TIMEOUT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:t:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			break;
		case 't':
			if (duration_parse(optarg, &d.timeout) == -1 ||
			    d.timeout <= 0 || d.timeout > 3600) {
				fprintf(stderr, "mcprelayctl: --timeout: '%s' "
				    "is not a duration up to 1h\n", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error(self);
		}
	}
	if (optind != argc)
		return ctl_usage_error(self);
	if (d.config_path == NULL)
		d.config_path = doctor_default_config(buf, sizeof buf);
	/* The daemon going away mid-write is an answer, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	if (doctor_config(&d) == 0) {
		config_control_socket(d.cfg, sock, sizeof sock);
		doctor_ask_daemon(&d, sock);
		doctor_guess_user(&d);
		doctor_socket(&d, "control", sock, d.cfg->control.mode,
		    d.cfg->control.group, "control.socket");
		if (d.cfg->listen.unix_socket.enabled)
			doctor_socket(&d, "mcp", d.cfg->listen.unix_socket.path,
			    d.cfg->listen.unix_socket.mode,
			    d.cfg->listen.unix_socket.group,
			    "listen.unix.path");
		doctor_port(&d, "http", "http", &d.cfg->listen.http,
		    "listen.http");
		doctor_port(&d, "metrics", "metrics", &d.cfg->metrics.listen,
		    "metrics.listen");
		doctor_servers(&d);
	} else
		doctor_line(&d, DOCTOR_SKIP, "checks", NULL, "sockets, ports "
		    "and servers need a valid configuration");
	doctor_oauth(&d);
	doctor_systemd(&d);

	json_object_put(d.status);
	json_object_put(d.servers);
	config_free(d.cfg);
	if (d.nfail > 0) {
		printf("%d check%s failed\n", d.nfail, d.nfail == 1 ? "" :
		    "s");
		return CTL_EXIT_FAIL;
	}
	printf("all checks passed\n");
	return CTL_EXIT_OK;
}
