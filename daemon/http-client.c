/*
 * The HTTP/1.1 client of the remote transports (see http-client.h): one
 * exchange at a time per connection, connections kept alive and reused,
 * names resolved with evdns, https through the TLS module's filter over the
 * TCP bufferevent (tls.h), response bodies decoded as they arrive.
 *
 * Responses are parsed from one flat buffer per connection.  Over plain TCP
 * the connection reads it with recv() itself: the bufferevent only connects
 * and writes what the socket does not take at once, as its read path costs
 * an ioctl(FIONREAD), an evbuffer chain and a deferred callback per read,
 * which is a fair part of what a proxied call costs.  Over TLS the filter
 * reads and its input is moved to the buffer.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "compat-queue.h"
#include "http-client.h"
#include "http-token.h"
#include "log.h"
#include "sock.h"
#include "sse.h"
#include "tls.h"
#include "xmalloc.h"

/* Longest status, header, chunk-size or trailer line. */
#define HTTP_LINE_MAX	(16u * 1024)
/* A connection's input buffer at first, and the least room for a read. */
#define HTTP_IN_SIZE	(16u * 1024)
#define HTTP_READ_MIN	(4u * 1024)

enum http_conn_state {
	CONN_RESOLVING,		/* waiting for evdns */
	CONN_CONNECTING,	/* TCP connect to one of the addresses */
	CONN_HANDSHAKE,		/* TLS handshake */
	CONN_BUSY,		/* one exchange on it */
	CONN_IDLE,		/* kept alive for the next one */
	CONN_CLOSED,		/* waiting to be freed */
};

static const char *const http_conn_state_names[] = {
	[CONN_RESOLVING] = "resolving",
	[CONN_CONNECTING] = "connecting",
	[CONN_HANDSHAKE] = "handshake",
	[CONN_BUSY] = "busy",
	[CONN_IDLE] = "idle",
	[CONN_CLOSED] = "closed",
};

enum http_req_state {
	REQ_NEW,		/* not started */
	REQ_PENDING,		/* waiting for a connection */
	REQ_BOUND,		/* a connection is being opened for it */
	REQ_SENT,		/* on a connection, response not complete */
	REQ_DONE,		/* done() running */
	REQ_DEAD,		/* cancelled or finished: to be freed */
};

/* Where the response parser is. */
enum http_read_state {
	READ_STATUS,
	READ_HEADERS,
	READ_BODY_LENGTH,
	READ_CHUNK_SIZE,
	READ_CHUNK_DATA,
	READ_CHUNK_END,
	READ_TRAILERS,
	READ_BODY_EOF,
	READ_COMPLETE,
};

static const char *const http_error_names[HTTP_ERR_NERRORS] = {
	[HTTP_ERR_NONE] = "none",
	[HTTP_ERR_DNS] = "dns",
	[HTTP_ERR_CONNECT] = "connect",
	[HTTP_ERR_CONNECT_TIMEOUT] = "connect-timeout",
	[HTTP_ERR_TLS] = "tls",
	[HTTP_ERR_TLS_VERIFY] = "tls-verify",
	[HTTP_ERR_RESET] = "reset",
	[HTTP_ERR_TIMEOUT] = "timeout",
	[HTTP_ERR_PROTOCOL] = "protocol",
	[HTTP_ERR_TOO_LARGE] = "too-large",
};

/*
 * The resolver, shared by the client and its outstanding lookups: a lookup
 * whose connection went away still holds it until evdns calls back, since
 * freeing an evdns_base with lookups in flight is not safe.
 */
struct http_dns {
	struct event_base	*base;
	struct evdns_base	*evdns;
	int			 refs;
};

struct http_dns_query {
	struct http_dns		*dns;
	struct http_conn	*conn;		/* NULL once it went away */
};

struct http_request {
	struct http_client		*c;
	enum http_req_state		 state;
	const struct http_request_cbs	*cbs;
	void				*arg;
	char				*method;
	char				*target;
	char				*head;		/* extra header lines */
	size_t				 head_len, head_cap;
	char				*body;
	size_t				 body_len;
	int				 has_body;
	double				 timeout;
	struct http_conn		*conn;

	/* The response. */
	struct http_response		 resp;
	/* The reason, then each header's name and value, NUL-ended. */
	char				*hbuf;
	size_t				 hbuf_len, hbuf_cap;
	struct http_header		*headers;	/* into hbuf */
	size_t				 nheaders, headers_cap;
	int				 indexed;	/* headers[] set */
	size_t				 header_bytes;
	int				 got_bytes;	/* any of the response */
	struct sse_parser		*sse;
	char				*rbody;
	size_t				 rbody_len;
	size_t				 rbody_cap;

	TAILQ_ENTRY(http_request)	 all;		/* c->reqs */
	TAILQ_ENTRY(http_request)	 q;		/* pending or dead */
};
TAILQ_HEAD(http_request_list, http_request);

struct http_conn {
	struct http_client		*c;
	enum http_conn_state		 state;
	struct bufferevent		*bev;	/* TCP, or the TLS filter */
	evutil_socket_t			 fd;
	struct event			*ev_read;	/* plain TCP */
	struct evutil_addrinfo		*ai;	/* addresses to try */
	struct evutil_addrinfo		*ai_next;
	struct http_dns_query		*query;
	int				 last_errno;
	char				 peer[INET6_ADDRSTRLEN + 8];
	struct event			*timer;	/* the state's timeout */
	struct event			*ev_step;	/* resolved: connect */
	struct http_request		*req;
	unsigned			 exchanges;

	/* The exchange's parser. */
	enum http_read_state		 rstate;
	int				 keepalive;
	int				 head_only;	/* HEAD, 1xx, 204, 304 */
	uint64_t			 remaining;	/* length or chunk */

	/* Input not parsed yet: in[in_off..in_len). */
	char				*in;
	size_t				 in_off, in_len, in_cap;

	TAILQ_ENTRY(http_conn)		 entry;		/* conns or dead */
};
TAILQ_HEAD(http_conn_list, http_conn);

struct http_client {
	struct event_base		*base;
	struct http_dns			*dns;	/* NULL until a name is
						   looked up */
	const struct tls_module		*tls_mod;	/* https only */
	void				*tls_handle;
	struct tls_ctx			*tls_ctx;
	char				*name;
	int				 tls;
	int				 verify;
	char				*host;
	char				*host_header;
	int				 port;
	char				 port_str[8];
	double				 connect_timeout;
	double				 idle_timeout;
	size_t				 max_body;
	int				 max_conns;

	struct http_conn_list		 conns;
	int				 nconns;
	struct http_request_list	 reqs;
	struct http_request_list	 pending;
	struct event			*ev_dispatch;
	struct http_client_stats	 stats;

	/* Callbacks may free anything: memory waits for the outermost. */
	int				 depth;
	int				 dead;
	struct http_conn_list		 dead_conns;
	struct http_request_list	 dead_reqs;
};

static void	http_dispatch_cb(evutil_socket_t, short, void *);
static void	http_conn_timer_cb(evutil_socket_t, short, void *);
static void	http_conn_step_cb(evutil_socket_t, short, void *);
static void	http_conn_read_cb(struct bufferevent *, void *);
static void	http_conn_recv_cb(evutil_socket_t, short, void *);
static void	http_conn_event_cb(struct bufferevent *, short, void *);
static void	http_conn_connect_next(struct http_conn *);
static void	http_conn_close(struct http_conn *);
static void	http_conn_parse(struct http_conn *);
static void	http_client_destroy(struct http_client *);
static void	http_request_destroy(struct http_request *);

