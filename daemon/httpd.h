/*
 * A small HTTP/1.1 server for the MCP endpoint: one request at a time per
 * connection, bodies by Content-Length or chunked, replies whole or
 * streamed (chunked).  The socket is read with the read event left on for
 * the connection's whole life, so a request costs no epoll_ctl().
 */
#ifndef MCPRELAY_HTTPD_H
#define MCPRELAY_HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct httpd;
struct httpd_conn;
struct httpd_req;

enum httpd_method {
	HTTPD_GET,
	HTTPD_HEAD,
	HTTPD_POST,
	HTTPD_PUT,
	HTTPD_DELETE,
	HTTPD_OPTIONS,
	HTTPD_PATCH,
	HTTPD_OTHER,
};

/* Why a connection ended, for the close callback. */
enum httpd_close {
	HTTPD_CLOSE_DONE,	/* the peer closed, or we did after a reply */
	HTTPD_CLOSE_IDLE,	/* no request within idle_timeout */
	HTTPD_CLOSE_TIMEOUT,	/* a request incomplete after read_timeout */
	HTTPD_CLOSE_REFUSED,	/* a malformed or oversized request */
	HTTPD_CLOSE_ERROR,	/* a socket error */
	HTTPD_CLOSE_SHUTDOWN,	/* httpd_free */
};

/* Read at each accept, so a reload's new values apply to new requests. */
struct httpd_limits {
	size_t		max_header_size;
	size_t		max_body_size;
	double		idle_timeout;	/* seconds between requests; 0: never */
	double		read_timeout;	/* first byte to last; 0: never */
};

struct httpd_callbacks {
	/* A new connection: its owner's state, or NULL after it was
	 * refused with httpd_conn_refuse(). */
	void	*(*accept)(struct httpd_conn *, void *arg);
	/* A whole request.  It must be answered, now or later, with
	 * httpd_reply() or httpd_reply_start() ... httpd_reply_end(),
	 * unless its connection closes first. */
	void	 (*request)(struct httpd_req *, void *conn_arg);
	/* The connection is gone; a request it had unanswered goes with
	 * it and must not be answered.  conn_arg is NULL for a refused
	 * connection. */
	void	 (*close)(struct httpd_conn *, void *conn_arg,
		    enum httpd_close);
};

/* fd >= 0: an inherited listening socket; else bind host:port. */
struct httpd	*httpd_new(struct event_base *, const char *host, int port,
		    int fd, const struct httpd_callbacks *, void *arg,
		    char *err, size_t errlen);
/* A server with no listening socket: connections come by httpd_adopt(). */
struct httpd	*httpd_new_unbound(struct event_base *,
		    const struct httpd_callbacks *, void *arg);
/* Serve a connected stream socket (non-blocking) as if just accepted. */
void		 httpd_adopt(struct httpd *, int fd);
/* Closes every connection (the close callback runs for each). */
void		 httpd_free(struct httpd *);
int		 httpd_port(const struct httpd *);
void		 httpd_set_limits(struct httpd *, const struct httpd_limits *);

int		 httpd_conn_fd(const struct httpd_conn *);
/* What accept returned for the connection. */
void		*httpd_conn_arg(const struct httpd_conn *);
/* Answer a connection not yet served with a JSON-RPC error, and close it. */
void		 httpd_conn_refuse(struct httpd_conn *, int status,
		    const char *reason, int code, const char *message,
		    const char *limit, int64_t value);

struct httpd_conn *httpd_req_conn(const struct httpd_req *);
enum httpd_method httpd_req_method(const struct httpd_req *);
const char	*httpd_req_path(const struct httpd_req *);
/* The query string after '?', or NULL. */
const char	*httpd_req_query(const struct httpd_req *);
/* The first header of that name (any case), or NULL. */
const char	*httpd_req_header(const struct httpd_req *, const char *);
const char	*httpd_req_body(const struct httpd_req *, size_t *);

/* A header for the reply; before httpd_reply() or httpd_reply_start(). */
void		 httpd_add_header(struct httpd_req *, const char *,
		    const char *);
/* The whole reply: the request is finished and freed. */
void		 httpd_reply(struct httpd_req *, int status,
		    const char *reason, const char *body, size_t len);
/* A streamed reply: chunked, or until close for an HTTP/1.0 client. */
void		 httpd_reply_start(struct httpd_req *, int status,
		    const char *reason);
/* Moves buf's contents out as one chunk. */
void		 httpd_reply_chunk(struct httpd_req *, struct evbuffer *);
void		 httpd_reply_end(struct httpd_req *);

/* name=value from a query string, percent-decoded into buf; -1: none. */
int		 httpd_query_param(const char *query, const char *name,
		    char *buf, size_t len);

#endif
