/*
 * Unit tests for common/sse.c: the WHATWG event stream examples, every
 * field rule, line ends and BOM, arbitrary chunking, the size limit, and
 * writer-to-parser round trips.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "sse.h"

#define MAX_EVENTS	32

struct rec_event {
	char	*event;
	char	*data;
	size_t	 data_len;
	char	*id;		/* NULL when none */
	long	 retry;
};

struct recorder {
	struct rec_event	 ev[MAX_EVENTS];
	size_t			 n;
	char			*comments[MAX_EVENTS];
	size_t			 ncomments;
};

static char *
dup_bytes(const char *s, size_t n)
{
	char	*p = malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
record_event_cb(const struct sse_event *ev, void *arg)
{
	struct recorder		*rec = arg;
	struct rec_event	*e;

	ck_assert_uint_lt(rec->n, MAX_EVENTS);
	/* The parser promises a NUL after the data. */
	ck_assert_int_eq(ev->data[ev->data_len], '\0');
	e = &rec->ev[rec->n++];
	e->event = strdup(ev->event);
	e->data = dup_bytes(ev->data, ev->data_len);
	e->data_len = ev->data_len;
	e->id = ev->id != NULL ? strdup(ev->id) : NULL;
	e->retry = ev->retry;
}

static void
record_comment_cb(const char *text, size_t len, void *arg)
{
	struct recorder	*rec = arg;

	ck_assert_uint_lt(rec->ncomments, MAX_EVENTS);
	rec->comments[rec->ncomments++] = dup_bytes(text, len);
}

static void
recorder_clear(struct recorder *rec)
{
	size_t	i;

	for (i = 0; i < rec->n; i++) {
		free(rec->ev[i].event);
		free(rec->ev[i].data);
		free(rec->ev[i].id);
	}
	for (i = 0; i < rec->ncomments; i++)
		free(rec->comments[i]);
	memset(rec, 0, sizeof *rec);
}

static struct sse_parser *
parser_new(struct recorder *rec, size_t max)
{
	struct sse_parser	*p;

	memset(rec, 0, sizeof *rec);
	p = sse_parser_new(max, record_event_cb, rec);
	sse_parser_set_comment_cb(p, record_comment_cb);
	return p;
}

/* Parses the whole stream with a fresh parser, in chunks of size chunk. */
static void
parse_chunked(struct recorder *rec, const char *s, size_t len, size_t chunk)
{
	struct sse_parser	*p = parser_new(rec, 1 << 20);
	size_t			 off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(sse_parser_feed(p, s + off, n), 0);
	}
	sse_parser_free(p);
}

static void
parse(struct recorder *rec, const char *s)
{
	parse_chunked(rec, s, strlen(s), strlen(s) + 1);
}

static void
assert_event(const struct recorder *rec, size_t i, const char *event,
    const char *data, const char *id, long retry)
{
	const struct rec_event	*e;

	ck_assert_msg(i < rec->n, "event %zu missing, got %zu", i, rec->n);
	e = &rec->ev[i];
	ck_assert_str_eq(e->event, event);
	ck_assert_uint_eq(e->data_len, strlen(data));
	ck_assert_str_eq(e->data, data);
	if (id == NULL)
		ck_assert_ptr_null(e->id);
	else {
		ck_assert_ptr_nonnull(e->id);
		ck_assert_str_eq(e->id, id);
	}
	ck_assert_int_eq(e->retry, retry);
}

/* Both recordings hold the same events and comments. */
static void
assert_same(const struct recorder *a, const struct recorder *b)
{
	size_t	i;

	ck_assert_uint_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		ck_assert_str_eq(a->ev[i].event, b->ev[i].event);
		ck_assert_uint_eq(a->ev[i].data_len, b->ev[i].data_len);
		ck_assert_int_eq(memcmp(a->ev[i].data, b->ev[i].data,
		    a->ev[i].data_len), 0);
		ck_assert_int_eq(a->ev[i].id == NULL, b->ev[i].id == NULL);
		if (a->ev[i].id != NULL)
			ck_assert_str_eq(a->ev[i].id, b->ev[i].id);
		ck_assert_int_eq(a->ev[i].retry, b->ev[i].retry);
	}
	ck_assert_uint_eq(a->ncomments, b->ncomments);
	for (i = 0; i < a->ncomments; i++)
		ck_assert_str_eq(a->comments[i], b->comments[i]);
}

