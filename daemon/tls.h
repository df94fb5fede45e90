/*
 * The TLS half of the HTTP client, in a module of its own (tls.so) that
 * the daemon loads with dlopen() only when an https endpoint is configured:
 * linking OpenSSL costs an idle daemon 1.8 MiB of resident memory whether
 * it speaks TLS or not (docs/benchmarks.md).  Only the module links libssl,
 * libcrypto and libevent_openssl; the daemon sees this table.
 */
#ifndef MCPRELAY_TLS_H
#define MCPRELAY_TLS_H

#include <stddef.h>

#include "http-client.h"

struct bufferevent;
struct config;
struct event_base;

/* Bumped whenever struct tls_module changes; the symbol carries it too. */
#define TLS_MODULE_ABI		1
#define TLS_MODULE_SYMBOL	"mcprelay_tls_module_v1"
#define TLS_MODULE_FILE		"tls.so"
/* Overrides the search (tls-load.c) with a full path. */
#define TLS_MODULE_ENV		"MCPRELAY_TLS_MODULE"

struct tls_ctx;

struct tls_module {
	int	 abi;		/* TLS_MODULE_ABI */
	/*
	 * A client context for t; NULL with err set when its files cannot
	 * be used (a configuration error).
	 */
	struct tls_ctx	*(*ctx_new)(const struct http_tls_config *t,
			    char *err, size_t errlen);
	void		 (*ctx_free)(struct tls_ctx *);
	/*
	 * A TLS filter over the connected bev, which it owns from then on,
	 * to handshake with host (SNI for a name; the name or IP literal
	 * checked when verify is set).  NULL with *what naming the call that
	 * failed: out of memory only.
	 */
	struct bufferevent *(*filter_new)(struct tls_ctx *,
			    struct event_base *, struct bufferevent *bev,
			    const char *host, int verify, const char **what);
	/* The protocol the filter's handshake agreed, "TLSv1.3". */
	const char	*(*version)(struct bufferevent *filter);
	/*
	 * Why the filter's handshake failed, into msg: HTTP_ERR_TLS_VERIFY
	 * with *x509_err set (verify on and the certificate refused), or
	 * HTTP_ERR_TLS.  Clears OpenSSL's error queue.
	 */
	enum http_error	 (*failure)(struct bufferevent *filter, int verify,
			    const char *peer, char *msg, size_t len,
			    int *x509_err);
};

/*
 * tls-load.c, in the daemon.  Loads the module (once per process: later
 * calls find it loaded) and checks its ABI.  The search: $MCPRELAY_TLS_MODULE
 * if set; else modules/tls.so next to the running executable (the build
 * tree) if that file exists; else PKGLIBDIR/tls.so.  NULL with err set to
 * "cannot load PATH: why".  *handle is for tls_module_close().
 */
const struct tls_module *tls_module_open(void **handle, char *err,
		    size_t errlen);
void		 tls_module_close(void *handle);
/*
 * Loads the module when cfg has an https endpoint (an enabled http or sse
 * server with an https URL or OAuth): 0, or -1 with err set to
 * "https upstream 'NAME' needs TLS support: cannot load PATH: why".
 */
int		 tls_module_check_config(const struct config *, char *err,
		    size_t errlen);

#endif
