/*
 * Private to the configuration loader: the YAML tree (config-yaml.c), the
 * value types (config-types.c), the key tables and merge (config.c), the
 * validation after it (config-check.c), and the marks that remember where
 * in the file each value was set.
 */
#ifndef MCPRELAY_CONFIG_INT_H
#define MCPRELAY_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#include "config.h"

/* The YAML document as a tree, every node with its 1-based position. */
enum ynode_kind {
	YNODE_SCALAR,
	YNODE_MAP,
	YNODE_SEQ,
};

struct ynode {
	enum ynode_kind	  kind;
	int		  line;
	int		  col;
	char		 *text;		/* scalar */
	bool		  null;		/* plain "", "~" or "null" */
	bool		  quoted;	/* not a plain scalar */
	struct ynode	**child;	/* map: key, value, key, value, ... */
	size_t		  nchild;
	size_t		  cap;
};

struct cfg_scope;

/* Where a value was set, kept for errors found after the merge. */
struct cfg_mark {
	int			 line;
	int			 col;
	char			*path;		/* "servers.x.retry.max_delay" */
	const struct cfg_scope	*scope;		/* where it was written */
	bool			 class_block;	/* inside retry_by_class */
};

/*
 * The defaults block, each server, and the rest of the file are scopes.
 * A scope's marks are keyed by the address of the field they set, so a
 * value the server inherited from the defaults has no mark in the server's
 * scope: errors in it are reported once, at the defaults.
 */
struct cfg_scope {
	char			*path;		/* "defaults", "servers.x" */
	const struct ynode	*map;		/* its mapping, while loading */
	int			 line;		/* of the key naming it */
	int			 col;
	size_t			 nerrors;	/* parse errors inside it */
	struct {
		const void		*addr;
		const struct cfg_mark	*mark;
	}			*marks;
	size_t			 nmarks;
	size_t			 capmarks;
	/* retry_by_class blocks as written: only marked fields are set. */
	struct config_retry	 class_raw[FAIL_NCLASSES];
	bool			 class_given[FAIL_NCLASSES];
};

struct cfg_load {
	struct config		 *cfg;
	struct config_errors	 *errs;
	const char		 *name;
	size_t			  nerrors;
	struct cfg_mark		**marks;	/* owned */
	size_t			  nmarks;
	size_t			  capmarks;
	struct cfg_scope	  root;
	struct cfg_scope	  defaults;
	struct cfg_scope	**server_scopes; /* parallel to cfg->servers */
	struct cfg_scope	 *cur;
	bool			  in_class_block;
	const struct ynode	 *servers_key;
	const struct ynode	 *servers_node;
	char			**env_vars;	/* env_file's, or NULL */
};

/* config-yaml.c */
int		 ytree_parse(struct cfg_load *, const char *text, size_t len,
		    struct ynode **root);
void		 ynode_free(struct ynode *);
const char	*ynode_what(const struct ynode *);	/* "a list", ... */

/*
 * Value types (config-types.c): how to set, dump, free and compare a value of each kind.  A
 * setter returns 0 when it stored a value and -1 after reporting an error.
 */

struct cfg_key;

struct cfg_type {
	int	(*set)(struct cfg_load *, const struct cfg_key *,
		    const struct ynode *k, const struct ynode *v, void *base,
		    const char *path);
	struct json_object *(*dump)(const struct cfg_key *, const void *base);
	void	(*free)(const struct cfg_key *, void *base);
	bool	(*equal)(const struct cfg_key *, const void *, const void *);
	bool	  mark;		/* remember where the value was set */
};

#define CFG_REQUIRED	0x1
#define CFG_NONEMPTY	0x2

struct cfg_key {
	const char		*name;
	const struct cfg_type	*type;
	size_t			 off;	/* of the field within the base */
	size_t			 size;	/* of the field */
	size_t			 noff;	/* lists: of the count */
	const void		*arg;	/* range, names, subtable, check */
	int			 flags;
};