START_TEST(test_spec_stock_ticker_joins_data_lines)
{
	struct recorder	rec;

	parse(&rec, "data: YHOO\ndata: +2\ndata: 10\n\n");
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "YHOO\n+2\n10", NULL, -1);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_spec_test_stream_ids_and_leading_spaces)
{
	struct recorder	rec;

	parse(&rec, ": test stream\n\n"
	    "data: first event\nid: 1\n\n"
	    "data:second event\nid\n\n"
	    "data:  third event\n\n");
	ck_assert_uint_eq(rec.n, 3);
	assert_event(&rec, 0, "message", "first event", "1", -1);
	/* "id" with no value resets the last event id. */
	assert_event(&rec, 1, "message", "second event", NULL, -1);
	/* Only one space after the colon is removed. */
	assert_event(&rec, 2, "message", " third event", NULL, -1);
	ck_assert_uint_eq(rec.ncomments, 1);
	ck_assert_str_eq(rec.comments[0], "test stream");
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_spec_empty_data_lines_and_unfinished_event)
{
	struct recorder	rec;

	parse(&rec, "data\n\ndata\ndata\n\ndata:");
	ck_assert_uint_eq(rec.n, 2);
	assert_event(&rec, 0, "message", "", NULL, -1);
	assert_event(&rec, 1, "message", "\n", NULL, -1);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_spec_space_after_colon_is_optional)
{
	struct recorder	rec;

	parse(&rec, "data:test\n\ndata: test\n\n");
	ck_assert_uint_eq(rec.n, 2);
	assert_event(&rec, 0, "message", "test", NULL, -1);
	assert_event(&rec, 1, "message", "test", NULL, -1);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_spec_event_types)
{
	struct recorder	rec;

	parse(&rec, "event: add\ndata: 73857293\n\n"
	    "event: remove\ndata: 2153\n\n"
	    "event: add\ndata: 113411\n\n"
	    "data: plain\n\n");
	ck_assert_uint_eq(rec.n, 4);
	assert_event(&rec, 0, "add", "73857293", NULL, -1);
	assert_event(&rec, 1, "remove", "2153", NULL, -1);
	assert_event(&rec, 2, "add", "113411", NULL, -1);
	/* The type does not carry over to the next event. */
	assert_event(&rec, 3, "message", "plain", NULL, -1);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_multiline_data_keeps_inner_blank_lines)
{
	struct recorder	rec;

	parse(&rec, "data: {\"a\":\ndata:\ndata:  1}\ndata: \n\n");
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "{\"a\":\n\n 1}\n", NULL, -1);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_data_may_contain_nul)
{
	struct recorder	rec;
	const char	s[] = "data: a\0b\n\n";

	parse_chunked(&rec, s, sizeof s - 1, 1);
	ck_assert_uint_eq(rec.n, 1);
	ck_assert_uint_eq(rec.ev[0].data_len, 3);
	ck_assert_int_eq(memcmp(rec.ev[0].data, "a\0b", 3), 0);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_comments_are_reported_and_do_not_end_events)
{
	struct recorder	rec;

	parse(&rec, ":\n:keep-alive\n: ping\ndata: a\n:  mid\ndata: b\n\n");
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "a\nb", NULL, -1);
	ck_assert_uint_eq(rec.ncomments, 4);
	ck_assert_str_eq(rec.comments[0], "");
	ck_assert_str_eq(rec.comments[1], "keep-alive");
	ck_assert_str_eq(rec.comments[2], "ping");
	ck_assert_str_eq(rec.comments[3], " mid");
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_comments_ignored_without_callback)
{
	struct recorder		 rec;
	struct sse_parser	*p;
	const char		*s = ": x\ndata: y\n\n";

	memset(&rec, 0, sizeof rec);
	p = sse_parser_new(1024, record_event_cb, &rec);
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	ck_assert_uint_eq(rec.n, 1);
	ck_assert_uint_eq(rec.ncomments, 0);
	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_unknown_fields_are_ignored)
{
	struct recorder	rec;

	parse(&rec, "foo: bar\nDATA: no\ndata : no\n data: no\n\n"
	    "foo\ndata: yes\nevent2: x\n\n");
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "yes", NULL, -1);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_retry_takes_only_ascii_digits)
{
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 1024);
	const char		*s;

	ck_assert_int_eq(sse_parser_retry(p), -1);
	s = "retry: 5000\ndata: a\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	assert_event(&rec, 0, "message", "a", NULL, 5000);
	ck_assert_int_eq(sse_parser_retry(p), 5000);

	/* Invalid values are ignored; the last valid one stays. */
	s = "retry: 50a0\nretry:\nretry: -1\nretry:  10\nretry: 1.5\n"
	    "data: b\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	assert_event(&rec, 1, "message", "b", NULL, -1);
	ck_assert_int_eq(sse_parser_retry(p), 5000);

	/* Takes effect without an event; the last one in an event wins. */
	s = "retry: 0\n\nretry: 7\nretry: 0012\ndata: c\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	assert_event(&rec, 2, "message", "c", NULL, 12);
	ck_assert_int_eq(sse_parser_retry(p), 12);

	s = "retry: 99999999999999999999999999\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	ck_assert_int_eq(sse_parser_retry(p), LONG_MAX);
	ck_assert_uint_eq(rec.n, 3);

	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_last_event_id_persists_across_events)
{
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 1024);
	const char		*s;

	ck_assert_ptr_null(sse_parser_last_event_id(p));
	s = "id: 7\ndata: a\n\ndata: b\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	assert_event(&rec, 0, "message", "a", "7", -1);
	assert_event(&rec, 1, "message", "b", "7", -1);
	ck_assert_str_eq(sse_parser_last_event_id(p), "7");

	/* An event without data is not dispatched, but its id counts. */
	s = "id: 8\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	ck_assert_uint_eq(rec.n, 2);
	ck_assert_str_eq(sse_parser_last_event_id(p), "8");

	/* An id holding NUL is ignored. */
	ck_assert_int_eq(sse_parser_feed(p, "id: x\0y\ndata: c\n\n", 17), 0);
	assert_event(&rec, 2, "message", "c", "8", -1);

	/* Until the blank line the id is not the last event id. */
	s = "id: 9\ndata: d\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	ck_assert_str_eq(sse_parser_last_event_id(p), "8");

	/* A reconnect drops the unfinished event and its id. */
	sse_parser_reset(p);
	ck_assert_str_eq(sse_parser_last_event_id(p), "8");
	s = "data: e\n\nid:\ndata: f\n\n";
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	ck_assert_uint_eq(rec.n, 5);
	assert_event(&rec, 3, "message", "e", "8", -1);
	assert_event(&rec, 4, "message", "f", NULL, -1);
	ck_assert_ptr_null(sse_parser_last_event_id(p));

	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_leading_bom_is_skipped_once)
{
	struct recorder	rec;

	parse(&rec, "\xEF\xBB\xBF" "data: x\n\n");
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "x", NULL, -1);
	recorder_clear(&rec);

	parse_chunked(&rec, "\xEF\xBB\xBF" "data: x\n\n", 12, 1);
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "x", NULL, -1);
	recorder_clear(&rec);

	/* A second BOM is part of the field name: unknown field. */
	parse(&rec, "\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n");
	ck_assert_uint_eq(rec.n, 0);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_partial_bom_is_kept_as_data)
{
	struct recorder	rec;
	const char	*s = "\xEF\xBB" "data: x\n\ndata: y\n\n";

	/* The field is "\xEF\xBBdata", not data: only y is an event. */
	parse(&rec, s);
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "y", NULL, -1);
	recorder_clear(&rec);
	parse_chunked(&rec, s, strlen(s), 1);
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "y", NULL, -1);
	recorder_clear(&rec);

	parse(&rec, "\xEF" ":c\n");
	ck_assert_uint_eq(rec.ncomments, 0);
	recorder_clear(&rec);
}
END_TEST

