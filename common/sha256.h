/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), written here so that the
 * daemon need not link libcrypto for a few digests: linking it alone costs
 * 1.4 MiB of resident memory (docs/benchmarks.md).
 */
#ifndef MCPRELAY_SHA256_H
#define MCPRELAY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32	/* digest bytes */
#define SHA256_BLOCK	64	/* block bytes */

struct sha256 {
	uint32_t	h[8];
	uint64_t	total;		/* bytes hashed so far */
	uint8_t		buf[SHA256_BLOCK];
	size_t		nbuf;		/* bytes waiting in buf */
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
/* Writes the digest and wipes the state. */
void	sha256_final(struct sha256 *, uint8_t out[SHA256_LEN]);
/* The digest of one buffer. */
void	sha256(const void *, size_t, uint8_t out[SHA256_LEN]);
/* HMAC-SHA256 of msg under key (any length: a longer key is hashed). */
void	hmac_sha256(const void *key, size_t keylen, const void *msg,
	    size_t len, uint8_t out[SHA256_LEN]);

#endif
