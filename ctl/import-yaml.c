/*
 * mcprelayctl import: where new servers go in an existing mcprelay.yaml.
 * The file is only read with libyaml for positions; the new text is the
 * old one with the servers inserted, so comments and layout are kept.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "import.h"
#include "xmalloc.h"

enum plan_state {
	PLAN_KEY,		/* at depth 1, expecting a key */
	PLAN_VALUE,		/* the value of a top-level key */
};

static void
plan_add_name(struct imp_yaml_plan *P, size_t *n, const char *name)
{
	P->names = xreallocarray(P->names, *n + 2, sizeof *P->names);
	P->names[(*n)++] = xstrdup(name);
	P->names[*n] = NULL;
}

/* After the end of the line holding index i. */
static size_t
plan_line_end(const char *text, size_t len, size_t i)
{
	const char	*nl;

	if (i >= len)
		return len;
	nl = memchr(text + i, '\n', len - i);
	return nl == NULL ? len : (size_t)(nl - text) + 1;
}

int
imp_yaml_plan(const char *text, size_t len, struct imp_yaml_plan *P,
    char *err, size_t errlen)
{
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	enum plan_state	 st = PLAN_KEY;
	char		*key = NULL;
	size_t		 nnames = 0, last = 0, key_end = 0;
	int		 depth = 0, in_servers = 0, sdepth = 0, done = 0;
	int		 rc = -1, servers_key_next = 0;

	memset(P, 0, sizeof *P);
	P->names = xcalloc(1, sizeof *P->names);
	P->indent = 2;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(err, errlen, "line %zu: %s",
			    parser.problem_mark.line + 1,
			    parser.problem != NULL ? parser.problem :
			    "YAML error");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			depth++;
			if (depth == 1 && ev.type != YAML_MAPPING_START_EVENT) {
				snprintf(err, errlen, "the top level is not a "
				    "mapping");
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			/* A block collection ends at the next token, maybe
			 * after comments; a flow one right after its ']'. */
			if (in_servers && ev.end_mark.index > last &&
			    ev.end_mark.index > 0 && strchr("]}",
			    text[ev.end_mark.index - 1]) != NULL)
				last = ev.end_mark.index;
			if (in_servers && depth == sdepth + 1)
				servers_key_next = 1;
			if (in_servers && depth == sdepth) {
				in_servers = 0;
				if (P->servers_flow && nnames == 0) {
					/* "servers: {}": replace the {} */
					P->servers_flow = 0;
					P->replace_from = key_end;
					P->replace_to = ev.end_mark.index;
					P->need_newline = 1;
				} else
					P->replace_from = P->replace_to =
					    plan_line_end(text, len, last);
			}
			if (depth == 1)
				st = PLAN_KEY;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (in_servers) {
				if (ev.end_mark.index > last)
					last = ev.end_mark.index;
				if (servers_key_next && depth == sdepth + 1 &&
				    ev.type == YAML_SCALAR_EVENT) {
					if (nnames == 0)
						P->indent =
						    (int)ev.start_mark.column;
					plan_add_name(P, &nnames, (const char *)
					    ev.data.scalar.value);
					servers_key_next = 0;
				} else if (depth == sdepth + 1)
					servers_key_next = 1;
				break;
			}
			if (depth != 1)
				break;
			if (st == PLAN_KEY && ev.type == YAML_SCALAR_EVENT) {
				free(key);
				key = xstrdup((const char *)
				    ev.data.scalar.value);
				/* After the ':' that ends the key. */
				key_end = ev.end_mark.index;
				while (key_end < len && text[key_end] != ':')
					key_end++;
				if (key_end < len)
					key_end++;
				st = PLAN_VALUE;
				break;
			}
			/* A scalar value of a top-level key. */
			if (key != NULL && strcmp(key, "env_file") == 0 &&
			    ev.type == YAML_SCALAR_EVENT) {
				free(P->env_file);
				P->env_file = xstrdup((const char *)
				    ev.data.scalar.value);
			}
			if (key != NULL && strcmp(key, "servers") == 0) {
				/* "servers:" or "servers: ~": no servers. */
				P->servers_found = 1;
				P->replace_from = key_end;
				P->replace_to = ev.data.scalar.length > 0 ?
				    ev.end_mark.index : key_end;
				P->need_newline = 1;
			}
			st = PLAN_KEY;
			break;
		default:
			break;
		}
		/* A top-level key whose value is a collection. */
		if (depth == 2 && st == PLAN_VALUE &&
		    (ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT)) {
			if (key != NULL && strcmp(key, "servers") == 0) {
				if (ev.type != YAML_MAPPING_START_EVENT) {
					snprintf(err, errlen, "servers is not "
					    "a mapping");
					yaml_event_delete(&ev);
					goto out;
				}
				P->servers_found = 1;
				P->servers_flow = ev.data.mapping_start.style ==
				    YAML_FLOW_MAPPING_STYLE;
				in_servers = 1;
				sdepth = 1;
				servers_key_next = 1;
				last = key_end;
			}
			st = PLAN_KEY;
		}
		yaml_event_delete(&ev);
	}
	if (P->servers_flow) {
		snprintf(err, errlen, "servers is written in flow style "
		    "({...}); add the servers by hand");
		goto out;
	}
	if (!P->servers_found) {
		P->need_header = 1;
		P->replace_from = P->replace_to = len;
		P->need_newline = len > 0 && text[len - 1] != '\n';
	}
	P->env_file_at = len;
	rc = 0;
out:
	free(key);
	yaml_parser_delete(&parser);
	return rc;
}

void
imp_yaml_plan_free(struct imp_yaml_plan *P)
{
	size_t	i;

	for (i = 0; P->names != NULL && P->names[i] != NULL; i++)
		free(P->names[i]);
	free(P->names);
	free(P->env_file);
	memset(P, 0, sizeof *P);
}

char *
imp_yaml_apply(const char *text, size_t len, const struct imp_yaml_plan *P,
    const char *servers, const char *env_line)
{
	struct imp_buf	 b = { NULL, 0, 0 };
	size_t		 n = strlen(servers);

	imp_buf_add(&b, text, P->replace_from);
	if (P->need_header) {
		if (P->need_newline)
			imp_buf_add(&b, "\n", 1);
		imp_buf_add(&b, "servers:\n", 9);
		imp_buf_add(&b, servers, n);
	} else if (P->need_newline) {
		/* After "servers:", before what ended its line. */
		imp_buf_add(&b, "\n", 1);
		imp_buf_add(&b, servers, n > 0 && servers[n - 1] == '\n' ?
		    n - 1 : n);
	} else
		imp_buf_add(&b, servers, n);
	imp_buf_add(&b, text + P->replace_to, len - P->replace_to);
	if (env_line != NULL) {
		if (b.len > 0 && b.s[b.len - 1] != '\n')
			imp_buf_add(&b, "\n", 1);
		imp_buf_add(&b, env_line, strlen(env_line));
	}
	return b.s;
}
