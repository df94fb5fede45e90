/*
 * Unit tests for daemon/access.c and daemon/peer.c: rule evaluation for
 * users, groups (the kernel's list and the user database's) and tokens,
 * per-server allow blocks, the tokens file's format and mode checks, the
 * refusal the client gets, and the sock_diag lookup of a real loopback
 * connection of this process (IPv4, IPv6, IPv4-mapped).
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "access.h"
#include "config.h"
#include "log.h"
#include "peer.h"

#define SECRET_CI	"ci-secret-0123456789abcdef"
#define SECRET_OPS	"ops-secret-0123456789abcdef"

static char	tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/test_access.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct config *
load(const char *yaml)
{
	struct config_errors	 errs;
	struct config		*cfg;

	config_errors_init(&errs);
	cfg = config_load_string(yaml, strlen(yaml), "test.yaml", &errs);
	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

static struct access *
access_from(const char *yaml)
{
	struct access	*acc = access_new();
	struct config	*cfg = load(yaml);

	access_apply_config(acc, cfg);
	config_free(cfg);
	return acc;
}

/* A TCP client: a uid and nothing else. */
static struct access_who
tcp_user(uid_t uid)
{
	struct access_who	w;

	memset(&w, 0, sizeof w);
	w.kind = ACCESS_USER;
	w.uid = uid;
	w.pid = -1;
	w.ngroups = -1;
	return w;
}

static struct access_who
token(const char *name)
{
	struct access_who	w;

	memset(&w, 0, sizeof w);
	w.kind = ACCESS_TOKEN;
	w.pid = -1;
	w.ngroups = -1;
	snprintf(w.token, sizeof w.token, "%s", name);
	return w;
}

/* Some user that is neither root nor us, with its primary group. */
static const struct passwd *
stranger(void)
{
	static struct passwd	 copy;
	struct passwd		*pw;

	if ((pw = getpwnam("nobody")) == NULL || pw->pw_uid == geteuid())
		ck_abort_msg("this test needs a 'nobody' user other than us");
	copy = *pw;
	copy.pw_name = strdup(pw->pw_name);
	return &copy;
}

START_TEST(test_root_and_the_daemon_user_are_always_allowed)
{
	struct access		*acc = access_from("");
	struct access_who	 w;

	w = tcp_user(0);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	w = tcp_user(geteuid());
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	w = tcp_user(stranger()->pw_uid);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	memset(&w, 0, sizeof w);
	w.kind = ACCESS_NONE;
	w.uid = 0;		/* an unidentified client is never root */
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	access_free(acc);
}
END_TEST

START_TEST(test_allow_users_takes_names_and_numbers)
{
	const struct passwd	*pw = stranger();
	struct access		*acc;
	struct access_who	 w;
	char			 yaml[256];

	snprintf(yaml, sizeof yaml, "access: {allow_users: [%s]}\n",
	    pw->pw_name);
	acc = access_from(yaml);
	w = tcp_user(pw->pw_uid);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	w = tcp_user(pw->pw_uid - 1);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	access_free(acc);
	acc = access_from("access: {allow_users: ['4242']}\n");
	w = tcp_user(4242);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	w = tcp_user(4243);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	access_free(acc);
}
END_TEST

START_TEST(test_a_group_admits_by_the_peer_groups_and_by_the_user_database)
{
	const struct passwd	*pw = stranger();
	struct group		*gr;
	struct access		*acc;
	struct access_who	 w;
	char			 yaml[256], name[64];

	/* The stranger's primary group, by name: the user database says
	 * it is a member even when only its uid is known (TCP). */
	ck_assert_ptr_nonnull(gr = getgrgid(pw->pw_gid));
	snprintf(name, sizeof name, "%s", gr->gr_name);
	snprintf(yaml, sizeof yaml, "access: {allow_groups: [%s]}\n", name);
	acc = access_from(yaml);
	w = tcp_user(pw->pw_uid);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	access_free(acc);

	/* A gid nobody has as primary group: only a Unix peer that carries
	 * it in its groups gets in. */
	acc = access_from("access: {allow_groups: ['54321']}\n");
	w = tcp_user(pw->pw_uid);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	w.ngroups = 2;
	w.groups[0] = 100;
	w.groups[1] = 54321;
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	w.groups[1] = 54322;
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	access_free(acc);
}
END_TEST

