/*
 * Unit tests for daemon/http-client.c against servers started inside the
 * test on 127.0.0.1:0: libevent's evhttp (plain, and TLS with certificates
 * made here with the OpenSSL API), and a raw TCP server for byte-exact
 * responses.  Every wait is bounded.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http-client.h"
#include "log.h"
#include "sse.h"
#include "tls.h"

#define FX_LIMIT	3.0	/* seconds any wait in a case may take */
#define FX_MAXEVENTS	16
#define RAW_MAXCONNS	8

/* ---- a raw TCP server: canned bytes for each request -------------------- */

struct raw_srv {
	struct event_base	*base;
	struct evconnlistener	*lev;
	int			 lfd;		/* listening, never accepted */
	int			 port;
	const char		*reply;		/* per request */
	int			 close_after;	/* close once written */
	int			 silent;	/* read, never answer */
	size_t			 piece;		/* >0: reply that many bytes
						   at a time, 1 ms apart */
	struct event		*ev_piece;
	struct bufferevent	*piece_bev;
	size_t			 piece_off;
	struct bufferevent	*bevs[RAW_MAXCONNS];
	int			 nconns;
	int			 nreqs;
	char			 last_req[4096];
};

static void
raw_write_cb(struct bufferevent *bev, void *arg)
{
	struct raw_srv	*r = arg;
	int		 i;

	if (!r->close_after)
		return;
	for (i = 0; i < r->nconns; i++) {
		if (r->bevs[i] == bev) {
			bufferevent_free(bev);
			r->bevs[i] = NULL;
		}
	}
}

/* The next piece of the reply, so that the client reads it in pieces. */
static void
raw_piece_cb(evutil_socket_t fd, short what, void *arg)
{
	struct raw_srv	*r = arg;
	struct timeval	 tv = { 0, 1000 };
	size_t		 len = strlen(r->reply), n = r->piece;

	if (n > len - r->piece_off)
		n = len - r->piece_off;
	bufferevent_write(r->piece_bev, r->reply + r->piece_off, n);
	r->piece_off += n;
	if (r->piece_off < len) {
		if (r->ev_piece == NULL)
			r->ev_piece = evtimer_new(r->base, raw_piece_cb, r);
		evtimer_add(r->ev_piece, &tv);
	} else
		bufferevent_enable(r->piece_bev, EV_WRITE);
}

static void
raw_read_cb(struct bufferevent *bev, void *arg)
{
	struct raw_srv	*r = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	size_t		 n;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return;
	n = evbuffer_get_length(in);
	if (n >= sizeof r->last_req)
		n = sizeof r->last_req - 1;
	evbuffer_remove(in, r->last_req, n);
	r->last_req[n] = '\0';
	evbuffer_drain(in, evbuffer_get_length(in));
	r->nreqs++;
	if (r->silent)
		return;
	if (r->piece > 0) {
		r->piece_bev = bev;
		r->piece_off = 0;
		raw_piece_cb(-1, 0, r);
		return;
	}
	bufferevent_write(bev, r->reply, strlen(r->reply));
	/* Only now: the write callback then means "reply written". */
	bufferevent_enable(bev, EV_WRITE);
}

static void
raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct raw_srv	*r = arg;
	int		 i;

	for (i = 0; i < r->nconns; i++) {
		if (r->bevs[i] == bev) {
			bufferevent_free(bev);
			r->bevs[i] = NULL;
		}
	}
}

static void
raw_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct raw_srv		*r = arg;
	struct bufferevent	*bev;

	ck_assert_int_lt(r->nconns, RAW_MAXCONNS);
	bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, raw_read_cb, raw_write_cb, raw_event_cb, r);
	bufferevent_enable(bev, EV_READ);
	r->bevs[r->nconns++] = bev;
}

static int
sock_port(int fd)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static void
raw_start(struct raw_srv *r, struct event_base *base, const char *reply)
{
	struct sockaddr_in	sin;

	memset(r, 0, sizeof *r);
	r->base = base;
	r->reply = reply;
	r->lfd = -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lev = evconnlistener_new_bind(base, raw_accept_cb, r,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof sin);
	ck_assert_ptr_nonnull(r->lev);
	r->port = sock_port(evconnlistener_get_fd(r->lev));
}

/* A listener nobody accepts on: the kernel completes the handshake. */
static void
raw_start_deaf(struct raw_srv *r)
{
	struct sockaddr_in	sin;

	memset(r, 0, sizeof *r);
	r->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(r->lfd, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(r->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(r->lfd, 8), 0);
	r->port = sock_port(r->lfd);
}

static void
raw_stop(struct raw_srv *r)
{
	int	i;

	if (r->ev_piece != NULL)
		event_free(r->ev_piece);
	for (i = 0; i < r->nconns; i++)
		if (r->bevs[i] != NULL)
			bufferevent_free(r->bevs[i]);
	if (r->lev != NULL)
		evconnlistener_free(r->lev);
	if (r->lfd != -1)
		close(r->lfd);
}

/* A port that was free a moment ago, and is closed now. */
static int
closed_port(void)
{
	struct raw_srv	r;
	int		port;

	raw_start_deaf(&r);
	port = r.port;
	raw_stop(&r);
	return port;
}

/* ---- the evhttp server ------------------------------------------------- */

struct srv {
	struct event_base	*base;
	struct evhttp		*http;
	SSL_CTX			*ssl_ctx;
	int			 port;
	int			 peers[32];	/* distinct client ports */
	int			 npeers;
	int			 nreqs;
	struct evhttp_request	*held;		/* /sse or /stall */
	char			 sni[256];
	char			 last_auth[256];
};

static void
srv_conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct srv	*s = arg;

	/* evhttp leaves a request cut off by the client to its owner; it
	 * is still attached when the server itself is being freed. */
	if (s->held != NULL && evhttp_request_get_connection(s->held) == NULL)
		evhttp_send_reply_end(s->held);
	s->held = NULL;
}