static const char *const lf_stream =
    "event: a\nid: 1\ndata: one\ndata: two\n\n:c\nretry: 10\ndata:\n\n";

/* lf_stream with every "\n" replaced by eol. */
static char *
with_line_ends(const char *eol)
{
	struct evbuffer	*b = evbuffer_new();
	const char	*s;
	char		*out;
	size_t		 n;

	for (s = lf_stream; *s != '\0'; s++) {
		if (*s == '\n')
			evbuffer_add(b, eol, strlen(eol));
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "", 1);
	n = evbuffer_get_length(b);
	out = malloc(n);
	evbuffer_remove(b, out, n);
	evbuffer_free(b);
	return out;
}

START_TEST(test_cr_lf_and_crlf_line_ends_are_equivalent)
{
	static const char	*eols[] = { "\r", "\r\n" };
	struct recorder		 want, got;
	char			*s;
	size_t			 i, chunk;

	parse(&want, lf_stream);
	ck_assert_uint_eq(want.n, 2);
	assert_event(&want, 0, "a", "one\ntwo", "1", -1);
	assert_event(&want, 1, "message", "", "1", 10);
	for (i = 0; i < 2; i++) {
		s = with_line_ends(eols[i]);
		for (chunk = 1; chunk <= strlen(s) + 1; chunk++) {
			parse_chunked(&got, s, strlen(s), chunk);
			assert_same(&want, &got);
			recorder_clear(&got);
		}
		free(s);
	}
	recorder_clear(&want);
}
END_TEST

