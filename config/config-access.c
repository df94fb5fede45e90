/*
 * Configuration of who may use the daemon: the access section, per-server
 * allow blocks, and listen.http's long form with its tokens_file.  Names of
 * users and groups are checked against the user database as the file
 * loads, so a typo is a file:line:col error rather than a silent refusal.
 */
#include "autoconf.h"

#include <sys/types.h>

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config-int.h"
#include "xmalloc.h"

static int
cfg_access_numeric(const char *s)
{
	if (*s == '\0' || strlen(s) > 10)
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static const char *
cfg_user_check(const char *s)
{
	if (cfg_access_numeric(s) || getpwnam(s) != NULL)
		return NULL;
	return "unknown user: not in the user database (a numeric uid is "
	    "accepted too)";
}

static const char *
cfg_group_check(const char *s)
{
	if (cfg_access_numeric(s) || getgrnam(s) != NULL)
		return NULL;
	return "unknown group: not in the group database (a numeric gid is "
	    "accepted too)";
}

/* Token names as the tokens file allows them. */
static const char *
cfg_token_name_check(const char *s)
{
	size_t	n = strlen(s);

	if (n == 0 || n > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return "a token name is 1 to 63 of A-Z a-z 0-9 _ . -";
	return NULL;
}

static const struct cfg_check check_user = { cfg_user_check };
static const struct cfg_check check_group = { cfg_group_check };
static const struct cfg_check check_token = { cfg_token_name_check };

const struct cfg_key cfg_access_keys[] = {
	CFG_LIST("allow_users", struct config_access, allow_users,
	    nallow_users, &cfg_t_strlist, &check_user, CFG_NONEMPTY),
	CFG_LIST("allow_groups", struct config_access, allow_groups,
	    nallow_groups, &cfg_t_strlist, &check_group, CFG_NONEMPTY),
	CFG_END
};

const struct cfg_key cfg_allow_keys[] = {
	CFG_LIST("users", struct config_allow, users, nusers, &cfg_t_strlist,
	    &check_user, CFG_NONEMPTY),
	CFG_LIST("groups", struct config_allow, groups, ngroups,
	    &cfg_t_strlist, &check_group, CFG_NONEMPTY),
	CFG_LIST("tokens", struct config_allow, tokens, ntokens,
	    &cfg_t_strlist, &check_token, CFG_NONEMPTY),
	CFG_END
};

/* servers.X.allow: a block whose presence narrows access to the server. */
static int
cfg_set_allow(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	struct config_allow	*a = FIELD(base, k);

	if (!cfg_want_map(L, v, path))
		return -1;
	a->set = true;
	cfg_parse_map(L, kn, v, cfg_allow_keys, a, path);
	return 0;
}

static struct json_object *
cfg_dump_allow(const struct cfg_key *k, const void *base)
{
	const struct config_allow	*a = CFIELD(base, k);

	return a->set ? cfg_dump_keys(cfg_allow_keys, a) : NULL;
}

static void
cfg_free_allow(const struct cfg_key *k, void *base)
{
	cfg_free_keys(cfg_allow_keys, FIELD(base, k));
}

/*
 * Access rules apply to requests as they come and never need the
 * server's connection restarted, so a reload that changes only them keeps
 * the upstream running.
 */
static bool
cfg_equal_allow(const struct cfg_key *k, const void *a, const void *b)
{
	return true;
}

const struct cfg_type cfg_t_allow = {
	cfg_set_allow, cfg_dump_allow, cfg_free_allow, cfg_equal_allow, false
};

/*
 * listen.http: "host:port" as before, or a block with the address and the
 * tokens file.  "address" sets the same struct (offset 0), so its mark is
 * the one the loopback check finds.
 */
static const struct cfg_key http_listen_keys[] = {
	{ "address", &cfg_t_listen, 0, sizeof(struct config_http_listen), 0,
	    NULL, 0 },
	CFG_FIELD("tokens_file", struct config_http_listen, tokens_file,
	    &cfg_t_string, NULL, CFG_NONEMPTY),
	CFG_END
};

static int
cfg_set_http_listen(struct cfg_load *L, const struct cfg_key *k,
    const struct ynode *kn, const struct ynode *v, void *base,
    const char *path)
{
	if (v->kind != YNODE_MAP)
		return cfg_t_listen.set(L, k, kn, v, base, path);
	cfg_parse_map(L, kn, v, http_listen_keys, FIELD(base, k), path);
	return 0;
}

static struct json_object *
cfg_dump_http_listen(const struct cfg_key *k, const void *base)
{
	const struct config_http_listen	*hl = CFIELD(base, k);
	struct json_object		*o;

	if (hl->tokens_file == NULL)
		return cfg_t_listen.dump(k, base);
	o = json_object_new_object();
	json_object_object_add(o, "address", cfg_t_listen.dump(k, base));
	json_object_object_add(o, "tokens_file",
	    json_object_new_string(hl->tokens_file));
	return o;
}

static void
cfg_free_http_listen(const struct cfg_key *k, void *base)
{
	struct config_http_listen	*hl = FIELD(base, k);

	cfg_t_listen.free(k, base);
	free(hl->tokens_file);
	hl->tokens_file = NULL;
}

static bool
cfg_equal_http_listen(const struct cfg_key *k, const void *a, const void *b)
{
	const struct config_http_listen	*x = CFIELD(a, k), *y = CFIELD(b, k);

	if (!cfg_t_listen.equal(k, a, b))
		return false;
	if (x->tokens_file == NULL || y->tokens_file == NULL)
		return x->tokens_file == y->tokens_file;
	return strcmp(x->tokens_file, y->tokens_file) == 0;
}

const struct cfg_type cfg_t_http_listen = {
	cfg_set_http_listen, cfg_dump_http_listen, cfg_free_http_listen,
	cfg_equal_http_listen, true
};

int
config_host_is_loopback(const char *h)
{
	return h != NULL && (strcmp(h, "localhost") == 0 ||
	    strcmp(h, "::1") == 0 || strncmp(h, "127.", 4) == 0);
}

/*
 * A listener another machine can reach must not serve by uid alone: a
 * remote client has no local uid, and refusing it is all the daemon could
 * do, so without tokens such an address is a mistake.  (Finding L1.)
 */
void
config_check_access(struct cfg_load *L)
{
	const struct config_http_listen	*hl = &L->cfg->listen.http;
	const struct cfg_mark		*mk;

	if (!hl->enabled || config_host_is_loopback(hl->host) ||
	    hl->tokens_file != NULL)
		return;
	if ((mk = cfg_mark_find(&L->root, hl)) == NULL)
		return;
	cfg_error(L, mk->line, mk->col, mk->path, "'%.64s' is not a loopback "
	    "address: other machines could connect, and they have no local "
	    "user to check; set listen.http.tokens_file (clients then need a "
	    "bearer token) or listen on 127.0.0.1, [::1] or localhost",
	    hl->host);
}
