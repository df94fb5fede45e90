/*
 * What identifying a client costs (docs/benchmarks.md, "Access").  "lookup"
 * times peer_tcp_uid() alone on fresh loopback connections of this
 * process; "http URL" times a request on a new connection each time and on
 * one kept-alive connection, against a running mcprelayd whose stats then
 * say how many lookups it made and how long they took.  One key=value line.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"

static double
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "NAME_p50=.. NAME_p90=.. NAME_p99=.. NAME_max=.." in microseconds. */
static void
print_quantiles(const char *name, double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	printf(" %s_p50=%.1f %s_p90=%.1f %s_p99=%.1f %s_max=%.1f", name,
	    v[n / 2], name, v[n * 9 / 10], name, v[n * 99 / 100], name,
	    v[n - 1]);
}

static int
listen_on(int family, struct sockaddr_storage *ss, socklen_t *sl)
{
	int	fd;

	memset(ss, 0, sizeof *ss);
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
		*sl = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
		*sl = sizeof(struct sockaddr_in6);
	}
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)ss, *sl) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)ss, sl) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
bench_lookup(int family, const char *name, size_t n)
{
	struct sockaddr_storage	 ss;
	struct peer_diag	*pd;
	socklen_t		 sl;
	double			*t, t0;
	uid_t			 uid;
	uint32_t		 inode;
	char			 err[256];
	size_t			 i;
	int			 l, c, s;

	if ((l = listen_on(family, &ss, &sl)) == -1) {
		printf(" %s=unavailable", name);
		return 0;
	}
	if ((pd = peer_diag_new(err, sizeof err)) == NULL) {
		fprintf(stderr, "accessbench: %s\n", err);
		return -1;
	}
	t = calloc(n, sizeof *t);
	for (i = 0; i < n; i++) {
		c = socket(family, SOCK_STREAM, 0);
		if (c == -1 || connect(c, (struct sockaddr *)&ss, sl) == -1 ||
		    (s = accept(l, NULL, NULL)) == -1) {
			fprintf(stderr, "accessbench: connect: %s\n",
			    strerror(errno));
			return -1;
		}
		t0 = now_us();
		if (peer_tcp_uid(pd, s, &uid, &inode, err, sizeof err) == -1) {
			fprintf(stderr, "accessbench: lookup: %s\n", err);
			return -1;
		}
		t[i] = now_us() - t0;
		if (uid != geteuid()) {
			fprintf(stderr, "accessbench: uid %ld, not ours\n",
			    (long)uid);
			return -1;
		}
		close(c);
		close(s);
	}
	print_quantiles(name, t, n);
	free(t);
	peer_diag_free(pd);
	close(l);
	return 0;
}

static int
connect_to(const struct sockaddr_in *sin)
{
	int	fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)sin, sizeof *sin) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request, its whole response (Content-Length); 0 or -1. */
static int
exchange(int fd, const char *req, size_t len)
{
	char	 buf[8192], *body;
	size_t	 got = 0;
	ssize_t	 r;
	long	 clen;

	if (write(fd, req, len) != (ssize_t)len)
		return -1;
	for (;;) {
		if ((r = read(fd, buf + got, sizeof buf - 1 - got)) <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = '\0';
		if ((body = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		body += 4;
		clen = 0;
		if (strstr(buf, "Content-Length: ") != NULL)
			clen = strtol(strstr(buf, "Content-Length: ") + 16,
			    NULL, 10);
		if ((size_t)(body - buf) + (size_t)clen <= got)
			return strncmp(buf, "HTTP/1.1 ", 9) == 0 ? 0 : -1;
	}
}

static int
bench_http(const char *host, int port, size_t n)
{
	struct sockaddr_in	 sin;
	char			 req[256];
	double			*fresh, *kept, t0;
	size_t			 i, len;
	int			 fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &sin.sin_addr);
	/* Identified, then 404: the listener's whole path without an
	 * upstream, so that the lookup is a visible part of it. */
	len = (size_t)snprintf(req, sizeof req, "GET /nothing HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n\r\n");
	fresh = calloc(n, sizeof *fresh);
	kept = calloc(n, sizeof *kept);
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if ((fd = connect_to(&sin)) == -1 ||
		    exchange(fd, req, len) == -1) {
			fprintf(stderr, "accessbench: new connection %zu "
			    "failed\n", i);
			return -1;
		}
		fresh[i] = now_us() - t0;
		close(fd);
	}
	if ((fd = connect_to(&sin)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if (exchange(fd, req, len) == -1) {
			fprintf(stderr, "accessbench: kept-alive request %zu "
			    "failed\n", i);
			return -1;
		}
		kept[i] = now_us() - t0;
	}
	close(fd);
	print_quantiles("new_conn_us", fresh, n);
	print_quantiles("keepalive_us", kept, n);
	printf(" connections=%zu requests=%zu", n + 1, 2 * n);
	free(fresh);
	free(kept);
	return 0;
}

int
main(int argc, char *argv[])
{
	size_t	n = 2000;
	int	rc;

	log_init("accessbench", LOG_LEVEL_ERROR);
	if (argc >= 3 && strcmp(argv[1], "-n") == 0) {
		n = strtoul(argv[2], NULL, 10);
		argc -= 2;
		argv += 2;
	}
	if (n < 10) {
		fprintf(stderr, "accessbench: -n must be at least 10\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "lookup") == 0) {
		printf("lookups=%zu", n);
		rc = bench_lookup(AF_INET, "ipv4_us", n);
		if (rc == 0)
			rc = bench_lookup(AF_INET6, "ipv6_us", n);
	} else if (argc == 4 && strcmp(argv[1], "http") == 0) {
		printf("n=%zu", n);
		rc = bench_http(argv[2], atoi(argv[3]), n);
	} else {
		fprintf(stderr, "usage: accessbench [-n N] lookup\n"
		    "       accessbench [-n N] http HOST PORT\n");
		return 2;
	}
	printf("\n");
	return rc == 0 ? 0 : 1;
}
