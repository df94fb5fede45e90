/*
 * Fuzz target: the HTTP listener (daemon/listen-http.c through evhttp),
 * end to end.  Each input starts an in-process relay with a fixed
 * configuration without upstreams and small limits, listening on
 * FUZZ_TCP_HOST, port 0.  The input is split at FUZZ_SEPARATOR into up to
 * FUZZ_MAX_CONNS pieces, each sent as raw bytes on a new connection
 * (earlier ones stay open, so a GET or legacy SSE stream can receive what
 * later POSTs cause).  "@SID@" in a piece is replaced by the newest session
 * id the relay has sent (an Mcp-Session-Id header or a legacy endpoint's
 * sessionId), so inputs can reach the paths behind a session, which a
 * fuzzer could never guess.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-relay.h"
#include "fuzz.h"
#include "listen-http.h"
#include "log.h"
#include "relay.h"
#include "session.h"

#define FUZZ_SID	"@SID@"

static const char fuzz_http_yaml[] =
    "log:\n"
    "  level: error\n"
    "listen:\n"
    "  http: " FUZZ_TCP_HOST ":0\n"
    "  allowed_origins: [\"https://app.example\"]\n"
    "  max_body_size: 16KiB\n"
    "  max_header_size: 2KiB\n"
    "  replay_buffer: 4\n"
    "servers: {}\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-http", LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	(void)fuzz_relay_dir();
	return 0;
}

static int
fuzz_is_hex(const char *p)
{
	size_t	i;

	for (i = 0; i < SESSION_ID_LEN; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* The last session id after any of the markers in what c received. */
static void
fuzz_find_sid(const struct fuzz_conn *c, char *sid)
{
	static const char *const markers[] = { "Mcp-Session-Id: ",
	    "sessionId=", NULL };
	const char	*p, *end;
	size_t		 i, mlen;

	if (c->in == NULL)
		return;
	end = c->in + c->inlen;
	for (i = 0; markers[i] != NULL; i++) {
		mlen = strlen(markers[i]);
		for (p = c->in; (p = memmem(p, (size_t)(end - p), markers[i],
		    mlen)) != NULL; p += mlen) {
			if ((size_t)(end - p) >= mlen + SESSION_ID_LEN &&
			    fuzz_is_hex(p + mlen)) {
				memcpy(sid, p + mlen, SESSION_ID_LEN);
				sid[SESSION_ID_LEN] = '\0';
			}
		}
	}
}

/* seg with every FUZZ_SID replaced by sid; the caller frees it. */
static char *
fuzz_substitute(const uint8_t *seg, size_t len, const char *sid,
    size_t *outlen)
{
	const size_t	 mlen = sizeof FUZZ_SID - 1, slen = strlen(sid);
	char		*out;
	size_t		 i, o = 0;

	/* A session id is longer than the marker: this bounds the size. */
	if ((out = malloc(len / mlen * slen + len + 1)) == NULL)
		abort();
	for (i = 0; i < len;) {
		if (len - i >= mlen && memcmp(seg + i, FUZZ_SID, mlen) == 0) {
			memcpy(out + o, sid, slen);
			o += slen;
			i += mlen;
		} else
			out[o++] = (char)seg[i++];
	}
	*outlen = o;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_clients	 cl;
	struct fuzz_conn	*c;
	const uint8_t		*seg;
	char			 sid[SESSION_ID_LEN + 1] = "none";
	char			*msg;
	size_t			 len, n, i;
	int			 port;

	fuzz_clients_init(&cl, fuzz_relay_new(fuzz_http_yaml));
	port = listen_http_port(cl.relay->http);
	FUZZ_ASSERT(port > 0);
	while (fuzz_next_segment(&data, &size, &seg, &len)) {
		if ((c = fuzz_connect_tcp(&cl, port)) == NULL)
			break;
		msg = fuzz_substitute(seg, len, sid, &n);
		fuzz_send(&cl, c, msg, n);
		free(msg);
		fuzz_pump(&cl);
		for (i = 0; i < cl.n; i++)
			fuzz_find_sid(&cl.c[i], sid);
	}
	fuzz_clients_finish(&cl);
	return 0;
}