const char *
http_error_name(enum http_error e)
{
	if ((unsigned)e >= HTTP_ERR_NERRORS)
		return "unknown";
	return http_error_names[e];
}

/* ---- URLs ---------------------------------------------------------------- */

static int
http_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static char *
http_percent_decode(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1), *p = out;
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (hi = http_hexval((unsigned char)s[i + 1])) != -1 &&
		    (lo = http_hexval((unsigned char)s[i + 2])) != -1) {
			*p++ = (char)(hi * 16 + lo);
			i += 2;
		} else
			*p++ = s[i];
	}
	*p = '\0';
	return out;
}

void
http_url_clear(struct http_url *u)
{
	free(u->host);
	free(u->target);
	if (u->userinfo != NULL) {
		explicit_bzero(u->userinfo, strlen(u->userinfo));
		free(u->userinfo);
	}
	memset(u, 0, sizeof *u);
}

int
http_url_parse(const char *url, struct http_url *u, const char **why)
{
	const char	*p, *auth, *end, *at, *hs, *he, *colon;
	const char	*s;
	long		 port;
	char		*ep;

	memset(u, 0, sizeof *u);
	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0) {
		p = url + 8;
		u->tls = 1;
	} else {
		*why = "not an http:// or https:// URL";
		return -1;
	}
	for (s = url; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f) {
			*why = "URL holds spaces or control characters";
			return -1;
		}
	}
	auth = p;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (s = auth; s < end; s++)
		if (*s == '@')
			at = s;
	hs = at != NULL ? at + 1 : auth;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(end - hs));
		if (he == NULL) {
			*why = "unterminated [IPv6] literal";
			return -1;
		}
		colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
		if (he + 1 < end && colon == NULL) {
			*why = "junk after the [IPv6] literal";
			return -1;
		}
		u->host = xstrndup(hs + 1, (size_t)(he - hs - 1));
	} else {
		colon = memchr(hs, ':', (size_t)(end - hs));
		he = colon != NULL ? colon : end;
		u->host = xstrndup(hs, (size_t)(he - hs));
	}
	if (*u->host == '\0') {
		*why = "URL has no host";
		http_url_clear(u);
		return -1;
	}
	if (colon != NULL && colon + 1 < end) {
		errno = 0;
		port = strtol(colon + 1, &ep, 10);
		if (ep != end || errno != 0 || port < 1 || port > 65535 ||
		    !isdigit((unsigned char)colon[1])) {
			*why = "bad port in URL";
			http_url_clear(u);
			return -1;
		}
		u->port = (int)port;
	} else
		u->port = u->tls ? 443 : 80;
	if (at != NULL)
		u->userinfo = http_percent_decode(auth, (size_t)(at - auth));
	/* The fragment never goes to the server. */
	p = end;
	end = p + strcspn(p, "#");
	if (p == end || *p != '/')
		xasprintf(&u->target, "/%.*s", (int)(end - p), p);
	else
		u->target = xstrndup(p, (size_t)(end - p));
	return 0;
}

int
http_url_same_origin(const struct http_url *a, const struct http_url *b)
{
	return a->tls == b->tls && a->port == b->port &&
	    strcasecmp(a->host, b->host) == 0;
}

int
http_url_resolve(const struct http_url *base, const char *ref,
    struct http_url *out, const char **why)
{
	const char	*dir, *p;
	char		*abs;
	size_t		 pathlen;
	int		 rc;

	if (strncasecmp(ref, "http://", 7) == 0 ||
	    strncasecmp(ref, "https://", 8) == 0)
		return http_url_parse(ref, out, why);
	if (ref[0] == '/' && ref[1] == '/')
		xasprintf(&abs, "%s:%s", base->tls ? "https" : "http", ref);
	else if (ref[0] == '/')
		xasprintf(&abs, "%s://[%s]:%d%s", base->tls ? "https" : "http",
		    base->host, base->port, ref);
	else if (ref[0] == '?')
		xasprintf(&abs, "%s://[%s]:%d%.*s%s", base->tls ? "https" :
		    "http", base->host, base->port,
		    (int)strcspn(base->target, "?"), base->target, ref);
	else {
		/* Relative to the base path's last segment. */
		pathlen = strcspn(base->target, "?");
		dir = base->target;
		for (p = base->target; p < base->target + pathlen; p++)
			if (*p == '/')
				dir = p + 1;
		xasprintf(&abs, "%s://[%s]:%d%.*s%s", base->tls ? "https" :
		    "http", base->host, base->port,
		    (int)(dir - base->target), base->target, ref);
	}
	rc = http_url_parse(abs, out, why);
	free(abs);
	return rc;
}

const char *
http_url_loggable(const struct http_url *u, char *buf, size_t len)
{
	int	v6 = strchr(u->host, ':') != NULL;

	snprintf(buf, len, "%s://%s%s%s:%d%.*s", u->tls ? "https" : "http",
	    v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
	    (int)strcspn(u->target, "?"), u->target);
	return buf;
}

/* ---- the client's life ----------------------------------------------------- */

static void
http_client_hold(struct http_client *c)
{
	c->depth++;
}

/* The outermost callback frees what was closed or cancelled meanwhile. */
static void
http_client_release(struct http_client *c)
{
	struct http_conn	*conn;
	struct http_request	*req;

	if (--c->depth > 0)
		return;
	while ((conn = TAILQ_FIRST(&c->dead_conns)) != NULL) {
		TAILQ_REMOVE(&c->dead_conns, conn, entry);
		free(conn->in);
		free(conn);
	}
	while ((req = TAILQ_FIRST(&c->dead_reqs)) != NULL) {
		TAILQ_REMOVE(&c->dead_reqs, req, q);
		http_request_destroy(req);
	}
	if (c->dead)
		http_client_destroy(c);
}

static void
http_dns_unref_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_dns	*dns = arg;

	evdns_base_free(dns->evdns, 0);
	free(dns);
}

/* From inside an evdns callback, the base is freed from the loop later. */
static void
http_dns_unref(struct http_dns *dns, int in_evdns)
{
	struct timeval	zero = { 0, 0 };

	if (dns == NULL || --dns->refs > 0)
		return;
	if (in_evdns) {
		if (event_base_once(dns->base, -1, EV_TIMEOUT,
		    http_dns_unref_cb, dns, &zero) == -1)
			fatalx("event_base_once");
		return;
	}
	http_dns_unref_cb(-1, 0, dns);
}

/* The module is loaded by the first https client, or found loaded. */
static int
http_client_tls_setup(struct http_client *c,
    const struct http_tls_config *t, char *err, size_t errlen)
{
	if ((c->tls_mod = tls_module_open(&c->tls_handle, err, errlen)) ==
	    NULL)
		return -1;
	if ((c->tls_ctx = c->tls_mod->ctx_new(t, err, errlen)) == NULL)
		return -1;
	return 0;
}

