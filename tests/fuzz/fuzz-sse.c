/*
 * Fuzz target: common/sse.c.  The first two bytes choose the size limit and
 * how the rest is cut into chunks.  The events, comments and final state
 * must not depend on the chunking (compared with one feed of everything),
 * and what sse_write_event() writes must parse back to the same event.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "log.h"
#include "sse.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-sse", LOG_LEVEL_ERROR);
	return 0;
}

/* Length-prefixed, so no two different logs look the same. */
static void
fuzz_log_field(struct fuzz_buf *l, const char *p, size_t n)
{
	fuzz_buf_add(l, &n, sizeof n);
	fuzz_buf_add(l, p, n);
}

static void
fuzz_event_cb(const struct sse_event *ev, void *arg)
{
	struct fuzz_buf	*l = arg;

	FUZZ_ASSERT(ev->event != NULL && ev->data != NULL);
	FUZZ_ASSERT(ev->data[ev->data_len] == '\0');
	fuzz_buf_add(l, "E", 1);
	fuzz_log_field(l, ev->event, strlen(ev->event));
	fuzz_log_field(l, ev->data, ev->data_len);
	if (ev->id != NULL)
		fuzz_log_field(l, ev->id, strlen(ev->id));
	else
		fuzz_buf_add(l, "-", 1);
	fuzz_buf_add(l, &ev->retry, sizeof ev->retry);
}

static void
fuzz_comment_cb(const char *text, size_t len, void *arg)
{
	struct fuzz_buf	*l = arg;

	fuzz_buf_add(l, "C", 1);
	fuzz_log_field(l, text, len);
}

static void
fuzz_log_state(struct fuzz_buf *l, struct sse_parser *p, int rc)
{
	const char	*id = sse_parser_last_event_id(p);
	long		 retry = sse_parser_retry(p);

	fuzz_buf_add(l, "S", 1);
	fuzz_buf_add(l, &rc, sizeof rc);
	if (id != NULL)
		fuzz_log_field(l, id, strlen(id));
	fuzz_buf_add(l, &retry, sizeof retry);
}

/* What a writer's event looks like once parsed. */
struct fuzz_expect {
	const char	*event;
	const char	*id;
	char		*data;
	size_t		 data_len;
	int		 seen;
};

static void
fuzz_expect_cb(const struct sse_event *ev, void *arg)
{
	struct fuzz_expect	*x = arg;

	FUZZ_ASSERT(!x->seen);
	x->seen = 1;
	FUZZ_ASSERT(strcmp(ev->event, x->event) == 0);
	FUZZ_ASSERT(ev->data_len == x->data_len);
	FUZZ_ASSERT(memcmp(ev->data, x->data, x->data_len) == 0);
	if (x->id == NULL)
		FUZZ_ASSERT(ev->id == NULL);
	else
		FUZZ_ASSERT(ev->id != NULL && strcmp(ev->id, x->id) == 0);
}

/* CRLF and CR become LF: SSE cannot carry a CR. */
static size_t
fuzz_normalise(char *dst, const uint8_t *s, size_t n)
{
	size_t	i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			dst[o++] = '\n';
			if (i + 1 < n && s[i + 1] == '\n')
				i++;
		} else
			dst[o++] = (char)s[i];
	}
	return o;
}

static void
fuzz_write_parse(const uint8_t *data, size_t size)
{
	struct fuzz_expect	 x;
	struct evbuffer		*out;
	struct sse_parser	*p;
	char			 type[32], id[32];
	const char		*event = NULL, *ident = NULL;
	size_t			 n, len;

	memset(&x, 0, sizeof x);
	/* A short event type and id from the front, cut where a NUL is. */
	if (size > 0 && data[0] & 1) {
		n = size < sizeof type - 1 ? size : sizeof type - 1;
		memcpy(type, data, n);
		type[n] = '\0';
		event = type;
	}
	if (size > 1 && data[1] & 1) {
		n = size - 1 < sizeof id - 1 ? size - 1 : sizeof id - 1;
		memcpy(id, data + 1, n);
		id[n] = '\0';
		ident = id;
	}
	/* The writer cuts type and id at CR or LF. */
	if (event != NULL)
		type[strcspn(type, "\r\n")] = '\0';
	if (ident != NULL)
		id[strcspn(id, "\r\n")] = '\0';
	x.event = event != NULL && event[0] != '\0' ? event : "message";
	x.id = ident != NULL && ident[0] != '\0' ? ident : NULL;
	if ((x.data = malloc(size + 1)) == NULL)
		abort();
	x.data_len = fuzz_normalise(x.data, data, size);

	out = evbuffer_new();
	sse_write_event(out, event, ident, (const char *)data, size);
	len = evbuffer_get_length(out);
	p = sse_parser_new(len + 1, fuzz_expect_cb, &x);
	FUZZ_ASSERT(sse_parser_feed(p, (const char *)evbuffer_pullup(out, -1),
	    len) == 0);
	FUZZ_ASSERT(x.seen);
	sse_parser_free(p);
	evbuffer_free(out);
	free(x.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 maxes[] = { 0, 1, 2, 5, 16, 100, 1024,
	    65536 };
	struct fuzz_buf		 whole = { NULL, 0, 0 }, chunked = { NULL, 0,
	    0 };
	struct sse_parser	*p;
	size_t			 max, off, chunk;
	uint32_t		 seed;
	int			 rc, rc2;

	if (size < 2)
		return 0;
	max = maxes[data[0] % (sizeof maxes / sizeof maxes[0])];
	seed = data[1];
	data += 2;
	size -= 2;

	p = sse_parser_new(max, fuzz_event_cb, &whole);
	sse_parser_set_comment_cb(p, fuzz_comment_cb);
	rc = sse_parser_feed(p, (const char *)data, size);
	fuzz_log_state(&whole, p, rc);
	/* Once failed, it stays failed until a reset. */
	if (rc == -1)
		FUZZ_ASSERT(sse_parser_feed(p, "\n", 1) == -1);
	sse_parser_free(p);

	p = sse_parser_new(max, fuzz_event_cb, &chunked);
	sse_parser_set_comment_cb(p, fuzz_comment_cb);
	rc = 0;
	for (off = 0; off < size && rc == 0; off += chunk) {
		seed = seed * 1103515245 + 12345;
		switch ((seed >> 16) % 3) {
		case 0:
			chunk = 1;
			break;
		case 1:
			chunk = 1 + (seed >> 20) % 16;
			break;
		default:
			chunk = 1 + (seed >> 18) % 3000;
			break;
		}
		if (chunk > size - off)
			chunk = size - off;
		rc = sse_parser_feed(p, (const char *)data + off, chunk);
	}
	fuzz_log_state(&chunked, p, rc);
	FUZZ_ASSERT(whole.len == chunked.len);
	FUZZ_ASSERT(memcmp(whole.p, chunked.p, whole.len) == 0);

	/* After a reset the parser takes a fresh stream. */
	sse_parser_reset(p);
	rc2 = sse_parser_feed(p, "data: x\n\n", 9);
	FUZZ_ASSERT(max < 7 || rc2 == 0);
	sse_parser_free(p);
	free(whole.p);
	free(chunked.p);

	fuzz_write_parse(data, size);
	return 0;
}
