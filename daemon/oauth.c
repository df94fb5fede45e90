/*
 * The OAuth 2.1 client of one remote server (see oauth.h): a login is a
 * chain of HTTP exchanges (PRM, AS metadata, registration) then a loopback
 * listener for the browser's redirect and the code exchange; a refresh is
 * one token request that every request refused meanwhile waits for.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/buffer.h>
#include <json-c/json.h>

#include "bytes.h"
#include "compat-queue.h"
#include "config.h"
#include "events.h"
#include "http-client.h"
#include "log.h"
#include "oauth.h"
#include "relay.h"
#include "sha256.h"
#include "stats.h"
#include "xmalloc.h"

#ifndef MCPRELAY_STATE_DIR
#define MCPRELAY_STATE_DIR	"/var/lib/mcprelay"
#endif
#define OAUTH_MAX_URLS		4
#define OAUTH_HTTP_TIMEOUT	30.0
#define OAUTH_CLIENT_NAME	"mcprelayd"

static const char *const oauth_state_names[] = {
	[OAUTH_NO_TOKEN] = "no_token",
	[OAUTH_VALID] = "valid",
	[OAUTH_REFRESHING] = "refreshing",
	[OAUTH_NEEDS_LOGIN] = "needs_login",
};

/* The steps of a login, in order. */
enum oauth_step {
	OAUTH_STEP_NONE,
	OAUTH_STEP_PRM,		/* protected resource metadata */
	OAUTH_STEP_ASM,		/* authorization server metadata */
	OAUTH_STEP_REGISTER,	/* dynamic client registration */
	OAUTH_STEP_BROWSER,	/* waiting for the redirect */
	OAUTH_STEP_CODE,	/* exchanging the code */
	OAUTH_STEP_REFRESH,	/* a refresh grant (not a login) */
	OAUTH_STEP_REVOKE,	/* RFC 7009 after a logout */
	OAUTH_STEP_CLIENT,	/* a client_credentials grant */
};

/* What discovery found; cleared at each login. */
struct oauth_meta {
	char		*resource;		/* canonical resource URI */
	char		*issuer;
	char		*authorization_endpoint;
	char		*registration_endpoint;
	char		*token_endpoint;
	char		*revocation_endpoint;
	struct json_object *as_scopes;		/* scopes_supported or NULL */
	struct json_object *prm_scopes;
	struct json_object *auth_methods;	/* token_endpoint_auth_... */
	int		 iss_supported;
	int		 cimd_supported;
};

/* What the token file holds. */
struct oauth_tokens {
	char	*issuer;
	char	*token_endpoint;
	char	*revocation_endpoint;
	char	*resource;
	char	*client_id;
	char	*client_secret;
	char	*auth_method;
	char	*redirect_uri;
	char	*access_token;
	char	*refresh_token;
	char	*scope;
	double	 expires_at;	/* epoch; 0: unknown */
};

struct oauth {
	struct relay			*relay;
	const struct config_server	*cfg;
	char				*name;
	char				*path;		/* token file */
	const struct oauth_cbs		*cbs;
	void				*cbarg;

	enum oauth_state		 state;
	struct oauth_tokens		 tok;
	char				*bearer;	/* "Bearer ..." */
	unsigned			 gen;
	struct event			*ev_refresh;	/* before expiry */

	/* The last challenge. */
	char				*resource_metadata;
	char				*challenge_scope;
	char				*step_up_scope;	/* wanted, union */
	int				 step_ups;	/* logins for it */

	/* The exchange under way (one at a time). */
	enum oauth_step			 step;
	struct http_client		*client;
	struct http_request		*req;
	struct http_client		*old_client;
	struct event			*ev_reap;
	char				*urls[OAUTH_MAX_URLS];
	size_t				 nurls, iurl;
	struct oauth_meta		 meta;
	struct oauth_wait		*waiters;

	/* The login's browser side. */
	struct evhttp			*listener;
	struct evhttp			*old_listener;
	struct event			*ev_login;	/* its timeout */
	char				*redirect_uri;
	char				*verifier;
	char				*state_param;
	char				*scope;		/* requested */
	int				 login_registered; /* by DCR now */
};

static void	oauth_fetch_done_cb(struct http_request *,
		    const struct http_result *, void *);
static void	oauth_next(struct oauth *, const struct http_result *);
static void	oauth_refresh_start(struct oauth *);

static const struct http_request_cbs oauth_fetch_cbs = {
	NULL, NULL, oauth_fetch_done_cb
};

/* No person in the loop: the client's own credentials get the tokens. */
static int
oauth_is_cc(const struct oauth *o)
{
	return o->cfg->auth.grant == CONFIG_GRANT_CLIENT_CREDENTIALS;
}

const char *
oauth_state_name(enum oauth_state s)
{
	return (unsigned)s < OAUTH_NSTATES ? oauth_state_names[s] : "unknown";
}

/* ---- small helpers -------------------------------------------------------- */

