/*
 * A small HTTP/1.1 client on libevent for the remote upstream transports:
 * keep-alive connection reuse, non-blocking DNS (evdns), connect and
 * per-request timeouts, chunked and Content-Length bodies, text/event-stream
 * bodies delivered event by event, and https through OpenSSL 3 in the TLS
 * module (tls.h), loaded by the first https client.
 */
#ifndef MCPRELAY_HTTP_CLIENT_H
#define MCPRELAY_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sse_event;
struct http_client;
struct http_request;

#define HTTP_CLIENT_DEFAULT_MAX_BODY		(4u * 1024 * 1024)
#define HTTP_CLIENT_DEFAULT_MAX_CONNECTIONS	32
/* Shorter than the 5 s keep-alive of Node's HTTP server, the most common
 * MCP server, so that we close an idle connection before the server does. */
#define HTTP_CLIENT_DEFAULT_IDLE_TIMEOUT	4.0
#define HTTP_CLIENT_MAX_HEADER_BYTES		(64u * 1024)
#define HTTP_CLIENT_MAX_HEADERS			100

/* An http:// or https:// URL taken apart; every string is allocated. */
struct http_url {
	int	 tls;		/* https */
	char	*host;		/* without the brackets of an IPv6 literal */
	int	 port;		/* explicit or 80/443 */
	char	*target;	/* path and query, "/" at least; no fragment */
	char	*userinfo;	/* "user:password" (percent-decoded) or NULL */
};

/* 0, or -1 with *why set to a static explanation. */
int		 http_url_parse(const char *url, struct http_url *,
		    const char **why);
void		 http_url_clear(struct http_url *);
/*
 * Resolve ref (absolute, scheme-relative "//host/x", absolute-path "/x" or
 * relative "x?y") against base into out.  0, or -1 with *why.
 */
int		 http_url_resolve(const struct http_url *base, const char *ref,
		    struct http_url *out, const char **why);
int		 http_url_same_origin(const struct http_url *,
		    const struct http_url *);
/*
 * "https://host:port/path" for logs: no user info and no query, which may
 * both carry secrets.  Returns buf.
 */
const char	*http_url_loggable(const struct http_url *, char *buf,
		    size_t len);

struct http_tls_config {
	int		 verify;	/* check the chain and the host name */
	const char	*ca_file;	/* NULL: the system store */
	const char	*cert_file;	/* client certificate (with key_file) */
	const char	*key_file;
	int		 min_version;	/* 2 for TLS 1.2 (also 0), 3 for 1.3 */
};

/* Everything is copied by http_client_new(). */
struct http_client_config {
	const char		*name;		/* "server NAME" in logs */
	int			 tls;
	const char		*host;		/* name or IP literal */
	int			 port;
	struct http_tls_config	 tls_config;
	double			 connect_timeout;	/* DNS + TCP + TLS; 0: none */
	double			 idle_timeout;	/* keep-alive; 0: default */
	size_t			 max_body;	/* 0: default; also per SSE
						   event */
	int			 max_connections;	/* 0: default */
};

/* Why an exchange failed. */
enum http_error {
	HTTP_ERR_NONE,
	HTTP_ERR_DNS,		/* err: an EVUTIL_EAI_* code */
	HTTP_ERR_CONNECT,	/* TCP connect; err: errno */
	HTTP_ERR_CONNECT_TIMEOUT, /* DNS + TCP + TLS took connect_timeout */
	HTTP_ERR_TLS,		/* handshake failed, not for the certificate */
	HTTP_ERR_TLS_VERIFY,	/* certificate refused; err: X509_V_ERR_* */
	HTTP_ERR_RESET,		/* closed or reset before the response was
				   complete; err: errno or 0 (EOF) */
	HTTP_ERR_TIMEOUT,	/* the request's own timeout */
	HTTP_ERR_PROTOCOL,	/* not an HTTP/1.x response, bad framing */
	HTTP_ERR_TOO_LARGE,	/* headers, body or an SSE event too big */
	HTTP_ERR_NERRORS
};

const char	*http_error_name(enum http_error);

struct http_header {
	char	*name;
	char	*value;
};

struct http_response {
	int			 status;
	const char		*reason;
	int			 minor;		/* HTTP/1.minor */
	const struct http_header *headers;
	size_t			 nheaders;
	/* A 2xx text/event-stream body: delivered through event(). */
	int			 sse;
};

/* Case-insensitive; the first one; NULL if absent. */
const char	*http_response_header(const struct http_response *,
		    const char *name);

/* How an exchange ended; valid only during done(). */
struct http_result {
	enum http_error			 error;
	int				 err;
	const char			*detail;	/* "" on success */
	const struct http_response	*response;	/* NULL if none came */
	const char			*body;		/* NUL-ended; "" for SSE */
	size_t				 body_len;
};

/*
 * Callbacks of one request, only ever called from the event loop.  They may
 * call anything in this API, http_client_free() included.
 */
struct http_request_cbs {
	/* Status and headers are in (not called for 1xx). */
	void	(*response)(struct http_request *, const struct http_response *,
		    void *arg);
	/* One event of an SSE body, as soon as its blank line arrived. */
	void	(*event)(struct http_request *, const struct sse_event *,
		    void *arg);
	/* Last: success (the whole body is in) or failure.  The request is
	 * freed when it returns. */
	void	(*done)(struct http_request *, const struct http_result *,
		    void *arg);
};

struct http_client_stats {
	uint64_t	connections;	/* TCP connections opened */
	uint64_t	reused;		/* exchanges on a kept-alive one */
	uint64_t	requests;
};

/*
 * NULL with err set when the TLS context cannot be set up (ca_file,
 * cert_file or key_file unreadable or unusable): a configuration error.
 */
struct http_client *http_client_new(struct event_base *,
		    const struct http_client_config *, char *err,
		    size_t errlen);
/*
 * Cancels every request without a callback and closes every connection.
 * Safe inside any callback.  http_client_free(NULL) is a no-op.
 */
void		 http_client_free(struct http_client *);
const struct http_client_stats *http_client_stats(const struct http_client *);

/*
 * A request for target (path and query) on the client's origin.  Nothing
 * happens before http_request_start().  cbs is not copied.
 */
struct http_request *http_request_new(struct http_client *,
		    const char *method, const char *target,
		    const struct http_request_cbs *, void *arg);
/* -1 with errno EINVAL when the name is not a token or the value holds a
 * CR, LF or NUL: nothing is added. */
int		 http_request_add_header(struct http_request *,
		    const char *name, const char *value);
/* Copies the body; Content-Length follows from it. */
void		 http_request_set_body(struct http_request *,
		    const char *content_type, const char *body, size_t len);
/* Until the response is complete (for an SSE body: until its headers);
 * 0 (the default) for none. */
void		 http_request_set_timeout(struct http_request *,
		    double seconds);
/* Queue it; it goes out from the loop, on a kept-alive connection when one
 * is free.  Failures come through done(), never from here. */
void		 http_request_start(struct http_request *);
/* Stop and free it: no callback follows.  A connection in the middle of
 * its exchange is closed. */
void		 http_request_cancel(struct http_request *);

/* The SSE parser's last event id (NULL if none) and retry: (ms, -1 if
 * none) of the request's body so far, for resuming the stream. */
const char	*http_request_last_event_id(const struct http_request *);
long		 http_request_retry(const struct http_request *);
/* 1 once the request is on a connection (being written or written): from
 * then on the server may have it; 0 while it waits for a connection. */
int		 http_request_sent(const struct http_request *);

#endif