START_TEST(test_crlf_split_across_chunks_is_one_line_end)
{
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 1024);

	/* If the LF after the CR counted again, the event would fire early. */
	ck_assert_int_eq(sse_parser_feed(p, "data: a\r", 8), 0);
	ck_assert_int_eq(sse_parser_feed(p, "\ndata: b\r", 9), 0);
	ck_assert_int_eq(sse_parser_feed(p, "\n", 1), 0);
	ck_assert_uint_eq(rec.n, 0);
	ck_assert_int_eq(sse_parser_feed(p, "\r", 1), 0);
	ck_assert_uint_eq(rec.n, 1);
	assert_event(&rec, 0, "message", "a\nb", NULL, -1);
	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

/* Every feature, with CRLF, CR and LF line ends mixed. */
static const char full_stream[] =
    "\xEF\xBB\xBF: hello\r\n"
    "retry: 3000\r\n"
    "event: endpoint\r\n"
    "id: e1\r\n"
    "data: /messages?session=1\r\n"
    "\r\n"
    "data: {\"jsonrpc\":\"2.0\",\r"
    "data:  \"id\":1}\n"
    "\n"
    ":keep-alive\r\r"
    "id: e2\n\n"
    "event: message\r\ndata\r\ndata:x\r\nretry: 1x\r\n\r\n"
    "id\r\n"
    "data: last\r\n"
    "\r\n"
    "data: never dispatched\r\n";

START_TEST(test_whole_and_bytewise_feeding_agree)
{
	struct recorder	whole, got;
	size_t		len = sizeof full_stream - 1, split;

	parse_chunked(&whole, full_stream, len, len);
	ck_assert_uint_eq(whole.n, 4);
	assert_event(&whole, 0, "endpoint", "/messages?session=1", "e1",
	    3000);
	assert_event(&whole, 1, "message", "{\"jsonrpc\":\"2.0\",\n \"id\":1}",
	    "e1", -1);
	assert_event(&whole, 2, "message", "\nx", "e2", -1);
	assert_event(&whole, 3, "message", "last", NULL, -1);
	ck_assert_uint_eq(whole.ncomments, 2);
	ck_assert_str_eq(whole.comments[0], "hello");
	ck_assert_str_eq(whole.comments[1], "keep-alive");

	parse_chunked(&got, full_stream, len, 1);
	assert_same(&whole, &got);
	recorder_clear(&got);

	/* And split in two at every position. */
	for (split = 1; split < len; split++) {
		struct sse_parser	*p = parser_new(&got, 1 << 20);

		ck_assert_int_eq(sse_parser_feed(p, full_stream, split), 0);
		ck_assert_int_eq(sse_parser_feed(p, full_stream + split,
		    len - split), 0);
		assert_same(&whole, &got);
		sse_parser_free(p);
		recorder_clear(&got);
	}
	recorder_clear(&whole);
}
END_TEST