struct http_client *
http_client_new(struct event_base *base, const struct http_client_config *cfg,
    char *err, size_t errlen)
{
	struct http_client	*c;
	int			 v6 = strchr(cfg->host, ':') != NULL;
	int			 dflt = cfg->port == (cfg->tls ? 443 : 80);

	c = xcalloc(1, sizeof *c);
	c->base = base;
	c->name = xstrdup(cfg->name != NULL ? cfg->name : "(unnamed)");
	c->tls = cfg->tls;
	c->verify = cfg->tls_config.verify;
	c->host = xstrdup(cfg->host);
	c->port = cfg->port;
	snprintf(c->port_str, sizeof c->port_str, "%d", cfg->port);
	if (dflt)
		xasprintf(&c->host_header, "%s%s%s", v6 ? "[" : "", cfg->host,
		    v6 ? "]" : "");
	else
		xasprintf(&c->host_header, "%s%s%s:%d", v6 ? "[" : "",
		    cfg->host, v6 ? "]" : "", cfg->port);
	c->connect_timeout = cfg->connect_timeout;
	c->idle_timeout = cfg->idle_timeout > 0 ? cfg->idle_timeout :
	    HTTP_CLIENT_DEFAULT_IDLE_TIMEOUT;
	c->max_body = cfg->max_body > 0 ? cfg->max_body :
	    HTTP_CLIENT_DEFAULT_MAX_BODY;
	c->max_conns = cfg->max_connections > 0 ? cfg->max_connections :
	    HTTP_CLIENT_DEFAULT_MAX_CONNECTIONS;
	TAILQ_INIT(&c->conns);
	TAILQ_INIT(&c->reqs);
	TAILQ_INIT(&c->pending);
	TAILQ_INIT(&c->dead_conns);
	TAILQ_INIT(&c->dead_reqs);
	if ((c->ev_dispatch = event_new(base, -1, 0, http_dispatch_cb, c)) ==
	    NULL)
		fatalx("%s: event_new", __func__);
	if (c->tls && http_client_tls_setup(c, &cfg->tls_config, err,
	    errlen) == -1) {
		http_client_destroy(c);
		return NULL;
	}
	return c;
}

static void
http_client_destroy(struct http_client *c)
{
	if (c->ev_dispatch != NULL)
		event_free(c->ev_dispatch);
	http_dns_unref(c->dns, 0);
	if (c->tls_ctx != NULL)
		c->tls_mod->ctx_free(c->tls_ctx);
	tls_module_close(c->tls_handle);
	free(c->name);
	free(c->host);
	free(c->host_header);
	free(c);
}

void
http_client_free(struct http_client *c)
{
	struct http_conn	*conn;
	struct http_request	*req, *next;

	if (c == NULL || c->dead)
		return;
	c->dead = 1;
	while ((conn = TAILQ_FIRST(&c->conns)) != NULL)
		http_conn_close(conn);
	/* One in done() stays: it is freed when done() returns. */
	TAILQ_FOREACH_SAFE(req, &c->reqs, all, next)
		http_request_cancel(req);
	event_del(c->ev_dispatch);
	if (c->depth > 0)
		return;
	c->depth = 1;
	http_client_release(c);
}

const struct http_client_stats *
http_client_stats(const struct http_client *c)
{
	return &c->stats;
}

/* ---- requests ------------------------------------------------------------ */

struct http_request *
http_request_new(struct http_client *c, const char *method,
    const char *target, const struct http_request_cbs *cbs, void *arg)
{
	struct http_request	*req;

	req = xcalloc(1, sizeof *req);
	req->c = c;
	req->state = REQ_NEW;
	req->cbs = cbs;
	req->arg = arg;
	req->method = xstrdup(method);
	req->target = xstrdup(target != NULL && *target != '\0' ? target :
	    "/");
	TAILQ_INSERT_TAIL(&c->reqs, req, all);
	return req;
}

/*
 * The request head is built with plain copies into one array: an evbuffer
 * costs several times as much.
 */
static void
http_head_reserve(struct http_request *req, size_t n)
{
	if (req->head_len + n > req->head_cap) {
		req->head_cap = req->head_cap == 0 ? 256 : req->head_cap;
		while (req->head_len + n > req->head_cap)
			req->head_cap *= 2;
		req->head = xrealloc(req->head, req->head_cap);
	}
}

static void
http_head_put(char *buf, size_t *len, const char *s, size_t n)
{
	memcpy(buf + *len, s, n);
	*len += n;
}

static void
http_head_put_str(char *buf, size_t *len, const char *s)
{
	http_head_put(buf, len, s, strlen(s));
}