static void
srv_note_peer(struct srv *s, struct evhttp_request *req)
{
	char		*addr;
	ev_uint16_t	 port;
	int		 i;

	evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr,
	    &port);
	for (i = 0; i < s->npeers; i++)
		if (s->peers[i] == port)
			return;
	if (s->npeers < 32)
		s->peers[s->npeers++] = port;
}

static void
srv_sse_send(struct srv *s, const char *text)
{
	struct evbuffer	*b = evbuffer_new();

	ck_assert_ptr_nonnull(s->held);
	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply_chunk(s->held, b);
	evbuffer_free(b);
}

static void
srv_gen_cb(struct evhttp_request *req, void *arg)
{
	struct srv		*s = arg;
	const char		*uri = evhttp_request_get_uri(req), *v;
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	struct evbuffer		*b = evbuffer_new();
	int			 i;

	s->nreqs++;
	srv_note_peer(s, req);
	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	snprintf(s->last_auth, sizeof s->last_auth, "%s", v ? v : "");
	if (strcmp(uri, "/length") == 0) {
		evbuffer_add_printf(b, "hello world");
		evhttp_add_header(out, "X-Test", "yes");
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(uri, "/echo") == 0) {
		evbuffer_add_buffer(b, evhttp_request_get_input_buffer(req));
		v = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Content-Type");
		evhttp_add_header(out, "X-Content-Type", v ? v : "");
		evhttp_send_reply(req, 201, "Created", b);
	} else if (strcmp(uri, "/chunked") == 0) {
		evhttp_send_reply_start(req, 200, "OK");
		for (i = 0; i < 3; i++) {
			evbuffer_add_printf(b, "part%d;", i);
			evhttp_send_reply_chunk(req, b);
		}
		evhttp_send_reply_end(req);
	} else if (strcmp(uri, "/sse") == 0) {
		evhttp_add_header(out, "Content-Type", "text/event-stream");
		evhttp_send_reply_start(req, 200, "OK");
		s->held = req;
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(req), srv_conn_closed_cb, s);
		srv_sse_send(s, "id: 1\nretry: 250\ndata: one\n\n");
	} else if (strcmp(uri, "/stall") == 0) {
		s->held = req;
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(req), srv_conn_closed_cb, s);
	} else
		evhttp_send_reply(req, 404, "Not Found", NULL);
	evbuffer_free(b);
}

