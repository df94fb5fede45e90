/*
 * The OAuth 2.1 client of one remote server (the MCP authorization spec):
 * discovery (RFC 9728, RFC 8414, OpenID), registration (pre-registered,
 * Client ID Metadata Document, RFC 7591), the authorization code flow with
 * PKCE on a loopback redirect (RFC 8252), tokens kept in a 0600 file and
 * refreshed one refresh at a time.  docs/auth.md describes it.
 */
#ifndef MCPRELAY_OAUTH_H
#define MCPRELAY_OAUTH_H

#include <stddef.h>

struct config_server;
struct json_object;
struct relay;
struct oauth;

/* Authorizations for more scope on one challenge before giving up. */
#define OAUTH_STEP_UP_LIMIT	3
/* How long a login waits for the browser's redirect. */
#define OAUTH_LOGIN_TIMEOUT	300.0
/* Refresh this long before the access token expires (or at 3/4 of a
 * shorter lifetime). */
#define OAUTH_REFRESH_MARGIN	60.0

enum oauth_state {
	OAUTH_NO_TOKEN,		/* never logged in, or logged out */
	OAUTH_VALID,		/* an access token to send */
	OAUTH_REFRESHING,	/* a refresh grant under way */
	OAUTH_NEEDS_LOGIN,	/* refused, no refresh possible */
	OAUTH_NSTATES
};

const char	*oauth_state_name(enum oauth_state);

/* To the handler. */
struct oauth_cbs {
	/* A new access token after a login (not after a refresh). */
	void	(*logged_in)(void *arg);
};

/* Someone waiting for a refresh (a request that got a 401). */
struct oauth_wait {
	void		(*fn)(void *arg, int ok);
	void		*arg;
	int		 queued;
	struct oauth_wait *next;
};

/* Loads the server's token file if there is one. */
struct oauth	*oauth_new(struct relay *, const struct config_server *,
		    const struct oauth_cbs *, void *cbarg);
void		 oauth_free(struct oauth *);
/* The config moved to a new copy (reload). */
void		 oauth_set_config(struct oauth *, const struct config_server *);
enum oauth_state oauth_state(const struct oauth *);

/* "Bearer ..." for the Authorization header, or NULL; gen is the token's
 * generation, to tell later whether it changed. */
const char	*oauth_authorization(const struct oauth *, unsigned *gen);

/*
 * The server refused a request made with token generation gen (401, or
 * 403 with insufficient_scope) and said www_authenticate (may be NULL).
 * 1: w->fn will be called once a refresh ended (ok: retry the request);
 * 0: nothing to wait for, a login is needed (the state says so) or, for a
 * 403, more scope is (oauth_step_up_message()).
 */
int		 oauth_refused(struct oauth *, int status,
		    const char *www_authenticate, unsigned gen,
		    struct oauth_wait *w);
/* Stop waiting (the request went away).  A no-op when not queued. */
void		 oauth_wait_cancel(struct oauth *, struct oauth_wait *);
/* After a 403 insufficient_scope: what a client is told (into buf);
 * returns 1 when a login would ask for more scope, 0 when the step-up
 * limit is reached. */
int		 oauth_step_up_message(const struct oauth *, char *buf,
		    size_t len);

/*
 * Start an interactive login: discovery, registration, the loopback
 * listener; its progress goes out as "auth" events (phase authorize with
 * the URL, then done or failed).  -1 with err when one is under way.
 */
int		 oauth_login(struct oauth *, char *err, size_t errlen);
/* Revoke (RFC 7009, when advertised) and delete the tokens. */
void		 oauth_logout(struct oauth *);

/* For stats and the control socket: state, scopes, expiry; never a
 * secret.  New object. */
struct json_object *oauth_status_json(const struct oauth *);

/* ---- exposed for the unit tests ------------------------------------------ */

/* A parameter of a WWW-Authenticate challenge, or NULL (new string). */
char		*oauth_challenge_param(const char *header, const char *name);
/* The PRM well-known URLs for a resource URL, in the spec's order. */
size_t		 oauth_prm_urls(const char *resource, char **out, size_t max);
/* The AS metadata URLs for an issuer, in the spec's order. */
size_t		 oauth_asm_urls(const char *issuer, char **out, size_t max);
/* base64url(SHA-256(verifier)) into out (44 bytes at least). */
void		 oauth_s256(const char *verifier, char *out, size_t len);
/* Is the PRM's resource the server URL or a prefix of it (same origin)? */
int		 oauth_resource_ok(const char *prm_resource,
		    const char *server_url);
/* The issuer check of RFC 8414 3.3 and RFC 9207. */
int		 oauth_issuer_equal(const char *a, const char *b);

#endif