int
http_request_add_header(struct http_request *req, const char *name,
    const char *value)
{
	size_t	nlen, vlen;

	for (nlen = 0; name[nlen] != '\0'; nlen++)
		if (!http_is_tchar((unsigned char)name[nlen]))
			break;
	if (nlen == 0 || name[nlen] != '\0' ||
	    strpbrk(value, "\r\n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	vlen = strlen(value);
	http_head_reserve(req, nlen + vlen + 4);
	http_head_put(req->head, &req->head_len, name, nlen);
	http_head_put(req->head, &req->head_len, ": ", 2);
	http_head_put(req->head, &req->head_len, value, vlen);
	http_head_put(req->head, &req->head_len, "\r\n", 2);
	return 0;
}

void
http_request_set_body(struct http_request *req, const char *content_type,
    const char *body, size_t len)
{
	free(req->body);
	req->body = xmemdup0(body, len);
	req->body_len = len;
	req->has_body = 1;
	if (content_type != NULL)
		http_request_add_header(req, "Content-Type", content_type);
}

void
http_request_set_timeout(struct http_request *req, double seconds)
{
	req->timeout = seconds > 0 ? seconds : 0;
}

static void
http_request_set_state(struct http_request *req, enum http_req_state state)
{
	req->state = state;
}

void
http_request_start(struct http_request *req)
{
	struct http_client	*c = req->c;

	if (req->state != REQ_NEW || c->dead)
		return;
	c->stats.requests++;
	http_request_set_state(req, REQ_PENDING);
	TAILQ_INSERT_TAIL(&c->pending, req, q);
	event_active(c->ev_dispatch, EV_TIMEOUT, 1);
}

/* A string into the response's buffer, NUL-ended. */
static void
http_request_hbuf_put(struct http_request *req, const char *s, size_t n)
{
	if (req->hbuf_len + n + 1 > req->hbuf_cap) {
		req->hbuf_cap = req->hbuf_cap == 0 ? 512 : req->hbuf_cap;
		while (req->hbuf_len + n + 1 > req->hbuf_cap)
			req->hbuf_cap *= 2;
		req->hbuf = xrealloc(req->hbuf, req->hbuf_cap);
	}
	memcpy(req->hbuf + req->hbuf_len, s, n);
	req->hbuf[req->hbuf_len + n] = '\0';
	req->hbuf_len += n + 1;
}

/* Point the response's reason and headers into the buffer, now it is done
 * growing. */
static void
http_request_index_headers(struct http_request *req)
{
	char	*p = req->hbuf;
	size_t	 i;

	if (req->indexed)
		return;
	req->indexed = 1;
	if (req->nheaders > req->headers_cap) {
		req->headers_cap = req->nheaders;
		req->headers = xreallocarray(req->headers, req->headers_cap,
		    sizeof *req->headers);
	}
	req->resp.reason = p != NULL ? p : "";
	if (p != NULL)
		p += strlen(p) + 1;
	for (i = 0; i < req->nheaders; i++) {
		req->headers[i].name = p;
		p += strlen(p) + 1;
		req->headers[i].value = p;
		p += strlen(p) + 1;
	}
	req->resp.headers = req->headers;
	req->resp.nheaders = req->nheaders;
}

/* The buffers are kept, for the interim response's successor. */
static void
http_request_reset_response(struct http_request *req)
{
	req->hbuf_len = 0;
	req->nheaders = 0;
	req->indexed = 0;
	req->header_bytes = 0;
	memset(&req->resp, 0, sizeof req->resp);
	sse_parser_free(req->sse);
	req->sse = NULL;
	free(req->rbody);
	req->rbody = NULL;
	req->rbody_len = req->rbody_cap = 0;
	req->got_bytes = 0;
}

static void
http_request_destroy(struct http_request *req)
{
	http_request_reset_response(req);
	free(req->hbuf);
	free(req->headers);
	if (req->head != NULL) {
		/* It may have carried a token (Authorization). */
		explicit_bzero(req->head, req->head_len);
		free(req->head);
	}
	if (req->body != NULL) {
		explicit_bzero(req->body, req->body_len);
		free(req->body);
	}
	free(req->method);
	free(req->target);
	free(req);
}

/* Out of every list; the memory goes now or after the outermost callback. */
static void
http_request_bury(struct http_request *req)
{
	struct http_client	*c = req->c;

	if (req->state == REQ_PENDING)
		TAILQ_REMOVE(&c->pending, req, q);
	TAILQ_REMOVE(&c->reqs, req, all);
	http_request_set_state(req, REQ_DEAD);
	if (c->depth > 0)
		TAILQ_INSERT_TAIL(&c->dead_reqs, req, q);
	else
		http_request_destroy(req);
}

void
http_request_cancel(struct http_request *req)
{
	struct http_conn	*conn;

	if (req == NULL || req->state == REQ_DONE || req->state == REQ_DEAD)
		return;
	conn = req->conn;
	if (conn != NULL) {
		req->conn = NULL;
		conn->req = NULL;
		/* Half an exchange leaves the connection unusable. */
		if (req->state == REQ_SENT)
			http_conn_close(conn);
	}
	http_request_bury(req);
}

const char *
http_request_last_event_id(const struct http_request *req)
{
	return req->sse != NULL ? sse_parser_last_event_id(req->sse) : NULL;
}

long
http_request_retry(const struct http_request *req)
{
	return req->sse != NULL ? sse_parser_retry(req->sse) : -1;
}

int
http_request_sent(const struct http_request *req)
{
	return req->state == REQ_SENT || req->state == REQ_DONE;
}

const char *
http_response_header(const struct http_response *resp, const char *name)
{
	size_t	i;
	int	first = tolower((unsigned char)name[0]);

	/* The first letter rules out most names without a call. */
	for (i = 0; i < resp->nheaders; i++)
		if (tolower((unsigned char)resp->headers[i].name[0]) == first &&
		    strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

/*
 * The end of a request: done() is called and the request freed.  The
 * connection, if any, has been let go of already.
 */
static void
http_request_finish(struct http_request *req, enum http_error error, int err,
    const char *fmt, ...)
{
	struct http_result	 res;
	char			 detail[512];
	va_list			 ap;

	detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof detail, fmt, ap);
		va_end(ap);
	}
	if (req->state == REQ_PENDING)
		TAILQ_REMOVE(&req->c->pending, req, q);
	http_request_set_state(req, REQ_DONE);
	req->conn = NULL;
	memset(&res, 0, sizeof res);
	res.error = error;
	res.err = err;
	res.detail = detail;
	if (req->resp.status != 0) {
		http_request_index_headers(req);
		res.response = &req->resp;
	}
	/* Half a body is no body. */
	res.body = req->rbody != NULL && error == HTTP_ERR_NONE ? req->rbody :
	    "";
	res.body_len = error == HTTP_ERR_NONE ? req->rbody_len : 0;
	if (error != HTTP_ERR_NONE)
		log_debug("%s: %s request failed (%s): %s", req->c->name,
		    req->method, http_error_name(error), detail);
	if (req->cbs->done != NULL)
		req->cbs->done(req, &res, req->arg);
	/* Whatever the callback did, the request is ours to free. */
	http_request_bury(req);
}

/* ---- connections --------------------------------------------------------- */

static void
http_timer_arm(struct event *ev, double seconds)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(ev, &tv);
}

/* One transition function: the state's timer follows from the state. */
static void
http_conn_set_state(struct http_conn *conn, enum http_conn_state state)
{
	struct http_client	*c = conn->c;

	if (conn->state != state)
		log_debug("%s: connection %s: %s -> %s", c->name,
		    conn->peer[0] != '\0' ? conn->peer : c->host_header,
		    http_conn_state_names[conn->state],
		    http_conn_state_names[state]);
	conn->state = state;
	if (conn->timer == NULL)
		return;
	switch (state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_HANDSHAKE:
		/* The connect timeout runs on from the first of them. */
		break;
	/* Adding a pending timer moves it: no evtimer_del() first. */
	case CONN_BUSY:
		if (conn->req != NULL && conn->req->timeout > 0)
			http_timer_arm(conn->timer, conn->req->timeout);
		else
			evtimer_del(conn->timer);
		break;
	case CONN_IDLE:
		http_timer_arm(conn->timer, c->idle_timeout);
		break;
	case CONN_CLOSED:
		evtimer_del(conn->timer);
		break;
	}
}

static void
http_conn_free_addrs(struct http_conn *conn)
{
	if (conn->ai != NULL)
		evutil_freeaddrinfo(conn->ai);
	conn->ai = conn->ai_next = NULL;
}

static void
http_conn_drop_bev(struct http_conn *conn)
{
	/* Before the bufferevent closes the socket under it. */
	if (conn->ev_read != NULL) {
		event_free(conn->ev_read);
		conn->ev_read = NULL;
	}
	conn->in_off = conn->in_len = 0;
	if (conn->bev != NULL) {
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	conn->fd = -1;
}

/* Close and forget; a bound request is left to the caller. */
static void
http_conn_close(struct http_conn *conn)
{
	struct http_client	*c = conn->c;

	if (conn->state == CONN_CLOSED)
		return;
	http_conn_set_state(conn, CONN_CLOSED);
	if (conn->req != NULL) {
		conn->req->conn = NULL;
		conn->req = NULL;
	}
	http_conn_drop_bev(conn);
	if (conn->query != NULL) {
		/* evdns calls back later; the query is freed then. */
		conn->query->conn = NULL;
		conn->query = NULL;
	}
	http_conn_free_addrs(conn);
	if (conn->timer != NULL)
		event_free(conn->timer);
	conn->timer = NULL;
	if (conn->ev_step != NULL)
		event_free(conn->ev_step);
	conn->ev_step = NULL;
	TAILQ_REMOVE(&c->conns, conn, entry);
	c->nconns--;
	if (c->depth > 0)
		TAILQ_INSERT_TAIL(&c->dead_conns, conn, entry);
	else {
		free(conn->in);
		free(conn);
	}
	/* A slot is free: someone may be waiting for it. */
	if (!c->dead && !TAILQ_EMPTY(&c->pending))
		event_active(c->ev_dispatch, EV_TIMEOUT, 1);
}

/* A connection failed before its exchange began: its request with it. */
static void
http_conn_fail_connect(struct http_conn *conn, enum http_error error,
    int err, const char *detail)
{
	struct http_request	*req = conn->req;

	http_conn_close(conn);
	if (req != NULL)
		http_request_finish(req, error, err, "%s", detail);
}

#define HTTP_UA_LINE	"\r\nUser-Agent: mcprelay/" PACKAGE_VERSION "\r\n"

static void
http_conn_start_exchange(struct http_conn *conn, struct http_request *req)
{
	struct http_client	*c = conn->c;
	struct evbuffer		*out = bufferevent_get_output(conn->bev);
	struct iovec		 iov[2];
	char			 stack[2048], *head = stack, digits[24], *p;
	size_t			 len = 0, need, n;
	ssize_t			 sent = 0;
	int			 with_length;

	conn->req = req;
	req->conn = conn;
	if (req->state == REQ_PENDING)
		TAILQ_REMOVE(&c->pending, req, q);
	http_request_set_state(req, REQ_SENT);
	http_request_reset_response(req);
	if (conn->exchanges++ > 0)
		c->stats.reused++;
	conn->rstate = READ_STATUS;
	conn->keepalive = 0;
	conn->head_only = strcmp(req->method, "HEAD") == 0;
	conn->remaining = 0;

	with_length = req->has_body || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0;
	p = digits + sizeof digits;
	n = req->body_len;
	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	need = strlen(req->method) + 1 + strlen(req->target) +
	    sizeof " HTTP/1.1\r\nHost: " + strlen(c->host_header) +
	    sizeof HTTP_UA_LINE + req->head_len + sizeof "Content-Length: " +
	    sizeof digits + 4;
	if (need > sizeof stack)
		head = xmalloc(need);
	http_head_put_str(head, &len, req->method);
	http_head_put(head, &len, " ", 1);
	http_head_put_str(head, &len, req->target);
	http_head_put_str(head, &len, " HTTP/1.1\r\nHost: ");
	http_head_put_str(head, &len, c->host_header);
	http_head_put_str(head, &len, HTTP_UA_LINE);
	if (req->head_len > 0)
		http_head_put(head, &len, req->head, req->head_len);
	if (with_length) {
		http_head_put_str(head, &len, "Content-Length: ");
		http_head_put(head, &len, p, (size_t)(digits + sizeof digits -
		    p));
		http_head_put(head, &len, "\r\n", 2);
	}
	http_head_put(head, &len, "\r\n", 2);

	/*
	 * Written at once when the socket takes it, as it nearly always does
	 * on a connected socket: waiting to be told it is writable costs two
	 * epoll_ctl() and a turn of the loop per call.  What it does not
	 * take, and any error, is the bufferevent's to deal with; anything
	 * queued there already goes first.
	 */
	iov[0].iov_base = head;
	iov[0].iov_len = len;
	iov[1].iov_base = req->body;
	iov[1].iov_len = req->body_len;
	if (!c->tls && evbuffer_get_length(out) == 0 &&
	    (sent = sock_sendv(conn->fd, iov, req->body_len > 0 ? 2 : 1)) < 0)
		sent = 0;
	if ((size_t)sent < len)
		evbuffer_add(out, head + sent, len - (size_t)sent);
	if ((size_t)sent < len + req->body_len) {
		n = (size_t)sent > len ? (size_t)sent - len : 0;
		evbuffer_add(out, req->body + n, req->body_len - n);
	}
	if (head != stack) {
		explicit_bzero(head, len);
		free(head);
	} else
		explicit_bzero(stack, len);
	if (c->tls)
		bufferevent_enable(conn->bev, evbuffer_get_length(out) > 0 ?
		    EV_READ | EV_WRITE : EV_READ);
	else if (evbuffer_get_length(out) > 0)
		bufferevent_enable(conn->bev, EV_WRITE);
	http_conn_set_state(conn, CONN_BUSY);
}

/* Bytes have come that nobody has parsed yet. */
static int
http_conn_has_input(struct http_conn *conn)
{
	return conn->in_len > conn->in_off || (conn->c->tls &&
	    evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0);
}

/* An idle connection the server closed meanwhile is no use. */
static int
http_conn_still_open(struct http_conn *conn)
{
	char	b;
	ssize_t	n;

	if (conn->fd == -1 || http_conn_has_input(conn))
		return 0;
	n = recv(conn->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK;
	/* Bytes between exchanges break HTTP; over TLS they may be a
	 * session ticket, which the next read takes care of. */
	return n > 0 && conn->c->tls;
}

static void	http_conn_open(struct http_client *, struct http_request *);

/* Give pending requests idle connections, or new ones while allowed. */
static void
http_dispatch(struct http_client *c)
{
	struct http_request	*req;
	struct http_conn	*conn, *next;

	while (!c->dead && (req = TAILQ_FIRST(&c->pending)) != NULL) {
		TAILQ_FOREACH_SAFE(conn, &c->conns, entry, next) {
			if (conn->state != CONN_IDLE)
				continue;
			if (http_conn_still_open(conn))
				break;
			log_debug("%s: kept-alive connection %s was closed "
			    "by the server", c->name, conn->peer);
			http_conn_close(conn);
		}
		if (conn != NULL) {
			http_conn_start_exchange(conn, req);
			continue;
		}
		if (c->nconns >= c->max_conns)
			return;
		TAILQ_REMOVE(&c->pending, req, q);
		http_request_set_state(req, REQ_BOUND);
		http_conn_open(c, req);
	}
}

static void
http_dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client	*c = arg;

	http_client_hold(c);
	http_dispatch(c);
	http_client_release(c);
}

/* The connection is up (TLS done): serve its request or the next one. */
static void
http_conn_ready(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	struct http_request	*req = conn->req;

	http_conn_free_addrs(conn);
	c->stats.connections++;
	if (c->tls && !c->verify)
		log_warnx("%s: TLS certificate verification is off "
		    "(tls.verify: false): connected to %s without checking "
		    "who answers", c->name, conn->peer);
	else
		log_debug("%s: connected to %s%s%s", c->name, conn->peer,
		    c->tls ? " with " : "", c->tls ?
		    c->tls_mod->version(conn->bev) : "");
	if (!c->tls) {
		/* Added for good: an idle connection is closed on EOF. */
		conn->ev_read = event_new(c->base, conn->fd,
		    EV_READ | EV_PERSIST, http_conn_recv_cb, conn);
		if (conn->ev_read == NULL || event_add(conn->ev_read,
		    NULL) == -1)
			fatalx("%s: event_new", __func__);
	}
	if (req == NULL)
		req = TAILQ_FIRST(&c->pending);
	if (req != NULL) {
		http_conn_start_exchange(conn, req);
		return;
	}
	if (c->tls)
		bufferevent_enable(conn->bev, EV_READ);
	http_conn_set_state(conn, CONN_IDLE);
}

static void
http_conn_tls_start(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	struct bufferevent	*filter;
	const char		*what = "";

	filter = c->tls_mod->filter_new(c->tls_ctx, c->base, conn->bev,
	    c->host, c->verify, &what);
	if (filter == NULL)
		fatalx("%s", what);
	conn->bev = filter;
	bufferevent_setcb(filter, http_conn_read_cb, NULL, http_conn_event_cb,
	    conn);
	bufferevent_enable(filter, EV_READ | EV_WRITE);
	http_conn_set_state(conn, CONN_HANDSHAKE);
}

static void
http_conn_tls_failed(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	enum http_error		 error;
	int			 x509_err;
	char			 buf[256];

	error = c->tls_mod->failure(conn->bev, c->verify, conn->peer, buf,
	    sizeof buf, &x509_err);
	http_conn_fail_connect(conn, error, x509_err, buf);
}

static void
http_conn_describe_addr(struct http_conn *conn, const struct sockaddr *sa)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(conn->peer, sizeof conn->peer, "[%s]:%d", host,
		    ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(conn->peer, sizeof conn->peer, "%s:%d", host,
		    ntohs(s4->sin_port));
	}
}

/* Try the next address; when none is left, fail with the last error. */
static void
http_conn_connect_next(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	struct evutil_addrinfo	*ai;
	char			 buf[256];

	http_conn_drop_bev(conn);
	while ((ai = conn->ai_next) != NULL) {
		conn->ai_next = ai->ai_next;
		http_conn_describe_addr(conn, ai->ai_addr);
		conn->bev = bufferevent_socket_new(c->base, -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (conn->bev == NULL)
			fatalx("bufferevent_socket_new");
		bufferevent_setcb(conn->bev, http_conn_read_cb, NULL,
		    http_conn_event_cb, conn);
		http_conn_set_state(conn, CONN_CONNECTING);
		if (bufferevent_socket_connect(conn->bev, ai->ai_addr,
		    (int)ai->ai_addrlen) == 0) {
			conn->fd = bufferevent_getfd(conn->bev);
			return;
		}
		conn->last_errno = errno != 0 ? errno : ECONNREFUSED;
		log_debug("%s: connect to %s: %s", c->name, conn->peer,
		    strerror(conn->last_errno));
		http_conn_drop_bev(conn);
	}
	snprintf(buf, sizeof buf, "cannot connect to %s: %s",
	    conn->peer[0] != '\0' ? conn->peer : c->host_header,
	    strerror(conn->last_errno));
	http_conn_fail_connect(conn, HTTP_ERR_CONNECT, conn->last_errno, buf);
}

static void
http_dns_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct http_dns_query	*query = arg;
	struct http_conn	*conn = query->conn;

	/* Only record: this may run inside evdns, where nothing may be
	 * freed; the connection goes on from its own event. */
	if (conn != NULL) {
		conn->query = NULL;
		conn->ai = conn->ai_next = ai;
		conn->last_errno = result;
		event_active(conn->ev_step, EV_TIMEOUT, 1);
	} else if (ai != NULL)
		evutil_freeaddrinfo(ai);
	http_dns_unref(query->dns, 1);
	free(query);
}

static void
http_conn_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_client	*c = conn->c;
	char			 buf[256];

	http_client_hold(c);
	if (conn->state == CONN_RESOLVING) {
		if (conn->ai == NULL) {
			snprintf(buf, sizeof buf, "cannot resolve '%s': %s",
			    c->host, evutil_gai_strerror(conn->last_errno));
			http_conn_fail_connect(conn, HTTP_ERR_DNS,
			    conn->last_errno, buf);
		} else {
			conn->last_errno = ECONNREFUSED;
			http_conn_connect_next(conn);
		}
	}
	http_client_release(c);
}