static struct bufferevent *
srv_bev_cb(struct event_base *base, void *arg)
{
	struct srv	*s = arg;

	return bufferevent_openssl_socket_new(base, -1, SSL_new(s->ssl_ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static int
srv_sni_cb(SSL *ssl, int *al, void *arg)
{
	struct srv	*s = arg;
	const char	*name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	snprintf(s->sni, sizeof s->sni, "%s", name ? name : "");
	return SSL_TLSEXT_ERR_OK;
}

/* ssl_ctx NULL: plain http. */
static void
srv_start(struct srv *s, struct event_base *base, SSL_CTX *ssl_ctx)
{
	struct evhttp_bound_socket	*bound;

	memset(s, 0, sizeof *s);
	s->base = base;
	s->ssl_ctx = ssl_ctx;
	s->http = evhttp_new(base);
	ck_assert_ptr_nonnull(s->http);
	evhttp_set_gencb(s->http, srv_gen_cb, s);
	if (ssl_ctx != NULL) {
		evhttp_set_bevcb(s->http, srv_bev_cb, s);
		SSL_CTX_set_tlsext_servername_callback(ssl_ctx, srv_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(ssl_ctx, s);
	}
	bound = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bound);
	s->port = sock_port(evhttp_bound_socket_get_fd(bound));
}

static void
srv_stop(struct srv *s)
{
	if (s->http != NULL)
		evhttp_free(s->http);
	s->http = NULL;
	SSL_CTX_free(s->ssl_ctx);
	s->ssl_ctx = NULL;
}

/* ---- certificates ---------------------------------------------------------- */

static char	tmpdir_path[64];

static void
tmpdir_make(void)
{
	snprintf(tmpdir_path, sizeof tmpdir_path, "/tmp/mcprelay-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir_path));
}

static void
tmpdir_remove(void)
{
	char	cmd[128];

	if (tmpdir_path[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_path);
	ck_assert_int_eq(system(cmd), 0);
	tmpdir_path[0] = '\0';
}

/* A self-signed certificate for san ("DNS:x,IP:y"): NAME.crt, NAME.key. */
static void
make_cert(const char *name, const char *san)
{
	static long	 serial = 1;
	EVP_PKEY	*pkey;
	X509		*x;
	X509_NAME	*n;
	X509_EXTENSION	*ext;
	X509V3_CTX	 ctx;
	FILE		*f;
	char		 path[128];

	pkey = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(pkey);
	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);

	snprintf(path, sizeof path, "%s/%s.crt", tmpdir_path, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof path, "%s/%s.key", tmpdir_path, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

static const char *
cert_path(const char *name, const char *ext)
{
	static char	paths[4][128];
	static int	i;

	i = (i + 1) % 4;
	snprintf(paths[i], sizeof paths[i], "%s/%s.%s", tmpdir_path, name, ext);
	return paths[i];
}

static SSL_CTX *
server_ctx(const char *name, int max_version)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_server_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(ctx,
	    cert_path(name, "crt")), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, cert_path(name, "key"),
	    SSL_FILETYPE_PEM), 1);
	if (max_version != 0)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	return ctx;
}

/* ---- the client side --------------------------------------------------- */

struct res {
	struct fx		*fx;
	struct http_request	*req;
	int			 ndone;
	enum http_error		 error;
	int			 err;
	char			 detail[512];
	int			 status;
	char			 reason[64];
	char			 x_test[64];
	char			 body[4096];
	size_t			 body_len;
	int			 big;		/* body not kept: only its sum */
	unsigned long		 body_sum;
	int			 nresponse;
	int			 sse;
	int			 nevents;
	char			 events[FX_MAXEVENTS][128];
	char			 types[FX_MAXEVENTS][32];
	char			 ids[FX_MAXEVENTS][32];
	char			 last_id[32];
	long			 retry;
	int			 drive_sse;	/* the server sends on */
	int			 cancel_on_event;
	int			 free_client_on_event;
	int			 free_client_on_done;
};

struct fx {
	struct event_base	*base;
	struct http_client	*c;
	struct srv		 srv;
	struct raw_srv		 raw;
	int			 have_raw;
	int			 stderr_saved;
	char			 logpath[128];
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run_until(struct fx *fx, const int *what, int want)
{
	struct timeval	tv = { 0, 20000 };
	double		end = now() + FX_LIMIT;

	while (*what < want) {
		ck_assert_msg(now() < end, "timed out waiting (%d of %d)",
		    *what, want);
		event_base_loopexit(fx->base, &tv);
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
}

static void
run_for(struct fx *fx, double seconds)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);
}

static void
res_response_cb(struct http_request *req, const struct http_response *r,
    void *arg)
{
	struct res	*res = arg;
	const char	*v;

	res->nresponse++;
	res->status = r->status;
	res->sse = r->sse;
	snprintf(res->reason, sizeof res->reason, "%s", r->reason);
	v = http_response_header(r, "x-TEST");
	snprintf(res->x_test, sizeof res->x_test, "%s", v ? v : "");
}

static void
res_event_cb(struct http_request *req, const struct sse_event *ev, void *arg)
{
	struct res	*res = arg;
	struct fx	*fx = res->fx;
	int		 i = res->nevents++;

	ck_assert_int_lt(i, FX_MAXEVENTS);
	snprintf(res->events[i], sizeof res->events[i], "%s", ev->data);
	snprintf(res->types[i], sizeof res->types[i], "%s", ev->event);
	snprintf(res->ids[i], sizeof res->ids[i], "%s", ev->id ? ev->id : "");
	if (res->cancel_on_event) {
		http_request_cancel(req);
		res->req = NULL;
		return;
	}
	if (res->free_client_on_event) {
		http_client_free(fx->c);
		fx->c = NULL;
		return;
	}
	/* The next event only once this one arrived: delivery is live. */
	if (res->drive_sse && fx->srv.held != NULL) {
		if (i == 0)
			srv_sse_send(&fx->srv, "id: 2\ndata: two\ndata: "
			    "lines\n\n");
		else if (i == 1)
			srv_sse_send(&fx->srv, ": a comment\n\nevent: custom\n"
			    "data: three\n\n");
		else {
			evhttp_send_reply_end(fx->srv.held);
			fx->srv.held = NULL;
		}
	}
}

static unsigned long
body_sum(const char *p, size_t len)
{
	unsigned long	sum = 5381;
	size_t		i;

	for (i = 0; i < len; i++)
		sum = sum * 33 + (unsigned char)p[i];
	return sum;
}

static void
res_done_cb(struct http_request *req, const struct http_result *r, void *arg)
{
	struct res	*res = arg;
	const char	*id;

	res->ndone++;
	res->error = r->error;
	res->err = r->err;
	snprintf(res->detail, sizeof res->detail, "%s", r->detail);
	res->body_len = r->body_len;
	res->body_sum = body_sum(r->body, r->body_len);
	if (!res->big) {
		ck_assert_uint_lt(r->body_len, sizeof res->body);
		memcpy(res->body, r->body, r->body_len + 1);
	}
	if (r->response != NULL)
		res->status = r->response->status;
	id = http_request_last_event_id(req);
	snprintf(res->last_id, sizeof res->last_id, "%s", id ? id : "");
	res->retry = http_request_retry(req);
	res->req = NULL;
	if (res->free_client_on_done) {
		http_client_free(res->fx->c);
		res->fx->c = NULL;
	}
}

static const struct http_request_cbs res_cbs = {
	.response = res_response_cb,
	.event = res_event_cb,
	.done = res_done_cb,
};

static void
fx_setup(struct fx *fx)
{
	memset(fx, 0, sizeof *fx);
	fx->stderr_saved = -1;
	ck_assert_ptr_nonnull(fx->base = event_base_new());
}

static void
fx_client(struct fx *fx, const char *host, int port, int tls,
    const struct http_tls_config *t)
{
	struct http_client_config	cfg;
	char				err[256] = "";

	memset(&cfg, 0, sizeof cfg);
	cfg.name = "server test";
	cfg.host = host;
	cfg.port = port;
	cfg.tls = tls;
	if (t != NULL)
		cfg.tls_config = *t;
	cfg.connect_timeout = 1.0;
	fx->c = http_client_new(fx->base, &cfg, err, sizeof err);
	ck_assert_msg(fx->c != NULL, "http_client_new: %s", err);
}

static void
fx_teardown(struct fx *fx)
{
	http_client_free(fx->c);
	srv_stop(&fx->srv);
	if (fx->have_raw)
		raw_stop(&fx->raw);
	event_base_free(fx->base);
	tmpdir_remove();
}

static struct http_request *
fx_get(struct fx *fx, struct res *res, const char *target)
{
	memset(res, 0, sizeof *res);
	res->fx = fx;
	res->req = http_request_new(fx->c, "GET", target, &res_cbs, res);
	http_request_start(res->req);
	return res->req;
}

/* Log lines (stderr) into a file for the case to read. */
static void
fx_capture_log(struct fx *fx)
{
	int	fd;

	snprintf(fx->logpath, sizeof fx->logpath, "%s/log", tmpdir_path);
	fflush(stderr);
	fx->stderr_saved = dup(STDERR_FILENO);
	fd = open(fx->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static int
fx_log_count(struct fx *fx, const char *needle)
{
	FILE	*f;
	char	 line[1024];
	int	 n = 0;

	fflush(stderr);
	ck_assert_ptr_nonnull(f = fopen(fx->logpath, "r"));
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

/* ---- URLs -------------------------------------------------------------------- */

START_TEST(test_url_parse_takes_a_url_apart)
{
	struct http_url	u;
	const char	*why;
	char		buf[256];

	ck_assert_int_eq(http_url_parse("https://u%3Ax:p%40ss@Example.com/a/"
	    "b?k=v#frag", &u, &why), 0);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_str_eq(u.host, "Example.com");
	ck_assert_int_eq(u.port, 443);
	ck_assert_str_eq(u.target, "/a/b?k=v");
	ck_assert_str_eq(u.userinfo, "u:x:p@ss");
	ck_assert_str_eq(http_url_loggable(&u, buf, sizeof buf),
	    "https://Example.com:443/a/b");
	http_url_clear(&u);

	ck_assert_int_eq(http_url_parse("http://[::1]:8080", &u, &why), 0);
	ck_assert_int_eq(u.tls, 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 8080);
	ck_assert_str_eq(u.target, "/");
	ck_assert_ptr_null(u.userinfo);
	ck_assert_str_eq(http_url_loggable(&u, buf, sizeof buf),
	    "http://[::1]:8080/");
	http_url_clear(&u);

	ck_assert_int_eq(http_url_parse("http://h?q", &u, &why), 0);
	ck_assert_int_eq(u.port, 80);
	ck_assert_str_eq(u.target, "/?q");
	http_url_clear(&u);

	ck_assert_int_eq(http_url_parse("ftp://h/", &u, &why), -1);
	ck_assert_int_eq(http_url_parse("http:///x", &u, &why), -1);
	ck_assert_str_eq(why, "URL has no host");
	ck_assert_int_eq(http_url_parse("http://h:0/", &u, &why), -1);
	ck_assert_int_eq(http_url_parse("http://h:99999/", &u, &why), -1);
	ck_assert_int_eq(http_url_parse("http://h:8x/", &u, &why), -1);
	ck_assert_int_eq(http_url_parse("http://[::1/", &u, &why), -1);
	ck_assert_int_eq(http_url_parse("http://h/a b", &u, &why), -1);
}
END_TEST

START_TEST(test_url_resolve_and_same_origin)
{
	struct http_url	base, u, other;
	const char	*why;

	ck_assert_int_eq(http_url_parse("http://127.0.0.1:3001/sse?x=1", &base,
	    &why), 0);
	ck_assert_int_eq(http_url_resolve(&base, "/message?sessionId=abc",
	    &u, &why), 0);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_int_eq(u.port, 3001);
	ck_assert_str_eq(u.target, "/message?sessionId=abc");
	ck_assert(http_url_same_origin(&base, &u));
	http_url_clear(&u);

	ck_assert_int_eq(http_url_resolve(&base, "messages?s=1", &u, &why), 0);
	ck_assert_str_eq(u.target, "/messages?s=1");
	http_url_clear(&u);

	ck_assert_int_eq(http_url_resolve(&base, "?s=2", &u, &why), 0);
	ck_assert_str_eq(u.target, "/sse?s=2");
	http_url_clear(&u);

	ck_assert_int_eq(http_url_resolve(&base, "//evil.example/m", &u,
	    &why), 0);
	ck_assert_str_eq(u.host, "evil.example");
	ck_assert_int_eq(u.port, 80);
	ck_assert(!http_url_same_origin(&base, &u));
	http_url_clear(&u);

	ck_assert_int_eq(http_url_resolve(&base, "https://127.0.0.1:3001/m",
	    &u, &why), 0);
	ck_assert(!http_url_same_origin(&base, &u));
	http_url_clear(&u);

	ck_assert_int_eq(http_url_parse("http://127.0.0.1:3001/other", &other,
	    &why), 0);
	ck_assert(http_url_same_origin(&base, &other));
	http_url_clear(&other);

	ck_assert_int_eq(http_url_parse("http://a.example/dir/sse", &other,
	    &why), 0);
	ck_assert_int_eq(http_url_resolve(&other, "msg", &u, &why), 0);
	ck_assert_str_eq(u.host, "a.example");
	ck_assert_str_eq(u.target, "/dir/msg");
	http_url_clear(&u);
	http_url_clear(&other);
	http_url_clear(&base);
}
END_TEST

/* ---- plain http --------------------------------------------------------------- */

START_TEST(test_content_length_body)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	ck_assert_str_eq(res.detail, "");
	ck_assert_int_eq(res.nresponse, 1);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.reason, "OK");
	ck_assert_str_eq(res.x_test, "yes");
	ck_assert_int_eq(res.sse, 0);
	ck_assert_str_eq(res.body, "hello world");
	ck_assert_uint_eq(res.body_len, 11);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_post_body_and_headers_are_sent)
{
	struct fx		fx;
	struct res		res;
	struct http_request	*req;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	memset(&res, 0, sizeof res);
	res.fx = &fx;
	req = http_request_new(fx.c, "POST", "/echo", &res_cbs, &res);
	ck_assert_int_eq(http_request_add_header(req, "Authorization",
	    "Bearer s3cret"), 0);
	http_request_set_body(req, "application/json", "{\"a\":1}", 7);
	http_request_start(req);
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	ck_assert_int_eq(res.status, 201);
	ck_assert_str_eq(res.body, "{\"a\":1}");
	ck_assert_str_eq(fx.srv.last_auth, "Bearer s3cret");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_header_injection_is_refused)
{
	struct fx		fx;
	struct res		res;
	struct http_request	*req;

	fx_setup(&fx);
	fx_client(&fx, "127.0.0.1", 9, 0, NULL);
	memset(&res, 0, sizeof res);
	req = http_request_new(fx.c, "GET", "/", &res_cbs, &res);
	errno = 0;
	ck_assert_int_eq(http_request_add_header(req, "X-A", "v\r\nX-B: w"),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(http_request_add_header(req, "X A", "v"), -1);
	ck_assert_int_eq(http_request_add_header(req, "", "v"), -1);
	ck_assert_int_eq(http_request_add_header(req, "X-Ok", "v w"), 0);
	/* Never started: freed with the client, no callback. */
	fx_teardown(&fx);
	ck_assert_int_eq(res.ndone, 0);
}
END_TEST

START_TEST(test_chunked_body)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/chunked");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.body, "part0;part1;part2;");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_sse_body_is_delivered_event_by_event)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/sse");
	res.drive_sse = 1;
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	ck_assert_int_eq(res.sse, 1);
	ck_assert_int_eq(res.nevents, 3);
	ck_assert_str_eq(res.events[0], "one");
	ck_assert_str_eq(res.ids[0], "1");
	ck_assert_str_eq(res.types[0], "message");
	ck_assert_str_eq(res.events[1], "two\nlines");
	ck_assert_str_eq(res.ids[1], "2");
	ck_assert_str_eq(res.events[2], "three");
	ck_assert_str_eq(res.types[2], "custom");
	ck_assert_str_eq(res.ids[2], "2");
	ck_assert_str_eq(res.last_id, "2");
	ck_assert_int_eq(res.retry, 250);
	ck_assert_str_eq(res.body, "");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_keepalive_reuses_one_connection)
{
	struct fx	fx;
	struct res	res;
	int		i;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	for (i = 0; i < 3; i++) {
		fx_get(&fx, &res, i == 1 ? "/chunked" : "/length");
		run_until(&fx, &res.ndone, 1);
		ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	}
	ck_assert_int_eq(fx.srv.nreqs, 3);
	ck_assert_int_eq(fx.srv.npeers, 1);
	ck_assert_uint_eq(http_client_stats(fx.c)->connections, 1);
	ck_assert_uint_eq(http_client_stats(fx.c)->reused, 2);
	ck_assert_uint_eq(http_client_stats(fx.c)->requests, 3);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_concurrent_requests_get_their_own_connections)
{
	struct fx	fx;
	struct res	res[3];
	int		i, done;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	for (i = 0; i < 3; i++)
		fx_get(&fx, &res[i], "/length");
	for (;;) {
		done = res[0].ndone + res[1].ndone + res[2].ndone;
		if (done == 3)
			break;
		run_until(&fx, &res[0].ndone, 1);
		run_for(&fx, 0.01);
	}
	for (i = 0; i < 3; i++)
		ck_assert_str_eq(res[i].body, "hello world");
	ck_assert_int_eq(fx.srv.npeers, 3);
	ck_assert_uint_eq(http_client_stats(fx.c)->connections, 3);
	/* Then all three are kept: the next three reuse them. */
	for (i = 0; i < 3; i++)
		fx_get(&fx, &res[i], "/length");
	for (i = 0; i < 3; i++)
		run_until(&fx, &res[i].ndone, 1);
	ck_assert_int_eq(fx.srv.npeers, 3);
	ck_assert_uint_eq(http_client_stats(fx.c)->reused, 3);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	fx_client(&fx, "127.0.0.1", closed_port(), 0, NULL);
	fx_get(&fx, &res, "/");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_CONNECT);
	ck_assert_int_eq(res.err, ECONNREFUSED);
	ck_assert_msg(strstr(res.detail, "Connection refused") != NULL,
	    "%s", res.detail);
	ck_assert_int_eq(res.nresponse, 0);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_request_timeout)
{
	struct fx		fx;
	struct res		res;
	double			t0;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/stall");
	http_request_set_timeout(res.req, 0.2);
	t0 = now();
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TIMEOUT);
	ck_assert_int_eq(res.err, ETIMEDOUT);
	ck_assert(now() - t0 >= 0.19);
	ck_assert(now() - t0 < 1.0);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_sse_stream_outlives_the_timeout)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/sse");
	http_request_set_timeout(res.req, 0.1);
	run_until(&fx, &res.nevents, 1);
	run_for(&fx, 0.3);
	ck_assert_int_eq(res.ndone, 0);
	/* The server ends it; done comes then. */
	evhttp_send_reply_end(fx.srv.held);
	fx.srv.held = NULL;
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_cancel_inside_event_callback)
{
	struct fx	fx;
	struct res	res, res2;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/sse");
	res.cancel_on_event = 1;
	run_until(&fx, &res.nevents, 1);
	run_for(&fx, 0.05);
	ck_assert_int_eq(res.ndone, 0);
	ck_assert_int_eq(res.nevents, 1);
	/* The server sees the connection go. */
	ck_assert_ptr_null(fx.srv.held);
	/* And the client still works, on a new connection. */
	fx_get(&fx, &res2, "/length");
	run_until(&fx, &res2.ndone, 1);
	ck_assert_str_eq(res2.body, "hello world");
	ck_assert_uint_eq(http_client_stats(fx.c)->connections, 2);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_free_client_inside_callbacks)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/sse");
	res.free_client_on_event = 1;
	run_until(&fx, &res.nevents, 1);
	ck_assert_ptr_null(fx.c);
	run_for(&fx, 0.05);
	ck_assert_int_eq(res.ndone, 0);

	fx_client(&fx, "127.0.0.1", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/length");
	res.free_client_on_done = 1;
	run_until(&fx, &res.ndone, 1);
	ck_assert_ptr_null(fx.c);
	ck_assert_str_eq(res.body, "hello world");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_raw_responses)
{
	static const struct {
		const char	*reply;
		int		 close_after;
		enum http_error	 error;
		int		 status;
		const char	*body;
	} cases[] = {
		{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
		  "Content-Length: 2\r\n\r\nok", 0, HTTP_ERR_NONE, 200, "ok" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: y\r\n\r\n", 0,
		  HTTP_ERR_NONE, 200, "hello world" },
		{ "HTTP/1.0 200 OK\n\nuntil close", 1, HTTP_ERR_NONE, 200,
		  "until close" },
		{ "HTTP/1.1 204 No Content\r\n\r\n", 0, HTTP_ERR_NONE, 204, "" },
		{ "HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 4\r\n"
		  "\r\nbusy", 0, HTTP_ERR_NONE, 503, "busy" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 1,
		  HTTP_ERR_RESET, 200, "" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		  0, HTTP_ERR_PROTOCOL, 200, "" },
		{ "SSH-2.0-OpenSSH_9\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 0,
		  HTTP_ERR_PROTOCOL, 200, "" },
		{ "", 1, HTTP_ERR_RESET, 0, "" },
		/* Status lines: three digits from 100, a reason or none. */
		{ "HTTP/1.1 201\r\nContent-Length: 2\r\n\r\nok", 0,
		  HTTP_ERR_NONE, 201, "ok" },
		{ "HTTP/1.1 099 Low\r\n\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
		{ "HTTP/1.1 20 OK\r\n\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
		{ "HTTP/1.1 2000 OK\r\n\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
		{ "HTTP/1.1 +20 OK\r\n\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
		{ "HTTP/2 200 OK\r\n\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
		{ "HTTP/1.\r\n\r\n", 0, HTTP_ERR_PROTOCOL, 0, "" },
	};
	struct fx	fx;
	struct res	res;
	size_t		i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fx_setup(&fx);
		raw_start(&fx.raw, fx.base, cases[i].reply);
		fx.have_raw = 1;
		fx.raw.close_after = cases[i].close_after;
		fx_client(&fx, "127.0.0.1", fx.raw.port, 0, NULL);
		fx_get(&fx, &res, "/x");
		run_until(&fx, &res.ndone, 1);
		ck_assert_msg(res.error == cases[i].error,
		    "case %zu: error %s (%s)", i, http_error_name(res.error),
		    res.detail);
		ck_assert_msg(res.status == cases[i].status,
		    "case %zu: status %d", i, res.status);
		ck_assert_msg(strcmp(res.body, cases[i].body) == 0,
		    "case %zu: body '%s'", i, res.body);
		ck_assert_msg(strstr(fx.raw.last_req, "GET /x HTTP/1.1\r\n"
		    "Host: 127.0.0.1:") == fx.raw.last_req, "case %zu: %s", i,
		    fx.raw.last_req);
		ck_assert_msg(strstr(fx.raw.last_req, "\r\nUser-Agent: mcprelay/"
		    PACKAGE_VERSION "\r\n\r\n") != NULL, "case %zu: %s", i,
		    fx.raw.last_req);
		fx_teardown(&fx);
	}
}
END_TEST

/* Lines and chunks cut across reads, twice on one connection. */
START_TEST(test_response_read_in_pieces)
{
	struct fx	fx;
	struct res	res;
	int		i;

	fx_setup(&fx);
	raw_start(&fx.raw, fx.base, "HTTP/1.1 200 OK\r\nX-Test: split\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world"
	    "\r\n0\r\n\r\n");
	fx.have_raw = 1;
	fx.raw.piece = 3;
	fx_client(&fx, "127.0.0.1", fx.raw.port, 0, NULL);
	for (i = 0; i < 2; i++) {
		fx_get(&fx, &res, "/p");
		run_until(&fx, &res.ndone, 1);
		ck_assert_msg(res.error == HTTP_ERR_NONE, "%d: %s", i,
		    res.detail);
		ck_assert_int_eq(res.status, 200);
		ck_assert_str_eq(res.x_test, "split");
		ck_assert_str_eq(res.body, "hello world");
	}
	ck_assert_int_eq(fx.raw.nconns, 1);
	fx_teardown(&fx);
}
END_TEST

/* A body many reads long, then a line over the limit. */
START_TEST(test_long_body_and_too_long_line)
{
	static char	reply[300000];
	struct fx	fx;
	struct res	res;
	size_t		head, i;

	head = (size_t)snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 200000\r\n\r\n");
	for (i = 0; i < 200000; i++)
		reply[head + i] = (char)('a' + i % 26);
	reply[head + i] = '\0';
	fx_setup(&fx);
	raw_start(&fx.raw, fx.base, reply);
	fx.have_raw = 1;
	fx_client(&fx, "127.0.0.1", fx.raw.port, 0, NULL);
	fx_get(&fx, &res, "/big");
	res.big = 1;
	run_until(&fx, &res.ndone, 1);
	ck_assert_msg(res.error == HTTP_ERR_NONE, "%s", res.detail);
	ck_assert_uint_eq(res.body_len, 200000);
	ck_assert_uint_eq(res.body_sum, body_sum(reply + head, 200000));
	fx_teardown(&fx);

	head = (size_t)snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\n"
	    "X-Long: ");
	memset(reply + head, 'x', 20000);
	snprintf(reply + head + 20000, sizeof reply - head - 20000,
	    "\r\nContent-Length: 2\r\n\r\nok");
	fx_setup(&fx);
	raw_start(&fx.raw, fx.base, reply);
	fx.have_raw = 1;
	fx_client(&fx, "127.0.0.1", fx.raw.port, 0, NULL);
	fx_get(&fx, &res, "/long");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TOO_LARGE);
	ck_assert_str_eq(res.detail, "line in the response too long");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_body_over_the_limit)
{
	struct fx			fx;
	struct res			res;
	struct http_client_config	cfg;
	char				err[64];

	fx_setup(&fx);
	raw_start(&fx.raw, fx.base, "HTTP/1.1 200 OK\r\nContent-Length: 100"
	    "\r\n\r\n");
	fx.have_raw = 1;
	memset(&cfg, 0, sizeof cfg);
	cfg.name = "server test";
	cfg.host = "127.0.0.1";
	cfg.port = fx.raw.port;
	cfg.max_body = 16;
	fx.c = http_client_new(fx.base, &cfg, err, sizeof err);
	fx_get(&fx, &res, "/");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TOO_LARGE);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_stale_kept_alive_connection_is_not_used)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	/* Says nothing about closing, then closes: a server's keep-alive
	 * timeout while we held the connection idle. */
	raw_start(&fx.raw, fx.base, "HTTP/1.1 200 OK\r\nContent-Length: 2"
	    "\r\n\r\nok");
	fx.have_raw = 1;
	fx.raw.close_after = 1;
	fx_client(&fx, "127.0.0.1", fx.raw.port, 0, NULL);
	fx_get(&fx, &res, "/a");
	run_until(&fx, &res.ndone, 1);
	ck_assert_str_eq(res.body, "ok");
	run_for(&fx, 0.05);
	fx_get(&fx, &res, "/b");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_NONE);
	ck_assert_str_eq(res.body, "ok");
	ck_assert_int_eq(fx.raw.nconns, 2);
	ck_assert_int_eq(fx.raw.nreqs, 2);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_name_is_resolved_without_blocking)
{
	struct fx	fx;
	struct res	res;

	fx_setup(&fx);
	srv_start(&fx.srv, fx.base, NULL);
	/* localhost may come back as ::1 first: the next address is tried. */
	fx_client(&fx, "localhost", fx.srv.port, 0, NULL);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_msg(res.error == HTTP_ERR_NONE, "%s", res.detail);
	ck_assert_str_eq(res.body, "hello world");
	fx_teardown(&fx);
}
END_TEST

