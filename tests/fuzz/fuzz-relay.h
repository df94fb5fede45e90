/*
 * An in-process mcprelayd for the listener fuzz targets: a relay started
 * from a fixed configuration in a private temporary directory, and client
 * connections driven from the same thread by running the relay's event
 * loop without blocking until nothing more happens.
 */
#ifndef MCPRELAY_FUZZ_RELAY_H
#define MCPRELAY_FUZZ_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct relay;

/*
 * The relay listens, and the clients connect from, here rather than on
 * 127.0.0.1: a replay running next to the integration tests (make -j
 * check) must not take a port one of them has just picked.
 */
#define FUZZ_TCP_HOST		"127.0.0.2"

#define FUZZ_MAX_CONNS		8
#define FUZZ_MAX_RECEIVED	(256 * 1024)

/* One client connection and what it has received. */
struct fuzz_conn {
	int	 fd;		/* -1: closed */
	char	*in;
	size_t	 inlen;
	size_t	 incap;
};

struct fuzz_clients {
	struct relay		*relay;
	struct fuzz_conn	 c[FUZZ_MAX_CONNS];
	size_t			 n;
};

/* A private directory, removed with everything in it at exit. */
const char	*fuzz_relay_dir(void);
/* Starts a relay on yaml (%s is replaced by fuzz_relay_dir()). */
struct relay	*fuzz_relay_new(const char *yaml);

void		 fuzz_clients_init(struct fuzz_clients *, struct relay *);
/* Closes every client, lets the relay notice, then frees the relay. */
void		 fuzz_clients_finish(struct fuzz_clients *);
/* A new connection to FUZZ_TCP_HOST:port or to a Unix socket; NULL when
 * FUZZ_MAX_CONNS are open. */
struct fuzz_conn *fuzz_connect_tcp(struct fuzz_clients *, int port);
struct fuzz_conn *fuzz_connect_unix(struct fuzz_clients *, const char *);
/* Sends all of data (running the loop while the socket is full). */
void		 fuzz_send(struct fuzz_clients *, struct fuzz_conn *,
		    const void *data, size_t len);
void		 fuzz_shutdown_write(struct fuzz_conn *);
/* Runs the relay's loop and reads every client until all is quiet. */
void		 fuzz_pump(struct fuzz_clients *);

/*
 * Splits data at each FUZZ_SEPARATOR: *seg and *len get the next piece.
 * Returns 0 when there is none left.
 */
#define FUZZ_SEPARATOR		"\n@@\n"
int		 fuzz_next_segment(const uint8_t **data, size_t *size,
		    const uint8_t **seg, size_t *len);

#endif
