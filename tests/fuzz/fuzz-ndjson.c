/*
 * Fuzz target: common/ndjson.c.  The first two bytes choose the line limit
 * and how the rest is cut into chunks; the reader's lines, drops and
 * buffered bytes must match a plain model of the framing however the bytes
 * are chunked, and ndjson_write() must produce what the reader reads back.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "log.h"
#include "ndjson.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-ndjson", LOG_LEVEL_ERROR);
	return 0;
}

/* One framing result: a line, or a line dropped as too long. */
struct fuzz_item {
	int		 too_long;
	const uint8_t	*p;
	size_t		 len;
};

struct fuzz_items {
	struct fuzz_item	*v;
	size_t			 n;
	size_t			 cap;
};

static void
fuzz_items_add(struct fuzz_items *it, int too_long, const uint8_t *p,
    size_t len)
{
	if (it->n == it->cap) {
		it->cap = it->cap == 0 ? 16 : it->cap * 2;
		if ((it->v = realloc(it->v, it->cap * sizeof *it->v)) == NULL)
			abort();
	}
	it->v[it->n].too_long = too_long;
	it->v[it->n].p = p;
	it->v[it->n].len = len;
	it->n++;
}

static int
fuzz_blank(const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

/*
 * ndjson.h's contract on the whole input at once: lines end at "\n", one
 * "\r" before it is dropped, blank lines are skipped, a line over max is
 * dropped and reported once, as is an unfinished tail over max + 1 (it can
 * no longer fit whatever follows).
 */
static void
fuzz_model(const uint8_t *p, size_t len, size_t max, struct fuzz_items *it)
{
	const uint8_t	*nl;
	size_t		 n, l;

	while (len > 0) {
		if ((nl = memchr(p, '\n', len)) == NULL) {
			if (len > max + 1)
				fuzz_items_add(it, 1, NULL, 0);
			return;
		}
		n = l = (size_t)(nl - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l > max)
			fuzz_items_add(it, 1, NULL, 0);
		else if (!fuzz_blank(p, l))
			fuzz_items_add(it, 0, p, l);
		p += n + 1;
		len -= n + 1;
	}
}

static void
fuzz_drain(struct ndjson_reader *r, struct evbuffer *in, size_t max,
    struct fuzz_items *want, size_t *next)
{
	char	*line;
	size_t	 len;

	for (;;) {
		switch (ndjson_reader_next(r, in, &line, &len)) {
		case NDJSON_NEED_MORE:
			/* The memory bound the header promises. */
			FUZZ_ASSERT(ndjson_reader_pending(r) <= max + 1);
			return;
		case NDJSON_TOO_LONG:
			FUZZ_ASSERT(*next < want->n);
			FUZZ_ASSERT(want->v[*next].too_long);
			(*next)++;
			break;
		case NDJSON_LINE:
			FUZZ_ASSERT(*next < want->n);
			FUZZ_ASSERT(!want->v[*next].too_long);
			FUZZ_ASSERT(len == want->v[*next].len);
			FUZZ_ASSERT(len <= max);
			FUZZ_ASSERT(line[len] == '\0');
			FUZZ_ASSERT(memcmp(line, want->v[*next].p, len) == 0);
			(*next)++;
			free(line);
			break;
		}
	}
}

/* Whatever ndjson_write() accepts, the reader gives back unchanged. */
static void
fuzz_write_read(const uint8_t *p, size_t len)
{
	struct evbuffer		*buf;
	struct ndjson_reader	*r;
	char			*line;
	size_t			 l;

	buf = evbuffer_new();
	if (ndjson_write(buf, (const char *)p, len) == -1) {
		FUZZ_ASSERT(len == 0 || memchr(p, '\n', len) != NULL ||
		    memchr(p, '\r', len) != NULL);
		FUZZ_ASSERT(evbuffer_get_length(buf) == 0);
		evbuffer_free(buf);
		return;
	}
	FUZZ_ASSERT(evbuffer_get_length(buf) == len + 1);
	r = ndjson_reader_new(len);
	if (fuzz_blank(p, len))
		FUZZ_ASSERT(ndjson_reader_next(r, buf, &line, &l) ==
		    NDJSON_NEED_MORE);
	else {
		FUZZ_ASSERT(ndjson_reader_next(r, buf, &line, &l) ==
		    NDJSON_LINE);
		FUZZ_ASSERT(l == len && memcmp(line, p, len) == 0);
		free(line);
	}
	FUZZ_ASSERT(evbuffer_get_length(buf) == 0);
	ndjson_reader_free(r);
	evbuffer_free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 maxes[] = { 0, 1, 2, 3, 7, 16, 64, 255, 4095,
	    4096, 4097, 8192, 65536 };
	struct fuzz_items	 want = { NULL, 0, 0 };
	struct ndjson_reader	*r;
	struct evbuffer		*in;
	size_t			 max, off, chunk, next = 0;
	uint32_t		 seed;

	if (size < 2)
		return 0;
	max = maxes[data[0] % (sizeof maxes / sizeof maxes[0])];
	seed = data[1];
	data += 2;
	size -= 2;

	fuzz_model(data, size, max, &want);
	r = ndjson_reader_new(max);
	in = evbuffer_new();
	/* Chunks of 1 byte up to everything, chosen by the seed. */
	for (off = 0; off < size; off += chunk) {
		seed = seed * 1103515245 + 12345;
		switch ((seed >> 16) % 4) {
		case 0:
			chunk = 1;
			break;
		case 1:
			chunk = 1 + (seed >> 20) % 16;
			break;
		case 2:
			chunk = 1 + (seed >> 18) % 5000;
			break;
		default:
			chunk = size - off;
			break;
		}
		if (chunk > size - off)
			chunk = size - off;
		evbuffer_add(in, data + off, chunk);
		fuzz_drain(r, in, max, &want, &next);
	}
	FUZZ_ASSERT(next == want.n);
	ndjson_reader_free(r);
	evbuffer_free(in);
	free(want.v);

	fuzz_write_read(data, size);
	return 0;
}