/* ---- https ------------------------------------------------------------------ */

static void
fx_tls(struct fx *fx, const char *server_cert, int max_version)
{
	fx_setup(fx);
	tmpdir_make();
	make_cert("good", "DNS:localhost,IP:127.0.0.1");
	make_cert("wrongname", "DNS:wrong.example");
	make_cert("client", "DNS:client.example");
	srv_start(&fx->srv, fx->base, server_ctx(server_cert, max_version));
}

START_TEST(test_tls_without_ca_file_refuses_a_self_signed_cert)
{
	struct fx		fx;
	struct res		res;
	struct http_tls_config	t = { .verify = 1 };

	fx_tls(&fx, "good", 0);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TLS_VERIFY);
	ck_assert_int_eq(res.err, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	ck_assert_msg(strstr(res.detail, "self-signed certificate") != NULL,
	    "%s", res.detail);
	ck_assert_int_eq(fx.srv.nreqs, 0);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_with_ca_file_succeeds_and_reuses)
{
	struct fx		fx;
	struct res		res;
	struct http_tls_config	t = { .verify = 1 };

	fx_tls(&fx, "good", 0);
	t.ca_file = cert_path("good", "crt");
	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_msg(res.error == HTTP_ERR_NONE, "%s", res.detail);
	ck_assert_str_eq(res.body, "hello world");
	/* No SNI for an address. */
	ck_assert_str_eq(fx.srv.sni, "");
	fx_get(&fx, &res, "/chunked");
	run_until(&fx, &res.ndone, 1);
	ck_assert_str_eq(res.body, "part0;part1;part2;");
	ck_assert_uint_eq(http_client_stats(fx.c)->connections, 1);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_name_gets_sni_and_is_checked)
{
	struct fx		fx;
	struct res		res;
	struct http_tls_config	t = { .verify = 1 };

	fx_tls(&fx, "good", 0);
	t.ca_file = cert_path("good", "crt");
	fx_client(&fx, "localhost", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_msg(res.error == HTTP_ERR_NONE, "%s", res.detail);
	ck_assert_str_eq(fx.srv.sni, "localhost");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_hostname_mismatch_fails)
{
	struct fx		fx;
	struct res		res;
	struct http_tls_config	t = { .verify = 1 };

	fx_tls(&fx, "wrongname", 0);
	t.ca_file = cert_path("wrongname", "crt");
	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TLS_VERIFY);
	ck_assert_int_eq(res.err, X509_V_ERR_IP_ADDRESS_MISMATCH);
	ck_assert_msg(strstr(res.detail, "mismatch") != NULL, "%s",
	    res.detail);
	fx_teardown(&fx);

	fx_tls(&fx, "wrongname", 0);
	t.ca_file = cert_path("wrongname", "crt");
	fx_client(&fx, "localhost", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TLS_VERIFY);
	ck_assert_int_eq(res.err, X509_V_ERR_HOSTNAME_MISMATCH);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_verify_off_works_and_warns_at_every_connect)
{
	struct fx		fx;
	struct res		res[2];
	struct http_tls_config	t = { .verify = 0 };

	fx_tls(&fx, "wrongname", 0);
	fx_capture_log(&fx);
	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res[0], "/length");
	fx_get(&fx, &res[1], "/length");
	run_until(&fx, &res[0].ndone, 1);
	run_until(&fx, &res[1].ndone, 1);
	ck_assert_str_eq(res[0].body, "hello world");
	ck_assert_str_eq(res[1].body, "hello world");
	ck_assert_uint_eq(http_client_stats(fx.c)->connections, 2);
	ck_assert_int_eq(fx_log_count(&fx, "TLS certificate verification is "
	    "off"), 2);
	dup2(fx.stderr_saved, STDERR_FILENO);
	close(fx.stderr_saved);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_min_version_is_enforced)
{
	struct fx		fx;
	struct res		res;
	struct http_tls_config	t = { .verify = 1, .min_version = 3 };

	fx_tls(&fx, "good", TLS1_2_VERSION);
	t.ca_file = cert_path("good", "crt");
	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_TLS);
	ck_assert_int_eq(res.err, 0);
	ck_assert_msg(strstr(res.detail, "TLS handshake with 127.0.0.1:") !=
	    NULL, "%s", res.detail);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_client_certificate)
{
	struct fx		fx;
	struct res		res;
	struct http_tls_config	t = { .verify = 1 };
	SSL_CTX			*ctx;

	fx_tls(&fx, "good", 0);
	ctx = fx.srv.ssl_ctx;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx,
	    cert_path("client", "crt"), NULL), 1);
	t.ca_file = cert_path("good", "crt");

	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_ne(res.error, HTTP_ERR_NONE);
	http_client_free(fx.c);

	t.cert_file = cert_path("client", "crt");
	t.key_file = cert_path("client", "key");
	fx_client(&fx, "127.0.0.1", fx.srv.port, 1, &t);
	fx_get(&fx, &res, "/length");
	run_until(&fx, &res.ndone, 1);
	ck_assert_msg(res.error == HTTP_ERR_NONE, "%s", res.detail);
	ck_assert_str_eq(res.body, "hello world");
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_bad_files_fail_at_creation)
{
	struct fx			fx;
	struct http_client_config	cfg;
	char				err[256];

	fx_setup(&fx);
	tmpdir_make();
	make_cert("good", "DNS:localhost");
	memset(&cfg, 0, sizeof cfg);
	cfg.name = "server test";
	cfg.host = "127.0.0.1";
	cfg.port = 443;
	cfg.tls = 1;
	cfg.tls_config.verify = 1;
	cfg.tls_config.ca_file = "/nonexistent/ca.pem";
	ck_assert_ptr_null(http_client_new(fx.base, &cfg, err, sizeof err));
	ck_assert_msg(strstr(err, "cannot load tls.ca_file "
	    "'/nonexistent/ca.pem'") == err, "%s", err);
	cfg.tls_config.ca_file = NULL;
	cfg.tls_config.cert_file = cert_path("good", "crt");
	cfg.tls_config.key_file = cert_path("good", "crt");
	ck_assert_ptr_null(http_client_new(fx.base, &cfg, err, sizeof err));
	ck_assert_msg(strstr(err, "cannot use tls.key_file") == err, "%s",
	    err);
	fx_teardown(&fx);
}
END_TEST