static char *
field_line(const char *prefix, size_t total, const char *eol)
{
	size_t	 plen = strlen(prefix), elen = strlen(eol);
	char	*s = malloc(total + elen + 1);

	memcpy(s, prefix, plen);
	memset(s + plen, 'z', total - plen);
	memcpy(s + total, eol, elen + 1);
	return s;
}

START_TEST(test_event_at_max_size_is_accepted)
{
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 100);
	char			*s;

	/* Two lines totalling exactly 100 bytes. */
	s = field_line("data: ", 60, "\n");
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	free(s);
	s = field_line("data:", 40, "\n\n");
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	free(s);
	ck_assert_uint_eq(rec.n, 1);
	ck_assert_uint_eq(rec.ev[0].data_len, 54 + 1 + 35);

	/* The limit is per event: the next one starts from zero. */
	s = field_line("data: ", 100, "\n\n");
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	free(s);
	ck_assert_uint_eq(rec.n, 2);
	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_event_over_max_size_fails_until_reset)
{
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 100);
	char			*s;

	s = field_line("data: ", 60, "\n");
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), 0);
	free(s);
	s = field_line("data:", 41, "\n\n");
	ck_assert_int_eq(sse_parser_feed(p, s, strlen(s)), -1);
	free(s);
	ck_assert_uint_eq(rec.n, 0);
	ck_assert_int_eq(sse_parser_feed(p, "data: a\n\n", 9), -1);
	ck_assert_uint_eq(rec.n, 0);

	sse_parser_reset(p);
	ck_assert_int_eq(sse_parser_feed(p, "data: a\n\n", 9), 0);
	assert_event(&rec, 0, "message", "a", NULL, -1);
	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

START_TEST(test_long_line_fails_before_its_end_arrives)
{
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 100);
	char			 chunk[64];
	int			 rc = 0, i;

	memset(chunk, 'z', sizeof chunk);
	ck_assert_int_eq(sse_parser_feed(p, "data: ", 6), 0);
	for (i = 0; i < 10 && rc == 0; i++)
		rc = sse_parser_feed(p, chunk, sizeof chunk);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(i, 2);

	/* Comment lines are bounded too. */
	sse_parser_reset(p);
	ck_assert_int_eq(sse_parser_feed(p, ":", 1), 0);
	ck_assert_int_eq(sse_parser_feed(p, chunk, sizeof chunk), 0);
	ck_assert_int_eq(sse_parser_feed(p, chunk, sizeof chunk), -1);
	sse_parser_free(p);
	recorder_clear(&rec);
}
END_TEST

static char *
drain_string(struct evbuffer *b, size_t *len)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	if (len != NULL)
		*len = n;
	return s;
}

