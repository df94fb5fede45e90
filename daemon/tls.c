/*
 * The TLS module (tls.so, see tls.h): OpenSSL client contexts and
 * bufferevent_openssl filters for the HTTP client, moved out of the daemon
 * so that only a daemon with an https endpoint maps OpenSSL.  No logging and
 * no xmalloc here: failures go back to the daemon, which reports them.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* The context is OpenSSL's own; the struct name only keeps it opaque. */
static struct tls_ctx *
tls_ctx_new(const struct http_tls_config *t, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	unsigned long	 e;
	char		 buf[256];
	const char	*what;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		what = "cannot create a TLS context";
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, t->min_version == 3 ?
	    TLS1_3_VERSION : TLS1_2_VERSION)) {
		what = "cannot set the minimum TLS version";
		goto fail;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (t->ca_file != NULL) {
		if (!SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL)) {
			snprintf(buf, sizeof buf, "cannot load tls.ca_file "
			    "'%s'", t->ca_file);
			what = buf;
			goto fail;
		}
	} else if (t->verify && !SSL_CTX_set_default_verify_paths(ctx)) {
		what = "cannot load the system's CA certificates";
		goto fail;
	}
	if (t->cert_file != NULL) {
		if (!SSL_CTX_use_certificate_chain_file(ctx, t->cert_file)) {
			snprintf(buf, sizeof buf, "cannot load tls.cert_file "
			    "'%s'", t->cert_file);
			what = buf;
			goto fail;
		}
		if (t->key_file == NULL || !SSL_CTX_use_PrivateKey_file(ctx,
		    t->key_file, SSL_FILETYPE_PEM) ||
		    !SSL_CTX_check_private_key(ctx)) {
			snprintf(buf, sizeof buf, "cannot use tls.key_file "
			    "'%s' with tls.cert_file", t->key_file ?
			    t->key_file : "(none)");
			what = buf;
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	return (struct tls_ctx *)ctx;

fail:
	e = ERR_peek_last_error();
	snprintf(err, errlen, "%s%s%s", what, e != 0 ? ": " : "",
	    e != 0 ? ERR_reason_error_string(e) : "");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static void
tls_ctx_free(struct tls_ctx *ctx)
{
	SSL_CTX_free((SSL_CTX *)ctx);
}

static struct bufferevent *
tls_filter_new(struct tls_ctx *ctx, struct event_base *base,
    struct bufferevent *bev, const char *host, int verify, const char **what)
{
	struct bufferevent	*filter;
	SSL			*ssl;
	unsigned char		 addr[sizeof(struct in6_addr)];
	int			 literal;

	literal = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	if ((ssl = SSL_new((SSL_CTX *)ctx)) == NULL) {
		*what = "SSL_new";
		return NULL;
	}
	/* SNI is for names only (RFC 6066). */
	if (!literal)
		SSL_set_tlsext_host_name(ssl, host);
	if (verify) {
		if (literal) {
			if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    host)) {
				*what = "X509_VERIFY_PARAM_set1_ip_asc";
				SSL_free(ssl);
				return NULL;
			}
		} else if (!SSL_set1_host(ssl, host)) {
			*what = "SSL_set1_host";
			SSL_free(ssl);
			return NULL;
		}
	}
	filter = bufferevent_openssl_filter_new(base, bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (filter == NULL) {
		/* libevent freed ssl (BEV_OPT_CLOSE_ON_FREE). */
		*what = "bufferevent_openssl_filter_new";
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	return filter;
}

static const char *
tls_version(struct bufferevent *filter)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(filter);

	return ssl != NULL ? SSL_get_version(ssl) : "";
}

static enum http_error
tls_failure(struct bufferevent *filter, int verify, const char *peer,
    char *msg, size_t len, int *x509_err)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(filter);
	unsigned long	 e, first = 0;
	long		 vr = X509_V_OK;

	while ((e = bufferevent_get_openssl_error(filter)) != 0)
		if (first == 0)
			first = e;
	if (ssl != NULL)
		vr = SSL_get_verify_result(ssl);
	ERR_clear_error();
	*x509_err = 0;
	if (verify && vr != X509_V_OK) {
		snprintf(msg, len, "TLS certificate of %s refused: %s "
		    "(X509 error %ld)", peer, X509_verify_cert_error_string(vr),
		    vr);
		*x509_err = (int)vr;
		return HTTP_ERR_TLS_VERIFY;
	}
	if (first != 0)
		snprintf(msg, len, "TLS handshake with %s failed: %s", peer,
		    ERR_reason_error_string(first) ?
		    ERR_reason_error_string(first) : "unknown error");
	else
		snprintf(msg, len, "TLS handshake with %s failed: the "
		    "connection was closed", peer);
	return HTTP_ERR_TLS;
}

/*
 * The one symbol the daemon looks up (tls-load.c); the module is built with
 * hidden visibility, so it is the only one exported.
 */
extern const struct tls_module mcprelay_tls_module_v1;
__attribute__((visibility("default")))
const struct tls_module mcprelay_tls_module_v1 = {
	.abi = TLS_MODULE_ABI,
	.ctx_new = tls_ctx_new,
	.ctx_free = tls_ctx_free,
	.filter_new = tls_filter_new,
	.version = tls_version,
	.failure = tls_failure,
};
