/*
 * Fuzz target: daemon/httpd.c's reading of requests, over a socketpair.
 * The first two bytes choose the limits and how the rest is cut into
 * writes.  What the server answers (each request echoed back in full by
 * the application, every refusal) must not depend on the cutting: it is
 * compared with one write of everything, Date headers and interim
 * 100 Continue replies set aside.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "httpd.h"
#include "log.h"

#define FUZZ_SPINS	64	/* loop turns with nothing new: all said */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-httpd", LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void *
fuzz_accept_cb(struct httpd_conn *c, void *arg)
{
	return arg;
}

/* The application: every part of the request back, as the reply body. */
static void
fuzz_request_cb(struct httpd_req *req, void *arg)
{
	static const char *const names[] = { "Host", "Content-Type",
	    "Mcp-Session-Id", "X-A", "Content-Length", "Transfer-Encoding",
	    "Connection", "Expect", NULL };
	struct fuzz_buf	 body = { NULL, 0, 0 };
	const char	*v, *b;
	size_t		 len;
	int		 i;

	fuzz_buf_add(&body, "M", 1);
	fuzz_buf_add(&body, &"0123456789"[httpd_req_method(req) % 10], 1);
	v = httpd_req_path(req);
	FUZZ_ASSERT(v != NULL && (v[0] == '/' || v[0] == '*'));
	fuzz_buf_add(&body, v, strlen(v) + 1);
	if ((v = httpd_req_query(req)) != NULL)
		fuzz_buf_add(&body, v, strlen(v) + 1);
	for (i = 0; names[i] != NULL; i++)
		if ((v = httpd_req_header(req, names[i])) != NULL) {
			FUZZ_ASSERT(strpbrk(v, "\r\n") == NULL);
			fuzz_buf_add(&body, v, strlen(v) + 1);
		}
	b = httpd_req_body(req, &len);
	fuzz_buf_add(&body, b, len);
	httpd_add_header(req, "X-Echo", "1");
	httpd_reply(req, 200, "OK", body.p, body.len);
	free(body.p);
}

static void
fuzz_close_cb(struct httpd_conn *c, void *arg, enum httpd_close why)
{
}

/* Reads what the server sent; 1 when it closed its side. */
static int
fuzz_drain(int fd, struct fuzz_buf *out)
{
	char	buf[4096];
	ssize_t	n;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
		fuzz_buf_add(out, buf, (size_t)n);
	return n == 0;
}

/* Date lines and interim replies out: they may differ run to run. */
static void
fuzz_normalise(struct fuzz_buf *o)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	char	*p, *end;
	size_t	 n;

	if (o->p == NULL)
		return;
	while ((p = memmem(o->p, o->len, cont, sizeof cont - 1)) != NULL) {
		memmove(p, p + sizeof cont - 1, o->len - (size_t)(p - o->p) -
		    (sizeof cont - 1));
		o->len -= sizeof cont - 1;
	}
	while ((p = memmem(o->p, o->len, "\r\nDate: ", 8)) != NULL) {
		if ((end = memmem(p + 2, o->len - (size_t)(p + 2 - o->p),
		    "\r\n", 2)) == NULL)
			break;
		n = (size_t)(end - p);
		memmove(p, end, o->len - (size_t)(end - o->p));
		o->len -= n;
	}
}

/*
 * One connection fed data in writes of the sizes cut[] gives (0: all at
 * once), the loop run between them; everything the server said.
 */
static void
fuzz_run(const struct httpd_limits *lim, const uint8_t *data, size_t size,
    uint8_t seed, int whole, struct fuzz_buf *out)
{
	static const struct httpd_callbacks cb = {
		.accept = fuzz_accept_cb,
		.request = fuzz_request_cb,
		.close = fuzz_close_cb,
	};
	struct event_base	*base;
	struct httpd		*h;
	int			 sv[2], quiet, closed = 0;
	size_t			 at = 0, n, before;
	unsigned		 rng = seed * 2654435761u + 1;
	ssize_t			 w;

	FUZZ_ASSERT((base = event_base_new()) != NULL);
	h = httpd_new_unbound(base, &cb, (void *)&cb);
	httpd_set_limits(h, lim);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	httpd_adopt(h, sv[0]);
	while (at < size && !closed) {
		n = size - at;
		if (!whole) {
			rng = rng * 1103515245u + 12345u;
			n = 1 + (rng >> 16) % 97;
			if (n > size - at)
				n = size - at;
		}
		if ((w = send(sv[1], data + at, n, MSG_NOSIGNAL)) > 0)
			at += (size_t)w;
		else if (w == -1 && errno != EAGAIN)
			break;	/* the server closed; the rest is unread */
		event_base_loop(base, EVLOOP_NONBLOCK);
		closed = fuzz_drain(sv[1], out);
	}
	/* Then until nothing more comes. */
	for (quiet = 0; quiet < FUZZ_SPINS && !closed; quiet++) {
		before = out->len;
		event_base_loop(base, EVLOOP_NONBLOCK);
		closed = fuzz_drain(sv[1], out);
		if (out->len != before)
			quiet = 0;
	}
	close(sv[1]);
	httpd_free(h);
	event_base_free(base);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpd_limits	 lim;
	struct fuzz_buf		 a = { NULL, 0, 0 }, b = { NULL, 0, 0 };

	if (size < 2)
		return 0;
	memset(&lim, 0, sizeof lim);
	lim.max_header_size = 64 + (size_t)(data[0] & 0x0f) * 64;
	lim.max_body_size = (size_t)(data[0] >> 4) * 32;
	fuzz_run(&lim, data + 2, size - 2, data[1], 1, &a);
	fuzz_run(&lim, data + 2, size - 2, data[1], 0, &b);
	fuzz_normalise(&a);
	fuzz_normalise(&b);
	FUZZ_ASSERT(a.len == b.len);
	FUZZ_ASSERT(a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
	free(a.p);
	free(b.p);
	return 0;
}
