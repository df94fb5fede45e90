/*
 * Access rules compiled from the configuration, the bearer tokens file,
 * and the audit of refusals.  Names are resolved when the config is
 * applied (start, reload), never while a client waits; a group's members
 * are taken from the user database then too, since a TCP peer comes with
 * a uid only.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "access.h"
#include "bytes.h"
#include "config.h"
#include "errors.h"
#include "jsonrpc.h"
#include "log.h"
#include "peer.h"
#include "sha256.h"
#include "sockfile.h"
#include "xmalloc.h"

#define ACCESS_DIGEST_LEN	SHA256_LEN
#define ACCESS_LOG_RING		256	/* (connection, server) pairs logged */

struct access_rule {
	uid_t		*uids;
	size_t		 nuids;
	gid_t		*gids;
	size_t		 ngids;
	uid_t		*members;	/* users of gids, user database */
	size_t		 nmembers;
	char		**tokens;	/* names; any token when all_tokens */
	size_t		 ntokens;
	int		 all_tokens;
};

struct access_server {
	char			*name;
	struct access_rule	 rule;
};

struct access_token {
	char		name[ACCESS_NAME_MAX];
	unsigned char	digest[ACCESS_DIGEST_LEN];
};

struct access_count {
	char		name[ACCESS_NAME_MAX + 16];
	uint64_t	n;
};

struct access {
	uid_t			 self;
	char			*config_name;
	struct peer_diag	*diag;
	char			 diag_error[256];
	struct access_rule	 global;
	struct access_server	*servers;
	size_t			 nservers;

	char			*tokens_file;	/* NULL: tokens off */
	struct access_token	*tokens;
	size_t			 ntokens;
	char			 tokens_error[512]; /* "" when usable */

	uint64_t		 next_conn;
	struct {
		uint64_t	 conn;
		uint32_t	 server;
	}			 logged[ACCESS_LOG_RING];
	unsigned		 logged_next;
	uint64_t		 refused;
	uint64_t		 lookups;	/* sock_diag, TCP peers */
	uint64_t		 lookup_failures;
	uint64_t		 lookup_ns;	/* total time in them */
	uint64_t		 lookup_max_ns;
	struct access_count	 by_user[ACCESS_MAX_USERS + 1]; /* + other */
	size_t			 nusers;
};

struct access *
access_new(void)
{
	struct access	*acc;
	char		 err[256];

	acc = xcalloc(1, sizeof *acc);
	acc->self = geteuid();
	if ((acc->diag = peer_diag_new(err, sizeof err)) == NULL) {
		snprintf(acc->diag_error, sizeof acc->diag_error, "%s", err);
		log_warnx("access: %s; TCP clients cannot be identified and "
		    "will be refused unless they present a token", err);
	}
	return acc;
}

static void
access_rule_clear(struct access_rule *r)
{
	size_t	i;

	free(r->uids);
	free(r->gids);
	free(r->members);
	for (i = 0; i < r->ntokens; i++)
		free(r->tokens[i]);
	free(r->tokens);
	memset(r, 0, sizeof *r);
}

/* The digests are derived from secrets: wiped, not just freed. */
static void
access_tokens_drop(struct access *acc)
{
	if (acc->tokens != NULL)
		explicit_bzero(acc->tokens,
		    acc->ntokens * sizeof *acc->tokens);
	free(acc->tokens);
	acc->tokens = NULL;
	acc->ntokens = 0;
}

static void
access_clear(struct access *acc)
{
	size_t	i;

	access_rule_clear(&acc->global);
	for (i = 0; i < acc->nservers; i++) {
		free(acc->servers[i].name);
		access_rule_clear(&acc->servers[i].rule);
	}
	free(acc->servers);
	acc->servers = NULL;
	acc->nservers = 0;
	access_tokens_drop(acc);
	free(acc->tokens_file);
	acc->tokens_file = NULL;
	acc->tokens_error[0] = '\0';
	free(acc->config_name);
	acc->config_name = NULL;
}

