/*
 * A validating JSON scanner that builds nothing: it finds a response's id
 * so that an answer can be forwarded as the bytes the server sent, only
 * its id replaced.  It is at least as strict as the daemon's json-c
 * parser (JSON_TOKENER_STRICT, UTF-8 checked): what it accepts, json-c
 * would have; what it refuses goes to json-c.
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>

#include "jsonrpc.h"
#include "jsonscan.h"

struct jsonscan {
	const char	*p, *end;
	int		 depth;
};

static int	jsonscan_value(struct jsonscan *);

/* Whitespace inside the object: no line breaks (see jsonscan.h). */
static void
jsonscan_ws(struct jsonscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

static int
jsonscan_hex4(const unsigned char *p)
{
	int	i, v = 0, c;

	for (i = 0; i < 4; i++) {
		c = p[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + c - '0';
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* One UTF-8 sequence of two or more bytes at p: its length, or 0. */
static size_t
jsonscan_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned char	c = p[0], lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (c == 0xed)
			hi = 0x9f;		/* a surrogate */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;		/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;		/* past U+10FFFF */
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* A string at s->p (its opening quote); *escaped set if it had any. */
static int
jsonscan_string(struct jsonscan *s, int *escaped)
{
	const unsigned char	*p = (const unsigned char *)s->p + 1;
	const unsigned char	*end = (const unsigned char *)s->end;
	size_t			 n;
	int			 u, lo;

	*escaped = 0;
	while (p < end) {
		if (*p == '"') {
			s->p = (const char *)p + 1;
			return 0;
		}
		if (*p < 0x20)
			return -1;
		if (*p >= 0x80) {
			if ((n = jsonscan_utf8(p, end)) == 0)
				return -1;
			p += n;
			continue;
		}
		if (*p != '\\') {
			p++;
			continue;
		}
		*escaped = 1;
		if (end - p < 2)
			return -1;
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return -1;
		}
		if (end - p < 6 || (u = jsonscan_hex4(p + 2)) == -1)
			return -1;
		p += 6;
		/* A surrogate only as a high-low pair: json-c's answer to a
		 * lone one is not ours to guess. */
		if (u >= 0xdc00 && u <= 0xdfff)
			return -1;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    (lo = jsonscan_hex4(p + 2)) < 0xdc00 || lo > 0xdfff)
				return -1;
			p += 6;
		}
	}
	return -1;
}

static int
jsonscan_digits(struct jsonscan *s)
{
	const char	*start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

/* RFC 8259 number; *integral cleared if it has a fraction or exponent. */
static int
jsonscan_number(struct jsonscan *s, int *integral)
{
	*integral = 1;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p >= s->end || *s->p < '1' || *s->p > '9' ||
	    jsonscan_digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		*integral = 0;
		s->p++;
		if (jsonscan_digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		*integral = 0;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (jsonscan_digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
jsonscan_literal(struct jsonscan *s, const char *word)
{
	size_t	n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* An array or an object at s->p (its opening bracket). */
static int
jsonscan_container(struct jsonscan *s)
{
	char	close = *s->p == '{' ? '}' : ']';
	int	escaped;

	if (++s->depth >= JSONRPC_MAX_DEPTH)
		return -1;
	s->p++;
	jsonscan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (s->p >= s->end || *s->p != '"' ||
			    jsonscan_string(s, &escaped) == -1)
				return -1;
			jsonscan_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return -1;
			jsonscan_ws(s);
		}
		if (jsonscan_value(s) == -1)
			return -1;
		jsonscan_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == ',') {
			s->p++;
			jsonscan_ws(s);
			continue;
		}
		if (*s->p++ != close)
			return -1;
		s->depth--;
		return 0;
	}
}

static int
jsonscan_value(struct jsonscan *s)
{
	int	x;

	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		return jsonscan_string(s, &x);
	case '{':
	case '[':
		return jsonscan_container(s);
	case 't':
		return jsonscan_literal(s, "true");
	case 'f':
		return jsonscan_literal(s, "false");
	case 'n':
		return jsonscan_literal(s, "null");
	default:
		return jsonscan_number(s, &x);
	}
}

/* An integer id that fits in 64 bits. */
static int
jsonscan_id(const char *p, const char *end, int64_t *id)
{
	uint64_t	v = 0, d, max = INT64_MAX;
	int		neg = 0;

	if (p < end && *p == '-') {
		neg = 1;
		max = (uint64_t)INT64_MAX + 1;
		p++;
	}
	for (; p < end; p++) {
		d = (uint64_t)(*p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*id = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
	    -(int64_t)v) : (int64_t)v;
	return 0;
}

static int
jsonscan_key_is(const char *key, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(key, word, len) == 0;
}

int
jsonscan_response(const char *text, size_t len,
    struct jsonscan_response *out)
{
	struct jsonscan	 s = { text, text + len, 1 };
	const char	*key, *v;
	size_t		 klen;
	int		 escaped, integral;
	int		 seen_jsonrpc = 0, seen_id = 0, seen_result = 0;

	while (s.p < s.end && (*s.p == ' ' || *s.p == '\t' || *s.p == '\r' ||
	    *s.p == '\n'))
		s.p++;
	if (s.p >= s.end || *s.p != '{')
		return -1;
	out->start = (size_t)(s.p - text);
	s.p++;
	jsonscan_ws(&s);
	if (s.p < s.end && *s.p == '}')
		return -1;
	for (;;) {
		if (s.p >= s.end || *s.p != '"')
			return -1;
		key = s.p + 1;
		if (jsonscan_string(&s, &escaped) == -1 || escaped)
			return -1;
		klen = (size_t)(s.p - 1 - key);
		jsonscan_ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			return -1;
		jsonscan_ws(&s);
		v = s.p;
		if (jsonscan_key_is(key, klen, "jsonrpc")) {
			if (seen_jsonrpc++ || jsonscan_value(&s) == -1 ||
			    s.p - v != 5 || memcmp(v, "\"2.0\"", 5) != 0)
				return -1;
		} else if (jsonscan_key_is(key, klen, "id")) {
			if (seen_id++ || jsonscan_number(&s, &integral) == -1 ||
			    !integral || jsonscan_id(v, s.p, &out->id) == -1)
				return -1;
			out->id_start = (size_t)(v - text);
			out->id_end = (size_t)(s.p - text);
		} else if (jsonscan_key_is(key, klen, "result")) {
			if (seen_result++ || jsonscan_value(&s) == -1)
				return -1;
		} else if (jsonscan_key_is(key, klen, "error") ||
		    jsonscan_key_is(key, klen, "method"))
			return -1;
		else if (jsonscan_value(&s) == -1)
			return -1;
		jsonscan_ws(&s);
		if (s.p >= s.end)
			return -1;
		if (*s.p == ',') {
			s.p++;
			jsonscan_ws(&s);
			continue;
		}
		if (*s.p++ != '}')
			return -1;
		break;
	}
	out->end = (size_t)(s.p - text);
	while (s.p < s.end && (*s.p == ' ' || *s.p == '\t' || *s.p == '\r' ||
	    *s.p == '\n'))
		s.p++;
	if (s.p != s.end || !seen_jsonrpc || !seen_id || !seen_result)
		return -1;
	return 0;
}
