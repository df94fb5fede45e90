/*
 * The configuration file as a tree of mappings, lists and strings, each
 * node with its line and column, built from libyaml's events.  Aliases are
 * refused (no alias bombs, and a config file does not need them), as are
 * tags and more than one document.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config-int.h"
#include "xmalloc.h"

/* Deeper than any valid file needs; bounds recursion on hostile input. */
#define YTREE_MAX_DEPTH		32

static struct ynode *
ynode_new(enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode	*n;

	n = xcalloc(1, sizeof *n);
	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

void
ynode_free(struct ynode *n)
{
	size_t	i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nchild; i++)
		ynode_free(n->child[i]);
	free(n->child);
	free(n->text);
	free(n);
}

static void
ynode_add(struct ynode *n, struct ynode *child)
{
	if (n->nchild == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 8;
		n->child = xreallocarray(n->child, n->cap, sizeof *n->child);
	}
	n->child[n->nchild++] = child;
}

const char *
ynode_what(const struct ynode *n)
{
	switch (n->kind) {
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SEQ:
		return "a list";
	default:
		return n->null ? "null" : "a string";
	}
}

struct ytree {
	yaml_parser_t		 parser;
	struct cfg_load		*L;
	const char		*text;
	size_t			 len;
};

static void
ytree_syntax_error(struct ytree *t)
{
	yaml_parser_t	*p = &t->parser;
	const char	*problem;
	int		 line = 0, col = 0;
	size_t		 i, off;

	switch (p->error) {
	case YAML_READER_ERROR:
		/* Only a byte offset: count lines up to it. */
		off = p->problem_offset < t->len ? p->problem_offset : t->len;
		line = col = 1;
		for (i = 0; i < off; i++) {
			if (t->text[i] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		line = (int)p->problem_mark.line + 1;
		col = (int)p->problem_mark.column + 1;
		break;
	default:
		break;
	}
	problem = p->problem != NULL ? p->problem : "invalid YAML";
	if (p->context != NULL)
		cfg_error(t->L, line, col, NULL, "syntax error: %s (%s)",
		    problem, p->context);
	else
		cfg_error(t->L, line, col, NULL, "syntax error: %s", problem);
}

static int
ytree_event(struct ytree *t, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&t->parser, ev)) {
		ytree_syntax_error(t);
		return -1;
	}
	return 0;
}

static bool
ytree_is_null(const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Builds the node that ev starts; consumes (deletes) ev. */
static struct ynode *
ytree_node(struct ytree *t, yaml_event_t *ev, int depth)
{
	struct ynode	*n = NULL, *c;
	yaml_event_t	 next;
	yaml_event_type_t end;
	yaml_mark_t	 m = ev->start_mark;
	int		 line = (int)m.line + 1, col = (int)m.column + 1;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		cfg_error(t->L, line, col, NULL,
		    "YAML aliases (*name) are not supported");
		break;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.tag != NULL) {
			cfg_error(t->L, line, col, NULL,
			    "YAML tags (!tag) are not supported");
			break;
		}
		if (strlen((char *)ev->data.scalar.value) !=
		    ev->data.scalar.length) {
			cfg_error(t->L, line, col, NULL,
			    "strings must not contain NUL characters");
			break;
		}
		n = ynode_new(YNODE_SCALAR, &m);
		n->text = xstrdup((char *)ev->data.scalar.value);
		n->null = ytree_is_null(ev);
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if ((ev->type == YAML_MAPPING_START_EVENT ?
		    ev->data.mapping_start.tag :
		    ev->data.sequence_start.tag) != NULL) {
			cfg_error(t->L, line, col, NULL,
			    "YAML tags (!tag) are not supported");
			break;
		}
		if (depth >= YTREE_MAX_DEPTH) {
			cfg_error(t->L, line, col, NULL, "nesting too deep");
			break;
		}
		if (ev->type == YAML_MAPPING_START_EVENT) {
			n = ynode_new(YNODE_MAP, &m);
			end = YAML_MAPPING_END_EVENT;
		} else {
			n = ynode_new(YNODE_SEQ, &m);
			end = YAML_SEQUENCE_END_EVENT;
		}
		yaml_event_delete(ev);
		for (;;) {
			if (ytree_event(t, &next) == -1) {
				ynode_free(n);
				return NULL;
			}
			if (next.type == end) {
				yaml_event_delete(&next);
				return n;
			}
			if ((c = ytree_node(t, &next, depth + 1)) == NULL) {
				ynode_free(n);
				return NULL;
			}
			ynode_add(n, c);
		}
	default:
		cfg_error(t->L, line, col, NULL, "unexpected YAML structure");
		break;
	}
	yaml_event_delete(ev);
	return n;
}

/*
 * Parses text into *root (NULL for an empty stream).  Returns -1 after
 * reporting a syntax or structure error.
 */
int
ytree_parse(struct cfg_load *L, const char *text, size_t len,
    struct ynode **root)
{
	struct ytree	 t = { .L = L, .text = text, .len = len };
	yaml_event_t	 ev;
	int		 rc = -1, docs = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&t.parser)) {
		cfg_error(L, 0, 0, NULL, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&t.parser, (const unsigned char *)text,
	    len);
	for (;;) {
		if (ytree_event(&t, &ev) == -1)
			goto out;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			rc = 0;
			goto out;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0) {
				cfg_error(L, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1, NULL,
				    "only one YAML document is allowed");
				yaml_event_delete(&ev);
				goto out;
			}
			yaml_event_delete(&ev);
			if (ytree_event(&t, &ev) == -1)
				goto out;
			if ((*root = ytree_node(&t, &ev, 0)) == NULL)
				goto out;
			break;
		default:
			yaml_event_delete(&ev);
			break;
		}
	}
out:
	yaml_parser_delete(&t.parser);
	if (rc == -1) {
		ynode_free(*root);
		*root = NULL;
	}
	return rc;
}