START_TEST(test_server_allow_narrows_and_other_servers_stay_open)
{
	const struct passwd	*pw = stranger();
	struct access		*acc;
	struct access_who	 w;
	char			 yaml[512];

	snprintf(yaml, sizeof yaml,
	    "access: {allow_users: [%s]}\n"
	    "servers:\n"
	    "  open: {type: stdio, command: /bin/true}\n"
	    "  prod:\n"
	    "    type: stdio\n"
	    "    command: /bin/true\n"
	    "    allow: {users: ['4242'], tokens: [ci]}\n", pw->pw_name);
	acc = access_from(yaml);
	w = tcp_user(pw->pw_uid);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	ck_assert_int_eq(access_allowed(acc, &w, "open"), 1);
	ck_assert_int_eq(access_allowed(acc, &w, "prod"), 0);
	/* Listed for prod but not allowed at all: still refused. */
	w = tcp_user(4242);
	ck_assert_int_eq(access_allowed(acc, &w, "prod"), 0);
	/* Root and the daemon's user pass every block. */
	w = tcp_user(0);
	ck_assert_int_eq(access_allowed(acc, &w, "prod"), 1);
	w = tcp_user(geteuid());
	ck_assert_int_eq(access_allowed(acc, &w, "prod"), 1);
	/* Tokens: all pass the daemon, only listed ones a narrowed server. */
	w = token("ci");
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 1);
	ck_assert_int_eq(access_allowed(acc, &w, "prod"), 1);
	w = token("ops");
	ck_assert_int_eq(access_allowed(acc, &w, "open"), 1);
	ck_assert_int_eq(access_allowed(acc, &w, "prod"), 0);
	access_free(acc);
}
END_TEST

START_TEST(test_same_principal)
{
	struct access_who	a = tcp_user(1000), b = tcp_user(1000);
	struct access_who	c = tcp_user(1001), t = token("ci");
	struct access_who	u = token("ci"), v = token("ops");

	ck_assert_int_eq(access_same(&a, &b), 1);
	ck_assert_int_eq(access_same(&a, &c), 0);
	ck_assert_int_eq(access_same(&t, &u), 1);
	ck_assert_int_eq(access_same(&t, &v), 0);
	ck_assert_int_eq(access_same(&a, &t), 0);
	a.kind = b.kind = ACCESS_NONE;
	ck_assert_int_eq(access_same(&a, &b), 0);
}
END_TEST

START_TEST(test_refusal_names_the_user_and_how_to_allow_it)
{
	const struct passwd	*pw = stranger();
	struct access		*acc = access_from("");
	struct access_who	 w = tcp_user(pw->pw_uid);
	struct json_object	*err, *e, *v, *stats;
	char			 want[128];

	w.conn = access_next_conn(acc);
	err = access_refuse(acc, &w, "http", NULL, NULL, NULL);
	ck_assert(json_object_object_get_ex(err, "error", &e));
	ck_assert(json_object_object_get_ex(e, "code", &v));
	ck_assert_int_eq(json_object_get_int(v), -32009);
	ck_assert(json_object_object_get_ex(e, "message", &v));
	snprintf(want, sizeof want, "user '%s' (uid %ld) may not use "
	    "mcprelayd", pw->pw_name, (long)pw->pw_uid);
	ck_assert_msg(strstr(json_object_get_string(v), want) != NULL,
	    "%s", json_object_get_string(v));
	ck_assert_ptr_nonnull(strstr(json_object_get_string(v),
	    "access.allow_users"));
	ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "test.yaml"));
	ck_assert(json_object_object_get_ex(e, "data", &v));
	ck_assert_str_eq(json_object_get_string(
	    json_object_object_get(v, "user")), pw->pw_name);
	ck_assert_str_eq(json_object_get_string(
	    json_object_object_get(v, "listener")), "http");
	json_object_put(err);

	/* Per server: the allow block to edit. */
	err = access_refuse(acc, &w, "unix", "prod", NULL, NULL);
	e = json_object_object_get(err, "error");
	ck_assert_ptr_nonnull(strstr(json_object_get_string(
	    json_object_object_get(e, "message")),
	    "servers.prod.allow.users"));
	json_object_put(err);

	stats = access_stats_json(acc);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(stats,
	    "refused")), 2);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(
	    json_object_object_get(stats, "refusedByUser"), pw->pw_name)), 2);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(stats,
	    "tokens")), "off");
	json_object_put(stats);
	access_free(acc);
}
END_TEST