START_TEST(test_tls_handshake_stall_is_a_connect_timeout)
{
	struct fx			fx;
	struct res			res;
	struct http_client_config	cfg;
	char				err[64];
	double				t0;

	fx_setup(&fx);
	raw_start_deaf(&fx.raw);
	fx.have_raw = 1;
	memset(&cfg, 0, sizeof cfg);
	cfg.name = "server test";
	cfg.host = "127.0.0.1";
	cfg.port = fx.raw.port;
	cfg.tls = 1;
	cfg.tls_config.verify = 0;
	cfg.connect_timeout = 0.2;
	fx.c = http_client_new(fx.base, &cfg, err, sizeof err);
	t0 = now();
	fx_get(&fx, &res, "/");
	run_until(&fx, &res.ndone, 1);
	ck_assert_int_eq(res.error, HTTP_ERR_CONNECT_TIMEOUT);
	ck_assert(now() - t0 >= 0.19);
	fx_teardown(&fx);
}
END_TEST

/* ---- the TLS module -------------------------------------------------------- */

static struct http_client *
module_client(struct event_base *base, int tls, char *err, size_t errlen)
{
	struct http_client_config	cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.name = "server test";
	cfg.host = "127.0.0.1";
	cfg.port = 4443;
	cfg.tls = tls;
	cfg.tls_config.verify = 1;
	return http_client_new(base, &cfg, err, errlen);
}

