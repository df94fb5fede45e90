/*
 * Small byte-string helpers for secrets, so that the daemon need not link
 * libcrypto: random bytes from the kernel, a constant-time comparison, and
 * base64 (RFC 4648 section 4, with padding).
 */
#ifndef MCPRELAY_BYTES_H
#define MCPRELAY_BYTES_H

#include <stddef.h>

/* Bytes base64 needs for n bytes, with the NUL. */
#define BYTES_BASE64_SIZE(n)	(4 * (((n) + 2) / 3) + 1)

/*
 * Fills buf with n bytes from getrandom(2), waiting for the kernel's pool
 * at boot; 0, or -1 with errno set.
 */
int	bytes_random(void *buf, size_t n);
/* 1 if equal; the time taken depends on n only. */
int	bytes_equal(const void *, const void *, size_t n);
/*
 * Base64 of in into out (size at least BYTES_BASE64_SIZE(n)), NUL-ended;
 * the length without the NUL, or 0 with out empty when out is too small.
 */
size_t	bytes_base64(const void *in, size_t n, char *out, size_t outlen);

#endif
