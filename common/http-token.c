/* Header bytes (see http-token.h). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http-token.h"

#define HTTP_ONES	0x0101010101010101ull
#define HTTP_HIGHS	0x8080808080808080ull

const unsigned char http_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/*
 * (w - 0x20 in each byte) & ~w & 0x80 in each byte is not 0 exactly when a
 * byte of w is below 0x20 (a borrow only runs on from a byte that has
 * one), and the same test of w ^ 0x7f for 0 finds DEL.  A word with a hit,
 * which may be only a tab, and the bytes after it, go byte by byte.
 */
int
http_has_ctl(const char *p, size_t n)
{
	const unsigned char	*s = (const unsigned char *)p;
	uint64_t		 w, d;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, sizeof w);
		d = w ^ (HTTP_ONES * 0x7f);
		if (((w - HTTP_ONES * 0x20) & ~w & HTTP_HIGHS) != 0 ||
		    ((d - HTTP_ONES) & ~d & HTTP_HIGHS) != 0)
			break;
	}
	for (; n > 0; s++, n--)
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

int
http_has_token(const char *value, const char *token)
{
	size_t		 len = strlen(token), n;
	const char	*p = value;

	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,;");
		if (n == len && strncasecmp(p, token, len) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}