void
access_free(struct access *acc)
{
	if (acc == NULL)
		return;
	access_clear(acc);
	peer_diag_free(acc->diag);
	free(acc);
}

uint64_t
access_next_conn(struct access *acc)
{
	return ++acc->next_conn;
}

/* ---- compiling the rules ----------------------------------------------- */

static int
access_parse_id(const char *s, unsigned long *id)
{
	char	*end;

	if (*s == '\0' || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static void
access_add_uid(uid_t **v, size_t *n, uid_t uid)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		if ((*v)[i] == uid)
			return;
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = uid;
}

static void
access_rule_users(struct access_rule *r, char **users, size_t n)
{
	struct passwd	*pw;
	unsigned long	 id;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (access_parse_id(users[i], &id) == 0)
			access_add_uid(&r->uids, &r->nuids, (uid_t)id);
		else if ((pw = getpwnam(users[i])) != NULL)
			access_add_uid(&r->uids, &r->nuids, pw->pw_uid);
		else
			log_warnx("access: user '%s' is no longer in the user "
			    "database; ignored", users[i]);
	}
}

static int
access_has_gid(const struct access_rule *r, gid_t gid)
{
	size_t	i;

	for (i = 0; i < r->ngids; i++)
		if (r->gids[i] == gid)
			return 1;
	return 0;
}

/* Members by the group file and by their primary group. */
static void
access_rule_groups(struct access_rule *r, char **groups, size_t n)
{
	struct group	*gr;
	struct passwd	*pw;
	unsigned long	 id;
	size_t		 i, j;

	for (i = 0; i < n; i++) {
		if (access_parse_id(groups[i], &id) == 0)
			gr = getgrgid((gid_t)id);
		else if ((gr = getgrnam(groups[i])) == NULL) {
			log_warnx("access: group '%s' is no longer in the "
			    "group database; ignored", groups[i]);
			continue;
		} else
			id = gr->gr_gid;
		if (access_has_gid(r, (gid_t)id))
			continue;
		r->gids = xreallocarray(r->gids, r->ngids + 1,
		    sizeof *r->gids);
		r->gids[r->ngids++] = (gid_t)id;
		if (gr == NULL)
			continue;
		for (j = 0; gr->gr_mem != NULL && gr->gr_mem[j] != NULL;
		    j++) {
			/* gr points into static storage getpwnam may not
			 * touch (a separate database). */
			if ((pw = getpwnam(gr->gr_mem[j])) != NULL)
				access_add_uid(&r->members, &r->nmembers,
				    pw->pw_uid);
		}
	}
	if (r->ngids == 0)
		return;
	setpwent();
	while ((pw = getpwent()) != NULL)
		if (access_has_gid(r, pw->pw_gid))
			access_add_uid(&r->members, &r->nmembers, pw->pw_uid);
	endpwent();
}

static void
access_rule_compile(struct access_rule *r, char **users, size_t nusers,
    char **groups, size_t ngroups, char **tokens, size_t ntokens)
{
	size_t	i;

	access_rule_users(r, users, nusers);
	access_rule_groups(r, groups, ngroups);
	r->tokens = xcalloc(ntokens + 1, sizeof *r->tokens);
	for (i = 0; i < ntokens; i++)
		r->tokens[r->ntokens++] = xstrdup(tokens[i]);
}

/* ---- the tokens file --------------------------------------------------- */

static void
access_digest(const char *secret, size_t len,
    unsigned char out[ACCESS_DIGEST_LEN])
{
	sha256(secret, len, out);
}

static int
access_token_name_ok(const char *s, size_t n)
{
	return n > 0 && n < ACCESS_NAME_MAX && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "_.-") >= n;
}

