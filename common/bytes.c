/*
 * Byte-string helpers for secrets; see bytes.h.
 */
#include "autoconf.h"

#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"

int
bytes_random(void *buf, size_t n)
{
	uint8_t	*p = buf;
	ssize_t	 r;

	/* Reads over 256 bytes may come back short when a signal arrives;
	 * a signal before any byte is EINTR. */
	while (n > 0) {
		if ((r = getrandom(p, n, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
bytes_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t	*x = a, *y = b;
	uint8_t			 d = 0;
	size_t			 i;

	/* No early exit: where the first difference is must not show. */
	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

size_t
bytes_base64(const void *in, size_t n, char *out, size_t outlen)
{
	static const char	 alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t		*p = in;
	uint32_t		 v;
	size_t			 i, j = 0;

	if (outlen == 0)
		return 0;
	if (outlen < BYTES_BASE64_SIZE(n)) {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[j++] = alphabet[v >> 18];
		out[j++] = alphabet[(v >> 12) & 63];
		out[j++] = alphabet[(v >> 6) & 63];
		out[j++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[j++] = alphabet[v >> 18];
		out[j++] = alphabet[(v >> 12) & 63];
		out[j++] = '=';
		out[j++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[j++] = alphabet[v >> 18];
		out[j++] = alphabet[(v >> 12) & 63];
		out[j++] = alphabet[(v >> 6) & 63];
		out[j++] = '=';
	}
	out[j] = '\0';
	return j;
}