static void
http_conn_open(struct http_client *c, struct http_request *req)
{
	struct http_conn	*conn;
	struct evutil_addrinfo	 hints;
	struct http_dns_query	*query;

	conn = xcalloc(1, sizeof *conn);
	conn->c = c;
	conn->fd = -1;
	conn->state = CONN_RESOLVING;
	conn->req = req;
	req->conn = conn;
	TAILQ_INSERT_TAIL(&c->conns, conn, entry);
	c->nconns++;
	conn->timer = evtimer_new(c->base, http_conn_timer_cb, conn);
	conn->ev_step = event_new(c->base, -1, 0, http_conn_step_cb, conn);
	if (conn->timer == NULL || conn->ev_step == NULL)
		fatalx("%s: event_new", __func__);
	if (c->connect_timeout > 0)
		http_timer_arm(conn->timer, c->connect_timeout);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(c->host, c->port_str, &hints, &conn->ai) == 0) {
		/* An address literal: no lookup. */
		conn->ai_next = conn->ai;
		conn->last_errno = ECONNREFUSED;
		http_conn_connect_next(conn);
		return;
	}
	conn->ai = NULL;
	if (c->dns == NULL) {
		c->dns = xcalloc(1, sizeof *c->dns);
		c->dns->base = c->base;
		c->dns->refs = 1;
		c->dns->evdns = evdns_base_new(c->base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (c->dns->evdns == NULL)
			fatalx("evdns_base_new");
	}
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG | EVUTIL_AI_NUMERICSERV;
	query = xcalloc(1, sizeof *query);
	query->dns = c->dns;
	query->conn = conn;
	c->dns->refs++;
	conn->query = query;
	/* May call back at once; http_dns_cb only records. */
	evdns_getaddrinfo(c->dns->evdns, c->host, c->port_str, &hints,
	    http_dns_cb, query);
}

