/*
 * The in-process relay behind the listener fuzz targets; see fuzz-relay.h.
 * Loopback delivers a write to the peer at once, so running the loop
 * without blocking until a few rounds pass with nothing received is enough
 * for every reply the relay can produce without an upstream.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz-relay.h"
#include "relay.h"

/* Rounds of the loop with nothing received before we call it quiet. */
#define FUZZ_QUIET_ROUNDS	12
#define FUZZ_MAX_ROUNDS		2000

static char	fuzz_dir[64];

static int
fuzz_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void
fuzz_relay_cleanup(void)
{
	if (fuzz_dir[0] != '\0')
		nftw(fuzz_dir, fuzz_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

const char *
fuzz_relay_dir(void)
{
	const char	*tmp;

	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	/* Short: a Unix socket path must fit in sun_path. */
	if ((tmp = getenv("TMPDIR")) == NULL || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/mcpfuzz.XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(fuzz_relay_cleanup);
	return fuzz_dir;
}

struct relay *
fuzz_relay_new(const char *yaml)
{
	static char	 path[128];
	struct relay	*relay;
	FILE		*f;
	int		 rc;

	if (path[0] == '\0') {
		snprintf(path, sizeof path, "%s/relay.yaml", fuzz_relay_dir());
		if ((f = fopen(path, "w")) == NULL) {
			perror(path);
			exit(1);
		}
		fprintf(f, yaml, fuzz_relay_dir());
		fclose(f);
	}
	if ((relay = relay_new(path, 0, &rc)) == NULL) {
		fprintf(stderr, "fuzz: the relay did not start (%d)\n", rc);
		exit(1);
	}
	return relay;
}

void
fuzz_clients_init(struct fuzz_clients *cl, struct relay *relay)
{
	memset(cl, 0, sizeof *cl);
	cl->relay = relay;
}

static struct fuzz_conn *
fuzz_conn_add(struct fuzz_clients *cl, int fd)
{
	struct fuzz_conn	*c;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		perror("fcntl");
		exit(1);
	}
	c = &cl->c[cl->n++];
	memset(c, 0, sizeof *c);
	c->fd = fd;
	return c;
}

/*
 * A blocking connect, which on loopback completes in the listen backlog.
 * libFuzzer's timeout alarm may interrupt it; the connection then goes on
 * in the background, so wait for it rather than fail.
 */
static int
fuzz_connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	socklen_t	elen = sizeof(int);
	int		err = 0;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	while (poll(&pfd, 1, -1) == -1)
		if (errno != EINTR)
			return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

struct fuzz_conn *
fuzz_connect_tcp(struct fuzz_clients *cl, int port)
{
	struct sockaddr_in	sin;
	int			fd, one = 1;

	if (cl->n == FUZZ_MAX_CONNS)
		return NULL;
	/*
	 * From FUZZ_TCP_HOST too, so no port on 127.0.0.1 is taken.  The
	 * source port is left to connect(), which may reuse one still in
	 * TIME_WAIT: a fuzzer opens thousands of connections a second.
	 */
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, FUZZ_TCP_HOST, &sin.sin_addr) != 1)
		abort();
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("fuzz: socket");
		exit(1);
	}
#ifdef IP_BIND_ADDRESS_NO_PORT
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof one);
#endif
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		perror("fuzz: bind");
		exit(1);
	}
	sin.sin_port = htons((uint16_t)port);
	if (fuzz_connect_fd(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		perror("fuzz: connect");
		exit(1);
	}
	return fuzz_conn_add(cl, fd);
}

struct fuzz_conn *
fuzz_connect_unix(struct fuzz_clients *cl, const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	if (cl->n == FUZZ_MAX_CONNS)
		return NULL;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    fuzz_connect_fd(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		perror("fuzz: connect");
		exit(1);
	}
	return fuzz_conn_add(cl, fd);
}

/* Reads what is there; returns the number of bytes read. */
static size_t
fuzz_conn_read(struct fuzz_conn *c)
{
	char	buf[16384];
	ssize_t	n;
	size_t	total = 0;

	while (c->fd != -1) {
		n = recv(c->fd, buf, sizeof buf, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The relay closed it (or reset it): keep what came. */
			close(c->fd);
			c->fd = -1;
			total++;
			break;
		}
		total += (size_t)n;
		/* Keep the start and the newest bytes; drop the middle. */
		if (c->inlen + (size_t)n > FUZZ_MAX_RECEIVED)
			c->inlen = FUZZ_MAX_RECEIVED / 2;
		if (c->incap < c->inlen + (size_t)n + 1) {
			c->incap = c->inlen + (size_t)n + 1 + 4096;
			if ((c->in = realloc(c->in, c->incap)) == NULL)
				abort();
		}
		memcpy(c->in + c->inlen, buf, (size_t)n);
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
	}
	return total;
}

void
fuzz_pump(struct fuzz_clients *cl)
{
	struct event_base	*base = cl->relay->base;
	size_t			 i, got;
	int			 quiet = 0, rounds;

	for (rounds = 0; rounds < FUZZ_MAX_ROUNDS &&
	    quiet < FUZZ_QUIET_ROUNDS; rounds++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		for (got = 0, i = 0; i < cl->n; i++)
			got += fuzz_conn_read(&cl->c[i]);
		quiet = got > 0 ? 0 : quiet + 1;
	}
}

void
fuzz_send(struct fuzz_clients *cl, struct fuzz_conn *c, const void *data,
    size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 stuck = 0;

	while (len > 0 && c->fd != -1 && stuck < 100) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* The relay is not reading: let it run. */
			fuzz_pump(cl);
			stuck++;
			continue;
		}
		if (n == -1)
			break;	/* the relay closed the connection */
		p += n;
		len -= (size_t)n;
		stuck = 0;
	}
}

void
fuzz_shutdown_write(struct fuzz_conn *c)
{
	if (c->fd != -1)
		shutdown(c->fd, SHUT_WR);
}

void
fuzz_clients_finish(struct fuzz_clients *cl)
{
	size_t	i;

	/* FUZZ_DEBUG=1 shows what each connection received, for seeds. */
	for (i = 0; i < cl->n; i++) {
		if (getenv("FUZZ_DEBUG") != NULL)
			fprintf(stderr, "---- connection %zu received %zu "
			    "bytes:\n%.*s\n", i, cl->c[i].inlen,
			    (int)cl->c[i].inlen,
			    cl->c[i].in != NULL ? cl->c[i].in : "");
		if (cl->c[i].fd != -1)
			close(cl->c[i].fd);
		cl->c[i].fd = -1;
	}
	/* The relay sees every close before it is freed. */
	fuzz_pump(cl);
	relay_free(cl->relay);
	for (i = 0; i < cl->n; i++)
		free(cl->c[i].in);
	cl->n = 0;
	cl->relay = NULL;
}

int
fuzz_next_segment(const uint8_t **data, size_t *size, const uint8_t **seg,
    size_t *len)
{
	const size_t	 seplen = sizeof FUZZ_SEPARATOR - 1;
	const uint8_t	*p = *data, *sep = NULL;
	size_t		 i;

	if (*data == NULL)
		return 0;
	for (i = 0; i + seplen <= *size; i++) {
		if (memcmp(p + i, FUZZ_SEPARATOR, seplen) == 0) {
			sep = p + i;
			break;
		}
	}
	*seg = p;
	if (sep == NULL) {
		*len = *size;
		*data = NULL;
		*size = 0;
		return 1;
	}
	*len = (size_t)(sep - p);
	*data = sep + seplen;
	*size -= *len + seplen;
	return 1;
}
