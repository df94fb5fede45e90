/*
 * Server-Sent Events parser and writer; see sse.h.  The parser follows the
 * WHATWG "event stream interpretation" rules.  Lines that arrive whole in
 * one chunk are parsed in place; only a line split across chunks is copied.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "sse.h"
#include "xmalloc.h"

#define SSE_MIN_ALLOC	128

static const char sse_bom[] = "\xEF\xBB\xBF";

/* A growable byte string, reused from event to event. */
struct sse_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/*
 * The spec's buffers: data, event type and last event id; the id only
 * becomes the last event id (last_id) at a blank line.
 */
struct sse_parser {
	size_t		 max_size;
	sse_event_cb	 cb;
	sse_comment_cb	 comment_cb;
	void		*arg;

	struct sse_buf	 line;		/* split across chunks */
	int		 after_cr;	/* a "\n" next ends no line */
	unsigned	 bom;		/* BOM bytes seen; 3: past */
	int		 failed;

	struct sse_buf	 data;		/* each line + "\n" */
	struct sse_buf	 type;		/* NUL-ended */
	struct sse_buf	 id;		/* NUL-ended */
	int		 id_set;	/* id: since blank line */
	struct sse_buf	 last_id;	/* NUL-ended */
	size_t		 event_size;	/* bytes of field lines */
	long		 event_retry;	/* -1: none in this event */
	long		 retry;		/* -1: none yet */
};

static void
sse_buf_reserve(struct sse_buf *b, size_t need)
{
	size_t	cap;

	if (need <= b->cap)
		return;
	cap = b->cap < SSE_MIN_ALLOC ? SSE_MIN_ALLOC : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void
sse_buf_append(struct sse_buf *b, const char *s, size_t n)
{
	sse_buf_reserve(b, b->len + n + 1);
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sse_buf_set(struct sse_buf *b, const char *s, size_t n)
{
	b->len = 0;
	sse_buf_append(b, s, n);
}

static void
sse_buf_free(struct sse_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

struct sse_parser *
sse_parser_new(size_t max_event_size, sse_event_cb cb, void *arg)
{
	struct sse_parser	*p;

	p = xcalloc(1, sizeof *p);
	p->max_size = max_event_size;
	p->cb = cb;
	p->arg = arg;
	p->event_retry = -1;
	p->retry = -1;
	return p;
}

void
sse_parser_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	sse_buf_free(&p->line);
	sse_buf_free(&p->data);
	sse_buf_free(&p->type);
	sse_buf_free(&p->id);
	sse_buf_free(&p->last_id);
	free(p);
}

void
sse_parser_set_comment_cb(struct sse_parser *p, sse_comment_cb cb)
{
	p->comment_cb = cb;
}

void
sse_parser_reset(struct sse_parser *p)
{
	p->line.len = 0;
	p->after_cr = 0;
	p->bom = 0;
	p->failed = 0;
	p->data.len = 0;
	p->type.len = 0;
	/* An id from an event never finished does not count. */
	if (p->id_set)
		sse_buf_set(&p->id, p->last_id.p, p->last_id.len);
	p->id_set = 0;
	p->event_size = 0;
	p->event_retry = -1;
}

const char *
sse_parser_last_event_id(const struct sse_parser *p)
{
	return p->last_id.len > 0 ? p->last_id.p : NULL;
}

long
sse_parser_retry(const struct sse_parser *p)
{
	return p->retry;
}

/* A blank line: the spec's "dispatch the event". */
static void
sse_dispatch(struct sse_parser *p)
{
	struct sse_event	ev;

	if (p->id_set) {
		sse_buf_set(&p->last_id, p->id.p, p->id.len);
		p->id_set = 0;
	}
	ev.retry = p->event_retry;
	p->event_retry = -1;
	p->event_size = 0;
	if (p->data.len == 0) {
		p->type.len = 0;
		return;
	}
	/* Drop the "\n" after the last data line. */
	p->data.p[--p->data.len] = '\0';
	ev.event = p->type.len > 0 ? p->type.p : "message";
	ev.data = p->data.p;
	ev.data_len = p->data.len;
	ev.id = sse_parser_last_event_id(p);
	if (p->cb != NULL)
		p->cb(&ev, p->arg);
	p->data.len = 0;
	p->type.len = 0;
}

/* Only ASCII digits make a valid retry; a huge one is clamped. */
static void
sse_field_retry(struct sse_parser *p, const char *v, size_t n)
{
	long	ms = 0;
	size_t	i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
	}
	for (i = 0; i < n; i++) {
		if (ms > (LONG_MAX - (v[i] - '0')) / 10) {
			ms = LONG_MAX;
			break;
		}
		ms = ms * 10 + (v[i] - '0');
	}
	p->retry = p->event_retry = ms;
}

static void
sse_field(struct sse_parser *p, const char *name, size_t nlen,
    const char *v, size_t n)
{
	if (nlen == 4 && memcmp(name, "data", 4) == 0) {
		sse_buf_append(&p->data, v, n);
		sse_buf_append(&p->data, "\n", 1);
	} else if (nlen == 5 && memcmp(name, "event", 5) == 0)
		sse_buf_set(&p->type, v, n);
	else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
		if (memchr(v, '\0', n) == NULL) {
			sse_buf_set(&p->id, v, n);
			p->id_set = 1;
		}
	} else if (nlen == 5 && memcmp(name, "retry", 5) == 0)
		sse_field_retry(p, v, n);
}