/* The state's timeout: connecting, the request's, or idle. */
static void
http_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_client	*c = conn->c;
	struct http_request	*req = conn->req;
	char			 buf[256];

	http_client_hold(c);
	switch (conn->state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_HANDSHAKE:
		snprintf(buf, sizeof buf, "no connection to %s within %.1fs",
		    conn->peer[0] != '\0' ? conn->peer : c->host_header,
		    c->connect_timeout);
		http_conn_fail_connect(conn, HTTP_ERR_CONNECT_TIMEOUT,
		    ETIMEDOUT, buf);
		break;
	case CONN_BUSY:
		http_conn_close(conn);
		if (req != NULL)
			http_request_finish(req, HTTP_ERR_TIMEOUT, ETIMEDOUT,
			    "no complete response to %s within %.1fs",
			    req->method, req->timeout);
		break;
	case CONN_IDLE:
		http_conn_close(conn);
		break;
	case CONN_CLOSED:
		break;
	}
	http_client_release(c);
}

/*
 * The exchange failed on a live connection.  Nothing is sent again here:
 * whether a request may be repeated is for the caller to say.
 */
static void
http_conn_fail_exchange(struct http_conn *conn, enum http_error error,
    int err, const char *detail)
{
	struct http_request	*req = conn->req;

	http_conn_close(conn);
	if (req != NULL)
		http_request_finish(req, error, err, "%s", detail);
}

/* The server closed (eof) or the socket failed (err): the exchange ends. */
static void
http_conn_ended(struct http_conn *conn, int eof, int err)
{
	struct http_client	*c = conn->c;
	char			 buf[256];

	if (conn->state != CONN_BUSY) {
		/* An idle connection closed by the server, or a late event. */
		http_conn_close(conn);
		return;
	}
	/* Whatever came before the end counts. */
	http_conn_parse(conn);
	if (c->dead || conn->state != CONN_BUSY)
		return;
	if (eof && conn->rstate == READ_BODY_EOF) {
		conn->rstate = READ_COMPLETE;
		conn->keepalive = 0;
		http_conn_parse(conn);
		return;
	}
	if (eof)
		snprintf(buf, sizeof buf, "%s closed the connection before "
		    "the response was complete", conn->peer);
	else
		snprintf(buf, sizeof buf, "connection to %s failed: %s",
		    conn->peer, err != 0 ? strerror(err) : "TLS error");
	http_conn_fail_exchange(conn, HTTP_ERR_RESET, eof ? 0 : err, buf);
}

static void
http_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_client	*c = conn->c;
	int			 err = EVUTIL_SOCKET_ERROR();

	http_client_hold(c);
	switch (conn->state) {
	case CONN_CONNECTING:
		if (what & BEV_EVENT_CONNECTED) {
			if (c->tls)
				http_conn_tls_start(conn);
			else
				http_conn_ready(conn);
			break;
		}
		conn->last_errno = err != 0 ? err : ECONNREFUSED;
		log_debug("%s: connect to %s: %s", c->name, conn->peer,
		    strerror(conn->last_errno));
		http_conn_connect_next(conn);
		break;
	case CONN_HANDSHAKE:
		if (what & BEV_EVENT_CONNECTED)
			http_conn_ready(conn);
		else
			http_conn_tls_failed(conn);
		break;
	default:
		http_conn_ended(conn, (what & BEV_EVENT_EOF) != 0, err);
		break;
	}
	http_client_release(c);
}

