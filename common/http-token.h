/*
 * The bytes a header may have (RFC 9110), checked for every byte of every
 * request the HTTP server takes and of the names the HTTP client is asked
 * to send: so a table for names, and values eight bytes at a time.
 */
#ifndef MCPRELAY_HTTP_TOKEN_H
#define MCPRELAY_HTTP_TOKEN_H

#include <stddef.h>

extern const unsigned char http_tchar[256];

static inline int
http_is_tchar(unsigned char ch)
{
	return http_tchar[ch];
}

/* 1 if p[0..n) has a byte no header value may have: a control but tab. */
int	http_has_ctl(const char *p, size_t n);
/*
 * 1 if a comma-separated header value (Connection, Transfer-Encoding) has
 * token, in any case; a token's parameters (";q=1") are skipped.
 */
int	http_has_token(const char *value, const char *token);

#endif