static int
access_secret_ok(const char *s, size_t n)
{
	size_t	i;

	if (n < ACCESS_TOKEN_MIN_LEN || n > ACCESS_TOKEN_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* One "NAME SECRET" line (comments and blank lines were skipped). */
static int
access_tokens_line(struct access *acc, char *line, unsigned lineno,
    char *err, size_t errlen)
{
	struct access_token	 t;
	char			*name, *secret, *rest;
	size_t			 i;

	name = line + strspn(line, " \t");
	secret = name + strcspn(name, " \t");
	if (*secret != '\0')
		*secret++ = '\0';
	secret += strspn(secret, " \t");
	rest = secret + strcspn(secret, " \t");
	if (*rest != '\0') {
		*rest++ = '\0';
		rest += strspn(rest, " \t");
	}
	if (!access_token_name_ok(name, strlen(name))) {
		snprintf(err, errlen, "%s:%u: the token name must be 1 to 63 "
		    "of A-Z a-z 0-9 _ . -", acc->tokens_file, lineno);
		return -1;
	}
	if (*secret == '\0' || *rest != '\0') {
		snprintf(err, errlen, "%s:%u: expected \"NAME SECRET\"",
		    acc->tokens_file, lineno);
		return -1;
	}
	if (!access_secret_ok(secret, strlen(secret))) {
		snprintf(err, errlen, "%s:%u: token '%s': the secret must be "
		    "%d to %d printable characters without spaces",
		    acc->tokens_file, lineno, name, ACCESS_TOKEN_MIN_LEN,
		    ACCESS_TOKEN_MAX_LEN);
		return -1;
	}
	memset(&t, 0, sizeof t);
	snprintf(t.name, sizeof t.name, "%s", name);
	access_digest(secret, strlen(secret), t.digest);
	for (i = 0; i < acc->ntokens; i++) {
		if (strcmp(acc->tokens[i].name, t.name) == 0 ||
		    bytes_equal(acc->tokens[i].digest, t.digest,
		    sizeof t.digest)) {
			snprintf(err, errlen, "%s:%u: token '%s' repeats the "
			    "name or the secret of token '%s'",
			    acc->tokens_file, lineno, name,
			    acc->tokens[i].name);
			explicit_bzero(&t, sizeof t);
			return -1;
		}
	}
	acc->tokens = xreallocarray(acc->tokens, acc->ntokens + 1,
	    sizeof *acc->tokens);
	acc->tokens[acc->ntokens++] = t;
	explicit_bzero(&t, sizeof t);
	return 0;
}

static int
access_tokens_parse(struct access *acc, char *text, char *err, size_t errlen)
{
	char		*line, *next, *p;
	unsigned	 lineno = 0;

	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((p = strchr(line, '\r')) != NULL && p[1] == '\0')
			*p = '\0';
		p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (access_tokens_line(acc, p, lineno, err, errlen) == -1)
			return -1;
	}
	if (acc->ntokens == 0) {
		snprintf(err, errlen, "%s: no tokens in the file",
		    acc->tokens_file);
		return -1;
	}
	return 0;
}

/*
 * Read the file like ssh reads a private key: a regular file of the
 * daemon's user (or root) that nobody else may read or write.  O_NONBLOCK
 * so that a FIFO put there cannot stall the loop (config finding L2).
 */
static int
access_tokens_read(struct access *acc, char *err, size_t errlen)
{
	const char	*path = acc->tokens_file;
	struct stat	 st;
	char		*text;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets group or others "
		    "read or write it (chmod 600 %s)", path,
		    (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	if (st.st_uid != acc->self && st.st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %ld, not by the "
		    "daemon's user or root", path, (long)st.st_uid);
		close(fd);
		return -1;
	}
	if (st.st_size > ACCESS_TOKENS_MAX_SIZE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    ACCESS_TOKENS_MAX_SIZE);
		close(fd);
		return -1;
	}
	text = xmalloc(ACCESS_TOKENS_MAX_SIZE + 1);
	while (len < ACCESS_TOKENS_MAX_SIZE &&
	    (n = read(fd, text + len, ACCESS_TOKENS_MAX_SIZE - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: read: %s", path,
			    strerror(errno));
			explicit_bzero(text, len);
			free(text);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		rc = -1;
	} else
		rc = access_tokens_parse(acc, text, err, errlen);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

static void
access_load_tokens(struct access *acc, const char *path)
{
	char	err[512];

	acc->tokens_file = xstrdup(path);
	if (access_tokens_read(acc, err, sizeof err) == 0) {
		log_info("access: %zu bearer token%s from %s", acc->ntokens,
		    acc->ntokens == 1 ? "" : "s", path);
		return;
	}
	access_tokens_drop(acc);
	snprintf(acc->tokens_error, sizeof acc->tokens_error, "%s", err);
	log_errorx("access: tokens file not used, every bearer token is "
	    "refused: %s", err);
}

void
access_apply_config(struct access *acc, const struct config *cfg)
{
	const struct config_server	*cs;
	struct access_server		*as;
	size_t				 i;

	access_clear(acc);
	acc->config_name = xstrdup(cfg->name != NULL ? cfg->name :
	    "the configuration file");
	access_rule_compile(&acc->global, cfg->access.allow_users,
	    cfg->access.nallow_users, cfg->access.allow_groups,
	    cfg->access.nallow_groups, NULL, 0);
	acc->global.all_tokens = 1;
	acc->servers = xcalloc(cfg->nservers + 1, sizeof *acc->servers);
	for (i = 0; i < cfg->nservers; i++) {
		cs = &cfg->servers[i];
		if (!cs->allow.set)
			continue;
		as = &acc->servers[acc->nservers++];
		as->name = xstrdup(cs->name);
		access_rule_compile(&as->rule, cs->allow.users,
		    cs->allow.nusers, cs->allow.groups, cs->allow.ngroups,
		    cs->allow.tokens, cs->allow.ntokens);
	}
	if (cfg->listen.http.tokens_file != NULL)
		access_load_tokens(acc, cfg->listen.http.tokens_file);
}

/* ---- identifying ------------------------------------------------------- */

static void
access_who_init(struct access *acc, struct access_who *who)
{
	memset(who, 0, sizeof *who);
	who->kind = ACCESS_NONE;
	who->uid = (uid_t)-1;
	who->pid = -1;
	who->ngroups = -1;
	who->conn = access_next_conn(acc);
}

int
access_peer_unix(struct access *acc, int fd, struct access_who *who,
    char *errbuf, size_t errlen)
{
	struct sockfile_peer	 peer;
	gid_t			 groups[ACCESS_MAX_GROUPS];
	socklen_t		 len = sizeof groups;
	size_t			 i;

	access_who_init(acc, who);
	if (sockfile_peer(fd, &peer) == -1) {
		snprintf(errbuf, errlen, "the kernel did not give the peer's "
		    "credentials: %s", strerror(errno));
		return -1;
	}
	who->kind = ACCESS_USER;
	who->uid = peer.uid;
	who->pid = peer.pid;
	who->ngroups = 0;
	if (peer.gid != (gid_t)-1)
		who->groups[who->ngroups++] = peer.gid;
#ifdef SO_PEERGROUPS
	/* More groups than fit: ERANGE, and the primary group alone. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		for (i = 0; i < len / sizeof groups[0] &&
		    who->ngroups < ACCESS_MAX_GROUPS; i++)
			who->groups[who->ngroups++] = groups[i];
#else
	(void)groups;
	(void)len;
	(void)i;
#endif
	return 0;
}

int
access_peer_tcp(struct access *acc, int fd, struct access_who *who,
    char *errbuf, size_t errlen)
{
	struct timespec	t0, t1;
	uid_t		uid;
	uint32_t	inode = 0;
	uint64_t	ns;
	int		rc;

	access_who_init(acc, who);
	if (acc->diag == NULL) {
		acc->lookup_failures++;
		snprintf(errbuf, errlen, "%s", acc->diag_error);
		return -1;
	}
	/* Timed: it is what a new connection pays (docs/benchmarks.md). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = peer_tcp_uid(acc->diag, fd, &uid, &inode, errbuf, errlen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000L +
	    (t1.tv_nsec - t0.tv_nsec));
	acc->lookups++;
	acc->lookup_ns += ns;
	if (ns > acc->lookup_max_ns)
		acc->lookup_max_ns = ns;
	if (rc == -1) {
		acc->lookup_failures++;
		return -1;
	}
	who->kind = ACCESS_USER;
	who->uid = uid;
	who->inode = inode;
	return 0;
}

int
access_tokens_configured(const struct access *acc)
{
	return acc->tokens_file != NULL;
}

int
access_token(struct access *acc, const char *auth, struct access_who *who,
    char *errbuf, size_t errlen)
{
	unsigned char	 digest[ACCESS_DIGEST_LEN];
	const char	*secret;
	size_t		 i, len;
	int		 found = -1;

	access_who_init(acc, who);
	if (acc->tokens_error[0] != '\0') {
		snprintf(errbuf, errlen, "bearer tokens are not accepted now: "
		    "the tokens file is unusable (%s)", acc->tokens_error);
		return -1;
	}
	if (strncasecmp(auth, "Bearer ", 7) != 0) {
		snprintf(errbuf, errlen, "the Authorization header is not "
		    "\"Bearer TOKEN\"");
		return -1;
	}
	secret = auth + 7;
	secret += strspn(secret, " ");
	len = strlen(secret);
	while (len > 0 && secret[len - 1] == ' ')
		len--;
	if (!access_secret_ok(secret, len)) {
		snprintf(errbuf, errlen, "the bearer token is malformed");
		return -1;
	}
	access_digest(secret, len, digest);
	/* Every entry is compared, whichever matches. */
	for (i = 0; i < acc->ntokens; i++)
		if (bytes_equal(digest, acc->tokens[i].digest,
		    sizeof digest) && found == -1)
			found = (int)i;
	explicit_bzero(digest, sizeof digest);
	if (found == -1) {
		snprintf(errbuf, errlen, "the bearer token matches no entry "
		    "of listen.http.tokens_file");
		return -1;
	}
	who->kind = ACCESS_TOKEN;
	snprintf(who->token, sizeof who->token, "%s",
	    acc->tokens[found].name);
	return 0;
}

/* ---- deciding ---------------------------------------------------------- */

static int
access_rule_allows(const struct access *acc, const struct access_rule *r,
    const struct access_who *who)
{
	size_t	i;
	int	g;

	switch (who->kind) {
	case ACCESS_TOKEN:
		if (r->all_tokens)
			return 1;
		for (i = 0; i < r->ntokens; i++)
			if (strcmp(r->tokens[i], who->token) == 0)
				return 1;
		return 0;
	case ACCESS_USER:
		/* They own the daemon already: its memory, its config. */
		if (who->uid == 0 || who->uid == acc->self)
			return 1;
		for (i = 0; i < r->nuids; i++)
			if (r->uids[i] == who->uid)
				return 1;
		for (i = 0; i < r->nmembers; i++)
			if (r->members[i] == who->uid)
				return 1;
		for (g = 0; g < who->ngroups; g++)
			if (access_has_gid(r, who->groups[g]))
				return 1;
		return 0;
	default:
		return 0;
	}
}

int
access_allowed(const struct access *acc, const struct access_who *who,
    const char *server)
{
	size_t	i;

	if (!access_rule_allows(acc, &acc->global, who))
		return 0;
	if (server == NULL)
		return 1;
	for (i = 0; i < acc->nservers; i++)
		if (strcmp(acc->servers[i].name, server) == 0)
			return access_rule_allows(acc, &acc->servers[i].rule,
			    who);
	return 1;
}

int
access_same(const struct access_who *a, const struct access_who *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case ACCESS_USER:
		return a->uid == b->uid;
	case ACCESS_TOKEN:
		return strcmp(a->token, b->token) == 0;
	default:
		return 0;
	}
}

/* The name refusals are counted under. */
static void
access_user_key(const struct access_who *who, char *buf, size_t len)
{
	struct passwd	*pw;

	switch (who->kind) {
	case ACCESS_USER:
		if ((pw = getpwuid(who->uid)) != NULL)
			snprintf(buf, len, "%s", pw->pw_name);
		else
			snprintf(buf, len, "uid:%ld", (long)who->uid);
		break;
	case ACCESS_TOKEN:
		snprintf(buf, len, "token:%s", who->token);
		break;
	default:
		snprintf(buf, len, "unidentified");
		break;
	}
}

void
access_describe(const struct access_who *who, char *buf, size_t len)
{
	char	name[ACCESS_NAME_MAX + 16];

	access_user_key(who, name, sizeof name);
	switch (who->kind) {
	case ACCESS_USER:
		snprintf(buf, len, "user '%s' (uid %ld)", name,
		    (long)who->uid);
		break;
	case ACCESS_TOKEN:
		snprintf(buf, len, "token '%s'", who->token);
		break;
	default:
		snprintf(buf, len, "an unidentified client");
		break;
	}
}

/* ---- refusals ---------------------------------------------------------- */

static void
access_count(struct access *acc, const char *key)
{
	size_t	i;

	acc->refused++;
	for (i = 0; i < acc->nusers; i++)
		if (strcmp(acc->by_user[i].name, key) == 0) {
			acc->by_user[i].n++;
			return;
		}
	/* The label set stays bounded: the rest share one "other". */
	if (acc->nusers >= ACCESS_MAX_USERS)
		key = "other";
	for (i = 0; i < acc->nusers; i++)
		if (strcmp(acc->by_user[i].name, key) == 0) {
			acc->by_user[i].n++;
			return;
		}
	snprintf(acc->by_user[acc->nusers].name,
	    sizeof acc->by_user[acc->nusers].name, "%s", key);
	acc->by_user[acc->nusers++].n = 1;
}

static uint32_t
access_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* First refusal of this connection for this server? */
static int
access_first(struct access *acc, uint64_t conn, const char *server)
{
	uint32_t	h = access_hash(server);
	unsigned	i;

	for (i = 0; i < ACCESS_LOG_RING; i++)
		if (acc->logged[i].conn == conn && acc->logged[i].server == h)
			return 0;
	acc->logged[acc->logged_next].conn = conn;
	acc->logged[acc->logged_next].server = h;
	acc->logged_next = (acc->logged_next + 1) % ACCESS_LOG_RING;
	return 1;
}

static void
access_log(const struct access_who *who, const char *key,
    const char *listener, const char *server, const char *why)
{
	char	proc[64 + 32];

	if (who->pid > 0) {
		char	comm[32];

		peer_comm(who->pid, comm, sizeof comm);
		snprintf(proc, sizeof proc, "pid %ld, comm %s",
		    (long)who->pid, comm);
	} else if (who->inode != 0)
		snprintf(proc, sizeof proc, "socket inode %lu",
		    (unsigned long)who->inode);
	else
		snprintf(proc, sizeof proc, "pid unknown");
	if (who->kind == ACCESS_USER)
		log_warnx("access: refused %s (uid %ld, %s) on %s%s%s: %s",
		    key, (long)who->uid, proc, listener,
		    server != NULL ? ", server " : "",
		    server != NULL ? server : "", why);
	else
		log_warnx("access: refused %s (%s) on %s%s%s: %s", key, proc,
		    listener, server != NULL ? ", server " : "",
		    server != NULL ? server : "", why);
}

void
access_audit(struct access *acc, const struct access_who *who,
    const char *listener, const char *server, const char *why)
{
	char	key[ACCESS_NAME_MAX + 16];

	access_user_key(who, key, sizeof key);
	access_count(acc, key);
	if (access_first(acc, who->conn, server))
		access_log(who, key, listener, server, why);
}

struct json_object *
access_refuse(struct access *acc, const struct access_who *who,
    const char *listener, const char *server, const char *reason,
    struct json_object *id)
{
	struct json_object	*data;
	char			 key[ACCESS_NAME_MAX + 16], desc[160];
	char			 msg[2560], why[640];

	if (listener == NULL)
		listener = who->via != NULL ? who->via : "?";
	access_user_key(who, key, sizeof key);
	access_describe(who, desc, sizeof desc);
	if (reason != NULL)
		snprintf(why, sizeof why, "%s", reason);
	else if (server != NULL && who->kind == ACCESS_TOKEN)
		snprintf(why, sizeof why, "not in servers.%s.allow.tokens",
		    server);
	else if (server != NULL)
		snprintf(why, sizeof why, "not in servers.%s.allow (users, "
		    "groups)", server);
	else
		snprintf(why, sizeof why, "not root, not the daemon's user, "
		    "not in access.allow_users and in no group of "
		    "access.allow_groups");
	access_audit(acc, who, listener, server, why);

	if (who->kind == ACCESS_NONE)
		snprintf(msg, sizeof msg, "Forbidden: mcprelayd refuses "
		    "clients it cannot identify: %s.  Connect from a process "
		    "of this host (loopback or the Unix socket)%s", why,
		    acc->tokens_file != NULL ? ", or send \"Authorization: "
		    "Bearer TOKEN\" with a token of listen.http.tokens_file" :
		    "");
	else if (reason != NULL)
		snprintf(msg, sizeof msg, "Forbidden: %s", reason);
	else if (server != NULL)
		snprintf(msg, sizeof msg, "Forbidden: %s may not use server "
		    "'%s' (%s).  To allow it, add %s to servers.%s.allow.%s "
		    "in %s and reload mcprelayd", desc, server, why,
		    who->kind == ACCESS_TOKEN ? who->token : key, server,
		    who->kind == ACCESS_TOKEN ? "tokens" : "users",
		    acc->config_name);
	else
		snprintf(msg, sizeof msg, "Forbidden: %s may not use "
		    "mcprelayd (%s).  To allow it, add '%s' to "
		    "access.allow_users (or one of its groups to "
		    "access.allow_groups) in %s and reload mcprelayd", desc,
		    why, key, acc->config_name);
	data = json_object_new_object();
	json_object_object_add(data, "user", json_object_new_string(key));
	if (who->kind == ACCESS_USER)
		json_object_object_add(data, "uid",
		    json_object_new_int64((int64_t)who->uid));
	json_object_object_add(data, "listener",
	    json_object_new_string(listener));
	if (server != NULL)
		json_object_object_add(data, "server",
		    json_object_new_string(server));
	json_object_object_add(data, "reason", json_object_new_string(why));
	return jsonrpc_error_new(id, RELAY_ERR_FORBIDDEN, msg, data);
}

struct json_object *
access_stats_json(const struct access *acc)
{
	struct json_object	*o, *by;
	char			 buf[600];
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "refused",
	    json_object_new_int64((int64_t)acc->refused));
	by = json_object_new_object();
	for (i = 0; i < acc->nusers; i++)
		json_object_object_add(by, acc->by_user[i].name,
		    json_object_new_int64((int64_t)acc->by_user[i].n));
	json_object_object_add(o, "refusedByUser", by);
	if (acc->tokens_file == NULL)
		snprintf(buf, sizeof buf, "off");
	else if (acc->tokens_error[0] != '\0')
		snprintf(buf, sizeof buf, "unusable: %s", acc->tokens_error);
	else
		snprintf(buf, sizeof buf, "%zu loaded", acc->ntokens);
	json_object_object_add(o, "tokens", json_object_new_string(buf));
	by = json_object_new_object();
	json_object_object_add(by, "count",
	    json_object_new_int64((int64_t)acc->lookups));
	json_object_object_add(by, "failed",
	    json_object_new_int64((int64_t)acc->lookup_failures));
	json_object_object_add(by, "totalMicros",
	    json_object_new_int64((int64_t)(acc->lookup_ns / 1000)));
	json_object_object_add(by, "maxMicros",
	    json_object_new_int64((int64_t)(acc->lookup_max_ns / 1000)));
	json_object_object_add(o, "lookups", by);
	return o;
}
