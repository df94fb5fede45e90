/*
 * Fuzz target: the Unix-socket listener (daemon/listen-unix.c: NDJSON
 * framing, the scope preamble, one session per connection) end to end.
 * Each input starts an in-process relay with a fixed configuration without
 * upstreams and listening only on a Unix socket; the input is split at
 * FUZZ_SEPARATOR into up to FUZZ_MAX_CONNS pieces, each sent on a new
 * connection; every second connection is then half-closed, as
 * "printf ... | nc -U" does, so the flush-then-close path runs too.  The
 * listener's limits are made small so that short inputs reach them.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdio.h>

#include "fuzz-relay.h"
#include "fuzz.h"
#include "listen-unix.h"
#include "log.h"
#include "relay.h"

static const char fuzz_unix_yaml[] =
    "log:\n"
    "  level: error\n"
    "listen:\n"
    "  http: off\n"
    "  unix:\n"
    "    path: %s/mcp.sock\n"
    "servers: {}\n";

/* Small, so that inputs of a few KiB reach the limits. */
static const struct listen_unix_limits fuzz_limits = {
	.max_conns = 4,
	.max_line = 2048,
	.pause_output = 4096,
	.max_output = 16384,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-unix", LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	(void)fuzz_relay_dir();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_clients	 cl;
	struct fuzz_conn	*c;
	const uint8_t		*seg;
	char			 path[128];
	size_t			 len, k = 0;

	fuzz_clients_init(&cl, fuzz_relay_new(fuzz_unix_yaml));
	listen_unix_set_limits(cl.relay->unix_listener, &fuzz_limits);
	snprintf(path, sizeof path, "%s/mcp.sock", fuzz_relay_dir());
	while (fuzz_next_segment(&data, &size, &seg, &len)) {
		if ((c = fuzz_connect_unix(&cl, path)) == NULL)
			break;
		fuzz_send(&cl, c, seg, len);
		if (k++ % 2 == 1)
			fuzz_shutdown_write(c);
		fuzz_pump(&cl);
	}
	fuzz_clients_finish(&cl);
	return 0;
}