START_TEST(test_refusals_beyond_the_user_limit_count_as_other)
{
	struct access		*acc = access_from("");
	struct access_who	 w;
	struct json_object	*err, *stats, *by;
	int			 i;

	for (i = 0; i < ACCESS_MAX_USERS + 5; i++) {
		w = tcp_user((uid_t)(700000 + i));
		err = access_refuse(acc, &w, "http", NULL, NULL, NULL);
		json_object_put(err);
	}
	stats = access_stats_json(acc);
	by = json_object_object_get(stats, "refusedByUser");
	ck_assert_int_eq(json_object_object_length(by), ACCESS_MAX_USERS + 1);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(by,
	    "other")), 5);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(by,
	    "uid:700000")), 1);
	json_object_put(stats);
	access_free(acc);
}
END_TEST

/* ---- the configuration -------------------------------------------------- */

/* The errors of yaml, one per line. */
static void
config_errors_of(const char *yaml, char *out, size_t len)
{
	struct config_errors	 errs;
	struct config		*cfg;
	size_t			 i, n = 0;

	config_errors_init(&errs);
	cfg = config_load_string(yaml, strlen(yaml), "t.yaml", &errs);
	ck_assert_ptr_null(cfg);
	out[0] = '\0';
	for (i = 0; i < errs.n; i++)
		n += (size_t)snprintf(out + n, len - n, "%s\n", errs.msgs[i]);
	config_errors_free(&errs);
}

START_TEST(test_config_errors_point_at_the_bad_name)
{
	char	errs[2048];

	config_errors_of("access:\n  allow_users: [root, no-such-user-x]\n"
	    "  allow_groups: [no-such-group-x]\n", errs, sizeof errs);
	ck_assert_str_eq(errs,
	    "t.yaml:2:23: access.allow_users[1]: unknown user: not in the "
	    "user database (a numeric uid is accepted too)\n"
	    "t.yaml:3:18: access.allow_groups[0]: unknown group: not in the "
	    "group database (a numeric gid is accepted too)\n");
	config_errors_of("servers:\n  a:\n    type: stdio\n    command: x\n"
	    "    allow: {tokens: [ok, 'not ok'], colours: [red]}\n", errs,
	    sizeof errs);
	ck_assert_str_eq(errs,
	    "t.yaml:5:26: servers.a.allow.tokens[1]: a token name is 1 to 63 "
	    "of A-Z a-z 0-9 _ . -\n"
	    "t.yaml:5:37: servers.a.allow: unknown key 'colours'\n");
}
END_TEST

START_TEST(test_a_non_loopback_listener_needs_tokens)
{
	struct config	*cfg;
	char		 errs[2048];

	config_errors_of("listen: {http: 0.0.0.0:8931}\n", errs, sizeof errs);
	ck_assert_str_eq(errs, "t.yaml:1:16: listen.http: '0.0.0.0' is not a "
	    "loopback address: other machines could connect, and they have no "
	    "local user to check; set listen.http.tokens_file (clients then "
	    "need a bearer token) or listen on 127.0.0.1, [::1] or "
	    "localhost\n");
	config_errors_of("listen:\n  http: {address: '[::]:1', colour: x}\n",
	    errs, sizeof errs);
	ck_assert_ptr_nonnull(strstr(errs, "unknown key 'colour'"));
	cfg = load("listen:\n  http:\n    address: 0.0.0.0:8931\n"
	    "    tokens_file: /etc/mcprelay/tokens\n");
	ck_assert_str_eq(cfg->listen.http.host, "0.0.0.0");
	ck_assert_int_eq(cfg->listen.http.port, 8931);
	ck_assert_str_eq(cfg->listen.http.tokens_file, "/etc/mcprelay/tokens");
	config_free(cfg);
	cfg = load("listen: {http: '[::1]:8931'}\n");
	ck_assert_ptr_null(cfg->listen.http.tokens_file);
	config_free(cfg);
	cfg = load("listen: {http: 'localhost:0'}\n");
	config_free(cfg);
}
END_TEST

