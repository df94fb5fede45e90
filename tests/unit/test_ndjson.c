/*
 * Unit tests for common/ndjson.c: line framing across chunks, CRLF, blank
 * lines, the line length limit and its recovery, the writer, and that the
 * reader stays linear when fed a byte at a time.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "ndjson.h"

#define KIB	1024
#define MIB	(1024 * 1024)

static void
add(struct evbuffer *in, const char *s)
{
	ck_assert_int_eq(evbuffer_add(in, s, strlen(s)), 0);
}

static void
expect_line(struct ndjson_reader *r, struct evbuffer *in, const char *want)
{
	enum ndjson_status	 st;
	char			*line = NULL;
	size_t			 len = 0;

	st = ndjson_reader_next(r, in, &line, &len);
	ck_assert_msg(st == NDJSON_LINE, "status %d, want line \"%s\"", st,
	    want);
	ck_assert_str_eq(line, want);
	ck_assert_uint_eq(len, strlen(want));
	free(line);
}

static void
expect_status(struct ndjson_reader *r, struct evbuffer *in,
    enum ndjson_status want)
{
	enum ndjson_status	 st;
	char			*line = NULL;
	size_t			 len = 0;

	st = ndjson_reader_next(r, in, &line, &len);
	ck_assert_msg(st == want, "status %d, want %d (line \"%s\")", st, want,
	    st == NDJSON_LINE ? line : "");
	if (st == NDJSON_LINE)
		free(line);
}

START_TEST(test_lines_across_chunk_boundaries)
{
	struct ndjson_reader	*r = ndjson_reader_new(1024);
	struct evbuffer		*in = evbuffer_new();

	add(in, "{\"a\"");
	expect_status(r, in, NDJSON_NEED_MORE);
	add(in, ":1}\n{\"b\":");
	expect_line(r, in, "{\"a\":1}");
	expect_status(r, in, NDJSON_NEED_MORE);
	add(in, "2}");
	expect_status(r, in, NDJSON_NEED_MORE);
	add(in, "\n{\"c\":3}\n{\"d\"");
	expect_line(r, in, "{\"b\":2}");
	expect_line(r, in, "{\"c\":3}");
	expect_status(r, in, NDJSON_NEED_MORE);
	ck_assert_uint_eq(ndjson_reader_pending(r) + evbuffer_get_length(in),
	    4);
	add(in, "}\n");
	expect_line(r, in, "{\"d\"}");
	ck_assert_uint_eq(ndjson_reader_pending(r) + evbuffer_get_length(in),
	    0);

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_crlf_line_ends_are_stripped)
{
	struct ndjson_reader	*r = ndjson_reader_new(1024);
	struct evbuffer		*in = evbuffer_new();

	add(in, "one\r\ntwo\r");
	expect_line(r, in, "one");
	expect_status(r, in, NDJSON_NEED_MORE);
	add(in, "\nthree\n");
	expect_line(r, in, "two");
	expect_line(r, in, "three");
	/* Only a CR right before the LF goes. */
	add(in, "a\rb\r\r\n");
	expect_line(r, in, "a\rb\r");
	expect_status(r, in, NDJSON_NEED_MORE);

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_empty_and_blank_lines_are_skipped)
{
	struct ndjson_reader	*r = ndjson_reader_new(1024);
	struct evbuffer		*in = evbuffer_new();

	add(in, "\n\n \t \n\r\n   ");
	expect_status(r, in, NDJSON_NEED_MORE);
	add(in, "  \r\n{}\n\n[]\n");
	expect_line(r, in, "{}");
	expect_line(r, in, "[]");
	expect_status(r, in, NDJSON_NEED_MORE);
	/* Leading and trailing blanks of a real line stay. */
	add(in, "  {} \n");
	expect_line(r, in, "  {} ");

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_line_keeps_embedded_nul)
{
	struct ndjson_reader	*r = ndjson_reader_new(1024);
	struct evbuffer		*in = evbuffer_new();
	char			*line;
	size_t			 len;

	evbuffer_add(in, "a\0b\n", 4);
	ck_assert_int_eq(ndjson_reader_next(r, in, &line, &len), NDJSON_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(line, "a\0b", 4), 0);
	free(line);

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

static void
add_filled(struct evbuffer *in, char c, size_t n)
{
	char	*s = malloc(n);

	memset(s, c, n);
	ck_assert_int_eq(evbuffer_add(in, s, n), 0);
	free(s);
}

START_TEST(test_huge_line_is_reported_once_then_next_line_read)
{
	struct ndjson_reader	*r = ndjson_reader_new(64 * KIB);
	struct evbuffer		*in = evbuffer_new();

	add(in, "{\"before\":1}\n");
	add_filled(in, 'x', MIB);
	add(in, "\n{\"after\":2}\n");
	expect_line(r, in, "{\"before\":1}");
	expect_status(r, in, NDJSON_TOO_LONG);
	expect_line(r, in, "{\"after\":2}");
	expect_status(r, in, NDJSON_NEED_MORE);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_huge_line_in_chunks_is_discarded_across_calls)
{
	struct ndjson_reader	*r = ndjson_reader_new(64 * KIB);
	struct evbuffer		*in = evbuffer_new();
	size_t			 sent, too_long = 0;
	enum ndjson_status	 st;
	char			*line;
	size_t			 len;

	for (sent = 0; sent < MIB; sent += 4 * KIB) {
		add_filled(in, 'y', 4 * KIB);
		while ((st = ndjson_reader_next(r, in, &line, &len)) !=
		    NDJSON_NEED_MORE) {
			ck_assert_int_eq(st, NDJSON_TOO_LONG);
			too_long++;
		}
		/* Never holds more than the limit. */
		ck_assert_uint_le(ndjson_reader_pending(r), 64 * KIB + 1);
		ck_assert_uint_eq(evbuffer_get_length(in), 0);
	}
	ck_assert_uint_eq(too_long, 1);
	add(in, "tail-of-long-line\n{\"next\":true}\n");
	expect_line(r, in, "{\"next\":true}");
	expect_status(r, in, NDJSON_NEED_MORE);

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

/* Feeds s one byte at a time; returns the one status that is not NEED_MORE. */
static enum ndjson_status
feed_bytewise(struct ndjson_reader *r, struct evbuffer *in, const char *s,
    size_t n, char **line, size_t *len)
{
	enum ndjson_status	st = NDJSON_NEED_MORE, got = NDJSON_NEED_MORE;
	size_t			i;

	for (i = 0; i < n; i++) {
		evbuffer_add(in, s + i, 1);
		st = ndjson_reader_next(r, in, line, len);
		if (st != NDJSON_NEED_MORE) {
			ck_assert_int_eq(got, NDJSON_NEED_MORE);
			got = st;
		}
	}
	return got;
}

START_TEST(test_line_of_exactly_max_length_is_accepted)
{
	const size_t		 max = 100;
	struct ndjson_reader	*r = ndjson_reader_new(max);
	struct evbuffer		*in = evbuffer_new();
	char			 buf[200], *line;
	size_t			 len;
	int			 bytewise;

	for (bytewise = 0; bytewise <= 1; bytewise++) {
		memset(buf, 'a', max);
		memcpy(buf + max, "\n", 1);
		if (bytewise)
			ck_assert_int_eq(feed_bytewise(r, in, buf, max + 1,
			    &line, &len), NDJSON_LINE);
		else {
			evbuffer_add(in, buf, max + 1);
			ck_assert_int_eq(ndjson_reader_next(r, in, &line,
			    &len), NDJSON_LINE);
		}
		ck_assert_uint_eq(len, max);
		ck_assert_uint_eq(strlen(line), max);
		free(line);

		/* With CRLF the limit is on the line, not its end. */
		memcpy(buf + max, "\r\n", 2);
		if (bytewise)
			ck_assert_int_eq(feed_bytewise(r, in, buf, max + 2,
			    &line, &len), NDJSON_LINE);
		else {
			evbuffer_add(in, buf, max + 2);
			ck_assert_int_eq(ndjson_reader_next(r, in, &line,
			    &len), NDJSON_LINE);
		}
		ck_assert_uint_eq(len, max);
		free(line);
		expect_status(r, in, NDJSON_NEED_MORE);
	}

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_line_one_over_max_length_is_rejected)
{
	const size_t		 max = 100;
	struct ndjson_reader	*r = ndjson_reader_new(max);
	struct evbuffer		*in = evbuffer_new();
	char			 buf[200], *line;
	size_t			 len;

	memset(buf, 'b', max + 1);
	memcpy(buf + max + 1, "\n", 1);
	evbuffer_add(in, buf, max + 2);
	add(in, "ok\n");
	expect_status(r, in, NDJSON_TOO_LONG);
	expect_line(r, in, "ok");

	ck_assert_int_eq(feed_bytewise(r, in, buf, max + 2, &line, &len),
	    NDJSON_TOO_LONG);
	add(in, "ok2\n");
	expect_line(r, in, "ok2");

	/* max + 1 bytes ending in CR, then a non-LF: too long as well. */
	memset(buf, 'c', max);
	memcpy(buf + max, "\rX\n", 3);
	ck_assert_int_eq(feed_bytewise(r, in, buf, max + 3, &line, &len),
	    NDJSON_TOO_LONG);
	memcpy(buf + max, "\r\r\n", 3);
	ck_assert_int_eq(feed_bytewise(r, in, buf, max + 3, &line, &len),
	    NDJSON_TOO_LONG);
	add(in, "ok3\n");
	expect_line(r, in, "ok3");

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_write_appends_newline)
{
	struct evbuffer	*out = evbuffer_new();
	char		 buf[64];
	size_t		 n;

	ck_assert_int_eq(ndjson_write(out, "{\"a\":1}", 7), 0);
	ck_assert_int_eq(ndjson_write(out, "[]", 2), 0);
	n = evbuffer_get_length(out);
	ck_assert_uint_eq(n, 11);
	evbuffer_remove(out, buf, n);
	ck_assert_int_eq(memcmp(buf, "{\"a\":1}\n[]\n", 11), 0);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_write_refuses_embedded_newline)
{
	struct evbuffer	*out = evbuffer_new();

	ck_assert_int_eq(ndjson_write(out, "{\"a\":\n1}", 8), -1);
	ck_assert_int_eq(ndjson_write(out, "{}\n", 3), -1);
	ck_assert_int_eq(ndjson_write(out, "{}\r", 3), -1);
	ck_assert_int_eq(ndjson_write(out, "", 0), -1);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_write_then_read_round_trips)
{
	struct ndjson_reader	*r = ndjson_reader_new(1024);
	struct evbuffer		*buf = evbuffer_new();

	ck_assert_int_eq(ndjson_write(buf, "{\"s\":\"a\\nb\"}", 12), 0);
	ck_assert_int_eq(ndjson_write(buf, " 1 ", 3), 0);
	expect_line(r, buf, "{\"s\":\"a\\nb\"}");
	expect_line(r, buf, " 1 ");
	expect_status(r, buf, NDJSON_NEED_MORE);

	ndjson_reader_free(r);
	evbuffer_free(buf);
}
END_TEST

START_TEST(test_free_null_is_noop)
{
	ndjson_reader_free(NULL);
}
END_TEST

/*
 * 10 MB a byte at a time: lines just under the 64 KiB limit, and lines
 * just over it.  A reader that rescanned its pending line on each call
 * would take some 10^11 steps here; the test case timeout catches that.
 * feed_bytewise() is not used: ck_assert writes to a pipe on every call.
 */
START_TEST(test_bytewise_feed_of_10mb_is_linear)
{
	const size_t		 max = 64 * KIB, total = 10 * MIB;
	struct ndjson_reader	*r = ndjson_reader_new(max);
	struct evbuffer		*in = evbuffer_new();
	size_t			 i, pos = 0, lines = 0, too_long = 0;
	size_t			 want_lines = 0, want_too_long = 0;
	size_t			 linelen;
	enum ndjson_status	 st;
	char			*line, c;
	size_t			 len;

	for (i = 0; pos < total; i++) {
		linelen = (i % 2 == 0) ? max - 10 : max + 10;
		if (pos + linelen + 1 > total)
			break;
		if (i % 2 == 0)
			want_lines++;
		else
			want_too_long++;
		for (; linelen > 0; linelen--, pos++) {
			c = 'a' + pos % 26;
			evbuffer_add(in, &c, 1);
			st = ndjson_reader_next(r, in, &line, &len);
			/* ck_assert costs a write(2) even when it passes. */
			if (st == NDJSON_TOO_LONG)
				too_long++;
			else if (st != NDJSON_NEED_MORE)
				ck_abort_msg("status %d at byte %zu", st, pos);
		}
		evbuffer_add(in, "\n", 1);
		pos++;
		st = ndjson_reader_next(r, in, &line, &len);
		if (st == NDJSON_LINE) {
			ck_assert_uint_eq(len, max - 10);
			free(line);
			lines++;
		} else
			ck_assert_int_eq(st, NDJSON_NEED_MORE);
	}
	ck_assert_uint_ge(pos, total - 2 * max);
	ck_assert_uint_eq(lines, want_lines);
	ck_assert_uint_eq(too_long, want_too_long);

	ndjson_reader_free(r);
	evbuffer_free(in);
}
END_TEST

static Suite *
ndjson_suite(void)
{
	Suite	*s = suite_create("ndjson");
	TCase	*tc;

	tc = tcase_create("reader");
	tcase_add_test(tc, test_lines_across_chunk_boundaries);
	tcase_add_test(tc, test_crlf_line_ends_are_stripped);
	tcase_add_test(tc, test_empty_and_blank_lines_are_skipped);
	tcase_add_test(tc, test_line_keeps_embedded_nul);
	tcase_add_test(tc, test_free_null_is_noop);
	suite_add_tcase(s, tc);

	tc = tcase_create("limit");
	tcase_add_test(tc, test_huge_line_is_reported_once_then_next_line_read);
	tcase_add_test(tc, test_huge_line_in_chunks_is_discarded_across_calls);
	tcase_add_test(tc, test_line_of_exactly_max_length_is_accepted);
	tcase_add_test(tc, test_line_one_over_max_length_is_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_test(tc, test_write_appends_newline);
	tcase_add_test(tc, test_write_refuses_embedded_newline);
	tcase_add_test(tc, test_write_then_read_round_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("performance");
	/* Generous for sanitizer builds; quadratic behaviour takes hours. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bytewise_feed_of_10mb_is_linear);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(ndjson_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
