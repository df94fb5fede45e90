/*
 * A unified diff of two texts (what "diff -u" prints), so mcprelayctl
 * import can show its change without running another program.  Longest
 * common subsequence on the lines between the common head and tail:
 * quadratic, which configuration files afford.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "xmalloc.h"

#define UDIFF_CONTEXT	3

struct udiff_lines {
	const char	**p;
	size_t		 *len;	/* without the newline */
	size_t		  n;
};

static void
udiff_split(const char *s, struct udiff_lines *L)
{
	const char	*nl;
	size_t		 cap = 16;

	L->n = 0;
	L->p = xcalloc(cap, sizeof *L->p);
	L->len = xcalloc(cap, sizeof *L->len);
	while (*s != '\0') {
		if (L->n == cap) {
			cap *= 2;
			L->p = xreallocarray(L->p, cap, sizeof *L->p);
			L->len = xreallocarray(L->len, cap, sizeof *L->len);
		}
		nl = strchr(s, '\n');
		L->p[L->n] = s;
		L->len[L->n] = nl != NULL ? (size_t)(nl - s) : strlen(s);
		L->n++;
		if (nl == NULL)
			break;
		s = nl + 1;
	}
}

static int
udiff_eq(const struct udiff_lines *a, size_t i, const struct udiff_lines *b,
    size_t j)
{
	return a->len[i] == b->len[j] &&
	    memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* One line of the edit script. */
enum udiff_op { UD_KEEP, UD_DEL, UD_ADD };

struct udiff_edit {
	enum udiff_op	op;
	size_t		ai, bi;		/* line indices */
};

static void
udiff_line(struct imp_buf *out, char c, const struct udiff_lines *L,
    size_t i)
{
	imp_buf_add(out, &c, 1);
	imp_buf_add(out, L->p[i], L->len[i]);
	imp_buf_add(out, "\n", 1);
}

char *
udiff(const char *a, const char *b, const char *la, const char *lb)
{
	struct udiff_lines	 A, B;
	struct udiff_edit	*ed;
	struct imp_buf		 out = { NULL, 0, 0 };
	uint32_t		*t;
	size_t			 head = 0, tail = 0, n, m, i, j, ne = 0;
	size_t			 k, start, end, an, bn, ai, bi, w;

	imp_buf_add(&out, "", 0);
	udiff_split(a, &A);
	udiff_split(b, &B);
	while (head < A.n && head < B.n && udiff_eq(&A, head, &B, head))
		head++;
	while (tail < A.n - head && tail < B.n - head &&
	    udiff_eq(&A, A.n - 1 - tail, &B, B.n - 1 - tail))
		tail++;
	n = A.n - head - tail;
	m = B.n - head - tail;
	/* t[i][j]: LCS length of A[head+i..] and B[head+j..]. */
	w = m + 1;
	t = xcalloc((n + 1) * w, sizeof *t);
	for (i = n; i-- > 0; ) {
		for (j = m; j-- > 0; ) {
			if (udiff_eq(&A, head + i, &B, head + j))
				t[i * w + j] = t[(i + 1) * w + j + 1] + 1;
			else
				t[i * w + j] = t[(i + 1) * w + j] >
				    t[i * w + j + 1] ? t[(i + 1) * w + j] :
				    t[i * w + j + 1];
		}
	}
	ed = xcalloc(A.n + B.n + 1, sizeof *ed);
	for (k = 0; k < head; k++)
		ed[ne++] = (struct udiff_edit){ UD_KEEP, k, k };
	for (i = 0, j = 0; i < n || j < m; ) {
		if (i < n && j < m && udiff_eq(&A, head + i, &B, head + j)) {
			ed[ne++] = (struct udiff_edit){ UD_KEEP, head + i,
			    head + j };
			i++, j++;
		} else if (i < n && (j == m ||
		    t[(i + 1) * w + j] >= t[i * w + j + 1])) {
			/* Deletions first, as diff -u shows them. */
			ed[ne++] = (struct udiff_edit){ UD_DEL, head + i,
			    head + j };
			i++;
		} else {
			ed[ne++] = (struct udiff_edit){ UD_ADD, head + i,
			    head + j };
			j++;
		}
	}
	for (k = 0; k < tail; k++)
		ed[ne++] = (struct udiff_edit){ UD_KEEP, A.n - tail + k,
		    B.n - tail + k };
	free(t);

	if (n == 0 && m == 0)
		goto done;
	imp_buf_addf(&out, "--- %s\n+++ %s\n", la, lb);
	for (k = 0; k < ne; ) {
		if (ed[k].op == UD_KEEP) {
			k++;
			continue;
		}
		/* A hunk: context before, changes joined while the keeps
		 * between them are at most twice the context. */
		start = k > UDIFF_CONTEXT ? k - UDIFF_CONTEXT : 0;
		end = k;
		for (;;) {
			while (end < ne && ed[end].op != UD_KEEP)
				end++;
			for (i = end; i < ne && ed[i].op == UD_KEEP &&
			    i - end < 2 * UDIFF_CONTEXT; i++)
				;
			if (i < ne && ed[i].op != UD_KEEP) {
				end = i;
				continue;
			}
			break;
		}
		end = end + UDIFF_CONTEXT < ne ? end + UDIFF_CONTEXT : ne;
		an = bn = 0;
		for (i = start; i < end; i++) {
			an += ed[i].op != UD_ADD;
			bn += ed[i].op != UD_DEL;
		}
		ai = ed[start].ai;
		bi = ed[start].bi;
		imp_buf_addf(&out, "@@ -%zu,%zu +%zu,%zu @@\n",
		    an > 0 ? ai + 1 : ai, an, bn > 0 ? bi + 1 : bi, bn);
		for (i = start; i < end; i++) {
			if (ed[i].op == UD_KEEP)
				udiff_line(&out, ' ', &A, ed[i].ai);
			else if (ed[i].op == UD_DEL)
				udiff_line(&out, '-', &A, ed[i].ai);
			else
				udiff_line(&out, '+', &B, ed[i].bi);
		}
		k = end;
	}
done:
	free(ed);
	free(A.p);
	free(A.len);
	free(B.p);
	free(B.len);
	return out.s;
}