START_TEST(test_allow_changes_do_not_restart_a_server)
{
	struct config	*a, *b;

	a = load("servers: {s: {type: stdio, command: x}}\n");
	b = load("servers: {s: {type: stdio, command: x, allow: {users: "
	    "[root]}}}\n");
	ck_assert(b->servers[0].allow.set);
	ck_assert_uint_eq(b->servers[0].allow.nusers, 1);
	ck_assert(config_server_equal(&a->servers[0], &b->servers[0]));
	config_free(a);
	config_free(b);
}
END_TEST

/* ---- the tokens file --------------------------------------------------- */

static void
write_tokens(const char *text, mode_t mode, char *path, size_t len)
{
	FILE	*f;

	snprintf(path, len, "%s/tokens", tmpdir);
	unlink(path);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static struct access *
access_with_tokens(const char *path)
{
	char	yaml[512];

	snprintf(yaml, sizeof yaml, "listen:\n  http:\n    address: "
	    "127.0.0.1:0\n    tokens_file: %s\n", path);
	return access_from(yaml);
}

static const char *
tokens_state(struct access *acc, char *buf, size_t len)
{
	struct json_object	*stats = access_stats_json(acc);

	snprintf(buf, len, "%s", json_object_get_string(
	    json_object_object_get(stats, "tokens")));
	json_object_put(stats);
	return buf;
}

START_TEST(test_tokens_file_is_read_and_tokens_compared)
{
	struct access		*acc;
	struct access_who	 w;
	char			 path[128], err[512], state[600];

	write_tokens("# name secret\n\nci " SECRET_CI "\n"
	    "  ops\t" SECRET_OPS "  \r\n", 0600, path, sizeof path);
	acc = access_with_tokens(path);
	ck_assert_str_eq(tokens_state(acc, state, sizeof state), "2 loaded");
	ck_assert_int_eq(access_tokens_configured(acc), 1);
	ck_assert_int_eq(access_token(acc, "Bearer " SECRET_CI, &w, err,
	    sizeof err), 0);
	ck_assert_int_eq(w.kind, ACCESS_TOKEN);
	ck_assert_str_eq(w.token, "ci");
	ck_assert_int_eq(access_token(acc, "bearer " SECRET_OPS, &w, err,
	    sizeof err), 0);
	ck_assert_str_eq(w.token, "ops");
	/* One character off, a prefix, garbage, another scheme. */
	ck_assert_int_eq(access_token(acc, "Bearer " SECRET_CI "x", &w, err,
	    sizeof err), -1);
	ck_assert_int_eq(w.kind, ACCESS_NONE);
	ck_assert_str_eq(err, "the bearer token matches no entry of "
	    "listen.http.tokens_file");
	ck_assert_int_eq(access_token(acc, "Bearer ci-secret-0123456789",
	    &w, err, sizeof err), -1);
	ck_assert_int_eq(access_token(acc, "Bearer \x01\x02garbage garbage",
	    &w, err, sizeof err), -1);
	ck_assert_str_eq(err, "the bearer token is malformed");
	ck_assert_int_eq(access_token(acc, "Basic Y2k6eA==", &w, err,
	    sizeof err), -1);
	ck_assert_str_eq(err, "the Authorization header is not \"Bearer "
	    "TOKEN\"");
	access_free(acc);
}
END_TEST

START_TEST(test_tokens_are_off_by_default)
{
	struct access	*acc = access_from("");

	ck_assert_int_eq(access_tokens_configured(acc), 0);
	access_free(acc);
}
END_TEST

/* An unusable file: every token is refused, with the file's problem. */
static void
assert_unusable(const char *path, const char *want)
{
	struct access		*acc = access_with_tokens(path);
	struct access_who	 w;
	char			 err[640], state[600];

	tokens_state(acc, state, sizeof state);
	ck_assert_msg(strstr(state, want) != NULL, "state '%s' lacks '%s'",
	    state, want);
	ck_assert_int_eq(access_tokens_configured(acc), 1);
	ck_assert_int_eq(access_token(acc, "Bearer " SECRET_CI, &w, err,
	    sizeof err), -1);
	ck_assert_msg(strstr(err, "tokens file is unusable") != NULL &&
	    strstr(err, want) != NULL, "%s", err);
	ck_assert_int_eq(w.kind, ACCESS_NONE);
	access_free(acc);
}

START_TEST(test_a_group_or_world_readable_tokens_file_is_refused)
{
	char	path[128];

	write_tokens("ci " SECRET_CI "\n", 0644, path, sizeof path);
	assert_unusable(path, "mode 0644 lets group or others read or write "
	    "it");
	write_tokens("ci " SECRET_CI "\n", 0640, path, sizeof path);
	assert_unusable(path, "mode 0640");
	write_tokens("ci " SECRET_CI "\n", 0602, path, sizeof path);
	assert_unusable(path, "mode 0602");
}
END_TEST

START_TEST(test_a_missing_or_unreadable_tokens_file_is_refused)
{
	char	path[160];

	snprintf(path, sizeof path, "%s/none", tmpdir);
	assert_unusable(path, "cannot open: No such file or directory");
	/* A directory is not a tokens file. */
	assert_unusable(tmpdir, "not a regular file");
	if (geteuid() != 0) {
		/* Root reads a 0000 file anyway. */
		write_tokens("ci " SECRET_CI "\n", 0000, path, sizeof path);
		assert_unusable(path, "Permission denied");
	}
}
END_TEST

START_TEST(test_tokens_file_format_errors_name_the_line)
{
	char	path[128];

	write_tokens("ci " SECRET_CI "\nbad name here\n", 0600, path,
	    sizeof path);
	assert_unusable(path, "tokens:2: expected \"NAME SECRET\"");
	write_tokens("ci short\n", 0600, path, sizeof path);
	assert_unusable(path, "tokens:1: token 'ci': the secret must be 16 "
	    "to 512 printable characters");
	write_tokens("ci " SECRET_CI "\n#\nci " SECRET_OPS "\n", 0600, path,
	    sizeof path);
	assert_unusable(path, "tokens:3: token 'ci' repeats the name or the "
	    "secret of token 'ci'");
	write_tokens("ci " SECRET_CI "\nops " SECRET_CI "\n", 0600, path,
	    sizeof path);
	assert_unusable(path, "tokens:2: token 'ops' repeats");
	write_tokens("ci/x " SECRET_CI "\n", 0600, path, sizeof path);
	assert_unusable(path, "tokens:1: the token name must be");
	write_tokens("# nothing\n\n", 0600, path, sizeof path);
	assert_unusable(path, "no tokens in the file");
	write_tokens("ci\n", 0600, path, sizeof path);
	assert_unusable(path, "tokens:1: expected");
}
END_TEST

START_TEST(test_a_bad_tokens_file_on_reload_drops_the_old_tokens)
{
	struct access		*acc;
	struct access_who	 w;
	struct config		*cfg;
	char			 path[128], err[640], yaml[256];

	write_tokens("ci " SECRET_CI "\n", 0600, path, sizeof path);
	acc = access_with_tokens(path);
	ck_assert_int_eq(access_token(acc, "Bearer " SECRET_CI, &w, err,
	    sizeof err), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	snprintf(yaml, sizeof yaml, "listen:\n  http:\n    address: "
	    "127.0.0.1:0\n    tokens_file: %s\n", path);
	cfg = load(yaml);
	access_apply_config(acc, cfg);
	config_free(cfg);
	ck_assert_int_eq(access_token(acc, "Bearer " SECRET_CI, &w, err,
	    sizeof err), -1);
	access_free(acc);
}
END_TEST

/* ---- sock_diag: who is on the other end of a loopback connection ------- */

struct tcp_pair {
	int	listener, client, server;
};

/* listen on addr (port 0), connect from connect_to, accept. */
static int
tcp_pair(int lfamily, const char *laddr, int cfamily, const char *caddr,
    struct tcp_pair *p)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss;
	struct sockaddr_in	*in4;
	struct sockaddr_in6	*in6;
	uint16_t		 port;
	int			 off = 0;

	memset(p, 0, sizeof *p);
	memset(&ss, 0, sizeof ss);
	if ((p->listener = socket(lfamily, SOCK_STREAM, 0)) == -1)
		return -1;
	if (lfamily == AF_INET6)
		setsockopt(p->listener, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		    sizeof off);
	ss.ss_family = (sa_family_t)lfamily;
	if (lfamily == AF_INET) {
		in4 = (struct sockaddr_in *)&ss;
		inet_pton(AF_INET, laddr, &in4->sin_addr);
		sl = sizeof *in4;
	} else {
		in6 = (struct sockaddr_in6 *)&ss;
		inet_pton(AF_INET6, laddr, &in6->sin6_addr);
		sl = sizeof *in6;
	}
	if (bind(p->listener, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(p->listener, 4) == -1 ||
	    getsockname(p->listener, (struct sockaddr *)&ss, &sl) == -1) {
		close(p->listener);
		return -1;
	}
	port = lfamily == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port;
	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)cfamily;
	if (cfamily == AF_INET) {
		in4 = (struct sockaddr_in *)&ss;
		inet_pton(AF_INET, caddr, &in4->sin_addr);
		in4->sin_port = port;
		sl = sizeof *in4;
	} else {
		in6 = (struct sockaddr_in6 *)&ss;
		inet_pton(AF_INET6, caddr, &in6->sin6_addr);
		in6->sin6_port = port;
		sl = sizeof *in6;
	}
	ck_assert_int_ne(p->client = socket(cfamily, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(connect(p->client, (struct sockaddr *)&ss, sl), 0);
	ck_assert_int_ne(p->server = accept(p->listener, NULL, NULL), -1);
	return 0;
}

static void
tcp_pair_close(struct tcp_pair *p)
{
	close(p->client);
	close(p->server);
	close(p->listener);
}

static void
assert_lookup_finds_us(int lfamily, const char *laddr, int cfamily,
    const char *caddr)
{
	struct peer_diag	*pd;
	struct tcp_pair		 p;
	uid_t			 uid = (uid_t)-2;
	uint32_t		 inode = 0;
	char			 err[256];

	if (tcp_pair(lfamily, laddr, cfamily, caddr, &p) == -1) {
		/* Only IPv6 may be missing (a container without ::1). */
		ck_assert_int_eq(lfamily, AF_INET6);
		fprintf(stderr, "test_access: no IPv6 loopback (%s): %s -> %s "
		    "not tested\n", strerror(errno), caddr, laddr);
		return;
	}
	pd = peer_diag_new(err, sizeof err);
	ck_assert_msg(pd != NULL, "%s", err);
	ck_assert_msg(peer_tcp_uid(pd, p.server, &uid, &inode, err,
	    sizeof err) == 0, "%s -> %s: %s", caddr, laddr, err);
	ck_assert_uint_eq(uid, geteuid());
	ck_assert_uint_ne(inode, 0);
	/* The client's end: looked up from the server's, it is ours. */
	ck_assert_msg(peer_tcp_uid(pd, p.client, &uid, &inode, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(uid, geteuid());
	peer_diag_free(pd);
	tcp_pair_close(&p);
}

START_TEST(test_sock_diag_finds_the_uid_of_a_loopback_peer_ipv4)
{
	assert_lookup_finds_us(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
}
END_TEST

START_TEST(test_sock_diag_finds_the_uid_of_a_loopback_peer_ipv6)
{
	assert_lookup_finds_us(AF_INET6, "::1", AF_INET6, "::1");
}
END_TEST

START_TEST(test_sock_diag_finds_an_ipv4_client_of_a_dual_stack_listener)
{
	assert_lookup_finds_us(AF_INET6, "::", AF_INET, "127.0.0.1");
}
END_TEST

START_TEST(test_sock_diag_finds_the_uid_of_another_user)
{
	struct access		*acc = access_new();
	struct access_who	 w;
	struct tcp_pair		 p;
	char			 err[256];
	pid_t			 pid;
	int			 status, ready[2], done[2];
	char			 c;

	if (geteuid() != 0) {
		fprintf(stderr, "test_access: not root: the lookup of another "
		    "user's socket is not tested\n");
		access_free(acc);
		return;
	}
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	ck_assert_int_eq(tcp_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1",
	    &p), 0);
	/* Replace our client socket by one a nobody-owned child makes. */
	close(p.client);
	close(p.server);
	if ((pid = fork()) == 0) {
		struct sockaddr_in	sin;
		socklen_t		sl = sizeof sin;
		int			fd;

		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(2);
		getsockname(p.listener, (struct sockaddr *)&sin, &sl);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sin, sl) == -1)
			_exit(3);
		(void)write(ready[1], "x", 1);
		(void)read(done[0], &c, 1);	/* until the parent is done */
		_exit(0);
	}
	close(ready[1]);	/* a child that fails ends the read */
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_ne(p.server = accept(p.listener, NULL, NULL), -1);
	ck_assert_msg(access_peer_tcp(acc, p.server, &w, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_eq(w.kind, ACCESS_USER);
	ck_assert_uint_eq(w.uid, 65534);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	ck_assert_int_eq(write(done[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(done[0]);
	close(done[1]);
	close(p.server);
	close(p.listener);
	access_free(acc);
}
END_TEST

START_TEST(test_a_failed_lookup_is_an_unidentified_client)
{
	struct access		*acc = access_new();
	struct access_who	 w;
	int			 sv[2];
	char			 err[256];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(access_peer_tcp(acc, sv[0], &w, err, sizeof err),
	    -1);
	ck_assert_str_eq(err, "not a TCP/IP connection");
	ck_assert_int_eq(w.kind, ACCESS_NONE);
	ck_assert_int_eq(access_allowed(acc, &w, NULL), 0);
	/* The same socket as a Unix peer: that is us. */
	ck_assert_int_eq(access_peer_unix(acc, sv[0], &w, err, sizeof err), 0);
	ck_assert_int_eq(w.kind, ACCESS_USER);
	ck_assert_uint_eq(w.uid, geteuid());
	ck_assert_int_eq(w.pid, getpid());
	ck_assert_int_ge(w.ngroups, 1);
	ck_assert_uint_eq(w.groups[0], getegid());
	close(sv[0]);
	close(sv[1]);
	access_free(acc);
}
END_TEST

START_TEST(test_comm_of_a_pid)
{
	char	buf[32];

	peer_comm(getpid(), buf, sizeof buf);
	ck_assert_str_eq(buf, "test_access");
	peer_comm(-1, buf, sizeof buf);
	ck_assert_str_eq(buf, "?");
}
END_TEST

static Suite *
access_suite(void)
{
	Suite	*s = suite_create("access");
	TCase	*tc = tcase_create("rules");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_root_and_the_daemon_user_are_always_allowed);
	tcase_add_test(tc, test_allow_users_takes_names_and_numbers);
	tcase_add_test(tc,
	    test_a_group_admits_by_the_peer_groups_and_by_the_user_database);
	tcase_add_test(tc,
	    test_server_allow_narrows_and_other_servers_stay_open);
	tcase_add_test(tc, test_same_principal);
	tcase_add_test(tc, test_refusal_names_the_user_and_how_to_allow_it);
	tcase_add_test(tc, test_refusals_beyond_the_user_limit_count_as_other);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_config_errors_point_at_the_bad_name);
	tcase_add_test(tc, test_a_non_loopback_listener_needs_tokens);
	tcase_add_test(tc, test_allow_changes_do_not_restart_a_server);
	suite_add_tcase(s, tc);
	tc = tcase_create("tokens");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tokens_file_is_read_and_tokens_compared);
	tcase_add_test(tc, test_tokens_are_off_by_default);
	tcase_add_test(tc, test_a_group_or_world_readable_tokens_file_is_refused);
	tcase_add_test(tc, test_a_missing_or_unreadable_tokens_file_is_refused);
	tcase_add_test(tc, test_tokens_file_format_errors_name_the_line);
	tcase_add_test(tc,
	    test_a_bad_tokens_file_on_reload_drops_the_old_tokens);
	suite_add_tcase(s, tc);
	tc = tcase_create("peer");
	tcase_add_test(tc, test_sock_diag_finds_the_uid_of_a_loopback_peer_ipv4);
	tcase_add_test(tc, test_sock_diag_finds_the_uid_of_a_loopback_peer_ipv6);
	tcase_add_test(tc,
	    test_sock_diag_finds_an_ipv4_client_of_a_dual_stack_listener);
	tcase_add_test(tc, test_sock_diag_finds_the_uid_of_another_user);
	tcase_add_test(tc, test_a_failed_lookup_is_an_unidentified_client);
	tcase_add_test(tc, test_comm_of_a_pid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(access_suite());
	int	 failed;

	log_init("test_access", getenv("TEST_DEBUG") != NULL ?
	    LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