static void
oauth_wipe(char **s)
{
	if (*s != NULL) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static void
oauth_set(char **dst, const char *src)
{
	oauth_wipe(dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

static const char *
oauth_jstr(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *
oauth_jarray(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static int
oauth_jarray_has(struct json_object *a, const char *s)
{
	size_t	i;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(a, i)), s) == 0)
			return 1;
	return 0;
}

static void
oauth_b64url(const unsigned char *in, size_t n, char *out, size_t len)
{
	char	 buf[128];
	size_t	 i, j;

	if (n > 90 || len < BYTES_BASE64_SIZE(n)) {
		*out = '\0';
		return;
	}
	bytes_base64(in, n, buf, sizeof buf);
	for (i = j = 0; buf[i] != '\0' && buf[i] != '='; i++)
		out[j++] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : buf[i];
	out[j] = '\0';
}

static char *
oauth_random(size_t bytes)
{
	unsigned char	r[64];
	char		out[96];

	if (bytes > sizeof r)
		fatalx("%s: %zu bytes", __func__, bytes);
	if (bytes_random(r, bytes) == -1)
		fatal("%s: random bytes", __func__);
	oauth_b64url(r, bytes, out, sizeof out);
	explicit_bzero(r, sizeof r);
	return xstrdup(out);
}

void
oauth_s256(const char *verifier, char *out, size_t len)
{
	uint8_t	md[SHA256_LEN];

	sha256(verifier, strlen(verifier), md);
	oauth_b64url(md, sizeof md, out, len);
}

/* Appends "&k=v" (or "k=v" first), percent-encoded. */
static void
oauth_form_add(struct evbuffer *b, const char *k, const char *v)
{
	char	*e;

	if (v == NULL)
		return;
	e = evhttp_uriencode(v, -1, 0);
	evbuffer_add_printf(b, "%s%s=%s", evbuffer_get_length(b) > 0 ?
	    "&" : "", k, e != NULL ? e : "");
	free(e);
}

static char *
oauth_form_take(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

char *
oauth_challenge_param(const char *h, const char *name)
{
	size_t		 n = strlen(name);
	const char	*p, *q;
	char		*v;
	size_t		 i;

	if (h == NULL)
		return NULL;
	for (p = h; (p = strcasestr(p, name)) != NULL; p += n) {
		if (p != h && p[-1] != ' ' && p[-1] != ',' && p[-1] != '\t')
			continue;
		q = p + n;
		while (*q == ' ')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ')
			q++;
		if (*q == '"') {
			v = xmalloc(strlen(q));
			for (i = 0, q++; *q != '\0' && *q != '"'; q++) {
				if (*q == '\\' && q[1] != '\0')
					q++;
				v[i++] = *q;
			}
			v[i] = '\0';
		} else {
			v = xstrdup(q);
			v[strcspn(v, " ,\t")] = '\0';
		}
		return v;
	}
	return NULL;
}

/* "scheme://host[:port]" and the path of url ("" for "/"). */
static int
oauth_split(const char *url, char **origin, char **path)
{
	const char	*p, *s;

	if ((p = strstr(url, "://")) == NULL)
		return -1;
	s = strchr(p + 3, '/');
	if (s == NULL)
		s = p + 3 + strcspn(p + 3, "?#");
	*origin = xstrndup(url, (size_t)(s - url));
	*path = xstrndup(s, strcspn(s, "?#"));
	if (strcmp(*path, "/") == 0)
		(*path)[0] = '\0';
	else if ((*path)[0] != '\0' && (*path)[strlen(*path) - 1] == '/')
		(*path)[strlen(*path) - 1] = '\0';
	return 0;
}

size_t
oauth_prm_urls(const char *resource, char **out, size_t max)
{
	char	*origin, *path;
	size_t	 n = 0;

	if (max < 2 || oauth_split(resource, &origin, &path) == -1)
		return 0;
	if (*path != '\0')
		xasprintf(&out[n++], "%s/.well-known/oauth-protected-resource%s",
		    origin, path);
	xasprintf(&out[n++], "%s/.well-known/oauth-protected-resource",
	    origin);
	free(origin);
	free(path);
	return n;
}

size_t
oauth_asm_urls(const char *issuer, char **out, size_t max)
{
	char	*origin, *path;
	size_t	 n = 0;

	if (max < 3 || oauth_split(issuer, &origin, &path) == -1)
		return 0;
	if (*path != '\0') {
		xasprintf(&out[n++],
		    "%s/.well-known/oauth-authorization-server%s", origin, path);
		xasprintf(&out[n++], "%s/.well-known/openid-configuration%s",
		    origin, path);
		xasprintf(&out[n++], "%s%s/.well-known/openid-configuration",
		    origin, path);
	} else {
		xasprintf(&out[n++], "%s/.well-known/oauth-authorization-server",
		    origin);
		xasprintf(&out[n++], "%s/.well-known/openid-configuration",
		    origin);
	}
	free(origin);
	free(path);
	return n;
}

int
oauth_resource_ok(const char *prm, const char *url)
{
	char	*po, *pp, *uo, *up;
	int	 ok;
	size_t	 n;

	if (oauth_split(prm, &po, &pp) == -1)
		return 0;
	if (oauth_split(url, &uo, &up) == -1) {
		free(po);
		free(pp);
		return 0;
	}
	n = strlen(pp);
	ok = strcasecmp(po, uo) == 0 && strncmp(pp, up, n) == 0 &&
	    (up[n] == '\0' || up[n] == '/');
	free(po);
	free(pp);
	free(uo);
	free(up);
	return ok;
}

int
oauth_issuer_equal(const char *a, const char *b)
{
	/* RFC 8414 3.3 and RFC 9207 2.4: simple string comparison. */
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* ---- the token file ------------------------------------------------------- */

static void
oauth_tokens_clear(struct oauth_tokens *t)
{
	oauth_wipe(&t->issuer);
	oauth_wipe(&t->token_endpoint);
	oauth_wipe(&t->revocation_endpoint);
	oauth_wipe(&t->resource);
	oauth_wipe(&t->client_id);
	oauth_wipe(&t->client_secret);
	oauth_wipe(&t->auth_method);
	oauth_wipe(&t->redirect_uri);
	oauth_wipe(&t->access_token);
	oauth_wipe(&t->refresh_token);
	oauth_wipe(&t->scope);
	t->expires_at = 0;
}

/* The default: the state directory (systemd's StateDirectory=, else
 * $XDG_STATE_HOME/mcprelay, else ~/.local/state/mcprelay, root's
 * /var/lib/mcprelay), oauth/NAME.json. */
static char *
oauth_default_path(const char *name)
{
	const char	*d;
	char		*p;

	if ((d = getenv("STATE_DIRECTORY")) != NULL && *d != '\0')
		xasprintf(&p, "%.*s/oauth/%s.json", (int)strcspn(d, ":"), d,
		    name);
	else if (geteuid() == 0)
		xasprintf(&p, "%s/oauth/%s.json", MCPRELAY_STATE_DIR, name);
	else if ((d = getenv("XDG_STATE_HOME")) != NULL && *d == '/')
		xasprintf(&p, "%s/mcprelay/oauth/%s.json", d, name);
	else if ((d = getenv("HOME")) != NULL && *d == '/')
		xasprintf(&p, "%s/.local/state/mcprelay/oauth/%s.json", d,
		    name);
	else
		xasprintf(&p, "/tmp/mcprelay-%ld/oauth/%s.json",
		    (long)geteuid(), name);
	return p;
}

/* mkdir -p of path's folders, mode 0700. */
static int
oauth_mkdirs(const char *path)
{
	char	*p = xstrdup(path), *s;

	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

static void
oauth_jadd(struct json_object *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_object_add(o, k, json_object_new_string(v));
}

/* Written to a temporary file, synced and renamed: never half a file. */
static int
oauth_save(struct oauth *o)
{
	struct oauth_tokens	*t = &o->tok;
	struct json_object	*j;
	const char		*text;
	char			*tmp;
	size_t			 len;
	int			 fd, rc = -1;

	j = json_object_new_object();
	oauth_jadd(j, "issuer", t->issuer);
	oauth_jadd(j, "token_endpoint", t->token_endpoint);
	oauth_jadd(j, "revocation_endpoint", t->revocation_endpoint);
	oauth_jadd(j, "resource", t->resource);
	oauth_jadd(j, "client_id", t->client_id);
	oauth_jadd(j, "client_secret", t->client_secret);
	oauth_jadd(j, "token_endpoint_auth_method", t->auth_method);
	oauth_jadd(j, "redirect_uri", t->redirect_uri);
	oauth_jadd(j, "access_token", t->access_token);
	oauth_jadd(j, "refresh_token", t->refresh_token);
	oauth_jadd(j, "scope", t->scope);
	if (t->expires_at > 0)
		json_object_object_add(j, "expires_at",
		    json_object_new_int64((int64_t)t->expires_at));
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
	len = strlen(text);
	xasprintf(&tmp, "%s.tmp", o->path);
	if (oauth_mkdirs(o->path) == -1)
		log_warn("server %s: cannot create the folder of %s", o->name,
		    o->path);
	else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		log_warn("server %s: cannot write %s", o->name, tmp);
	else {
		if (fchmod(fd, 0600) == 0 && write(fd, text, len) ==
		    (ssize_t)len && fsync(fd) == 0 && close(fd) == 0 &&
		    rename(tmp, o->path) == 0)
			rc = 0;
		else {
			log_warn("server %s: cannot write %s", o->name,
			    o->path);
			close(fd);
			unlink(tmp);
		}
	}
	explicit_bzero((char *)text, len);
	json_object_put(j);
	free(tmp);
	return rc;
}

static void
oauth_load(struct oauth *o)
{
	struct oauth_tokens	*t = &o->tok;
	struct json_object	*j, *v;
	char			 buf[65536];
	ssize_t			 n;
	int			 fd;

	if ((fd = open(o->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("server %s: cannot read %s", o->name, o->path);
		return;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		log_warnx("server %s: %s is empty", o->name, o->path);
		return;
	}
	buf[n] = '\0';
	j = json_tokener_parse(buf);
	explicit_bzero(buf, (size_t)n);
	if (j == NULL || !json_object_is_type(j, json_type_object)) {
		log_warnx("server %s: %s is not JSON; ignoring it", o->name,
		    o->path);
		json_object_put(j);
		return;
	}
	oauth_set(&t->issuer, oauth_jstr(j, "issuer"));
	oauth_set(&t->token_endpoint, oauth_jstr(j, "token_endpoint"));
	oauth_set(&t->revocation_endpoint, oauth_jstr(j,
	    "revocation_endpoint"));
	oauth_set(&t->resource, oauth_jstr(j, "resource"));
	oauth_set(&t->client_id, oauth_jstr(j, "client_id"));
	oauth_set(&t->client_secret, oauth_jstr(j, "client_secret"));
	oauth_set(&t->auth_method, oauth_jstr(j,
	    "token_endpoint_auth_method"));
	oauth_set(&t->redirect_uri, oauth_jstr(j, "redirect_uri"));
	oauth_set(&t->access_token, oauth_jstr(j, "access_token"));
	oauth_set(&t->refresh_token, oauth_jstr(j, "refresh_token"));
	oauth_set(&t->scope, oauth_jstr(j, "scope"));
	if (json_object_object_get_ex(j, "expires_at", &v))
		t->expires_at = (double)json_object_get_int64(v);
	json_object_put(j);
}

/* ---- state ---------------------------------------------------------------- */

static void
oauth_set_state(struct oauth *o, enum oauth_state next, const char *why)
{
	if (o->state != next)
		log_info("server %s: oauth %s -> %s%s%s", o->name,
		    oauth_state_name(o->state), oauth_state_name(next),
		    why != NULL ? ": " : "", why != NULL ? why : "");
	o->state = next;
	if (next == OAUTH_NEEDS_LOGIN) {
		char	msg[512];

		snprintf(msg, sizeof msg, "server %s needs authorization%s%s%s:"
		    " run 'mcprelayctl login %s'", o->name, why != NULL ?
		    " (" : "", why != NULL ? why : "", why != NULL ? ")" : "",
		    o->name);
		events_auth(o->relay->events, o->name, "needs_auth", msg, NULL);
	}
}

/* Arm the refresh timer from the token's expiry. */
static void
oauth_schedule_refresh(struct oauth *o)
{
	struct timeval	tv;
	double		left, lifetime, wait;

	evtimer_del(o->ev_refresh);
	if ((o->tok.refresh_token == NULL && !oauth_is_cc(o)) ||
	    o->tok.expires_at <= 0)
		return;
	left = o->tok.expires_at - stats_wallclock();
	lifetime = left;
	wait = lifetime > 4 * OAUTH_REFRESH_MARGIN ?
	    left - OAUTH_REFRESH_MARGIN : left * 0.75;
	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(o->ev_refresh, &tv);
}

static void
oauth_use_tokens(struct oauth *o)
{
	free(o->bearer);
	o->bearer = NULL;
	if (o->tok.access_token != NULL) {
		xasprintf(&o->bearer, "Bearer %s", o->tok.access_token);
		o->gen++;
		oauth_set_state(o, OAUTH_VALID, NULL);
	}
	oauth_schedule_refresh(o);
}

static void
oauth_refresh_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth	*o = arg;

	if (o->step == OAUTH_STEP_NONE && o->state == OAUTH_VALID)
		oauth_refresh_start(o);
}

static void
oauth_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth	*o = arg;

	http_client_free(o->old_client);
	o->old_client = NULL;
	if (o->old_listener != NULL)
		evhttp_free(o->old_listener);
	o->old_listener = NULL;
}

static void
oauth_login_timeout_cb(evutil_socket_t, short, void *);

struct oauth *
oauth_new(struct relay *relay, const struct config_server *cfg,
    const struct oauth_cbs *cbs, void *cbarg)
{
	struct oauth	*o;

	o = xcalloc(1, sizeof *o);
	o->relay = relay;
	o->cfg = cfg;
	o->name = xstrdup(cfg->name);
	o->cbs = cbs;
	o->cbarg = cbarg;
	o->path = cfg->auth.token_file != NULL ?
	    xstrdup(cfg->auth.token_file) : oauth_default_path(cfg->name);
	o->ev_refresh = evtimer_new(relay->base, oauth_refresh_timer_cb, o);
	o->ev_reap = evtimer_new(relay->base, oauth_reap_cb, o);
	o->ev_login = evtimer_new(relay->base, oauth_login_timeout_cb, o);
	oauth_load(o);
	/* A token of another URL (the config changed) is not sent there. */
	if (o->tok.resource != NULL && !oauth_resource_ok(o->tok.resource,
	    cfg->url)) {
		log_warnx("server %s: the tokens in %s are for %s, not %s: "
		    "ignoring them", o->name, o->path, o->tok.resource,
		    cfg->url);
		oauth_tokens_clear(&o->tok);
	}
	oauth_use_tokens(o);
	return o;
}

static void
oauth_meta_clear(struct oauth_meta *m)
{
	free(m->resource);
	free(m->issuer);
	free(m->authorization_endpoint);
	free(m->registration_endpoint);
	free(m->token_endpoint);
	free(m->revocation_endpoint);
	json_object_put(m->as_scopes);
	json_object_put(m->prm_scopes);
	json_object_put(m->auth_methods);
	memset(m, 0, sizeof *m);
}

static void
oauth_urls_clear(struct oauth *o)
{
	size_t	i;

	for (i = 0; i < o->nurls; i++)
		free(o->urls[i]);
	o->nurls = o->iurl = 0;
}

static void
oauth_fail_waiters(struct oauth *o, int ok)
{
	struct oauth_wait	*w;

	while ((w = o->waiters) != NULL) {
		o->waiters = w->next;
		w->queued = 0;
		w->next = NULL;
		w->fn(w->arg, ok);
	}
}

/* End the exchange and the browser side of a login. */
static void
oauth_stop(struct oauth *o)
{
	struct timeval	tv = { 1, 0 };

	if (o->req != NULL)
		http_request_cancel(o->req);
	o->req = NULL;
	http_client_free(o->client);
	o->client = NULL;
	if (o->listener != NULL) {
		/* Not from inside its own callback: later. */
		if (o->old_listener != NULL)
			evhttp_free(o->old_listener);
		o->old_listener = o->listener;
		o->listener = NULL;
		evtimer_add(o->ev_reap, &tv);
	}
	evtimer_del(o->ev_login);
	o->step = OAUTH_STEP_NONE;
	oauth_urls_clear(o);
	oauth_wipe(&o->verifier);
	oauth_wipe(&o->state_param);
	free(o->redirect_uri);
	o->redirect_uri = NULL;
	free(o->scope);
	o->scope = NULL;
}

void
oauth_free(struct oauth *o)
{
	if (o == NULL)
		return;
	oauth_stop(o);
	oauth_fail_waiters(o, 0);
	oauth_reap_cb(-1, 0, o);
	event_free(o->ev_refresh);
	event_free(o->ev_reap);
	event_free(o->ev_login);
	oauth_meta_clear(&o->meta);
	oauth_tokens_clear(&o->tok);
	oauth_wipe(&o->bearer);
	free(o->resource_metadata);
	free(o->challenge_scope);
	free(o->step_up_scope);
	free(o->path);
	free(o->name);
	free(o);
}

void
oauth_set_config(struct oauth *o, const struct config_server *cfg)
{
	o->cfg = cfg;
}

enum oauth_state
oauth_state(const struct oauth *o)
{
	return o->state;
}

const char *
oauth_authorization(const struct oauth *o, unsigned *gen)
{
	if (gen != NULL)
		*gen = o->gen;
	return o->state == OAUTH_VALID || o->state == OAUTH_REFRESHING ?
	    o->bearer : NULL;
}

/* ---- HTTP exchanges ------------------------------------------------------- */

/* One request to an absolute URL; the answer comes to oauth_next(). */
static int
oauth_fetch(struct oauth *o, const char *method, const char *url,
    const char *form, const char *authorization)
{
	struct http_client_config	 cfg;
	struct http_url			 u;
	const char			*why;
	char				 err[256], name[160];
	struct timeval			 now = { 0, 0 };

	if (http_url_parse(url, &u, &why) == -1) {
		log_warnx("server %s: oauth: bad URL %s: %s", o->name, url,
		    why);
		return -1;
	}
	if (!u.tls && strcmp(u.host, "127.0.0.1") != 0 &&
	    strcmp(u.host, "localhost") != 0 && strcmp(u.host, "::1") != 0) {
		/* OAuth 2.1: every endpoint but loopback is https. */
		log_warnx("server %s: oauth: refusing %s: not https", o->name,
		    url);
		http_url_clear(&u);
		return -1;
	}
	if (o->client != NULL) {
		/* Maybe from inside its own callback: freed from the loop. */
		http_client_free(o->old_client);
		o->old_client = o->client;
		o->client = NULL;
		evtimer_add(o->ev_reap, &now);
	}
	memset(&cfg, 0, sizeof cfg);
	snprintf(name, sizeof name, "server %s (oauth)", o->name);
	cfg.name = name;
	cfg.tls = u.tls;
	cfg.host = u.host;
	cfg.port = u.port;
	cfg.tls_config.verify = o->cfg->tls.verify;
	cfg.tls_config.ca_file = o->cfg->tls.ca_file;
	cfg.tls_config.min_version = 2;
	cfg.connect_timeout = o->cfg->connect_timeout > 0 ?
	    o->cfg->connect_timeout : 10.0;
	cfg.max_body = 1024 * 1024;
	if ((o->client = http_client_new(o->relay->base, &cfg, err,
	    sizeof err)) == NULL) {
		log_warnx("server %s: oauth: %s", o->name, err);
		http_url_clear(&u);
		return -1;
	}
	o->req = http_request_new(o->client, method, u.target,
	    &oauth_fetch_cbs, o);
	http_request_add_header(o->req, "Accept", "application/json");
	if (authorization != NULL)
		http_request_add_header(o->req, "Authorization", authorization);
	if (form != NULL)
		http_request_set_body(o->req, strncmp(form, "{", 1) == 0 ?
		    "application/json" : "application/x-www-form-urlencoded",
		    form, strlen(form));
	http_request_set_timeout(o->req, OAUTH_HTTP_TIMEOUT);
	http_url_clear(&u);
	log_debug("server %s: oauth: %s %s", o->name, method, url);
	http_request_start(o->req);
	return 0;
}

static void
oauth_fetch_done_cb(struct http_request *req, const struct http_result *res,
    void *arg)
{
	struct oauth	*o = arg;

	o->req = NULL;
	oauth_next(o, res);
}

/* A JSON object body of a 2xx, or NULL. */
static struct json_object *
oauth_json_body(const struct http_result *res)
{
	struct json_object	*j;

	if (res->error != HTTP_ERR_NONE || res->response == NULL ||
	    res->response->status < 200 || res->response->status >= 300)
		return NULL;
	if ((j = json_tokener_parse(res->body)) != NULL &&
	    !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		j = NULL;
	}
	return j;
}

/* ---- the login ------------------------------------------------------------ */

static void
oauth_login_failed(struct oauth *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
oauth_login_failed(struct oauth *o, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_warnx("server %s: login failed: %s", o->name, msg);
	oauth_stop(o);
	events_auth(o->relay->events, o->name, "failed", msg, NULL);
	/* Requests that met a 401 meanwhile wait no longer. */
	oauth_fail_waiters(o, 0);
}

static void
oauth_try_next_url(struct oauth *o)
{
	while (o->iurl < o->nurls) {
		if (oauth_fetch(o, "GET", o->urls[o->iurl++], NULL, NULL) == 0)
			return;
	}
	if (o->step == OAUTH_STEP_PRM)
		oauth_login_failed(o, "no protected resource metadata found "
		    "for %s", o->cfg->url);
	else
		oauth_login_failed(o, "no authorization server metadata "
		    "found for %s", o->meta.issuer);
}

static void
oauth_discover_prm(struct oauth *o)
{
	o->step = OAUTH_STEP_PRM;
	oauth_urls_clear(o);
	if (o->resource_metadata != NULL)
		o->urls[o->nurls++] = xstrdup(o->resource_metadata);
	o->nurls += oauth_prm_urls(o->cfg->url, o->urls + o->nurls,
	    OAUTH_MAX_URLS - o->nurls);
	oauth_try_next_url(o);
}

static void
oauth_discover_asm(struct oauth *o)
{
	o->step = OAUTH_STEP_ASM;
	oauth_urls_clear(o);
	o->nurls = oauth_asm_urls(o->meta.issuer, o->urls, OAUTH_MAX_URLS);
	oauth_try_next_url(o);
}

static int
oauth_got_prm(struct oauth *o, struct json_object *j)
{
	struct json_object	*as;
	const char		*res = oauth_jstr(j, "resource");

	as = oauth_jarray(j, "authorization_servers");
	if (as == NULL || json_object_array_length(as) == 0 ||
	    !json_object_is_type(json_object_array_get_idx(as, 0),
	    json_type_string)) {
		oauth_login_failed(o, "the protected resource metadata names "
		    "no authorization server");
		return -1;
	}
	/* RFC 9728 3.3: the resource must be the server's. */
	if (res != NULL && !oauth_resource_ok(res, o->cfg->url)) {
		oauth_login_failed(o, "the protected resource metadata is for "
		    "%s, not for %s", res, o->cfg->url);
		return -1;
	}
	o->meta.resource = xstrdup(res != NULL ? res : o->cfg->url);
	o->meta.issuer = xstrdup(json_object_get_string(
	    json_object_array_get_idx(as, 0)));
	o->meta.prm_scopes = json_object_get(oauth_jarray(j,
	    "scopes_supported"));
	return 0;
}

static int
oauth_got_asm(struct oauth *o, struct json_object *j)
{
	struct oauth_meta	*m = &o->meta;
	struct json_object	*v, *pkce;

	if (!oauth_issuer_equal(oauth_jstr(j, "issuer"), m->issuer)) {
		oauth_login_failed(o, "the authorization server metadata says "
		    "issuer '%s', not '%s' (RFC 8414 3.3)",
		    oauth_jstr(j, "issuer") != NULL ? oauth_jstr(j, "issuer") :
		    "(none)", m->issuer);
		return -1;
	}
	pkce = oauth_jarray(j, "code_challenge_methods_supported");
	if (!oauth_jarray_has(pkce, "S256")) {
		oauth_login_failed(o, "the authorization server does not "
		    "advertise PKCE S256 (code_challenge_methods_supported)");
		return -1;
	}
	if (oauth_jstr(j, "authorization_endpoint") == NULL ||
	    oauth_jstr(j, "token_endpoint") == NULL) {
		oauth_login_failed(o, "the authorization server metadata lacks "
		    "authorization_endpoint or token_endpoint");
		return -1;
	}
	m->authorization_endpoint = xstrdup(oauth_jstr(j,
	    "authorization_endpoint"));
	m->token_endpoint = xstrdup(oauth_jstr(j, "token_endpoint"));
	if (oauth_jstr(j, "registration_endpoint") != NULL)
		m->registration_endpoint = xstrdup(oauth_jstr(j,
		    "registration_endpoint"));
	if (oauth_jstr(j, "revocation_endpoint") != NULL)
		m->revocation_endpoint = xstrdup(oauth_jstr(j,
		    "revocation_endpoint"));
	m->as_scopes = json_object_get(oauth_jarray(j, "scopes_supported"));
	m->auth_methods = json_object_get(oauth_jarray(j,
	    "token_endpoint_auth_methods_supported"));
	m->iss_supported = json_object_object_get_ex(j,
	    "authorization_response_iss_parameter_supported", &v) &&
	    json_object_get_boolean(v);
	m->cimd_supported = json_object_object_get_ex(j,
	    "client_id_metadata_document_supported", &v) &&
	    json_object_get_boolean(v);
	return 0;
}

/* Reads auth.client_secret_file; NULL if none or unreadable (logged). */
static char *
oauth_read_secret(struct oauth *o)
{
	char	buf[1024];
	ssize_t	n;
	int	fd;

	if (o->cfg->auth.client_secret_file == NULL)
		return NULL;
	if ((fd = open(o->cfg->auth.client_secret_file, O_RDONLY |
	    O_CLOEXEC)) == -1) {
		log_warn("server %s: cannot read auth.client_secret_file %s",
		    o->name, o->cfg->auth.client_secret_file);
		return NULL;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

static void oauth_authorize(struct oauth *);
static void oauth_publish_url(struct oauth *);
static char *oauth_pick_scope(struct oauth *);
static int oauth_token_request(struct oauth *, const char *, const char *);

/* Registration, in the spec's order of preference. */
static void
oauth_register(struct oauth *o)
{
	struct json_object	*j, *a;
	struct oauth_tokens	*t = &o->tok;
	char			*secret;
	const char		*body;

	o->login_registered = 0;
	if (oauth_is_cc(o)) {
		oauth_set(&t->client_id, o->cfg->auth.client_id);
		secret = oauth_read_secret(o);
		oauth_set(&t->client_secret, secret);
		oauth_wipe(&secret);
		oauth_set(&t->auth_method, NULL);
		oauth_set(&t->issuer, o->meta.issuer);
		free(o->scope);
		o->scope = oauth_pick_scope(o);
		o->step = OAUTH_STEP_CLIENT;
		if (t->client_secret == NULL)
			oauth_login_failed(o, "auth.client_secret_file cannot "
			    "be read");
		else if (oauth_token_request(o, "client_credentials",
		    NULL) == -1)
			oauth_login_failed(o, "cannot reach the token "
			    "endpoint");
		return;
	}
	if (o->cfg->auth.client_id != NULL) {
		oauth_set(&t->client_id, o->cfg->auth.client_id);
		secret = oauth_read_secret(o);
		oauth_set(&t->client_secret, secret);
		oauth_wipe(&secret);
		oauth_set(&t->auth_method, NULL);
		oauth_set(&t->issuer, o->meta.issuer);
		oauth_authorize(o);
		return;
	}
	if (o->meta.cimd_supported && o->cfg->auth.client_metadata_url !=
	    NULL) {
		oauth_set(&t->client_id, o->cfg->auth.client_metadata_url);
		oauth_set(&t->client_secret, NULL);
		oauth_set(&t->auth_method, "none");
		oauth_set(&t->issuer, o->meta.issuer);
		oauth_authorize(o);
		return;
	}
	/* Credentials are bound to the server that issued them. */
	if (t->client_id != NULL && oauth_issuer_equal(t->issuer,
	    o->meta.issuer) && t->redirect_uri != NULL) {
		oauth_authorize(o);
		return;
	}
	if (o->meta.registration_endpoint == NULL) {
		oauth_login_failed(o, "the authorization server offers no "
		    "dynamic client registration: set auth.client_id%s",
		    o->meta.cimd_supported ? " or auth.client_metadata_url" :
		    "");
		return;
	}
	oauth_set(&t->client_id, NULL);
	oauth_set(&t->client_secret, NULL);
	oauth_set(&t->redirect_uri, NULL);
	oauth_set(&t->issuer, o->meta.issuer);
	/* The listener first: its URI goes into the registration. */
	o->login_registered = 1;
	oauth_authorize(o);
	if (o->listener == NULL)
		return;
	o->step = OAUTH_STEP_REGISTER;
	j = json_object_new_object();
	oauth_jadd(j, "client_name", OAUTH_CLIENT_NAME);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(o->redirect_uri));
	json_object_object_add(j, "redirect_uris", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("authorization_code"));
	json_object_array_add(a, json_object_new_string("refresh_token"));
	json_object_object_add(j, "grant_types", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("code"));
	json_object_object_add(j, "response_types", a);
	oauth_jadd(j, "token_endpoint_auth_method", "none");
	oauth_jadd(j, "application_type", "native");
	if (o->scope != NULL)
		oauth_jadd(j, "scope", o->scope);
	body = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (oauth_fetch(o, "POST", o->meta.registration_endpoint, body,
	    NULL) == -1)
		oauth_login_failed(o, "cannot reach the registration endpoint");
	json_object_put(j);
}

static int
oauth_got_registration(struct oauth *o, struct json_object *j)
{
	struct oauth_tokens	*t = &o->tok;

	if (oauth_jstr(j, "client_id") == NULL) {
		oauth_login_failed(o, "the registration answer has no "
		    "client_id");
		return -1;
	}
	oauth_set(&t->client_id, oauth_jstr(j, "client_id"));
	oauth_set(&t->client_secret, oauth_jstr(j, "client_secret"));
	oauth_set(&t->auth_method, oauth_jstr(j,
	    "token_endpoint_auth_method"));
	oauth_set(&t->redirect_uri, o->redirect_uri);
	return 0;
}

/* Space-separated words of b that a lacks, appended to a. */
static void
oauth_scope_union(char **a, const char *b)
{
	char	*copy, *w, *save = NULL, *n;
	size_t	 len;

	if (b == NULL)
		return;
	copy = xstrdup(b);
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		len = strlen(w);
		if (*a != NULL) {
			const char	*p = *a;
			int		 found = 0;

			while ((p = strstr(p, w)) != NULL) {
				if ((p == *a || p[-1] == ' ') &&
				    (p[len] == ' ' || p[len] == '\0')) {
					found = 1;
					break;
				}
				p += len;
			}
			if (found)
				continue;
			xasprintf(&n, "%s %s", *a, w);
			free(*a);
			*a = n;
		} else
			*a = xstrdup(w);
	}
	free(copy);
}

/* Scope: the config's, else the challenge's, else the PRM's; plus what a
 * step-up asked; plus offline_access when the AS offers it. */
static char *
oauth_pick_scope(struct oauth *o)
{
	char	*s = NULL;
	size_t	 i;

	for (i = 0; i < o->cfg->auth.nscopes; i++)
		oauth_scope_union(&s, o->cfg->auth.scopes[i]);
	if (s == NULL && o->challenge_scope != NULL)
		oauth_scope_union(&s, o->challenge_scope);
	if (s == NULL && o->meta.prm_scopes != NULL)
		for (i = 0; i < json_object_array_length(o->meta.prm_scopes);
		    i++)
			oauth_scope_union(&s, json_object_get_string(
			    json_object_array_get_idx(o->meta.prm_scopes, i)));
	if (o->step_up_scope != NULL) {
		/* SEP-2350: what was granted before, and what is wanted. */
		oauth_scope_union(&s, o->tok.scope);
		oauth_scope_union(&s, o->step_up_scope);
	}
	if (s != NULL && oauth_jarray_has(o->meta.as_scopes, "offline_access"))
		oauth_scope_union(&s, "offline_access");
	return s;
}

static void oauth_callback_cb(struct evhttp_request *, void *);

/* Bind the loopback listener (the stored redirect's port first). */
static int
oauth_listen(struct oauth *o)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof sin;
	int				 port = o->cfg->auth.redirect_port;
	const char			*p;

	if (port == 0 && !o->login_registered && o->tok.redirect_uri != NULL &&
	    (p = strstr(o->tok.redirect_uri, "127.0.0.1:")) != NULL)
		port = atoi(p + 10);
	if ((o->listener = evhttp_new(o->relay->base)) == NULL)
		fatalx("%s: evhttp_new", __func__);
	evhttp_set_gencb(o->listener, oauth_callback_cb, o);
	evhttp_set_allowed_methods(o->listener, EVHTTP_REQ_GET);
	bs = evhttp_bind_socket_with_handle(o->listener, "127.0.0.1",
	    (ev_uint16_t)port);
	if (bs == NULL && port != 0 && o->cfg->auth.redirect_port == 0) {
		/* The registered port is taken: register again. */
		o->login_registered = 1;
		bs = evhttp_bind_socket_with_handle(o->listener, "127.0.0.1",
		    0);
	}
	if (bs == NULL || getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &slen) == -1) {
		evhttp_free(o->listener);
		o->listener = NULL;
		return -1;
	}
	free(o->redirect_uri);
	xasprintf(&o->redirect_uri, "http://127.0.0.1:%d/callback",
	    ntohs(sin.sin_port));
	return 0;
}

/* Set up PKCE, state and the listener; DCR may follow, then the URL. */
static void
oauth_authorize(struct oauth *o)
{
	int	registering = o->login_registered;

	free(o->scope);
	o->scope = oauth_pick_scope(o);
	if (oauth_listen(o) == -1) {
		oauth_login_failed(o, "cannot listen on 127.0.0.1:%d for the "
		    "redirect: %s", o->cfg->auth.redirect_port,
		    strerror(errno));
		return;
	}
	if (o->login_registered && !registering) {
		/* The stored registration's port is gone: register anew. */
		oauth_set(&o->tok.client_id, NULL);
		if (o->meta.registration_endpoint == NULL) {
			oauth_login_failed(o, "the registered redirect port is "
			    "taken and the server offers no registration");
			return;
		}
		evhttp_free(o->listener);
		o->listener = NULL;
		oauth_register(o);
		return;
	}
	o->verifier = oauth_random(48);
	o->state_param = oauth_random(24);
	if (!registering)
		oauth_publish_url(o);
}

/* Registration done (or not needed): publish the authorization URL. */
static void
oauth_publish_url(struct oauth *o)
{
	struct evbuffer		*b = evbuffer_new();
	struct json_object	*f;
	char			 challenge[64], *q, *url;
	struct timeval		 tv;

	oauth_s256(o->verifier, challenge, sizeof challenge);
	oauth_form_add(b, "response_type", "code");
	oauth_form_add(b, "client_id", o->tok.client_id);
	oauth_form_add(b, "redirect_uri", o->redirect_uri);
	oauth_form_add(b, "code_challenge", challenge);
	oauth_form_add(b, "code_challenge_method", "S256");
	oauth_form_add(b, "state", o->state_param);
	oauth_form_add(b, "resource", o->meta.resource);
	oauth_form_add(b, "scope", o->scope);
	q = oauth_form_take(b);
	xasprintf(&url, "%s%s%s", o->meta.authorization_endpoint,
	    strchr(o->meta.authorization_endpoint, '?') != NULL ? "&" : "?",
	    q);
	free(q);
	o->step = OAUTH_STEP_BROWSER;
	tv.tv_sec = (time_t)OAUTH_LOGIN_TIMEOUT;
	tv.tv_usec = 0;
	evtimer_add(o->ev_login, &tv);
	log_info("server %s: login: waiting for the browser's redirect to %s",
	    o->name, o->redirect_uri);
	f = json_object_new_object();
	oauth_jadd(f, "url", url);
	oauth_jadd(f, "redirectUri", o->redirect_uri);
	if (o->scope != NULL)
		oauth_jadd(f, "scope", o->scope);
	events_auth(o->relay->events, o->name, "authorize", NULL, f);
	free(url);
}

static void
oauth_login_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth	*o = arg;

	if (o->step == OAUTH_STEP_BROWSER)
		oauth_login_failed(o, "no redirect from the browser within "
		    "%.0f s", OAUTH_LOGIN_TIMEOUT);
}

/* The token endpoint's client authentication, into the form or header. */
static char *
oauth_client_auth(struct oauth *o, struct evbuffer *form)
{
	struct oauth_tokens	*t = &o->tok;
	const char		*m = t->auth_method;
	char			*pair, *idenc, *secenc, *h = NULL;
	char			 b64[1024];
	size_t			 n;

	if (t->client_secret == NULL) {
		oauth_form_add(form, "client_id", t->client_id);
		return NULL;
	}
	if (m == NULL || (strcmp(m, "client_secret_basic") != 0 &&
	    strcmp(m, "client_secret_post") != 0)) {
		/* What the server offers; basic is RFC 8414's default. */
		m = o->meta.auth_methods == NULL || oauth_jarray_has(
		    o->meta.auth_methods, "client_secret_basic") ?
		    "client_secret_basic" : oauth_jarray_has(
		    o->meta.auth_methods, "client_secret_post") ?
		    "client_secret_post" : "client_secret_basic";
	}
	if (strcmp(m, "client_secret_post") == 0) {
		oauth_form_add(form, "client_id", t->client_id);
		oauth_form_add(form, "client_secret", t->client_secret);
		return NULL;
	}
	/* RFC 6749 2.3.1: each part form-encoded first. */
	idenc = evhttp_uriencode(t->client_id, -1, 1);
	secenc = evhttp_uriencode(t->client_secret, -1, 1);
	xasprintf(&pair, "%s:%s", idenc, secenc);
	n = strlen(pair);
	if (n < 700) {
		bytes_base64(pair, n, b64, sizeof b64);
		xasprintf(&h, "Basic %s", b64);
		explicit_bzero(b64, sizeof b64);
	}
	oauth_wipe(&pair);
	oauth_wipe(&secenc);
	free(idenc);
	return h;
}

static int
oauth_token_request(struct oauth *o, const char *grant, const char *code)
{
	struct evbuffer	*b = evbuffer_new();
	char		*form, *auth;
	int		 rc;

	int		 fresh = code != NULL || o->step == OAUTH_STEP_CLIENT;

	oauth_form_add(b, "grant_type", grant);
	if (code != NULL) {
		oauth_form_add(b, "code", code);
		oauth_form_add(b, "redirect_uri", o->redirect_uri);
		oauth_form_add(b, "code_verifier", o->verifier);
	} else if (o->step == OAUTH_STEP_CLIENT)
		oauth_form_add(b, "scope", o->scope);
	else
		oauth_form_add(b, "refresh_token", o->tok.refresh_token);
	/* After discovery its findings; for a refresh what was stored. */
	oauth_form_add(b, "resource", fresh && o->meta.resource != NULL ?
	    o->meta.resource : o->tok.resource);
	auth = oauth_client_auth(o, b);
	form = oauth_form_take(b);
	rc = oauth_fetch(o, "POST", fresh && o->meta.token_endpoint != NULL ?
	    o->meta.token_endpoint : o->tok.token_endpoint, form, auth);
	oauth_wipe(&form);
	oauth_wipe(&auth);
	return rc;
}

static void
oauth_reply_page(struct evhttp_request *req, int code, const char *text)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_add_printf(b, "<!doctype html><title>mcprelayd</title>"
	    "<p>%s</p>\n", text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/html; charset=utf-8");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Bad Request", b);
	evbuffer_free(b);
}

static int
oauth_same_secret(const char *a, const char *b)
{
	size_t	n = strlen(a);

	return n == strlen(b) && bytes_equal(a, b, n);
}

/* The browser's redirect: check state and iss before the code goes out. */
static void
oauth_callback_cb(struct evhttp_request *req, void *arg)
{
	struct oauth		*o = arg;
	struct evkeyvalq	 q;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path, *query, *code, *state, *iss, *err;

	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || strcmp(path, "/callback") != 0 ||
	    o->step != OAUTH_STEP_BROWSER) {
		evhttp_send_error(req, 404, NULL);
		return;
	}
	TAILQ_INIT(&q);
	query = evhttp_uri_get_query(uri);
	if (query == NULL || evhttp_parse_query_str(query, &q) == -1) {
		oauth_reply_page(req, 400, "No authorization response.");
		evhttp_clear_headers(&q);
		return;
	}
	code = evhttp_find_header(&q, "code");
	state = evhttp_find_header(&q, "state");
	iss = evhttp_find_header(&q, "iss");
	err = evhttp_find_header(&q, "error");
	if (state == NULL || !oauth_same_secret(state, o->state_param)) {
		oauth_reply_page(req, 400, "Login refused: the state does not "
		    "match.");
		oauth_login_failed(o, "the redirect's state does not match the "
		    "request's: refused");
	} else if ((o->meta.iss_supported && iss == NULL) ||
	    (iss != NULL && !oauth_issuer_equal(iss, o->meta.issuer))) {
		/* RFC 9207: a mix-up attack, or a broken server. */
		oauth_reply_page(req, 400, "Login refused: wrong issuer.");
		oauth_login_failed(o, "the redirect's iss is '%s', expected "
		    "'%s' (RFC 9207): refused", iss != NULL ? iss : "(none)",
		    o->meta.issuer);
	} else if (err != NULL || code == NULL) {
		oauth_reply_page(req, 400, "Login failed.");
		oauth_login_failed(o, "the authorization server answered "
		    "%s%s%s", err != NULL ? err : "no code",
		    evhttp_find_header(&q, "error_description") != NULL ?
		    ": " : "", evhttp_find_header(&q, "error_description") !=
		    NULL ? evhttp_find_header(&q, "error_description") : "");
	} else {
		evtimer_del(o->ev_login);
		o->step = OAUTH_STEP_CODE;
		oauth_reply_page(req, 200, "mcprelayd is logged in. You can "
		    "close this window.");
		if (oauth_token_request(o, "authorization_code", code) == -1)
			oauth_login_failed(o, "cannot reach the token "
			    "endpoint");
	}
	evhttp_clear_headers(&q);
}

/* A token response: keep it.  -1 with msg when it is not one. */
static int
oauth_got_tokens(struct oauth *o, struct json_object *j, char *msg,
    size_t len)
{
	struct oauth_tokens	*t = &o->tok;
	struct json_object	*v;
	const char		*type = oauth_jstr(j, "token_type");

	if (oauth_jstr(j, "access_token") == NULL) {
		snprintf(msg, len, "no access_token in the token response");
		return -1;
	}
	if (type != NULL && strcasecmp(type, "Bearer") != 0) {
		snprintf(msg, len, "token_type %s is not supported", type);
		return -1;
	}
	oauth_set(&t->access_token, oauth_jstr(j, "access_token"));
	if (oauth_jstr(j, "refresh_token") != NULL)
		oauth_set(&t->refresh_token, oauth_jstr(j, "refresh_token"));
	if (oauth_jstr(j, "scope") != NULL)
		oauth_set(&t->scope, oauth_jstr(j, "scope"));
	else if (o->step == OAUTH_STEP_CODE || o->step == OAUTH_STEP_CLIENT)
		oauth_set(&t->scope, o->scope);
	t->expires_at = json_object_object_get_ex(j, "expires_in", &v) &&
	    json_object_get_int64(v) > 0 ? (double)(int64_t)stats_wallclock() +
	    (double)json_object_get_int64(v) : 0;
	if ((o->step == OAUTH_STEP_CODE || o->step == OAUTH_STEP_CLIENT) &&
	    o->meta.token_endpoint != NULL) {
		oauth_set(&t->token_endpoint, o->meta.token_endpoint);
		oauth_set(&t->revocation_endpoint, o->meta.revocation_endpoint);
		oauth_set(&t->resource, o->meta.resource);
		oauth_set(&t->issuer, o->meta.issuer);
	}
	oauth_save(o);
	oauth_use_tokens(o);
	return 0;
}

static struct json_object *
oauth_done_fields(struct oauth *o)
{
	struct json_object	*f = json_object_new_object();

	oauth_jadd(f, "scope", o->tok.scope);
	if (o->tok.expires_at > 0)
		json_object_object_add(f, "expiresAt",
		    json_object_new_int64((int64_t)o->tok.expires_at));
	return f;
}

/* What an exchange's failure says, for messages. */
static void
oauth_describe(const struct http_result *res, char *buf, size_t len)
{
	struct json_object	*j;

	if (res->error != HTTP_ERR_NONE || res->response == NULL) {
		snprintf(buf, len, "%s", res->detail);
		return;
	}
	j = json_tokener_parse(res->body);
	snprintf(buf, len, "HTTP %d%s%s%s%s", res->response->status,
	    oauth_jstr(j, "error") != NULL ? " " : "",
	    oauth_jstr(j, "error") != NULL ? oauth_jstr(j, "error") : "",
	    oauth_jstr(j, "error_description") != NULL ? ": " : "",
	    oauth_jstr(j, "error_description") != NULL ?
	    oauth_jstr(j, "error_description") : "");
	json_object_put(j);
}

static void
oauth_refresh_done(struct oauth *o, const struct http_result *res)
{
	struct json_object	*j = oauth_json_body(res);
	char			 msg[512];
	int			 status = res->response != NULL ?
				    res->response->status : 0;

	o->step = OAUTH_STEP_NONE;
	if (j != NULL && oauth_got_tokens(o, j, msg, sizeof msg) == 0) {
		log_info("server %s: access token refreshed", o->name);
		events_auth(o->relay->events, o->name, "refreshed", NULL,
		    oauth_done_fields(o));
		json_object_put(j);
		oauth_fail_waiters(o, 1);
		return;
	}
	json_object_put(j);
	oauth_describe(res, msg, sizeof msg);
	if (status >= 400 && status < 500) {
		/* invalid_grant and the like: only a login helps. */
		oauth_wipe(&o->tok.access_token);
		oauth_wipe(&o->tok.refresh_token);
		oauth_wipe(&o->bearer);
		o->tok.expires_at = 0;
		oauth_save(o);
		evtimer_del(o->ev_refresh);
		oauth_set_state(o, OAUTH_NEEDS_LOGIN, "the refresh token was "
		    "refused");
		log_warnx("server %s: refresh refused: %s", o->name, msg);
	} else {
		log_warnx("server %s: refresh failed: %s", o->name, msg);
		oauth_set_state(o, OAUTH_VALID, NULL);
	}
	oauth_fail_waiters(o, 0);
}

/* The next step of the exchange chain; res NULL: start it. */
static void
oauth_next(struct oauth *o, const struct http_result *res)
{
	struct json_object	*j;
	char			 msg[512];

	if (o->step == OAUTH_STEP_REFRESH) {
		oauth_refresh_done(o, res);
		return;
	}
	if (o->step == OAUTH_STEP_REVOKE) {
		oauth_describe(res, msg, sizeof msg);
		if (res->error == HTTP_ERR_NONE && res->response->status == 200)
			log_info("server %s: token revoked", o->name);
		else
			log_warnx("server %s: token revocation failed: %s",
			    o->name, msg);
		o->step = OAUTH_STEP_NONE;
		return;
	}
	j = res != NULL ? oauth_json_body(res) : NULL;
	switch (o->step) {
	case OAUTH_STEP_PRM:
		if (j == NULL) {
			oauth_try_next_url(o);
			break;
		}
		if (oauth_got_prm(o, j) == 0)
			oauth_discover_asm(o);
		break;
	case OAUTH_STEP_ASM:
		if (j == NULL) {
			oauth_try_next_url(o);
			break;
		}
		if (oauth_got_asm(o, j) == 0)
			oauth_register(o);
		break;
	case OAUTH_STEP_REGISTER:
		if (res == NULL) {
			oauth_publish_url(o);
			break;
		}
		if (j == NULL) {
			oauth_describe(res, msg, sizeof msg);
			oauth_login_failed(o, "dynamic client registration "
			    "failed: %s", msg);
			break;
		}
		if (oauth_got_registration(o, j) == 0)
			oauth_publish_url(o);
		break;
	case OAUTH_STEP_NONE:
	case OAUTH_STEP_BROWSER:
		break;
	case OAUTH_STEP_CODE:
	case OAUTH_STEP_CLIENT:
		if (j == NULL) {
			oauth_describe(res, msg, sizeof msg);
			/* Refused credentials need the operator; a server
			 * that cannot be reached is retried by the handler. */
			if (o->step == OAUTH_STEP_CLIENT &&
			    res->response != NULL &&
			    res->response->status >= 400 &&
			    res->response->status < 500)
				oauth_set_state(o, OAUTH_NEEDS_LOGIN,
				    "the client credentials were refused");
			oauth_login_failed(o, "the token request failed: %s",
			    msg);
			break;
		}
		if (oauth_got_tokens(o, j, msg, sizeof msg) == -1) {
			oauth_login_failed(o, "%s", msg);
			break;
		}
		log_info("server %s: logged in%s%s", o->name, o->tok.scope !=
		    NULL ? ", scope " : "", o->tok.scope != NULL ?
		    o->tok.scope : "");
		oauth_stop(o);
		events_auth(o->relay->events, o->name, "done", NULL,
		    oauth_done_fields(o));
		oauth_fail_waiters(o, 1);
		if (o->cbs->logged_in != NULL)
			o->cbs->logged_in(o->cbarg);
		break;
	case OAUTH_STEP_REFRESH:
	case OAUTH_STEP_REVOKE:
		break;
	}
	json_object_put(j);
}

int
oauth_login(struct oauth *o, char *err, size_t errlen)
{
	if (o->step != OAUTH_STEP_NONE && o->step != OAUTH_STEP_REFRESH &&
	    o->step != OAUTH_STEP_BROWSER && o->step != OAUTH_STEP_REVOKE) {
		snprintf(err, errlen, "a login of server '%s' is under way",
		    o->name);
		return -1;
	}
	/* A new login replaces one waiting for its browser. */
	oauth_stop(o);
	oauth_fail_waiters(o, 0);
	if (o->step_up_scope != NULL)
		o->step_ups++;
	oauth_meta_clear(&o->meta);
	log_info("server %s: login started", o->name);
	oauth_discover_prm(o);
	return 0;
}

/* ---- refresh and refusals ------------------------------------------------- */

static void
oauth_refresh_start(struct oauth *o)
{
	if (oauth_is_cc(o) && o->tok.refresh_token == NULL) {
		/* A new grant; discovery first when nothing is known. */
		if (o->tok.token_endpoint == NULL) {
			oauth_meta_clear(&o->meta);
			oauth_discover_prm(o);
			return;
		}
		free(o->scope);
		o->scope = oauth_pick_scope(o);
		o->step = OAUTH_STEP_CLIENT;
		if (oauth_token_request(o, "client_credentials", NULL) == -1) {
			o->step = OAUTH_STEP_NONE;
			oauth_set_state(o, OAUTH_NEEDS_LOGIN, "the token endpoint "
			    "cannot be reached");
			oauth_fail_waiters(o, 0);
		}
		return;
	}
	if (o->tok.refresh_token == NULL || o->tok.token_endpoint == NULL) {
		oauth_set_state(o, OAUTH_NEEDS_LOGIN, "the access token was "
		    "refused and there is no refresh token");
		oauth_fail_waiters(o, 0);
		return;
	}
	oauth_set_state(o, OAUTH_REFRESHING, NULL);
	o->step = OAUTH_STEP_REFRESH;
	log_debug("server %s: refreshing the access token", o->name);
	if (oauth_token_request(o, "refresh_token", NULL) == -1) {
		o->step = OAUTH_STEP_NONE;
		oauth_set_state(o, OAUTH_VALID, NULL);
		oauth_fail_waiters(o, 0);
	}
}

int
oauth_refused(struct oauth *o, int status, const char *hdr, unsigned gen,
    struct oauth_wait *w)
{
	char	*rm, *scope, *error;

	rm = oauth_challenge_param(hdr, "resource_metadata");
	scope = oauth_challenge_param(hdr, "scope");
	error = oauth_challenge_param(hdr, "error");
	if (rm != NULL) {
		free(o->resource_metadata);
		o->resource_metadata = rm;
	}
	if (status == 403) {
		/* Step-up: only a new authorization gives more scope. */
		if (error != NULL && strcmp(error, "insufficient_scope") == 0 &&
		    scope != NULL) {
			if (o->step_up_scope == NULL ||
			    strcmp(o->step_up_scope, scope) != 0) {
				free(o->step_up_scope);
				o->step_up_scope = xstrdup(scope);
				o->step_ups = 0;
			}
		}
		free(scope);
		free(error);
		return 0;
	}
	if (scope != NULL) {
		free(o->challenge_scope);
		o->challenge_scope = scope;
	}
	free(error);
	if (gen != o->gen && o->bearer != NULL && o->state == OAUTH_VALID) {
		/* Refreshed since that request left: just send it again. */
		w->queued = 0;
		w->fn(w->arg, 1);
		return 1;
	}
	if (oauth_is_cc(o)) {
		/* No person needed: get a token now, then send again. */
		w->next = o->waiters;
		w->queued = 1;
		o->waiters = w;
		if (o->step == OAUTH_STEP_NONE)
			oauth_refresh_start(o);
		return 1;
	}
	if (o->state == OAUTH_NO_TOKEN || o->state == OAUTH_NEEDS_LOGIN ||
	    o->tok.refresh_token == NULL) {
		if (o->state != OAUTH_NEEDS_LOGIN)
			oauth_set_state(o, OAUTH_NEEDS_LOGIN, o->bearer ==
			    NULL ? "not logged in" : "the access token was "
			    "refused and there is no refresh token");
		return 0;
	}
	w->next = o->waiters;
	w->queued = 1;
	o->waiters = w;
	if (o->step == OAUTH_STEP_NONE)
		oauth_refresh_start(o);
	return 1;
}

void
oauth_wait_cancel(struct oauth *o, struct oauth_wait *w)
{
	struct oauth_wait	**p;

	if (o == NULL || !w->queued)
		return;
	for (p = &o->waiters; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	w->queued = 0;
	w->next = NULL;
}

int
oauth_step_up_message(const struct oauth *o, char *buf, size_t len)
{
	if (o->step_up_scope == NULL) {
		snprintf(buf, len, "server '%s' refused the request: "
		    "insufficient scope", o->name);
		return 0;
	}
	if (o->step_ups >= OAUTH_STEP_UP_LIMIT) {
		snprintf(buf, len, "server '%s' still refuses the request for "
		    "lack of scope '%s' after %d authorizations: giving up",
		    o->name, o->step_up_scope, o->step_ups);
		return 0;
	}
	snprintf(buf, len, "server '%s' needs more authorization (scope "
	    "'%s'): run 'mcprelayctl login %s'", o->name, o->step_up_scope,
	    o->name);
	return 1;
}

/* ---- logout --------------------------------------------------------------- */

void
oauth_logout(struct oauth *o)
{
	struct evbuffer		*b;
	char			*form = NULL, *auth = NULL;
	const char		*token;
	struct json_object	*f;
	int			 revoking = 0;

	oauth_stop(o);
	oauth_fail_waiters(o, 0);
	token = o->tok.refresh_token != NULL ? o->tok.refresh_token :
	    o->tok.access_token;
	if (o->tok.revocation_endpoint != NULL && token != NULL) {
		/* RFC 7009: the refresh token, which takes its access tokens
		 * with it.  The answer is only logged. */
		b = evbuffer_new();
		oauth_form_add(b, "token", token);
		oauth_form_add(b, "token_type_hint", o->tok.refresh_token !=
		    NULL ? "refresh_token" : "access_token");
		auth = oauth_client_auth(o, b);
		form = oauth_form_take(b);
		o->step = OAUTH_STEP_REVOKE;
		if (oauth_fetch(o, "POST", o->tok.revocation_endpoint, form,
		    auth) == 0)
			revoking = 1;
		else
			o->step = OAUTH_STEP_NONE;
		oauth_wipe(&form);
		oauth_wipe(&auth);
	}
	oauth_tokens_clear(&o->tok);
	oauth_wipe(&o->bearer);
	evtimer_del(o->ev_refresh);
	if (unlink(o->path) == -1 && errno != ENOENT)
		log_warn("server %s: cannot delete %s", o->name, o->path);
	free(o->step_up_scope);
	o->step_up_scope = NULL;
	o->step_ups = 0;
	oauth_set_state(o, OAUTH_NO_TOKEN, "logged out");
	log_info("server %s: logged out%s", o->name, revoking ?
	    "; revoking the token" : "");
	f = json_object_new_object();
	json_object_object_add(f, "revoking",
	    json_object_new_boolean(revoking));
	events_auth(o->relay->events, o->name, "logout", NULL, f);
}

struct json_object *
oauth_status_json(const struct oauth *o)
{
	struct json_object	*j = json_object_new_object();

	json_object_object_add(j, "state", json_object_new_string(
	    o->step != OAUTH_STEP_NONE && o->step != OAUTH_STEP_REFRESH &&
	    o->step != OAUTH_STEP_REVOKE ?
	    "login" : oauth_state_name(o->state)));
	oauth_jadd(j, "issuer", o->tok.issuer);
	oauth_jadd(j, "scope", o->tok.scope);
	if (o->tok.expires_at > 0)
		json_object_object_add(j, "expiresAt",
		    json_object_new_int64((int64_t)o->tok.expires_at));
	json_object_object_add(j, "refreshable",
	    json_object_new_boolean(o->tok.refresh_token != NULL));
	oauth_jadd(j, "tokenFile", o->path);
	return j;
}