START_TEST(test_https_without_the_module_fails_at_creation)
{
	struct event_base	*base = event_base_new();
	char			 err[512] = "";

	setenv(TLS_MODULE_ENV, "/nonexistent/mcprelay/tls.so", 1);
	ck_assert_ptr_null(module_client(base, 1, err, sizeof err));
	ck_assert_str_eq(err, "cannot load /nonexistent/mcprelay/tls.so: "
	    "cannot open shared object file: No such file or directory");
	event_base_free(base);
}
END_TEST

/* A file that is no shared object at all. */
START_TEST(test_https_with_a_broken_module_fails_at_creation)
{
	struct event_base	*base = event_base_new();
	char			 err[512] = "", want[512];

	setenv(TLS_MODULE_ENV, TEST_DATA_DIR "/config-full.yaml", 1);
	ck_assert_ptr_null(module_client(base, 1, err, sizeof err));
	snprintf(want, sizeof want, "cannot load %s: invalid ELF header",
	    TEST_DATA_DIR "/config-full.yaml");
	ck_assert_str_eq(err, want);
	event_base_free(base);
}
END_TEST

/* Plain http never touches the module. */
START_TEST(test_http_does_not_load_the_module)
{
	struct event_base	*base = event_base_new();
	struct http_client	*c;
	char			 err[512] = "";

	setenv(TLS_MODULE_ENV, "/nonexistent/mcprelay/tls.so", 1);
	ck_assert_ptr_nonnull(c = module_client(base, 0, err, sizeof err));
	http_client_free(c);
	event_base_free(base);
}
END_TEST