#define CFG_FIELD(name, T, f, type, arg, flags)				\
	{ name, type, offsetof(T, f), sizeof(((T *)0)->f), 0, arg, flags }
#define CFG_LIST(name, T, f, nf, type, arg, flags)			\
	{ name, type, offsetof(T, f), sizeof(((T *)0)->f), offsetof(T, nf), \
	  arg, flags }
#define CFG_END		{ NULL, NULL, 0, 0, 0, NULL, 0 }

#define FIELD(base, k)		((void *)((char *)(base) + (k)->off))
#define CFIELD(base, k)		((const void *)((const char *)(base) + (k)->off))
#define COUNT(base, k)		((size_t *)((char *)(base) + (k)->noff))
#define CCOUNT(base, k)		((const size_t *)((const char *)(base) + (k)->noff))

struct cfg_range {
	double	min;
	double	max;	/* INFINITY for none */
};

/* Names of an enum stored as int (or, for cfg_t_name, as the name). */
struct cfg_enum {
	const char *const	*names;
	size_t			 n;
};

/* Extra rule on a string; returns a reason when s is not acceptable. */
struct cfg_check {
	const char	*(*fn)(const char *s);
};


extern const struct cfg_type cfg_t_string, cfg_t_url, cfg_t_bool, cfg_t_int,
    cfg_t_double, cfg_t_duration, cfg_t_size, cfg_t_mode, cfg_t_enum,
    cfg_t_name, cfg_t_strlist, cfg_t_env, cfg_t_headers, cfg_t_classlist,
    cfg_t_section, cfg_t_unix, cfg_t_listen, cfg_t_rules, cfg_t_tools;

/* retry's backoff keys (config.c), in RETRY_RULE_P_* bit order. */
extern const struct cfg_key cfg_retry_keys[];

/* A scalar's text with ${VAR} expanded, or NULL after an error. */
char		*cfg_text(struct cfg_load *, const struct ynode *,
		    const char *path, const char *what);
bool		 cfg_want_map(struct cfg_load *, const struct ynode *,
		    const char *path);
void		 cfg_format_listen(const struct config_http_listen *,
		    char *buf, size_t len);

/* config.c */
extern const char *const fail_class_names[FAIL_NCLASSES];

void		 cfg_error(struct cfg_load *, int line, int col,
		    const char *path, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));
char		*cfg_path(const char *path, const char *key);
const char	*cfg_suggest(const char *word, const char *const *names,
		    size_t n);
void		 cfg_unknown(struct cfg_load *, const struct ynode *at,
		    const char *path, const char *what, const char *word,
		    const char *const *names, size_t n);
size_t		*cfg_find_dups(const char *const *names, size_t n,
		    bool nocase);
bool		*cfg_map_dups(struct cfg_load *, const struct ynode *map,
		    const char *path, bool nocase);
void		 cfg_parse_map(struct cfg_load *, const struct ynode *owner,
		    const struct ynode *map, const struct cfg_key *keys,
		    void *base, const char *path);
struct json_object *cfg_dump_keys(const struct cfg_key *, const void *base);
void		 cfg_free_keys(const struct cfg_key *, void *base);
bool		 cfg_equal_keys(const struct cfg_key *, const void *,
		    const void *);
const struct cfg_mark *cfg_mark_find(const struct cfg_scope *,
		    const void *addr);

/* config-check.c: rules between values, after every scope is merged. */
void		 config_check(struct cfg_load *);
/* config-rules.c: retry rules against the tools they aim at. */
void		 config_rules_check(struct cfg_load *);

/* config-access.c: access, servers.X.allow, listen.http's tokens_file. */
extern const struct cfg_type cfg_t_allow, cfg_t_http_listen;
extern const struct cfg_key cfg_access_keys[], cfg_allow_keys[];
int		 config_host_is_loopback(const char *host);
void		 config_check_access(struct cfg_load *);

#endif
