/*
 * A validating JSON scanner that builds nothing: it finds a response's id
 * so that an answer can be forwarded as the bytes the server sent, only
 * its id replaced, and a tool call's id and tool name so that it can go
 * to the server as the bytes the client sent.  It is at least as strict as the daemon's json-c
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

/*
 * The members of the object at s->p (its opening brace), each handed to fn
 * with its key positioned at its value; fn scans the value.  Keys with
 * escapes are refused: "na\u006de" is "name" to json-c, and a key is
 * compared here as its bytes.  An empty object is refused too: neither a
 * message nor the params it is read for can be one.
 */
typedef int jsonscan_member_fn(struct jsonscan *, const char *key,
    size_t klen, void *arg);

static int
jsonscan_members(struct jsonscan *s, jsonscan_member_fn *fn, void *arg)
{
	const char	*key;
	size_t		 klen;
	int		 escaped;

	if (++s->depth >= JSONRPC_MAX_DEPTH)
		return -1;
	s->p++;
	jsonscan_ws(s);
	for (;;) {
		if (s->p >= s->end || *s->p != '"')
			return -1;
		key = s->p + 1;
		if (jsonscan_string(s, &escaped) == -1 || escaped)
			return -1;
		klen = (size_t)(s->p - 1 - key);
		jsonscan_ws(s);
		if (s->p >= s->end || *s->p++ != ':')
			return -1;
		jsonscan_ws(s);
		if (s->p >= s->end || fn(s, key, klen, arg) == -1)
			return -1;
		jsonscan_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == ',') {
			s->p++;
			jsonscan_ws(s);
			continue;
		}
		if (*s->p++ != '}')
			return -1;
		s->depth--;
		return 0;
	}
}

/* One message: an object alone but for whitespace around it. */
static int
jsonscan_message(struct jsonscan *s, const char *text, size_t *start,
    size_t *end, jsonscan_member_fn *fn, void *arg)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\r' || *s->p == '\n'))
		s->p++;
	if (s->p >= s->end || *s->p != '{')
		return -1;
	*start = (size_t)(s->p - text);
	if (jsonscan_members(s, fn, arg) == -1)
		return -1;
	*end = (size_t)(s->p - text);
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\r' || *s->p == '\n'))
		s->p++;
	return s->p == s->end ? 0 : -1;
}

/* "jsonrpc": "2.0", exactly. */
static int
jsonscan_version(struct jsonscan *s)
{
	const char	*v = s->p;

	return jsonscan_value(s) == -1 || s->p - v != 5 ||
	    memcmp(v, "\"2.0\"", 5) != 0 ? -1 : 0;
}

/* An integer id that fits in 64 bits; its value's place in *start, *end. */
static int
jsonscan_int_id(struct jsonscan *s, const char *text, int64_t *id,
    size_t *start, size_t *end)
{
	const char	*v = s->p;
	int		 integral;

	if (jsonscan_number(s, &integral) == -1 || !integral ||
	    jsonscan_id(v, s->p, id) == -1)
		return -1;
	*start = (size_t)(v - text);
	*end = (size_t)(s->p - text);
	return 0;
}

struct jsonscan_response_state {
	const char			*text;
	struct jsonscan_response	*out;
	int				 jsonrpc, id, result;
};

static int
jsonscan_response_member_cb(struct jsonscan *s, const char *key, size_t klen,
    void *arg)
{
	struct jsonscan_response_state	*st = arg;

	if (jsonscan_key_is(key, klen, "jsonrpc"))
		return st->jsonrpc++ ? -1 : jsonscan_version(s);
	if (jsonscan_key_is(key, klen, "id"))
		return st->id++ ? -1 : jsonscan_int_id(s, st->text,
		    &st->out->id, &st->out->id_start, &st->out->id_end);
	if (jsonscan_key_is(key, klen, "result"))
		return st->result++ ? -1 : jsonscan_value(s);
	if (jsonscan_key_is(key, klen, "error") ||
	    jsonscan_key_is(key, klen, "method"))
		return -1;
	return jsonscan_value(s);
}

int
jsonscan_response(const char *text, size_t len,
    struct jsonscan_response *out)
{
	struct jsonscan				 s = { text, text + len, 0 };
	struct jsonscan_response_state		 st = { text, out, 0, 0, 0 };

	if (jsonscan_message(&s, text, &out->start, &out->end,
	    jsonscan_response_member_cb, &st) == -1)
		return -1;
	return st.jsonrpc && st.id && st.result ? 0 : -1;
}

struct jsonscan_call_state {
	const char		*text;
	struct jsonscan_call	*out;
	int			 jsonrpc, id, method, params, name;
};

static int
jsonscan_params_member_cb(struct jsonscan *s, const char *key, size_t klen,
    void *arg)
{
	struct jsonscan_call_state	*st = arg;
	int				 escaped;

	/* _meta may hold a 2026-07-28 request's version or a progress
	 * token: both are the parsed path's to read. */
	if (jsonscan_key_is(key, klen, "_meta"))
		return -1;
	if (!jsonscan_key_is(key, klen, "name"))
		return jsonscan_value(s);
	if (st->name++ || *s->p != '"')
		return -1;
	st->out->name_start = (size_t)(s->p + 1 - st->text);
	if (jsonscan_string(s, &escaped) == -1 || escaped)
		return -1;
	st->out->name_end = (size_t)(s->p - 1 - st->text);
	return 0;
}

static int
jsonscan_call_member_cb(struct jsonscan *s, const char *key, size_t klen,
    void *arg)
{
	struct jsonscan_call_state	*st = arg;
	const char			*v = s->p;
	int				 escaped;

	if (jsonscan_key_is(key, klen, "jsonrpc"))
		return st->jsonrpc++ ? -1 : jsonscan_version(s);
	if (jsonscan_key_is(key, klen, "method")) {
		if (st->method++ || jsonscan_value(s) == -1)
			return -1;
		return s->p - v == 12 && memcmp(v, "\"tools/call\"", 12) == 0 ?
		    0 : -1;
	}
	if (jsonscan_key_is(key, klen, "params"))
		return st->params++ || *s->p != '{' ? -1 :
		    jsonscan_members(s, jsonscan_params_member_cb, st);
	if (!jsonscan_key_is(key, klen, "id") || st->id++)
		return -1;
	st->out->id_start = (size_t)(v - st->text);
	if (*v != '"')
		return jsonscan_int_id(s, st->text, &st->out->id,
		    &st->out->id_start, &st->out->id_end);
	if (jsonscan_string(s, &escaped) == -1 || escaped)
		return -1;
	st->out->id_is_string = 1;
	st->out->id_end = (size_t)(s->p - st->text);
	return 0;
}

int
jsonscan_call(const char *text, size_t len, struct jsonscan_call *out)
{
	struct jsonscan			 s = { text, text + len, 0 };
	struct jsonscan_call_state	 st = { text, out, 0, 0, 0, 0, 0 };

	memset(out, 0, sizeof *out);
	if (jsonscan_message(&s, text, &out->start, &out->end,
	    jsonscan_call_member_cb, &st) == -1)
		return -1;
	return st.jsonrpc && st.id && st.method && st.params && st.name ?
	    0 : -1;
}
