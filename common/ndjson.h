/*
 * Newline-delimited JSON framing over libevent evbuffers, as spoken by stdio
 * MCP servers and on the Unix-socket listener: a reader that bounds line
 * length, and a writer.
 */
#ifndef MCPRELAY_NDJSON_H
#define MCPRELAY_NDJSON_H

#include <stddef.h>

struct evbuffer;
struct ndjson_reader;

enum ndjson_status {
	NDJSON_LINE = 0,	/* *line holds one line */
	NDJSON_NEED_MORE,	/* no complete line buffered yet */
	NDJSON_TOO_LONG,	/* a line over max_line was thrown away */
};

/*
 * max_line bounds a line's length without its "\n" or "\r\n" (at most
 * INT_MAX - 2, as evbuffers count in int).  The reader keeps at most
 * max_line + 1 bytes of an unfinished line.
 */
struct ndjson_reader	*ndjson_reader_new(size_t max_line);
void			 ndjson_reader_free(struct ndjson_reader *r);

/*
 * Takes the next line out of in.  NDJSON_LINE: *line is the line without
 * its "\n" and without a "\r" before it, NUL-terminated (it may hold other
 * NULs: use *len), and the caller frees it with free().  Lines that are
 * empty or only spaces, tabs and CRs are skipped.
 *
 * NDJSON_NEED_MORE: call again when more data has arrived.  The reader
 * remembers how far it has scanned and moves a long unfinished line out of
 * in into its own buffer, so no byte is scanned twice; in must not be
 * drained by anyone else.
 *
 * NDJSON_TOO_LONG: a line longer than max_line was (or is being) dropped;
 * the reader discards everything up to and including its "\n", across as
 * many calls as it takes, and reports each such line once.
 *
 * The same in must be passed on every call.  Call in a loop until the
 * result is NDJSON_NEED_MORE.
 */
enum ndjson_status	 ndjson_reader_next(struct ndjson_reader *r,
			    struct evbuffer *in, char **line, size_t *len);

/*
 * Bytes of an unfinished line moved into the reader (for tests and stats);
 * a short tail may still be in in.
 */
size_t			 ndjson_reader_pending(
			    const struct ndjson_reader *r);

/*
 * Appends json and "\n" to out.  Returns -1 without writing when json is
 * empty or contains "\n" or "\r" (the reader would split or change it), or
 * when the evbuffer cannot grow.
 */
int			 ndjson_write(struct evbuffer *out, const char *json,
			    size_t len);

#endif