START_TEST(test_writer_output_format)
{
	struct evbuffer	*out = evbuffer_new();
	char		*s;

	sse_write_event(out, "message", "42", "a\nb", 3);
	s = drain_string(out, NULL);
	ck_assert_str_eq(s, "event: message\nid: 42\ndata: a\ndata: b\n\n");
	free(s);

	sse_write_event(out, NULL, NULL, "", 0);
	s = drain_string(out, NULL);
	ck_assert_str_eq(s, "data:\n\n");
	free(s);

	sse_write_event(out, "bad\ntype", "1\r2", "x", 1);
	s = drain_string(out, NULL);
	ck_assert_str_eq(s, "event: bad\nid: 1\ndata: x\n\n");
	free(s);

	sse_write_comment(out, "keep-alive");
	sse_write_comment(out, NULL);
	sse_write_comment(out, "a\r\nb");
	sse_write_retry(out, 3000);
	s = drain_string(out, NULL);
	ck_assert_str_eq(s, ": keep-alive\n:\n: a\n: b\nretry: 3000\n\n");
	free(s);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_writer_to_parser_round_trip)
{
	static const struct {
		const char	*in;
		const char	*out;	/* line ends arrive as LF */
	} cases[] = {
		{ "{\"id\":1,\"s\":\"a\\nb\"}", "{\"id\":1,\"s\":\"a\\nb\"}" },
		{ "a\nb", "a\nb" },
		{ "a\r\nb", "a\nb" },
		{ "a\rb", "a\nb" },
		{ "", "" },
		{ " leading space", " leading space" },
		{ "  two", "  two" },
		{ "trailing\n", "trailing\n" },
		{ "\n", "\n" },
		{ "\r\n\r\n", "\n\n" },
		{ "\r\r\n\n", "\n\n\n" },
		{ "x\n\ny", "x\n\ny" },
		{ ": not a comment", ": not a comment" },
		{ "data: inner", "data: inner" },
	};
	struct evbuffer		*out = evbuffer_new();
	struct recorder		 rec;
	struct sse_parser	*p = parser_new(&rec, 1024);
	char			*s;
	size_t			 i, len;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sse_write_event(out, i % 2 ? "note" : NULL, "id-1",
		    cases[i].in, strlen(cases[i].in));
		s = drain_string(out, &len);
		ck_assert_int_eq(sse_parser_feed(p, s, len), 0);
		free(s);
		ck_assert_uint_eq(rec.n, i + 1);
		assert_event(&rec, i, i % 2 ? "note" : "message",
		    cases[i].out, "id-1", -1);
	}
	sse_write_retry(out, 250);
	sse_write_comment(out, "bye");
	s = drain_string(out, &len);
	ck_assert_int_eq(sse_parser_feed(p, s, len), 0);
	free(s);
	ck_assert_int_eq(sse_parser_retry(p), 250);
	ck_assert_str_eq(rec.comments[rec.ncomments - 1], "bye");

	sse_parser_free(p);
	recorder_clear(&rec);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_null_callback_and_free_null)
{
	struct sse_parser	*p = sse_parser_new(64, NULL, NULL);

	ck_assert_int_eq(sse_parser_feed(p, ": c\ndata: x\nid: 3\n\n", 19), 0);
	ck_assert_str_eq(sse_parser_last_event_id(p), "3");
	sse_parser_free(p);
	sse_parser_free(NULL);
}
END_TEST

static Suite *
sse_suite(void)
{
	Suite	*s = suite_create("sse");
	TCase	*tc;

	tc = tcase_create("spec");
	tcase_add_test(tc, test_spec_stock_ticker_joins_data_lines);
	tcase_add_test(tc, test_spec_test_stream_ids_and_leading_spaces);
	tcase_add_test(tc, test_spec_empty_data_lines_and_unfinished_event);
	tcase_add_test(tc, test_spec_space_after_colon_is_optional);
	tcase_add_test(tc, test_spec_event_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, test_multiline_data_keeps_inner_blank_lines);
	tcase_add_test(tc, test_data_may_contain_nul);
	tcase_add_test(tc, test_comments_are_reported_and_do_not_end_events);
	tcase_add_test(tc, test_comments_ignored_without_callback);
	tcase_add_test(tc, test_unknown_fields_are_ignored);
	tcase_add_test(tc, test_retry_takes_only_ascii_digits);
	tcase_add_test(tc, test_last_event_id_persists_across_events);
	tcase_add_test(tc, test_null_callback_and_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_test(tc, test_leading_bom_is_skipped_once);
	tcase_add_test(tc, test_partial_bom_is_kept_as_data);
	tcase_add_test(tc, test_cr_lf_and_crlf_line_ends_are_equivalent);
	tcase_add_test(tc, test_crlf_split_across_chunks_is_one_line_end);
	tcase_add_test(tc, test_whole_and_bytewise_feeding_agree);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_event_at_max_size_is_accepted);
	tcase_add_test(tc, test_event_over_max_size_fails_until_reset);
	tcase_add_test(tc, test_long_line_fails_before_its_end_arrives);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_test(tc, test_writer_output_format);
	tcase_add_test(tc, test_writer_to_parser_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(sse_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