/* Room for at least want more bytes at the end of the input. */
static void
http_conn_in_room(struct http_conn *conn, size_t want)
{
	size_t	avail = conn->in_len - conn->in_off, cap;

	if (avail == 0)
		conn->in_off = conn->in_len = 0;
	else if (conn->in_off > 0 && conn->in_cap - conn->in_len < want) {
		memmove(conn->in, conn->in + conn->in_off, avail);
		conn->in_off = 0;
		conn->in_len = avail;
	}
	if (conn->in_cap - conn->in_len >= want)
		return;
	cap = conn->in_cap == 0 ? HTTP_IN_SIZE : conn->in_cap;
	while (cap - conn->in_len < want)
		cap *= 2;
	conn->in = xrealloc(conn->in, cap);
	conn->in_cap = cap;
}

/* New input: parse it, or drop the connection it should not have come on. */
static void
http_conn_input(struct http_conn *conn)
{
	struct http_client	*c = conn->c;

	if (conn->state == CONN_BUSY)
		http_conn_parse(conn);
	else if (conn->state == CONN_IDLE) {
		/* Nothing may come between exchanges. */
		log_debug("%s: unexpected data on idle connection %s",
		    c->name, conn->peer);
		http_conn_close(conn);
	}
}

/* Plain TCP: what the socket has, into the input buffer. */
static void
http_conn_recv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_client	*c = conn->c;
	ssize_t			 n;

	http_client_hold(c);
	http_conn_in_room(conn, HTTP_READ_MIN);
	n = recv(fd, conn->in + conn->in_len, conn->in_cap - conn->in_len, 0);
	if (n > 0) {
		conn->in_len += (size_t)n;
		http_conn_input(conn);
	} else if (n == 0)
		http_conn_ended(conn, 1, 0);
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		http_conn_ended(conn, 0, errno);
	http_client_release(c);
}

/* TLS: what the filter decrypted, moved into the input buffer. */
static void
http_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_client	*c = conn->c;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 n = evbuffer_get_length(in);

	http_client_hold(c);
	if (n > 0) {
		http_conn_in_room(conn, n);
		evbuffer_remove(in, conn->in + conn->in_len, n);
		conn->in_len += n;
	}
	http_conn_input(conn);
	http_client_release(c);
}

/* ---- the response parser --------------------------------------------------- */

/*
 * A line of at most HTTP_LINE_MAX, CRLF or LF ended, NUL-terminated in place
 * in the input buffer (valid until the next read); NULL if not all in yet.
 */
static char *
http_conn_line(struct http_conn *conn, int *too_long)
{
	char	*p, *nl;
	size_t	 avail = conn->in_len - conn->in_off, n;

	*too_long = 0;
	/* Not even memchr() on no bytes: the buffer may not exist yet. */
	if (avail == 0)
		return NULL;
	p = conn->in + conn->in_off;
	if ((nl = memchr(p, '\n', avail)) == NULL) {
		if (avail > HTTP_LINE_MAX)
			*too_long = 1;
		return NULL;
	}
	n = (size_t)(nl - p);
	conn->in_off += n + 1;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n > HTTP_LINE_MAX) {
		*too_long = 1;
		return NULL;
	}
	p[n] = '\0';
	return p;
}

static void
http_sse_event_cb(const struct sse_event *ev, void *arg)
{
	struct http_request	*req = arg;

	/* A callback before may have cancelled it or freed the client. */
	if (req->state != REQ_SENT || req->c->dead)
		return;
	if (req->cbs->event != NULL)
		req->cbs->event(req, ev, req->arg);
}

/* Headers are in: decide the framing and tell the caller. */
static int
http_conn_headers_done(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	struct http_request	*req = conn->req;
	struct http_response	*r = &req->resp;
	const char		*te, *cl, *ct, *connhdr;
	unsigned long long	 len;
	char			*ep;

	http_request_index_headers(req);
	connhdr = http_response_header(r, "Connection");
	conn->keepalive = r->minor >= 1 ? !(connhdr != NULL &&
	    http_has_token(connhdr, "close")) : (connhdr != NULL &&
	    http_has_token(connhdr, "keep-alive"));
	te = http_response_header(r, "Transfer-Encoding");
	cl = http_response_header(r, "Content-Length");
	if (conn->head_only || r->status == 204 || r->status == 304)
		conn->rstate = READ_COMPLETE;
	else if (te != NULL) {
		if (http_has_token(te, "chunked"))
			conn->rstate = READ_CHUNK_SIZE;
		else {
			conn->rstate = READ_BODY_EOF;
			conn->keepalive = 0;
		}
	} else if (cl != NULL) {
		errno = 0;
		len = strtoull(cl, &ep, 10);
		if (!isdigit((unsigned char)*cl) || *ep != '\0' ||
		    errno != 0) {
			http_conn_fail_exchange(conn, HTTP_ERR_PROTOCOL, EPROTO,
			    "bad Content-Length in the response");
			return -1;
		}
		conn->remaining = len;
		conn->rstate = len > 0 ? READ_BODY_LENGTH : READ_COMPLETE;
	} else {
		conn->rstate = READ_BODY_EOF;
		conn->keepalive = 0;
	}
	ct = http_response_header(r, "Content-Type");
	r->sse = r->status >= 200 && r->status < 300 && ct != NULL &&
	    strncasecmp(ct, "text/event-stream", 17) == 0;
	if (r->sse) {
		req->sse = sse_parser_new(c->max_body, http_sse_event_cb, req);
		/* A stream may stay open: the timeout was for its start. */
		evtimer_del(conn->timer);
	} else if (conn->rstate != READ_COMPLETE &&
	    conn->remaining > c->max_body) {
		http_conn_fail_exchange(conn, HTTP_ERR_TOO_LARGE, EMSGSIZE,
		    "response body larger than the limit");
		return -1;
	}
	if (req->cbs->response != NULL)
		req->cbs->response(req, r, req->arg);
	if (c->dead || req->state != REQ_SENT || conn->state != CONN_BUSY)
		return -1;
	return 0;
}

/*
 * "HTTP/1.x NNN", then a space and the reason or nothing; by hand, as
 * sscanf() cost more than the rest of the line's handling.  0 or -1.
 */
static int
http_parse_status_line(const char *line, int *minor, int *status)
{
	int	 i;

	if (strncmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ')
		return -1;
	*minor = line[7] - '0';
	*status = 0;
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)line[i]))
			return -1;
		*status = *status * 10 + (line[i] - '0');
	}
	if (*status < 100 || (line[12] != ' ' && line[12] != '\0'))
		return -1;
	return 0;
}

static int
http_conn_status_line(struct http_conn *conn, const char *line)
{
	struct http_request	*req = conn->req;
	int			 minor, status;

	if (http_parse_status_line(line, &minor, &status) == -1) {
		http_conn_fail_exchange(conn, HTTP_ERR_PROTOCOL, EPROTO,
		    "not an HTTP/1.x response");
		return -1;
	}
	req->resp.status = status;
	req->resp.minor = minor;
	req->hbuf_len = 0;
	http_request_hbuf_put(req, line + (line[12] == ' ' ? 13 : 12),
	    strlen(line + (line[12] == ' ' ? 13 : 12)));
	conn->rstate = READ_HEADERS;
	return 0;
}

