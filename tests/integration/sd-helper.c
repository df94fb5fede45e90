/*
 * The service manager's side of the systemd protocols, for
 * tests/integration/systemd.test.mjs (Node cannot bind a Unix datagram
 * socket): "sink" records sd_notify datagrams, "activate" passes listening
 * sockets as systemd does (fds from 3 on, LISTEN_PID/FDS/FDNAMES).
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SD_HELPER_MAX_FDS	8

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sd-helper sink PATH\n"
	    "       sd-helper activate [--listen-pid PID] NAME=ADDR... -- "
	    "COMMAND [ARG...]\n"
	    "\n"
	    "sink: bind a datagram socket at PATH (@NAME: abstract), print\n"
	    "  {\"bound\":PATH}, then one JSON line per datagram\n"
	    "  {\"t_us\":CLOCK_MONOTONIC, \"pid\":sender, \"msg\":text}; "
	    "exit when stdin\n"
	    "  closes.\n"
	    "activate: listen on each ADDR (IPv4 HOST:PORT or /unix/path), "
	    "pass the\n"
	    "  sockets as fds 3.. with LISTEN_FDNAMES=NAME:... (NAME \"-\" "
	    "everywhere:\n"
	    "  no LISTEN_FDNAMES), LISTEN_PID=own pid (or PID), and exec "
	    "COMMAND.\n");
	exit(2);
}

static void
json_string(FILE *f, const char *s, size_t len)
{
	size_t	i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int
sink(const char *path)
{
	struct sockaddr_un	 su;
	struct pollfd		 pfd[2];
	struct timespec		 ts;
	socklen_t		 sl;
	int			 fd, on = 1;
	char			 buf[4096];
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;

	memset(&su, 0, sizeof su);
	su.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof su.sun_path) {
		fprintf(stderr, "sd-helper: %s: path too long\n", path);
		return 1;
	}
	strcpy(su.sun_path, path);
	sl = sizeof su;
	if (path[0] == '@') {
		/* Linux abstract namespace, as NOTIFY_SOCKET=@name means. */
		su.sun_path[0] = '\0';
		sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(path));
	} else
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == -1 ||
	    bind(fd, (struct sockaddr *)&su, sl) == -1) {
		fprintf(stderr, "sd-helper: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("{\"bound\":");
	json_string(stdout, path, strlen(path));
	printf("}\n");
	fflush(stdout);

	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = STDIN_FILENO;
	pfd[1].events = POLLIN;
	for (;;) {
		struct iovec	 iov = { buf, sizeof buf };
		struct msghdr	 mh;
		struct cmsghdr	*cm;
		struct ucred	 cred = { 0, 0, 0 };
		ssize_t		 n;

		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0) {
			n = read(STDIN_FILENO, buf, sizeof buf);
			if (n <= 0)
				break;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof cbuf.buf;
		if ((n = recvmsg(fd, &mh, 0)) == -1)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cred, CMSG_DATA(cm), sizeof cred);
		printf("{\"t_us\":%lld,\"pid\":%ld,\"msg\":",
		    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
		    (long)cred.pid);
		json_string(stdout, buf, (size_t)n);
		printf("}\n");
		fflush(stdout);
	}
	close(fd);
	if (path[0] != '@')
		unlink(path);
	return 0;
}

static int
listen_on(const char *addr)
{
	struct sockaddr_un	 su;
	struct sockaddr_in	 sin;
	const char		*colon;
	char			 host[64];
	int			 fd, on = 1;

	if (addr[0] == '/') {
		memset(&su, 0, sizeof su);
		su.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof su.sun_path)
			return -1;
		strcpy(su.sun_path, addr);
		unlink(addr);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&su, sizeof su) == -1 ||
		    listen(fd, 16) == -1)
			return -1;
		return fd;
	}
	if ((colon = strrchr(addr, ':')) == NULL ||
	    (size_t)(colon - addr) >= sizeof host)
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(fd, 16) == -1)
		return -1;
	return fd;
}

static int
activate(int argc, char **argv)
{
	char	 names[512] = "", num[32], *eq;
	int	 fds[SD_HELPER_MAX_FDS], nfds = 0, i, named = 0;
	long	 pid = (long)getpid();

	if (argc >= 2 && strcmp(argv[0], "--listen-pid") == 0) {
		pid = atol(argv[1]);
		argc -= 2;
		argv += 2;
	}
	for (; argc > 0 && strcmp(argv[0], "--") != 0; argc--, argv++) {
		if ((eq = strchr(argv[0], '=')) == NULL ||
		    nfds == SD_HELPER_MAX_FDS)
			usage();
		*eq = '\0';
		if ((fds[nfds] = listen_on(eq + 1)) == -1) {
			fprintf(stderr, "sd-helper: listen on %s: %s\n",
			    eq + 1, strerror(errno));
			return 1;
		}
		/* Out of the way of fds 3.. while they are being placed. */
		if ((fds[nfds] = fcntl(fds[nfds], F_DUPFD, 100)) == -1)
			return 1;
		if (strcmp(argv[0], "-") != 0)
			named = 1;
		if (nfds > 0)
			strncat(names, ":", sizeof names - strlen(names) - 1);
		strncat(names, argv[0], sizeof names - strlen(names) - 1);
		nfds++;
	}
	if (argc < 2)
		usage();
	argv++;
	for (i = 3; i < 100; i++)
		close(i);
	for (i = 0; i < nfds; i++) {
		if (dup2(fds[i], 3 + i) == -1)
			return 1;
		close(fds[i]);
	}
	snprintf(num, sizeof num, "%ld", pid);
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof num, "%d", nfds);
	setenv("LISTEN_FDS", num, 1);
	if (named)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
	execvp(argv[0], argv);
	fprintf(stderr, "sd-helper: %s: %s\n", argv[0], strerror(errno));
	return 127;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "sink") == 0)
		return sink(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "activate") == 0)
		return activate(argc - 2, argv + 2);
	usage();
	return 2;
}