/* One line without its line end.  Returns -1 when over the limits. */
static int
sse_line(struct sse_parser *p, const char *s, size_t n)
{
	const char	*colon, *v;
	size_t		 nlen, vlen;

	if (n == 0) {
		sse_dispatch(p);
		return 0;
	}
	if (n > p->max_size)
		return -1;
	if (s[0] == ':') {
		if (p->comment_cb != NULL) {
			v = s + 1;
			vlen = n - 1;
			if (vlen > 0 && v[0] == ' ') {
				v++;
				vlen--;
			}
			p->comment_cb(v, vlen, p->arg);
		}
		return 0;
	}
	if (n > p->max_size - p->event_size)
		return -1;
	p->event_size += n;

	if ((colon = memchr(s, ':', n)) != NULL) {
		nlen = colon - s;
		v = colon + 1;
		vlen = n - nlen - 1;
		if (vlen > 0 && v[0] == ' ') {
			v++;
			vlen--;
		}
	} else {
		nlen = n;
		v = "";
		vlen = 0;
	}
	sse_field(p, s, nlen, v, vlen);
	return 0;
}

static int
sse_fail(struct sse_parser *p)
{
	p->failed = 1;
	return -1;
}

/*
 * The first CR or LF in [s, end), or end.  *nl caches the next LF (NULL
 * at first) so that a run of CR-ended lines does not rescan to the far
 * LF for each line.
 */
static const char *
sse_line_end(const char *s, const char *end, const char **nl)
{
	const char	*cr;

	if (s == end)
		return end;
	if (*nl == NULL || *nl < s) {
		if ((*nl = memchr(s, '\n', end - s)) == NULL)
			*nl = end;
	}
	if (*nl > s && (cr = memchr(s, '\r', *nl - s)) != NULL)
		return cr;
	return *nl;
}

/* Splits data into lines at CR, LF or CRLF, even across chunks. */
static int
sse_feed_lines(struct sse_parser *p, const char *data, size_t len)
{
	const char	*s = data, *end = data + len, *e, *nl = NULL;
	int		 rc;

	while (s < end) {
		if (p->after_cr) {
			p->after_cr = 0;
			if (*s == '\n' && ++s == end)
				break;
		}
		e = sse_line_end(s, end, &nl);
		if (e == end) {
			/* Unfinished: keep it, within the limit. */
			if ((size_t)(end - s) > p->max_size - p->line.len)
				return sse_fail(p);
			sse_buf_append(&p->line, s, end - s);
			break;
		}
		p->after_cr = *e == '\r';
		if (p->line.len > 0) {
			if ((size_t)(e - s) > p->max_size - p->line.len)
				return sse_fail(p);
			sse_buf_append(&p->line, s, e - s);
			rc = sse_line(p, p->line.p, p->line.len);
			p->line.len = 0;
		} else
			rc = sse_line(p, s, e - s);
		if (rc == -1)
			return sse_fail(p);
		s = e + 1;
	}
	return 0;
}

int
sse_parser_feed(struct sse_parser *p, const char *data, size_t len)
{
	unsigned	matched;

	if (p->failed)
		return -1;
	/* Skip one UTF-8 BOM at the start, which may come a byte at a time. */
	for (; p->bom < 3 && len > 0; data++, len--) {
		if ((unsigned char)*data != (unsigned char)sse_bom[p->bom]) {
			matched = p->bom;
			p->bom = 3;
			if (matched > 0 &&
			    sse_feed_lines(p, sse_bom, matched) == -1)
				return -1;
			break;
		}
		p->bom++;
	}
	if (len == 0)
		return 0;
	return sse_feed_lines(p, data, len);
}

/*
 * Writes prefix + " " + piece + "\n" for each piece of text split at CR,
 * LF and CRLF; an empty piece gets no space.  Empty text is one piece.
 */
static void
sse_write_lines(struct evbuffer *out, const char *prefix, const char *text,
    size_t len)
{
	const char	*s = text, *end = text + len, *e, *nl = NULL;
	size_t		 plen = strlen(prefix);

	for (;;) {
		e = sse_line_end(s, end, &nl);
		evbuffer_add(out, prefix, plen);
		if (e > s) {
			evbuffer_add(out, " ", 1);
			evbuffer_add(out, s, e - s);
		}
		evbuffer_add(out, "\n", 1);
		if (e == end)
			break;
		s = e + 1;
		if (*e == '\r' && s < end && *s == '\n')
			s++;
	}
}

static void
sse_write_field(struct evbuffer *out, const char *prefix, const char *value)
{
	evbuffer_add(out, prefix, strlen(prefix));
	evbuffer_add(out, value, strcspn(value, "\r\n"));
	evbuffer_add(out, "\n", 1);
}

void
sse_write_event(struct evbuffer *out, const char *event, const char *id,
    const char *data, size_t len)
{
	/* One allocation up front rather than one per line. */
	evbuffer_expand(out, len + 64);
	if (event != NULL)
		sse_write_field(out, "event: ", event);
	if (id != NULL)
		sse_write_field(out, "id: ", id);
	sse_write_lines(out, "data:", data, len);
	evbuffer_add(out, "\n", 1);
}

void
sse_write_comment(struct evbuffer *out, const char *text)
{
	if (text == NULL)
		text = "";
	sse_write_lines(out, ":", text, strlen(text));
}

void
sse_write_retry(struct evbuffer *out, unsigned long ms)
{
	evbuffer_add_printf(out, "retry: %lu\n\n", ms);
}