static Suite *
http_client_suite(void)
{
	Suite	*s = suite_create("http_client");
	TCase	*tc;

	tc = tcase_create("url");
	tcase_add_test(tc, test_url_parse_takes_a_url_apart);
	tcase_add_test(tc, test_url_resolve_and_same_origin);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, test_content_length_body);
	tcase_add_test(tc, test_post_body_and_headers_are_sent);
	tcase_add_test(tc, test_header_injection_is_refused);
	tcase_add_test(tc, test_chunked_body);
	tcase_add_test(tc, test_sse_body_is_delivered_event_by_event);
	tcase_add_test(tc, test_keepalive_reuses_one_connection);
	tcase_add_test(tc, test_concurrent_requests_get_their_own_connections);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_request_timeout);
	tcase_add_test(tc, test_sse_stream_outlives_the_timeout);
	tcase_add_test(tc, test_cancel_inside_event_callback);
	tcase_add_test(tc, test_free_client_inside_callbacks);
	tcase_add_test(tc, test_raw_responses);
	tcase_add_test(tc, test_response_read_in_pieces);
	tcase_add_test(tc, test_long_body_and_too_long_line);
	tcase_add_test(tc, test_body_over_the_limit);
	tcase_add_test(tc, test_stale_kept_alive_connection_is_not_used);
	tcase_add_test(tc, test_name_is_resolved_without_blocking);
	suite_add_tcase(s, tc);

	tc = tcase_create("https");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, test_tls_without_ca_file_refuses_a_self_signed_cert);
	tcase_add_test(tc, test_tls_with_ca_file_succeeds_and_reuses);
	tcase_add_test(tc, test_tls_name_gets_sni_and_is_checked);
	tcase_add_test(tc, test_tls_hostname_mismatch_fails);
	tcase_add_test(tc, test_tls_verify_off_works_and_warns_at_every_connect);
	tcase_add_test(tc, test_tls_min_version_is_enforced);
	tcase_add_test(tc, test_tls_client_certificate);
	tcase_add_test(tc, test_tls_bad_files_fail_at_creation);
	tcase_add_test(tc, test_tls_handshake_stall_is_a_connect_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("module");
	tcase_add_test(tc, test_https_without_the_module_fails_at_creation);
	tcase_add_test(tc, test_https_with_a_broken_module_fails_at_creation);
	tcase_add_test(tc, test_http_does_not_load_the_module);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	signal(SIGPIPE, SIG_IGN);
	log_init("test_http_client", LOG_LEVEL_INFO);
	/* The module of this build tree: the search beside the executable
	 * is for mcprelayd's directory, not tests/unit/. */
	setenv(TLS_MODULE_ENV, TEST_TLS_MODULE, 1);
	sr = srunner_create(http_client_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
