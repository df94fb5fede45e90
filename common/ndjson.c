/*
 * Newline-delimited framing; see ndjson.h.  The reader remembers how much
 * of in it has scanned, and moves an unfinished line into its own buffer,
 * so each byte is scanned once however the input is chunked, and a peer
 * cannot make us buffer more than max_line.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "ndjson.h"
#include "xmalloc.h"

#define NDJSON_MIN_ALLOC	256
/* Shorter unfinished lines stay in in: see ndjson_reader_next(). */
#define NDJSON_MOVE_MIN		4096

struct ndjson_reader {
	size_t	 max_line;
	char	*buf;		/* unfinished line, no NUL */
	size_t	 len;
	size_t	 cap;
	size_t	 scanned;	/* leading bytes of in with no "\n" */
	int	 discarding;	/* dropping a long line up to "\n" */
};

struct ndjson_reader *
ndjson_reader_new(size_t max_line)
{
	struct ndjson_reader	*r;

	r = xcalloc(1, sizeof *r);
	/* evbuffer_remove() counts in int; leave room for "\r" and NUL. */
	if (max_line > INT_MAX - 2)
		max_line = INT_MAX - 2;
	r->max_line = max_line;
	return r;
}

void
ndjson_reader_free(struct ndjson_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

size_t
ndjson_reader_pending(const struct ndjson_reader *r)
{
	return r->len;
}

/* Never asked for more than max_line + 2, so the buffer stays bounded. */
static void
ndjson_reader_reserve(struct ndjson_reader *r, size_t need)
{
	size_t	cap;

	if (need <= r->cap)
		return;
	cap = r->cap < NDJSON_MIN_ALLOC ? NDJSON_MIN_ALLOC : r->cap;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need || cap > r->max_line + 2)
		cap = need > r->max_line + 2 ? need : r->max_line + 2;
	r->buf = xrealloc(r->buf, cap);
	r->cap = cap;
}

static void
ndjson_reader_drop(struct ndjson_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

static void
ndjson_remove(struct evbuffer *in, char *dst, size_t n)
{
	if (n > 0 && evbuffer_remove(in, dst, n) != (int)n)
		fatalx("ndjson: evbuffer_remove failed");
}

static int
ndjson_is_blank(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	}
	return 1;
}

/*
 * Builds the line from the reader's unfinished part and the first n bytes
 * of in, consuming them and the "\n" after them.  The reader's buffer, when
 * there is one, becomes the line, saving a copy.
 */
static char *
ndjson_reader_take(struct ndjson_reader *r, struct evbuffer *in, size_t n,
    size_t *len)
{
	char	*s;
	size_t	 total = r->len + n;

	if (r->len > 0) {
		ndjson_reader_reserve(r, total + 1);
		s = r->buf;
		r->buf = NULL;
		r->len = r->cap = 0;
	} else
		s = xmalloc(total + 1);
	ndjson_remove(in, s + total - n, n);
	evbuffer_drain(in, 1);
	if (total > 0 && s[total - 1] == '\r')
		total--;
	s[total] = '\0';
	*len = total;
	return s;
}

/*
 * Where the next "\n" in in is, scanning only bytes not scanned before:
 * the first r->scanned bytes are known to hold none.
 */
static struct evbuffer_ptr
ndjson_reader_search(struct ndjson_reader *r, struct evbuffer *in)
{
	struct evbuffer_ptr	start;

	if (r->scanned > 0 &&
	    evbuffer_ptr_set(in, &start, r->scanned, EVBUFFER_PTR_SET) == 0)
		return evbuffer_search_eol(in, &start, NULL, EVBUFFER_EOL_LF);
	return evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
}

enum ndjson_status
ndjson_reader_next(struct ndjson_reader *r, struct evbuffer *in, char **line,
    size_t *len)
{
	struct evbuffer_ptr	 eol;
	size_t			 avail, n, l;
	char			*s;

	for (;;) {
		if ((avail = evbuffer_get_length(in)) == 0) {
			r->scanned = 0;
			return NDJSON_NEED_MORE;
		}
		eol = ndjson_reader_search(r, in);
		r->scanned = 0;

		if (eol.pos < 0) {
			if (r->discarding) {
				evbuffer_drain(in, avail);
				return NDJSON_NEED_MORE;
			}
			/* max_line + 1: a "\r" may end a full-length line. */
			if (avail > r->max_line + 1 - r->len) {
				evbuffer_drain(in, avail);
				ndjson_reader_drop(r);
				r->discarding = 1;
				return NDJSON_TOO_LONG;
			}
			/*
			 * A short tail stays in in: moving each trickle out
			 * would cost libevent a chain free and malloc per call.
			 */
			if (avail < NDJSON_MOVE_MIN) {
				r->scanned = avail;
				return NDJSON_NEED_MORE;
			}
			ndjson_reader_reserve(r, r->len + avail);
			ndjson_remove(in, r->buf + r->len, avail);
			r->len += avail;
			return NDJSON_NEED_MORE;
		}

		n = (size_t)eol.pos;
		if (r->discarding) {
			evbuffer_drain(in, n + 1);
			r->discarding = 0;
			continue;
		}
		if (n > r->max_line + 1 - r->len) {
			evbuffer_drain(in, n + 1);
			ndjson_reader_drop(r);
			return NDJSON_TOO_LONG;
		}
		if (n == 0 && r->len == 0) {
			evbuffer_drain(in, 1);
			continue;
		}
		s = ndjson_reader_take(r, in, n, &l);
		if (l > r->max_line) {
			free(s);
			return NDJSON_TOO_LONG;
		}
		if (ndjson_is_blank(s, l)) {
			free(s);
			continue;
		}
		*line = s;
		*len = l;
		return NDJSON_LINE;
	}
}

int
ndjson_write(struct evbuffer *out, const char *json, size_t len)
{
	if (len == 0 || memchr(json, '\n', len) != NULL ||
	    memchr(json, '\r', len) != NULL)
		return -1;
	if (evbuffer_expand(out, len + 1) == -1 ||
	    evbuffer_add(out, json, len) == -1 ||
	    evbuffer_add(out, "\n", 1) == -1)
		return -1;
	return 0;
}