static int
http_conn_header_line(struct http_conn *conn, const char *line)
{
	struct http_request	*req = conn->req;
	const char		*colon, *v;
	size_t			 vlen;

	if (*line == '\0') {
		if (req->resp.status < 200) {
			/* An interim response: the real one follows. */
			http_request_reset_response(req);
			req->got_bytes = 1;
			conn->rstate = READ_STATUS;
			return 0;
		}
		return http_conn_headers_done(conn);
	}
	colon = strchr(line, ':');
	if (colon == NULL || colon == line || *line == ' ' || *line == '\t') {
		http_conn_fail_exchange(conn, HTTP_ERR_PROTOCOL, EPROTO,
		    "malformed header line in the response");
		return -1;
	}
	req->header_bytes += strlen(line);
	if (req->nheaders >= HTTP_CLIENT_MAX_HEADERS ||
	    req->header_bytes > HTTP_CLIENT_MAX_HEADER_BYTES) {
		http_conn_fail_exchange(conn, HTTP_ERR_TOO_LARGE, EMSGSIZE,
		    "too many response headers");
		return -1;
	}
	v = colon + 1;
	v += strspn(v, " \t");
	vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	http_request_hbuf_put(req, line, (size_t)(colon - line));
	http_request_hbuf_put(req, v, vlen);
	req->nheaders++;
	return 0;
}

/* Decoded body bytes: to the SSE parser, or kept for done(). */
static int
http_conn_body(struct http_conn *conn, const char *data, size_t len)
{
	struct http_client	*c = conn->c;
	struct http_request	*req = conn->req;

	if (req->sse != NULL) {
		if (sse_parser_feed(req->sse, data, len) == -1) {
			if (c->dead || req->state != REQ_SENT)
				return -1;
			http_conn_fail_exchange(conn, HTTP_ERR_TOO_LARGE,
			    EMSGSIZE, "event in the response stream larger "
			    "than the limit");
			return -1;
		}
		if (c->dead || req->state != REQ_SENT ||
		    conn->state != CONN_BUSY)
			return -1;
		return 0;
	}
	if (req->rbody_len + len > c->max_body) {
		http_conn_fail_exchange(conn, HTTP_ERR_TOO_LARGE, EMSGSIZE,
		    "response body larger than the limit");
		return -1;
	}
	if (req->rbody_len + len + 1 > req->rbody_cap) {
		req->rbody_cap = req->rbody_cap == 0 ? 1024 : req->rbody_cap;
		while (req->rbody_cap < req->rbody_len + len + 1)
			req->rbody_cap *= 2;
		req->rbody = xrealloc(req->rbody, req->rbody_cap);
	}
	memcpy(req->rbody + req->rbody_len, data, len);
	req->rbody_len += len;
	req->rbody[req->rbody_len] = '\0';
	return 0;
}

/*
 * Up to max body bytes from the input to the body; -1 if stopped.  The
 * buffer outlives a callback that closes the connection: a closed one is
 * freed by the outermost http_client_release().
 */
static int
http_conn_take_body(struct http_conn *conn, uint64_t max, size_t *took)
{
	const char	*data;
	size_t		 n = conn->in_len - conn->in_off;

	if (n > max)
		n = (size_t)max;
	*took = n;
	if (n == 0)
		return 0;
	data = conn->in + conn->in_off;
	conn->in_off += n;
	return http_conn_body(conn, data, n);
}

static int
http_conn_chunk_size(struct http_conn *conn, const char *line)
{
	unsigned long long	 n = 0;
	const char		*p;
	int			 v, digits = 0;

	for (p = line; (v = http_hexval((unsigned char)*p)) != -1; p++) {
		if (n > (ULLONG_MAX >> 4)) {
			digits = 0;
			break;
		}
		n = n * 16 + (unsigned)v;
		digits++;
	}
	if (digits == 0 || (*p != '\0' && *p != ';' && *p != ' ' &&
	    *p != '\t')) {
		http_conn_fail_exchange(conn, HTTP_ERR_PROTOCOL, EPROTO,
		    "bad chunk size in the response");
		return -1;
	}
	conn->remaining = n;
	conn->rstate = n == 0 ? READ_TRAILERS : READ_CHUNK_DATA;
	return 0;
}

/* The response is complete: let the connection go, then tell. */
static void
http_conn_complete(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	struct http_request	*req = conn->req;
	int			 keep;

	keep = conn->keepalive && evbuffer_get_length(bufferevent_get_output(
	    conn->bev)) == 0 && !http_conn_has_input(conn);
	conn->req = NULL;
	req->conn = NULL;
	if (keep) {
		if (!TAILQ_EMPTY(&c->pending))
			event_active(c->ev_dispatch, EV_TIMEOUT, 1);
		http_conn_set_state(conn, CONN_IDLE);
	} else
		http_conn_close(conn);
	http_request_finish(req, HTTP_ERR_NONE, 0, NULL);
}

static void
http_conn_parse(struct http_conn *conn)
{
	struct http_client	*c = conn->c;
	char			*line;
	size_t			 took;
	int			 too_long, rc;

	while (!c->dead && conn->state == CONN_BUSY && conn->req != NULL) {
		if (conn->in_len > conn->in_off)
			conn->req->got_bytes = 1;
		switch (conn->rstate) {
		case READ_STATUS:
		case READ_HEADERS:
		case READ_CHUNK_SIZE:
		case READ_CHUNK_END:
		case READ_TRAILERS:
			if ((line = http_conn_line(conn, &too_long)) == NULL) {
				if (too_long)
					http_conn_fail_exchange(conn,
					    HTTP_ERR_TOO_LARGE, EMSGSIZE,
					    "line in the response too long");
				return;
			}
			switch (conn->rstate) {
			case READ_STATUS:
				/* Stray blank lines before it are allowed. */
				rc = *line == '\0' ? 0 :
				    http_conn_status_line(conn, line);
				break;
			case READ_HEADERS:
				rc = http_conn_header_line(conn, line);
				break;
			case READ_CHUNK_SIZE:
				rc = http_conn_chunk_size(conn, line);
				break;
			case READ_CHUNK_END:
				rc = 0;
				if (*line != '\0') {
					http_conn_fail_exchange(conn,
					    HTTP_ERR_PROTOCOL, EPROTO,
					    "no line end after a chunk");
					rc = -1;
				} else
					conn->rstate = READ_CHUNK_SIZE;
				break;
			default:
				rc = 0;
				if (*line == '\0')
					conn->rstate = READ_COMPLETE;
				break;
			}
			if (rc == -1)
				return;
			break;
		case READ_BODY_LENGTH:
		case READ_CHUNK_DATA:
			if (http_conn_take_body(conn, conn->remaining,
			    &took) == -1)
				return;
			if (took == 0)
				return;
			conn->remaining -= took;
			if (conn->remaining == 0)
				conn->rstate = conn->rstate ==
				    READ_BODY_LENGTH ? READ_COMPLETE :
				    READ_CHUNK_END;
			break;
		case READ_BODY_EOF:
			if (http_conn_take_body(conn, UINT64_MAX, &took) == -1)
				return;
			if (took == 0)
				return;
			break;
		case READ_COMPLETE:
			http_conn_complete(conn);
			return;
		}
	}
}
